"""A worker killed with SIGKILL in the middle of a near-duplicate job: a new worker finishes the
run exactly once, with every item signed once and no finding doubled.

Runs on PostgreSQL with a real broker (CELERY_BROKER_URL) and real `celery worker` processes,
started here with short leases so the test waits seconds, not the production minutes: the run's
lease (JOB_LEASE_SECONDS), the reaper's round (JOB_REAP_SECONDS), the broker's redelivery of
unacknowledged messages (CELERY_VISIBILITY_TIMEOUT) and the chunk claims
(QUALITY_CHUNK_SECONDS).
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from curation.models import Finding, Item, ItemSignature, JobChunk, JobStatus
from curation.quality.registry import quality_job_start
from tests.factories import ProjectFactory

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def worker_env() -> dict:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",
        "SECRET_KEY": "fault-tests-" + "k" * 50,
        "DATABASE_URL": url,
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
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def corpus(project, n: int) -> None:
    """n items, a tenth of them near-copies of another item."""
    rng = random.Random(9)
    words = [f"w{i}" for i in range(3000)]
    texts = []
    for i in range(n):
        if i % 10 == 9:
            copy = texts[i - 1].split()
            copy[rng.randrange(len(copy))] = "changed"
            texts.append(" ".join(copy))
        else:
            texts.append(" ".join(rng.choice(words) for _ in range(80)))
    Item.objects.bulk_create(
        Item(project=project, external_id=f"t{i}", data={"text": t}, content_hash=f"{i:064x}")
        for i, t in enumerate(texts)
    )


def wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def workers():
    if connection.vendor != "postgresql" or not os.environ.get("CELERY_BROKER_URL"):
        pytest.skip("needs PostgreSQL and a broker (DATABASE_URL, CELERY_BROKER_URL)")
    started = []
    yield lambda name: started.append(start_worker(name)) or started[-1]
    for worker in started:
        if worker.poll() is None:
            kill(worker)


def test_a_killed_worker_is_replaced_and_the_run_completes_once(workers):
    project = ProjectFactory()
    corpus(project, 20_000)
    first = workers("first")
    with transaction.atomic():
        run = quality_job_start(project=project, kind="near_duplicates", params={"chunk": 200})
    # Kill the worker once signing is under way, before it can finish.
    wait(lambda: JobChunk.objects.filter(run=run, done=True).count() >= 5, 90, "signing")
    kill(first)
    run.refresh_from_db()
    assert run.status == JobStatus.RUNNING
    done_when_killed = JobChunk.objects.filter(run=run, done=True).count()
    assert done_when_killed < JobChunk.objects.filter(run=run).count()

    workers("second")
    wait(lambda: (run.refresh_from_db(), not run.is_active)[1], 120, "the run to finish")
    assert run.status == JobStatus.DONE, run.message
    assert run.attempts == 2  # claimed again after its lease ran out
    assert ItemSignature.objects.filter(project=project).count() == 20_000  # each item once
    assert not JobChunk.objects.filter(run=run, done=False).exists()
    findings = Finding.objects.filter(project=project, kind="near_duplicate")
    assert findings.count() == run.counts["clusters"] == 2_000  # every planted pair, once
    assert findings.values("key").distinct().count() == findings.count()
