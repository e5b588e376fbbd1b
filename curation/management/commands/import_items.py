"""`manage.py import_items <project-slug> <path>`: the same import job as the page and the API."""

import sys
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from curation.importing.files import ImportBusy, import_start
from curation.importing.readers import FORMATS
from curation.models import JobRun, JobStatus, Project


class Command(BaseCommand):
    help = "Imports items (and any annotations they carry) from a file into a project."

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("path")
        parser.add_argument("--format", choices=FORMATS, default="")
        parser.add_argument("--text-field", default="", help="column holding the text (text)")
        parser.add_argument("--id-field", default="", help="column holding the item id (id)")
        parser.add_argument("--source", default="", help="source for rows that name none")
        parser.add_argument("--skip-invalid", action="store_true", help="import the good rows")
        parser.add_argument("--skip-duplicates", action="store_true",
                            help="leave out rows whose text is already in the project")  # fmt: skip

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {opts['project']!r}.")
        mapping = {"text": opts["text_field"], "id": opts["id_field"],
                   "default_source": opts["source"]}  # fmt: skip
        options = {"format": opts["format"], "mapping": mapping}
        options.update({key: opts[key] for key in ("skip_invalid", "skip_duplicates")})
        try:
            run = import_start(project=project, user=None, source=opts["path"],
                               filename=opts["path"], options=options)  # fmt: skip
        except FileNotFoundError:
            raise CommandError(f"{opts['path']}: no such file.") from None
        except ValidationError as exc:
            raise CommandError(
                "; ".join(m for ms in exc.message_dict.values() for m in ms)
            ) from None
        except ImportBusy as exc:
            raise CommandError(str(exc)) from None
        run = self._wait(run)
        self._summarise(run)

    def _wait(self, run: JobRun) -> JobRun:
        from curation.jobs import job_run_live

        tty = sys.stderr.isatty()
        while True:
            run.refresh_from_db()
            progress, counts = job_run_live(run)
            if tty:
                bar = "#" * int(progress * 40)
                sys.stderr.write(f"\r[{bar:<40}] {progress:6.1%} {counts.get('rows', 0):>10,} rows")
            if not run.is_active:
                if tty:
                    sys.stderr.write("\n")
                return run
            time.sleep(0.5)

    def _summarise(self, run: JobRun) -> None:
        counts = run.counts
        if run.status != JobStatus.DONE:
            for error in run.errors:
                self.stderr.write(error["message"])
            if run.error_count > len(run.errors):
                self.stderr.write(f"... and {run.error_count - len(run.errors):,} more problems.")
            raise CommandError(run.message or f"The import ended {run.status}.")
        self.stdout.write(self.style.SUCCESS(run.message))
        for key, value in counts.items():
            if value and not isinstance(value, list):
                self.stdout.write(f"  {key.replace('_', ' ')}: {value:,}")
        for error in run.errors[:20]:
            self.stdout.write(f"  skipped {error['message']}")
