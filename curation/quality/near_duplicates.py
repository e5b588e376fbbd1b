"""The near-duplicate job: MinHash signatures signed in parallel chunks, LSH banding for
candidates, exact Jaccard verification of every candidate, clusters by union-find.

1. **Plan.** The items with no signature under the run's parameters are cut into id ranges of
   `chunk` items, stored as JobChunk rows (a retried run reuses its rows).
2. **Sign, in parallel.** With a broker, the run sends one `quality_sign_chunks` task per chunk;
   every worker that receives one, and the run itself, claims chunks one at a time (a
   conditional UPDATE, so each chunk is signed once) until none is left. A claim expires after
   `QUALITY_CHUNK_SECONDS`: a chunk whose worker died is signed by whoever claims it next; the
   chunk's row is locked while it is signed, so a chunk is never signed twice. Its band keys
   are kept as one SignatureBlock (ids and keys as bytes, written with a binary COPY): a later
   run signs only the items imported since.
3. **Candidates and verification** (the run): the blocks are read once, candidate pairs come
   from equal band keys, one band at a time (only pairs with an item of an unchecked block when
   pairs are stored from before), and each candidate is verified by the exact Jaccard of its
   shingle hashes, in numpy (`dedup.verify_hashes`).
4. **Clusters and findings.** The verified pairs are stored, the blocks read are marked
   checked, clusters come from all stored pairs of items not dropped, and the findings are
   swapped in with the run's completion, in one transaction (a run that fails leaves
   everything as it was).

Nothing here costs a query or a row per item: at a million items, a signature row per item
made the run twice as slow per item as at 200,000 (the per-chunk DELETE, the UPDATE that
marked a million rows checked and the deferred foreign-key checks grew with the table).
"""

import time
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, F, Func, Q, TextField, Value
from django.utils import timezone

from curation.bulk import bulk_insert, gc_paused
from curation.exporting.records import fetch_rows
from curation.extensions import required_fields
from curation.jobs import JobCancelled, JobFailed, Report, job_kind, job_run_complete
from curation.models import (
    DuplicatePair,
    FindingKind,
    Item,
    JobChunk,
    JobRun,
    JobStatus,
    SignatureBlock,
)
from curation.quality import dedup
from curation.quality.findings import Draft, findings_replace
from curation.quality.jobs import item_text
from curation.quality.registry import QualityJob, register_quality_job

KIND = "near_duplicates"
DEFAULTS = {"shingle": "word", "n": 3, "num_perm": 120, "bands": 20, "rows": 6,
            "threshold": 0.8, "chunk": 10_000}  # fmt: skip
# Texts hashed at a time: 5.2 µs a text in batches of 5,000 or fewer, 7.9 µs in batches of
# 10,000 (the hashing's arrays stop fitting in cache).
HASHED = 5000

register_quality_job(
    QualityJob(
        kind=KIND,
        label="Near-duplicates",
        description=(
            "MinHash signatures over word (or character) shingles, LSH banding for candidates, "
            "then the exact Jaccard of every candidate pair, so every reported pair is a true "
            "one; clusters join pairs that share an item. Signatures are kept, so a later run "
            "signs only new items. Work is split into chunks that all Celery workers share."
        ),
        finding_kind=FindingKind.NEAR_DUPLICATE,
        defaults=DEFAULTS,
    )
)


def dedup_params(params: dict) -> dedup.DedupParams:
    try:
        return dedup.DedupParams(shingle=params["shingle"], n=params["n"],
                                 num_perm=params["num_perm"], bands=params["bands"],
                                 rows=params["rows"], threshold=params["threshold"])  # fmt: skip
    except ValueError as problem:
        raise JobFailed(f"The near-duplicate parameters are not valid: {problem}") from None


def claim_seconds() -> int:
    return getattr(settings, "QUALITY_CHUNK_SECONDS", 300)


def _live(project):
    return Item.objects.filter(project=project, dropped_at__isnull=True)


def live_ids(items) -> np.ndarray:
    """The ids of `items` (a queryset), sorted, as int64."""
    rows = fetch_rows(items.order_by("pk").values_list("pk"))
    return np.array(rows, dtype=np.int64).reshape(-1)


def member(sorted_ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which of `values` are in `sorted_ids` (sorted int64): a boolean mask over `values`."""
    values = np.asarray(values, dtype=np.int64)
    if not sorted_ids.size:
        return np.zeros(values.shape, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_ids, values), sorted_ids.size - 1)
    return sorted_ids[at] == values


def signed_ids(project, key: str, *, first=None, last=None) -> np.ndarray:
    """The sorted distinct ids signed under `key` in the project's blocks (those overlapping
    [first, last] when given), deleted and dropped items included."""
    blocks = SignatureBlock.objects.filter(project=project, params=key)
    if first is not None:
        blocks = blocks.filter(first_item__lte=last, last_item__gte=first)
    parts = [
        np.frombuffer(bytes(blob), dtype="<i8") for blob in blocks.values_list("items", flat=True)
    ]
    return (
        dedup.sorted_distinct(np.concatenate(parts).astype(np.int64))
        if parts
        else np.empty(0, np.int64)
    )


def unsigned_ids(project, key: str, items=None) -> np.ndarray:
    """The sorted ids of `items` (default: the project's live items) with no signature under
    `key`."""
    ids = live_ids(_live(project) if items is None else items)
    return ids[~member(signed_ids(project, key), ids)]


def signature_blocks(project, key: str, bands: int):
    """(block pk, item ids, band keys (len, bands) uint64, checked) of each of the project's
    blocks under `key`, one block in memory at a time."""
    rows = SignatureBlock.objects.filter(project=project, params=key).order_by("pk")
    for pk, items, keys, checked in rows.values_list("pk", "items", "bands", "checked").iterator(
        chunk_size=4
    ):
        ids = np.frombuffer(bytes(items), dtype="<i8").astype(np.int64)
        keys = np.frombuffer(bytes(keys), dtype="<u8").astype(np.uint64).reshape(ids.size, bands)
        yield pk, ids, keys, checked


def signatures_read(project, key: str, bands: int, ids: np.ndarray):
    """(ids, band keys, checked, pks of the unchecked blocks read) of the items of `ids` (sorted
    int64: the live items wanted) signed under `key`, in id order. An item signed in two blocks
    (two jobs signed it at once) is read once, and counts as checked when either block is."""
    found, keys, checked, fresh = [], [], [], []
    for pk, block_ids, block_keys, block_checked in signature_blocks(project, key, bands):
        wanted = member(ids, block_ids)
        found.append(block_ids[wanted])
        keys.append(block_keys[wanted])
        checked.append(np.full(int(wanted.sum()), block_checked))
        if not block_checked:
            fresh.append(pk)
    if not found:
        return (np.empty(0, np.int64), np.empty((0, bands), np.uint64),
                np.empty(0, bool), fresh)  # fmt: skip
    found_ids, all_keys = np.concatenate(found), np.vstack(keys)
    all_checked = np.concatenate(checked)
    order = np.argsort(found_ids, kind="stable")
    found_ids, all_keys, all_checked = found_ids[order], all_keys[order], all_checked[order]
    starts = np.flatnonzero(np.r_[True, found_ids[1:] != found_ids[:-1]]) if order.size else order
    any_checked = np.logical_or.reduceat(all_checked, starts) if starts.size else all_checked
    return found_ids[starts], all_keys[starts], any_checked, fresh


def _plan(run: JobRun, key: str, size: int) -> int:
    """Cuts the unsigned items into JobChunks, once per run (a retry reuses them); returns how
    many items there are to sign."""
    ids = unsigned_ids(run.project, key)
    if JobChunk.objects.filter(run=run).exists():
        return len(ids)
    JobChunk.objects.bulk_create(
        JobChunk(run=run, number=n, first_item=int(ids[start]),
                 last_item=int(ids[min(start + size, len(ids)) - 1]))
        for n, start in enumerate(range(0, len(ids), size))
    )  # fmt: skip
    return len(ids)


def _claim(run_id: int) -> JobChunk | None:
    """Claims the next chunk nobody holds; None when all are done or held."""
    now = timezone.now()
    open_chunks = JobChunk.objects.filter(run_id=run_id, done=False).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    for chunk in open_chunks.order_by("number")[:20]:
        taken = (
            JobChunk.objects.filter(pk=chunk.pk, done=False)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(claimed_until=now + timedelta(seconds=claim_seconds()))
        )
        if taken:
            return chunk
    return None


def sign_chunk(run: JobRun, chunk: JobChunk, params: dedup.DedupParams) -> int:
    """Signs the chunk's items and marks it done, in one transaction; returns how many. The
    chunk's row is locked first: a worker whose claim ran out while it was signing finishes
    first, and whoever took the chunk over then finds it done and signs nothing."""
    items = _live(run.project).filter(pk__gte=chunk.first_item, pk__lte=chunk.last_item)
    with transaction.atomic():
        if not JobChunk.objects.select_for_update().filter(pk=chunk.pk, done=False).exists():
            return 0
        signed = sign_items(run.project, items, params)
        JobChunk.objects.filter(pk=chunk.pk).update(done=True)
    return signed


def sign_items(project, items, params: dedup.DedupParams) -> int:
    """Signs those of `items` (a queryset of the project's items) with no signature under
    `params` yet, as one SignatureBlock; returns how many. Run inside the caller's
    transaction."""
    ids, texts = item_texts(project, items)
    return sign_texts(project, ids, texts, params)


def sign_texts(project, ids: list[int], texts: list[str], params: dedup.DedupParams) -> int:
    """`sign_items` of texts already read: `ids` ascending, `texts` theirs."""
    key = params.key()
    if not len(ids):
        return 0
    ids = np.asarray(ids, dtype=np.int64)
    signed = member(signed_ids(project, key, first=int(ids[0]), last=int(ids[-1])), ids)
    if signed.any():
        texts = [text for text, done in zip(texts, signed.tolist(), strict=True) if not done]
        ids = ids[~signed]
        if not ids.size:
            return 0
    keys = np.vstack([
        dedup.band_keys(dedup.sign_hashes(*dedup.shingle_hashes(texts[start : start + HASHED],
                                                                params), params), params)
        for start in range(0, len(texts), HASHED)
    ])  # fmt: skip
    _insert_block(project, key, ids, keys)
    return int(ids.size)


_BLOCK_COLUMNS = ["project_id", "params", "first_item", "last_item", "items", "bands", "checked"]


def _insert_block(project, key: str, ids: np.ndarray, keys: np.ndarray) -> None:
    """Writes one SignatureBlock. On PostgreSQL a binary COPY of the one row: 25 ms for 10,000
    items, against 70 to 90 ms for an INSERT, whose bytea went into the SQL as hex."""
    items, bands = ids.astype("<i8").tobytes(), keys.astype("<u8").tobytes()
    if connection.vendor != "postgresql":
        SignatureBlock.objects.create(project=project, params=key, first_item=int(ids[0]),
                                      last_item=int(ids[-1]), items=items, bands=bands)  # fmt: skip
        return
    table = connection.ops.quote_name(SignatureBlock._meta.db_table)
    sql = f"COPY {table} ({', '.join(_BLOCK_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(sql) as copy,
    ):
        copy.set_types(["int8", "varchar", "int8", "int8", "bytea", "bytea", "bool"])
        copy.write_row((project.pk, key, int(ids[0]), int(ids[-1]), items, bands, False))


class _TextString(Func):
    """An item's `text` field where it is a JSON string, else NULL: what `item_text` reads when
    the required field is `text`, taken out in SQL so that no JSON is decoded in Python (10,000
    items in 0.018 s on PostgreSQL, against 0.054 s reading `data`)."""

    output_field = TextField()
    template = (
        "CASE WHEN jsonb_typeof(%(expressions)s -> 'text') = 'string' "
        "THEN %(expressions)s ->> 'text' END"
    )

    def as_sqlite(self, compiler, connection, **extra):
        template = (
            "CASE WHEN json_type(%(expressions)s, '$.text') = 'text' "
            "THEN json_extract(%(expressions)s, '$.text') END"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


def item_texts(project, items) -> tuple[list[int], list[str]]:
    """The ids of `items` in order and their texts (`item_text` under the project's required
    fields)."""
    fields = required_fields(project)
    items = items.order_by("pk")
    if fields == ["text"] and connection.vendor in ("postgresql", "sqlite"):
        rows = fetch_rows(items.values_list("pk", _TextString(F("data"))))
        return [pk for pk, _ in rows], [text or "" for _, text in rows]
    rows = items.values_list("pk", "data")
    return [pk for pk, _ in rows], [item_text(data, fields) for _, data in rows]


class _AnyOf(Func):
    """`expression = ANY(array)`, the array one parameter (PostgreSQL)."""

    output_field = BooleanField()
    arg_joiner = " = ANY("
    template = "(%(expressions)s::bigint[]))"


def items_among(project, ids: list[int]):
    """The project's items whose ids are in `ids`. On PostgreSQL one array parameter, whatever
    the number: `id = ANY(array)` is an index scan in id order, where an IN list of 5,000 ids
    cost more to send and plan than to read, and `IN (SELECT unnest(...))` sorted on disk.
    Elsewhere an IN list, so call it with a few thousand ids at most."""
    if connection.vendor == "postgresql":
        # The array as its text form: psycopg adapts a list of ints one by one, ten times slower.
        array = "{" + ",".join(map(str, ids)) + "}"
        return Item.objects.filter(_AnyOf(F("pk"), Value(array)), project=project)
    return Item.objects.filter(project=project, pk__in=ids)


def sign_available(run_id: int) -> int:
    """Signs chunks of run `run_id` until none is left to claim (a worker's share); returns how
    many items it signed. Does nothing for a run that is no longer running."""
    run = JobRun.objects.select_related("project").filter(pk=run_id).first()
    if run is None or run.status != JobStatus.RUNNING:
        return 0
    params = dedup_params(run.params)
    signed = 0
    with gc_paused():
        while (chunk := _claim(run_id)) is not None:
            signed += sign_chunk(run, chunk, params)
    return signed


def _fan_out(run: JobRun, chunks: int) -> None:
    """Asks the workers to share the signing (not in the embedded default: there the run signs
    every chunk itself)."""
    from config.celery import app
    from curation.tasks import quality_sign_chunks

    if chunks > 1 and not app.conf.task_always_eager:
        for _ in range(chunks - 1):
            quality_sign_chunks.delay(run.pk)


def _wait_for_chunks(run: JobRun, params, total: int, report: Report) -> None:
    """Signs what is left, then waits for chunks other workers hold, reporting progress."""
    while True:
        sign_available(run.pk)
        left = JobChunk.objects.filter(run=run, done=False).count()
        done = JobChunk.objects.filter(run=run, done=True).count()
        report(0.6 * done / max(1, done + left), {"chunks_done": done, "chunks": done + left,
                                                   "items_to_sign": total})  # fmt: skip
        if not left:
            return
        time.sleep(0.2)


def shingle_sets(project, ids, params) -> dict[int, set]:
    """{item id: its shingle set} for `ids`, read and hashed in chunks."""
    found = {}
    ids = sorted(ids)
    for start in range(0, len(ids), HASHED):
        pks, texts = item_texts(project, items_among(project, ids[start : start + HASHED]))
        hashes, counts = dedup.shingle_hashes(texts, params)
        values, begin = hashes.tolist(), 0
        for pk, end in zip(pks, np.cumsum(counts).tolist(), strict=True):
            found[pk] = set(values[begin:end])
            begin = end
    return found


def candidate_hashes(project, ids: np.ndarray, params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids found, their shingle hashes one text after the other, how many each) for `ids`
    (sorted), read and hashed in chunks; an item deleted since is left out."""
    found, hashes, counts = [], [], []
    for start in range(0, len(ids), HASHED):
        wanted = ids[start : start + HASHED].tolist()
        pks, texts = item_texts(project, items_among(project, wanted))
        part, sizes = dedup.shingle_hashes(texts, params)
        found.append(np.asarray(pks, dtype=np.int64))
        hashes.append(part)
        counts.append(sizes)
    if not found:
        return np.empty(0, np.int64), np.empty(0, np.uint64), np.empty(0, np.int64)
    return np.concatenate(found), np.concatenate(hashes), np.concatenate(counts)


@job_kind(KIND)
def near_duplicates_job(run: JobRun, report: Report) -> dict:
    with gc_paused():
        return _near_duplicates(run, report)


def _near_duplicates(run: JobRun, report: Report) -> dict:
    project, params = run.project, dedup_params(run.params)
    key = params.key()
    to_sign = _plan(run, key, run.params["chunk"])
    chunks = JobChunk.objects.filter(run=run, done=False).count()
    _fan_out(run, chunks)
    _wait_for_chunks(run, params, to_sign, report)
    ids, keys, checked, fresh = signatures_read(project, key, params.bands,
                                                live_ids(_live(project)))  # fmt: skip
    # Items whose pairs no run has stored yet: signed now, or by a run that failed later on.
    new_ids = ids[~checked]
    new = ~checked if checked.any() else None
    candidates = dedup.candidate_pairs(ids, keys, new=new, max_bucket=params.max_bucket)
    del keys
    counts = {"items": len(ids), "signed": len(new_ids), "candidates": len(candidates)}
    report(0.7, counts)
    found, hashes, sizes = candidate_hashes(project, dedup.sorted_distinct(candidates), params)
    candidates = candidates[member(found, candidates).all(axis=1)]  # deleted since: left out
    verified = dedup.verify_hashes(candidates, found, hashes, sizes, params.threshold,
                                   spanning=True)  # fmt: skip
    counts["verified"] = len(verified)
    report(0.9, counts)
    return _store(run, key, params, verified, fresh, counts=counts)


def _store(run: JobRun, key: str, params, verified: list, fresh: list, counts: dict) -> dict:
    """Stores the verified pairs, marks the blocks read unchecked as checked, swaps in the
    clusters and completes the run: one transaction. Every new pair has an item no run checked
    before, so none is stored twice."""
    project = run.project
    with transaction.atomic():
        pairs = [(min(a, b), max(a, b), j) for a, b, j in verified]
        bulk_insert(DuplicatePair, ["project", "params", "first", "second", "jaccard"],
                    ((project.pk, key, a, b, j) for a, b, j in pairs))  # fmt: skip
        SignatureBlock.objects.filter(pk__in=fresh).update(checked=True)
        drafts = _drafts(project, key, params)
        counts.update(clusters=len(drafts))
        counts.update(findings_replace(project=project, kind=FindingKind.NEAR_DUPLICATE,
                                       drafts=drafts, job=run))  # fmt: skip
        if JobRun.objects.filter(pk=run.pk, cancel_requested=True).exists():
            raise JobCancelled
        job_run_complete(run=run, counts=counts,
                         message=f"{len(drafts):,} clusters of near-duplicates.")  # fmt: skip
    return counts


def _drafts(project, key: str, params) -> list[Draft]:
    stored = DuplicatePair.objects.filter(
        project=project, params=key, jaccard__gte=params.threshold,
        first__dropped_at__isnull=True, second__dropped_at__isnull=True,
    ).values_list("first_id", "second_id", "jaccard")  # fmt: skip
    pairs = list(stored)
    groups = dedup.clusters((a, b) for a, b, _ in pairs)
    where = {member: n for n, members in enumerate(groups) for member in members}
    inside: list[list] = [[] for _ in groups]
    for a, b, j in pairs:
        inside[where[a]].append((a, b, j))
    drafts = []
    for members, found in zip(groups, inside, strict=True):
        jaccards = [j for _, _, j in found]
        drafts.append(Draft(
            key=f"cluster:{members[0]}",
            item_id=members[0],
            items=members[1:],
            rule=key,
            message=(f"{len(members)} items are near-duplicates (Jaccard of their shingles "
                     f"{min(jaccards):.2f} to {max(jaccards):.2f})."),
            score=max(jaccards),
            detail={"size": len(members), "min_jaccard": min(jaccards),
                    "max_jaccard": max(jaccards), "threshold": params.threshold,
                    "pairs": [{"item": a, "twin": b, "jaccard": round(j, 4)}
                              for a, b, j in found[:100]]},
        ))  # fmt: skip
    return drafts
