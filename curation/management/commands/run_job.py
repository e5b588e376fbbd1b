"""`manage.py run_job <project-slug> <kind> [--param name=value ...]`: runs a quality job here.

The run starts through `quality_job_start`, as from the page and the API, then this process
claims it and performs it, with a progress bar on a terminal. If another worker holds the run
(the project's run of that kind was already under way), the command waits for it instead.
"""

import json
import sys
import threading
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from curation.jobs import job_run_claim, job_run_live, job_run_perform
from curation.models import JobRun, JobStatus, Project
from curation.quality.registry import QUALITY_JOBS, quality_job_start

TICK = 0.5  # seconds between progress updates


def parse_param(text: str) -> tuple[str, object]:
    """(name, value) from "name=value": the value as JSON when it parses (5, 0.8, true,
    ["a"]), else as the string it is."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise CommandError(f"--param {text!r}: write it as name=value.")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return name.strip(), value


class Command(BaseCommand):
    help = "Runs a quality job (item checks, near-duplicates, leakage, …) on a project."

    def add_arguments(self, parser):
        parser.add_argument("project", help="the project's slug")
        parser.add_argument("kind", help="the quality job, e.g. item_checks")
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a parameter; values are read as JSON when they parse",
        )

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {opts['project']!r}.")
        params = dict(parse_param(text) for text in opts["param"])
        try:
            run = quality_job_start(project=project, kind=opts["kind"], params=params)
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{field}: {m}" for field, ms in exc.message_dict.items() for m in ms)
            ) from None
        claimed = job_run_claim(run_id=run.pk)
        if claimed is None:
            self.stdout.write(f"Job #{run.pk} is already under way elsewhere; waiting for it.")
            self._wait(run)
        else:
            self._perform(claimed)
        run.refresh_from_db()
        self._summarise(run)

    def _perform(self, run: JobRun) -> None:
        """Performs the claimed run on this thread; a second thread draws its progress from the
        cache (it touches no database connection)."""
        done = threading.Event()
        drawer = None
        if sys.stderr.isatty():
            drawer = threading.Thread(target=self._draw_until, args=(run, done), daemon=True)
            drawer.start()
        try:
            job_run_perform(run=run)
        finally:
            done.set()
            if drawer is not None:
                drawer.join()

    def _draw_until(self, run: JobRun, done: threading.Event) -> None:
        while not done.wait(TICK):
            self._draw(*job_run_live(run))
        sys.stderr.write("\n")

    def _wait(self, run: JobRun) -> None:
        tty = sys.stderr.isatty()
        while True:
            run.refresh_from_db()
            if tty:
                self._draw(*job_run_live(run))
            if not run.is_active:
                if tty:
                    sys.stderr.write("\n")
                return
            time.sleep(TICK)

    @staticmethod
    def _draw(progress: float, counts: dict) -> None:
        bar = "#" * int(progress * 40)
        shown = ", ".join(f"{k} {v:,}" for k, v in counts.items() if isinstance(v, int))[:60]
        sys.stderr.write(f"\r[{bar:<40}] {progress:6.1%} {shown:<60}")

    def _summarise(self, run: JobRun) -> None:
        label = QUALITY_JOBS[run.kind].label if run.kind in QUALITY_JOBS else run.kind
        if run.status != JobStatus.DONE:
            for error in run.errors[:20]:
                self.stderr.write(str(error.get("message", error)))
            raise CommandError(run.message or f"{label} #{run.pk} ended {run.status}.")
        self.stdout.write(self.style.SUCCESS(f"{label} #{run.pk} done."))
        for key, value in run.counts.items():
            if not isinstance(value, list | dict):
                shown = f"{value:,}" if isinstance(value, int) else value
                self.stdout.write(f"  {key.replace('_', ' ')}: {shown}")
        rows = (
            run.findings.order_by("kind", "status").values("kind", "status").annotate(n=Count("id"))
        )
        if not rows:
            self.stdout.write("  No findings.")
        for row in rows:
            self.stdout.write(f"  findings {row['kind']} {row['status']}: {row['n']:,}")
