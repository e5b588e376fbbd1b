"""A worker killed with SIGKILL in the middle of a near-duplicate job: a new worker finishes the
run exactly once, with every item signed once and no finding doubled.

Runs on PostgreSQL with a real broker and real `celery worker` processes (tests.faults.support).
"""

import random

import pytest
from django.db import transaction

from curation.models import Finding, Item, JobChunk, JobStatus
from curation.quality.registry import quality_job_start
from tests.curation.quality_support import signed_item_ids
from tests.factories import ProjectFactory
from tests.faults.support import kill, wait

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


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
    signed = signed_item_ids(project)
    assert len(signed) == len(set(signed)) == 20_000  # each item once
    assert not JobChunk.objects.filter(run=run, done=False).exists()
    findings = Finding.objects.filter(project=project, kind="near_duplicate")
    assert findings.count() == run.counts["clusters"] == 2_000  # every planted pair, once
    assert findings.values("key").distinct().count() == findings.count()
