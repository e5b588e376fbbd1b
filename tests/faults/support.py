"""Real `celery worker` processes and waits for the fault tests.

Workers run on PostgreSQL with a real broker (CELERY_BROKER_URL), started with short leases so
that a test waits seconds, not the production minutes: the run's lease (JOB_LEASE_SECONDS), the
reaper's round (JOB_REAP_SECONDS), the broker's redelivery of unacknowledged messages
(CELERY_VISIBILITY_TIMEOUT) and the chunk claims (QUALITY_CHUNK_SECONDS).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent


def needs_postgres_and_broker() -> None:
    if connection.vendor != "postgresql" or not os.environ.get("CELERY_BROKER_URL"):
        pytest.skip("needs PostgreSQL and a broker (DATABASE_URL, CELERY_BROKER_URL)")


def worker_env() -> dict:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",
        "SECRET_KEY": "fault-tests-" + "k" * 50,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "JOB_LEASE_SECONDS": "4",
        "CELERY_VISIBILITY_TIMEOUT": "6",
        "QUALITY_CHUNK_SECONDS": "4",
        "JOB_REAP_SECONDS": "1",
    }


def start_worker(name: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork",
               "--concurrency", "2", "--loglevel", "warning", "--hostname", f"{name}@%h",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=worker_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL to the worker and its pool processes: nothing gets to clean up."""
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
