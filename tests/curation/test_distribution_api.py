"""The distribution API: the label distribution with its breakdown and chi-square test, the
comparison with a reference sample, and the reference samples (list, upload, delete). Bad
parameters are 400s naming the parameter; another project's reference is not found."""

import numpy as np
import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency

from curation.models import (
    AuditEvent,
    AuditKind,
    DatasetVersion,
    DistributionReference,
    VersionRecord,
)
from tests.factories import ItemFactory


def url(name: str, team, **kwargs) -> str:
    return reverse(f"api:{name}", kwargs={"slug": team.project.slug, **kwargs})


# Labels × region: (label, region, count); gold answers make the final labels.
CELLS = [("pos", "north", 30), ("pos", "south", 10), ("neg", "north", 12), ("neg", "south", 25)]


@pytest.fixture
def gold_items(team):
    team.project.items.update(dropped_at=timezone.now())
    for label, region, count in CELLS:
        for _ in range(count):
            ItemFactory(project=team.project, gold={"label": label}, metadata={"region": region})
    return team.project


def test_distribution_with_breakdown_matches_scipy(api_for, team, gold_items):
    response = api_for(team.reviewer).get(url("distribution", team), {"by": "region"})
    assert response.status_code == 200
    body = response.json()
    assert body["labels"]["total"] == 77
    assert {row["label"]: row["count"] for row in body["labels"]["rows"]} == {"pos": 40, "neg": 37}
    table = body["crosstab"]
    assert table["rows"] == ["pos", "neg"] and table["cols"] == ["north", "south"]
    assert table["table"] == [[30, 10], [12, 25]]
    expected = chi2_contingency(np.array([[30, 10], [12, 25]]), correction=False)
    figures = table["chi_square"]
    assert figures["statistic"] == pytest.approx(expected.statistic)
    assert figures["p_value"] == pytest.approx(expected.pvalue)
    assert figures["dof"] == 1
    assert figures["independent"] is False
    assert figures["yates_correction"] is False


def test_distribution_of_a_version_and_split(api_for, team):
    version = DatasetVersion.objects.create(project=team.project, number=3, content_hash="0" * 64)
    for i, (split, label) in enumerate([("train", "a"), ("train", "b"), ("test", "a")]):
        VersionRecord.objects.create(
            version=version, position=i, item_id=i, external_id=f"x{i}", split=split,
            label=label, record=orjson.dumps({"metadata": {}}).decode(),
        )  # fmt: skip
    response = api_for(team.lead).get(url("distribution", team), {"version": 3, "split": "train"})
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == {"version": 3, "split": "train", "title": "version 3, train split"}
    assert {row["label"]: row["count"] for row in body["labels"]["rows"]} == {"a": 1, "b": 1}
    assert body["crosstab"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"by": "a b"}, "by"),
        ({"by": "x" * 65}, "by"),
        ({"version": 9}, "version"),
        ({"version": "x"}, "version"),
        ({"split": "holdout"}, "split"),
        ({"order": "name"}, "order"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(api_for, team, params, field):
    response = api_for(team.reviewer).get(url("distribution", team), params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_compare_with_a_reference(api_for, team, gold_items):
    reference = DistributionReference.objects.create(
        project=team.project, name="Census", filename="c.csv", field="region",
        counts={"north": 50, "south": 40, "east": 10}, total=100,
    )  # fmt: skip
    response = api_for(team.reviewer).get(
        url("distribution-compare", team), {"reference": reference.pk}
    )
    assert response.status_code == 200
    body = response.json()
    dataset, ref = [42, 35, 0], [50, 40, 10]  # north, south, east
    assert body["divergence"]["value"] == pytest.approx(jensenshannon(dataset, ref, base=2) ** 2)
    assert body["divergence"]["unit"] == "bits"
    rows = {row["category"]: row for row in body["rows"]}
    assert rows["east"]["dataset_count"] == 0 and rows["east"]["reference_share"] == 0.1
    assert body["under"] == ["east"]  # 10 points below, z ≈ -2.9
    assert body["rows"][0]["category"] == "east"  # the largest difference first


def test_compare_needs_a_reference_of_this_project(api_for, team):
    other = DistributionReference.objects.create(
        project=team.other_project, name="Theirs", filename="t.csv", field="label",
        counts={"a": 1}, total=1,
    )  # fmt: skip
    client = api_for(team.lead)
    missing = client.get(url("distribution-compare", team))
    assert missing.status_code == 400 and "reference" in missing.json()["errors"]
    theirs = client.get(url("distribution-compare", team), {"reference": other.pk})
    assert theirs.status_code == 404
    delete = client.delete(url("distribution-reference-detail", team, reference_id=other.pk))
    assert delete.status_code == 404
    assert DistributionReference.objects.filter(pk=other.pk).exists()


def test_upload_list_and_delete_a_reference(api_for, team):
    client = api_for(team.lead)
    content = b'{"lang": "en"}\n{"lang": "de"}\n{"lang": "en"}\n'
    created = client.post(
        url("distribution-reference-list", team),
        {"file": SimpleUploadedFile("prod.jsonl", content), "field": "language", "column": "lang",
         "name": "Production"},
        format="multipart",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["counts"] == {"en": 2, "de": 1} and body["total"] == 3
    assert body["field"] == "language" and body["created_by"] == team.lead.username
    listed = api_for(team.reviewer).get(url("distribution-reference-list", team)).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    gone = client.delete(url("distribution-reference-detail", team, reference_id=body["id"]))
    assert gone.status_code == 204
    assert not DistributionReference.objects.exists()
    audited = AuditEvent.objects.filter(project=team.project).order_by("pk")
    assert [(e.kind, e.actor, e.detail["reference"]) for e in audited] == [
        (AuditKind.DISTRIBUTION_REFERENCE_ADDED, team.lead, body["id"]),
        (AuditKind.DISTRIBUTION_REFERENCE_DELETED, team.lead, body["id"]),
    ]


def test_upload_errors_name_the_file_and_line(api_for, team):
    response = api_for(team.lead).post(
        url("distribution-reference-list", team),
        {"file": SimpleUploadedFile("prod.jsonl", b'{"label": "a"}\n{oops\n'), "field": "label"},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["file"] == ["prod.jsonl, line 2: this line is not valid JSON."]
    bad_field = api_for(team.lead).post(
        url("distribution-reference-list", team),
        {"file": SimpleUploadedFile("p.csv", b"label\na\n"), "field": "x y"},
        format="multipart",
    )
    assert bad_field.status_code == 400 and "field" in bad_field.json()["errors"]


def test_upload_over_the_limit_is_413(api_for, team, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 500
    response = api_for(team.lead).post(
        url("distribution-reference-list", team),
        {"file": SimpleUploadedFile("big.csv", b"label\n" + b"a\n" * 2000), "field": "label"},
        format="multipart",
    )
    assert response.status_code == 413
    assert "500 bytes" in response.json()["detail"]
    assert not DistributionReference.objects.exists()
