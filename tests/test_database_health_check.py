"""The PostgreSQL backend's health check (config/postgresql): an idle live connection is kept
without a round trip, a connection the server ended is found out and replaced before the
request's first query fails."""

import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="the PostgreSQL backend",
    ),
]


def _other_connection():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def _last_query(pid: int) -> str:
    with _other_connection() as other:
        found = other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return found.fetchone()[0]


def _new_request():
    """What Django does between requests: forget the last health check, then check."""
    connection.close_if_unusable_or_obsolete()
    connection.close_if_health_check_failed()


@pytest.fixture
def checked_connection(settings):
    connection.close()
    connection.settings_dict["CONN_HEALTH_CHECKS"] = True
    connection.settings_dict["CONN_MAX_AGE"] = 60
    connection.ensure_connection()
    yield
    connection.close()


def test_an_idle_live_connection_is_kept_without_a_round_trip(checked_connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), 'before the check'")
        pid = cursor.fetchone()[0]
    raw = connection.connection
    _new_request()
    assert connection.connection is raw  # kept
    assert "before the check" in _last_query(pid)  # and nothing was sent to the server


def test_a_connection_the_server_ended_is_replaced_before_the_first_query(checked_connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with _other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        # Until the server has ended it: the backend sends its FATAL message, then leaves
        # pg_stat_activity. A hundred quick tries were not always enough on a busy machine.
        deadline = time.monotonic() + 30
        while not other.execute("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity "
                                 "WHERE pid = %s)", [pid]).fetchone()[0]:  # fmt: skip
            assert time.monotonic() < deadline, "the server did not end the connection"
            time.sleep(0.01)
    assert connection.is_usable() is False
    _new_request()
    with connection.cursor() as cursor:  # a new connection: no error reaches the request
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
