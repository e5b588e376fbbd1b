"""The item checks and leakage jobs end to end: items in the database, the job run as a JobRun,
findings stored once, kept across reruns, and the lead's resolutions kept."""

from contextlib import contextmanager

import pytest

from annotation.models import LabelSchema
from curation.models import Finding, ItemHash, JobRun
from curation.quality.findings import finding_resolve
from curation.quality.registry import quality_job_start
from tests.conftest import jobs_in_process
from tests.factories import ItemFactory, ProjectFactory

pytestmark = pytest.mark.django_db

PASSAGE = ("the quick brown fox jumps over the lazy dog while the cat sleeps on the warm "
           "windowsill of the old farmhouse near the river bend")  # fmt: skip
LICENCE = ("permission is hereby granted free of charge to any person obtaining a copy of this "
           "software and associated documentation files to deal in the software")  # fmt: skip


@pytest.fixture
def run_job(django_capture_on_commit_callbacks):
    """run_job(project, kind, **params) runs a quality job in this process; returns the run."""

    @contextmanager
    def running():
        with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
            yield

    def run(project, kind, **params):
        with running():
            job = quality_job_start(project=project, kind=kind, params=params)
        job.refresh_from_db()
        assert job.status == "done", job.message
        return job

    return run


def findings(project, kind) -> dict[str, Finding]:
    return {f.key: f for f in Finding.objects.filter(project=project, kind=kind)}


def test_item_checks_find_each_problem_once_and_keep_resolutions(run_job):
    project = ProjectFactory()
    empty = ItemFactory(project=project, data={"text": "   "})
    card = ItemFactory(project=project, data={"text": "Pay with 4242 4242 4242 4242 please"})
    shout = ItemFactory(project=project, data={"text": "Help" + "!" * 40})
    ItemFactory(project=project, data={"text": "A perfectly ordinary support question."})
    run = run_job(project, "item_checks")
    found = findings(project, "item_check")
    assert {f"{empty.pk}:empty", f"{card.pk}:personal_data",
            f"{shout.pk}:repeated_characters"} <= set(found)  # fmt: skip
    assert "ending 4242" in found[f"{card.pk}:personal_data"].message
    assert "4242 4242" not in found[f"{card.pk}:personal_data"].message  # masked
    assert run.counts["items"] == 4
    finding_resolve(finding=found[f"{card.pk}:personal_data"], user=None,
                    status="not_a_problem", note="test card")  # fmt: skip
    shout.data = {"text": "Help!"}
    shout.save()
    run_job(project, "item_checks")
    again = findings(project, "item_check")
    assert again[f"{card.pk}:personal_data"].status == "not_a_problem"  # kept
    # Fixed at the source: its findings are gone; nothing is doubled.
    assert set(again) == {key for key in found if not key.startswith(f"{shout.pk}:")}


def test_item_checks_know_what_the_schema_needs(run_job):
    project = ProjectFactory()
    LabelSchema.objects.create(project=project, kind="preference", config={})
    broken = ItemFactory(project=project, data={"prompt": "Which is kinder?", "response_a": "Yes"})
    ItemFactory(project=project, data={"prompt": "Q", "response_a": "A one", "response_b": "B"})
    run_job(project, "item_checks")
    found = findings(project, "item_check")
    assert list(found) == [f"{broken.pk}:schema_mismatch"]
    assert "response_b" in found[f"{broken.pk}:schema_mismatch"].message


def test_leakage_finds_exact_and_ngram_overlaps_and_nothing_on_a_clean_split(run_job):
    project = ProjectFactory()
    train_exact = ItemFactory(project=project, split="train", data={"text": "Reset my password"})
    test_exact = ItemFactory(project=project, split="test", data={"text": "  reset MY password "})
    train_long = ItemFactory(project=project, split="train",
                             data={"text": f"Story one: {PASSAGE}. The end."})  # fmt: skip
    test_long = ItemFactory(project=project, split="dev",
                            data={"text": f"Another tale where {PASSAGE} and more."})  # fmt: skip
    ItemFactory(project=project, split="test", data={"text": "Completely unrelated words here"})
    run = run_job(project, "leakage")
    found = {f.item_id: f for f in Finding.objects.filter(project=project, kind="leakage")}
    assert set(found) == {test_exact.pk, test_long.pk}
    assert found[test_exact.pk].detail["exact"] == [train_exact.pk]
    assert found[test_exact.pk].rule == "train_vs_test"
    ngram = found[test_long.pk]
    assert ngram.rule == "train_vs_dev" and ngram.items == [train_long.pk]
    assert 0.5 < ngram.detail["covered_token_share"] < 1.0
    assert run.counts["train_vs_test"] == 1 and run.counts["dev_vs_test"] == 0
    # A second run hashes nothing again and stores the same findings.
    rows = ItemHash.objects.count()
    second = run_job(project, "leakage")
    assert second.counts["hashed"] == 0 and ItemHash.objects.count() == rows
    assert Finding.objects.filter(project=project, kind="leakage").count() == 2


def test_boilerplate_shared_by_many_items_is_not_leakage(run_job):
    project = ProjectFactory()
    for i in range(12):
        split = "train" if i % 2 else "test"
        own = " ".join(f"topic{i}word{k}" for k in range(60))  # what the item is about
        ItemFactory(project=project, split=split, data={"text": f"{own}. {LICENCE}"})
    run_job(project, "leakage", min_df_count=5)
    assert not Finding.objects.filter(project=project, kind="leakage").exists()


def test_unknown_parameters_are_refused_by_name():
    from django.core.exceptions import ValidationError

    project = ProjectFactory()
    with pytest.raises(ValidationError) as refused:
        quality_job_start(project=project, kind="leakage", params={"n": "thirteen", "x": 1})
    assert set(refused.value.message_dict) == {"params.n", "params.x"}
    assert not JobRun.objects.filter(project=project).exists()


def test_leakage_reports_near_duplicates_across_splits(run_job):
    """A dev item that is a near-copy of a train item (one word in forty changed) is found by
    the MinHash signatures and verified by exact Jaccard; its twin and Jaccard are reported."""
    project = ProjectFactory()
    words = [f"word{i}" for i in range(40)]
    train = ItemFactory(project=project, split="train", data={"text": " ".join(words)})
    changed = [*words[:20], "different", *words[21:]]
    dev = ItemFactory(project=project, split="dev", data={"text": " ".join(changed)})
    ItemFactory(project=project, split="test", data={"text": "an unrelated text " * 5})
    run_job(project, "leakage")
    finding = Finding.objects.get(project=project, kind="leakage")
    assert finding.item_id == dev.pk and finding.rule == "train_vs_dev"
    near = finding.detail["near"]
    assert [entry["item"] for entry in near] == [train.pk] and near[0]["jaccard"] >= 0.8


def test_resolving_a_finding_is_in_the_audit_trail(run_job):
    from curation.models import AuditEvent
    from tests.factories import UserFactory

    project = ProjectFactory()
    ItemFactory(project=project, data={"text": ""})
    run_job(project, "item_checks")
    lead = UserFactory()
    finding = Finding.objects.filter(project=project).first()
    finding_resolve(finding=finding, user=lead, status="fixed", note="filled in")
    event = AuditEvent.objects.get(kind="finding_resolved")
    assert (event.actor, event.project, event.detail["finding"], event.detail["status"]) == (
        lead, project, finding.pk, "fixed")  # fmt: skip
