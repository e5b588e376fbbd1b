"""Uploaded import files: stored under server-made names (FILE-1), started as import jobs."""

import shutil
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from curation.importing.readers import UnreadableFile, format_for
from curation.jobs import job_run_start
from curation.models import ACTIVE_JOB_STATUSES, JobRun, Project
from curation.storage import StorageQuotaExceeded, project_quota, source_size

_KEEP_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".json", ".parquet", ".pq", ".gz")
# An upload no import run names yet may be one whose run is about to be committed: it is kept
# this long before the sweep counts it as left behind.
_ORPHAN_SECONDS = 3600


class ImportBusy(Exception):
    """Another import of the same project is queued or running."""

    def __init__(self, run: JobRun):
        super().__init__(f"Import #{run.pk} of this project is still {run.status}; wait for it.")
        self.run = run


def upload_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def upload_path(stored_name: str) -> Path:
    # stored_name is always one of ours (uuid + known suffix), never the user's file name.
    return upload_dir() / Path(stored_name).name


def display_name(filename: str) -> str:
    """The user's file name for messages only: last path part, no control characters, short."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    if len(name) > 120:  # keep the suffix: the format is told by it
        suffix = "".join(Path(name).suffixes[-2:])[-20:]
        name = name[: 120 - len(suffix)] + suffix
    return name or "upload"


def _stored_name(filename: str) -> str:
    suffixes = "".join(s for s in Path(filename.lower()).suffixes[-2:] if s in _KEEP_SUFFIXES)
    return f"{uuid.uuid4().hex}{suffixes}"


def uploads_sweep() -> int:
    """Deletes uploaded import files no queued or running import needs any more (JOB-9): the
    file of every finished, failed or cancelled import, and files no run names that are older
    than an hour (an upload whose run was never committed). Returns how many it deleted.
    Idempotent; a run that is still queued or running keeps its file for a retry."""
    folder = upload_dir()
    if not folder.is_dir():
        return 0
    active, finished = set(), set()
    for status, name in JobRun.objects.filter(kind="import").values_list(
        "status", "params__stored_name"
    ):
        (active if status in ACTIVE_JOB_STATUSES else finished).add(name)
    cutoff = time.time() - _ORPHAN_SECONDS
    deleted = 0
    for path in folder.iterdir():
        if not path.is_file() or path.name in active:
            continue
        if path.name in finished or path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def import_start(*, project: Project, user, source, filename: str, options: dict) -> JobRun:
    """Stores the upload (a file object or a path) and queues its import job.

    Raises ValidationError naming `file` or `format` for what can be told at once (the file:
    StorageQuotaExceeded, when it would take the project past its storage quota; nothing is
    kept), and ImportBusy when the project already has an import under way. The job starts
    after commit.
    """
    filename = display_name(filename)
    try:
        fmt = format_for(filename, options.get("format", ""))
    except UnreadableFile as exc:
        raise ValidationError({"format": str(exc)}) from None
    # The quota counts this copy too, from the page, the API or `manage.py import_items` (IMP-7).
    quota = project_quota(project=project)
    if quota.refuses(source_size(source)):
        raise StorageQuotaExceeded(quota.message())
    upload_dir().mkdir(parents=True, exist_ok=True)
    stored = _stored_name(filename)
    target = upload_path(stored)
    if isinstance(source, str | Path):
        shutil.copyfile(source, target)
    else:
        with open(target, "wb") as out:
            for chunk in (
                source.chunks()
                if hasattr(source, "chunks")
                else iter(lambda: source.read(1 << 20), b"")
            ):
                out.write(chunk)
    if quota.refuses(target.stat().st_size):  # a source whose size was not known beforehand
        target.unlink(missing_ok=True)
        raise StorageQuotaExceeded(quota.message())
    params = {**options, "format": fmt, "filename": filename, "stored_name": stored}
    with transaction.atomic():
        run = job_run_start(project=project, kind="import", user=user, params=params)
        if run.params.get("stored_name") != stored:
            target.unlink(missing_ok=True)
            raise ImportBusy(run)
    return run
