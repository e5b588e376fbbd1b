"""`manage.py export_items <project-slug> --format jsonl -o <path>`: the same records and writers
as the export job and the download, written straight to a file (or to stdout with `-o -`)."""

import sys
from contextlib import suppress
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.exporting import FORMATS, MODES, export_records
from curation.exporting.writers import write_csv, write_export, write_jsonl
from curation.models import Item, Project


class Command(BaseCommand):
    help = "Exports a project's items with their annotations, final labels and agreement."

    def add_arguments(self, parser):
        parser.add_argument("project", help="the project's slug")
        parser.add_argument("--format", choices=FORMATS, required=True)
        parser.add_argument("--mode", choices=MODES, default="final",
                            help="final: one record per item (default); annotations: one per "
                                 "annotation")  # fmt: skip
        parser.add_argument("-o", "--output", required=True, help="file to write, or - for stdout")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {opts['project']!r}.")
        fmt, mode, output = opts["format"], opts["mode"], opts["output"]
        counts: dict = {}
        records = export_records(project, mode, counts=counts, raw_json=fmt == "jsonl")
        chunks = self._progress(records, project, counts)
        if output == "-":
            if fmt == "parquet":
                raise CommandError("Parquet cannot go to stdout; give a file with -o.")
            if fmt == "jsonl":
                write_jsonl(chunks, sys.stdout.buffer)
            else:
                write_csv(chunks, sys.stdout.buffer, mode=mode)
            sys.stdout.buffer.flush()
        else:
            self._to_file(chunks, Path(output), fmt, mode)
        summary = f"Exported {counts['items']:,} items ({counts['records']:,} records) to "
        if output == "-":
            self.stderr.write(summary + "stdout.")  # stdout holds the export itself
        else:
            self.stdout.write(self.style.SUCCESS(summary + f"{output}."))

    def _to_file(self, chunks, path: Path, fmt: str, mode: str) -> None:
        if path.is_dir():
            raise CommandError(f"{path} is a directory; give a file name with -o.")
        try:
            write_export(chunks, path, fmt=fmt, mode=mode)
        except OSError as exc:
            _discard(path)
            raise CommandError(f"{path}: {exc.strerror or exc}.") from None
        except BaseException:
            _discard(path)  # no half-written export left behind
            raise

    def _progress(self, chunks, project: Project, counts: dict):
        if not sys.stderr.isatty():
            yield from chunks
            return
        total = Item.objects.filter(project=project).count()
        for chunk in chunks:
            yield chunk
            done = counts["items"] / total if total else 1.0
            sys.stderr.write(f"\r[{'#' * int(done * 40):<40}] {done:6.1%} "
                             f"{counts['items']:>10,} items")  # fmt: skip
        sys.stderr.write("\n")


def _discard(path: Path) -> None:
    with suppress(OSError):
        if path.is_file():
            path.unlink()
