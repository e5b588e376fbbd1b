"""Is a public benchmark inside the training data? The `reference_leakage` quality job checks the
texts of an uploaded reference set (curation.references) against the project's train and dev
items, the three ways the split leakage job compares splits:

- Exact: a reference text's normalised hash (stored with it) equals an item's EXACT ItemHash.
- Word n-grams: the reference texts' 13-grams, hashed in memory, are looked up among the items'
  NGRAM ItemHash rows in SQL with batched lists of values. An n-gram found in more documents than
  the cut-off (the split job's rule: `max_df` of the documents, at least `min_df_count`; the
  documents are the project's items and the set's texts together) is boilerplate, such as a
  prompt template every benchmark question starts with, and is left out.
- Near-duplicates: MinHash band keys of the reference texts, computed in memory, against the
  stored signatures of the items (items without one are signed first); every candidate pair is
  verified by the exact Jaccard of its shingle sets.

Each contaminated reference text gives one finding, keyed by the set and the text, on the most
similar training item. A run replaces only the findings of its own set (rule
"reference:<set id>"): the split leakage job's findings and other sets' stay as they are.
"""

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, transaction

from curation.jobs import JobFailed, Report, job_kind, job_run_complete
from curation.models import (
    FindingKind,
    Item,
    JobRun,
    Project,
    ReferenceSet,
    ReferenceText,
    Split,
)
from curation.quality import dedup, leakage, near_duplicates
from curation.quality.findings import Draft, findings_replace
from curation.quality.jobs import leakage_hashes_sync
from curation.quality.registry import QualityJob, register_quality_job
from curation.references import reference_rule

KIND = "reference_leakage"
TRAINING = (Split.TRAIN, Split.DEV)
CHUNK = 5000  # reference texts hashed and signed at a time
SHOWN = 50  # twins kept in a finding
EXCERPT = 300

register_quality_job(
    QualityJob(
        kind=KIND,
        label="Benchmark in training data",
        description=(
            "Checks the texts of an uploaded reference set (a public benchmark) against the "
            "train and dev items: the same text after normalising, shared word 13-grams, or a "
            "near-duplicate. N-grams found in many documents are left out as boilerplate. Give "
            "the set's number from the reference sets page; n must be the split leakage job's, "
            "as both read the same stored hashes."
        ),
        finding_kind=FindingKind.LEAKAGE,
        after_import=False,  # it needs a reference set chosen
        defaults={
            "reference_set": 0,
            "n": 13,
            "max_df": 0.001,
            "min_df_count": 5,
            "near_threshold": 0.8,
        },
    )
)


def _in_sql(sql: str, params: list, values: list[int]) -> list[tuple]:
    """Runs `sql`, whose last condition is `= ANY(%s::bigint[])`, for `values` in batches: one
    array parameter on PostgreSQL, an IN list elsewhere. `params` come before the values."""
    found: list[tuple] = []
    postgres = connection.vendor == "postgresql"
    size = 10_000 if postgres else 900  # SQLite allows 999 parameters in some builds
    with connection.cursor() as cursor:
        for start in range(0, len(values), size):
            batch = values[start : start + size]
            if postgres:
                cursor.execute(sql, [*params, batch])
            else:
                marks = ", ".join(["%s"] * len(batch))
                cursor.execute(sql.replace("= ANY(%s::bigint[])", f"IN ({marks})"),
                               [*params, *batch])  # fmt: skip
            found.extend(cursor.fetchall())
    return found


# The train and dev items whose hash of `kind` is one of the values.
TWINS_SQL = """
SELECT h.value, h.item_id
FROM curation_itemhash h JOIN curation_item i ON i.id = h.item_id
WHERE h.project_id = %s AND h.kind = %s AND i.split IN (%s, %s) AND i.dropped_at IS NULL
  AND h.value = ANY(%s::bigint[])
"""

# In how many of the project's items each n-gram is (every item's n-grams are distinct).
DF_SQL = """
SELECT value, count(*) FROM curation_itemhash
WHERE project_id = %s AND kind = 1 AND value = ANY(%s::bigint[])
GROUP BY value
"""


@dataclass
class References:
    """The set's texts as the job needs them, without their text: ids, n-grams (one flat sorted
    array per text, laid end to end) and MinHash band keys."""

    ids: np.ndarray  # ReferenceText pks, in order
    exact: np.ndarray
    ngrams: np.ndarray  # every text's distinct n-grams, text after text
    owner: np.ndarray  # the position in `ids` of each entry of `ngrams`
    bands: np.ndarray  # (texts, bands) uint64
    totals: dict[int, int] = field(default_factory=dict)  # pk -> its number of n-grams


def references_load(reference: ReferenceSet, n: int, params: dedup.DedupParams) -> References:
    """Hashes and signs the set's texts, read in chunks."""
    ids, exact, ngrams, bands = [], [], [], []
    rows = reference.texts.order_by("pk").values_list("pk", "text", "exact")
    chunk: list[tuple] = []
    for row in rows.iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) == CHUNK:
            _load_chunk(chunk, n, params, ids, exact, ngrams, bands)
            chunk = []
    _load_chunk(chunk, n, params, ids, exact, ngrams, bands)
    lengths = [len(values) for values in ngrams]
    return References(
        ids=np.asarray(ids, dtype=np.int64),
        exact=np.asarray(exact, dtype=np.int64),
        ngrams=np.concatenate(ngrams) if ngrams else np.empty(0, dtype=np.int64),
        owner=np.repeat(np.arange(len(ids)), lengths),
        bands=np.vstack(bands) if bands else np.empty((0, params.bands), dtype=np.uint64),
        totals=dict(zip(ids, lengths, strict=True)),
    )


def _load_chunk(chunk, n, params, ids, exact, ngrams, bands) -> None:
    if not chunk:
        return
    texts = [text for _, text, _ in chunk]
    ids.extend(pk for pk, _, _ in chunk)
    exact.extend(value for _, _, value in chunk)
    ngrams.extend(leakage.ngram_hashes(text, n=n) for text in texts)
    bands.append(dedup.band_keys(dedup.signatures(texts, params), params))


def exact_twins(project: Project, refs: References) -> dict[int, set[int]]:
    """{reference text: the train and dev items with the same normalised text}."""
    values = np.unique(refs.exact).tolist()
    items_of: dict[int, set[int]] = defaultdict(set)
    params = [project.pk, 0, *TRAINING]
    for value, item_id in _in_sql(TWINS_SQL, params, values):
        items_of[value].add(item_id)
    found = {}
    for pk, value in zip(refs.ids.tolist(), refs.exact.tolist(), strict=True):
        if value in items_of:
            found[pk] = items_of[value]
    return found


def ngram_twins(project: Project, refs: References, cutoff: int) -> tuple[dict, dict, int]:
    """({reference text: {item: shared n-grams}}, {reference text: its matched n-grams}, how
    many n-grams were left out as frequent). An n-gram is frequent when the items and reference
    texts holding it number more than `cutoff`."""
    values, ref_df = np.unique(refs.ngrams, return_counts=True)
    rows = _in_sql(DF_SQL, [project.pk], values.tolist())
    if not rows:
        return {}, {}, 0
    present = np.asarray([value for value, _ in rows], dtype=np.int64)
    item_df = np.asarray([count for _, count in rows], dtype=np.int64)
    df = item_df + ref_df[np.searchsorted(values, present)]
    kept = present[df <= cutoff]
    items_of: dict[int, list[int]] = defaultdict(list)
    for value, item_id in _in_sql(TWINS_SQL, [project.pk, 1, *TRAINING], kept.tolist()):
        items_of[value].append(item_id)
    matched_values = np.fromiter(items_of, dtype=np.int64, count=len(items_of))
    hit = np.isin(refs.ngrams, matched_values)
    shared: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    matched: dict[int, set[int]] = defaultdict(set)
    for position, value in zip(refs.owner[hit].tolist(), refs.ngrams[hit].tolist(), strict=True):
        pk = int(refs.ids[position])
        matched[pk].add(value)
        for item_id in items_of[value]:
            shared[pk][item_id] += 1
    return shared, matched, int((df > cutoff).sum())


def _training(project: Project):
    return Item.objects.filter(project=project, dropped_at__isnull=True, split__in=TRAINING)


def _training_band_keys(project: Project, params: dedup.DedupParams, wanted: np.ndarray):
    """(ids, band keys) of the signed train and dev items sharing a band key with `wanted`;
    read a block at a time, so only those are held."""
    training = near_duplicates.live_ids(_training(project))
    ids, keys = [], []
    for _, block_ids, block_keys, _ in near_duplicates.signature_blocks(
        project, params.key(), params.bands
    ):
        hit = near_duplicates.member(training, block_ids) & np.isin(block_keys, wanted).any(axis=1)
        ids.append(block_ids[hit])
        keys.append(block_keys[hit])
    if not ids:
        return np.empty(0, np.int64), np.empty((0, params.bands), dtype=np.uint64)
    ids, keys = np.concatenate(ids), np.vstack(keys)
    # An item signed in two blocks is read once.
    ids, first = np.unique(ids, return_index=True)
    return ids, keys[first]


def near_twins(project: Project, refs: References, params: dedup.DedupParams,
               threshold: float) -> dict[int, dict[int, float]]:  # fmt: skip
    """{reference text: {item: Jaccard}} for the train and dev items whose shingle sets have an
    exact Jaccard of at least `threshold` with the text's. Items not yet signed under the
    near-duplicate job's parameters are signed (and kept) first."""
    key = params.key()
    unsigned = near_duplicates.unsigned_ids(project, key, _training(project)).tolist()
    for start in range(0, len(unsigned), CHUNK):
        with transaction.atomic():
            chunk = unsigned[start : start + CHUNK]
            items = _training(project).filter(pk__gte=chunk[0], pk__lte=chunk[-1])
            near_duplicates.sign_items(project, items, params)
    wanted = np.unique(refs.bands[refs.bands != 0])
    item_ids, item_bands = _training_band_keys(project, params, wanted)
    if not item_ids.size:
        return {}
    # Reference texts take negative ids, so that they and the items share one id space.
    ids = np.concatenate([-refs.ids, item_ids])
    is_ref = np.r_[np.ones(len(refs.ids), dtype=bool), np.zeros(len(item_ids), dtype=bool)]
    pairs = dedup.candidate_pairs(ids, np.vstack([refs.bands, item_bands]), new=is_ref,
                                  max_bucket=params.max_bucket)  # fmt: skip
    pairs = pairs[(pairs[:, 0] < 0) & (pairs[:, 1] > 0)]  # a reference text and an item
    if not len(pairs):
        return {}
    texts = _texts(np.unique(-pairs[:, 0]).tolist())
    sets = {-pk: dedup.shingles(text, params) for pk, (_, text) in texts.items()}
    sets |= near_duplicates.shingle_sets(project, np.unique(pairs[:, 1]).tolist(), params)
    found: dict[int, dict[int, float]] = defaultdict(dict)
    for ref, item_id, jaccard in dedup.verify(pairs.tolist(), sets, threshold):
        found[-ref][item_id] = jaccard
    return found


def _texts(pks: list[int]) -> dict[int, tuple[str, str]]:
    """{reference text: (its external id, its text)}, read in chunks."""
    found = {}
    for start in range(0, len(pks), CHUNK):
        rows = ReferenceText.objects.filter(pk__in=pks[start : start + CHUNK])
        for pk, external_id, text in rows.values_list("pk", "external_id", "text"):
            found[pk] = (external_id, text)
    return found


def _checked(project: Project, params: dict) -> ReferenceSet:
    """The reference set to check, with the parameters checked; JobFailed naming the one that
    is wrong."""
    set_id = params["reference_set"]
    if set_id <= 0:
        raise JobFailed("Choose the reference set to check: give its number (shown on the "
                        "reference sets page) as reference_set.")  # fmt: skip
    reference = ReferenceSet.objects.filter(project=project, pk=set_id).first()
    if reference is None:
        raise JobFailed(f"Reference set {set_id} is not in this project.")
    if params["n"] < 1 or params["min_df_count"] < 1 or params["max_df"] <= 0:
        raise JobFailed("n and min_df_count must be at least 1 and max_df above 0.")
    if not 0.0 < params["near_threshold"] <= 1.0:
        raise JobFailed("near_threshold must be above 0 and at most 1.")
    return reference


def _cutoff(project: Project, params: dict, texts: int) -> int:
    """The split leakage job's document-frequency cut-off, over the items and the texts."""
    documents = Item.objects.filter(project=project, dropped_at__isnull=True).exclude(
        split=Split.UNASSIGNED).count() + texts  # fmt: skip
    max_df = params["max_df"]
    share = int(max_df * documents) if max_df < 1 else int(max_df)
    return max(params["min_df_count"], share)


@job_kind(KIND)
def reference_leakage_job(run: JobRun, report: Report) -> dict:
    project, params = run.project, run.params
    reference = _checked(project, params)
    todo = Item.objects.filter(project=project).exclude(split=Split.UNASSIGNED).count() or 1
    hashed = leakage_hashes_sync(project=project, n=params["n"],
                                 report=lambda done, c: report(0.3 * done / todo, c))  # fmt: skip
    dedup_params = near_duplicates.dedup_params(near_duplicates.DEFAULTS)
    refs = references_load(reference, params["n"], dedup_params)
    report(0.45, {"hashed": hashed, "texts": len(refs.ids)})
    exact = exact_twins(project, refs)
    shared, matched, frequent = ngram_twins(project, refs, _cutoff(project, params, len(refs.ids)))
    report(0.6, {"hashed": hashed, "texts": len(refs.ids)})
    near = near_twins(project, refs, dedup_params, params["near_threshold"])
    report(0.9, {"hashed": hashed, "texts": len(refs.ids)})
    found = Found(exact, shared, matched, near)
    drafts = _drafts(reference, params["n"], refs, found)
    counts = {"hashed": hashed, "texts": len(refs.ids), "contaminated": len(drafts),
              "exact": len(exact), "ngram": len(shared), "near": len(near),
              "frequent_ngrams_left_out": frequent}  # fmt: skip
    with transaction.atomic():
        # Locked, so that a deletion of the set waits for these findings or comes first.
        if not ReferenceSet.objects.select_for_update().filter(pk=reference.pk).exists():
            raise JobFailed(f"Reference set {reference.pk} was deleted while it was checked.")
        counts.update(findings_replace(project=project, kind=FindingKind.LEAKAGE, drafts=drafts,
                                       job=run, scope=[reference_rule(reference.pk)]))  # fmt: skip
        message = (f"{len(drafts):,} of the {len(refs.ids):,} texts of “{reference.name}” "
                   "appear in training data.")  # fmt: skip
        job_run_complete(run=run, counts=counts, message=message)
    return counts


@dataclass
class Found:
    exact: dict[int, set[int]]
    shared: dict[int, dict[int, int]]
    matched: dict[int, set[int]]
    near: dict[int, dict[int, float]]


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def _drafts(reference: ReferenceSet, n: int, refs: References, found: Found) -> list[Draft]:
    pks = sorted(set(found.exact) | set(found.shared) | set(found.near))
    texts = _texts(pks)
    return [_draft(reference, n, pk, *texts[pk], refs.totals.get(pk, 0), found) for pk in pks]


def _draft(reference, n, pk, external_id, text, total, found: Found) -> Draft:
    """The finding of one contaminated reference text, on the most similar training item."""
    exact = sorted(found.exact.get(pk, ()))
    shared = found.shared.get(pk, {})
    near = found.near.get(pk, {})
    share = leakage.covered_token_share(text, found.matched.get(pk, set()), n=n)

    def similarity(item_id):
        if item_id in found.exact.get(pk, ()):
            return 1.0
        return max(near.get(item_id, 0.0), shared.get(item_id, 0) / total if total else 0.0)

    twins = sorted(set(exact) | set(shared) | set(near),
                   key=lambda i: (-similarity(i), -shared.get(i, 0), i))  # fmt: skip
    best_near = max(near.values(), default=0.0)
    if exact:
        how = "the same text as"
    elif best_near >= share:
        how = f"a near-duplicate (Jaccard {best_near:.2f}) of"
    else:
        how = f"{share:.0%} of its tokens in {n}-grams shared with"
    plural = "s" if len(twins) != 1 else ""
    shown = external_id if len(external_id) <= 60 else external_id[:59] + "…"
    by_shared = sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))
    by_jaccard = sorted(near.items(), key=lambda kv: (-kv[1], kv[0]))
    return Draft(
        key=f"ref:{reference.pk}:{pk}",
        item_id=twins[0],
        items=twins[1 : SHOWN + 1],
        rule=reference_rule(reference.pk),
        message=(f"Benchmark text '{shown}' appears in training: {how} {len(twins)} training "
                 f"item{plural}."),
        score=1.0 if exact else max(share, best_near),
        detail={"reference_set": reference.pk, "reference_set_name": reference.name,
                "reference_id": external_id, "reference_text": _excerpt(text),
                "exact": exact[:SHOWN],
                "near": [{"item": i, "jaccard": round(j, 4)} for i, j in by_jaccard[:SHOWN]],
                "ngram": [{"item": i, "shared": s} for i, s in by_shared[:SHOWN]],
                "ngrams": total, "covered_token_share": share},
    )  # fmt: skip
