"""The distribution page and its data: counts from the live project (final labels from
annotations, reviews and gold answers) and from a frozen version, metadata values as
categories, reference samples (upload errors name the file and line), the CSV downloads."""

import csv
import io

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from annotation.models import LabelSchema
from annotation.services import annotation_submit
from curation.batches import batch_collect_loose
from curation.distribution_data import (
    MISSING,
    NO_LABEL,
    Source,
    category,
    distribution_summary,
    field_counts,
    metadata_keys,
    metadata_value,
    reference_counts,
)
from curation.models import (
    AuditEvent,
    AuditKind,
    BatchStatus,
    DatasetVersion,
    DistributionReference,
    Split,
    SyntheticBatch,
    VersionRecord,
)
from tests.factories import ItemFactory

SINGLE = {"labels": [{"value": "billing"}, {"value": "technical"}, {"value": "account"}]}


def page_url(team) -> str:
    return reverse("curation:distribution", kwargs={"slug": team.project.slug})


def upload_url(team) -> str:
    return reverse("curation:distribution_reference_upload", kwargs={"slug": team.project.slug})


@pytest.fixture
def labelled(team):
    """Eight live items with metadata (the team's five starting items are dropped):
    en: billing ×3 (one by the annotators, two gold), technical ×1;
    de: technical ×2 (gold), one waiting for review (no label), one unlabelled."""
    team.project.items.update(dropped_at=timezone.now())
    LabelSchema.objects.create(project=team.project, kind="single_choice", config=SINGLE)
    project = team.project

    def item(language, gold=None, split=Split.TRAIN):
        meta = {"language": language, "n": 3}
        return ItemFactory(project=project, metadata=meta, gold=gold, split=split)

    settled = item("en")
    for annotator in team.annotators:
        annotation_submit(item=settled, annotator=annotator, value={"label": "billing"})
    item("en", {"label": "billing"})
    item("en", {"label": "billing"}, split=Split.TEST)
    item("en", {"label": "technical"})
    item("de", {"label": "technical"})
    item("de", {"label": "technical"}, split=Split.TEST)
    waiting = item("de")
    for annotator, label in zip(team.annotators, ["billing", "billing", "technical"], strict=True):
        annotation_submit(item=waiting, annotator=annotator, value={"label": label})
    item("de")
    return project


def frozen_version(project, records) -> DatasetVersion:
    """A version built by hand: records are (split, label, metadata)."""
    version = DatasetVersion.objects.create(project=project, number=1, content_hash="0" * 64)
    VersionRecord.objects.bulk_create(
        VersionRecord(
            version=version, position=i, item_id=1000 + i, external_id=f"r-{i}", split=split,
            label=label, label_key=orjson.dumps({"label": label}).decode() if label else "",
            record=orjson.dumps({"id": f"r-{i}", "metadata": meta}).decode(),
        )
        for i, (split, label, meta) in enumerate(records)
    )  # fmt: skip
    return version


# --- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  fr ", "fr"),
        (3, "3"),
        (2.5, "2.5"),
        (True, "true"),
        (None, MISSING),
        ("", MISSING),
        ("x" * 300, "x" * 100),
        (["a", "b"], '["a","b"]'),
    ],
)
def test_metadata_values_become_categories(value, expected):
    assert category(value) == expected


def test_metadata_value_reads_a_key_or_a_dotted_path():
    meta = {"user": {"region": "EU"}, "a.b": "literal"}
    assert metadata_value(meta, "a.b") == "literal"
    assert metadata_value(meta, "user.region") == "EU"
    assert metadata_value(meta, "user.age") == MISSING
    assert metadata_value(None, "x") == MISSING


# --- counts from the live project and from a version ------------------------------------------


def test_live_project_counts_final_labels_of_items_not_dropped(labelled):
    """Final labels come from the annotators' unanimous label, gold answers, and nothing for an
    item waiting for review or not annotated; dropped items are left out."""
    counts = field_counts(Source(labelled), "label")
    assert counts == {"billing": 3, "technical": 3, NO_LABEL: 2}


def test_live_project_crosstab_and_split_filter(labelled):
    summary = distribution_summary(Source(labelled), by="language")
    table = summary["crosstab"]
    cells = {
        (row, col): table["table"][i][j]
        for i, row in enumerate(table["rows"])
        for j, col in enumerate(table["cols"])
    }
    assert cells[("billing", "en")] == 3 and cells[("billing", "de")] == 0
    assert cells[("technical", "en")] == 1 and cells[("technical", "de")] == 2
    assert cells[(NO_LABEL, "de")] == 2
    assert table["chi_square"]["dof"] == 2
    assert table["chi_square"]["yates_correction"] is False
    assert summary["labels"]["total"] == 8
    test_only = field_counts(Source(labelled, split="test"), "label")
    assert test_only == {"billing": 1, "technical": 1}
    assert field_counts(Source(labelled), "language") == {"en": 4, "de": 4}


def test_version_counts_use_the_frozen_labels_and_record_metadata(client_for, team):
    version = frozen_version(
        team.project,
        [
            ("train", "positive", {"language": "en"}),
            ("train", "positive", {"language": "en"}),
            ("test", "negative", {"language": "fr"}),
            ("train", "", {"language": "fr"}),
            ("train", "negative", {}),
        ],
    )
    source = Source(team.project, version)
    assert field_counts(source, "label") == {"positive": 2, "negative": 2, NO_LABEL: 1}
    assert field_counts(source, "language") == {"en": 2, "fr": 2, MISSING: 1}
    assert field_counts(Source(team.project, version, "test"), "label") == {"negative": 1}
    assert metadata_keys(source) == ["language"]
    page = client_for(team.reviewer).get(page_url(team), {"version": 1, "by": "language"})
    assert page.status_code == 200
    assert "5 items in version 1" in page.content.decode()


def test_metadata_keys_are_offered_from_the_live_items(labelled):
    assert metadata_keys(Source(labelled)) == ["language", "n"]


def test_live_project_leaves_out_synthetic_items_held_back_as_versions_do(
    client_for, labelled, team
):
    """Synthetic items count once their batch has passed its audit, not before: loose ones
    and members of a held batch are left out of the counts, the breakdown and the keys."""
    for _ in range(2):
        ItemFactory(project=labelled, source="synthetic", gold={"label": "account"},
                    metadata={"language": "fr", "generator": "llm"})  # fmt: skip
    source = Source(labelled)
    before = {"billing": 3, "technical": 3, NO_LABEL: 2}
    assert field_counts(source, "label") == before  # loose synthetic items
    batch = batch_collect_loose(project=labelled, user=team.lead)
    assert field_counts(source, "label") == before  # in a held batch
    assert field_counts(source, "language") == {"en": 4, "de": 4}
    assert metadata_keys(source) == ["language", "n"]
    page = client_for(team.reviewer).get(page_url(team))
    assert "8 items in the live project" in page.content.decode()

    SyntheticBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.PASSED)
    assert field_counts(source, "label") == {**before, "account": 2}
    assert field_counts(source, "language") == {"en": 4, "de": 4, "fr": 2}
    assert metadata_keys(source) == ["generator", "language", "n"]


# --- reference files ------------------------------------------------------------------------------


def test_reference_counts_from_jsonl_and_csv():
    jsonl = b'{"language": "en"}\n\n{"language": "de"}\n{"language": "en", "x": 1}\n'
    assert reference_counts(io.BytesIO(jsonl), filename="t.jsonl", column="language") == {
        "en": 2,
        "de": 1,
    }
    text = '\ufeffid,lang\n1,en\n2,"de"\n3,\n'.encode()
    assert reference_counts(io.BytesIO(text), filename="t.csv", column="lang") == {
        "en": 1,
        "de": 1,
        MISSING: 1,
    }


BAD_FILES = [
    ("p.jsonl", b'{"lang": "en"}\n{"lang": \n', "p.jsonl, line 2: this line is not valid JSON"),
    ("p.jsonl", b'{"lang": "en"}\n\n{"x": 1}\n', "p.jsonl, line 3: the field “lang” is missing"),
    ("p.jsonl", b'{"lang": "en"}\n[1]\n', "p.jsonl, line 2: each line must be a JSON object"),
    ("p.csv", b"id,lang\n1,en\n2,\xff\xfe\n", "p.csv, line 3: the file is not UTF-8"),
    ("p.csv", b"id,language\n1,en\n", "p.csv, line 1: the header has no column “lang”"),
    ("p.csv", b"id,x,lang\n1,2,en\n3\n", "p.csv, line 3: the column “lang” is missing"),
    ("p.txt", b"en\n", "p.txt: send a .csv file"),
    ("p.csv", b"lang\n", "p.csv: the file has no rows"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES)
def test_reference_upload_errors_name_the_file_and_line(client_for, team, name, content, message):
    client = client_for(team.lead)
    payload = {"file": SimpleUploadedFile(name, content), "field": "language", "column": "lang"}
    response = client.post(upload_url(team), payload)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not DistributionReference.objects.exists()


def test_reference_upload_over_the_limit_is_refused_with_the_limit(client_for, team, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 1000
    content = b'{"lang": "en"}\n' * 5000
    response = client_for(team.lead).post(
        upload_url(team), {"file": SimpleUploadedFile("big.jsonl", content), "field": "lang"}
    )
    assert response.status_code == 413
    assert "larger than the limit of 1,000 bytes" in response.content.decode()
    assert not DistributionReference.objects.exists()


def test_a_lead_uploads_a_reference_and_sees_the_comparison(client_for, labelled, team):
    """Only counts are stored; the redirect opens the comparison with the divergence and flags."""
    client = client_for(team.lead)
    content = b"lang\n" + b"en\n" * 10 + b"de\n" * 80 + b"fr\n" * 10
    response = client.post(
        upload_url(team),
        {"file": SimpleUploadedFile("traffic.csv", content), "name": "Production",
         "field": "language", "column": "lang"},
    )  # fmt: skip
    reference = DistributionReference.objects.get()
    assert reference.counts == {"de": 80, "en": 10, "fr": 10}
    assert reference.total == 100 and reference.field == "language"
    assert reference.filename == "traffic.csv" and reference.project == team.project
    assert response.status_code == 302
    assert f"reference={reference.pk}" in response["Location"]
    page = client.get(response["Location"].split("#")[0])
    html = page.content.decode()
    assert "Jensen–Shannon divergence" in html
    # en: half the dataset's 8 items against 10% of the reference (z ≈ 3.2).
    assert "▲ over-represented" in html


def test_other_projects_reference_is_not_found(client_for, team):
    other = DistributionReference.objects.create(
        project=team.other_project, name="Theirs", filename="t.csv", field="label",
        counts={"a": 1}, total=1,
    )  # fmt: skip
    client = client_for(team.lead)
    assert client.get(page_url(team), {"reference": other.pk}).status_code == 400
    delete = reverse(
        "curation:distribution_reference_delete",
        kwargs={"slug": team.project.slug, "reference_id": other.pk},
    )
    assert client.post(delete).status_code == 404
    assert DistributionReference.objects.filter(pk=other.pk).exists()


def test_a_lead_deletes_a_reference(client_for, team):
    reference = DistributionReference.objects.create(
        project=team.project, name="Mine", filename="m.csv", field="label", counts={"a": 1},
        total=1,
    )  # fmt: skip
    delete = reverse(
        "curation:distribution_reference_delete",
        kwargs={"slug": team.project.slug, "reference_id": reference.pk},
    )
    assert client_for(team.reviewer).post(delete).status_code == 403
    assert client_for(team.lead).post(delete).status_code == 302
    assert not DistributionReference.objects.exists()


def test_adding_and_deleting_a_reference_is_audited_without_its_counts(client_for, team):
    """LOG-1: who added or deleted which reference sample; the categories, which come from the
    uploaded file, stay out of the audit row. A refused upload or delete writes nothing."""
    client = client_for(team.lead)
    content = b"lang\n" + b"secret-category\n" * 3
    upload = {"file": SimpleUploadedFile("traffic.csv", content), "name": "Production",
              "field": "language", "column": "lang"}  # fmt: skip
    assert client.post(upload_url(team), upload).status_code == 302
    reference = DistributionReference.objects.get()
    [added] = AuditEvent.objects.filter(kind=AuditKind.DISTRIBUTION_REFERENCE_ADDED)
    assert (added.actor, added.project) == (team.lead, team.project)
    expected = {"reference": reference.pk, "name": "Production", "field": "language", "total": 3}
    assert added.detail == expected

    bad = {"file": SimpleUploadedFile("bad.csv", b"x\n1\n"), "field": "language", "column": "lang"}
    assert client.post(upload_url(team), bad).status_code == 400
    delete = reverse(
        "curation:distribution_reference_delete",
        kwargs={"slug": team.project.slug, "reference_id": reference.pk},
    )
    assert client_for(team.reviewer).post(delete).status_code == 403
    assert AuditEvent.objects.filter(kind=AuditKind.DISTRIBUTION_REFERENCE_DELETED).count() == 0
    assert client_for(team.lead).post(delete).status_code == 302
    [deleted] = AuditEvent.objects.filter(kind=AuditKind.DISTRIBUTION_REFERENCE_DELETED)
    assert (deleted.actor, deleted.project, deleted.detail) == (team.lead, team.project, expected)
    assert AuditEvent.objects.filter(kind=AuditKind.DISTRIBUTION_REFERENCE_ADDED).count() == 1
    assert not any("secret-category" in str(e.detail) for e in AuditEvent.objects.all())


# --- the page and its CSV -------------------------------------------------------------------------


def test_reviewer_sees_labels_and_the_chi_square_sentence(client_for, labelled, team):
    response = client_for(team.reviewer).get(page_url(team), {"by": "language"})
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "The labels depend on language at the 5% level" in html
        or "No evidence at the 5% level that the labels depend on language" in html
    )
    assert "<svg" in html
    assert "Pearson’s chi-square test of independence, without Yates" in html
    assert "Upload a reference sample" not in html  # leads upload


def test_bad_field_name_and_unknown_version_are_refused(client_for, team):
    client = client_for(team.reviewer)
    response = client.get(page_url(team), {"by": "name; DROP TABLE"})
    assert response.status_code == 400
    assert "letters, digits, dots" in response.content.decode()
    assert client.get(page_url(team), {"version": "7"}).status_code == 400
    assert client.get(page_url(team), {"split": "holdout"}).status_code == 400


def test_htmx_gets_only_the_results(client_for, labelled, team):
    response = client_for(team.reviewer).get(
        page_url(team), {"by": "language"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results"')
    assert "<html" not in html


def _csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_csv_downloads_of_each_table(client_for, labelled, team):
    client = client_for(team.reviewer)
    labels = _csv(client.get(page_url(team), {"format": "csv", "table": "labels"}))
    assert labels[0] == ["label", "count", "share"]
    assert ["billing", "3", "0.375"] in labels
    assert [NO_LABEL, "2", "0.25"] in labels
    crosstab = _csv(
        client.get(page_url(team), {"format": "csv", "table": "crosstab", "by": "language"})
    )
    assert crosstab[0] == ["label", "language", "count", "row_share", "expected",
                           "adjusted_residual"]  # fmt: skip
    row = next(r for r in crosstab if r[:2] == ["billing", "en"])
    assert row[2:4] == ["3", "1"]
    assert float(row[4]) == pytest.approx(1.5)  # 3 billing × 4 en / 8
    reference = DistributionReference.objects.create(
        project=team.project, name="Prod", filename="p.csv", field="label",
        counts={"billing": 5, "=cmd()": 5}, total=10,
    )  # fmt: skip
    comparison = _csv(
        client.get(
            page_url(team), {"format": "csv", "table": "comparison", "reference": reference.pk}
        )
    )
    assert comparison[0][:3] == ["category", "dataset_count", "dataset_share"]
    assert comparison[1][:5] == ["'=cmd()", "0", "0", "5", "0.5"]  # a formula is neutralised
    assert client.get(page_url(team), {"format": "csv", "table": "x"}).status_code == 400
