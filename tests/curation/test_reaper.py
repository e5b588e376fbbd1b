"""The job reaper (JOB-5): a run whose worker died is sent again and completes once; a run that
lost its worker on every attempt is given up with the reason; a live run is left alone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from curation.jobs import jobs_reap
from curation.models import JobRun, JobStatus
from tests.conftest import jobs_in_process
from tests.factories import ItemFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def running(project, *, lease_ago: float, attempts: int) -> JobRun:
    return JobRun.objects.create(
        project=project, kind="project_stats", status=JobStatus.RUNNING, attempts=attempts,
        lease_expires_at=timezone.now() - timedelta(seconds=lease_ago),
    )  # fmt: skip


def test_a_run_whose_worker_died_is_sent_again_and_completes_once(settings):
    project = ProjectFactory()
    ItemFactory.create_batch(3, project=project)
    lost = running(project, lease_ago=5, attempts=1)
    with jobs_in_process():
        assert jobs_reap() == {"failed": 0, "sent": 1}
    lost.refresh_from_db()
    assert (lost.status, lost.attempts, lost.counts["items"]) == (JobStatus.DONE, 2, 3)
    with jobs_in_process():
        assert jobs_reap() == {"failed": 0, "sent": 0}  # nothing left to do


def test_a_run_that_lost_its_worker_every_time_is_given_up(settings):
    settings.JOB_MAX_ATTEMPTS = 3
    project = ProjectFactory()
    doomed = running(project, lease_ago=5, attempts=3)
    alive = running(ProjectFactory(), lease_ago=-60, attempts=1)  # lease still runs
    assert jobs_reap() == {"failed": 1, "sent": 0}
    doomed.refresh_from_db()
    alive.refresh_from_db()
    assert doomed.status == JobStatus.FAILED and "3 attempts" in doomed.message
    assert alive.status == JobStatus.RUNNING


def test_housekeeping_deletes_expired_sessions_and_finished_uploads(team, settings, tmp_path):
    """JOB-9 on a timer: the workers' housekeeping removes expired sessions and the upload of a
    finished import, and keeps a live session and a queued import's file."""
    from datetime import timedelta

    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from curation.importing.files import upload_path
    from curation.jobs import housekeeping
    from curation.models import JobRun, JobStatus

    settings.MEDIA_ROOT = tmp_path
    live, old = SessionStore(), SessionStore()
    live.create()
    old.create()
    Session.objects.filter(session_key=old.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    finished = JobRun.objects.create(project=team.project, kind="import", status=JobStatus.DONE,
                                     params={"stored_name": "a" * 32 + ".jsonl"})  # fmt: skip
    queued = JobRun.objects.create(project=team.other_project, kind="import",
                                   params={"stored_name": "b" * 32 + ".jsonl"})  # fmt: skip
    for run in (finished, queued):
        path = upload_path(run.params["stored_name"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('{"text": "x"}\n')

    assert housekeeping() == {"exports": 0, "uploads": 1, "sessions": 1}
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
    assert not upload_path(finished.params["stored_name"]).exists()
    assert upload_path(queued.params["stored_name"]).exists()
    assert housekeeping() == {"exports": 0, "uploads": 0, "sessions": 0}  # idempotent
