"""The per-project storage quota (IMP-7): what a project keeps on disk under MEDIA_ROOT, and the
check every path that writes one of its files makes first.

A project's files are the uploads its import and reference-set jobs still need (while those are
queued or running), the exports it can download (for EXPORT_RETENTION_HOURS) and the export its
job is writing. A file past its use (a finished import's upload, an expired export) stops
counting at once; the sweeps delete it (JOB-9). Reference sets, versions and distribution
samples are stored in the database, and a version's zip is built per download in an anonymous
temporary file, so none of them is a file of the project.
"""

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from curation.forms import UPLOAD_OVERHEAD_BYTES, human_bytes
from curation.models import ACTIVE_JOB_STATUSES, JobRun, JobStatus, Project

# Job kinds whose upload is kept under MEDIA_ROOT/<folder> until the job has read it.
UPLOAD_FOLDERS = {"import": "imports", "reference_import": "references"}
EXPORT_FOLDER = "exports"
_PARTIAL = ".part"  # an export being written (curation.exporting.files)


class StorageQuotaExceeded(ValidationError):
    """A file would take its project past PROJECT_STORAGE_QUOTA_BYTES; `reason` says so. A
    ValidationError naming `file`, so callers that show service errors show this one too."""

    def __init__(self, reason: str):
        super().__init__({"file": [reason]})
        self.reason = reason  # not `message`: Django's ValidationError gives that a meaning


def storage_quota() -> int:
    """PROJECT_STORAGE_QUOTA_BYTES; 0 (or less) means no quota."""
    return max(settings.PROJECT_STORAGE_QUOTA_BYTES, 0)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # swept, or not written yet
        return 0


def _run_files(kind: str, params: dict) -> list[Path]:
    # stored_name is always a server-made name (FILE-1); .name keeps it inside its folder.
    name = Path(str(params.get("stored_name") or "")).name
    if not name:
        return []
    if kind == "export":
        folder = Path(settings.MEDIA_ROOT) / EXPORT_FOLDER
        return [folder / name, folder / (name + _PARTIAL)]
    return [Path(settings.MEDIA_ROOT) / UPLOAD_FOLDERS[kind] / name]


def project_storage_used(*, project: Project, excluding: JobRun | None = None) -> int:
    """The bytes `project`'s files take on disk, in one query over its own runs: a finished
    export's size as its run recorded it, the others (uploads, an export being written) by
    os.stat of the files the runs name. No folder is listed, so other projects' files are never
    looked at. `excluding` leaves out a run's own files (an export job measuring the room left
    for the file it is about to write)."""
    cutoff = timezone.now() - timedelta(hours=settings.EXPORT_RETENTION_HOURS)
    runs = project.job_runs.filter(
        Q(kind__in=[*UPLOAD_FOLDERS, "export"], status__in=ACTIVE_JOB_STATUSES)
        | Q(kind="export", status=JobStatus.DONE, finished_at__gte=cutoff)
    ).exclude(counts__has_key="expired")
    if excluding is not None:
        runs = runs.exclude(pk=excluding.pk)
    used = 0
    for kind, status, params, counts in runs.order_by().values_list(
        "kind", "status", "params", "counts"
    ):
        recorded = (counts or {}).get("bytes") if status == JobStatus.DONE else None
        if isinstance(recorded, int) and not isinstance(recorded, bool):
            used += recorded
        else:
            used += sum(_size(path) for path in _run_files(kind, params or {}))
    return used


@dataclass(frozen=True)
class ProjectQuota:
    """A project's quota as measured once: `limit` bytes (0: no quota), `used` of them."""

    limit: int
    used: int

    @property
    def remaining(self) -> int | None:
        return max(self.limit - self.used, 0) if self.limit else None

    def refuses(self, size: int) -> bool:
        """Whether `size` more bytes would take the project past its quota."""
        return bool(self.limit) and self.used + size > self.limit

    def message(self, what: str = "The upload") -> str:
        size, exact = human_bytes(self.limit), f"{self.limit:,} bytes"
        named = exact if size == exact else f"{size} ({exact})"
        return (
            f"{what} would take this project past its storage quota of {named} "
            f"({human_bytes(self.used)} already used by uploads still being read and exports "
            "kept for download). Wait for those to finish or expire (exports are deleted after "
            f"{settings.EXPORT_RETENTION_HOURS} hours), or ask an administrator to raise "
            "PROJECT_STORAGE_QUOTA_BYTES."
        )

    def cap(self, handler) -> None:
        """Lowers an upload's streaming limit (curation.forms.ImportSizeLimitHandler) to the
        room left, so a body larger than it declared is stopped as it streams in."""
        if self.remaining is not None:
            handler.limit = min(handler.limit, self.remaining)


def project_quota(*, project: Project, excluding: JobRun | None = None) -> ProjectQuota:
    """The project's quota and what it uses now; without a quota nothing is measured."""
    limit = storage_quota()
    used = project_storage_used(project=project, excluding=excluding) if limit else 0
    return ProjectQuota(limit=limit, used=used)


def declared_upload_size(request) -> int:
    """The file bytes a request says (Content-Length) it carries, less the allowance for the
    multipart framing and the form's other fields; read before anything reads the body."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django refuses a malformed length when the body is read
    return max(length - UPLOAD_OVERHEAD_BYTES, 0)


def source_size(source) -> int:
    """The size of an upload to store: a path's, or an uploaded file's (0 when unknown)."""
    if isinstance(source, str | os.PathLike):
        return Path(source).stat().st_size
    size = getattr(source, "size", 0)
    return size if isinstance(size, int) else 0
