"""HTTP-level requirements: no path out of the static or media folders (FILE-4), secure cookies
and HSTS under production settings (AUTH-6), no open redirect after sign-in or sign-out
(AUTH-8), no self-registration (AUTH-3), no endpoint to change another user (AUTHZ-9), sign-in
lockout that backs off (AUTH-7), and downloads that browsers never render (XSS-6)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from curation.accounts import BASE_LOCK, FAILURES_BEFORE_LOCK, MAX_LOCK, _lock_remaining
from curation.models import JobStatus
from tests.factories import PASSWORD

LOGIN = "/accounts/login/"

# --- FILE-4 -------------------------------------------------------------------------------------

TRAVERSALS = [
    "/static../config/settings.py",
    "/static/../config/settings.py",
    "/static/%2e%2e/config/settings.py",
    "/static/..%2fconfig/settings.py",
    "/static/%2e%2e%2f%2e%2e%2fconfig/settings.py",
    "/static/css/../../config/settings.py",
    "/static//etc/passwd",
    "/media../",
    "/media/../data/dev-secret-key",
    "/media/imports/",
    "/data/dev-secret-key",
    "/config/settings.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_reaches_files_outside_the_static_folder(client, db, path):
    """FILE-4: traversal out of /static/ or into uploads is a 404, signed in or not."""
    response = client.get(path)
    assert response.status_code == 404
    assert b"SECRET_KEY" not in response.content and b"root:" not in response.content


def test_uploads_are_never_served(client, team, settings, tmp_path):
    """FILE-4 / XSS-6: an uploaded file (here an HTML file in the imports folder) has no URL:
    uploads live outside the static folders and no route serves MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "imports").mkdir()
    (tmp_path / "imports" / "0123abcd.html").write_text("<script>alert(1)</script>")
    client.force_login(team.lead)
    for path in ("/media/imports/0123abcd.html", "/imports/0123abcd.html"):
        assert client.get(path).status_code == 404
    media = Path(django_settings.MEDIA_ROOT).resolve()
    for static in [*django_settings.STATICFILES_DIRS, django_settings.STATIC_ROOT]:
        if static:
            static = Path(static).resolve()
            assert not media.is_relative_to(static) and not static.is_relative_to(media)


# --- AUTH-6 -------------------------------------------------------------------------------------


@pytest.fixture
def production_http(settings):
    """The values the settings take with DEBUG off (tests/test_settings.py checks they do)."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = settings.SECURE_HSTS_PRELOAD = True
    settings.DEBUG = False


def test_production_cookies_are_secure_httponly_and_samesite(team, production_http):
    """AUTH-6: the session cookie is Secure, HttpOnly, SameSite=Lax; the CSRF cookie Secure and
    SameSite=Lax; HTTPS responses carry HSTS; plain HTTP is redirected to HTTPS."""
    client = Client()
    page = client.get(LOGIN, secure=True)
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    csrf = client.cookies["csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax"
    response = client.post(
        LOGIN, {"username": team.lead.username, "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    session = client.cookies["sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    plain = Client().get("/", secure=False)
    assert plain.status_code == 301 and plain["Location"].startswith("https://")


def test_healthz_stays_reachable_over_http_for_the_load_balancer(db, production_http):
    assert Client().get("/healthz").status_code == 200


# --- AUTH-8 -------------------------------------------------------------------------------------

OFF_SITE = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example/x",
    "///evil.example/x",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "http://testserver@evil.example/",
    "http://testserver.evil.example/",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    " //evil.example",
    "https://evil.example%23@testserver/",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_no_redirect_after_sign_in_or_out_leaves_the_site(client, team, target):
    """AUTH-8: `next` is followed only to a path of this site."""
    response = client.post(
        LOGIN, {"username": team.lead.username, "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    response = client.post(f"/accounts/logout/?next={target}")
    assert response.status_code == 302 and response["Location"] == reverse("login")


def test_a_same_site_next_is_followed(client, team):
    target = f"/p/{team.project.slug}/"
    response = client.post(f"{LOGIN}?next={target}",
                           {"username": team.lead.username, "password": PASSWORD})  # fmt: skip
    assert response["Location"] == target


# --- AUTH-3, AUTHZ-9 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/signup/",
        "/accounts/register/",
        "/signup/",
        "/register/",
        "/api/register/",
        "/api/users/register/",
        "/accounts/password/reset/",
    ],  # fmt: skip
)
def test_nobody_signs_themselves_up(client, db, path):
    """AUTH-3: self-registration does not exist (accounts are made by staff: api:user-list is
    staff-only, see the authorization matrix), and there is no e-mailed reset link to abuse."""
    assert client.get(path).status_code == 404
    form = {"username": "me", "password1": "x", "password2": "x"}
    assert client.post(path, form).status_code in (403, 404)


def test_no_endpoint_changes_another_user(client, team):
    """AUTHZ-9: there is no per-user API; the password form changes only the signed-in user's
    password, whatever names the request adds."""
    client.force_login(team.reviewer)
    for method in ("get", "patch", "put", "delete"):
        response = getattr(client, method)(f"/api/users/{team.lead.pk}/")
        assert response.status_code == 404
        response = getattr(client, method)(f"/api/users/{team.lead.username}/")
        assert response.status_code == 404
    new = "a-brand-new-passphrase-77"
    response = client.post("/accounts/password/", {
        "old_password": PASSWORD, "new_password1": new, "new_password2": new,
        "user": team.lead.pk, "username": team.lead.username,
    })  # fmt: skip
    assert response.status_code == 302
    team.lead.refresh_from_db()
    team.reviewer.refresh_from_db()
    assert team.lead.check_password(PASSWORD) and team.reviewer.check_password(new)


# --- AUTH-7 -------------------------------------------------------------------------------------


def test_the_lockout_doubles_with_each_failure_up_to_its_cap():
    """AUTH-7: backoff. The lock starts at BASE_LOCK at the threshold, doubles with each further
    failure, never exceeds MAX_LOCK, and ends when its time is up."""
    now = timezone.now()

    def lock(failures: int, ago=timedelta(0)) -> timedelta:
        return _lock_remaining([now - ago] * failures, FAILURES_BEFORE_LOCK, now)

    assert lock(FAILURES_BEFORE_LOCK - 1) == timedelta(0)
    assert lock(FAILURES_BEFORE_LOCK) == BASE_LOCK
    assert lock(FAILURES_BEFORE_LOCK + 1) == 2 * BASE_LOCK
    assert lock(FAILURES_BEFORE_LOCK + 3) == 8 * BASE_LOCK
    assert lock(FAILURES_BEFORE_LOCK + 30) == MAX_LOCK
    assert lock(FAILURES_BEFORE_LOCK, ago=BASE_LOCK + timedelta(seconds=1)) == timedelta(0)


def test_a_lockout_ends_and_the_right_password_works_again(client, team):
    from curation.models import AuditEvent, AuditKind

    for _ in range(FAILURES_BEFORE_LOCK):
        client.post(LOGIN, {"username": team.annotator.username, "password": "wrong"})
    assert "_auth_user_id" not in client.session
    AuditEvent.objects.filter(kind=AuditKind.LOGIN_FAILED).update(
        created_at=timezone.now() - BASE_LOCK - timedelta(seconds=5)
    )
    response = client.post(LOGIN, {"username": team.annotator.username, "password": PASSWORD})
    assert response.status_code == 302


# --- XSS-6 --------------------------------------------------------------------------------------

DOWNLOAD_TYPES = {"application/x-ndjson", "text/csv", "application/zip", "application/json",
                  "application/vnd.apache.parquet", "application/octet-stream"}  # fmt: skip


def assert_never_rendered(response):
    kind = response["Content-Type"].split(";")[0]
    assert kind in DOWNLOAD_TYPES, kind
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_files_built_from_user_data_download_as_attachments(team, client, settings, tmp_path):
    """XSS-6: everything Concord serves that is built from items (exports, versions, tables) is
    an attachment with a fixed content type and nosniff, so item text such as
    `<html><script>` is never rendered by the browser. (Uploads are never served back.)"""
    from curation.exporting.files import export_dir
    from curation.tasks import job_run_execute
    from curation.versions import version_freeze_start

    settings.MEDIA_ROOT = tmp_path
    team.project.items.update(data={"text": "<html><script>alert(1)</script>"})
    export_dir().mkdir(parents=True)
    (export_dir() / "x.jsonl").write_text("{}\n")
    run = team.project.job_runs.create(
        kind="export", status=JobStatus.DONE, finished_at=timezone.now(),
        params={"format": "jsonl", "mode": "final", "stored_name": "x.jsonl"},
    )  # fmt: skip
    freeze = version_freeze_start(project=team.project, user=team.lead, note="")
    job_run_execute.run(freeze.pk)
    client.force_login(team.lead)
    slug = team.project.slug
    responses = [
        client.get(reverse("curation:job_download", args=[slug, run.pk])),
        client.get(reverse("api:job-download", args=[run.pk])),
        client.post(reverse("curation:export_items", args=[slug]),
                    {"format": "csv", "mode": "final", "action": "download"}),
        client.post(reverse("curation:export_items", args=[slug]),
                    {"format": "jsonl", "mode": "annotations", "action": "download"}),
        client.get(reverse("curation:version_download", args=[slug, 1])),
        client.get(reverse("api:version-download", args=[slug, 1])),
    ]  # fmt: skip
    for response in responses:
        assert response.status_code == 200
        assert_never_rendered(response)
        assert b"".join(response.streaming_content)  # read, not closed: closing ends the request
