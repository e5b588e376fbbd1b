"""Extension points through which higher apps take part in curation's import and export.

Imports run adjudication → annotation → curation, so curation cannot import annotations or
decisions. Instead those apps register here (in their AppConfig.ready) and curation calls them:
an `ImportExtension` validates and writes one field of each imported row (`annotations`), and an
`ExportEnricher` adds fields to each exported item (its annotations, final label, agreement).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Problem:
    """One thing wrong with one row; `field` is the row's field as the file names it."""

    field: str
    code: str
    message: str


class ImportSession(Protocol):
    """One import's view of an extension: created per run, fed row by row, then written."""

    def check(self, value: Any, data: dict) -> list[Problem]:
        """Problems with the row's value for this extension's field (empty when it is fine);
        `data` is the row's item data, for values that must fit it (spans within the text)."""

    def write(self, rows: list[tuple[int, Any]]) -> None:
        """Stores the values of rows that landed, as (item id, value), inside the import's
        transaction."""

    def summary(self) -> dict:
        """Counts and notes for the import report (for example users it created)."""


@dataclass
class ImportExtension:
    field: str  # the row field it consumes, e.g. "annotations"
    start: Any  # start(project) -> ImportSession


@dataclass
class ExportEnricher:
    name: str
    # enrich(project, item_ids, mode) -> {item_id: {field: value}}; mode is "annotations" or "final"
    enrich: Any
    columns: dict[str, list[str]] = field(default_factory=dict)  # mode -> flat column names


IMPORT_EXTENSIONS: dict[str, ImportExtension] = {}
EXPORT_ENRICHERS: dict[str, ExportEnricher] = {}


def register_import_extension(extension: ImportExtension) -> None:
    IMPORT_EXTENSIONS[extension.field] = extension


def register_export_enricher(enricher: ExportEnricher) -> None:
    EXPORT_ENRICHERS[enricher.name] = enricher


def enrich_items(project, item_ids: Iterable[int], mode: str) -> dict[int, dict]:
    """Merges what every registered enricher adds to each item; later registrations win."""
    ids = list(item_ids)
    merged: dict[int, dict] = {item_id: {} for item_id in ids}
    for enricher in EXPORT_ENRICHERS.values():
        for item_id, fields in enricher.enrich(project, ids, mode).items():
            merged[item_id].update(fields)
    return merged


# The item checks ask which fields of an item's `data` its project's label schema needs (a
# preference needs two responses). The annotation app answers: it registers a function taking a
# project and returning field names, or None when it has no opinion.
REQUIRED_FIELDS: list = []


def required_fields(project) -> list[str]:
    """The fields of `data` each item of `project` needs: the first registered answer, else
    ["text"]."""
    for ask in REQUIRED_FIELDS:
        found = ask(project)
        if found is not None:
            return list(found)
    return ["text"]


# A dataset version records figures held by the higher apps (agreement and the adjudication
# rate, the label schema). Each registered function takes (project, item_ids) for the items
# being frozen and returns a dict that is merged into the version's summary.
VERSION_SUMMARIES: list = []


def version_summary(project, item_ids: list[int]) -> dict:
    """What every registered summary function adds, merged in registration order."""
    merged: dict = {}
    for summarise in VERSION_SUMMARIES:
        merged.update(summarise(project, item_ids) or {})
    return merged


# Checking a label value against the project's label schema (a reviewer's corrected value in
# a sample audit): the annotation app registers a function (project, value, data) returning
# (field, message) pairs, empty when the value fits.
VALUE_CHECKS: list = []


def label_value_problems(project, value, data=None) -> list[tuple[str, str]]:
    """Problems with `value` under the project's schema; [] when none is registered."""
    problems: list[tuple[str, str]] = []
    for check in VALUE_CHECKS:
        problems.extend(check(project, value, data))
    return problems
