"""Reference sets: external evaluation sets (public benchmarks) that a lead uploads to check
whether their texts are inside the project's training data (curation.quality.reference_leakage).

An upload is stored under a server-made name (FILE-1) and read by a `reference_import` job
(IMP-8) with the import readers. Every record is checked; the set and all its texts are then
stored in one transaction together with the run's completion, or nothing is stored and the run's
report names each problem by line and field (IMP-1, IMP-2). A text keeps the id the file gives
it (the id field), or the place it was read from ("line 17"), and the hash of its normalised
text for the exact check.
"""

import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import Http404

from curation.bulk import bulk_insert
from curation.extensions import Problem
from curation.importing.files import display_name
from curation.importing.pipeline import Tally
from curation.importing.readers import (
    Position,
    Record,
    UnreadableFile,
    format_for,
    json_kind,
    read_records,
)
from curation.jobs import JobFailed, Report, job_kind, job_run_complete, job_run_start
from curation.models import (
    AuditKind,
    Finding,
    FindingKind,
    FindingStatus,
    JobRun,
    Project,
    ReferenceSet,
    ReferenceText,
)
from curation.quality.leakage import exact_hash, normalise_exact
from curation.services import audit
from curation.storage import StorageQuotaExceeded, project_quota, source_size

KIND = "reference_import"
FORMATS = ("jsonl", "csv", "json", "parquet")
WRITE_ROWS = 5000  # texts written per COPY
_MISSING = object()


def max_texts() -> int:
    """The most texts one reference set may hold."""
    return getattr(settings, "REFERENCE_MAX_TEXTS", 200_000)


def reference_rule(set_id: int) -> str:
    """The rule of the leakage findings a check of reference set `set_id` writes."""
    return f"reference:{set_id}"


def upload_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "references"


def upload_path(stored_name: str) -> Path:
    # stored_name is always one of ours (a uuid), never the user's file name.
    return upload_dir() / Path(stored_name).name


class ReferenceBusy(Exception):
    """Another upload of a reference set of the same project is still being read."""

    def __init__(self, run: JobRun):
        super().__init__(f"Upload #{run.pk} of this project is still {run.status}; wait for it.")
        self.run = run


# --- selectors --------------------------------------------------------------------------------


def project_reference_sets(*, project: Project) -> QuerySet[ReferenceSet]:
    """The project's reference sets, newest first."""
    return project.reference_sets.select_related("created_by")


def project_reference_set(*, project: Project, set_id: int) -> ReferenceSet:
    """Reference set `set_id` of `project`, or 404 (another project's set is not found)."""
    found = project.reference_sets.filter(pk=set_id).first()
    if found is None:
        raise Http404("No such reference set.")
    return found


def reference_open_findings(*, project: Project) -> dict[int, int]:
    """{set id: open leakage findings of its checks}, in one GROUP BY query."""
    rows = (
        Finding.objects.filter(project=project, kind=FindingKind.LEAKAGE,
                               status=FindingStatus.OPEN, rule__startswith="reference:")
        .order_by().values("rule").annotate(n=Count("pk"))
    )  # fmt: skip
    found = {}
    for row in rows:
        set_id = row["rule"].removeprefix("reference:")
        if set_id.isdigit():
            found[int(set_id)] = row["n"]
    return found


def reference_uploads(*, project: Project) -> QuerySet[JobRun]:
    """The project's reference set uploads (their reading jobs), newest first."""
    return project.job_runs.filter(kind=KIND).select_related("created_by")


# --- services ---------------------------------------------------------------------------------


def reference_upload_start(
    *, project: Project, user, source, filename: str, name: str = "", fmt: str = "",
    text_field: str = "", id_field: str = "",
) -> JobRun:  # fmt: skip
    """Stores the upload (a file object with `chunks()`, or a path) under a server-made name and
    queues the job that reads it into a new reference set; the job starts after commit.

    Raises ValidationError naming `format` when the format cannot be told or is not one a
    reference set takes, StorageQuotaExceeded (naming `file`) when the copy would take the
    project past its storage quota, and ReferenceBusy when another upload of the project is
    being read.
    """
    filename = display_name(filename)
    try:
        fmt = format_for(filename, fmt)
    except UnreadableFile as exc:
        raise ValidationError({"format": str(exc)}) from None
    if fmt not in FORMATS:
        raise ValidationError({"format": "Use JSON Lines, CSV, a JSON array or Parquet."})
    quota = project_quota(project=project)  # the stored copy counts until the job reads it
    if quota.refuses(source_size(source)):
        raise StorageQuotaExceeded(quota.message())
    upload_dir().mkdir(parents=True, exist_ok=True)
    stored = uuid.uuid4().hex
    target = upload_path(stored)
    with open(target, "wb") as out:
        if isinstance(source, str | Path):
            with open(source, "rb") as given:
                while block := given.read(1 << 20):
                    out.write(block)
        else:
            for block in source.chunks():
                out.write(block)
    if quota.refuses(target.stat().st_size):
        target.unlink(missing_ok=True)
        raise StorageQuotaExceeded(quota.message())
    params = {"name": (name.strip() or filename)[:200], "filename": filename, "format": fmt,
              "stored_name": stored, "text_field": text_field.strip() or "text",
              "id_field": id_field.strip()}  # fmt: skip
    with transaction.atomic():
        run = job_run_start(project=project, kind=KIND, user=user, params=params)
        if run.params.get("stored_name") != stored:
            target.unlink(missing_ok=True)
            raise ReferenceBusy(run)
    return run


def reference_set_delete(*, reference_set: ReferenceSet) -> None:
    """Deletes the set with its texts, and the open findings its checks left; findings a lead
    resolved stay, as the record of what was decided. One transaction; the set's row is locked
    first, so a check finishing at the same time either lands before or fails."""
    with transaction.atomic():
        locked = ReferenceSet.objects.select_for_update().filter(pk=reference_set.pk)
        if not locked.exists():
            return
        Finding.objects.filter(
            project_id=reference_set.project_id, kind=FindingKind.LEAKAGE,
            rule=reference_rule(reference_set.pk), status=FindingStatus.OPEN,
        ).delete()  # fmt: skip
        locked.delete()


# --- the reading job --------------------------------------------------------------------------


class _Checker:
    """Turns records into (external id, text, exact hash), reporting each problem on the tally."""

    def __init__(self, tally: Tally, text_field: str, id_field: str):
        self.tally, self.text_field, self.id_field = tally, text_field, id_field
        self.places: dict[int, str] = {}  # hash(external id) -> where it was first read

    def row(self, record: Record) -> tuple[str, str, int] | None:
        self.tally.counts["rows"] += 1
        if record.problem is not None:
            return self._bad(record, [record.problem])
        fields = record.fields or {}
        problems: list[Problem] = []
        text = self._text(fields, problems)
        external_id = self._id(fields, record.where, problems)
        if external_id is not None:
            first = self.places.get(hash(external_id))
            if first is not None:
                message = f"id {external_id!r} repeats the one on {first}."
                problems.append(Problem(self.id_field, "duplicate_id", message))
            else:
                self.places[hash(external_id)] = record.where
        if problems:
            return self._bad(record, problems)
        return external_id, text, exact_hash(text)

    def _text(self, fields: dict, problems: list[Problem]) -> str:
        name = self.text_field
        value = fields.get(name, _MISSING)
        if value is _MISSING:
            message = f"field `{name}` missing {_found(fields)}."
            problems.append(Problem(name, "missing_text", message))
        elif not isinstance(value, str):
            message = f"field `{name}` must be text, not {json_kind(value)}."
            problems.append(Problem(name, "text_not_string", message))
        elif not normalise_exact(value):
            message = f"field `{name}` is empty (nothing but spaces or punctuation)."
            problems.append(Problem(name, "empty_text", message))
        else:
            return value
        return ""

    def _id(self, fields: dict, where: str, problems: list[Problem]) -> str | None:
        name = self.id_field
        if not name:
            return where  # "line 17", "row group 0, row 5": unique within the file
        value = fields.get(name, _MISSING)
        if value is _MISSING or value is None or value == "":
            message = f"field `{name}` missing {_found(fields)}."
            problems.append(Problem(name, "missing_id", message))
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            message = f"field `{name}` must be text or a whole number, not {json_kind(value)}."
            problems.append(Problem(name, "bad_id", message))
            return None
        if len(external_id := str(value)) > 255:
            problems.append(Problem(name, "id_too_long",
                                    f"field `{name}` is longer than 255 characters."))  # fmt: skip
            return None
        return external_id

    def _bad(self, record: Record, problems: list[Problem]) -> None:
        self.tally.counts["invalid_rows"] += 1
        for problem in problems:
            self.tally.problem(record.where, record.line, problem)
        return None


def _found(fields: dict) -> str:
    names = ", ".join(sorted(str(name)[:40] for name in fields)[:12])
    return f"(found fields: {names})" if names else "(the row is empty)"


def reference_set_read(*, run: JobRun, path: Path, report: Report) -> dict:
    """Reads the uploaded file into a new reference set of the run's project. The set, its
    texts, an audit event and the run's completion are written in one transaction; when any
    record has a problem, or the file cannot be read or has too many texts, nothing is written
    and JobFailed carries the problems by line and field. A rerun of a finished run is a no-op
    (its claim fails), so the set is never stored twice."""
    params = run.params
    filename, limit = params["filename"], max_texts()
    tally = Tally(filename, settings.IMPORT_MAX_ERRORS_KEPT,
                  counts={"rows": 0, "texts": 0, "invalid_rows": 0})  # fmt: skip
    checker = _Checker(tally, params["text_field"], params["id_field"])
    position = Position()
    try:
        with transaction.atomic():
            reference = ReferenceSet.objects.create(
                project=run.project, name=params["name"], filename=filename,
                text_field=params["text_field"], created_by_id=run.created_by_id,
            )  # fmt: skip
            records = read_records(path, filename, params["format"], position=position,
                                   max_line_bytes=settings.IMPORT_MAX_LINE_BYTES)  # fmt: skip
            pending: list[tuple] = []
            for record in records:
                row = checker.row(record)
                if tally.counts["rows"] > limit:
                    raise JobFailed(f"{filename} has more than {limit:,} texts, the limit for one "
                                    "reference set.", counts=tally.counts)  # fmt: skip
                if row is not None and not tally.error_count:  # after a problem, only check
                    pending.append((reference.pk, *row))
                if len(pending) >= WRITE_ROWS:
                    _write(pending, tally)
                    report(0.99 * position.fraction(), dict(tally.counts))
            _write(pending, tally)
            _finish_or_fail(run, reference, tally)
    except UnreadableFile as exc:
        tally.counts["texts"] = 0  # rolled back
        tally.problem(filename, None, Problem("", "unreadable", str(exc)))
        raise JobFailed(f"{filename}: {exc}", errors=tally.errors, error_count=tally.error_count,
                        counts=tally.counts) from None  # fmt: skip
    return tally.counts


def _write(pending: list[tuple], tally: Tally) -> None:
    if pending and not tally.error_count:
        columns = ["reference_set", "external_id", "text", "exact"]
        tally.counts["texts"] += bulk_insert(ReferenceText, columns, pending)
    pending.clear()


def _finish_or_fail(run: JobRun, reference: ReferenceSet, tally: Tally) -> None:
    counts, filename = tally.counts, tally.filename
    if tally.error_count:
        counts["texts"] = 0
        rows = "row" if counts["invalid_rows"] == 1 else "rows"
        have = "has" if counts["invalid_rows"] == 1 else "have"
        raise JobFailed(
            f"Nothing was stored: {counts['invalid_rows']:,} {rows} of {filename} {have} "
            f"problems ({tally.error_count:,} in all). Fix them and upload the file again.",
            errors=tally.errors, error_count=tally.error_count, counts=counts,
        )  # fmt: skip
    if not counts["texts"]:
        raise JobFailed(f"{filename} holds no texts.", counts=counts)
    ReferenceSet.objects.filter(pk=reference.pk).update(count=counts["texts"])
    audit(AuditKind.IMPORT_COMMITTED, actor=run.created_by, project=run.project, job=run.pk,
          reference_set=reference.pk, texts=counts["texts"])  # fmt: skip
    counts["reference_set"] = reference.pk
    job_run_complete(run=run, counts=counts,
                     message=f"Stored {counts['texts']:,} texts of {filename} as reference set "
                             f"“{reference.name}” (#{reference.pk}).")  # fmt: skip


@job_kind(KIND)
def reference_import_job(run: JobRun, report: Report) -> dict:
    path = upload_path(run.params["stored_name"])
    if not path.exists():
        raise JobFailed(f"The uploaded file {run.params['filename']} is no longer on the server.")
    try:
        return reference_set_read(run=run, path=path, report=report)
    finally:
        # The texts are in the database (or the file was refused): the upload is not needed.
        path.unlink(missing_ok=True)
