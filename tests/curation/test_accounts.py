"""Sign-in, sessions, tokens and security headers (A8 of the security requirements)."""

import pytest
from django.test import Client
from django.urls import path
from rest_framework.authtoken.models import Token

from curation.models import AuditEvent, AuditKind
from tests.factories import PASSWORD

LOGIN = "/accounts/login/"


def sign_in(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def test_signing_in_rotates_the_session_and_is_audited(client, team):
    client.get(LOGIN)
    before = client.cookies.get("sessionid")
    response = sign_in(client, team.lead.username)
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != (before.value if before else None)
    event = AuditEvent.objects.get(kind=AuditKind.LOGIN_OK)
    assert event.actor == team.lead
    assert event.ip == "127.0.0.1"


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, team):
    for _ in range(5):
        response = sign_in(client, team.annotator.username, "wrong-password")
        assert response.status_code == 200
    response = sign_in(client, team.annotator.username)
    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(kind=AuditKind.LOGIN_FAILED).count() == 5
    assert AuditEvent.objects.filter(kind=AuditKind.LOGIN_LOCKED).count() == 1
    # another account is not locked by someone else's failures
    assert sign_in(client, team.reviewer.username).status_code == 302


def test_failed_sign_in_never_stores_the_password(client, team):
    sign_in(client, team.lead.username, "hunter2-marker")
    assert not any("hunter2-marker" in str(e.detail) for e in AuditEvent.objects.all())


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_sign_in_never_redirects_off_site(client, team, target):
    response = client.post(
        f"{LOGIN}?next={target}", {"username": team.lead.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_sign_out_is_a_post_and_ends_the_session(client, team):
    client.force_login(team.lead)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_a_deactivated_user_loses_the_session_and_the_token(client, team):
    client.force_login(team.annotator)
    token = Token.objects.create(user=team.annotator)
    team.annotator.is_active = False
    team.annotator.save()
    assert client.get("/").status_code == 302  # back to sign-in
    api = Client()
    response = api.get("/api/projects/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 401
    assert sign_in(Client(), team.annotator.username).status_code == 200  # form error, no session


def test_session_posts_need_a_csrf_token(team):
    client = Client(enforce_csrf_checks=True)
    assert sign_in(client, team.lead.username).status_code == 403


def test_pages_carry_the_security_headers(client, team):
    response = client.get(LOGIN)
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def boom(request):
    raise RuntimeError("traceback-marker")


urlpatterns = [path("boom/", boom)]


def test_a_server_error_shows_a_generic_page(settings, db):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    assert b"traceback-marker" not in response.content
    assert b"Traceback" not in response.content


def test_no_accounts_exist_on_a_fresh_install(db):
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.count() == 0


def test_changing_the_password_ends_other_sessions(team):
    elsewhere, here = Client(), Client()
    elsewhere.force_login(team.lead)
    here.force_login(team.lead)
    response = here.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-passphrase-31",
            "new_password2": "a-brand-new-passphrase-31",
        },
    )
    assert response.status_code == 302
    assert here.get("/").status_code == 200  # the session that changed it stays signed in
    assert elsewhere.get("/").status_code == 302  # every other session is signed out


def test_no_page_or_endpoint_hands_out_api_tokens(client, team):
    """XSS-7: a token exists for the lead, and nothing reachable with the session shows it."""
    token = Token.objects.create(user=team.lead)
    client.force_login(team.lead)
    slug = team.project.slug
    urls = ["/", f"/p/{slug}/", f"/p/{slug}/members/", "/accounts/password/"]
    urls += ["/api/projects/", f"/api/projects/{slug}/", f"/api/projects/{slug}/members/"]
    for url in urls:
        assert token.key not in client.get(url).content.decode(), url
