"""A worker killed with SIGKILL in the middle of an import: nothing of the half-done import is
visible, and a new worker imports the file exactly once (IMP-6, JOB-5)."""

import time

import orjson
import pytest

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
    wait(lambda: (run.refresh_from_db(), run.status == JobStatus.RUNNING)[1], 60, "the claim")
    time.sleep(1.5)  # well inside the import: 300,000 rows take several seconds
    kill(first)
    run.refresh_from_db()
    assert run.status == JobStatus.RUNNING  # the killed worker could not finish or fail it
    assert not Item.objects.filter(project=project).exists()  # its transaction rolled back

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
