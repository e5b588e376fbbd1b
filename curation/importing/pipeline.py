"""The import job: read the file as a stream, check every row, write in bulk, all or nothing.

One transaction holds the whole import, so a failure or a killed worker leaves the project as
it was, and the run is marked done inside that same transaction (a rerun of a finished run is a
no-op). Rows are checked chunk by chunk against the project with indexed queries, never by
loading the project's items.
"""

import gc
import logging
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max

from curation.batches import SYNTHETIC, batch_record_import
from curation.extensions import IMPORT_EXTENSIONS, REQUIRED_FIELDS, Problem
from curation.importing.readers import Limits, Position, Record, UnreadableFile, read_chunks
from curation.importing.rows import ItemRow, Mapping, build_row, plain_rows
from curation.importing.seen import SeenKeys, hex_prefix_keys, repeats
from curation.importing.writers import writer_for
from curation.jobs import JobFailed, Report, job_kind, job_run_complete
from curation.models import AuditEvent, AuditKind, Item, JobRun, Project

logger = logging.getLogger("concord.import")


@dataclass
class ImportOptions:
    format: str = ""
    mapping: dict = field(default_factory=dict)
    skip_invalid: bool = False
    skip_duplicates: bool = False

    @classmethod
    def from_params(cls, params: dict) -> "ImportOptions":
        return cls(**{k: params[k] for k in cls.__dataclass_fields__ if k in params})


@dataclass
class Tally:
    """What the report says: counts, and the first errors with the total."""

    filename: str
    limit: int
    errors: list = field(default_factory=list)
    error_count: int = 0
    counts: dict = field(default_factory=lambda: dict.fromkeys(
        ["rows", "items_created", "invalid_rows", "duplicates_of_existing",
         "duplicates_in_file", "skipped_duplicates"], 0))  # fmt: skip

    def problem(self, where: str, line: int | None, problem: Problem) -> None:
        self.error_count += 1
        if len(self.errors) < self.limit:
            self.errors.append({"file": self.filename, "where": where, "line": line,
                                "field": problem.field, "code": problem.code,
                                "message": f"{where}: {problem.message}"})  # fmt: skip


class _Checker:
    """Per-import state for checks that span rows: repeated ids and texts within the file."""

    def __init__(self, project, tally: Tally, options: ImportOptions):
        self.project, self.tally, self.options = project, tally, options
        self.mapping = Mapping.from_dict(options.mapping, needed=_schema_needs(project),
                                         cells=options.format in _CELL_FORMATS)  # fmt: skip
        self.sessions = {name: ext.start(project) for name, ext in IMPORT_EXTENSIONS.items()}
        # An empty project has nothing to collide with: skip the per-chunk lookups. (Asked
        # first: the largest id of an empty project walks the whole primary key backwards.)
        self.probe = Item.objects.filter(project=project).exists()
        self.last_id_before = (
            Item.objects.filter(project=project).aggregate(last=Max("pk"))["last"] or 0
            if self.probe
            else 0
        )
        # hash(external id) -> its first line (or Parquet place code), 16 bytes an id.
        self.ids = SeenKeys()
        self.texts = SeenKeys()  # content hashes seen in this file, when skipping duplicates
        self.fresh: list = []  # per written chunk, its content hashes new to the project
        self.fresh_keys = hex_prefix_keys([])
        self.synthetic = False  # whether a written row is synthetic (held in a batch)
        self.max_fields = settings.IMPORT_MAX_FIELDS

    def plain(self, first: int, lines: list) -> list[ItemRow] | None:
        """The reader's hook: a block of JSON Lines built into rows at once when all are plain."""
        return plain_rows(first, lines, self.mapping, self.sessions, self.max_fields)

    def rows(self, records: list) -> list[ItemRow]:
        """The chunk's rows that may be written; the others are reported. `records` holds the
        reader's records, or rows it built with `plain` (those first, when a chunk has both)."""
        tally, built, flawed = self.tally, [], False
        tally.counts["rows"] += len(records)
        if type(records[-1]) is ItemRow:  # all built by `plain`, so sound
            rows = self._all_new_ids(records)
            if rows is None:
                rows = self._unique_ids([(row, ()) for row in records])
            return self._against_project(rows)
        mapping, sessions = self.mapping, self.sessions
        for record in records:
            if type(record) is ItemRow:
                built.append((record, ()))
                continue
            if record.problem is not None:
                built.append((record, [record.problem]))
                flawed = True
                continue
            row = build_row(record.where, record.line, record.fields, mapping, sessions)
            if isinstance(row, list):
                built.append((record, row))
                flawed = True
                continue
            problems = ()  # a row without extras has nothing more to check
            for name, value in row.extras.items():
                problems = [*problems, *sessions[name].check(value, row.data)]
            flawed = flawed or bool(problems)
            built.append((row, problems))
        if not flawed and (rows := self._all_new_ids([row for row, _ in built])) is not None:
            return self._against_project(rows)
        return self._against_project(self._unique_ids(built))

    def _all_new_ids(self, rows: list[ItemRow]) -> list[ItemRow] | None:
        """The common chunk, every row sound and each id new to the file, checked in bulk:
        the rows, their ids noted. None when an id repeats (`_unique_ids` then says where)."""
        keys = [hash(row.external_id) for row in rows]
        if len(set(keys)) < len(keys) or self.ids.find(keys):
            return None
        lines = [row.line for row in rows]
        if None in lines:  # Parquet rows go by their place
            lines = [_place_code(row) if row.line is None else row.line for row in rows]
        self.ids.add(keys, lines)
        return rows

    def _unique_ids(self, built: list[tuple]) -> list[ItemRow]:
        """The rows without problems whose id no earlier row of the file had; the others are
        reported, in file order."""
        keys = [None if problems else hash(row.external_id) for row, problems in built]
        earlier = self.ids.find([key for key in keys if key is not None])
        good, local = [], {}
        for key, (row, problems) in zip(keys, built, strict=True):
            if key is not None:
                first = earlier.get(key) if earlier else None
                if first is None:  # new to the file before this chunk; in it, the first?
                    first = local.get(key)  # (not setdefault: rows of a JSON array share lines)
                    if first is None:
                        local[key] = row.line if row.line is not None else _place_code(row)
                        good.append(row)
                        continue
                message = f"id {row.external_id!r} repeats the one on {_place(first)}."
                problems = [*problems, Problem(self.mapping.id, "duplicate_id", message)]
            self._bad(row.where, row.line, problems)
        self.ids.add(list(local), list(local.values()))
        return good

    def _bad(self, where: str | None, line: int | None, problems: list[Problem]) -> None:
        self.tally.counts["invalid_rows"] += 1
        where = where or f"line {line}"  # rows built by `plain` carry only their line
        for problem in problems:
            self.tally.problem(where, line, problem)

    def _against_project(self, rows: list[ItemRow]) -> list[ItemRow]:
        if not rows:
            return rows
        taken, known = set(), set()
        if self.probe:
            project, last = self.project.pk, self.last_id_before
            taken = _present(project, "external_id", [r.external_id for r in rows])
            known = _present(project, "content_hash", list({r.content_hash for r in rows}), last)
        # Nothing from before the import collides (always so in an empty project): all stay.
        kept = self._without_collisions(rows, taken, known) if taken or known else rows
        # The texts no item from before the import has, for counting repeats within the file.
        hashes = [r.content_hash for r in kept]
        new = [h for h in hashes if h not in known] if known else hashes
        self.fresh_keys = hex_prefix_keys(new)
        if self.options.skip_duplicates:
            kept = self._skip_repeats(kept)
        return kept

    def _without_collisions(self, rows: list[ItemRow], taken: set, known: set) -> list[ItemRow]:
        """The rows whose id the project does not have yet, less those whose text it has when
        skipping duplicates; reports the first and counts the second."""
        kept, counts, skip = [], self.tally.counts, self.options.skip_duplicates
        for row in rows:
            if row.external_id in taken:
                self._bad(row.where, row.line, [Problem(self.mapping.id, "id_exists",
                          f"id {row.external_id!r} is already in the project.")])  # fmt: skip
                continue
            if row.content_hash in known:
                counts["duplicates_of_existing"] += 1
                if skip:
                    counts["skipped_duplicates"] += 1
                    continue
            kept.append(row)
        return kept

    def _skip_repeats(self, rows: list[ItemRow]) -> list[ItemRow]:
        """Leaves out rows whose text an earlier row of the file had (rows with the text of an
        existing item are already left out, so every row here is new to the project)."""
        prefixes = self.fresh_keys.tolist()
        earlier, local, kept = self.texts.find(prefixes), set(), []
        counts = self.tally.counts
        for row, key in zip(rows, prefixes, strict=True):
            if key in earlier or key in local:
                counts["duplicates_in_file"] += 1
                counts["skipped_duplicates"] += 1
                continue
            local.add(key)
            kept.append(row)
        self.texts.add(list(local), [0] * len(local))
        return kept

    def written(self) -> None:
        """Notes the texts of the chunk just written that no item before the import had, to
        count repeats within the file at the end."""
        if not self.options.skip_duplicates:
            self.fresh.append(self.fresh_keys)

    def count_repeats(self) -> None:
        """Rows this import wrote whose text an earlier row of the same file already had (rows
        with the text of an item from before the import count as duplicates of existing).

        Counted on the first 64 bits of the hashes, 8 bytes a row: a false repeat among a
        million distinct texts has a chance of about 3 in 100 million."""
        if not self.options.skip_duplicates:
            self.tally.counts["duplicates_in_file"] = repeats(self.fresh)


# Formats whose JSON fields (metadata, prediction, annotations) arrive as JSON text in a cell.
_CELL_FORMATS = ("csv", "parquet")


def _schema_needs(project) -> tuple[str, ...]:
    """The fields of `data` the project's label schema needs besides the text, as the app that
    owns schemas answers; none without a schema (then any data will do)."""
    for ask in REQUIRED_FIELDS:
        found = ask(project)
        if found is not None:
            return tuple(name for name in found if name != "text")
    return ()


def _scalars(counts: dict) -> dict:
    return {k: v for k, v in counts.items() if isinstance(v, int)}


def _place_code(row: ItemRow) -> int:
    """Where a row without a line (Parquet) is, as one negative int: a code of its row group
    and row (the reader names them "row group G, row R"). Rows with a line go by the line."""
    group, _, number = row.where.removeprefix("row group ").partition(", row ")
    return -((int(group) << 32) | int(number)) - 1


def _place(code: int) -> str:
    if code >= 0:
        return f"line {code}"
    code = -code - 1
    return f"row group {code >> 32}, row {code & 0xFFFFFFFF}"


def _present(project_id: int, column: str, values: list[str], up_to: int | None = None) -> set:
    """Which of `values` the project's items (those with ids up to `up_to`, if given) already
    have in `column` (an indexed lookup)."""
    if connection.vendor != "postgresql":
        lookup = {f"{column}__in": values}  # column is one of two fixed names, never user input
        items = Item.objects.filter(project_id=project_id, **lookup)
        if up_to is not None:
            items = items.filter(pk__lte=up_to)
        return set(items.values_list(column, flat=True))
    # One array parameter instead of thousands of placeholders, which psycopg must split.
    table = connection.ops.quote_name(Item._meta.db_table)
    # The table is the model's, the column one of two fixed names; values are parameters.
    sql = f"SELECT {column} FROM {table} WHERE project_id = %s AND {column} = ANY(%s)"  # noqa: S608
    params = [project_id, values]
    if up_to is not None:
        sql, params = sql + " AND id <= %s", [*params, up_to]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def import_file(*, run: JobRun, path: Path, filename: str, options: ImportOptions,
                report: Report) -> dict:  # fmt: skip
    """Imports `path` into `run.project` as one transaction; raises JobFailed with the report
    when rows are invalid (unless skipping them) or the file cannot be read."""
    tally = Tally(filename, settings.IMPORT_MAX_ERRORS_KEPT)
    position, collecting = Position(), gc.isenabled()
    try:
        with transaction.atomic():
            _hold_project(run.project_id)
            checker = _Checker(run.project, tally, options)
            # The checker's sets grow to millions of entries; frozen, the garbage collector
            # stops walking them on every full collection (which made large imports superlinear).
            # Rows hold no cycles and go by reference counting once written, so the collector
            # is off until the import ends: walking each chunk cost about 5% of the import.
            gc.freeze()
            gc.disable()
            writer = writer_for(run.project_id)
            chunks = read_chunks(path, filename, options.format, position=position,
                                 size=settings.IMPORT_CHUNK_ROWS, limits=_limits(),
                                 max_line_bytes=settings.IMPORT_MAX_LINE_BYTES,
                                 plain=checker.plain)  # fmt: skip
            try:
                for chunk in chunks:
                    _import_chunk(chunk, checker, writer, tally, options)
                    report(0.99 * position.fraction(), dict(tally.counts))
            finally:
                writer.close()  # ends an open COPY, so that a failure can roll back
            if tally.counts["items_created"]:
                checker.count_repeats()
            _finish_or_fail(run, tally, checker, options)
    except UnreadableFile as exc:
        tally.counts["items_created"] = 0  # rolled back
        tally.problem(filename, None, Problem("", "unreadable", str(exc)))
        raise JobFailed(f"{filename}: {exc}", errors=tally.errors, error_count=tally.error_count,
                        counts=tally.counts) from None  # fmt: skip
    finally:
        gc.unfreeze()
        if collecting:
            gc.enable()
    return tally.counts


def _hold_project(project_id: int) -> None:
    """Holds the project row until the import commits, as the item table's foreign key would
    (it has none, see Item.project): the project cannot be deleted under the import, while
    its settings can still be saved."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Project._meta.db_table)
        sql = f"SELECT 1 FROM {table} WHERE id = %s FOR KEY SHARE"  # noqa: S608 (the model's table)
        with connection.cursor() as cursor:
            cursor.execute(sql, [project_id])


def _limits() -> Limits:
    return Limits(max_fields=settings.IMPORT_MAX_FIELDS,
                  max_parquet_bytes=settings.IMPORT_MAX_PARQUET_BYTES,
                  max_row_group_bytes=settings.IMPORT_MAX_ROW_GROUP_BYTES)  # fmt: skip


def _import_chunk(chunk: list[Record], checker: _Checker, writer, tally: Tally, options) -> None:
    if checker.probe:
        writer.close()  # the project lookups need the connection, which an open COPY holds
    rows = checker.rows(chunk)
    if tally.counts["rows"] > settings.IMPORT_MAX_ROWS:
        raise JobFailed(f"{tally.filename} has more than {settings.IMPORT_MAX_ROWS:,} rows, the "
                        "limit for one import.")  # fmt: skip
    if tally.error_count and not options.skip_invalid:
        return  # keep reading to report every error, but write nothing
    _write(rows, writer, checker, tally)


_source = attrgetter("source")


def _write(rows: list[ItemRow], writer, checker: _Checker, tally: Tally) -> None:
    if not rows:
        return
    with_extras = [r.external_id for r in rows if r.extras]
    ids = writer.write(rows, with_extras)
    tally.counts["items_created"] += len(rows)
    if not checker.synthetic:
        checker.synthetic = SYNTHETIC in map(_source, rows)
    checker.written()
    if not with_extras:
        return  # the common chunk: no row carries annotations or the like
    for name, session in checker.sessions.items():
        values = [(ids[r.external_id], r.extras[name]) for r in rows if name in r.extras]
        if values:
            session.write(values)


def _finish_or_fail(run: JobRun, tally: Tally, checker: _Checker, options) -> None:
    counts = tally.counts
    for session in checker.sessions.values():
        counts.update(session.summary())
    if tally.error_count and not options.skip_invalid:
        counts["items_created"] = 0
        rows = "row" if counts["invalid_rows"] == 1 else "rows"
        have = "has" if counts["invalid_rows"] == 1 else "have"
        raise JobFailed(
            f"Nothing was imported: {counts['invalid_rows']:,} {rows} of {tally.filename} "
            f"{have} problems ({tally.error_count:,} in all). Fix them, or import again with "
            "'skip invalid rows'.",
            errors=tally.errors, error_count=tally.error_count, counts=counts,
        )  # fmt: skip
    created = counts["items_created"]
    message = f"Imported {created:,} {'item' if created == 1 else 'items'} from {tally.filename}."
    detail = {"job": run.pk, **_scalars(counts)}
    # Synthetic items go to a held batch. With none among the rows, only items from before the
    # import can be loose: an empty project has none, and the scan of its rows is saved.
    if checker.synthetic or checker.probe:
        batch_record_import(run=run, filename=tally.filename)
    AuditEvent.objects.create(kind=AuditKind.IMPORT_COMMITTED, actor=run.created_by,
                              project=run.project, detail=detail)  # fmt: skip
    job_run_complete(run=run, counts=counts, errors=tally.errors, error_count=tally.error_count,
                     message=message)  # fmt: skip
    _after_import(run)


def _after_import(run: JobRun) -> None:
    """Queues the quality jobs the lead chose to run after each import; they start once the
    import has committed (nothing runs for an import that rolled back)."""
    from curation.quality.registry import QUALITY_JOBS, quality_job_start

    wanted = (run.project.quality_settings or {}).get("after_import", [])
    for kind in wanted:
        if kind in QUALITY_JOBS:
            quality_job_start(project=run.project, kind=kind, user=run.created_by)


@job_kind("import")
def import_job(run: JobRun, report: Report) -> dict:
    from curation.importing.files import upload_path, uploads_sweep

    uploads_sweep()  # the files of earlier imports, which no run needs any more (JOB-9)
    params = run.params
    path = upload_path(params["stored_name"])
    if not path.exists():
        raise JobFailed(f"The uploaded file {params['filename']} is no longer on the server.")
    return import_file(run=run, path=path, filename=params["filename"],
                       options=ImportOptions.from_params(params), report=report)  # fmt: skip
