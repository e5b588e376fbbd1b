"""The difference between two versions of a project, joined on the items' external ids in SQL:
items added, removed, relabeled (another final value) and moved (another split), and the change
of the label distribution. Counts are aggregates and lists are read a page at a time, so two
versions of a million items never come into Python whole."""

from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery

from curation.cards import ordered_counts
from curation.models import DatasetVersion, VersionRecord

KINDS = ("added", "removed", "relabeled", "moved")


def _records(version: DatasetVersion) -> QuerySet:
    return VersionRecord.objects.filter(version=version)


def _twin(version: DatasetVersion) -> QuerySet:
    """The record of `version` with the outer record's external id."""
    return _records(version).filter(external_id=OuterRef("external_id"))


def diff_queryset(old: DatasetVersion, new: DatasetVersion, kind: str) -> QuerySet:
    """The records of one kind of change, in their version's order, as dicts: added and removed
    give external_id, label, split; relabeled gives old_label and new_label; moved old_split
    and new_split."""
    if kind == "added":
        rows = _records(new).filter(~Exists(_twin(old)))
        return rows.order_by("position").values("external_id", "label", "split")
    if kind == "removed":
        rows = _records(old).filter(~Exists(_twin(new)))
        return rows.order_by("position").values("external_id", "label", "split")
    if kind == "relabeled":
        rows = _records(new).filter(Exists(_twin(old).exclude(label_key=OuterRef("label_key"))))
        rows = rows.annotate(old_label=Subquery(_twin(old).values("label")[:1]))
        return rows.order_by("position").values("external_id", "old_label", "label")
    if kind == "moved":
        rows = _records(new).filter(Exists(_twin(old).exclude(split=OuterRef("split"))))
        rows = rows.annotate(old_split=Subquery(_twin(old).values("split")[:1]))
        return rows.order_by("position").values("external_id", "old_split", "split")
    raise ValueError(f"Unknown kind of change {kind!r}; use one of {', '.join(KINDS)}.")


def _entry(kind: str, row: dict) -> dict:
    if kind == "relabeled":
        return {"external_id": row["external_id"], "old_label": row["old_label"],
                "new_label": row["label"]}  # fmt: skip
    if kind == "moved":
        return {"external_id": row["external_id"], "old_split": row["old_split"],
                "new_split": row["split"]}  # fmt: skip
    return dict(row)


def diff_entries(
    old: DatasetVersion, new: DatasetVersion, kind: str, *, limit: int, offset: int = 0
) -> list[dict]:
    """One page of the changes of `kind` (see diff_queryset), in the version's order."""
    rows = diff_queryset(old, new, kind)[offset : offset + limit]
    return [_entry(kind, row) for row in rows]


def _distribution(version: DatasetVersion) -> dict[str, int]:
    rows = _records(version).values("label").annotate(n=Count("pk")).order_by()
    return {row["label"]: row["n"] for row in rows}


@dataclass
class VersionDiff:
    old: DatasetVersion
    new: DatasetVersion
    counts: dict = field(default_factory=dict)  # kind -> how many
    labels: list = field(default_factory=list)  # {"label", "old", "new", "change"}


def version_diff(*, old: DatasetVersion, new: DatasetVersion) -> VersionDiff:
    """How many items were added, removed, relabeled and moved from `old` to `new`, and the
    label distribution of each with the change per label (largest in `new` first)."""
    counts = {kind: diff_queryset(old, new, kind).count() for kind in KINDS}
    before, after = _distribution(old), _distribution(new)
    merged = {label: after.get(label, 0) for label in set(before) | set(after)}
    labels = [{"label": label, "old": before.get(label, 0), "new": count,
               "change": count - before.get(label, 0)}
              for label, count in ordered_counts(merged)]  # fmt: skip
    return VersionDiff(old=old, new=new, counts=counts, labels=labels)
