"""Job runs: start, claim, perform, finish. Each job kind is a plain function registered here.

A kind's function receives the claimed `JobRun` and a `report(progress, counts)` callback, does
its work idempotently (a rerun changes nothing) and returns the final counts.
"""

import logging
import threading
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

import psycopg
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, connections, transaction
from django.db import InterfaceError as DbInterfaceError
from django.db import OperationalError as DbOperationalError
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from curation.models import ACTIVE_JOB_STATUSES, JobRun, JobStatus, Project

logger = logging.getLogger("concord.jobs")

# Errors that say a service went away (a restart, a dropped connection), not that the job is
# wrong: a run that meets one is retried instead of failed.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    KombuOperationalError, RedisConnectionError, RedisTimeoutError, DbOperationalError,
    DbInterfaceError, psycopg.OperationalError, psycopg.InterfaceError,
)  # fmt: skip

Report = Callable[[float, dict], None]
JOB_KINDS: dict[str, Callable[[JobRun, Report], dict]] = {}


class JobCancelled(Exception):
    """Raised by `report` when a lead cancelled the run; the kind's transaction rolls back."""


class JobFailed(Exception):
    """Raised by a kind for a failure the user can act on (bad rows, a missing file).

    The message and the error list are shown to the user as they are, so they must name the
    file, line and field and never carry internals.
    """

    def __init__(self, message: str, *, errors=(), error_count: int = 0, counts=None):
        super().__init__(message)
        self.message, self.errors = message, list(errors)
        self.error_count, self.counts = error_count or len(self.errors), counts or {}


def job_kind(name: str):
    """Registers a function as the implementation of job kind `name`."""

    def register(func):
        JOB_KINDS[name] = func
        return func

    return register


def job_run_start(*, project: Project, kind: str, user=None, params: dict | None = None) -> JobRun:
    """Queues a run of `kind`, or returns the project's active run of that kind (JOB-6).

    Dispatch happens after the surrounding transaction commits.
    """
    if kind not in JOB_KINDS:
        raise ValueError(f"Unknown job kind {kind!r}.")
    try:
        with transaction.atomic():
            run = JobRun.objects.create(
                project=project, kind=kind, created_by=user, params=params or {}
            )
    except IntegrityError:
        return JobRun.objects.get(project=project, kind=kind, status__in=ACTIVE_JOB_STATUSES)
    transaction.on_commit(lambda: _dispatch(run.pk))
    return run


QUEUED_PATIENCE = timedelta(seconds=60)


def job_run_nudge(*, run: JobRun, now=None) -> bool:
    """Sends a run again when its message seems lost: queued for over a minute, or running
    with its lease expired (its worker or thread died). The claim is atomic, so a run that was
    only slow is never performed twice (JOB-3). Returns whether it was sent."""
    now = now or timezone.now()
    lost = (run.status == JobStatus.QUEUED and run.created_at < now - QUEUED_PATIENCE) or (
        run.status == JobStatus.RUNNING
        and run.lease_expires_at is not None
        and run.lease_expires_at < now
        and run.attempts < settings.JOB_MAX_ATTEMPTS
    )
    if lost:
        transaction.on_commit(lambda: _dispatch(run.pk))
    return lost


def jobs_reap(*, now=None) -> dict:
    """The reaper (JOB-5): sends again every run whose worker is gone (running with its lease
    expired, attempts left) or whose message was lost (queued for more than QUEUED_REAP), and
    marks failed, with the reason, a run whose worker was lost on every attempt. Workers call it
    every JOB_REAP_SECONDS; the atomic claim keeps a run that was only slow from running twice."""
    now = now or timezone.now()
    expired = JobRun.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)
    exhausted = expired.filter(attempts__gte=settings.JOB_MAX_ATTEMPTS)
    failed = exhausted.update(
        status=JobStatus.FAILED, finished_at=now, lease_expires_at=None,
        message=f"The job's worker stopped on each of its {settings.JOB_MAX_ATTEMPTS} attempts "
                "(it may have run out of memory); the job was given up.",
    )  # fmt: skip
    lost = list(expired.filter(attempts__lt=settings.JOB_MAX_ATTEMPTS).values_list("pk", flat=True))
    lost += JobRun.objects.filter(
        status=JobStatus.QUEUED, created_at__lt=now - QUEUED_REAP
    ).values_list("pk", flat=True)
    for run_id in lost:
        _dispatch(run_id)
    return {"failed": failed, "sent": len(lost)}


QUEUED_REAP = timedelta(minutes=10)


def housekeeping() -> dict:
    """Deletes what has outlived its use (JOB-9): export files past their retention, uploaded
    import files no queued or running import needs, and expired sessions. Every worker's reaper
    thread calls it every HOUSEKEEPING_SECONDS; each part is idempotent, so two workers doing it
    at once is harmless. Returns what it removed."""
    from django.contrib.sessions.models import Session

    from curation.exporting.files import exports_sweep
    from curation.importing.files import uploads_sweep

    exports = exports_sweep()
    uploads = uploads_sweep()
    sessions, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return {"exports": exports, "uploads": uploads, "sessions": sessions}


def _dispatch(run_id: int) -> None:
    """Sends the run to Celery; in the embedded default (no broker) runs it in this process,
    on a background thread unless JOBS_IN_PROCESS is "inline" (the test suite)."""
    from curation.tasks import job_run_execute

    if settings.CELERY_TASK_ALWAYS_EAGER and settings.JOBS_IN_PROCESS == "thread":
        threading.Thread(
            target=_run_here, args=(run_id,), name=f"job-{run_id}", daemon=True
        ).start()
    else:
        job_run_execute.delay(run_id)


def _run_here(run_id: int) -> None:
    from curation.tasks import job_run_execute

    try:
        job_run_execute.apply(args=(run_id,))
    finally:
        connections.close_all()


def job_run_claim(*, run_id: int) -> JobRun | None:
    """Marks the run as running for this worker; None if another worker holds a live lease.

    A conditional UPDATE, so two deliveries of the same message never both run it (JOB-3).
    """
    now = timezone.now()
    lease = now + timedelta(seconds=settings.JOB_LEASE_SECONDS)
    claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, lease_expires_at__lt=now)
    claimed = (
        JobRun.objects.filter(claimable, pk=run_id, attempts__lt=settings.JOB_MAX_ATTEMPTS)
        .update(status=JobStatus.RUNNING, lease_expires_at=lease, attempts=F("attempts") + 1,
                started_at=now)
    )  # fmt: skip
    return JobRun.objects.get(pk=run_id) if claimed else None


def _cache_key(run: JobRun, what: str) -> str:
    # created_at keeps keys apart when ids repeat (a fresh database, the test suite).
    return f"jobrun:{run.pk}:{run.created_at.timestamp()}:{what}"


def job_run_live(run: JobRun) -> tuple[float, dict]:
    """Progress and counts as the running job last reported them (the row may lag behind)."""
    running = run.status == JobStatus.RUNNING
    live = _cache_safely(cache.get, _cache_key(run, "live")) if running else None
    return live if live is not None else (run.progress, run.counts)


def _cache_safely(call, *args, **kwargs):
    """A cache call for progress or cancellation, which are best effort: while the cache (Redis)
    restarts, the job carries on without them rather than failing."""
    try:
        return call(*args, **kwargs)
    except Exception:
        logger.warning("cache unavailable for job progress", exc_info=True)
        return None


def _reporter(run: JobRun) -> Report:
    def report(progress: float, counts: dict) -> None:
        progress = max(0.0, min(1.0, progress))
        _cache_safely(cache.set, _cache_key(run, "live"), (progress, counts), timeout=3600)
        if not connection.in_atomic_block:
            # Outside the job's own transaction the row can take it too (and renew the lease);
            # inside, writing the row would lock it until the job commits.
            lease = timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)
            JobRun.objects.filter(pk=run.pk).update(
                progress=progress, counts=counts, lease_expires_at=lease
            )
        if _cache_safely(cache.get, _cache_key(run, "cancel")):
            raise JobCancelled

    return report


def _finish(run: JobRun, status: str, **fields) -> None:
    JobRun.objects.filter(pk=run.pk, status=JobStatus.RUNNING).update(
        status=status, finished_at=timezone.now(), lease_expires_at=None, **fields
    )


def job_run_complete(*, run: JobRun, counts: dict, **fields) -> None:
    """Marks the run done; called by a kind inside its own transaction, so that its data and
    its status commit together (a crash in between cannot leave data without a done run)."""
    _finish(run, JobStatus.DONE, progress=1.0, counts=counts, **fields)


@contextmanager
def _heartbeat(run: JobRun):
    """Renews the run's lease every third of JOB_LEASE_SECONDS from a thread with its own
    database connection, for as long as the job is being performed.

    A job that works inside one long transaction (an import, freezing a version) cannot renew
    its lease on its own connection: the renewal would stay invisible until the job commits, so
    the reaper would take a slow job for a dead one and send it again. The heartbeat's commits
    are seen at once; when the worker dies, the heartbeat dies with it and the lease runs out.
    SQLite allows one writer at a time, so there the job's own progress writes have to do.
    """
    if connection.vendor == "sqlite":
        yield
        return
    stop = threading.Event()
    interval = max(settings.JOB_LEASE_SECONDS / 3, 0.5)

    def beat():
        try:
            while not stop.wait(interval):
                lease = timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)
                try:
                    JobRun.objects.filter(pk=run.pk, status=JobStatus.RUNNING).update(
                        lease_expires_at=lease
                    )
                except Exception:  # a dropped connection: try again next beat
                    logger.warning("job %s #%s: lease not renewed", run.kind, run.pk,
                                   extra=_log_fields(run))  # fmt: skip
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"job-{run.pk}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def _log_fields(run: JobRun) -> dict:
    """The job's kind and id as log record attributes (LOG_FORMAT=json writes them as keys)."""
    return {"job_kind": run.kind, "job_id": run.pk}


def job_run_perform(*, run: JobRun) -> None:
    """Runs a claimed job's kind function and records how it ended. Never raises for job errors."""
    try:
        with _heartbeat(run):
            counts = JOB_KINDS[run.kind](run, _reporter(run))
    except JobCancelled:
        _finish(run, JobStatus.CANCELLED, message="Cancelled by a lead.")
    except TRANSIENT_ERRORS:
        # The broker, the cache or the database went away under the job: not the job's fault.
        # Its lease is ended so that the reaper sends it again once they are back (attempts
        # permitting); if the database is gone too, the lease simply runs out.
        logger.warning("job %s #%s interrupted; the reaper will retry it", run.kind, run.pk,
                       exc_info=True, extra=_log_fields(run))  # fmt: skip
        try:
            JobRun.objects.filter(pk=run.pk, status=JobStatus.RUNNING).update(
                lease_expires_at=timezone.now()
            )
        except Exception:
            connection.close()
    except JobFailed as failure:
        _finish(
            run,
            JobStatus.FAILED,
            message=failure.message,
            errors=failure.errors,
            error_count=failure.error_count,
            counts=failure.counts,
        )
    except Exception as exc:  # the run records the failure; the worker stays up
        logger.exception("job %s #%s failed", run.kind, run.pk, extra=_log_fields(run))
        _finish(run, JobStatus.FAILED, message=f"{type(exc).__name__}: the job failed.")
    else:
        _finish(run, JobStatus.DONE, progress=1.0, counts=counts or {})


def job_run_cancel(*, run: JobRun) -> None:
    """Asks a run to stop: a queued run is cancelled at once, a running one between chunks."""
    JobRun.objects.filter(pk=run.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), message="Cancelled by a lead."
    )
    if JobRun.objects.filter(pk=run.pk, status=JobStatus.RUNNING).update(cancel_requested=True):
        cache.set(_cache_key(run, "cancel"), True, timeout=24 * 3600)


@job_kind("project_stats")
def project_stats(run: JobRun, report: Report) -> dict:
    """Counts a project's items per split: a cheap job that shows the job system works."""
    from curation.selectors import project_split_counts

    report(0.5, {})
    counts = project_split_counts(project=run.project)
    return {"items": sum(counts.values()), **{f"split_{k}": v for k, v in counts.items()}}
