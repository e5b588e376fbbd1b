"""The reference sets API: list, upload (read by a job, as on the page), read and delete. Who may
do what is in tests/authz_routes/curation_quality.py."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from curation.models import (
    AuditEvent,
    Finding,
    FindingKind,
    FindingStatus,
    JobStatus,
    ReferenceSet,
    ReferenceText,
)
from curation.references import upload_dir
from tests.curation.quality_support import make_set

GOOD = (b'{"id": "q-1", "text": "What is the capital of France?"}\n'
        b'{"id": "q-2", "text": "Name the largest planet."}\n')  # fmt: skip


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks, in_process_jobs, media):
    """Within `with run_jobs():` jobs dispatched on commit run when the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def url(name, project, **kwargs):
    return reverse(f"api:{name}", kwargs={"slug": project.slug, **kwargs})


def upload(client, project, content, filename="bench.jsonl", **fields):
    data = {"file": SimpleUploadedFile(filename, content), **fields}
    return client.post(url("reference-set-list", project), data, format="multipart")


def test_an_upload_is_202_with_the_job_that_stores_the_set_and_audits_it(team, api_for, run_jobs):
    with run_jobs():
        response = upload(api_for(team.lead), team.project, GOOD, filename="mmlu.jsonl",
                          name="MMLU sample", id_field="id")  # fmt: skip
    assert response.status_code == 202, response.content
    run = team.project.job_runs.get(kind="reference_import")
    assert response.json()["id"] == run.pk
    assert response["Location"] == reverse("api:job-detail", kwargs={"job_id": run.pk})
    run.refresh_from_db()
    assert run.status == JobStatus.DONE, run.message
    stored = team.project.reference_sets.get()
    assert (stored.name, stored.filename, stored.count, stored.created_by) == (
        "MMLU sample", "mmlu.jsonl", 2, team.lead)  # fmt: skip
    assert set(stored.texts.values_list("external_id", flat=True)) == {"q-1", "q-2"}
    assert list(upload_dir().iterdir()) == []  # read, then deleted
    event = AuditEvent.objects.get(kind="import_committed", project=team.project)
    assert event.actor == team.lead and event.detail["reference_set"] == stored.pk


def test_bad_lines_fail_the_job_by_line_and_field_as_on_the_page(team, api_for, run_jobs):
    content = GOOD + b'{"id": "q-3", "question": "No text field"}\n'
    with run_jobs():
        response = upload(api_for(team.lead), team.project, content, id_field="id")
    assert response.status_code == 202
    run = team.project.job_runs.get(kind="reference_import")
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED
    assert "Nothing was stored: 1 row of bench.jsonl has problems" in run.message
    problems = {(e["line"], e["field"]): e["message"] for e in run.errors}
    assert problems[(3, "text")] == "line 3: field `text` missing (found fields: id, question)."
    assert not ReferenceSet.objects.exists()


def test_fields_are_checked_by_name(team, api_for, media):
    client = api_for(team.lead)
    unknown = upload(client, team.project, GOOD, filename="bench.txt")
    assert unknown.status_code == 400
    assert "format" in unknown.json()["errors"]
    extra = upload(client, team.project, GOOD, colour="blue")
    assert extra.status_code == 400 and "colour" in extra.json()["errors"]
    missing = client.post(url("reference-set-list", team.project), {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["errors"]
    assert not team.project.job_runs.exists()


def test_an_upload_over_the_limit_gets_413_and_nothing_is_kept(team, api_for, media, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 200
    response = upload(api_for(team.lead), team.project, GOOD * 10)
    assert response.status_code == 413
    assert "larger than the import limit of 200 bytes" in response.json()["detail"]
    assert not team.project.job_runs.exists()


def test_a_second_upload_while_one_is_read_is_409_with_that_job(team, api_for, media):
    client = api_for(team.lead)
    first = upload(client, team.project, GOOD)  # queued: no job runs in this test
    assert first.status_code == 202
    second = upload(client, team.project, GOOD)
    assert second.status_code == 409
    assert second.json()["job"]["id"] == first.json()["id"]
    assert len(list(upload_dir().iterdir())) == 1  # the refused file is not kept


def test_the_list_shows_each_set_with_its_open_findings(team, api_for):
    older = make_set(team.project, {"a": "First text"}, name="Older")
    newer = make_set(team.project, {"b": "Second text", "c": "Third text"}, name="Newer")
    make_set(team.other_project, {"z": "Another project's text"}, name="Elsewhere")
    item = team.project.items.first()
    for status in (FindingStatus.OPEN, FindingStatus.NOT_A_PROBLEM):
        Finding.objects.create(project=team.project, kind=FindingKind.LEAKAGE,
                               key=f"reference:{newer.pk}:{status}", rule=f"reference:{newer.pk}",
                               item=item, message="Leaked.", status=status)  # fmt: skip
    client = api_for(team.reviewer)
    response = client.get(url("reference-set-list", team.project))
    assert response.status_code == 200
    body = response.json()
    assert [row["name"] for row in body["results"]] == ["Newer", "Older"]
    assert body["results"][0]["open_findings"] == 1 and body["results"][1]["open_findings"] == 0
    assert body["results"][0]["count"] == 2 and body["results"][0]["text_field"] == "text"
    detail = client.get(url("reference-set-detail", team.project, set_id=older.pk))
    assert detail.json()["name"] == "Older"


def test_delete_removes_texts_and_open_findings_and_keeps_resolved_ones(team, api_for):
    reference = make_set(team.project, {"a": "First text"})
    item = team.project.items.first()
    for status in (FindingStatus.OPEN, FindingStatus.FIXED):
        Finding.objects.create(project=team.project, kind=FindingKind.LEAKAGE,
                               key=f"reference:{reference.pk}:{status}", item=item,
                               rule=f"reference:{reference.pk}", message="Leaked.",
                               status=status)  # fmt: skip
    response = api_for(team.lead).delete(
        url("reference-set-detail", team.project, set_id=reference.pk)
    )
    assert response.status_code == 204
    assert not ReferenceSet.objects.exists() and not ReferenceText.objects.exists()
    assert list(Finding.objects.values_list("status", flat=True)) == [FindingStatus.FIXED]


def test_a_set_of_another_project_is_404_through_this_one(team, api_for):
    theirs = make_set(team.other_project, {"z": "Another project's text"})
    client = api_for(team.lead)
    path = url("reference-set-detail", team.project, set_id=theirs.pk)
    assert client.get(path).status_code == 404
    assert client.delete(path).status_code == 404
    assert ReferenceSet.objects.filter(pk=theirs.pk).exists()
