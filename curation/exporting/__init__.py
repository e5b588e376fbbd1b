"""Exports of a project's items: records (records.py), file formats (writers.py), and the
export job with its files (files.py). Import from here; importing registers the export job."""

from curation.exporting.files import (
    export_file,
    export_start,
    exports_sweep,
)
from curation.exporting.records import (
    FORMATS,
    MODES,
    export_records,
    export_stream,
)
from curation.exporting.writers import write_csv, write_export, write_jsonl, write_parquet

__all__ = [
    "FORMATS",
    "MODES",
    "export_file",
    "export_records",
    "export_start",
    "export_stream",
    "exports_sweep",
    "write_csv",
    "write_export",
    "write_jsonl",
    "write_parquet",
]
