"""Shared personas: a project with a lead, a reviewer and three annotators; an outsider; and the
lead of another project. Every permission test speaks in these names."""

from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from hypothesis import settings
from rest_framework.test import APIClient

from config.celery import app as celery_app
from curation.importing.files import import_start
from curation.models import JobRun, Project, Role
from curation.tasks import job_run_execute
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

# Property tests check results, not speed: on a loaded CI machine the first example, which
# pays for imports, can pass hypothesis's default 200 ms deadline.
settings.register_profile("concord", deadline=None)
settings.load_profile("concord")


@dataclass
class Team:
    project: Project
    other_project: Project
    lead: object
    reviewer: object
    annotators: list
    outsider: object
    other_lead: object

    @property
    def annotator(self):
        return self.annotators[0]

    def persona(self, name: str):
        """The user behind a persona name used in permission tables (None = anonymous)."""
        return {
            "anonymous": None,
            "outsider": self.outsider,
            "annotator": self.annotator,
            "reviewer": self.reviewer,
            "other_lead": self.other_lead,
            "lead": self.lead,
        }[name]


PERSONAS = ["anonymous", "outsider", "annotator", "reviewer", "other_lead", "lead"]


@pytest.fixture
def team(db) -> Team:
    project = ProjectFactory(name="Support intents", slug="support-intents")
    other = ProjectFactory(name="Other project", slug="other-project")
    lead = UserFactory(username="lena_lead")
    reviewer = UserFactory(username="rita_reviewer")
    annotators = [UserFactory(username=f"anna_{i}") for i in range(1, 4)]
    outsider = UserFactory(username="otto_outsider")
    other_lead = UserFactory(username="olga_otherlead")
    MembershipFactory(project=project, user=lead, role=Role.LEAD)
    MembershipFactory(project=project, user=reviewer, role=Role.REVIEWER)
    for annotator in annotators:
        MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    MembershipFactory(project=other, user=other_lead, role=Role.LEAD)
    ItemFactory.create_batch(5, project=project)
    ItemFactory.create_batch(2, project=other)
    return Team(project, other, lead, reviewer, annotators, outsider, other_lead)


@pytest.fixture
def api_for():
    """An API client signed in (by session) as the given user; None for anonymous."""

    def sign_in(user):
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def media(settings, tmp_path):
    """Uploads and exports under this test's own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def client_for(client):
    """client_for(user) signs the test client in as `user` (None stays anonymous)."""

    def sign_in(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return sign_in


@contextmanager
def jobs_in_process():
    """Runs dispatched jobs in this process, as the embedded default does, even when the suite
    has a broker configured."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


@pytest.fixture
def in_process_jobs():
    with jobs_in_process():
        yield


@pytest.fixture
def run_import(team, settings, tmp_path):
    """run_import(content, filename, **options) imports the bytes into the team's project (or
    `project=`) as the lead would, runs the job here and returns the finished JobRun."""
    settings.MEDIA_ROOT = str(tmp_path / "media")

    def run(content: bytes, filename: str = "items.jsonl", *, project=None, **options) -> JobRun:
        source = tmp_path / "upload"
        source.write_bytes(content)
        job = import_start(
            project=project or team.project,
            user=team.lead,
            source=source,
            filename=filename,
            options=options,
        )
        job_run_execute.run(job.pk)
        job.refresh_from_db()
        return job

    return run
