"""The quality jobs of curation: item checks, leakage between splits and near-duplicates.

Each is a JobRun kind registered in `curation.quality.registry`, so the project page, the API
and `manage.py run_job` start it the same way. A job reads items in chunks (a server-side cursor
on PostgreSQL), does the per-text work with the pure modules (`checks`, `leakage`, `dedup`),
keeps hashes and signatures in indexed tables so a rerun only works on new items, joins in SQL
where it can, and swaps its findings in at the end together with the run's completion: a run
that fails or is cancelled leaves the previous findings as they were.
"""

from collections import defaultdict
from collections.abc import Iterator

import numpy as np
from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from curation.bulk import bulk_insert
from curation.exporting.records import fetch_rows
from curation.extensions import required_fields
from curation.jobs import JobFailed, Report, job_kind, job_run_complete
from curation.models import FindingKind, Item, ItemHash, JobRun, Project, Split
from curation.quality import checks, leakage
from curation.quality.findings import Draft, findings_replace
from curation.quality.registry import QualityJob, register_quality_job

CHUNK = 5000
ITEM_CHECKS, LEAKAGE = "item_checks", "leakage"


def _live_items(project: Project):
    return Item.objects.filter(project=project, dropped_at__isnull=True)


def item_text(data, fields: list[str]) -> str:
    """The text the checks read: the item's `text`, or its required fields (a preference's
    prompt and responses) one after the other."""
    if not isinstance(data, dict):
        return ""
    names = ["text"] if "text" in fields else ["prompt", *fields]
    parts = [data.get(name) for name in names]
    return "\n".join(part for part in parts if isinstance(part, str))


def _chunks(queryset, fields: tuple[str, ...]) -> Iterator[list[tuple]]:
    """Rows of `queryset` in chunks of CHUNK, read with a server-side cursor where there is one."""
    chunk = []
    for row in queryset.order_by("pk").values_list(*fields).iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- item checks -----------------------------------------------------------------------------

register_quality_job(
    QualityJob(
        kind=ITEM_CHECKS,
        label="Item checks",
        description=(
            "Empty, too short or too long texts, mostly non-letters, long repeated characters or "
            "lines, fields the label schema needs, and personal data (e-mail addresses, phone "
            "numbers, card numbers that pass the Luhn check, IBANs). Thresholds are the "
            "project's quality settings."
        ),
        finding_kind=FindingKind.ITEM_CHECK,
    )
)


def check_settings(project: Project) -> checks.CheckSettings:
    """The project's thresholds, with the fields its label schema needs."""
    stored = dict((project.quality_settings or {}).get("checks", {}))
    stored["required_fields"] = required_fields(project)
    try:
        return checks.CheckSettings.from_dict(stored)
    except (TypeError, ValueError) as problem:
        raise JobFailed(f"The project's item check settings are not valid: {problem}") from None


@job_kind(ITEM_CHECKS)
def item_checks_job(run: JobRun, report: Report) -> dict:
    project = run.project
    settings = check_settings(project)
    fields = list(settings.required_fields)
    total = _live_items(project).count() or 1
    drafts, seen, per_rule = [], 0, defaultdict(int)
    for chunk in _chunks(_live_items(project), ("pk", "data")):
        for item_id, data in chunk:
            for found in checks.check_item(data, item_text(data, fields), settings):
                per_rule[found["rule"]] += 1
                drafts.append(Draft(key=f"{item_id}:{found['rule']}", item_id=item_id,
                                    rule=found["rule"], message=found["message"],
                                    detail=found["detail"]))  # fmt: skip
        seen += len(chunk)
        report(0.95 * seen / total, {"items": seen, "findings": len(drafts)})
    counts = {
        "items": seen,
        "findings": len(drafts),
        **{f"rule_{k}": v for k, v in per_rule.items()},
    }
    with transaction.atomic():
        counts.update(findings_replace(project=project, kind=FindingKind.ITEM_CHECK,
                                       drafts=drafts, job=run))  # fmt: skip
        job_run_complete(run=run, counts=counts,
                         message=f"{len(drafts):,} findings in {seen:,} items.")  # fmt: skip
    return counts


# --- leakage ---------------------------------------------------------------------------------

register_quality_job(
    QualityJob(
        kind=LEAKAGE,
        label="Leakage between splits",
        description=(
            "Finds dev and test items that also appear in training data (train vs dev, train vs "
            "test, dev vs test): the same text after normalising, or shared word 13-grams as in "
            "LLM evaluation decontamination. N-grams found in many items (boilerplate, licences, "
            "templates) are left out."
        ),
        finding_kind=FindingKind.LEAKAGE,
        defaults={
            "n": 13,
            "max_df": 0.001,
            "min_df_count": 5,
            "min_shared": 1,
            "near_threshold": 0.8,
        },
    )
)


def leakage_hashes_sync(*, project: Project, n: int, report=None) -> int:
    """Hashes the normalised text and the word n-grams of every item in a split that has none
    yet (an item's EXACT row marks it hashed). COPY; returns how many items it hashed."""
    hashed = ItemHash.objects.filter(item=OuterRef("pk"), kind=ItemHash.Kind.EXACT)
    todo = _live_items(project).exclude(split=Split.UNASSIGNED).filter(~Exists(hashed))
    fields = required_fields(project)
    done = 0
    for chunk in _chunks(todo, ("pk", "data")):
        rows = []
        for item_id, data in chunk:
            text = item_text(data, fields)
            rows.append((project.pk, item_id, ItemHash.Kind.EXACT, leakage.exact_hash(text)))
            for value in leakage.ngram_hashes(text, n=n).tolist():
                rows.append((project.pk, item_id, ItemHash.Kind.NGRAM, value))
        bulk_insert(ItemHash, ["project", "item", "kind", "value"], rows)
        done += len(chunk)
        if report is not None:
            report(done, {"hashed": done})
    if done and connection.vendor == "postgresql":
        # Fresh statistics: with the table still counted as empty, the planner chose a plan
        # that recomputed the frequent n-grams per row (minutes instead of a second).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE curation_itemhash")
    return done


def near_leaks(project: Project, threshold: float) -> dict[tuple[str, str], dict]:
    """{(earlier split, later split): {later item: {twin: jaccard}}}: pairs of items in two
    different splits whose word shingles have an exact Jaccard of at least `threshold`, found
    with the near-duplicate job's MinHash signatures (items without one are signed first)."""
    from curation.quality import dedup, near_duplicates

    params = near_duplicates.dedup_params(near_duplicates.DEFAULTS)
    key = params.key()
    in_splits = _live_items(project).exclude(split=Split.UNASSIGNED)
    ids = near_duplicates.unsigned_ids(project, key, in_splits).tolist()
    for start in range(0, len(ids), CHUNK):
        with transaction.atomic():
            chunk = ids[start : start + CHUNK]
            items = in_splits.filter(pk__gte=chunk[0], pk__lte=chunk[-1])
            near_duplicates.sign_items(project, items, params)
    rows = fetch_rows(in_splits.order_by("pk").values_list("pk", "split"))
    if not rows:
        return {}
    order = {"train": 0, "dev": 1, "test": 2}
    wanted = np.array([pk for pk, _ in rows], dtype=np.int64)
    codes = np.array([order[split] for _, split in rows], dtype=np.int8)
    found_ids, keys, _, _ = near_duplicates.signatures_read(project, key, params.bands, wanted)
    candidates = dedup.candidate_pairs(found_ids, keys, max_bucket=params.max_bucket)
    del keys
    split_of = codes[np.searchsorted(wanted, candidates)]
    across = candidates[split_of[:, 0] != split_of[:, 1]]
    found, hashes, sizes = near_duplicates.candidate_hashes(
        project, dedup.sorted_distinct(across), params
    )
    across = across[near_duplicates.member(found, across).all(axis=1)]
    verified = dedup.verify_hashes(across, found, hashes, sizes, threshold)
    involved = sorted({i for a, b, _ in verified for i in (a, b)})
    code_of = dict(zip(involved, codes[np.searchsorted(wanted, involved)].tolist(), strict=True))
    names = ["train", "dev", "test"]
    leaks: dict = defaultdict(lambda: defaultdict(dict))
    for a, b, jaccard in verified:
        earlier, later = sorted((a, b), key=lambda i: code_of[i])
        pair = (names[code_of[earlier]], names[code_of[later]])
        leaks[pair][later][earlier] = jaccard
    return leaks


def _cutoff(project: Project, params: dict, documents: int) -> int:
    max_df = params["max_df"]
    return max(params["min_df_count"], int(max_df * documents) if max_df < 1 else int(max_df))


def _leaks(corpus, params: dict, earlier: str, later: str, near: dict) -> dict:
    """{later item: {"exact": [twins], "ngram": {twin: shared}, "near": {twin: jaccard}}} for
    one pair of splits."""
    leaks: dict[int, dict] = defaultdict(lambda: {"exact": [], "ngram": {}, "near": {}})
    for item_id, twins in near.get((earlier, later), {}).items():
        leaks[item_id]["near"] = twins
    ids = corpus.ids.tolist()
    for item, twin in corpus.exact_pairs(earlier, later):
        leaks[ids[item]]["exact"].append(ids[twin])
    cutoff = _cutoff(corpus.project, params, len(ids))
    for item, twin, shared in corpus.ngram_pairs(earlier, later, cutoff, params["min_shared"]):
        leaks[ids[item]]["ngram"][ids[twin]] = shared
    return leaks


@job_kind(LEAKAGE)
def leakage_job(run: JobRun, report: Report) -> dict:
    from curation.quality import near_duplicates, text_hashes

    project, params = run.project, run.params
    todo = _live_items(project).exclude(split=Split.UNASSIGNED).count() or 1
    hashed = text_hashes.text_hashes_sync(
        project=project, n=params["n"], report=lambda done, c: report(0.4 * done / todo, c),
        sign=near_duplicates.dedup_params(near_duplicates.DEFAULTS),
    )  # fmt: skip
    near = near_leaks(project, params["near_threshold"])
    report(0.7, {"hashed": hashed})
    corpus = text_hashes.Corpus(project, params["n"])
    drafts, per_pair = [], {}
    for number, (earlier, later) in enumerate(leakage.SPLIT_PAIRS):
        leaks = _leaks(corpus, params, earlier, later, near)
        per_pair[f"{earlier}_vs_{later}"] = len(leaks)
        drafts += _leak_drafts(project, corpus, params, earlier, later, leaks)
        report(0.7 + 0.1 * (number + 1), {"hashed": hashed, **per_pair})
    counts = {"hashed": hashed, "leaked": len(drafts), **per_pair}
    with transaction.atomic():
        # Only the split pairs' findings: an external reference set's are another job's.
        pairs = [f"{earlier}_vs_{later}" for earlier, later in leakage.SPLIT_PAIRS]
        counts.update(findings_replace(project=project, kind=FindingKind.LEAKAGE, drafts=drafts,
                                       job=run, scope=pairs))  # fmt: skip
        message = f"{len(drafts):,} leaked items across the split pairs."
        job_run_complete(run=run, counts=counts, message=message)
    return counts


def _leak_drafts(project, corpus, params, earlier: str, later: str, leaks: dict) -> list[Draft]:
    if not leaks:
        return []
    ids = sorted(leaks)
    at = np.searchsorted(corpus.ids, ids)
    totals = dict(zip(ids, corpus.totals[at].tolist(), strict=True))
    position = dict(zip(ids, at.tolist(), strict=True))
    by_position = corpus.matched(earlier, [position[i] for i in ids if leaks[i]["ngram"]])
    matched = {item_id: by_position.get(position[item_id], set()) for item_id in ids}
    fields = required_fields(project)
    texts = dict(Item.objects.filter(pk__in=ids).values_list("pk", "data"))
    drafts = []
    for item_id in ids:
        found = leaks[item_id]
        text = item_text(texts[item_id], fields)
        twins = sorted(found["ngram"].items(), key=lambda kv: (-kv[1], kv[0]))
        windows, _ = leakage.window_hashes([text], params["n"])
        share = leakage.window_coverage(windows, matched[item_id], params["n"])
        exact = sorted(found["exact"])
        near = sorted(found["near"].items(), key=lambda kv: (-kv[1], kv[0]))
        coverage = 1.0 if exact else max([share] + [j for _, j in near])
        if exact:
            how = "the same text as"
        elif near and near[0][1] >= share:
            how = f"a near-duplicate (Jaccard {near[0][1]:.2f}) of"
        else:
            how = f"{share:.0%} of its tokens in 13-grams shared with"
        others = exact or sorted({twin for twin, _ in twins} | {twin for twin, _ in near})
        drafts.append(Draft(
            key=f"{earlier}-{later}:{item_id}",
            item_id=item_id,
            items=others[:50],
            rule=f"{earlier}_vs_{later}",
            message=(f"This {later} item has {how} {len(others)} {earlier} "
                     f"item{'s' if len(others) != 1 else ''}."),
            score=coverage,
            detail={"pair": [earlier, later], "exact": exact[:50],
                    "near": [{"item": twin, "jaccard": j} for twin, j in near[:50]],
                    "ngram": [{"item": twin, "shared": shared} for twin, shared in twins[:50]],
                    "ngrams": totals.get(item_id, 0), "covered_token_share": share},
        ))  # fmt: skip
    return drafts
