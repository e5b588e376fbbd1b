"""Split design against the database (curation.splits) and its page (curation.split_views):
the inputs (final labels, near-duplicate clusters, a metadata key, a metadata date), a preview
that writes nothing, applying (bulk writes, an audit event, the leakage job) and the frozen test
split that never moves without a confirmation."""

from collections import defaultdict

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from curation.models import (
    AuditEvent,
    AuditKind,
    DatasetVersion,
    DuplicatePair,
    Finding,
    FindingKind,
    Item,
    JobRun,
    JobStatus,
    VersionRecord,
)
from curation.quality.near_duplicates import DEFAULTS, KIND, dedup_params
from curation.splits import FrozenTestMove, split_apply, split_current, split_plan, split_preview
from tests.conftest import jobs_in_process
from tests.factories import ItemFactory, ProjectFactory


def plan(method="random", train=0.6, dev=0.2, test=0.2, seed=1, **extra):
    return split_plan(method=method, ratios={"train": train, "dev": dev, "test": test},
                      seed=seed, **extra)  # fmt: skip


def splits_of(project) -> dict[int, str]:
    return dict(Item.objects.filter(project=project).values_list("pk", "split"))


@pytest.fixture
def project(db):
    return ProjectFactory()


def labelled(project, labels: list[str], **fields):
    """One item per label, its final label set as a gold answer (the adjudication enricher's
    "gold" rule)."""
    return [ItemFactory(project=project, gold={"label": label}, **fields) for label in labels]


# --- plans ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "alphabetical"}, "method"),
        ({"train": 0.5}, "ratios"),
        ({"train": -0.2, "dev": 0.6}, "ratios.train"),
        ({"seed": -1}, "seed"),
        ({"group_key": "customer id"}, "group_key"),
        ({"group_key": "x" * 65}, "group_key"),
        ({"method": "time"}, "date_field"),
        ({"method": "time", "date_field": "created'; DROP TABLE x"}, "date_field"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_field(kwargs, field):
    with pytest.raises(ValidationError) as refused:
        plan(**kwargs)
    assert field in refused.value.message_dict


# --- preview ----------------------------------------------------------------------------------


def test_preview_shows_counts_and_label_shares_and_writes_nothing(project):
    items = labelled(project, ["pos"] * 60 + ["neg"] * 40)
    before = splits_of(project)
    events, runs = AuditEvent.objects.count(), JobRun.objects.count()
    preview = split_preview(project=project, plan=plan("stratified", 0.7, 0.1, 0.2))
    assert splits_of(project) == before
    assert AuditEvent.objects.count() == events and JobRun.objects.count() == runs
    assert [row["count"] for row in preview["splits"]] == [70, 10, 20]
    rows = {row["label"]: row for row in preview["labels"]}
    assert (rows["pos"]["train"], rows["pos"]["dev"], rows["pos"]["test"]) == (42, 6, 12)
    assert (rows["neg"]["train"], rows["neg"]["dev"], rows["neg"]["test"]) == (28, 4, 8)
    assert rows["pos"]["test_share"] == 0.6
    assert preview["changed"] == len(items)  # all were unassigned


def test_items_without_a_final_label_form_their_own_row(project):
    labelled(project, ["pos"] * 3)
    ItemFactory.create_batch(2, project=project)
    preview = split_preview(project=project, plan=plan())
    assert [row["label"] for row in preview["labels"]] == ["pos", "(no final label)"]
    assert preview["labels"][1]["total"] == 2


def test_dropped_items_are_left_out_and_keep_their_split(project):
    labelled(project, ["a"] * 10)
    dropped = ItemFactory(project=project, split="dev", dropped_at=timezone.now())
    split_apply(project=project, user=None, plan=plan())
    dropped.refresh_from_db()
    assert dropped.split == "dev"
    assert split_current(project=project)["items"] == 10


# --- groups -----------------------------------------------------------------------------------


def test_items_sharing_a_metadata_key_land_in_one_split(project):
    for n in range(60):
        ItemFactory(project=project, metadata={"customer": f"c{n % 12}"})
    for seed in range(5):
        split_apply(project=project, user=None,
                    plan=plan(seed=seed, group_key="customer", keep_clusters=False))  # fmt: skip
        by_customer = defaultdict(set)
        for metadata, split in Item.objects.filter(project=project).values_list(
            "metadata", "split"
        ):
            by_customer[metadata["customer"]].add(split)
        assert all(len(splits) == 1 for splits in by_customer.values())


def test_a_key_with_double_underscores_is_one_json_key_not_a_path(project):
    """ "a__b" names the key "a__b"; a nested {"a": {"b": ...}} is not read through it."""
    for n in range(30):
        ItemFactory(project=project, metadata={"a__b": "same", "a": {"b": n}})
    preview = split_preview(project=project, plan=plan(group_key="a__b", keep_clusters=False))
    assert preview["groups"] == {"count": 1, "items": 30, "largest": 30, "clusters_from": ""}


def near_duplicate_run(project, pairs):
    """A finished near-duplicate run and its stored pairs, as the job leaves them."""
    key = dedup_params(DEFAULTS).key()
    JobRun.objects.create(project=project, kind=KIND, status=JobStatus.DONE, params=DEFAULTS,
                          finished_at=timezone.now())  # fmt: skip
    for a, b in pairs:
        DuplicatePair.objects.create(project=project, params=key, first=min(a, b, key=_pk),
                                     second=max(a, b, key=_pk), jaccard=0.9)  # fmt: skip
    return key


def _pk(item):
    return item.pk


def test_near_duplicate_clusters_and_metadata_groups_join_transitively(project):
    """a~b are near-duplicates, b and c share a conversation, c~d near-duplicates: all four
    land in one split, for every seed."""
    items = [ItemFactory(project=project) for _ in range(40)]
    a, b, c, d = items[:4]
    for item, conversation in ((b, "x"), (c, "x")):
        item.metadata = {"conversation": conversation}
        item.save()
    key = near_duplicate_run(project, [(a, b), (c, d)])
    for seed in range(6):
        summary, _ = split_apply(project=project, user=None,
                                 plan=plan(seed=seed, group_key="conversation"))  # fmt: skip
        assert len({splits_of(project)[i.pk] for i in (a, b, c, d)}) == 1
    assert summary["groups"]["largest"] == 4 and summary["groups"]["clusters_from"] == key


def test_without_keep_clusters_the_pairs_are_ignored(project):
    items = [ItemFactory(project=project) for _ in range(10)]
    near_duplicate_run(project, [(items[0], items[1])])
    preview = split_preview(project=project, plan=plan(keep_clusters=False))
    assert preview["groups"]["count"] == 0


# --- time -------------------------------------------------------------------------------------


def test_time_based_puts_older_items_in_train_and_newer_in_test(project):
    dated = [ItemFactory(project=project, metadata={"sent": f"2024-01-{day:02d}T10:00:00Z"})
             for day in range(1, 21)]  # fmt: skip
    odd = ItemFactory(project=project, metadata={"sent": "yesterday"})
    missing = ItemFactory(project=project, metadata={})
    summary, _ = split_apply(project=project, user=None,
                             plan=plan("time", 0.6, 0.2, 0.2, date_field="sent"))  # fmt: skip
    now = splits_of(project)
    order = [now[item.pk] for item in dated]
    assert order == sorted(order, key=["train", "dev", "test"].index)
    assert order.count("test") >= 4 and now[odd.pk] == now[missing.pk] == "train"
    assert (summary["undated"], summary["missing_dates"], summary["unparsed_dates"]) == (2, 1, 1)


# --- apply ------------------------------------------------------------------------------------


def test_apply_writes_the_preview_audits_and_starts_the_leakage_job(
    team, django_capture_on_commit_callbacks
):
    """The leakage job runs after commit and its findings appear: ten items share one text,
    so some land in test with a twin in train."""
    project = team.project
    ItemFactory.create_batch(10, project=project, data={"text": "Where is my parcel?"})
    ItemFactory.create_batch(20, project=project)
    the_plan = plan(seed=4)
    preview = split_preview(project=project, plan=the_plan)
    with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
        summary, run = split_apply(project=project, user=team.lead, plan=the_plan)
    assert summary == preview
    counts = dict.fromkeys(("train", "dev", "test"), 0)
    for split in splits_of(project).values():
        counts[split] += 1
    assert list(counts.values()) == [row["count"] for row in preview["splits"]]
    event = AuditEvent.objects.get(project=project, kind=AuditKind.SPLITS_APPLIED)
    assert event.actor == team.lead and event.detail["plan"]["seed"] == 4
    assert event.detail["counts"] == {"train": 21, "dev": 7, "test": 7}
    run.refresh_from_db()
    assert run.kind == "leakage" and run.status == JobStatus.DONE
    leaked = Finding.objects.filter(project=project, kind=FindingKind.LEAKAGE)
    assert leaked.count() == run.counts["leaked"] > 0


def test_applying_the_same_plan_again_moves_nothing(project):
    labelled(project, ["a", "b"] * 20)
    first, _ = split_apply(project=project, user=None, plan=plan("stratified", seed=9))
    before = splits_of(project)
    again, _ = split_apply(project=project, user=None, plan=plan("stratified", seed=9))
    assert first["changed"] == 40 and again["changed"] == 0
    assert splits_of(project) == before


# --- the frozen test split --------------------------------------------------------------------


def frozen_version(project, items):
    """A frozen version whose test split holds `items` (records built by hand)."""
    version = DatasetVersion.objects.create(project=project, number=1, content_hash="0" * 64,
                                            item_count=len(items))  # fmt: skip
    for position, item in enumerate(items):
        VersionRecord.objects.create(version=version, position=position, item_id=item.pk,
                                     external_id=item.external_id, split="test",
                                     record="{}")  # fmt: skip
    return version


def test_frozen_test_items_never_move_without_confirmation(project):
    items = ItemFactory.create_batch(30, project=project, split="test")
    frozen_version(project, items[:10])
    the_plan = plan(train=0.8, dev=0.1, test=0.1, seed=2)
    preview = split_preview(project=project, plan=the_plan)
    moving = preview["frozen_test_moved"]
    assert preview["frozen_test"] == 10 and moving > 0
    with pytest.raises(FrozenTestMove) as refused:
        split_apply(project=project, user=None, plan=the_plan)
    assert refused.value.count == moving and f"{moving} item" in str(refused.value)
    assert set(splits_of(project).values()) == {"test"}
    assert not AuditEvent.objects.filter(kind=AuditKind.SPLITS_APPLIED).exists()
    summary, _ = split_apply(project=project, user=None, plan=the_plan, confirm_frozen_test=True)
    now = splits_of(project)
    assert sum(now[i.pk] != "test" for i in items[:10]) == moving == summary["frozen_test_moved"]


def test_a_plan_that_keeps_frozen_test_items_in_test_needs_no_confirmation(project):
    items = ItemFactory.create_batch(10, project=project, split="test")
    frozen_version(project, items)
    summary, _ = split_apply(project=project, user=None, plan=plan(train=0, dev=0, test=1))
    assert summary["frozen_test_moved"] == 0 and summary["changed"] == 0


# --- the page ---------------------------------------------------------------------------------


def page(project):
    return reverse("curation:splits", kwargs={"slug": project.slug})


FORM = {"method": "stratified", "train": "70", "dev": "10", "test": "20", "seed": "3",
        "keep_clusters": "on"}  # fmt: skip


def test_the_page_shows_current_splits_and_the_form(client, team):
    client.force_login(team.lead)
    team.project.items.update(split="train")
    response = client.get(page(team.project))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="split-current"' in html and 'id="split-design"' in html
    assert response.context["current"]["counts"]["train"] == 5


def test_the_htmx_preview_answers_the_design_partial_and_writes_nothing(client, team):
    client.force_login(team.lead)
    before = splits_of(team.project)
    response = client.post(page(team.project), {**FORM, "action": "preview"},
                           headers={"HX-Request": "true"})  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<section id="split-design"')
    assert "Preview (nothing is written yet)" in html and 'value="apply"' in html
    assert splits_of(team.project) == before


def test_percentages_that_do_not_add_up_are_shown_on_the_form(client, team):
    client.force_login(team.lead)
    response = client.post(page(team.project), {**FORM, "test": "50", "action": "preview"},
                           headers={"HX-Request": "true"})  # fmt: skip
    assert response.status_code == 200
    assert "must add up to 100" in response.content.decode()


def test_the_htmx_apply_shows_the_leakage_job_and_refreshes_the_counts(client, team):
    client.force_login(team.lead)
    response = client.post(page(team.project), {**FORM, "action": "apply"},
                           headers={"HX-Request": "true"})  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200 and 'id="job-report"' in html
    assert "splits-applied" in response.headers["HX-Trigger"]
    assert set(splits_of(team.project).values()) <= {"train", "dev", "test"}
    refreshed = client.get(page(team.project), headers={"HX-Request": "true"})
    assert refreshed.content.decode().lstrip().startswith('<section id="split-current"')


def test_the_page_asks_for_the_frozen_test_confirmation(client, team):
    client.force_login(team.lead)
    items = list(team.project.items.all())
    team.project.items.update(split="test")
    frozen_version(team.project, items)
    form = {**FORM, "train": "100", "dev": "0", "test": "0"}
    preview = client.post(page(team.project), {**form, "action": "preview"},
                          headers={"HX-Request": "true"})  # fmt: skip
    assert "Move 5 items out of the frozen test split" in preview.content.decode()
    refused = client.post(page(team.project), {**form, "action": "apply"},
                          headers={"HX-Request": "true"})  # fmt: skip
    assert "would move out of test" in refused.content.decode()
    assert set(splits_of(team.project).values()) == {"test"}
    client.post(page(team.project), {**form, "action": "apply", "confirm_frozen_test": "on"},
                headers={"HX-Request": "true"})  # fmt: skip
    assert set(splits_of(team.project).values()) == {"train"}
