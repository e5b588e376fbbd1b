"""Export files: written by the export job under server-made names (FILE-1), offered for
download while fresh, deleted after EXPORT_RETENTION_HOURS (EXP-3, EXP-4, JOB-9)."""

import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from curation.exporting.records import FORMATS, MODES, export_records, prefetched
from curation.exporting.writers import write_export
from curation.jobs import JobFailed, Report, job_kind, job_run_complete, job_run_start
from curation.models import ACTIVE_JOB_STATUSES, AuditKind, Item, JobRun, JobStatus, Project
from curation.services import audit
from curation.storage import ProjectQuota, project_quota

KIND = "export"
FORMAT_NAMES = {"jsonl": "JSON Lines", "csv": "CSV", "parquet": "Parquet"}
_PARTIAL = ".part"


def export_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "exports"


def _path(stored_name: str) -> Path:
    # stored_name is always one of ours (uuid + format), never a user's string.
    return export_dir() / Path(stored_name).name


def _cutoff(now: datetime | None) -> datetime:
    return (now or timezone.now()) - timedelta(hours=settings.EXPORT_RETENTION_HOURS)


def export_start(*, project: Project, user, fmt: str, mode: str) -> JobRun:
    """Queues an export of `project`; the job starts after the surrounding transaction commits.

    Writes one JobRun with params {"format", "mode", "stored_name"}. Raises ValidationError
    naming `format` or `mode` for a value it does not know. A project has at most one export
    queued or running (JOB-6): if one is, that run is returned as it is, even when it was asked
    with another format or mode; callers compare `run.params` to tell the user.
    """
    if fmt not in FORMATS:
        raise ValidationError({"format": f"Unknown format {fmt!r}; use {', '.join(FORMATS)}."})
    if mode not in MODES:
        raise ValidationError({"mode": f"Unknown mode {mode!r}; use {', '.join(MODES)}."})
    params = {"format": fmt, "mode": mode, "stored_name": f"{uuid.uuid4().hex}.{fmt}"}
    run = job_run_start(project=project, kind=KIND, user=user, params=params)
    if run.params.get("stored_name") == params["stored_name"]:  # a new run (LOG-1)
        audit(AuditKind.EXPORT_CREATED, actor=user, project=project, job=run.pk, format=fmt,
              mode=mode)  # fmt: skip
    return run


def export_file(run: JobRun) -> Path | None:
    """The finished export's file, or None when the run is not a finished export, its file was
    swept or is missing, or it is older than the retention period (old links die, EXP-4)."""
    if run.kind != KIND or run.status != JobStatus.DONE or run.counts.get("expired"):
        return None
    if run.finished_at is None or run.finished_at < _cutoff(None):
        return None
    path = _path(run.params.get("stored_name", ""))
    return path if path.is_file() else None


@job_kind(KIND)
def export_job(run: JobRun, report: Report) -> dict:
    """Writes the project's export to MEDIA_ROOT/exports/<stored_name> and marks the run done.

    The file is written under a temporary name and renamed when complete, so a cancelled or
    failed run leaves no partial file behind. Items are read in autocommit chunks (no long
    transaction; each chunk renews the lease); a rerun rewrites the same file (idempotent).
    Before starting it sweeps expired exports, so retention holds without a scheduler. A file
    that grows past the room left in the project's storage quota fails the run naming the
    quota, and is deleted (IMP-7).
    """
    exports_sweep()
    fmt, mode = run.params["format"], run.params["mode"]
    target = _path(run.params["stored_name"])
    partial = target.with_name(target.name + _PARTIAL)
    total = Item.objects.filter(project=run.project).count()
    counts = {"items": 0, "records": 0}
    quota = project_quota(project=run.project, excluding=run)

    def chunks():
        records = export_records(run.project, mode, counts=counts, raw_json=fmt == "jsonl")
        # Another thread has its own connection, which sees only committed data: not inside a
        # transaction (the test suite's) and not on SQLite, where readers gain little.
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            records = prefetched(records)
        for chunk in records:
            yield chunk
            _check_room(partial, quota)  # the chunk before this one is written by now
            report(0.99 * counts["items"] / total if total else 0.0, dict(counts))

    export_dir().mkdir(parents=True, exist_ok=True)
    try:
        write_export(chunks(), partial, fmt=fmt, mode=mode)
        _check_room(partial, quota)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    counts["bytes"] = target.stat().st_size
    message = (f"Exported {counts['items']:,} items ({counts['records']:,} records) as "
               f"{FORMAT_NAMES[fmt]}.")  # fmt: skip
    job_run_complete(run=run, counts=counts, message=message)
    return counts


def _check_room(path: Path, quota: ProjectQuota) -> None:
    if quota.limit and quota.refuses(path.stat().st_size):
        raise JobFailed(quota.message("The export"))


def exports_sweep(now: datetime | None = None) -> int:
    """Deletes export files older than EXPORT_RETENTION_HOURS and returns how many it deleted.

    Each finished export past retention loses its file and gets counts["expired"] = True (one
    UPDATE per run, no enclosing transaction: a rerun finishes what a crash left). Leftover
    files no run will claim (a killed worker's partial file) go by their modification time.
    Idempotent.
    """
    cutoff = _cutoff(now)
    deleted = 0
    old = JobRun.objects.filter(kind=KIND, finished_at__lt=cutoff).exclude(
        counts__has_key="expired"
    )
    for run in old.only("pk", "params", "counts"):
        path = _path(run.params.get("stored_name", "")) if run.params.get("stored_name") else None
        if path is not None and path.is_file():
            path.unlink(missing_ok=True)
            deleted += 1
        JobRun.objects.filter(pk=run.pk).update(counts={**run.counts, "expired": True})
    return deleted + _sweep_leftovers(cutoff)


def _sweep_leftovers(cutoff: datetime) -> int:
    folder = export_dir()
    if not folder.is_dir():
        return 0
    active = JobRun.objects.filter(kind=KIND, status__in=ACTIVE_JOB_STATUSES)
    keep = {run.params.get("stored_name") for run in active.only("params")}
    deleted = 0
    for path in folder.iterdir():
        name = path.name.removesuffix(_PARTIAL)
        if path.is_file() and name not in keep and path.stat().st_mtime < cutoff.timestamp():
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted
