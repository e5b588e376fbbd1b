"""The near-duplicate job on a project: planted near-copies found and clustered, nothing below
the threshold, a second run signs only new items, chunks claimed once, dropped items left out."""

import random
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from curation.models import DuplicatePair, Finding, JobChunk, JobRun
from curation.quality import near_duplicates
from curation.quality.actions import items_drop
from curation.quality.findings import finding_resolve
from curation.quality.registry import quality_job_start
from tests.conftest import jobs_in_process
from tests.factories import ItemFactory, ProjectFactory

pytestmark = pytest.mark.django_db

WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
    "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber "
    "basil cedar dune ember fjord glade heath inlet jade kelp loam"
)
VOCABULARY = WORDS.split()


def text(rng: random.Random, words: int = 60) -> str:
    return " ".join(rng.choice(VOCABULARY) + str(rng.randrange(50)) for _ in range(words))


def near_copy(source: str, changed: int, rng: random.Random) -> str:
    """`source` with `changed` of its words replaced: its word 3-gram Jaccard falls with it."""
    words = source.split()
    for i in rng.sample(range(len(words)), changed):
        words[i] = f"changed{i}"
    return " ".join(words)


@pytest.fixture
def run_job(django_capture_on_commit_callbacks):
    @contextmanager
    def running():
        with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
            yield

    def run(project, **params):
        with running():
            job = quality_job_start(project=project, kind="near_duplicates", params=params)
        job.refresh_from_db()
        assert job.status == "done", job.message
        return job

    return run


def clusters(project) -> list[list[int]]:
    found = Finding.objects.filter(project=project, kind="near_duplicate").order_by("item_id")
    return [sorted([f.item_id, *f.items]) for f in found]


def test_planted_near_copies_are_clustered_and_distant_ones_are_not(run_job):
    rng = random.Random(3)
    project = ProjectFactory()
    base = text(rng)
    a = ItemFactory(project=project, data={"text": base})
    b = ItemFactory(project=project, data={"text": near_copy(base, 1, rng)})  # Jaccard ~0.95
    c = ItemFactory(project=project, data={"text": near_copy(base, 2, rng)})  # ~0.9
    far = ItemFactory(project=project, data={"text": near_copy(base, 12, rng)})  # ~0.5
    for _ in range(30):
        ItemFactory(project=project, data={"text": text(rng)})
    run = run_job(project, chunk=8)
    assert clusters(project) == [sorted([a.pk, b.pk, c.pk])]
    assert far.pk not in {i for cluster in clusters(project) for i in cluster}
    finding = Finding.objects.get(project=project, kind="near_duplicate")
    assert finding.detail["min_jaccard"] >= 0.8
    assert run.counts["signed"] == 34 and JobChunk.objects.filter(run=run).count() == 5


def test_a_second_run_signs_only_new_items_and_keeps_resolutions(run_job):
    rng = random.Random(4)
    project = ProjectFactory()
    base = text(rng)
    first = ItemFactory(project=project, data={"text": base})
    ItemFactory(project=project, data={"text": near_copy(base, 1, rng)})
    for _ in range(10):
        ItemFactory(project=project, data={"text": text(rng)})
    run_job(project)
    other = text(rng)
    ItemFactory(project=project, data={"text": other})
    ItemFactory(project=project, data={"text": near_copy(other, 1, rng)})
    finding_resolve(finding=Finding.objects.get(project=project), user=None,
                    status="not_a_problem")  # fmt: skip
    late = ItemFactory(project=project, data={"text": near_copy(base, 2, rng)})
    second = run_job(project)
    assert second.counts["signed"] == 3  # only the items added since
    key = near_duplicates.dedup_params(near_duplicates.DEFAULTS).key()
    assert near_duplicates.signed_ids(project, key).size == 15  # each item once
    found = clusters(project)
    assert len(found) == 2 and late.pk in found[0] and first.pk in found[0]
    kept = Finding.objects.get(project=project, key=f"cluster:{first.pk}")
    assert kept.status == "not_a_problem"  # the same cluster, grown: the lead's word stays
    assert DuplicatePair.objects.filter(project=project).count() >= 3


def test_dropped_items_leave_their_cluster(run_job):
    rng = random.Random(5)
    project = ProjectFactory()
    base = text(rng)
    keep = ItemFactory(project=project, data={"text": base})
    copy = ItemFactory(project=project, data={"text": near_copy(base, 1, rng)})
    run_job(project)
    items_drop(project=project, item_ids=[copy.pk], user=None)
    run_job(project)
    assert clusters(project) == []
    assert keep.pk  # the kept item is still there


def test_each_chunk_is_claimed_once_and_an_expired_claim_is_taken_over():
    project = ProjectFactory()
    ItemFactory.create_batch(6, project=project)
    run = JobRun.objects.create(project=project, kind="near_duplicates", status="running",
                                params=dict(near_duplicates.DEFAULTS, chunk=2))  # fmt: skip
    near_duplicates._plan(run, near_duplicates.dedup_params(run.params).key(), 2)
    claimed = [near_duplicates._claim(run.pk) for _ in range(4)]
    assert [c.number if c else None for c in claimed] == [0, 1, 2, None]
    JobChunk.objects.filter(run=run, number=1).update(
        claimed_until=timezone.now() - timedelta(seconds=1)  # its worker died
    )
    assert near_duplicates._claim(run.pk).number == 1
    assert near_duplicates.sign_available(run.pk) == 0  # nothing free: all held or done
