"""Redis restarted in the middle of a job (JOB-8): the worker reconnects by itself and the run
completes once. Redis here keeps nothing on disk, so the restart also loses every message it
held; the job's row in PostgreSQL and the reaper carry the run through.

The test restarts the Redis server the suite uses, so it runs only where that server is local
and `redis-server` is at hand (CI starts it the same way).
"""

import os
import shutil
import subprocess
import time
from urllib.parse import urlparse

import pytest
from django.db import transaction

from curation.jobs import job_run_start
from curation.models import Finding, JobChunk, JobStatus
from curation.quality.registry import quality_job_start
from tests.curation.quality_support import signed_item_ids
from tests.factories import ProjectFactory
from tests.faults.support import wait
from tests.faults.test_worker_killed import corpus

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

REDIS_ARGS = ["--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--save", "",
              "--appendonly", "no"]  # fmt: skip


def redis_ping(port: int) -> bool:
    done = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ping"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout.strip() == "PONG"


@pytest.fixture
def local_redis():
    broker = urlparse(os.environ.get("CELERY_BROKER_URL", ""))
    if broker.scheme != "redis" or broker.hostname not in ("127.0.0.1", "localhost"):
        pytest.skip("needs a local Redis broker")
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        pytest.skip("needs redis-server and redis-cli to restart Redis")
    port = broker.port or 6379
    config = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "config", "get", "dir"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    directory = config[1] if len(config) > 1 else "/tmp"  # fmt: skip

    def restart():
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "shutdown", "nosave"],
                       capture_output=True, check=False)  # fmt: skip
        wait(lambda: not redis_ping(port), 10, "Redis to stop")
        time.sleep(1)  # the worker sees the broker gone
        subprocess.run(["redis-server", *REDIS_ARGS, "--port", str(port), "--dir", directory],
                       check=True, capture_output=True)  # fmt: skip
        wait(lambda: redis_ping(port), 10, "Redis to start")

    yield restart
    if not redis_ping(port):  # never leave the suite without its broker
        subprocess.run(["redis-server", *REDIS_ARGS, "--port", str(port), "--dir", directory],
                       check=False, capture_output=True)  # fmt: skip


def test_a_job_survives_a_redis_restart(workers, local_redis):
    project = ProjectFactory()
    corpus(project, 40_000)
    workers("steady")
    with transaction.atomic():
        run = quality_job_start(project=project, kind="near_duplicates", params={"chunk": 200})
    wait(lambda: JobChunk.objects.filter(run=run, done=True).count() >= 3, 90, "signing")
    local_redis()
    run.refresh_from_db()
    assert run.is_active, run.message  # the restart came in the middle of the run

    wait(lambda: (run.refresh_from_db(), not run.is_active)[1], 180, "the run to finish")
    assert run.status == JobStatus.DONE, run.message
    signed = signed_item_ids(project)
    assert len(signed) == len(set(signed)) == 40_000
    findings = Finding.objects.filter(project=project, kind="near_duplicate")
    assert findings.count() == run.counts["clusters"] == 4_000
    assert findings.values("key").distinct().count() == findings.count()

    # The same worker takes new work through the restarted broker: it reconnected.
    with transaction.atomic():
        after = job_run_start(project=project, kind="project_stats")
    wait(lambda: (after.refresh_from_db(), not after.is_active)[1], 60, "a job sent after")
    assert after.status == JobStatus.DONE and after.attempts == 1
