"""Checks that span the whole file, whatever chunk a row falls in: a repeated id names the row
that had it first (a line, or a Parquet row group and row), and texts repeated within the file
are told apart from texts the project already had, also in a project with items."""

import io

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.hashing import text_hash
from curation.models import Item, JobStatus
from tests.factories import ProjectFactory


@pytest.fixture(autouse=True)
def _small_chunks(settings):
    settings.IMPORT_CHUNK_ROWS = 3  # every check below crosses chunks


def jsonl(*rows: dict) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def test_an_id_repeated_chunks_later_names_its_first_line(team, run_import):
    rows = [{"id": f"r{i}", "text": f"text {i}"} for i in range(1, 10)]
    rows.append({"id": "r2", "text": "again"})  # line 10, four chunks after line 2
    run = run_import(jsonl(*rows))
    assert run.status == JobStatus.FAILED
    assert [(e["line"], e["field"], e["code"], e["message"]) for e in run.errors] == [
        (10, "id", "duplicate_id", "line 10: id 'r2' repeats the one on line 2.")
    ]


def test_an_id_repeated_in_parquet_names_row_group_and_row(team, run_import):
    out = io.BytesIO()
    rows = [{"id": f"p{i}", "text": f"text {i}"} for i in range(8)] + [{"id": "p6", "text": "x"}]
    pq.write_table(pa.Table.from_pylist(rows), out, row_group_size=4)
    run = run_import(out.getvalue(), "items.parquet")
    assert [e["message"] for e in run.errors] == [
        "row group 2, row 0: id 'p6' repeats the one on row group 1, row 2."
    ]


def test_repeats_within_the_file_and_of_existing_items_are_counted_apart(team, run_import):
    project = ProjectFactory(created_by=team.lead)
    Item.objects.create(project=project, external_id="old", data={"text": "Old text"},
                        content_hash=text_hash("Old text"))  # fmt: skip
    texts = ["old TEXT", "a", "b", "c", "A", "d", "B", "old text", "e"]
    run = run_import(jsonl(*[{"id": f"n{i}", "text": t} for i, t in enumerate(texts)]),
                     project=project)  # fmt: skip
    assert run.status == JobStatus.DONE, run.errors
    assert run.counts["items_created"] == 9
    assert run.counts["duplicates_of_existing"] == 2  # both "old text" rows
    assert run.counts["duplicates_in_file"] == 2  # "A" and "B", chunks after "a" and "b"


def test_skip_duplicates_leaves_out_repeats_from_earlier_chunks(team, run_import):
    project = ProjectFactory(created_by=team.lead)
    Item.objects.create(project=project, external_id="old", data={"text": "Old text"},
                        content_hash=text_hash("Old text"))  # fmt: skip
    texts = ["old TEXT", "a", "b", "c", "A", "d", "B", "old text", "e"]
    run = run_import(jsonl(*[{"id": f"n{i}", "text": t} for i, t in enumerate(texts)]),
                     project=project, skip_duplicates=True)  # fmt: skip
    assert run.status == JobStatus.DONE, run.errors
    kept = Item.objects.filter(project=project).exclude(external_id="old")
    assert sorted(kept.values_list("external_id", flat=True)) == ["n1", "n2", "n3", "n5", "n8"]
    assert run.counts["duplicates_of_existing"] == 2
    assert run.counts["duplicates_in_file"] == 2
    assert run.counts["skipped_duplicates"] == 4
