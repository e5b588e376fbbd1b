"""LOG-1: the security events the other test files do not cover each leave one audit row with
who, which project and what, and never item text: a project created, an export created and
downloaded (job file, direct download, frozen version), an import committed, items dropped or
moved by a lead. (Sign-ins: tests/curation/test_accounts.py; members: tests/curation/
test_pages.py::TestMembers; adjudication and gold: tests/adjudication; lifecycle events: their
own test files.)"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from curation.exporting import export_start
from curation.importing.files import import_start
from curation.models import AuditEvent, AuditKind, JobStatus
from curation.quality.actions import items_drop, items_move
from curation.services import project_create
from curation.tasks import job_run_execute
from curation.versions import version_freeze_start
from tests.conftest import jobs_in_process

TEXT = "Audit-text-marker-6120"


def events(kind) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind=kind).order_by("pk"))


def no_item_text():
    assert not any(TEXT in str(event.detail) for event in AuditEvent.objects.all())


@pytest.fixture
def files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_creating_a_project_is_audited(team):
    project = project_create(user=team.lead, name="New one", slug="new-one")
    [event] = events(AuditKind.PROJECT_CREATED)
    assert (event.actor, event.project) == (team.lead, project)


def test_an_export_job_is_audited_once_and_each_download_too(
    team, client_for, files, django_capture_on_commit_callbacks
):
    team.project.items.update(data={"text": TEXT})
    with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
        run = export_start(project=team.project, user=team.lead, fmt="jsonl", mode="final")
        again = export_start(project=team.project, user=team.reviewer, fmt="csv", mode="final")
    run.refresh_from_db()
    assert run.status == JobStatus.DONE and again.pk == run.pk
    [created] = events(AuditKind.EXPORT_CREATED)  # the second call returned the same run
    assert (created.actor, created.project) == (team.lead, team.project)
    assert created.detail == {"job": run.pk, "format": "jsonl", "mode": "final"}

    page = reverse("curation:job_download", args=[team.project.slug, run.pk])
    api = reverse("api:job-download", args=[run.pk])
    client = client_for(team.reviewer)
    for address in (page, api):
        response = client.get(address)
        assert response.status_code == 200
        assert TEXT in b"".join(response.streaming_content).decode()
    downloads = events(AuditKind.EXPORT_DOWNLOADED)
    assert [(e.actor, e.project, e.detail) for e in downloads] == [
        (team.reviewer, team.project, {"job": run.pk, "format": "jsonl"})
    ] * 2
    no_item_text()


def test_a_refused_download_is_not_audited(team, client_for, files):
    run = team.project.job_runs.create(kind="export", status=JobStatus.DONE)
    assert (
        client_for(team.annotator).get(reverse("api:job-download", args=[run.pk])).status_code
        == 403
    )
    assert client_for(team.lead).get(reverse("api:job-download", args=[run.pk])).status_code == 404
    assert events(AuditKind.EXPORT_DOWNLOADED) == []


def test_a_direct_download_is_audited(team, client_for):
    team.project.items.update(data={"text": TEXT})
    response = client_for(team.lead).post(
        reverse("curation:export_items", args=[team.project.slug]),
        {"format": "csv", "mode": "annotations", "action": "download"},
    )
    assert response.status_code == 200 and TEXT in b"".join(response.streaming_content).decode()
    [event] = events(AuditKind.EXPORT_DOWNLOADED)
    assert (event.actor, event.project) == (team.lead, team.project)
    assert event.detail == {"format": "csv", "mode": "annotations", "direct": True}
    no_item_text()


def test_downloading_a_frozen_version_is_audited(team, client_for, files):
    run = version_freeze_start(project=team.project, user=team.lead, note="v1")
    job_run_execute.run(run.pk)
    number = team.project.versions.get().number
    client = client_for(team.reviewer)
    page = reverse("curation:version_download", args=[team.project.slug, number])
    api = reverse("api:version-download", args=[team.project.slug, number])
    for address in (page, api):
        response = client.get(address)
        assert response.status_code == 200 and b"".join(response.streaming_content)
    assert [(e.actor, e.detail) for e in events(AuditKind.EXPORT_DOWNLOADED)] == [
        (team.reviewer, {"version": number})
    ] * 2


def test_a_committed_import_is_audited_with_its_counts_only(
    team, files, django_capture_on_commit_callbacks
):
    content = f'{{"id": "a-1", "text": "{TEXT}"}}\n{{"id": "a-2", "text": "two"}}\n'.encode()
    with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
        run = import_start(project=team.project, user=team.lead, filename="a.jsonl", options={},
                           source=SimpleUploadedFile("a.jsonl", content))  # fmt: skip
    [event] = events(AuditKind.IMPORT_COMMITTED)
    assert (event.actor, event.project, event.detail["job"]) == (team.lead, team.project, run.pk)
    assert event.detail["items_created"] == 2
    no_item_text()


def test_dropping_and_moving_items_is_audited(team):
    first, second = team.project.items.order_by("pk")[:2]
    items_drop(project=team.project, item_ids=[first.pk], user=team.lead, note="spam")
    items_move(project=team.project, item_ids=[second.pk], split="test", user=team.lead)
    [dropped] = events(AuditKind.ITEMS_DROPPED)
    [moved] = events(AuditKind.ITEMS_MOVED)
    assert (dropped.actor, dropped.project, dropped.detail["items"]) == (
        team.lead, team.project, [first.pk])  # fmt: skip
    assert (moved.actor, moved.detail["items"]) == (team.lead, [second.pk])
