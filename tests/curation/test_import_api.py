"""Imports and exports through the API: 202 with the job and where to follow it, 413 before the
body is read, 400 naming the field, 409 while an import runs, downloads for reviewers and leads
only, and nothing of another project within reach."""

from datetime import timedelta

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.celery import app as celery_app
from curation.models import JobRun, JobStatus

GOOD = b'{"id": "a-1", "text": "Card charged twice"}\n{"id": "a-2", "text": "Refund please"}\n'


def url(name: str, **kwargs) -> str:
    return reverse(f"api:{name}", kwargs=kwargs)


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks, media):
    """Within `with run_jobs():` jobs dispatched on commit run in this process at the end."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield lambda: django_capture_on_commit_callbacks(execute=True)
    celery_app.conf.task_always_eager = previous


def stored(media) -> list[str]:
    folder = media / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def post_import(client, team, content=GOOD, name="items.jsonl", slug=None, **fields):
    path = url("import-create", slug=slug or team.project.slug)
    return client.post(path, {"file": SimpleUploadedFile(name, content), **fields})


def post_export(client, team, fmt="jsonl", mode="final"):
    path = url("export-create", slug=team.project.slug)
    return client.post(path, {"format": fmt, "mode": mode}, format="json")


# --- import -----------------------------------------------------------------------------------


@pytest.mark.django_db
class TestImport:
    def test_lead_uploads_and_gets_202_with_the_job_and_its_address(self, team, api_for, run_jobs):
        client = api_for(team.lead)
        with run_jobs():
            response = post_import(client, team, skip_duplicates="true", id_field="id")
        run = team.project.job_runs.get(kind="import")
        assert response.status_code == 202
        assert response["Location"] == url("job-detail", job_id=run.pk)
        assert response.json()["id"] == run.pk and response.json()["kind"] == "import"
        followed = client.get(response["Location"]).json()
        assert set(followed) == set(response.json())
        assert followed["status"] == "done" and followed["counts"]["items_created"] == 2
        assert run.params["skip_duplicates"] is True and run.params["mapping"] == {"id": "id"}

    def test_a_bad_line_fails_the_job_with_its_line(self, team, api_for, run_jobs):
        client = api_for(team.lead)
        with run_jobs():
            response = post_import(client, team, content=GOOD + b"{oops\n")
        job = client.get(response["Location"]).json()
        assert job["status"] == "failed" and job["error_count"] == 1
        assert job["errors"][0]["line"] == 3 and job["errors"][0]["where"] == "line 3"
        assert not team.project.items.filter(external_id__startswith="a-").exists()

    def test_token_clients_upload_without_csrf(self, team, media):
        client = APIClient(enforce_csrf_checks=True)
        token = Token.objects.create(user=team.lead)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        assert post_import(client, team).status_code == 202

    def test_session_upload_needs_csrf(self, team, media):
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(team.lead)
        assert post_import(client, team).status_code == 403
        assert stored(media) == [] and not team.project.job_runs.exists()

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"format": "xlsx"}, "format"),
            ({"colour": "blue"}, "colour"),
            ({"default_source": "s" * 33}, "default_source"),
        ],
    )
    def test_bad_fields_are_400_naming_the_field(self, team, api_for, media, fields, field):
        response = post_import(api_for(team.lead), team, **fields)
        assert response.status_code == 400
        assert field in response.json()["errors"]
        assert stored(media) == []

    def test_missing_file_and_unknown_suffix_name_their_field(self, team, api_for, media):
        client = api_for(team.lead)
        missing = client.post(url("import-create", slug=team.project.slug), {"format": "csv"})
        assert missing.status_code == 400 and "file" in missing.json()["errors"]
        unknown = post_import(client, team, name="items.txt")
        assert unknown.status_code == 400
        assert unknown.json()["errors"]["format"][0].startswith("items.txt: cannot tell")
        assert stored(media) == []

    def test_json_body_is_415(self, team, api_for, media):
        response = api_for(team.lead).post(
            url("import-create", slug=team.project.slug), {"file": "x"}, format="json"
        )
        assert response.status_code == 415

    def test_malformed_multipart_is_400_and_says_multipart(self, team, api_for, media):
        response = api_for(team.lead).post(
            url("import-create", slug=team.project.slug),
            b"--x\r\n",
            content_type="multipart/form-data",
        )
        assert response.status_code == 400
        assert "multipart" in response.json()["detail"]

    def test_while_an_import_runs_another_is_409_with_that_job(self, team, api_for, media):
        running = JobRun.objects.create(
            project=team.project, kind="import", status=JobStatus.RUNNING, params={}
        )
        response = post_import(api_for(team.lead), team)
        assert response.status_code == 409
        assert response.json()["job"]["id"] == running.pk
        assert f"Import #{running.pk}" in response.json()["detail"]
        assert stored(media) == []


@pytest.mark.django_db
class TestImportLimit:
    def test_declared_oversize_is_413_naming_the_limit(self, team, api_for, media, settings):
        settings.IMPORT_MAX_UPLOAD_BYTES = 1000
        response = post_import(api_for(team.lead), team, content=b"x" * 200_000)
        assert response.status_code == 413
        assert response.json() == {
            "detail": "The upload is larger than the import limit of 1,000 bytes. Split the "
            "file, compress it (.gz), or ask an administrator to raise IMPORT_MAX_UPLOAD_BYTES."
        }
        assert stored(media) == [] and not team.project.job_runs.exists()

    def test_declared_oversize_is_refused_before_sign_in(self, team, api_for, media, settings):
        """Nobody's body is read past the limit, signed in or not."""
        settings.IMPORT_MAX_UPLOAD_BYTES = 1000
        response = post_import(api_for(None), team, content=b"x" * 200_000)
        assert response.status_code == 413

    def test_a_body_over_the_limit_is_stopped_while_it_streams(
        self, team, api_for, media, settings
    ):
        settings.IMPORT_MAX_UPLOAD_BYTES = 1000
        response = post_import(api_for(team.lead), team, content=b'{"text": "x"}\n' * 400)
        assert response.status_code == 413
        assert "1,000 bytes" in response.json()["detail"]
        assert stored(media) == [] and not team.project.job_runs.exists()


# --- who reaches what -------------------------------------------------------------------------


@pytest.mark.django_db
class TestWhoGetsWhat:
    @pytest.mark.parametrize("persona", ["outsider", "other_lead"])
    def test_non_members_get_404_everywhere(self, team, api_for, media, persona):
        client = api_for(team.persona(persona))
        done = JobRun.objects.create(project=team.project, kind="export", status="done")
        responses = [
            post_import(client, team),
            post_export(client, team),
            client.get(url("job-download", job_id=done.pk)),
        ]
        assert [r.status_code for r in responses] == [404, 404, 404]
        assert all(r.json() == {"detail": "Not found."} for r in responses)
        assert stored(media) == [] and team.project.job_runs.count() == 1

    def test_annotator_gets_403_on_import_export_and_download(self, team, api_for, media):
        client = api_for(team.annotator)
        done = JobRun.objects.create(project=team.project, kind="export", status="done")
        assert post_import(client, team).status_code == 403
        assert post_export(client, team).status_code == 403
        assert client.get(url("job-download", job_id=done.pk)).status_code == 403
        assert stored(media) == []

    def test_reviewer_exports_but_does_not_import(self, team, api_for, media):
        client = api_for(team.reviewer)
        assert post_import(client, team).status_code == 403
        assert post_export(client, team).status_code == 202


# --- export -----------------------------------------------------------------------------------


@pytest.mark.django_db
class TestExport:
    def test_export_job_then_download(self, team, api_for, run_jobs):
        client = api_for(team.reviewer)
        with run_jobs():
            response = post_export(client, team, fmt="csv", mode="annotations")
        run = team.project.job_runs.get(kind="export")
        assert response.status_code == 202
        assert response["Location"] == url("job-detail", job_id=run.pk)
        assert client.get(response["Location"]).json()["status"] == "done"
        download = client.get(url("job-download", job_id=run.pk))
        assert download.status_code == 200
        assert download["Content-Type"] == "text/csv; charset=utf-8"
        assert download["Content-Disposition"] == (
            f'attachment; filename="support-intents-{run.pk}.csv"'
        )
        assert download["X-Content-Type-Options"] == "nosniff"
        assert download["Content-Security-Policy"].startswith("sandbox")
        lines = b"".join(download.streaming_content).decode().splitlines()
        assert lines[0].startswith("id,text,") and len(lines) == 6

    def test_jsonl_download_has_one_record_per_item(self, team, api_for, run_jobs):
        client = api_for(team.lead)
        with run_jobs():
            post_export(client, team)
        run = team.project.job_runs.get(kind="export")
        body = b"".join(client.get(url("job-download", job_id=run.pk)).streaming_content)
        assert len([orjson.loads(line) for line in body.splitlines()]) == 5

    def test_expired_unfinished_and_other_kinds_are_404(self, team, api_for, run_jobs, settings):
        client = api_for(team.lead)
        with run_jobs():
            post_export(client, team)
        run = team.project.job_runs.get(kind="export")
        old = timezone.now() - timedelta(hours=settings.EXPORT_RETENTION_HOURS + 1)
        JobRun.objects.filter(pk=run.pk).update(finished_at=old)
        queued = JobRun.objects.create(project=team.project, kind="export", params={})
        stats = JobRun.objects.create(project=team.project, kind="project_stats", status="done")
        for job in [run, queued, stats]:
            response = client.get(url("job-download", job_id=job.pk))
            assert response.status_code == 404 and response.json() == {"detail": "Not found."}

    def test_an_export_under_way_is_returned_again_or_named_in_a_409(self, team, api_for):
        running = JobRun.objects.create(
            project=team.project, kind="export", status=JobStatus.RUNNING,
            params={"format": "csv", "mode": "final", "stored_name": "x.csv"},
        )  # fmt: skip
        client = api_for(team.lead)
        same = post_export(client, team, fmt="csv")
        assert same.status_code == 202 and same.json()["id"] == running.pk
        other = post_export(client, team, fmt="jsonl")
        assert other.status_code == 409 and other.json()["job"]["id"] == running.pk

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"format": "xlsx", "mode": "final"}, "format"),
            ({"format": "csv", "mode": "everything"}, "mode"),
        ],  # fmt: skip
    )
    def test_bad_fields_are_400_naming_the_field(self, team, api_for, body, field):
        response = api_for(team.lead).post(
            url("export-create", slug=team.project.slug), body, format="json"
        )
        assert response.status_code == 400 and field in response.json()["errors"]


def test_an_export_without_a_mode_is_of_final_labels_as_on_the_command_line(
    team, api_for, run_jobs
):
    with run_jobs():
        response = api_for(team.lead).post(url("export-create", slug=team.project.slug),
                                           {"format": "jsonl"}, format="json")  # fmt: skip
    assert response.status_code == 202, response.json()
    assert JobRun.objects.get(pk=response.json()["id"]).params["mode"] == "final"


def test_schema_documents_the_new_paths(team, api_for):
    schema = api_for(team.annotator).get(reverse("api:schema"), {"format": "json"}).json()
    paths = schema["paths"]
    assert (
        "multipart/form-data"
        in paths["/api/projects/{slug}/imports/"]["post"]["requestBody"]["content"]
    )
    responses = paths["/api/projects/{slug}/imports/"]["post"]["responses"]
    assert {"202", "400", "403", "404", "409", "413"} <= set(responses)
    assert "/api/projects/{slug}/exports/" in paths and "/api/jobs/{job_id}/download/" in paths
