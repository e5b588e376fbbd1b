"""Where the distribution analysis gets its counts (selectors), and the reference samples a
lead uploads (parsing and storing).

The dataset is either the live project (the items a version would hold now: not dropped, not
held back in an unaudited synthetic batch, each with its final label from the higher apps
through `curation.extensions.enrich_items`) or a frozen version (its records' `label` and the
"metadata" of the record JSON). A metadata field is named by the user: it must match
`FIELD_PATTERN` and is only ever used as a key of a Python dict, never in SQL (QRY-1).

A reference sample's file is read as it streams in and not kept (only its counts are stored in
`DistributionReference`); a problem names the file and the line.
"""

import csv
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import orjson
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from curation.batches import items_held_back
from curation.distribution import (
    FLAG_MIN_DIFFERENCE,
    FLAG_MIN_Z,
    capped_counts,
    chi_square_independence,
    compare_distributions,
    crosstab,
)
from curation.extensions import enrich_items
from curation.labels import label_name
from curation.models import (
    AuditKind,
    DatasetVersion,
    DistributionReference,
    Item,
    Project,
    Split,
)
from curation.services import audit

FIELD_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
LABEL = "label"  # the reference field meaning "the final label"
NO_LABEL = "(no label)"
MISSING = "(missing)"
MAX_VALUE_CHARS = 100
CHUNK = 10_000
KEY_SAMPLE = 1_000  # items whose metadata keys are offered as choices
MAX_REFERENCE_CATEGORIES = 1_000
MAX_LINE_BYTES = 1024 * 1024
MAX_CATEGORIES = 50  # labels and values shown; the rest are summed as "(other)"
FLAG_RULE = (
    f"Over- or under-represented: the dataset's share differs from the reference's by at least "
    f"{FLAG_MIN_DIFFERENCE * 100:.0f} percentage points and a two-proportion z-test gives "
    f"|z| ≥ {FLAG_MIN_Z}."
)
SPLITS = tuple(Split.values)


# --- the dataset -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """What to count: the live project (version None) or a frozen version, maybe one split."""

    project: Project
    version: DatasetVersion | None = None
    split: str = ""

    @property
    def title(self) -> str:
        where = f"version {self.version.number}" if self.version else "the live project"
        return f"{where}, {self.split} split" if self.split else where


def field_problem(name: str) -> str:
    """ "" when `name` can name a metadata field, else what is wrong with it."""
    if not FIELD_PATTERN.match(name or ""):
        return "Use 1 to 64 letters, digits, dots, dashes or underscores."
    return ""


def project_version(*, project: Project, number: int) -> DatasetVersion:
    """Version `number` of `project`, or 404."""
    version = project.versions.filter(number=number).first()
    if version is None:
        raise Http404("No such version.")
    return version


def source_for(*, project: Project, version: int | None = None, split: str = "") -> Source:
    """The source a request names; 404 for an unknown version, ValueError for a split outside
    the allowlist."""
    if split and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    found = project_version(project=project, number=version) if version is not None else None
    return Source(project, found, split)


def category(value) -> str:
    """A metadata value as a category: strings trimmed and capped at 100 characters, numbers
    and booleans as their JSON text, missing, null or blank as "(missing)"; lists and objects
    as their JSON text, capped too."""
    if value is None:
        return MISSING
    if isinstance(value, str):
        text = value.strip()
    else:
        try:
            text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:
            text = str(value)
    return text[:MAX_VALUE_CHARS] if text else MISSING


def metadata_value(metadata, name: str) -> str:
    """The category of field `name` in `metadata`: the key itself, or else a dotted path into
    nested objects ("user.region")."""
    if not isinstance(metadata, dict):
        return MISSING
    if name in metadata:
        return category(metadata[name])
    value = metadata
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return category(value)


def dataset_rows(source: Source, by: str = "") -> Iterator[tuple[str, str]]:
    """(label, value of metadata field `by`) per item of the source, in id (or position) order;
    the value is "" when `by` is empty. `by` must have passed `field_problem`."""
    if by and field_problem(by):
        raise ValueError("bad field name")
    if source.version is not None:
        yield from _version_rows(source, by)
    else:
        yield from _live_rows(source, by)


def live_items(*, project: Project):
    """The items the live source counts: as a version would hold them, neither dropped nor
    held back in a synthetic batch that has not passed its audit."""
    return Item.objects.filter(project=project, dropped_at__isnull=True).exclude(
        pk__in=items_held_back(project=project)
    )


def _live_rows(source: Source, by: str) -> Iterator[tuple[str, str]]:
    items = live_items(project=source.project)
    if source.split:
        items = items.filter(split=source.split)
    last = 0
    while True:
        chunk = list(items.filter(pk__gt=last).order_by("pk").values_list("pk", "metadata")[:CHUNK])
        if not chunk:
            return
        last = chunk[-1][0]
        finals = enrich_items(source.project, [pk for pk, _ in chunk], "final")
        for pk, metadata in chunk:
            final = finals.get(pk, {}).get("final") or {}
            name = label_name(final.get("value"))
            yield name or NO_LABEL, metadata_value(metadata, by) if by else ""


def _version_rows(source: Source, by: str) -> Iterator[tuple[str, str]]:
    records = source.version.records.all()
    if source.split:
        records = records.filter(split=source.split)
    columns = ("position", "label", "record") if by else ("position", "label")
    last = -1
    while True:
        chunk = list(
            records.filter(position__gt=last).order_by("position").values_list(*columns)[:CHUNK]
        )
        if not chunk:
            return
        last = chunk[-1][0]
        for row in chunk:
            value = ""
            if by:
                try:
                    record = orjson.loads(row[2])
                except orjson.JSONDecodeError:
                    record = {}
                value = metadata_value(
                    record.get("metadata") if isinstance(record, dict) else None, by
                )
            yield row[1] or NO_LABEL, value


def label_counts(source: Source) -> Counter:
    return Counter(label for label, _ in dataset_rows(source))


def field_counts(source: Source, field: str) -> Counter:
    """Counts of the final label ("label") or of a metadata field's values."""
    if field == LABEL:
        return label_counts(source)
    return Counter(value for _, value in dataset_rows(source, field))


def metadata_keys(source: Source) -> list[str]:
    """The metadata keys found on the first 1,000 items (or records) that can name a field."""
    keys: set[str] = set()
    if source.version is not None:
        records = source.version.records.order_by("position").values_list("record", flat=True)
        for text in records[:KEY_SAMPLE]:
            try:
                metadata = orjson.loads(text).get("metadata")
            except (orjson.JSONDecodeError, AttributeError):
                continue
            if isinstance(metadata, dict):
                keys.update(metadata)
    else:
        items = live_items(project=source.project)
        for metadata in items.order_by("pk").values_list("metadata", flat=True)[:KEY_SAMPLE]:
            if isinstance(metadata, dict):
                keys.update(metadata)
    return sorted(key for key in keys if isinstance(key, str) and not field_problem(key))


# --- summaries (the page's and the API's figures) -------------------------------------------


def _source_summary(source: Source) -> dict:
    version = source.version.number if source.version else None
    return {"version": version, "split": source.split, "title": source.title}


def distribution_summary(source: Source, *, by: str = "") -> dict:
    """The final labels' counts and shares and, with `by`, the label × `by` contingency table
    with its chi-square test: plain JSON-ready data. At most 50 labels and 50 values of `by`
    are kept, the rest summed as "(other)" (`capped_*` say how many went there)."""
    pairs = list(dataset_rows(source, by))
    counts = Counter(label for label, _ in pairs)
    total = sum(counts.values())
    capped = capped_counts(counts, MAX_CATEGORIES)
    labels = {
        "total": total,
        "capped": max(len(counts) - MAX_CATEGORIES, 0),
        "rows": [{"label": label, "count": n, "share": n / total} for label, n in capped.items()],
    }
    return {
        "source": _source_summary(source),
        "labels": labels,
        "crosstab": _crosstab_summary(pairs, by) if by else None,
    }


def _crosstab_summary(pairs: list[tuple[str, str]], by: str) -> dict:
    table = crosstab(pairs, MAX_CATEGORIES)
    test = chi_square_independence(table.table) if table.table else chi_square_independence([[]])
    # Expected counts and residuals back on the full table (None for a dropped row or column).
    expected = [[None] * len(table.cols) for _ in table.rows]
    residuals = [[None] * len(table.cols) for _ in table.rows]
    for a, i in enumerate(test.rows):
        for b, j in enumerate(test.cols):
            if test.expected:
                expected[i][j] = test.expected[a][b]
                residuals[i][j] = test.residuals[a][b]
    figures = asdict(test)
    for key in ("expected", "residuals", "rows", "cols"):
        figures.pop(key)
    figures["dropped_rows"] = [table.rows[i] for i in test.dropped_rows]
    figures["dropped_cols"] = [table.cols[j] for j in test.dropped_cols]
    figures["independent"] = test.independent
    figures["yates_correction"] = False
    return {
        "by": by,
        "rows": table.rows,
        "cols": table.cols,
        "table": table.table,
        "row_totals": table.row_totals,
        "col_totals": table.col_totals,
        "capped_rows": table.capped_rows,
        "capped_cols": table.capped_cols,
        "expected": expected,
        "residuals": residuals,
        "chi_square": figures,
    }


def comparison_summary(source: Source, reference: DistributionReference) -> dict:
    """The dataset's distribution of the reference's field against the reference's counts:
    Jensen–Shannon divergence in bits and a row per category with its flag."""
    counts = field_counts(source, reference.field)
    result = compare_distributions(counts, reference.counts)
    return {
        "source": _source_summary(source),
        "reference": {
            "id": reference.pk,
            "name": reference.name,
            "filename": reference.filename,
            "field": reference.field,
            "total": reference.total,
        },
        "dataset_total": result.dataset_total,
        "reference_total": result.reference_total,
        "divergence": {
            "value": result.divergence.value,
            "reason": result.divergence.reason,
            "unit": "bits",
        },
        "rule": FLAG_RULE,
        "reason": result.reason,
        "rows": [asdict(row) for row in result.rows],
        "over": [row.category for row in result.over],
        "under": [row.category for row in result.under],
    }


# --- reference samples -----------------------------------------------------------------------


def project_references(*, project: Project):
    return project.distribution_references.select_related("created_by")


def project_reference(*, project: Project, reference_id: int) -> DistributionReference:
    """Reference `reference_id` of `project`, or 404 (another project's is not found)."""
    found = project.distribution_references.filter(pk=reference_id).first()
    if found is None:
        raise Http404("No such reference.")
    return found


def _file_error(filename: str, message: str, line: int | None = None) -> ValidationError:
    where = f"{filename}, line {line}" if line is not None else filename
    return ValidationError({"file": [f"{where}: {message}"]})


def _lines(upload, filename: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of an uploaded file, decoded as UTF-8 line by line."""
    for number, raw in enumerate(upload, start=1):
        if len(raw) > MAX_LINE_BYTES:
            raise _file_error(filename, "the line is longer than 1 MB.", number)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _file_error(filename, "the file is not UTF-8 text.", number) from None
        yield number, text.removeprefix("\ufeff") if number == 1 else text


def _jsonl_values(upload, filename: str, column: str) -> Iterator[tuple[int, str]]:
    for number, text in _lines(upload, filename):
        if not text.strip():
            continue
        try:
            row = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise _file_error(filename, "this line is not valid JSON.", number) from None
        if not isinstance(row, dict):
            raise _file_error(filename, "each line must be a JSON object.", number)
        if column not in row:
            raise _file_error(filename, f"the field “{column}” is missing.", number)
        yield number, category(row[column])


def _csv_values(upload, filename: str, column: str) -> Iterator[tuple[int, str]]:
    numbered = _lines(upload, filename)
    current = [0]

    def texts() -> Iterator[str]:
        for number, text in numbered:
            current[0] = number
            yield text

    reader = csv.reader(texts())
    try:
        header = next(reader, None)
        if header is None:
            raise _file_error(filename, "the file is empty; it needs a header row.")
        names = [name.strip() for name in header]
        if column not in names:
            raise _file_error(filename, f"the header has no column “{column}”.", 1)
        index = names.index(column)
        for row in reader:
            if not row or not any(cell.strip() for cell in row):
                continue
            if index >= len(row):
                raise _file_error(filename, f"the column “{column}” is missing.", current[0])
            yield current[0], category(row[index])
    except csv.Error as exc:
        raise _file_error(filename, f"the CSV cannot be read ({exc}).", current[0]) from None


def reference_format(filename: str) -> str:
    """ "csv" or "jsonl" from the file name; a ValidationError for anything else."""
    lower = filename.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise _file_error(filename, "send a .csv file with a header row or a .jsonl file.")


def reference_counts(upload: Iterable[bytes], *, filename: str, column: str) -> Counter:
    """Counts of the values of `column` in an uploaded CSV (header row) or JSONL file, read
    line by line. A ValidationError names the file and line of the first problem."""
    reader = _csv_values if reference_format(filename) == "csv" else _jsonl_values
    counts: Counter = Counter()
    for number, value in reader(upload, filename, column):
        counts[value] += 1
        if len(counts) > MAX_REFERENCE_CATEGORIES:
            raise _file_error(
                filename,
                f"more than {MAX_REFERENCE_CATEGORIES:,} different values of “{column}”: "
                "is it a field of categories?",
                number,
            )
    if not counts:
        raise _file_error(filename, "the file has no rows.")
    return counts


def distribution_reference_create(
    *, project: Project, user, upload, filename: str, name: str, field: str, column: str = ""
) -> DistributionReference:
    """Reads an uploaded reference sample and stores its counts (lead). `field` is what it is
    compared with: "label" (the final label) or a metadata key; `column` is the file's column
    holding the category, `field` when empty. The file itself is not kept."""
    column = (column or field).strip()
    field = field.strip()
    errors = {}
    if field_problem(field):
        errors["field"] = [field_problem(field)]
    if not column or len(column) > 200:
        errors["column"] = ["Name the file's column of categories (at most 200 characters)."]
    if errors:
        raise ValidationError(errors)
    display = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:255]
    counts = reference_counts(upload, filename=display, column=column)
    with transaction.atomic():
        reference = DistributionReference.objects.create(
            project=project,
            name=(name or "").strip()[:200] or display[:200],
            filename=display,
            field=field,
            counts=dict(counts.most_common()),
            total=sum(counts.values()),
            created_by=user,
        )
        _audit(AuditKind.DISTRIBUTION_REFERENCE_ADDED, user, reference)
    return reference


def distribution_reference_delete(*, reference: DistributionReference, user) -> None:
    """Deletes a reference sample and records who did (lead), in one transaction."""
    with transaction.atomic():
        _audit(AuditKind.DISTRIBUTION_REFERENCE_DELETED, user, reference)
        reference.delete()


def _audit(kind: str, user, reference: DistributionReference) -> None:
    # The counts are left out: their categories are values from the uploaded file.
    audit(kind, actor=user, project=reference.project, reference=reference.pk,
          name=reference.name, field=reference.field, total=reference.total)  # fmt: skip
