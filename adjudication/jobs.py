"""The agreement job: settles or queues complete items that have no review yet, then computes
the project's agreement figures (adjudication.report) and stores them for the dashboard and the
API. Idempotent: a rerun writes the same figures."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from adjudication.models import AgreementSnapshot
from adjudication.services import policy_for, reviews_resettle, reviews_sync
from curation.jobs import Report, job_kind, job_run_nudge, job_run_start
from curation.models import ACTIVE_JOB_STATUSES, JobRun, Project

KIND = "agreement"
MIN_INTERVAL = timedelta(seconds=15)  # live recomputation at most this often per project


@job_kind(KIND)
def agreement_job(run: JobRun, report: Report) -> dict:
    from adjudication.report import agreement_report

    project = run.project
    started = timezone.now()
    policy = policy_for(project)
    counts = reviews_sync(project=project, report=report)
    previous = AgreementSnapshot.objects.filter(project=project).first()
    settled_under = previous.data.get("policy_updated_at") if previous else None
    if run.params.get("resettle") or settled_under != policy.updated_at.isoformat():
        resettled = reviews_resettle(project=project, report=report)
        counts["changed"] += resettled["changed"]
    report(0.3, counts)
    data = agreement_report(project=project, report=lambda p: report(0.3 + 0.7 * p, counts))
    data["policy_updated_at"] = policy.updated_at.isoformat()  # the rule these reviews follow
    seconds = (timezone.now() - started).total_seconds()
    with transaction.atomic():
        snapshot, _ = AgreementSnapshot.objects.select_for_update().get_or_create(project=project)
        snapshot.data, snapshot.computed_at, snapshot.seconds = data, started, seconds
        if snapshot.stale_since is not None and snapshot.stale_since <= started:
            snapshot.stale_since = None  # changes made while this ran keep it stale
        snapshot.save()
    return {**counts, "annotations": data.get("annotations", 0), "seconds": round(seconds, 3)}


def agreement_refresh_if_stale(*, project: Project, user=None, force: bool = False):
    """Starts the agreement job when the figures are missing or out of date (or `force`), at
    most once per MIN_INTERVAL; returns the active run or None. Cheap enough for every view."""
    snapshot = AgreementSnapshot.objects.filter(project=project).first()
    if snapshot is None:
        AgreementSnapshot.objects.get_or_create(project=project)
    elif not force:
        fresh = snapshot.computed_at is not None and snapshot.stale_since is None
        recent = snapshot.computed_at and timezone.now() - snapshot.computed_at < MIN_INTERVAL
        if fresh or recent:
            return _active(project)
    run = job_run_start(project=project, kind=KIND, user=user)
    job_run_nudge(run=run)  # an older run whose message was lost would block every refresh
    return run


def _active(project: Project) -> JobRun | None:
    active = JobRun.objects.filter(project=project, kind=KIND, status__in=ACTIVE_JOB_STATUSES)
    return active.first()
