"""The 500 handler: a lost database connection is a 503 the client may retry; any other error
is the generic page. Neither leaks the exception (AUTH-10)."""

import json

from django.db import OperationalError
from django.test import RequestFactory

from config.errors import server_error


def handled(path: str, error: Exception):
    request = RequestFactory().post(path)
    try:
        raise error
    except Exception:  # Django calls handler500 inside its own except block
        return server_error(request)


def test_a_dropped_database_connection_is_503_with_retry_after_in_the_api():
    error = OperationalError("server closed the connection at 10.0.0.5")
    response = handled("/api/items/1/annotations/", error)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    body = json.loads(response.content)
    assert "nothing was saved" in body["detail"] and "10.0.0.5" not in response.content.decode()


def test_a_dropped_database_connection_is_a_503_page_on_pages():
    response = handled("/p/x/label/", OperationalError("terminating connection"))
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert b"Temporarily unavailable" in response.content
    assert b"terminating" not in response.content


def test_other_errors_are_the_generic_500_page():
    response = handled("/p/x/label/", RuntimeError("secret internal detail"))
    assert response.status_code == 500 and b"Something went wrong" in response.content
    assert b"secret" not in response.content


def test_psycopgs_own_connection_errors_are_a_503_too():
    """A raw cursor (COPY) raises psycopg's errors, not Django's: still a lost connection."""
    import psycopg

    response = handled("/api/items/1/annotations/", psycopg.OperationalError("server closed"))
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
