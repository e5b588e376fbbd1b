"""The audits API: a lead draws (201 with the report), reviewers judge with the sample's
revision (a stale one is a 409 that changes nothing), the report has the Wilson interval
overall and per label, and ids of another project's audits, samples and batches are 404."""

import json

import pytest
from django.urls import reverse

from curation.audits import audit_draw
from curation.models import AuditSample, BatchStatus, SyntheticBatch
from curation.proportions import wilson_interval
from tests.curation.test_audits import make_version
from tests.factories import ItemFactory


def url(name, team, **kwargs):
    return reverse(f"api:{name}", kwargs={"slug": team.project.slug, **kwargs})


def send(client, method, path, body):
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


@pytest.fixture
def version(team):
    return make_version(team.project, ["pos"] * 6 + ["neg"] * 4)


def test_a_lead_draws_an_audit_and_gets_its_report(client_for, team, version):
    client = client_for(team.lead)
    body = {"version": version.number, "size": 5, "seed": 11, "stratified": True}
    response = send(client, "post", url("audit-list", team), body)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["audit"]["version"] == 1 and data["audit"]["seed"] == 11
    assert data["audit"]["stratified"] is True
    assert data["overall"] == {"label": None, "sampled": 5, "judged": 0, "remaining": 5,
                               "incorrect": 0, "rate": None, "low": None, "high": None}  # fmt: skip
    assert {row["label"]: row["sampled"] for row in data["per_label"]} == {"neg": 2, "pos": 3}
    listed = client.get(url("audit-list", team)).json()
    assert [a["id"] for a in listed["results"]] == [data["audit"]["id"]]


def test_draw_errors_name_the_field(client_for, team, version):
    client = client_for(team.lead)
    both = send(client, "post", url("audit-list", team), {"version": 1, "batch": 1})
    assert both.status_code == 400 and "version" in both.json()["errors"]
    missing = send(client, "post", url("audit-list", team), {"version": 9})
    assert missing.status_code == 400 and "version" in missing.json()["errors"]
    big = send(client, "post", url("audit-list", team), {"version": 1, "size": 10**6})
    assert big.status_code == 400 and "size" in big.json()["errors"]
    foreign = SyntheticBatch.objects.create(project=team.other_project, item_count=0)
    other = send(client, "post", url("audit-list", team), {"batch": foreign.pk})
    assert other.status_code == 400 and "batch" in other.json()["errors"]


def test_judging_through_the_api_updates_the_report_and_stale_revisions_are_409(
    client_for, team, version
):
    audit = audit_draw(project=team.project, user=team.lead, version=version, size=4, seed=3)
    client = client_for(team.reviewer)
    samples = client.get(url("audit-sample-list", team, audit_id=audit.pk)).json()["results"]
    assert [s["position"] for s in samples] == [1, 2, 3, 4]
    first = samples[0]
    path = url("audit-sample-detail", team, audit_id=audit.pk, sample_id=first["id"])
    body = {"verdict": "incorrect", "correct_value": {"label": "other"}, "comment": "No.",
            "revision": first["revision"]}  # fmt: skip
    response = send(client, "patch", path, body)
    assert response.status_code == 200, response.json()
    assert response.json()["revision"] == first["revision"] + 1
    assert response.json()["reviewer"] == team.reviewer.username

    stale = send(client, "patch", path, {"verdict": "correct", "revision": first["revision"]})
    assert stale.status_code == 409
    stored = AuditSample.objects.get(pk=first["id"])
    assert (stored.verdict, stored.comment) == ("incorrect", "No.")

    for sample in samples[1:]:
        path = url("audit-sample-detail", team, audit_id=audit.pk, sample_id=sample["id"])
        assert send(client, "patch", path, {"verdict": "correct", "revision": 0}).status_code == 200
    report = client.get(url("audit-detail", team, audit_id=audit.pk)).json()
    assert report["complete"] is True
    low, high = wilson_interval(1, 4)
    assert report["overall"]["rate"] == 0.25
    assert report["overall"]["low"] == pytest.approx(low) and report["overall"]["high"] == high
    assert [s["correct_value"] for s in report["incorrect"]] == [{"label": "other"}]
    pending = client.get(url("audit-sample-list", team, audit_id=audit.pk) + "?verdict=pending")
    assert pending.json()["count"] == 0
    bad_filter = client.get(url("audit-sample-list", team, audit_id=audit.pk) + "?verdict=x")
    assert bad_filter.status_code == 400


def test_a_verdict_must_be_correct_or_incorrect(client_for, team, version):
    audit = audit_draw(project=team.project, user=team.lead, version=version, size=1, seed=0)
    sample = audit.samples.get()
    path = url("audit-sample-detail", team, audit_id=audit.pk, sample_id=sample.pk)
    response = send(client_for(team.reviewer), "patch", path, {"verdict": "", "revision": 0})
    assert response.status_code == 400 and "verdict" in response.json()["errors"]
    unknown = send(client_for(team.reviewer), "patch", path,
                   {"verdict": "correct", "revision": 0, "reviewer": "x"})  # fmt: skip
    assert unknown.status_code == 400 and "reviewer" in unknown.json()["errors"]


def test_ids_of_another_project_are_not_found(client_for, team):
    """The other project's audit, sample and batch through this project's URLs: 404."""
    theirs = make_version(team.other_project, ["pos", "neg"])
    audit = audit_draw(project=team.other_project, user=team.other_lead, version=theirs, size=2)
    sample = audit.samples.first()
    batch = SyntheticBatch.objects.create(project=team.other_project, item_count=0)
    client = client_for(team.lead)
    assert client.get(url("audit-detail", team, audit_id=audit.pk)).status_code == 404
    assert client.get(url("audit-sample-list", team, audit_id=audit.pk)).status_code == 404
    path = url("audit-sample-detail", team, audit_id=audit.pk, sample_id=sample.pk)
    assert send(client, "patch", path, {"verdict": "correct", "revision": 0}).status_code == 404
    assert client.get(url("batch-detail", team, batch_id=batch.pk)).status_code == 404
    patch = send(client, "patch", url("batch-detail", team, batch_id=batch.pk),
                 {"max_error_rate": 0.5})  # fmt: skip
    assert patch.status_code == 404
    sample.refresh_from_db()
    batch.refresh_from_db()
    assert sample.verdict == "" and batch.max_error_rate == 0.05


def test_batches_list_and_threshold(client_for, team):
    """A batch passes once the threshold covers its complete audit's rate."""
    items = ItemFactory.create_batch(2, project=team.project, source="synthetic")
    batch = SyntheticBatch.objects.create(project=team.project, name="gen.jsonl", item_count=2)
    batch.members.create(item=items[0])
    batch.members.create(item=items[1])
    audit = audit_draw(project=team.project, user=team.lead, batch=batch, size=2, seed=0)
    reviewer = client_for(team.reviewer)
    for sample in audit.samples.order_by("position"):
        verdict = "incorrect" if sample.position == 1 else "correct"
        path = url("audit-sample-detail", team, audit_id=audit.pk, sample_id=sample.pk)
        assert send(reviewer, "patch", path, {"verdict": verdict, "revision": 0}).status_code == 200
    listed = reviewer.get(url("batch-list", team)).json()["results"]
    assert [(b["id"], b["status"], b["item_count"]) for b in listed] == [(batch.pk, "failed", 2)]
    assert listed[0]["latest_audit"]["rate"] == 0.5
    lead = client_for(team.lead)
    path = url("batch-detail", team, batch_id=batch.pk)
    assert send(lead, "patch", path, {"max_error_rate": 2}).status_code == 400
    response = send(lead, "patch", path, {"max_error_rate": 0.5})
    assert response.status_code == 200
    assert response.json()["status"] == BatchStatus.PASSED
