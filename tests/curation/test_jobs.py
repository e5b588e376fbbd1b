"""Job runs: started once per project and kind, claimed once, finished with their counts, on a
real Celery worker when a broker is configured and in-process when none is."""

import os
import time

import pytest
from django.db import transaction
from django.utils import timezone

from config.celery import app as celery_app
from curation import jobs
from curation.jobs import job_run_cancel, job_run_claim, job_run_start
from curation.models import JobRun, JobStatus
from curation.tasks import job_run_execute
from tests.conftest import jobs_in_process


@pytest.fixture
def failing_kind():
    @jobs.job_kind("always_fails")
    def always_fails(run, report):
        report(0.3, {"seen": 1})
        raise RuntimeError("secret internal detail")

    yield "always_fails"
    jobs.JOB_KINDS.pop("always_fails")


def test_without_a_broker_the_job_runs_in_process_after_commit(
    team, django_capture_on_commit_callbacks
):
    with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
        run = job_run_start(project=team.project, kind="project_stats", user=team.lead)
    run.refresh_from_db()
    assert run.status == JobStatus.DONE
    assert run.counts == {"items": 5, "split_unassigned": 5}
    assert run.progress == 1.0
    assert run.attempts == 1
    assert run.finished_at is not None


def test_nothing_is_dispatched_when_the_transaction_rolls_back(
    team, django_capture_on_commit_callbacks
):
    with jobs_in_process(), django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                job_run_start(project=team.project, kind="project_stats")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not JobRun.objects.exists()


def test_starting_the_same_kind_twice_returns_the_active_run(team):
    first = job_run_start(project=team.project, kind="project_stats")
    second = job_run_start(project=team.project, kind="project_stats")
    assert second.pk == first.pk
    other = job_run_start(project=team.other_project, kind="project_stats")
    assert other.pk != first.pk


def test_a_run_is_claimed_once(team):
    run = job_run_start(project=team.project, kind="project_stats")
    assert job_run_claim(run_id=run.pk) is not None
    assert job_run_claim(run_id=run.pk) is None


def test_duplicate_delivery_runs_the_job_once(team):
    run = job_run_start(project=team.project, kind="project_stats")
    job_run_execute.run(run.pk)
    job_run_execute.run(run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.DONE
    assert run.attempts == 1


def test_a_failing_job_is_marked_failed_without_leaking_internals(team, failing_kind):
    run = job_run_start(project=team.project, kind=failing_kind)
    job_run_execute.run(run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED
    assert run.message == "RuntimeError: the job failed."
    assert "secret" not in run.message
    # a failed run no longer blocks a new one of the same kind
    assert job_run_start(project=team.project, kind=failing_kind).pk != run.pk


def test_cancelling_a_queued_run_means_it_never_runs(team):
    run = job_run_start(project=team.project, kind="project_stats")
    job_run_cancel(run=run)
    job_run_execute.run(run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.CANCELLED
    assert run.attempts == 0


def test_unknown_kind_is_refused(team):
    with pytest.raises(ValueError, match="Unknown job kind"):
        job_run_start(project=team.project, kind="no_such_kind")


@pytest.fixture
def celery_worker_thread():
    if not os.environ.get("CELERY_BROKER_URL"):
        pytest.skip("needs a broker: set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    from celery.contrib.testing.worker import start_worker

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_picks_up_the_job_through_the_broker(celery_worker_thread):
    from tests.factories import ItemFactory, ProjectFactory

    project = ProjectFactory()
    ItemFactory.create_batch(4, project=project, split="train")
    with transaction.atomic():
        run = job_run_start(project=project, kind="project_stats")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if not run.is_active:
            break
        time.sleep(0.1)
    assert run.status == JobStatus.DONE
    assert run.counts == {"items": 4, "split_train": 4}


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_an_import_and_an_export_run_on_a_real_worker(celery_worker_thread, settings, tmp_path):
    from curation.exporting import export_file, export_start
    from curation.importing.files import import_start
    from tests.factories import ProjectFactory

    settings.MEDIA_ROOT = tmp_path
    project = ProjectFactory()
    lines = b"".join(b'{"id": "r%d", "text": "row %d"}\n' % (i, i) for i in range(50))
    source = tmp_path / "rows.jsonl"
    source.write_bytes(lines)
    run = wait_for(import_start(project=project, user=None, source=source, filename="rows.jsonl",
                                options={}))  # fmt: skip
    assert (run.status, run.counts["items_created"]) == (JobStatus.DONE, 50)
    run = wait_for(export_start(project=project, user=None, fmt="jsonl", mode="final"))
    assert run.status == JobStatus.DONE
    assert len(export_file(run).read_bytes().splitlines()) == 50


def wait_for(run: JobRun, seconds: float = 30) -> JobRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if not run.is_active:
            return run
        time.sleep(0.1)
    return run


@pytest.fixture
def broker_drops_kind():
    @jobs.job_kind("broker_drops")
    def broker_drops(run, report):
        from kombu.exceptions import OperationalError

        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    yield "broker_drops"
    jobs.JOB_KINDS.pop("broker_drops")


def test_a_broker_outage_leaves_the_run_to_the_reaper_instead_of_failing_it(
    team, broker_drops_kind
):
    """A service that went away mid-job (JOB-8) is no reason to fail the job for good: the run
    stays running with its lease ended, and the reaper sends it again."""
    run = job_run_start(project=team.project, kind=broker_drops_kind)
    claimed = job_run_claim(run_id=run.pk)
    jobs.job_run_perform(run=claimed)
    run.refresh_from_db()
    assert run.status == JobStatus.RUNNING and run.message == ""
    assert run.lease_expires_at <= timezone.now()
    assert jobs.jobs_reap() == {"failed": 0, "sent": 1}
