"""The export job builds chunks on a second thread when it can (PostgreSQL, autocommit)."""

import orjson
import pytest

from curation.exporting import export_file, export_start
from curation.exporting.records import prefetched
from curation.models import JobStatus
from tests.conftest import jobs_in_process
from tests.factories import ItemFactory, ProjectFactory


def test_prefetched_yields_every_chunk_in_order():
    assert list(prefetched(iter([[1], [2], [3]]), depth=1)) == [[1], [2], [3]]


def test_prefetched_hands_the_producers_error_to_the_consumer():
    def broken():
        yield [1]
        raise ValueError("chunk two failed")

    chunks = prefetched(broken())
    assert next(chunks) == [1]
    with pytest.raises(ValueError, match="chunk two failed"):
        next(chunks)


def test_prefetched_stops_its_thread_when_the_consumer_stops_early():
    produced = []

    def many():
        for i in range(1000):
            produced.append(i)
            yield [i]

    chunks = prefetched(many(), depth=1)
    assert next(chunks) == [0]
    chunks.close()
    assert len(produced) < 1000


@pytest.mark.django_db(transaction=True)
def test_export_job_outside_a_transaction_writes_every_item(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    project = ProjectFactory()
    ItemFactory.create_batch(25, project=project)
    with jobs_in_process():  # also when the suite has a broker but no worker
        run = export_start(project=project, user=None, fmt="jsonl", mode="final")
    run.refresh_from_db()
    assert run.status == JobStatus.DONE, run.message
    lines = export_file(run).read_bytes().splitlines()
    expected = list(project.items.order_by("pk").values_list("external_id", flat=True))
    assert [orjson.loads(line)["id"] for line in lines] == expected
    assert len(expected) == 25
