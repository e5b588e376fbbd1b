"""Dataset versions: freezing (freeze.py), records (records.py), exports (export.py), card
editing (cards.py), diffs (diff.py) and reads (selectors.py). Importing registers the freeze
job."""

from curation.versions.cards import CardConflict, card_revision, version_card_update
from curation.versions.diff import KINDS, diff_entries, version_diff
from curation.versions.export import (
    version_export_folder,
    version_export_zip,
    version_zip_file,
    version_zip_name,
)
from curation.versions.freeze import KIND, version_freeze_start
from curation.versions.selectors import project_freeze_run, project_version, project_versions

__all__ = [
    "KIND",
    "KINDS",
    "CardConflict",
    "card_revision",
    "diff_entries",
    "project_freeze_run",
    "project_version",
    "project_versions",
    "version_card_update",
    "version_diff",
    "version_export_folder",
    "version_export_zip",
    "version_freeze_start",
    "version_zip_file",
    "version_zip_name",
]
