"""The split API: current splits, preview (writes nothing), apply (202 with the leakage job,
409 for an unconfirmed move out of a frozen test split), and errors that name the field."""

import json

import pytest
from django.urls import reverse

from curation.models import AuditEvent, AuditKind, DatasetVersion, Item, VersionRecord

PLAN = {"method": "stratified", "ratios": {"train": 0.6, "dev": 0.2, "test": 0.2}, "seed": 5}


def url(team, name="api:splits"):
    return reverse(name, kwargs={"slug": team.project.slug})


def post(client, address, body):
    return client.post(address, json.dumps(body), content_type="application/json")


@pytest.fixture
def lead(client, team):
    client.force_login(team.lead)
    return client


def test_reviewers_read_the_current_splits(client, team):
    team.project.items.update(split="dev")
    client.force_login(team.reviewer)
    body = client.get(url(team)).json()
    assert body["items"] == 5
    assert body["counts"] == {"unassigned": 0, "train": 0, "dev": 5, "test": 0}


def test_preview_answers_counts_and_writes_nothing(lead, team):
    before = list(Item.objects.values_list("pk", "split"))
    response = post(lead, url(team, "api:split-preview"), PLAN)
    assert response.status_code == 200
    body = response.json()
    assert [row["count"] for row in body["splits"]] == [3, 1, 1]
    assert body["changed"] == 5 and body["plan"]["method"] == "stratified"
    assert list(Item.objects.values_list("pk", "split")) == before


def test_apply_answers_202_with_the_leakage_job_and_writes(lead, team):
    response = post(lead, url(team), PLAN)
    assert response.status_code == 202
    body = response.json()
    assert body["job"]["kind"] == "leakage"
    assert sorted(team.project.items.values_list("split", flat=True)) == sorted(
        ["train"] * 3 + ["dev", "test"]
    )
    assert AuditEvent.objects.filter(kind=AuditKind.SPLITS_APPLIED, actor=team.lead).count() == 1


def test_an_unconfirmed_move_out_of_a_frozen_test_split_is_a_409(lead, team):
    items = list(team.project.items.all())
    team.project.items.update(split="test")
    version = DatasetVersion.objects.create(project=team.project, number=1, content_hash="0")
    for position, item in enumerate(items):
        VersionRecord.objects.create(
            version=version, position=position, item_id=item.pk,
            external_id=item.external_id, split="test", record="{}",
        )  # fmt: skip
    refused = post(lead, url(team), PLAN)
    assert refused.status_code == 409
    assert refused.json()["frozen_test_moved"] == 4
    assert "4 items of a frozen version's test split" in refused.json()["detail"]
    assert set(team.project.items.values_list("split", flat=True)) == {"test"}
    confirmed = post(lead, url(team), {**PLAN, "confirm_frozen_test": True})
    assert confirmed.status_code == 202 and confirmed.json()["frozen_test_moved"] == 4


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"method": "shuffle"}, "method"),
        ({"ratios": {"train": 60, "dev": 20, "test": 20}}, "ratios"),
        ({"ratios": {"train": 0.6, "test": 0.4, "val": 0}}, "ratios.val"),
        ({"group_key": "customer id"}, "group_key"),
        ({"method": "time"}, "date_field"),
        ({"seed": "seven"}, "seed"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_validation_errors_name_the_field(lead, team, change, field):
    response = post(lead, url(team, "api:split-preview"), {**PLAN, **change})
    assert response.status_code == 400
    assert field in response.json()["errors"]
