"""Background jobs: the broker message is the run's id and nothing else (JOB-1), the database
itself refuses a second active run of a kind (JOB-6), and uploaded import files do not stay on
disk once no run needs them (JOB-9)."""

import json
import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction

from curation.importing.files import import_start, upload_dir, uploads_sweep
from curation.jobs import job_run_start
from curation.models import JobRun, JobStatus
from curation.tasks import job_run_execute
from tests.conftest import jobs_in_process


def test_the_broker_message_carries_only_the_run_id(
    team, monkeypatch, settings, django_capture_on_commit_callbacks
):
    """JOB-1: parameters, file names and item data stay in the JobRun row; the message holds
    its id, a JSON number."""
    sent = []
    monkeypatch.setattr(job_run_execute, "delay", lambda *args, **kwargs: sent.append((args,
                        kwargs)))  # fmt: skip
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with django_capture_on_commit_callbacks(execute=True):
        run = job_run_start(project=team.project, kind="project_stats", user=team.lead,
                            params={"note": "a value that must not travel"})  # fmt: skip
    assert sent == [((run.pk,), {})]
    assert json.loads(json.dumps(sent[0][0])) == [run.pk]


def test_the_database_refuses_a_second_active_run_of_a_kind(team):
    """JOB-6: the partial unique index holds even if two requests raced past the service's check;
    finished runs of the kind do not count, and other kinds or projects are independent."""
    JobRun.objects.create(project=team.project, kind="export", status=JobStatus.DONE)
    JobRun.objects.create(project=team.project, kind="export", status=JobStatus.QUEUED)
    JobRun.objects.create(project=team.project, kind="import", status=JobStatus.RUNNING)
    JobRun.objects.create(project=team.other_project, kind="export", status=JobStatus.QUEUED)
    for status in (JobStatus.QUEUED, JobStatus.RUNNING):
        with pytest.raises(IntegrityError), transaction.atomic():
            JobRun.objects.create(project=team.project, kind="export", status=status)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def upload(team, name, content=b'{"text": "hello"}\n'):
    return import_start(project=team.project, user=team.lead, filename=name, options={},
                        source=SimpleUploadedFile(name, content))  # fmt: skip


def test_finished_imports_leave_no_uploaded_file_behind(
    team, media, django_capture_on_commit_callbacks
):
    """JOB-9: each import sweeps the files of earlier runs: after several imports only the last
    one's file is left, and a sweep after it leaves none."""
    for n in range(3):
        with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
            run = upload(team, f"batch-{n}.jsonl", f'{{"text": "item {n}"}}\n'.encode())
        run.refresh_from_db()
        assert run.status == JobStatus.DONE, run.message
        assert [p.name for p in upload_dir().iterdir()] == [run.params["stored_name"]]
    assert uploads_sweep() == 1
    assert list(upload_dir().iterdir()) == []
    assert team.project.items.filter(data__text__startswith="item ").count() == 3


def test_the_sweep_keeps_what_a_queued_run_or_a_fresh_upload_needs(team, media):
    queued = upload(team, "waiting.jsonl")  # not run: the test's transaction never commits
    stray_new = upload_dir() / "0123456789abcdef.jsonl"  # a run about to be committed
    stray_old = upload_dir() / "fedcba9876543210.jsonl"  # a run that never was
    for path in (stray_new, stray_old):
        path.write_bytes(b"{}\n")
    hours_ago = time.time() - 2 * 3600
    os.utime(stray_old, (hours_ago, hours_ago))
    assert uploads_sweep() == 1
    assert sorted(p.name for p in upload_dir().iterdir()) == sorted(
        [queued.params["stored_name"], stray_new.name])  # fmt: skip
    JobRun.objects.filter(pk=queued.pk).update(status=JobStatus.FAILED)
    assert uploads_sweep() == 1 and [p.name for p in upload_dir().iterdir()] == [stray_new.name]
