"""A worker killed with SIGKILL in the middle of an import: nothing of the half-done import is
visible, and a new worker imports the file exactly once (IMP-6, JOB-5).

The kill lands at a known point, not after a guessed time: the test holds the audit table so
that the import, having written every row, waits to record its commit; the worker is killed
while it waits, with all its rows written and none committed."""

import orjson
import pytest
from django.db import connection, transaction

from curation.importing.files import import_start
from curation.models import AuditEvent, AuditKind, Item, JobStatus
from tests.factories import ProjectFactory, UserFactory
from tests.faults.support import kill, wait

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

ROWS = 300_000


@pytest.fixture
def upload(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"  # before any worker starts: they inherit it
    path = tmp_path / "items.jsonl"
    with open(path, "wb") as out:
        for i in range(ROWS):
            out.write(orjson.dumps({"id": f"r{i}", "text": f"Row {i} of the killed import."}))
            out.write(b"\n")
    return path


def test_an_import_interrupted_by_sigkill_lands_once_on_the_next_worker(upload, workers):
    project, lead = ProjectFactory(), UserFactory()
    first = workers("first")
    run = import_start(project=project, user=lead, source=upload, filename="items.jsonl",
                       options={})  # fmt: skip
    with transaction.atomic():
        hold_the_audit_table()
        wait(lambda: waiting_to_commit(run), 120, "the import to wait on its commit record")
        kill(first)
        run.refresh_from_db()
        assert run.status == JobStatus.RUNNING  # the killed worker could not finish or fail it
        assert not Item.objects.filter(project=project).exists()  # nothing of it is visible

    workers("second")
    wait(lambda: (run.refresh_from_db(), not run.is_active)[1], 180, "the import to finish")
    assert run.status == JobStatus.DONE, run.message
    assert run.attempts == 2  # taken again after its lease ran out
    assert run.counts["items_created"] == ROWS
    items = Item.objects.filter(project=project)
    assert items.count() == ROWS
    assert items.values("external_id").distinct().count() == ROWS
    committed = AuditEvent.objects.filter(project=project, kind=AuditKind.IMPORT_COMMITTED)
    assert committed.count() == 1


def hold_the_audit_table() -> None:
    """Blocks inserts into the audit table until the test's transaction ends."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")


def waiting_to_commit(run) -> bool:
    """Whether a backend waits on a lock to insert this run's commit record."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # read once per transaction otherwise
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE %s AND query LIKE %s",
            [f"%{AuditKind.IMPORT_COMMITTED.value}%", f'%"job": {run.pk}%'],
        )
        return cursor.fetchone()[0] > 0
