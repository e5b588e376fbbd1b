"""Celery tasks: thin wrappers that receive ids and call curation.jobs."""

import logging
import threading
import time

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections

from curation.jobs import housekeeping, job_run_claim, job_run_perform, jobs_reap

logger = logging.getLogger("concord.jobs")


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def job_run_execute(run_id: int) -> None:
    """Claims and performs JobRun `run_id`; a duplicate delivery finds it claimed, does nothing."""
    run = job_run_claim(run_id=run_id)
    if run is None:
        return
    job_run_perform(run=run)


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def quality_sign_chunks(run_id: int) -> int:
    """A worker's share of a near-duplicate run's signing: claims chunks until none is left."""
    from curation.quality.near_duplicates import sign_available

    return sign_available(run_id)


@worker_ready.connect
def _start_reaper(sender=None, **kwargs):
    """Every worker runs the reaper now and then, in a thread of its main process, so a run
    whose worker died is taken up again without anyone's help (JOB-5), and housekeeping now and
    then (JOB-9). JOB_REAP_SECONDS = 0 turns it off (the test suite's in-process workers)."""
    if settings.JOB_REAP_SECONDS <= 0:
        return

    def reap_forever():
        swept = 0.0
        while True:
            time.sleep(settings.JOB_REAP_SECONDS)
            try:
                jobs_reap()
                if time.monotonic() - swept >= settings.HOUSEKEEPING_SECONDS:
                    swept = time.monotonic()
                    housekeeping()
            except Exception:  # the database may be restarting: try again next time
                logger.warning("the job reaper could not run", exc_info=True)
            finally:
                close_old_connections()

    threading.Thread(target=reap_forever, name="job-reaper", daemon=True).start()
