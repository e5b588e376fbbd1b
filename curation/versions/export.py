"""A version's export: README.md (the dataset card) and data/<split>.jsonl for each split, as a
folder or as a zip built the same way every time (entries in name order, fixed dates and
permissions), so that two downloads of a version are the same bytes."""

import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from curation.cards import card_markdown, ordered_splits, split_path
from curation.models import DatasetVersion, VersionRecord

CHUNK_RECORDS = 5000


def split_lines(version: DatasetVersion, split: str) -> Iterator[bytes]:
    """The split's records as JSON Lines, in position order, a chunk of lines at a time
    (keyset pagination on position: memory stays bounded)."""
    after = -1
    while True:
        rows = list(
            VersionRecord.objects.filter(version=version, split=split, position__gt=after)
            .order_by("position").values_list("position", "record")[:CHUNK_RECORDS]
        )  # fmt: skip
        if not rows:
            return
        yield "".join(record + "\n" for _, record in rows).encode("utf-8")
        after = rows[-1][0]
        if len(rows) < CHUNK_RECORDS:
            return


def version_files(version: DatasetVersion) -> list[tuple[str, object]]:
    """(path in the export, bytes or an iterator of bytes), in path order."""
    files: list[tuple[str, object]] = [("README.md", card_markdown(version).encode("utf-8"))]
    for split, _ in ordered_splits((version.summary or {}).get("splits", {})):
        files.append((split_path(split), split_lines(version, split)))
    return sorted(files, key=lambda entry: entry[0])


def _chunks(content) -> Iterator[bytes]:
    if isinstance(content, bytes):
        yield content
    else:
        yield from content


def version_export_folder(version: DatasetVersion, folder: Path) -> list[Path]:
    """Writes the export into `folder` (made if missing); returns the files written."""
    written = []
    for name, content in version_files(version):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            for chunk in _chunks(content):
                out.write(chunk)
        written.append(path)
    return written


def _zip_time(version: DatasetVersion) -> tuple:
    stamp = version.created_at
    return (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute,
            stamp.second)  # fmt: skip


def version_export_zip(version: DatasetVersion, target) -> None:
    """Writes the export as a zip into `target` (a path or a seekable binary file). The same
    version gives the same bytes: entries in name order, the version's time on each, mode 0644,
    deflated, zip64 headers always (sizes are not known before the data is written)."""
    when = _zip_time(version)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, content in version_files(version):
            info = zipfile.ZipInfo(name, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            with zf.open(info, "w", force_zip64=True) as out:
                for chunk in _chunks(content):
                    out.write(chunk)


def version_zip_file(version: DatasetVersion):
    """The export as a zip in an anonymous temporary file, rewound (for a FileResponse, which
    closes it; the file vanishes when closed)."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it
    version_export_zip(version, handle)
    handle.seek(0)
    return handle


def version_zip_name(version: DatasetVersion) -> str:
    return f"{version.project.slug}-v{version.number}.zip"
