"""The import, export, job-report and duplicates pages: uploads run as jobs whose report names
lines, over-limit uploads are refused before a byte is stored, file names never become markup or
paths, and exports reach only reviewers and leads of the project."""

import csv
import io
import re
from datetime import timedelta

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from curation.exporting import FORMATS, MODES
from curation.forms import EXPORT_FORMATS, EXPORT_MODES, IMPORT_FORMATS
from curation.hashing import content_hash
from curation.importing.readers import FORMATS as READ_FORMATS
from curation.jobs import _reporter
from curation.models import JobRun, JobStatus
from tests.factories import ItemFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
GOOD = b'{"id": "g-1", "text": "Card charged twice"}\n{"id": "g-2", "text": "Refund please"}\n'
STORED_NAME = re.compile(r"^[0-9a-f]{32}(\.[a-z]+)*$")


def url(name, team, **kwargs):
    return reverse(f"curation:{name}", kwargs={"slug": team.project.slug, **kwargs})


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks, in_process_jobs, media):
    """Within `with run_jobs():` jobs dispatched on commit run when the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def stored_files(media):
    folder = media / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def upload(client, team, content, name="items.jsonl", extra=None, **options):
    data = {"file": SimpleUploadedFile(name, content), **options}
    return client.post(url("import_items", team), data, **(extra or {}))


def multipart(filename: str, content: bytes, **fields) -> tuple[bytes, str]:
    """A multipart body with `filename` exactly as given (the test client would clean it)."""
    boundary = "concordtestboundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def latest_import(team) -> JobRun:
    return team.project.job_runs.filter(kind="import").latest("id")


# --- the import page --------------------------------------------------------------------------


@pytest.mark.django_db
class TestImportPage:
    def test_lead_sees_the_form_with_formats_shapes_and_the_limit(self, team, client_for):
        response = client_for(team.lead).get(url("import_items", team))
        html = response.content.decode()
        assert response.status_code == 200
        assert 'enctype="multipart/form-data"' in html and 'name="file"' in html
        for words in ["JSON Lines", "Parquet", "Label Studio", "annotations", "prediction"]:
            assert words in html
        assert "Skip invalid rows" in html and "Skip exact duplicates" in html
        assert "2.0 GB" in html and 'data-max-bytes="2147483648"' in html

    def test_htmx_gets_the_form_fragment(self, team, client_for):
        response = client_for(team.lead).get(url("import_items", team), **HTMX)
        html = response.content.decode()
        assert html.lstrip().startswith('<form id="import-form"') and "<html" not in html

    def test_project_page_links_import_for_leads_and_export_for_reviewers(self, team, client_for):
        def links(user):
            html = client_for(user).get(url("project_detail", team)).content.decode()
            return url("import_items", team) in html, url("export_items", team) in html

        assert links(team.lead) == (True, True)
        assert links(team.reviewer) == (False, True)
        assert links(team.annotator) == (False, False)

    def test_upload_runs_the_import_and_the_report_counts_in_words(
        self, team, client_for, run_jobs
    ):
        content = GOOD + (
            b'{"id": "g-3", "text": "Where is my parcel", "annotations": '
            b'[{"annotator": "anna_1", "value": {"label": "shipping"}}, '
            b'{"annotator": "zoe_new", "value": {"label": "shipping"}}]}\n'
        )
        client = client_for(team.lead)
        with run_jobs():
            response = upload(client, team, content, skip_duplicates="on")
        run = latest_import(team)
        assert response.status_code == 302
        assert response["Location"] == url("job_status", team, job_id=run.pk)
        assert run.status == JobStatus.DONE, run.message
        assert team.project.items.filter(external_id__startswith="g-").count() == 3
        html = client.get(response["Location"]).content.decode()
        assert "3 items created" in html and "3 rows read" in html
        assert "2 annotations created" in html and "1 user account created" in html
        assert "New accounts (1)" in html and "zoe_new" in html
        assert "Added to the project as annotators: zoe_new." in html
        assert 'value="100"' in html and "items.jsonl" in html

    def test_htmx_upload_swaps_in_the_report_and_pushes_its_address(self, team, client_for, media):
        response = upload(client_for(team.lead), team, GOOD, extra=HTMX)
        run = latest_import(team)
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<section id="job-report"')
        assert 'hx-trigger="every 1s"' in html  # queued: it polls until the run ends
        assert response["HX-Push-Url"] == url("job_status", team, job_id=run.pk)

    def test_a_file_with_one_bad_line_imports_nothing_and_the_report_names_it(
        self, team, client_for, run_jobs
    ):
        content = GOOD + b'{"id": "g-3", "text": \n{"id": "g-4", "text": "Fine"}\n'
        client = client_for(team.lead)
        with run_jobs():
            upload(client, team, content)
        run = latest_import(team)
        assert run.status == JobStatus.FAILED
        assert not team.project.items.filter(external_id__startswith="g-").exists()
        html = client.get(url("job_status", team, job_id=run.pk)).content.decode()
        assert "Nothing was imported" in html
        assert '<th scope="row">line 3</th>' in html
        assert "is not valid JSON" in html
        assert url("job_errors", team, job_id=run.pk) in html

    def test_skip_invalid_imports_the_good_rows_and_reports_the_others(
        self, team, client_for, run_jobs
    ):
        content = GOOD + b'{"id": "g-3", "txt": "typo"}\n'
        client = client_for(team.lead)
        with run_jobs():
            upload(client, team, content, skip_invalid="on")
        run = latest_import(team)
        assert run.status == JobStatus.DONE
        assert team.project.items.filter(external_id__startswith="g-").count() == 2
        html = client.get(url("job_status", team, job_id=run.pk)).content.decode()
        assert "2 items created" in html and "1 row with problems" in html
        assert '<th scope="row">line 3</th>' in html and "field `text` missing" in html

    def test_report_says_first_n_of_m_errors(self, team, client_for, run_jobs, settings):
        settings.IMPORT_MAX_ERRORS_KEPT = 3
        client = client_for(team.lead)
        with run_jobs():
            upload(client, team, b"[1]\n" * 5)
        html = client.get(url("job_status", team, job_id=latest_import(team).pk)).content
        assert b"The first 3 of 5 problems" in html
        assert html.count(b'<th scope="row">line ') == 3

    def test_a_name_without_a_known_suffix_names_the_format_field(self, team, client_for, media):
        response = upload(client_for(team.lead), team, GOOD, name="items.txt", extra=HTMX)
        html = response.content.decode()
        assert response.status_code == 200
        format_field = html.split('for="id_format"')[1].split('for="id_text_field"')[0]
        assert "cannot tell the format" in format_field
        assert stored_files(media) == [] and not team.project.job_runs.exists()

    def test_while_an_import_runs_another_is_refused_with_a_link_to_it(
        self, team, client_for, media
    ):
        running = JobRun.objects.create(
            project=team.project, kind="import", status=JobStatus.RUNNING, params={}
        )
        client = client_for(team.lead)
        page = client.get(url("import_items", team)).content.decode()
        assert f'href="{url("job_status", team, job_id=running.pk)}"' in page
        response = upload(client, team, GOOD, extra=HTMX)
        html = response.content.decode()
        assert response.status_code == 200
        assert "Another import of this project is running" in html
        assert f'href="{url("job_status", team, job_id=running.pk)}"' in html
        assert stored_files(media) == []
        assert team.project.job_runs.count() == 1


# --- upload size ------------------------------------------------------------------------------


@pytest.mark.django_db
class TestUploadLimit:
    def test_declared_oversize_is_refused_with_413_naming_the_limit(
        self, team, client_for, media, settings
    ):
        settings.IMPORT_MAX_UPLOAD_BYTES = 1000
        client = client_for(team.lead)
        for extra in [{}, HTMX]:
            response = upload(client, team, b"x" * 200_000, extra=extra)
            html = response.content.decode()
            assert response.status_code == 413
            assert "import limit of 1,000 bytes" in html
            assert '<form id="import-form"' in html
        assert stored_files(media) == [] and not team.project.job_runs.exists()

    def test_a_body_over_the_limit_is_stopped_while_it_streams(
        self, team, client_for, media, settings
    ):
        """A body whose declared length passes (it lies, or is chunked) is cut off at the limit."""
        settings.IMPORT_MAX_UPLOAD_BYTES = 1000
        response = upload(client_for(team.lead), team, b'{"text": "x"}\n' * 400)
        assert response.status_code == 413
        assert b"import limit of 1,000 bytes" in response.content
        assert stored_files(media) == [] and not team.project.job_runs.exists()

    def test_a_file_at_the_limit_is_accepted(self, team, client_for, media, settings):
        settings.IMPORT_MAX_UPLOAD_BYTES = len(GOOD)
        response = upload(client_for(team.lead), team, GOOD)
        assert response.status_code == 302 and len(stored_files(media)) == 1

    def test_size_is_checked_after_the_role(self, team, client_for, media, settings):
        settings.IMPORT_MAX_UPLOAD_BYTES = 1000
        response = upload(client_for(team.annotator), team, b"x" * 200_000)
        assert response.status_code == 403

    def test_malformed_multipart_is_a_400(self, team, client_for, media):
        response = client_for(team.lead).post(
            url("import_items", team), b"--x\r\n", content_type="multipart/form-data"
        )
        assert response.status_code == 400
        assert stored_files(media) == []

    def test_upload_without_csrf_token_is_refused_and_stores_nothing(self, team, media):
        client = Client(enforce_csrf_checks=True)
        client.force_login(team.lead)
        response = upload(client, team, GOOD)
        assert response.status_code == 403
        assert stored_files(media) == [] and not team.project.job_runs.exists()


# --- file names -------------------------------------------------------------------------------

NAMES = [
    ("../../x.jsonl", "x.jsonl", ""),
    ("..\\..\\x.csv", "x.csv", ""),
    ("/etc/passwd.jsonl", "passwd.jsonl", ""),
    ("a\x00b.jsonl", "ab.jsonl", ""),
    ("n" * 294 + ".jsonl", "n" * 100, "jsonl"),
    ("<img src=x onerror=alert(1)>.jsonl", "<img src=x onerror=alert(1)>.jsonl", ""),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("filename", "shown", "fmt"), NAMES)
def test_file_names_are_shown_escaped_and_never_become_paths(
    team, client_for, media, filename, shown, fmt
):
    content = b"text\nhello\n" if filename.endswith(".csv") else GOOD
    body, content_type = multipart(filename, content, format=fmt)
    client = client_for(team.lead)
    response = client.post(url("import_items", team), body, content_type=content_type)
    assert response.status_code == 302, response.content[:2000]
    (name,) = stored_files(media)
    assert STORED_NAME.match(name), name
    assert sorted(p.name for p in media.parent.iterdir()) == ["media"]
    assert sorted(p.name for p in media.iterdir()) == ["imports"]
    html = client.get(response["Location"]).content.decode()
    assert escape(shown) in html
    if "<" in shown:
        assert shown not in html


# --- the job report ---------------------------------------------------------------------------


@pytest.mark.django_db
class TestJobReport:
    def test_the_report_polls_with_live_progress_then_stops(self, team, client_for):
        run = JobRun.objects.create(
            project=team.project, kind="import", status=JobStatus.RUNNING, params={}
        )
        _reporter(run)(0.4, {"rows": 12, "items_created": 0})
        client = client_for(team.reviewer)
        target = {**HTMX, "HTTP_HX_TARGET": "job-report"}
        live = client.get(url("job_status", team, job_id=run.pk), **target)
        html = live.content.decode()
        assert live.status_code == 200 and html.lstrip().startswith('<section id="job-report"')
        assert 'hx-trigger="every 1s"' in html and 'value="40"' in html and "12 rows read" in html
        JobRun.objects.filter(pk=run.pk).update(
            status=JobStatus.DONE, progress=1.0, counts={"rows": 12, "items_created": 12}
        )
        done = client.get(url("job_status", team, job_id=run.pk), **target)
        assert done.status_code == 286  # htmx stops polling
        assert "hx-trigger" not in done.content.decode() and b"12 items created" in done.content

    def test_user_data_in_the_report_is_escaped(self, team, client_for):
        payload = "<img src=x onerror=alert(1)>"
        run = JobRun.objects.create(
            project=team.project,
            kind="import",
            status=JobStatus.FAILED,
            message=payload,
            params={"filename": payload},
            errors=[{"where": payload, "field": payload, "message": payload, "line": 1}],
            error_count=1,
            counts={"users_created": [payload], "users_created_count": 1},
        )
        client = client_for(team.lead)
        for extra in [{}, {**HTMX, "HTTP_HX_TARGET": "job-report"}, HTMX]:
            html = client.get(url("job_status", team, job_id=run.pk), **extra).content.decode()
            assert payload not in html and escape(payload) in html

    def test_errors_download_as_formula_safe_csv_for_reviewers_and_leads(self, team, client_for):
        run = JobRun.objects.create(
            project=team.project,
            kind="import",
            status=JobStatus.FAILED,
            errors=[
                {
                    "file": "a.csv",
                    "where": "line 2",
                    "line": 2,
                    "field": "text",
                    "code": "missing_text",
                    "message": '=HYPERLINK("http://evil")',
                },
            ],  # fmt: skip
            error_count=1,
        )
        # The messages quote the file's annotations: never for annotators (blindness).
        assert (
            client_for(team.annotator).get(url("job_errors", team, job_id=run.pk)).status_code
            == 403
        )
        response = client_for(team.reviewer).get(url("job_errors", team, job_id=run.pk))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == (
            f'attachment; filename="support-intents-{run.pk}-errors.csv"'
        )
        assert response["X-Content-Type-Options"] == "nosniff"
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0] == ["file", "where", "line", "field", "code", "message"]
        assert rows[1] == [
            "a.csv",
            "line 2",
            "2",
            "text",
            "missing_text",
            '\'=HYPERLINK("http://evil")',
        ]

    def test_project_page_lists_import_and_export_runs(self, team, client_for):
        JobRun.objects.create(
            project=team.project,
            kind="import",
            status=JobStatus.DONE,
            progress=1.0,
            counts={"rows": 2, "items_created": 2},
            message="Imported 2 items from a.jsonl.",
        )
        html = client_for(team.reviewer).get(url("project_detail", team)).content.decode()
        assert "Import #" in html and "2 items created" in html
        html = client_for(team.annotator).get(url("project_detail", team)).content.decode()
        assert "Import #" not in html and "Background jobs" not in html


# --- export -----------------------------------------------------------------------------------


def export_run(team, client, run_jobs, fmt="jsonl", mode="final") -> JobRun:
    with run_jobs():
        response = client.post(
            url("export_items", team), {"format": fmt, "mode": mode, "action": "job"}
        )
    run = team.project.job_runs.filter(kind="export").latest("id")
    assert response.status_code == 302
    assert response["Location"] == url("job_status", team, job_id=run.pk)
    return run


@pytest.mark.django_db
class TestExport:
    def test_reviewer_sees_the_form_and_annotator_gets_403(self, team, client_for):
        page = client_for(team.reviewer).get(url("export_items", team))
        assert page.status_code == 200
        assert b"Download now" in page.content and b"Run as a job" in page.content
        assert client_for(team.annotator).get(url("export_items", team)).status_code == 403

    def test_download_now_streams_jsonl(self, team, client_for):
        response = client_for(team.reviewer).post(
            url("export_items", team), {"format": "jsonl", "mode": "final", "action": "download"}
        )
        assert response.status_code == 200 and response.streaming
        assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
        assert (
            response["Content-Disposition"] == 'attachment; filename="support-intents-final.jsonl"'
        )
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"].startswith("sandbox")
        records = [orjson.loads(line) for line in b"".join(response.streaming_content).splitlines()]
        assert sorted(r["id"] for r in records) == sorted(
            team.project.items.values_list("external_id", flat=True)
        )

    def test_download_now_csv_neutralises_formulas(self, team, client_for):
        ItemFactory(project=team.project, external_id="f", data={"text": "=1+1"})
        response = client_for(team.lead).post(
            url("export_items", team), {"format": "csv", "mode": "final", "action": "download"}
        )
        body = b"".join(response.streaming_content).decode()
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert ",'=1+1," in body

    def test_parquet_cannot_be_downloaded_now(self, team, client_for):
        response = client_for(team.lead).post(
            url("export_items", team),
            {"format": "parquet", "mode": "final", "action": "download"},
            **HTMX,
        )
        assert response.status_code == 200
        assert b"choose Run as a job" in response.content
        assert response.content.lstrip().startswith(b'<form id="export-form"')

    def test_export_job_is_downloaded_by_reviewers_and_leads(self, team, client_for, run_jobs):
        run = export_run(team, client_for(team.lead), run_jobs)
        assert run.status == JobStatus.DONE, run.message
        download = url("job_download", team, job_id=run.pk)
        for user in [team.reviewer, team.lead]:
            client = client_for(user)
            assert download in client.get(url("job_status", team, job_id=run.pk)).content.decode()
            response = client.get(download)
            assert response.status_code == 200
            assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
            assert response["Content-Disposition"] == (
                f'attachment; filename="support-intents-{run.pk}.jsonl"'
            )
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Content-Security-Policy"].startswith("sandbox")
            assert len(b"".join(response.streaming_content).splitlines()) == 5

    def test_annotator_reaches_neither_the_export_run_nor_its_file(
        self, team, client_for, run_jobs
    ):
        run = export_run(team, client_for(team.lead), run_jobs)
        client = client_for(team.annotator)
        assert client.get(url("job_status", team, job_id=run.pk)).status_code == 403
        assert client.get(url("job_download", team, job_id=run.pk)).status_code == 403

    def test_expired_export_is_404_and_the_page_says_so(self, team, client_for, run_jobs, settings):
        run = export_run(team, client_for(team.lead), run_jobs)
        old = timezone.now() - timedelta(hours=settings.EXPORT_RETENTION_HOURS + 1)
        JobRun.objects.filter(pk=run.pk).update(finished_at=old)
        client = client_for(team.lead)
        assert client.get(url("job_download", team, job_id=run.pk)).status_code == 404
        assert b"has expired" in client.get(url("job_status", team, job_id=run.pk)).content

    def test_only_finished_exports_download(self, team, client_for, media):
        client = client_for(team.lead)
        stats = JobRun.objects.create(project=team.project, kind="project_stats", status="done")
        queued = JobRun.objects.create(
            project=team.project, kind="export", params={"format": "jsonl", "stored_name": "x"}
        )
        for run in [stats, queued]:
            assert client.get(url("job_download", team, job_id=run.pk)).status_code == 404

    def test_htmx_job_button_swaps_in_the_report(self, team, client_for, media):
        response = client_for(team.reviewer).post(
            url("export_items", team), {"format": "csv", "mode": "annotations", "action": "job"},
            **HTMX,
        )  # fmt: skip
        run = team.project.job_runs.get(kind="export")
        assert response.content.lstrip().startswith(b'<section id="job-report"')
        assert response["HX-Push-Url"] == url("job_status", team, job_id=run.pk)
        assert run.params["format"] == "csv" and run.params["mode"] == "annotations"


# --- who reaches what -------------------------------------------------------------------------


@pytest.mark.django_db
class TestWhoGetsWhat:
    def routes(self, team):
        job = JobRun.objects.create(
            project=team.project, kind="export", status="done", finished_at=timezone.now()
        )
        return [
            ("get", url("import_items", team), {}),
            ("post", url("import_items", team), {"file": SimpleUploadedFile("a.jsonl", GOOD)}),
            ("get", url("export_items", team), {}),
            ("post", url("export_items", team), {"format": "jsonl", "mode": "final",
                                                 "action": "download"}),
            ("get", url("job_download", team, job_id=job.pk), {}),
            ("get", url("job_errors", team, job_id=job.pk), {}),
            ("get", url("duplicates", team), {}),
        ]  # fmt: skip

    @pytest.mark.parametrize("persona", ["outsider", "other_lead"])
    def test_non_members_get_404_and_nothing_is_stored(self, team, client_for, media, persona):
        client = client_for(team.persona(persona))
        for method, address, data in self.routes(team):
            response = getattr(client, method)(address, data)
            assert response.status_code == 404, (method, address)
            assert team.project.name.encode() not in response.content
        assert stored_files(media) == [] and team.project.job_runs.count() == 1

    def test_annotator_gets_403_on_import_export_and_download(self, team, client_for, media):
        client = client_for(team.annotator)
        for method, address, data in self.routes(team)[:5]:
            assert getattr(client, method)(address, data).status_code == 403, (method, address)
        assert stored_files(media) == []

    def test_a_job_of_another_project_is_404_through_this_one(self, team, client_for):
        foreign = JobRun.objects.create(project=team.other_project, kind="export", status="done")
        client = client_for(team.lead)
        for name in ["job_status", "job_errors", "job_download"]:
            assert client.get(url(name, team, job_id=foreign.pk)).status_code == 404


# --- duplicates -------------------------------------------------------------------------------


def duplicate(team, text, n, prefix):
    for i in range(n):
        data = {"text": text if i % 2 == 0 else f"  {text.upper()} "}
        ItemFactory(project=team.project, external_id=f"{prefix}-{i}", data=data,
                    content_hash=content_hash(data))  # fmt: skip


@pytest.mark.django_db
class TestDuplicates:
    def test_groups_are_listed_largest_first_with_ids_and_counts(self, team, client_for):
        duplicate(team, "refund <b>now</b>", 3, "r")
        duplicate(team, "card blocked", 2, "c")
        duplicate(team, "x", 1, "single")
        client = client_for(team.annotator)
        project = client.get(url("project_detail", team)).content.decode()
        assert "5 items share their text with another" in project
        assert "(2 groups of exact duplicates)" in project
        html = client.get(url("duplicates", team)).content.decode()
        assert "2 groups of items with the same text" in html
        assert html.index("refund") < html.index("card blocked")
        assert escape("refund <b>now</b>") in html and "<b>now</b>" not in html
        assert "<code>r-0</code>, <code>r-1</code>, <code>r-2</code>" in html
        assert "single-0" not in html

    def test_many_copies_show_the_first_ids_and_how_many_more(self, team, client_for):
        duplicate(team, "same", 14, "s")
        html = client_for(team.lead).get(url("duplicates", team)).content.decode()
        assert "<code>s-9</code> and 4 more" in html and "s-10" not in html

    def test_pages_and_htmx_fragment(self, team, client_for):
        for n in range(30):
            duplicate(team, f"text {n}", 2, f"t{n}")
        client = client_for(team.lead)
        second = client.get(url("duplicates", team), {"page": 2}, **HTMX).content.decode()
        assert second.lstrip().startswith('<section id="duplicate-groups"')
        assert second.count("<tr>") == 1 + 5 and "Page 2 of 2" in second

    def test_queries_do_not_grow_with_groups(self, team, client_for):
        client = client_for(team.lead)
        duplicate(team, "one", 2, "a")
        with CaptureQueriesContext(connection) as few:
            client.get(url("duplicates", team))
        for n in range(20):
            duplicate(team, f"more {n}", 3, f"m{n}")
        with CaptureQueriesContext(connection) as many:
            response = client.get(url("duplicates", team))
        assert len(response.context["groups"]) == 21
        assert len(many) == len(few)
        grouped = [q["sql"] for q in many.captured_queries if "GROUP BY" in q["sql"]]
        assert len(grouped) == 2  # the page's groups, and their count for the pager


@pytest.mark.django_db
def test_an_export_of_another_kind_under_way_is_named_with_a_link(team, client_for, media):
    running = JobRun.objects.create(
        project=team.project, kind="export", status=JobStatus.RUNNING,
        params={"format": "csv", "mode": "final", "stored_name": "x.csv"},
    )  # fmt: skip
    client = client_for(team.lead)
    data = {"format": "jsonl", "mode": "final", "action": "job"}
    response = client.post(url("export_items", team), data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "Another export of this project is running" in html
    assert f'href="{url("job_status", team, job_id=running.pk)}"' in html
    same = client.post(url("export_items", team), {**data, "format": "csv"})
    assert same["Location"] == url("job_status", team, job_id=running.pk)


def test_the_forms_offer_exactly_the_formats_and_modes_the_core_knows():
    assert [value for value, _ in IMPORT_FORMATS] == ["", *READ_FORMATS]
    assert [value for value, _ in EXPORT_FORMATS] == list(FORMATS)
    assert [value for value, _ in EXPORT_MODES] == list(MODES)
