"""Split design: a lead's plan (method, ratios, seed, what keeps items together), its inputs
read from the database, a preview that writes nothing, and applying it.

The assignment itself is curation.splitting (pure). This module reads, per item not dropped:
the final label (through `curation.extensions.enrich_items`, so curation never imports the
higher apps), the near-duplicate clusters of the latest finished near-duplicate run (its stored
pairs), a metadata key's value (the same customer, document or conversation) and a metadata
date. Items in the test split of a frozen version (matched by external id) are never moved out
of test without an explicit confirmation.
"""

import math
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count
from django.db.models.fields.json import KeyTextTransform

from curation import splitting
from curation.extensions import enrich_items
from curation.jobs import JobFailed
from curation.labels import label_name
from curation.models import (
    AuditKind,
    DuplicatePair,
    Item,
    JobRun,
    JobStatus,
    Project,
    Split,
    VersionRecord,
)
from curation.quality.jobs import LEAKAGE
from curation.quality.near_duplicates import KIND as NEAR_DUPLICATES
from curation.quality.near_duplicates import dedup_params
from curation.quality.registry import quality_job_start
from curation.services import audit

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
ENRICH_CHUNK = 10_000
UPDATE_CHUNK = 10_000
KEYS_SAMPLE = 500  # items read to suggest metadata keys
MAX_SEED = 2**63 - 1
NO_LABEL = "(no final label)"
SPLITS = splitting.SPLITS  # ("train", "dev", "test"), in the order of their codes


class FrozenTestMove(Exception):
    """Applying would move items of a frozen version's test split out of test, unconfirmed."""

    def __init__(self, count: int):
        self.count = count
        super().__init__(
            f"{count:,} item{'s' if count != 1 else ''} of a frozen version's test split would "
            "move out of test. Confirm to move them (confirm_frozen_test), or change the plan."
        )


@dataclass(frozen=True)
class SplitPlan:
    """What the lead chose. Ratios are fractions summing to 1; `group_key` and `date_field`
    are metadata keys ("" for none)."""

    method: str
    train: float
    dev: float
    test: float
    seed: int
    keep_clusters: bool = True
    group_key: str = ""
    date_field: str = ""

    def ratios(self) -> splitting.Ratios:
        return splitting.Ratios(self.train, self.dev, self.test)

    def as_dict(self) -> dict:
        return asdict(self)


def split_plan(
    *,
    method: str,
    ratios: dict,
    seed: int,
    keep_clusters: bool = True,
    group_key: str = "",
    date_field: str = "",
) -> SplitPlan:
    """A checked plan; a ValidationError naming each field that is wrong. `ratios` maps train,
    dev and test to fractions of at least 0 that sum to 1 (dev may be 0)."""
    errors: dict[str, list[str]] = {}
    if method not in splitting.METHODS:
        errors["method"] = [f"Unknown method; use one of: {', '.join(splitting.METHODS)}."]
    values = _ratio_values(ratios, errors)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        errors["seed"] = [f"Give a whole number from 0 to {MAX_SEED}."]
    for name, key in (("group_key", group_key), ("date_field", date_field)):
        if key and not KEY_PATTERN.match(key):
            errors[name] = ["A metadata key: 1 to 64 letters, digits, dots, dashes or underscores."]
    if method == "time" and not date_field and "date_field" not in errors:
        errors["date_field"] = ["The time-based split needs the metadata key holding a date."]
    if errors:
        raise ValidationError(errors)
    return SplitPlan(method=method, seed=seed, keep_clusters=bool(keep_clusters),
                     group_key=group_key, date_field=date_field if method == "time" else "",
                     **values)  # fmt: skip


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ratio_values(ratios, errors: dict) -> dict[str, float]:
    """train, dev and test as floats; problems go into `errors` under ratios.<split>."""
    ratios = ratios if isinstance(ratios, dict) else {}
    values = {}
    for name in SPLITS:
        value = ratios.get(name, 0)
        if not _number(value):
            errors[f"ratios.{name}"] = ["Give a number from 0 to 1."]
        elif value < 0:
            errors[f"ratios.{name}"] = ["A ratio cannot be negative."]
        values[name] = float(value) if _number(value) else 0.0
    total = sum(values.values())
    if not any(key.startswith("ratios") for key in errors) and abs(total - 1) > 1e-6:
        errors["ratios"] = [f"The ratios add up to {total:g}; they must add up to 1."]
    return values


# --- inputs -----------------------------------------------------------------------------------


@dataclass
class SplitInputs:
    """The live items in id order, with what the assignment needs."""

    ids: np.ndarray  # int64
    current: np.ndarray  # int8: 0 train, 1 dev, 2 test, -1 unassigned
    labels: np.ndarray  # int64 index into label_names
    label_names: list[str]
    groups: np.ndarray | None
    times: np.ndarray | None
    missing_dates: int = 0
    unparsed_dates: int = 0
    clusters_key: str = ""  # params key of the near-duplicate pairs used
    frozen_test: np.ndarray | None = None  # bool: in the test split of a frozen version


def _live(project: Project):
    return Item.objects.filter(project=project, dropped_at__isnull=True)


def split_inputs(*, project: Project, plan: SplitPlan | None = None) -> SplitInputs:
    """Reads the inputs of `plan` (only labels and current splits when None). Metadata keys
    are JSON key lookups (KeyTextTransform), never SQL text."""
    keys = {}
    if plan and plan.group_key:
        keys["group_value"] = KeyTextTransform(plan.group_key, "metadata")
    if plan and plan.date_field:
        keys["date_value"] = KeyTextTransform(plan.date_field, "metadata")
    rows = _live(project).order_by("pk").annotate(**keys)
    rows = list(rows.values_list("pk", "split", *keys).iterator(chunk_size=ENRICH_CHUNK))
    columns = list(zip(*rows, strict=True)) if rows else [(), ()] + [()] * len(keys)
    ids = np.array(columns[0], dtype=np.int64)
    codes = {name: code for code, name in enumerate(SPLITS)}
    current = np.array([codes.get(s, -1) for s in columns[1]], dtype=np.int8)
    labels, names = _labels(project, ids)
    inputs = SplitInputs(ids=ids, current=current, labels=labels, label_names=names,
                         groups=None, times=None)  # fmt: skip
    if plan is None:
        return inputs
    values = dict(zip(keys, columns[2:], strict=True))
    group_codes = _codes(values["group_value"]) if "group_value" in values else None
    pairs = None
    if plan.keep_clusters:
        inputs.clusters_key, pairs = _cluster_pairs(project, ids)
    inputs.groups = splitting.merge_groups(
        len(ids), keys=[group_codes] if group_codes is not None else [], pairs=pairs
    )
    if "date_value" in values:
        inputs.times, inputs.missing_dates, inputs.unparsed_dates = _times(values["date_value"])
    inputs.frozen_test = np.isin(ids, _frozen_test_ids(project))
    return inputs


def _labels(project: Project, ids: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A label index per item and the names, sorted (the items without a final label last)."""
    names = []
    for start in range(0, len(ids), ENRICH_CHUNK):
        chunk = ids[start : start + ENRICH_CHUNK].tolist()
        enriched = enrich_items(project, chunk, "final")
        for item_id in chunk:
            final = enriched.get(item_id, {}).get("final") or {}
            names.append(label_name(final.get("value")) or NO_LABEL)
    if not names:
        return np.zeros(0, dtype=np.int64), []
    found, index = np.unique(np.array(names, dtype=object), return_inverse=True)
    ordered = sorted(found.tolist(), key=lambda name: (name == NO_LABEL, name))
    remap = np.array([ordered.index(name) for name in found.tolist()], dtype=np.int64)
    return remap[index.reshape(-1)], ordered


def _codes(values) -> np.ndarray:
    """An int per distinct metadata value; -1 where the item has none (missing or "")."""
    text = np.array(["" if v is None else str(v) for v in values], dtype=object)
    if not len(text):
        return np.zeros(0, dtype=np.int64)
    found, index = np.unique(text, return_inverse=True)
    index = index.reshape(-1).astype(np.int64)
    if found[0] == "":  # "" sorts first
        index[index == 0] = -1
    return index


def _cluster_pairs(project: Project, ids: np.ndarray) -> tuple[str, np.ndarray]:
    """(params key, item index pairs) of the latest finished near-duplicate run, pairs at or
    above its threshold between live items; ("", empty) when no run finished."""
    run = (
        JobRun.objects.filter(project=project, kind=NEAR_DUPLICATES, status=JobStatus.DONE)
        .order_by("-finished_at", "-pk")
        .first()
    )
    empty = np.zeros((0, 2), dtype=np.int64)
    if run is None:
        return "", empty
    try:
        params = dedup_params(run.params)
    except JobFailed:
        return "", empty
    key = params.key()
    stored = DuplicatePair.objects.filter(
        project=project, params=key, jaccard__gte=params.threshold
    ).values_list("first_id", "second_id")
    pairs = np.array(list(stored.iterator(chunk_size=ENRICH_CHUNK)), dtype=np.int64)
    if not len(pairs) or not len(ids):
        return key, empty
    where = np.clip(np.searchsorted(ids, pairs), 0, len(ids) - 1)
    live = (ids[where] == pairs).all(axis=1)  # both items still live
    return key, where[live]


def parse_time(value) -> float:
    """Seconds since the epoch of an ISO 8601 date or date-time (UTC when it names no zone);
    NaN for anything else."""
    if not isinstance(value, str) or not value.strip():
        return math.nan
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return math.nan
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _times(values) -> tuple[np.ndarray, int, int]:
    """(times, missing, unparsed): values absent or "" are missing; present but not ISO 8601
    are unparsed. Both are NaN."""
    seen: dict[str, float] = {}  # many items share a date: parse each text once
    for value in values:
        if isinstance(value, str) and value not in seen:
            seen[value] = parse_time(value)
    times = np.array([seen.get(v, math.nan) if isinstance(v, str) else math.nan for v in values],
                     dtype=np.float64)  # fmt: skip
    missing = sum(1 for v in values if v is None or v == "")
    return times, missing, int(np.isnan(times).sum()) - missing


def _frozen_test_ids(project: Project) -> list[int]:
    """Ids of live items whose external id is in the test split of a frozen version."""
    frozen = VersionRecord.objects.filter(version__project=project, split=Split.TEST)
    items = _live(project).filter(external_id__in=frozen.values("external_id"))
    return list(items.values_list("pk", flat=True))


def metadata_keys(*, project: Project) -> list[str]:
    """Metadata keys found on a sample of the project's items (suggestions for the form)."""
    found = set()
    for metadata in _live(project).order_by("pk").values_list("metadata", flat=True)[:KEYS_SAMPLE]:
        if isinstance(metadata, dict):
            found.update(key for key in metadata if KEY_PATTERN.match(key))
    return sorted(found)


# --- preview and apply ------------------------------------------------------------------------


def _compute(project: Project, plan: SplitPlan) -> tuple[SplitInputs, splitting.Assignment]:
    inputs = split_inputs(project=project, plan=plan)
    assignment = splitting.assign(
        method=plan.method, ratios=plan.ratios(), seed=plan.seed, labels=inputs.labels,
        groups=inputs.groups, times=inputs.times,
    )  # fmt: skip
    return inputs, assignment


def _distribution(label_names: list[str], label_counts: dict, counts: list[int]) -> list[dict]:
    """One row per label: its count and its share of each split's items."""
    rows = []
    for label, per_split in sorted(label_counts.items()):
        row = {"label": label_names[label], "total": sum(per_split)}
        for name, count, size in zip(SPLITS, per_split, counts, strict=True):
            row[name] = count
            row[f"{name}_share"] = round(count / size, 4) if size else 0.0
        rows.append(row)
    return rows


def _moves(inputs: SplitInputs, split: np.ndarray) -> tuple[np.ndarray, int]:
    changed = inputs.current != split
    frozen = inputs.frozen_test if inputs.frozen_test is not None else np.zeros_like(changed)
    return changed, int((changed & frozen & (split != splitting.TEST)).sum())


def _preview(plan: SplitPlan, inputs: SplitInputs, assignment: splitting.Assignment) -> dict:
    n = len(inputs.ids)
    changed, frozen_moved = _moves(inputs, assignment.split)
    ratios = plan.ratios().as_array()
    return {
        "plan": plan.as_dict(),
        "items": n,
        "splits": [
            {
                "split": name,
                "count": count,
                "share": round(count / n, 4) if n else 0.0,
                "ideal": round(float(ratio) * n, 1),
            }
            for name, count, ratio in zip(SPLITS, assignment.counts, ratios, strict=True)
        ],  # fmt: skip
        "labels": _distribution(inputs.label_names, assignment.label_counts, assignment.counts),
        "groups": {
            "count": assignment.groups,
            "items": assignment.grouped_items,
            "largest": assignment.largest_group,
            "clusters_from": inputs.clusters_key,
        },  # fmt: skip
        "changed": int(changed.sum()),
        "frozen_test": int(inputs.frozen_test.sum()) if inputs.frozen_test is not None else 0,
        "frozen_test_moved": frozen_moved,
        "undated": assignment.undated,
        "missing_dates": inputs.missing_dates,
        "unparsed_dates": inputs.unparsed_dates,
    }


def split_preview(*, project: Project, plan: SplitPlan) -> dict:
    """What applying `plan` would do: per split counts and label distribution, groups, how
    many items change split and how many would leave a frozen test split. Writes nothing."""
    return _preview(plan, *_compute(project, plan))


def split_current(*, project: Project) -> dict:
    """The live items' splits now: counts (unassigned included) and label distribution."""
    counts = dict.fromkeys(Split.values, 0)
    for row in _live(project).order_by().values("split").annotate(n=Count("id")):
        counts[row["split"]] = row["n"]
    inputs = split_inputs(project=project)
    assigned = inputs.current >= 0
    table = np.bincount(inputs.labels[assigned] * 3 + inputs.current[assigned],
                        minlength=3 * len(inputs.label_names)).reshape(-1, 3)  # fmt: skip
    per_label = {label: row for label, row in enumerate(table.tolist()) if any(row)}
    sizes = [counts[name] for name in SPLITS]
    return {"items": sum(counts.values()), "counts": counts,
            "labels": _distribution(inputs.label_names, per_label, sizes)}  # fmt: skip


_UPDATE_PG = (
    "UPDATE curation_item AS i SET split = %s FROM unnest(%s::bigint[]) AS n(id) "
    "WHERE i.id = n.id AND i.project_id = %s"
)


def _write(project: Project, ids: np.ndarray, split: np.ndarray) -> None:
    """Sets the split of `ids`: on PostgreSQL one UPDATE per split joined to the ids as an
    array, elsewhere UPDATE ... WHERE pk IN chunks. Never a save() per item."""
    for code, name in enumerate(SPLITS):
        chosen = ids[split == code].tolist()
        if not chosen:
            continue
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(_UPDATE_PG, [name, chosen, project.pk])
            continue
        for start in range(0, len(chosen), UPDATE_CHUNK):
            part = chosen[start : start + UPDATE_CHUNK]
            Item.objects.filter(project=project, pk__in=part).update(split=name)


def split_apply(
    *, project: Project, user, plan: SplitPlan, confirm_frozen_test: bool = False
) -> tuple[dict, JobRun]:
    """Recomputes `plan` (the same seed gives the same result) and writes each live item's
    split, in one transaction under a lock on the project row (one apply at a time), with a
    SPLITS_APPLIED audit event; then starts the leakage quality job (dispatched after commit).
    Raises FrozenTestMove, writing nothing, when items of a frozen test split would leave test
    without `confirm_frozen_test`. Applying the same plan twice changes nothing the second
    time. Returns (the preview of what was written, the leakage run)."""
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        inputs, assignment = _compute(project, plan)
        summary = _preview(plan, inputs, assignment)
        if summary["frozen_test_moved"] and not confirm_frozen_test:
            raise FrozenTestMove(summary["frozen_test_moved"])
        changed, _ = _moves(inputs, assignment.split)
        _write(project, inputs.ids[changed], assignment.split[changed])
        audit(AuditKind.SPLITS_APPLIED, actor=user, project=project, plan=plan.as_dict(),
              counts=dict(zip(SPLITS, assignment.counts, strict=True)),
              moved=summary["changed"], frozen_test_moved=summary["frozen_test_moved"],
              groups=summary["groups"], undated=summary["undated"])  # fmt: skip
        run = quality_job_start(project=project, kind=LEAKAGE, user=user)
    return summary, run
