"""`manage.py export_items <project-slug> --format jsonl -o <path>`: the same records and writers
as the export job and the download, written straight to a file (or to stdout with `-o -`).

`manage.py export_items <project-slug> --version N -o DIR` writes frozen version N instead, as
its export folder (README.md and data/<split>.jsonl), or as its zip when DIR ends in .zip: the
same bytes as the version's download."""

import sys
from contextlib import suppress
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.exporting import FORMATS, MODES, export_records
from curation.exporting.writers import write_csv, write_export, write_jsonl
from curation.models import Item, Project
from curation.versions import version_export_folder, version_export_zip


class Command(BaseCommand):
    help = "Exports a project's items with their annotations, final labels and agreement."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version names a dataset version here; it replaces Django's --version (which prints
        # Django's own version number).
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("project", help="the project's slug")
        parser.add_argument(
            "--format", choices=FORMATS, help="the file format (needed unless --version is given)"
        )
        parser.add_argument(
            "--version",
            type=int,
            metavar="N",
            help="export frozen version N: a folder, or a zip with -o x.zip",
        )
        parser.add_argument("--mode", choices=MODES, default="final",
                            help="final: one record per item (default); annotations: one per "
                                 "annotation")  # fmt: skip
        parser.add_argument("-o", "--output", required=True, help="file to write, or - for stdout")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {opts['project']!r}.")
        if opts["version"] is not None:
            self._version(project, opts["version"], opts["output"])
            return
        if not opts["format"]:
            raise CommandError("Give --format (jsonl, csv or parquet), or --version N.")
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

    def _version(self, project: Project, number: int, output: str) -> None:
        version = project.versions.filter(number=number).first()
        if version is None:
            raise CommandError(f"{project.slug} has no version {number}.")
        path = Path(output)
        if output == "-":
            raise CommandError("A version is a folder or a zip; give one with -o.")
        try:
            if path.suffix.lower() == ".zip":
                if path.is_dir():
                    raise CommandError(f"{path} is a directory; give a file name ending in .zip.")
                with open(path, "wb") as out:
                    version_export_zip(version, out)
            else:
                if path.exists() and (not path.is_dir() or any(path.iterdir())):
                    raise CommandError(f"{path} exists and is not an empty folder.")
                version_export_folder(version, path)
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}.") from None
        self.stdout.write(self.style.SUCCESS(
            f"Exported version {number} of {project.slug} ({version.item_count:,} items) to "
            f"{output}."
        ))  # fmt: skip

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
