"""The per-project storage quota (IMP-7): an upload that would take a project past
PROJECT_STORAGE_QUOTA_BYTES gets 413 naming the quota, before its body is read when its declared
size tells, else as it streams in, and nothing is stored; an export job that would pass it fails
naming it and leaves no file; a file that is deleted or past its use makes room again."""

import io
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.http.multipartparser import MultiPartParser
from django.middleware.csrf import _get_new_csrf_string
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from curation.exporting import FORMATS, export_start, exports_sweep
from curation.forms import ImportSizeLimitHandler
from curation.importing.files import import_start
from curation.models import JobRun, JobStatus
from curation.references import reference_upload_start
from curation.storage import (
    ProjectQuota,
    StorageQuotaExceeded,
    project_quota,
    project_storage_used,
)
from curation.tasks import job_run_execute

QUOTA = 100_000
NAMED = "storage quota of 97.7 KB (100,000 bytes)"
HTMX = {"HTTP_HX_REQUEST": "true"}


def jsonl(size: int, text: str = "Card charged twice") -> bytes:
    """About `size` bytes of JSON Lines an import would take."""
    line = b'{"text": "%s"}\n' % text.encode()
    return line * (size // len(line) + 1)


@pytest.fixture
def quota(media):
    with override_settings(PROJECT_STORAGE_QUOTA_BYTES=QUOTA):
        yield QUOTA


def files(media, folder: str) -> list[str]:
    path = Path(media) / folder
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


def kept_export(project, size: int) -> JobRun:
    """A finished export still offered for download, with its file of `size` bytes on disk."""
    name = f"{uuid.uuid4().hex}.jsonl"
    folder = Path(settings.MEDIA_ROOT) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"x" * size)
    return JobRun.objects.create(
        project=project, kind="export", status=JobStatus.DONE, finished_at=timezone.now(),
        params={"format": "jsonl", "mode": "final", "stored_name": name},
        counts={"items": 1, "records": 1, "bytes": size},
    )  # fmt: skip


def after_retention():
    return timezone.now() + timedelta(hours=settings.EXPORT_RETENTION_HOURS + 1)


def body_unread():
    """Fails the test if anything parses the request body."""
    return mock.patch.object(MultiPartParser, "parse", side_effect=AssertionError("body read"))


@contextmanager
def upload_limits():
    """Yields the list of the upload limit handlers that received file data, to tell whether
    one stopped the stream before the whole file came in."""
    seen, receive = [], ImportSizeLimitHandler.receive_data_chunk

    def spy(handler, raw_data, start):
        seen.append(handler)
        return receive(handler, raw_data, start)

    with mock.patch.object(ImportSizeLimitHandler, "receive_data_chunk", spy):
        yield seen


def api_import(client, project, content: bytes):
    path = reverse("api:import-create", kwargs={"slug": project.slug})
    return client.post(path, {"file": SimpleUploadedFile("items.jsonl", content)})


def api_reference(client, project, content: bytes):
    path = reverse("api:reference-set-list", kwargs={"slug": project.slug})
    return client.post(path, {"file": SimpleUploadedFile("bench.jsonl", content)})


def page_upload(client, project, name: str, content: bytes, extra=None):
    path = reverse(f"curation:{name}", kwargs={"slug": project.slug})
    return client.post(path, {"file": SimpleUploadedFile("items.jsonl", content)}, **extra or {})


def assert_refused(detail: str) -> None:
    assert detail.startswith(f"The upload would take this project past its {NAMED}")
    assert detail.endswith("ask an administrator to raise PROJECT_STORAGE_QUOTA_BYTES.")


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def api_lead(team):
    client = APIClient()
    client.force_login(team.lead)
    return client


@pytest.mark.django_db
class TestApiUpload:
    def test_declared_size_over_the_room_left_is_413_naming_the_quota_unread(
        self, team, api_lead, quota, media
    ):
        kept_export(team.project, 60_000)
        items = team.project.items.count()
        with body_unread():
            response = api_import(api_lead, team.project, jsonl(150_000))
        assert response.status_code == 413
        assert_refused(response.json()["detail"])
        assert "58.6 KB already used" in response.json()["detail"]
        assert files(media, "imports") == [] and not team.project.job_runs.filter(kind="import")
        assert team.project.items.count() == items

    def test_a_body_over_the_room_left_is_stopped_while_it_streams(
        self, team, api_lead, quota, media
    ):
        """Its declared size fits within the multipart allowance; the file itself does not."""
        kept_export(team.project, 60_000)
        content = jsonl(100_000)
        with upload_limits() as seen:
            response = api_import(api_lead, team.project, content)
        assert response.status_code == 413
        assert seen[-1].exceeded and seen[-1].received < len(content)
        assert_refused(response.json()["detail"])
        assert files(media, "imports") == [] and not team.project.job_runs.filter(kind="import")

    def test_a_token_client_is_refused_the_same_way(self, team, quota, media):
        kept_export(team.project, 60_000)
        client = APIClient(enforce_csrf_checks=True)
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=team.lead).key}")
        with body_unread():
            assert api_import(client, team.project, jsonl(150_000)).status_code == 413
        assert api_import(client, team.project, jsonl(50_000)).status_code == 413
        assert files(media, "imports") == []

    def test_a_body_the_csrf_check_read_before_the_project_was_known_is_refused(
        self, team, quota, media
    ):
        """A signed-in browser's CSRF check reads the body during sign-in; its size meets the
        quota right after, before anything is stored."""
        kept_export(team.project, 60_000)
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(team.lead)
        secret = _get_new_csrf_string()
        client.cookies[settings.CSRF_COOKIE_NAME] = secret
        path = reverse("api:import-create", kwargs={"slug": team.project.slug})
        upload = SimpleUploadedFile("items.jsonl", jsonl(50_000))
        response = client.post(path, {"file": upload}, HTTP_X_CSRFTOKEN=secret)
        assert response.status_code == 413
        assert_refused(response.json()["detail"])
        assert files(media, "imports") == [] and not team.project.job_runs.filter(kind="import")

    def test_outsiders_learn_nothing_of_the_quota(self, team, quota, media):
        kept_export(team.project, QUOTA)
        client = APIClient()
        client.force_login(team.outsider)
        assert api_import(client, team.project, jsonl(150_000)).status_code == 404

    def test_a_reference_set_upload_over_the_room_left_is_413_naming_the_quota(
        self, team, api_lead, quota, media
    ):
        kept_export(team.project, 60_000)
        with body_unread():
            declared = api_reference(api_lead, team.project, jsonl(150_000))
        streamed = api_reference(api_lead, team.project, jsonl(50_000))
        assert [declared.status_code, streamed.status_code] == [413, 413]
        assert_refused(declared.json()["detail"])
        assert_refused(streamed.json()["detail"])
        assert files(media, "references") == []
        assert not team.project.job_runs.filter(kind="reference_import").exists()


# --- the pages --------------------------------------------------------------------------------


@pytest.mark.django_db
class TestPageUpload:
    @pytest.mark.parametrize("extra", [{}, HTMX], ids=["page", "htmx"])
    def test_declared_size_over_the_room_left_is_413_naming_the_quota_unread(
        self, team, client_for, quota, media, extra
    ):
        kept_export(team.project, 60_000)
        with body_unread():
            response = page_upload(client_for(team.lead), team.project, "import_items",
                                   jsonl(150_000), extra)  # fmt: skip
        html = response.content.decode()
        assert response.status_code == 413
        assert NAMED in html and "PROJECT_STORAGE_QUOTA_BYTES" in html
        assert '<form id="import-form"' in html
        assert files(media, "imports") == [] and not team.project.job_runs.filter(kind="import")

    def test_a_body_over_the_room_left_is_stopped_while_it_streams(
        self, team, client_for, quota, media
    ):
        kept_export(team.project, 60_000)
        content = jsonl(100_000)
        with upload_limits() as seen:
            response = page_upload(client_for(team.lead), team.project, "import_items", content)
        assert response.status_code == 413
        assert seen[-1].exceeded and seen[-1].received < len(content)
        assert NAMED in response.content.decode()
        assert files(media, "imports") == [] and not team.project.job_runs.filter(kind="import")

    def test_the_reference_sets_page_refuses_the_same_way(self, team, client_for, quota, media):
        kept_export(team.project, 60_000)
        client = client_for(team.lead)
        with body_unread():
            declared = page_upload(client, team.project, "reference_sets", jsonl(150_000))
        streamed = page_upload(client, team.project, "reference_sets", jsonl(50_000))
        assert [declared.status_code, streamed.status_code] == [413, 413]
        assert NAMED in declared.content.decode() and NAMED in streamed.content.decode()
        assert files(media, "references") == []
        assert not team.project.job_runs.filter(kind="reference_import").exists()

    def test_an_upload_that_fits_is_stored_and_counts_while_its_job_waits(
        self, team, client_for, quota, media
    ):
        content = jsonl(30_000)
        response = page_upload(client_for(team.lead), team.project, "import_items", content)
        assert response.status_code == 302 and len(files(media, "imports")) == 1
        assert project_storage_used(project=team.project) == len(content)


# --- the command ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_import_command_counts_its_copy(team, quota, media, tmp_path):
    """`manage.py import_items` copies the file under MEDIA_ROOT for the job: the quota holds."""
    kept_export(team.project, 60_000)
    source = tmp_path / "items.jsonl"
    source.write_bytes(jsonl(50_000))
    with pytest.raises(CommandError, match=r"storage quota of 97\.7 KB \(100,000 bytes\)"):
        call_command("import_items", team.project.slug, str(source))
    assert files(media, "imports") == [] and not team.project.job_runs.filter(kind="import")


@pytest.mark.django_db
class TestServiceCheck:
    """import_start measures again itself: an upload that got past the request's check while
    another file of the project was stored is still refused, and nothing is kept."""

    def test_a_source_of_unknown_size_is_removed_once_written(self, team, quota, media):
        kept_export(team.project, 60_000)
        with pytest.raises(StorageQuotaExceeded) as refused:
            import_start(project=team.project, user=team.lead, source=io.BytesIO(jsonl(50_000)),
                         filename="items.jsonl", options={})  # fmt: skip
        assert_refused(refused.value.reason)
        assert refused.value.message_dict == {"file": [refused.value.reason]}
        assert files(media, "imports") == [] and not team.project.job_runs.filter(kind="import")

    def test_a_reference_upload_is_measured_by_its_service_too(self, team, quota, media, tmp_path):
        kept_export(team.project, 60_000)
        source = tmp_path / "reference.jsonl"
        source.write_bytes(jsonl(50_000))
        with pytest.raises(StorageQuotaExceeded) as refused:
            reference_upload_start(project=team.project, user=team.lead, source=str(source),
                                   filename="reference.jsonl")  # fmt: skip
        assert_refused(refused.value.reason)
        assert files(media, "references") == []
        assert not team.project.job_runs.filter(kind="reference_import")

    def test_the_api_and_the_page_answer_413_when_the_service_refuses(
        self, team, api_lead, client_for, quota, media
    ):
        kept_export(team.project, 60_000)
        roomy = ProjectQuota(limit=0, used=0)  # as measured before the other file landed
        with mock.patch("curation.api.project_quota", return_value=roomy):
            response = api_import(api_lead, team.project, jsonl(50_000))
        assert response.status_code == 413
        assert_refused(response.json()["detail"])
        with mock.patch("curation.views.project_quota", return_value=roomy):
            response = page_upload(client_for(team.lead), team.project, "import_items",
                                   jsonl(50_000))  # fmt: skip
        assert response.status_code == 413 and NAMED in response.content.decode()
        assert files(media, "imports") == [] and not team.project.job_runs.filter(kind="import")


# --- export jobs ------------------------------------------------------------------------------


def run_export(team, fmt: str) -> JobRun:
    run = export_start(project=team.project, user=team.lead, fmt=fmt, mode="final")
    job_run_execute.run(run.pk)
    run.refresh_from_db()
    return run


@pytest.mark.django_db
class TestExportJob:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_an_export_that_would_cross_the_quota_fails_naming_it_and_leaves_no_file(
        self, team, quota, media, fmt
    ):
        kept = kept_export(team.project, QUOTA - 100)
        run = run_export(team, fmt)
        assert run.status == JobStatus.FAILED
        assert run.message.startswith(f"The export would take this project past its {NAMED}")
        assert "PROJECT_STORAGE_QUOTA_BYTES" in run.message
        assert files(media, "exports") == [kept.params["stored_name"]]  # no partial file

    def test_an_export_that_fits_is_kept_and_counts(self, team, quota, media):
        run = run_export(team, "jsonl")
        assert run.status == JobStatus.DONE, run.message
        assert project_storage_used(project=team.project) == run.counts["bytes"] > 0


# --- freeing space ----------------------------------------------------------------------------


@pytest.mark.django_db
class TestFreeing:
    def test_deleting_an_expired_export_lets_the_next_upload_through(
        self, team, api_lead, quota, media
    ):
        kept_export(team.project, 60_000)
        assert api_import(api_lead, team.project, jsonl(50_000)).status_code == 413
        assert exports_sweep(now=after_retention()) == 1
        assert files(media, "exports") == []
        response = api_import(api_lead, team.project, jsonl(50_000))
        assert response.status_code == 202
        assert len(files(media, "imports")) == 1

    def test_an_export_job_fits_again_once_old_exports_are_deleted(self, team, quota, media):
        kept_export(team.project, QUOTA - 100)
        assert run_export(team, "jsonl").status == JobStatus.FAILED
        exports_sweep(now=after_retention())
        assert run_export(team, "jsonl").status == JobStatus.DONE

    def test_a_finished_imports_upload_stops_counting(self, team, run_import, quota):
        run = run_import(jsonl(60_000))
        assert run.status == JobStatus.DONE, run.message
        assert project_storage_used(project=team.project) == 0
        again = run_import(jsonl(60_000, "Refund please"), filename="more.jsonl")
        assert again.status == JobStatus.DONE, again.message


# --- measuring --------------------------------------------------------------------------------


@pytest.mark.django_db
class TestMeasure:
    def test_only_the_projects_own_files_count_in_one_query(
        self, team, quota, media, django_assert_num_queries
    ):
        kept_export(team.project, 1000)
        kept_export(team.other_project, 5000)
        expired = kept_export(team.project, 7000)  # past retention, not yet swept
        old = timezone.now() - timedelta(hours=settings.EXPORT_RETENTION_HOURS + 1)
        JobRun.objects.filter(pk=expired.pk).update(finished_at=old)
        with django_assert_num_queries(1):
            assert project_storage_used(project=team.project) == 1000

    def test_zero_means_no_quota_and_nothing_is_measured(
        self, team, media, django_assert_num_queries
    ):
        kept_export(team.project, 60_000)
        with override_settings(PROJECT_STORAGE_QUOTA_BYTES=0), django_assert_num_queries(0):
            measured = project_quota(project=team.project)
        assert measured.remaining is None and not measured.refuses(10**12)
