"""`manage.py freeze_version <project-slug> --note "..." [--user USERNAME]`: freezes a version.

The freeze starts as from the page and the API (a JobRun), then this process claims and
performs it; if the project's freeze is already under way elsewhere, the command waits for it.
Prints the version's number, item count and content hash; exits non-zero when it fails.
"""

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from curation.jobs import job_run_claim, job_run_perform
from curation.models import JobStatus, Project
from curation.versions import version_freeze_start

TICK = 0.5


class Command(BaseCommand):
    help = "Freezes a new dataset version of a project and prints its number and hash."

    def add_arguments(self, parser):
        parser.add_argument("project", help="the project's slug")
        parser.add_argument("--note", default="", help="what this version is, for the list")
        parser.add_argument("--user", help="the account recorded as having frozen it")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {opts['project']!r}.")
        user = None
        if opts["user"]:
            user = get_user_model().objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"No user named {opts['user']!r}.")
        run = version_freeze_start(project=project, user=user, note=opts["note"])
        claimed = job_run_claim(run_id=run.pk)
        if claimed is None:
            self.stdout.write(f"A freeze of this project (job #{run.pk}) is under way; waiting.")
            while run.is_active:
                time.sleep(TICK)
                run.refresh_from_db()
        else:
            job_run_perform(run=claimed)
        run.refresh_from_db()
        if run.status != JobStatus.DONE:
            raise CommandError(run.message or f"The freeze (job #{run.pk}) ended {run.status}.")
        counts = run.counts
        self.stdout.write(self.style.SUCCESS(
            f"Version {counts['version']} of {project.slug}: {counts['items']:,} items."
        ))  # fmt: skip
        self.stdout.write(f"content hash {counts['content_hash']}")
