"""Freezing a version: the job that writes a DatasetVersion with one VersionRecord per item.

The job reads the project's items that are neither dropped nor held back in a synthetic batch,
in id order and in chunks (curation.exporting.records), turns each into its version record
(curation.versions.records) and writes them all, with the version row, its summary, the audit
event and the run's completion, in one transaction: a failed or cancelled run leaves nothing,
and a version is never half written.
"""

import hashlib
from collections import Counter, defaultdict

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max

from curation.batches import items_held_back
from curation.bulk import bulk_insert
from curation.cards import ordered_counts, ordered_splits
from curation.exporting.records import export_records
from curation.extensions import version_summary
from curation.jobs import JobFailed, Report, job_kind, job_run_complete, job_run_start
from curation.models import (
    AuditEvent,
    AuditKind,
    DatasetVersion,
    DuplicatePair,
    Finding,
    FindingKind,
    FindingStatus,
    Item,
    JobRun,
    Project,
    VersionRecord,
)
from curation.versions.records import (
    ContentHash,
    data_columns,
    label_key,
    record_text,
    version_record,
)

KIND = "freeze_version"
MAX_NOTE = 2000
RECORD_FIELDS = ["version", "position", "item_id", "external_id", "split", "label", "label_key",
                 "rule", "record"]  # fmt: skip


def version_freeze_start(*, project: Project, user, note: str = "") -> JobRun:
    """Queues the freezing of a new version of `project` (a JobRun of kind "freeze_version"),
    or returns the project's freeze under way. The version is written when the job runs."""
    return job_run_start(project=project, kind=KIND, user=user, params={"note": note[:MAX_NOTE]})


def _eligible(project: Project):
    """The project's items a version holds: not dropped, not held back in a synthetic batch."""
    return Item.objects.filter(project=project, dropped_at__isnull=True).exclude(
        pk__in=items_held_back(project=project)
    )


# The distinct keys of the items' `data` objects, in SQL: the version's records all get the
# same columns, so they must be known before the first record is written.
_KEYS_SQL = {
    "postgresql": "SELECT DISTINCT k FROM curation_item AS i CROSS JOIN LATERAL "
    "jsonb_object_keys(CASE WHEN jsonb_typeof(i.data) = 'object' THEN i.data "
    "ELSE '{}'::jsonb END) AS k WHERE i.id IN (",
    "sqlite": "SELECT DISTINCT j.key FROM curation_item AS i, json_each(CASE WHEN "
    "json_type(i.data) = 'object' THEN i.data ELSE '{}' END) AS j WHERE i.id IN (",
}


def _data_keys(project: Project) -> list[str]:
    ids_sql, params = _eligible(project).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(_KEYS_SQL[connection.vendor] + ids_sql + ")", params)
        return [row[0] for row in cursor.fetchall()]


class _Tally:
    """The figures of the summary that come from the records themselves."""

    def __init__(self):
        self.count = 0
        self.annotations = 0
        self.splits: Counter = Counter()
        self.labels: Counter = Counter()
        self.by_split: dict[str, Counter] = defaultdict(Counter)
        self.sources: Counter = Counter()
        self.rules: Counter = Counter()
        self.item_ids: list[int] = []

    def add(self, item_id: int, record: dict) -> None:
        self.count += 1
        self.item_ids.append(item_id)
        self.annotations += record["n_annotations"]
        self.splits[record["split"]] += 1
        self.labels[record["label"]] += 1
        self.by_split[record["split"]][record["label"]] += 1
        self.sources[record["source"]] += 1
        self.rules[record["final"].get("rule") or ""] += 1


def _counted(counter: Counter) -> dict:
    # JSON objects: PostgreSQL does not keep their key order; readers use curation.cards'
    # ordered_counts and ordered_splits.
    return dict(ordered_counts(counter))


def _splits(counter: Counter) -> dict:
    return dict(ordered_splits(counter))


def _quality(project: Project, version: DatasetVersion) -> dict:
    """Open findings per kind, near-duplicate pairs among the version's items, and open leakage
    findings on them, as the quality jobs last left them."""
    in_version = VersionRecord.objects.filter(version=version).values("item_id")
    open_findings = (
        Finding.objects.filter(project=project, status=FindingStatus.OPEN)
        .values("kind").annotate(n=Count("pk")).order_by("kind")
    )  # fmt: skip
    pairs = (
        DuplicatePair.objects.filter(project=project, first__in=in_version, second__in=in_version)
        .values("first", "second").distinct().count()
    )  # fmt: skip
    leaks = Finding.objects.filter(
        project=project, status=FindingStatus.OPEN, kind=FindingKind.LEAKAGE, item__in=in_version
    ).count()
    return {
        "open_findings": {row["kind"]: row["n"] for row in open_findings},
        "duplicate_pairs": pairs,
        "leakage_findings": leaks,
    }


def _summary(run: JobRun, version: DatasetVersion, tally: _Tally, columns) -> dict:
    project = run.project
    summary = {
        "project": {"name": project.name, "slug": project.slug},
        "frozen_by": run.created_by.get_username() if run.created_by else "",
        "splits": _splits(tally.splits),
        "labels": _counted(tally.labels),
        "labels_by_split": {
            split: _counted(tally.by_split[split]) for split in _splits(tally.splits)
        },  # fmt: skip
        "sources": _counted(tally.sources),
        "rules": _counted(tally.rules),
        "annotators_per_item": project.annotators_per_item,
        "annotations_per_item": round(tally.annotations / tally.count, 2) if tally.count else 0,
        "guidelines": {
            "sha256": hashlib.sha256(project.guidelines.encode("utf-8")).hexdigest()[:12],
            "project_updated_at": project.updated_at.isoformat(),
        },
        "data_fields": [column for _, column in columns],
        "quality": _quality(project, version),
    }
    summary.update(version_summary(project, tally.item_ids))
    return summary


def _new_version(run: JobRun) -> DatasetVersion:
    project = run.project
    last = project.versions.aggregate(last=Max("number"))["last"] or 0
    try:
        with transaction.atomic():
            return DatasetVersion.objects.create(
                project=project, number=last + 1, note=run.params.get("note", "")[:MAX_NOTE],
                created_by=run.created_by, content_hash="",
            )  # fmt: skip
    except IntegrityError:
        raise JobFailed("Another version was frozen at the same moment; freeze again.") from None


def _rows(project, version, chunk, columns, held, tally: _Tally, digest: ContentHash) -> list:
    """The VersionRecord rows of one chunk of export records, tallied and hashed in order."""
    external = [export["id"] for export in chunk]
    ids = dict(Item.objects.filter(project=project, external_id__in=external)
               .values_list("external_id", "pk"))  # fmt: skip
    rows = []
    for export in chunk:
        item_id = ids.get(export["id"])
        if item_id is None or item_id in held:
            continue
        record = version_record(export, columns)
        text = record_text(record)
        final = record["final"]
        rows.append((version.pk, tally.count, item_id, export["id"], record["split"],
                     record["label"], label_key(final.get("value")),
                     str(final.get("rule") or "")[:32], text))  # fmt: skip
        tally.add(item_id, record)
        digest.add(text)
    return rows


@job_kind(KIND)
def freeze_version_job(run: JobRun, report: Report) -> dict:
    """Writes version max+1 of the run's project, its records, summary and audit event, and
    completes the run, in one transaction. Idempotent: a run that already froze its version
    (its number is in the run's counts) returns those counts and writes nothing."""
    if run.counts.get("version"):
        return run.counts
    project = run.project
    total = _eligible(project).count()
    with transaction.atomic():
        version = _new_version(run)
        columns = data_columns(_data_keys(project))
        # One column of item ids, whatever its name: read it as such.
        held = {next(iter(row.values())) for row in items_held_back(project=project)}
        tally, digest = _Tally(), ContentHash()

        # One COPY per chunk: the connection cannot read the next chunk while a COPY is open.
        for chunk in export_records(project, "final"):
            bulk_insert(VersionRecord, RECORD_FIELDS, _rows(project, version, chunk, columns,
                                                             held, tally, digest))  # fmt: skip
            report(0.9 * tally.count / total if total else 0.9, {"items": tally.count})
        version.content_hash, version.item_count = digest.hexdigest(), tally.count
        version.summary = _summary(run, version, tally, columns)
        version.save(update_fields=["content_hash", "item_count", "summary"])
        AuditEvent.objects.create(
            kind=AuditKind.VERSION_FROZEN,
            actor=run.created_by,
            project=project,
            detail={"version": version.number, "items": tally.count},
        )
        counts = {"version": version.number, "items": tally.count,
                  "content_hash": version.content_hash}  # fmt: skip
        message = f"Froze version {version.number}: {tally.count:,} items."
        job_run_complete(run=run, counts=counts, message=message)
    return counts
