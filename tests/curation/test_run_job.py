"""`manage.py run_job`: starts a quality job through the registry, runs it in this process and
prints what it found; bad input and failed runs exit non-zero with the reason on stderr."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from curation import jobs
from curation.management.commands.run_job import Command, parse_param
from curation.models import FindingStatus, JobRun, JobStatus
from tests.curation.quality_support import PROBE, probe_job
from tests.factories import ItemFactory


@pytest.fixture
def probe():
    with probe_job() as spec:
        yield spec


def run_job(*args) -> str:
    """The command's output; a CommandError (an exit code of 1 from a shell) if it failed."""
    out = StringIO()
    call_command("run_job", *args, stdout=out)
    return out.getvalue()


def from_the_shell(*args) -> tuple[int, str]:
    """(exit code, stderr) of `manage.py run_job ...`. It closes the database connections as
    it ends, so the tests that use it run outside a wrapping transaction."""
    out, err = StringIO(), StringIO()
    try:
        Command(stdout=out, stderr=err).run_from_argv(["manage.py", "run_job", *args])
    except SystemExit as exit_:
        return exit_.code, err.getvalue()
    return 0, err.getvalue()


@pytest.mark.django_db
def test_runs_the_job_here_and_prints_counts_and_findings(team, probe):
    ItemFactory(project=team.project, data={"text": "A refund for my parcel"})
    ItemFactory(project=team.project, data={"text": "Where is my parcel?"})
    params = ["word=parcel", "threshold=0.9", 'splits=["test"]']
    out = run_job(team.project.slug, PROBE, *(f"--param={p}" for p in params))
    run = team.project.job_runs.get(kind=PROBE)
    assert run.status == JobStatus.DONE and run.attempts == 1
    assert run.params["word"] == "parcel" and run.params["threshold"] == 0.9
    assert run.params["splits"] == ["test"]
    assert f"Probe check #{run.pk} done." in out
    assert "  flagged: 2" in out and "  items: 7" in out
    assert "  findings item_check open: 2" in out
    assert team.project.findings.filter(job=run, status=FindingStatus.OPEN).count() == 2


@pytest.mark.django_db
def test_a_rerun_keeps_resolutions_and_reports_them(team, probe):
    ItemFactory(project=team.project, data={"text": "refund now"})
    run_job(team.project.slug, PROBE)
    team.project.findings.update(status=FindingStatus.FIXED)
    assert "  findings item_check fixed: 1" in run_job(team.project.slug, PROBE)


@pytest.mark.django_db(transaction=True)
def test_unknown_kind_exits_non_zero_with_the_reason_on_stderr(team, probe):
    code, err = from_the_shell(team.project.slug, "nope")
    assert code != 0
    assert "kind: Unknown quality job 'nope'" in err and PROBE in err
    assert not JobRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_bad_parameter_exits_non_zero_naming_it(team, probe):
    code, err = from_the_shell(team.project.slug, PROBE, "--param", "min_length=many")
    assert code != 0
    assert "params.min_length: must be int" in err
    assert not JobRun.objects.exists()


@pytest.mark.django_db
def test_parameters_are_checked_before_anything_starts(team, probe):
    with pytest.raises(CommandError, match="params.colour"):
        run_job(team.project.slug, PROBE, "--param", "colour=red")
    with pytest.raises(CommandError, match="name=value"):
        run_job(team.project.slug, PROBE, "--param", "word")
    with pytest.raises(CommandError, match="No project with the slug 'no-such-project'"):
        run_job("no-such-project", PROBE)
    assert not JobRun.objects.exists()


@pytest.mark.django_db
def test_a_failed_run_is_an_error_with_its_message(team, probe):
    def broken(run, report):
        raise jobs.JobFailed("The project's settings are not valid: min_length < 0.")

    jobs.JOB_KINDS[PROBE] = broken
    with pytest.raises(CommandError, match="settings are not valid") as failure:
        run_job(team.project.slug, PROBE)
    assert failure.value.returncode != 0
    assert team.project.job_runs.get().status == JobStatus.FAILED


@pytest.mark.django_db
def test_a_run_held_elsewhere_is_waited_for(team, probe, monkeypatch):
    """The project's run of the kind is under way in another worker: the command does not run
    it a second time (its claim fails) but waits, and reports the run once it ends."""
    lease = timezone.now() + timedelta(hours=1)
    run = JobRun.objects.create(project=team.project, kind=PROBE, status=JobStatus.RUNNING,
                                lease_expires_at=lease, attempts=1)  # fmt: skip

    def other_worker_finishes(seconds):
        JobRun.objects.filter(pk=run.pk).update(status=JobStatus.DONE, counts={"items": 5})

    monkeypatch.setattr("curation.management.commands.run_job.time.sleep", other_worker_finishes)
    out = run_job(team.project.slug, PROBE)
    assert f"Job #{run.pk} is already under way elsewhere" in out
    assert f"Probe check #{run.pk} done." in out and "  items: 5" in out
    run.refresh_from_db()
    assert run.attempts == 1 and team.project.job_runs.count() == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n=13", ("n", 13)),
        ("max_df=0.001", ("max_df", 0.001)),
        ("requeue=false", ("requeue", False)),
        ('splits=["train", "dev"]', ("splits", ["train", "dev"])),
        ("word=parcel", ("word", "parcel")),
        ("word=", ("word", "")),
        ('word="13"', ("word", "13")),
    ],
)
def test_values_are_json_when_they_parse(text, expected):
    assert parse_param(text) == expected
