"""Freezing versions: what goes in, the records and their hash, byte-for-byte exports whatever
happens to the project later, idempotent reruns, and diffs of two known versions."""

import hashlib
import io
import json
import zipfile

import pytest

from adjudication.models import Review, ReviewStatus
from annotation.models import Annotation, LabelSchema
from curation.jobs import JobCancelled
from curation.models import (
    AuditEvent,
    AuditKind,
    BatchItem,
    BatchStatus,
    DatasetVersion,
    Item,
    JobRun,
    JobStatus,
    Split,
    SyntheticBatch,
    VersionRecord,
)
from curation.tasks import job_run_execute
from curation.versions import (
    diff_entries,
    version_diff,
    version_freeze_start,
    version_zip_file,
)
from curation.versions.freeze import freeze_version_job
from curation.versions.records import label_key
from tests.factories import ItemFactory

SCHEMA = {"labels": [{"value": v, "text": v} for v in ("billing", "refund", "other")]}


def annotate(item, annotators, labels):
    for annotator, label in zip(annotators, labels, strict=False):
        Annotation.objects.create(item=item, annotator=annotator, value={"label": label})


@pytest.fixture
def labelled(team):
    """The team's project with five items: unanimous, majority, decided by a reviewer,
    unlabelled, and dropped."""
    project = team.project
    Item.objects.filter(project=project).delete()
    LabelSchema.objects.create(project=project, kind="single_choice", config=SCHEMA)
    a = team.annotators
    items = {
        "u": ItemFactory(project=project, external_id="u", data={"text": "Charged twice"},
                         split=Split.TRAIN, source="production", metadata={"lang": "en"}),
        "m": ItemFactory(project=project, external_id="m",
                         data={"text": "Money back?", "channel": "email"}, split=Split.TRAIN),
        "d": ItemFactory(project=project, external_id="d", data={"text": "Hmm"},
                         split=Split.TEST),
        "n": ItemFactory(project=project, external_id="n", data={"text": "Nobody read me"}),
        "x": ItemFactory(project=project, external_id="x", data={"text": "Dropped"}),
    }  # fmt: skip
    annotate(items["u"], a, ["billing"] * 3)
    annotate(items["m"], a, ["refund", "refund", "billing"])
    annotate(items["d"], a, ["billing", "refund", "other"])
    Review.objects.create(item=items["d"], project=project, status=ReviewStatus.DECIDED,
                          value={"label": "other"}, rule="adjudicated")  # fmt: skip
    Item.objects.filter(pk=items["x"].pk).update(dropped_at="2026-01-01T00:00:00Z")
    return items


def freeze(team, note="First cut"):
    run = version_freeze_start(project=team.project, user=team.lead, note=note)
    job_run_execute.run(run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.DONE, run.message
    return team.project.versions.get(number=run.counts["version"])


def zip_bytes(version) -> bytes:
    with version_zip_file(version) as handle:
        return handle.read()


def records(version) -> dict:
    return {r.external_id: r for r in VersionRecord.objects.filter(version=version)}


def test_freeze_writes_one_record_per_item_with_its_final_label_and_rule(labelled, team):
    version = freeze(team)
    assert (version.number, version.note, version.created_by) == (1, "First cut", team.lead)
    found = records(version)
    assert set(found) == {"u", "m", "d", "n"}  # the dropped item is left out
    assert [found[k].position for k in ("u", "m", "d", "n")] == [0, 1, 2, 3]  # id order
    assert {k: (r.label, r.rule, r.split) for k, r in found.items()} == {
        "u": ("billing", "unanimous", "train"),
        "m": ("refund", "majority", "train"),
        "d": ("other", "adjudicated", "test"),
        "n": ("", "unlabeled", "unassigned"),
    }
    assert found["d"].label_key == '{"label":"other"}' and found["n"].label_key == ""
    assert found["u"].item_id == labelled["u"].pk
    record = json.loads(found["m"].record)
    assert record == {
        "id": "m", "text": "Money back?", "channel": "email", "label": "refund",
        "final": {"value": {"label": "refund"}, "rule": "majority"}, "split": "train",
        "source": "", "metadata": {}, "agreement": pytest.approx(1 / 3), "n_annotations": 3,
    }  # fmt: skip
    # Every record has the same keys (one schema for pyarrow), and no annotator names.
    assert {frozenset(json.loads(r.record)) for r in found.values()} == {frozenset(record)}
    assert json.loads(found["u"].record)["channel"] is None
    assert "anna_1" not in "".join(r.record for r in found.values())


def test_the_content_hash_is_sha256_of_the_records_as_json_lines(labelled, team):
    version = freeze(team)
    lines = VersionRecord.objects.filter(version=version).order_by("position")
    expected = hashlib.sha256("".join(r.record + "\n" for r in lines).encode()).hexdigest()
    assert version.content_hash == expected
    assert version.item_count == 4
    # The records are canonical JSON: sorted keys, no spaces.
    first = lines[0].record
    assert first == json.dumps(json.loads(first), sort_keys=True, separators=(",", ":"))


def test_summary_counts_splits_labels_rules_and_adjudication(labelled, team):
    summary = freeze(team).summary
    assert summary["splits"] == {"train": 2, "test": 1, "unassigned": 1}
    assert summary["labels"] == {"billing": 1, "refund": 1, "other": 1, "": 1}
    assert summary["labels_by_split"]["train"] == {"billing": 1, "refund": 1}
    assert summary["rules"] == {"unanimous": 1, "majority": 1, "adjudicated": 1, "unlabeled": 1}
    assert summary["sources"] == {"": 3, "production": 1}
    assert summary["adjudication"] == {"decided": 1, "rate": 0.25}
    assert summary["schema"]["kind"] == "single_choice"
    assert summary["agreement"]["alpha"] is None  # no agreement computed yet
    assert summary["frozen_by"] == "lena_lead"
    assert summary["project"]["name"] == "Support intents"
    assert summary["guidelines"]["sha256"] == hashlib.sha256(b"").hexdigest()[:12]
    assert summary["quality"] == {"open_findings": {}, "duplicate_pairs": 0,
                                  "leakage_findings": 0}  # fmt: skip


def test_summary_takes_agreement_from_the_latest_snapshot(labelled, team):
    from adjudication.models import AgreementSnapshot

    alpha = {"value": 0.71, "n": 3, "reason": "", "ci": [0.52, 0.88]}
    AgreementSnapshot.objects.create(project=team.project, data={"alpha": alpha, "kind": "x"},
                                     computed_at="2026-02-01T00:00:00Z")  # fmt: skip
    agreement = freeze(team).summary["agreement"]
    assert (agreement["alpha"], agreement["ci"], agreement["n"]) == (0.71, [0.52, 0.88], 3)
    assert agreement["stale"] is False


def test_freezing_then_changing_the_project_leaves_the_export_byte_for_byte(labelled, team):
    """The version's zip and hash do not move when annotations, decisions, splits, text and
    items change, or an item is deleted."""
    version = freeze(team)
    before, hash_before = zip_bytes(version), version.content_hash
    annotate(labelled["n"], team.annotators, ["refund"] * 3)
    Review.objects.filter(item=labelled["d"]).update(value={"label": "billing"})
    Item.objects.filter(pk=labelled["u"].pk).update(split=Split.TEST, data={"text": "Edited"})
    labelled["m"].delete()
    team.project.name = "Renamed"
    team.project.save()
    version = DatasetVersion.objects.get(pk=version.pk)
    assert zip_bytes(version) == before
    assert version.content_hash == hash_before
    # while the project's next version does see the changes
    assert freeze(team).content_hash != hash_before


def test_the_zip_holds_the_card_and_one_file_per_split(labelled, team):
    version = freeze(team)
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes(version)))
    assert archive.namelist() == ["README.md", "data/test.jsonl", "data/train.jsonl",
                                  "data/unassigned.jsonl"]  # fmt: skip
    train = archive.read("data/train.jsonl").decode().splitlines()
    assert [json.loads(line)["id"] for line in train] == ["u", "m"]
    assert all(info.date_time[:3] == version.created_at.timetuple()[:3]
               for info in archive.infolist())  # fmt: skip
    joined = b"".join(archive.read(f"data/{s}.jsonl") for s in ("train", "test", "unassigned"))
    assert len(joined.splitlines()) == 4


def test_held_back_synthetic_items_and_dropped_items_are_not_in_a_version(labelled, team):
    held = ItemFactory(project=team.project, external_id="synthetic-held", source="synthetic")
    passed = ItemFactory(project=team.project, external_id="synthetic-ok", source="synthetic")
    held_batch = SyntheticBatch.objects.create(project=team.project, item_count=1)
    passed_batch = SyntheticBatch.objects.create(project=team.project, item_count=1,
                                                 status=BatchStatus.PASSED)  # fmt: skip
    BatchItem.objects.create(batch=held_batch, item=held)
    BatchItem.objects.create(batch=passed_batch, item=passed)
    found = records(freeze(team))
    assert "synthetic-ok" in found
    assert "synthetic-held" not in found and "x" not in found


def test_a_rerun_of_the_freeze_job_makes_no_second_version(labelled, team):
    version = freeze(team)
    run = JobRun.objects.get(kind="freeze_version")
    assert freeze_version_job(run, lambda progress, counts: None)["version"] == 1
    # Even sent again as if lost: a queued copy of the same run keeps its counts.
    JobRun.objects.filter(pk=run.pk).update(status=JobStatus.QUEUED)
    job_run_execute.run(run.pk)
    assert DatasetVersion.objects.filter(project=team.project).count() == 1
    assert VersionRecord.objects.filter(version=version).count() == 4
    audit = AuditEvent.objects.filter(kind=AuditKind.VERSION_FROZEN)
    assert [(e.actor, e.detail) for e in audit] == [(team.lead, {"version": 1, "items": 4})]


def test_a_cancelled_freeze_leaves_nothing(labelled, team):
    run = version_freeze_start(project=team.project, user=team.lead)

    def cancel(progress, counts):
        raise JobCancelled

    with pytest.raises(JobCancelled):
        freeze_version_job(JobRun.objects.get(pk=run.pk), cancel)
    assert not DatasetVersion.objects.exists() and not VersionRecord.objects.exists()


def test_versions_are_numbered_per_project(labelled, team):
    assert [freeze(team).number for _ in range(3)] == [1, 2, 3]
    other = version_freeze_start(project=team.other_project, user=team.other_lead)
    job_run_execute.run(other.pk)
    assert team.other_project.versions.get().number == 1


# --- diffs ------------------------------------------------------------------------------------


def hand_built(project, number, rows):
    """A version with records (external_id, split, label) made by hand."""
    version = DatasetVersion.objects.create(project=project, number=number, content_hash="x")
    for position, (external_id, split, label) in enumerate(rows):
        value = {"label": label} if label else None
        VersionRecord.objects.create(version=version, position=position, item_id=position,
                                     external_id=external_id, split=split, label=label or "",
                                     label_key=label_key(value), record="{}")  # fmt: skip
    return version


@pytest.fixture
def two_versions(team):
    old = hand_built(team.project, 1, [
        ("a", "train", "pos"), ("b", "train", "neg"), ("c", "test", "pos"),
        ("d", "dev", "neg"), ("e", "train", None), ("gone", "test", "pos"),
    ])  # fmt: skip
    new = hand_built(team.project, 2, [
        ("a", "train", "pos"),       # unchanged
        ("b", "train", "pos"),       # relabeled
        ("c", "train", "pos"),       # moved
        ("d", "test", "pos"),        # moved and relabeled
        ("e", "train", "neg"),       # labelled at last: relabeled
        ("fresh", "train", "neg"),   # added
    ])  # fmt: skip
    return old, new


def test_diff_of_two_known_versions_gives_the_exact_sets(two_versions):
    old, new = two_versions
    diff = version_diff(old=old, new=new)
    assert diff.counts == {"added": 1, "removed": 1, "relabeled": 3, "moved": 2}
    entries = {kind: diff_entries(old, new, kind, limit=100) for kind in diff.counts}
    assert entries["added"] == [{"external_id": "fresh", "label": "neg", "split": "train"}]
    assert entries["removed"] == [{"external_id": "gone", "label": "pos", "split": "test"}]
    assert entries["relabeled"] == [
        {"external_id": "b", "old_label": "neg", "new_label": "pos"},
        {"external_id": "d", "old_label": "neg", "new_label": "pos"},
        {"external_id": "e", "old_label": "", "new_label": "neg"},
    ]
    assert entries["moved"] == [
        {"external_id": "c", "old_split": "test", "new_split": "train"},
        {"external_id": "d", "old_split": "dev", "new_split": "test"},
    ]
    assert diff.labels == [
        {"label": "pos", "old": 3, "new": 4, "change": 1},
        {"label": "neg", "old": 2, "new": 2, "change": 0},
        {"label": "", "old": 1, "new": 0, "change": -1},
    ]


def test_diff_lists_page_with_limit_and_offset(two_versions):
    old, new = two_versions
    page = diff_entries(old, new, "relabeled", limit=1, offset=1)
    assert page == [{"external_id": "d", "old_label": "neg", "new_label": "pos"}]
    assert diff_entries(old, new, "relabeled", limit=5, offset=3) == []


def test_diff_of_a_version_with_itself_is_empty(two_versions):
    old, _ = two_versions
    assert set(version_diff(old=old, new=old).counts.values()) == {0}


def test_diff_of_frozen_versions_sees_relabels_and_moves(labelled, team):
    first = freeze(team)
    Review.objects.filter(item=labelled["d"]).update(value={"label": "refund"})
    Item.objects.filter(pk=labelled["u"].pk).update(split=Split.DEV)
    labelled["n"].delete()
    second = freeze(team)
    diff = version_diff(old=first, new=second)
    assert diff.counts == {"added": 0, "removed": 1, "relabeled": 1, "moved": 1}
    assert diff_entries(first, second, "relabeled", limit=10) == [
        {"external_id": "d", "old_label": "other", "new_label": "refund"}
    ]
