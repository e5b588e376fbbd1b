"""The hot path's statements are prepared once per connection on PostgreSQL (`rows.cursor`),
while Django's own queries stay unprepared, and DB_PREPARED_STATEMENTS=false turns it off."""

import pytest
from django.db import connection

from curation import rows
from tests.test_settings import PRODUCTION, settings_values

pytestmark = pytest.mark.django_db

MARKER = "SELECT %s::int + 1 AS prepared_statement_probe"


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares statements")
def test_hot_path_statements_are_prepared_and_django_queries_are_not():
    with rows.cursor() as cursor:
        cursor.execute(MARKER, [41])
        assert cursor.fetchone() == (42,)
        cursor.execute(MARKER, [1])  # the same statement, now executed from its plan
        assert cursor.fetchone() == (2,)
    probes = [s for s in _prepared() if "prepared_statement_probe" in s]
    assert len(probes) == 1, probes
    assert "$1" in probes[0]  # bound on the server, not spelled into the SQL

    with connection.cursor() as cursor:  # Django's own cursor: parameters spelled in
        for _ in range(3):
            cursor.execute("SELECT %s::int AS client_side_probe", [7])
    assert not [s for s in _prepared() if "client_side_probe" in s]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares statements")
def test_errors_in_a_prepared_statement_are_django_errors():
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic(), rows.cursor() as cursor:
        cursor.execute("SELECT 1 / %s::int", [0])


def test_sqlite_uses_the_ordinary_cursor():
    with rows.cursor() as cursor:
        cursor.execute("SELECT %s + 1", [1])
        assert cursor.fetchone()[0] == 2


def test_prepared_statements_are_on_by_default_and_can_be_turned_off(tmp_path):
    on = settings_values(PRODUCTION, tmp_path, "DATABASES")["DATABASES"]["default"]["OPTIONS"]
    assert on["prepare_threshold"] == 0
    off = settings_values({**PRODUCTION, "DB_PREPARED_STATEMENTS": "false"}, tmp_path,
                          "DATABASES")["DATABASES"]["default"]  # fmt: skip
    assert "prepare_threshold" not in off.get("OPTIONS", {})


def test_the_query_log_shows_hot_path_statements_with_their_parameters():
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured, rows.cursor() as cursor:
        cursor.execute("SELECT %s + 1 AS logged_probe", [41])
    assert [q["sql"] for q in captured.captured_queries] == ["SELECT 41 + 1 AS logged_probe"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares statements")
def test_hot_path_statements_are_planned_once_not_for_each_value():
    """A range over times is the case where PostgreSQL, left to choose, plans a prepared
    statement afresh for every run: a generic plan guesses the range's rows, and the guess
    looks costlier than the plan for the values at hand. The hot path's statements keep one
    plan."""
    from datetime import timedelta

    from django.utils import timezone

    sql = ("SELECT count(*) AS planned_once_probe FROM annotation_annotation "
           "WHERE annotator_id = %s AND created_at > %s AND created_at <= %s")  # fmt: skip
    now = timezone.now()
    with rows.cursor() as cursor:
        for n in range(8):
            cursor.execute(sql, [n, now - timedelta(seconds=n), now])
            assert cursor.fetchone() == (0,)
    with connection.cursor() as cursor:
        cursor.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                       "WHERE statement LIKE %s", ["%planned_once_probe%"])  # fmt: skip
        generic, custom = cursor.fetchone()
    assert (generic, custom) == (8, 0)
