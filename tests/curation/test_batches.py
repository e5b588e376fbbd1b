"""Synthetic batches: a committed import's synthetic items form a held batch that stays out of
versions (items_held_back) until an audit of it passes the lead's threshold; a failing audit
keeps it held, a new audit or a new threshold decides again. Imports without synthetic items,
and imports that roll back, make no batch."""

import orjson
import pytest

from curation.audits import audit_draw, audit_sample_judge
from curation.batches import (
    batch_collect_loose,
    batch_threshold_set,
    items_held_back,
    loose_synthetic_items,
)
from curation.importing import pipeline
from curation.jobs import JobFailed
from curation.models import (
    AuditEvent,
    AuditKind,
    BatchStatus,
    Item,
    JobStatus,
    SyntheticBatch,
    Verdict,
)
from tests.factories import ItemFactory, ProjectFactory


def jsonl(*rows) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def rows(prefix: str, n: int, source: str = "synthetic") -> list[dict]:
    return [{"id": f"{prefix}-{i}", "text": f"{prefix} text {i}", "source": source}
            for i in range(n)]  # fmt: skip


def held(project) -> set[int]:
    return set(items_held_back(project=project).values_list("pk", flat=True))


def ids(project, prefix: str) -> set[int]:
    return set(project.items.filter(external_id__startswith=prefix).values_list("pk", flat=True))


def judge_all(audit, reviewer, incorrect: int) -> None:
    """Marks the first `incorrect` samples incorrect and the rest correct."""
    for n, sample in enumerate(audit.samples.order_by("position")):
        verdict = Verdict.INCORRECT if n < incorrect else Verdict.CORRECT
        audit_sample_judge(sample=sample, reviewer=reviewer, verdict=verdict,
                           revision=sample.revision)  # fmt: skip


def test_a_synthetic_import_makes_a_held_batch_whose_items_are_held_back(team, run_import):
    job = run_import(jsonl(*rows("syn", 6), *rows("real", 3, source="vendor")), "gen-v1.jsonl")
    assert job.status == JobStatus.DONE, job.message
    batch = SyntheticBatch.objects.get(project=team.project)
    assert (batch.name, batch.run, batch.item_count, batch.status) == (
        "gen-v1.jsonl", job, 6, BatchStatus.HELD,
    )  # fmt: skip
    assert set(batch.members.values_list("item_id", flat=True)) == ids(team.project, "syn")
    assert held(team.project) == ids(team.project, "syn")
    # What a version's freeze keeps: everything else.
    kept = Item.objects.filter(project=team.project).exclude(
        pk__in=items_held_back(project=team.project)
    )
    assert ids(team.project, "real") <= set(kept.values_list("pk", flat=True))


def test_a_passing_audit_releases_the_batch_and_a_failing_one_keeps_it(team, run_import):
    """Threshold 10%: 1 incorrect of 10 passes (10% ≤ 10%); in another batch, 2 of 10 fail."""
    run_import(jsonl(*rows("good", 10)), "good.jsonl")
    run_import(jsonl(*rows("bad", 10)), "bad.jsonl")
    good = SyntheticBatch.objects.get(name="good.jsonl")
    bad = SyntheticBatch.objects.get(name="bad.jsonl")
    for batch in (good, bad):
        batch_threshold_set(batch=batch, user=team.lead, max_error_rate=0.10)
    good_audit = audit_draw(project=team.project, user=team.lead, batch=good, size=10, seed=1)
    bad_audit = audit_draw(project=team.project, user=team.lead, batch=bad, size=10, seed=1)
    assert good_audit.samples.count() == 10
    assert set(good_audit.samples.values_list("item_id", flat=True)) == ids(team.project, "good")

    judge_all(good_audit, team.reviewer, incorrect=1)
    judge_all(bad_audit, team.reviewer, incorrect=2)
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == BatchStatus.PASSED and good.decided_at is not None
    assert bad.status == BatchStatus.FAILED
    assert held(team.project) == ids(team.project, "bad")


def test_a_batch_is_held_until_its_audit_is_complete(team, run_import):
    run_import(jsonl(*rows("syn", 4)))
    batch = SyntheticBatch.objects.get()
    audit = audit_draw(project=team.project, user=team.lead, batch=batch, size=4, seed=2)
    samples = list(audit.samples.order_by("position"))
    for sample in samples[:3]:
        audit_sample_judge(sample=sample, reviewer=team.reviewer, verdict=Verdict.CORRECT,
                           revision=0)  # fmt: skip
    batch.refresh_from_db()
    assert batch.status == BatchStatus.HELD
    assert held(team.project) == ids(team.project, "syn")
    audit_sample_judge(sample=samples[3], reviewer=team.reviewer, verdict=Verdict.CORRECT,
                       revision=0)  # fmt: skip
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PASSED
    assert held(team.project) == set()


def test_the_latest_complete_audit_decides_and_a_new_threshold_decides_again(team, run_import):
    """A failed batch gets a new audit; while it is being judged the old result stands; once
    complete it decides. Raising the threshold afterwards re-decides from that audit, and the
    change is in the audit trail."""
    run_import(jsonl(*rows("syn", 10)))
    batch = SyntheticBatch.objects.get()  # threshold 5% by default
    first = audit_draw(project=team.project, user=team.lead, batch=batch, size=10, seed=1)
    judge_all(first, team.reviewer, incorrect=3)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED
    second = audit_draw(project=team.project, user=team.lead, batch=batch, size=10, seed=2)
    batch_threshold_set(batch=batch, user=team.lead, max_error_rate=0.05)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED  # the incomplete second audit does not count yet
    judge_all(second, team.reviewer, incorrect=1)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED  # 10% > 5%
    batch = batch_threshold_set(batch=batch, user=team.lead, max_error_rate=0.1)
    assert batch.status == BatchStatus.PASSED
    event = AuditEvent.objects.filter(kind=AuditKind.SYNTHETIC_BATCH_CHANGED).first()
    assert event.detail == {"batch": batch.pk, "old": 0.05, "new": 0.1, "status": "passed"}
    assert event.actor == team.lead
    with pytest.raises(Exception, match="between 0 and 1"):
        batch_threshold_set(batch=batch, user=team.lead, max_error_rate=1.5)


def test_an_import_without_synthetic_items_makes_no_batch(team, run_import):
    job = run_import(jsonl(*rows("real", 5, source="production")))
    assert job.status == JobStatus.DONE
    assert not SyntheticBatch.objects.exists()
    assert held(team.project) == set()


def test_an_import_that_rolls_back_leaves_no_batch(team, run_import, monkeypatch):
    """A failure after the batch was recorded, inside the import's transaction, takes the
    batch with it; so does an import refused for a bad row."""
    before = Item.objects.count()

    def boom(**kwargs):
        raise JobFailed("The disk is full.")

    monkeypatch.setattr(pipeline, "job_run_complete", boom)
    job = run_import(jsonl(*rows("syn", 3)))
    assert job.status == JobStatus.FAILED
    assert not SyntheticBatch.objects.exists()
    assert Item.objects.count() == before
    monkeypatch.undo()
    job = run_import(jsonl(*rows("syn", 3), {"id": "broken", "text": 42, "source": "synthetic"}))
    assert job.status == JobStatus.FAILED
    assert not SyntheticBatch.objects.exists()


def test_synthetic_items_added_one_by_one_are_held_until_collected(team, run_import):
    """An item with source synthetic created outside an import is held back at once; the next
    import's batch takes it along, or a lead collects it into a batch of its own."""
    loose = ItemFactory(project=team.project, source="synthetic")
    assert held(team.project) == {loose.pk}
    assert list(loose_synthetic_items(project=team.project)) == [loose]
    batch = batch_collect_loose(project=team.project, user=team.lead)
    assert batch.item_count == 1 and batch.run is None
    assert batch_collect_loose(project=team.project, user=team.lead) is None
    late = ItemFactory(project=team.project, source="synthetic")
    run_import(jsonl(*rows("syn", 2)))
    newest = SyntheticBatch.objects.order_by("-id").first()
    assert set(newest.members.values_list("item_id", flat=True)) == ids(team.project, "syn") | {
        late.pk
    }
    assert held(team.project) == ids(team.project, "syn") | {late.pk, loose.pk}


def test_an_import_without_synthetic_rows_still_collects_loose_items(team, run_import):
    """Only an import into an empty project with no synthetic rows skips the collection (it
    has nothing to collect); any other import takes loose synthetic items along."""
    loose = ItemFactory(project=team.project, source="synthetic")
    run_import(jsonl({"id": "p1", "text": "from production", "source": "production"}))
    batch = SyntheticBatch.objects.get()
    assert list(batch.members.values_list("item_id", flat=True)) == [loose.pk]
    empty = ProjectFactory()
    run_import(jsonl({"id": "p2", "text": "from production"}), project=empty)
    assert SyntheticBatch.objects.count() == 1
