"""Celery tasks: thin wrappers that receive ids and call curation.jobs."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from curation.jobs import job_run_claim, job_run_perform


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
