"""Import paths the broader import tests do not reach (PROC-1 asks for every line of
curation/importing/ to run): a damaged gzip header, a giant line, numbers cut by a read chunk, a
truncated array, Parquet maps, lists and durations, a Label Studio element that is not a task,
`data` given as a JSON cell, an upload gone before its run, and the sweep on a fresh install."""

import csv
import datetime
import decimal
import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.importing import readers
from curation.importing.files import import_start, upload_path, uploads_sweep
from curation.importing.readers import UnreadableFile, json_kind, read_records
from curation.importing.rows import Mapping, build_row
from curation.models import Item, JobStatus
from curation.tasks import job_run_execute

DAMAGED = "the gzip file is damaged or truncated."


@pytest.fixture
def read(tmp_path):
    """read(content, name, fmt) -> [(where, fields or (code, field, message))]."""

    def read(content: bytes, name: str, fmt: str, max_line_bytes: int = 1 << 20):
        path = tmp_path / "upload"
        path.write_bytes(content)
        return [
            (r.where, r.fields)
            if r.problem is None
            else (r.where, (r.problem.code, r.problem.field, r.problem.message))
            for r in read_records(path, name, fmt, max_line_bytes=max_line_bytes)
        ]

    return read


# --- gzip -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"\x1f\x8b\x09not deflate", b"\x1f\x8b\x08\x00"],
    ids=["unknown compression method", "header cut short"],
)
def test_a_gzip_file_damaged_in_its_first_bytes_is_refused(read, content):
    with pytest.raises(UnreadableFile, match=DAMAGED):
        read(content, "items.jsonl.gz", "jsonl")


def test_a_stream_error_in_a_plain_file_is_not_reported_as_gzip_damage(read, monkeypatch):
    def failing(fh, max_line_bytes, max_fields, size, plain=None):
        yield [readers.Record("line 1", 1, fields={"text": "a"})]
        raise EOFError("from a bug, not from the file")

    monkeypatch.setattr(readers, "_jsonl", failing)
    with pytest.raises(EOFError, match="from a bug"):
        read(b'{"text": "a"}\n', "items.jsonl", "jsonl")


def test_a_gzip_stream_error_after_the_first_bytes_is_reported_as_damage(read, monkeypatch):
    def failing(fh, max_line_bytes, max_fields, size, plain=None):
        yield [readers.Record("line 1", 1, fields={"text": "a"})]
        raise EOFError

    monkeypatch.setattr(readers, "_jsonl", failing)
    with pytest.raises(UnreadableFile, match=DAMAGED):
        read(gzip.compress(b'{"text": "a"}\n'), "items.jsonl.gz", "jsonl")


# --- lines and elements ---------------------------------------------------------------------


def test_a_line_megabytes_past_the_limit_is_skipped_whole_and_reading_goes_on(read):
    giant = b'{"text": "' + b"x" * (3 << 20) + b'"}\n'
    rows = read(giant + b'{"text": "after"}\n', "items.jsonl", "jsonl", max_line_bytes=1000)
    assert rows == [
        ("line 1", ("line_too_long", "", "the line is longer than the limit of 1,000 bytes.")),
        ("line 2", {"text": "after"}),
    ]


def test_a_csv_line_megabytes_past_the_limit_is_skipped_whole_and_reading_goes_on(read):
    giant = b'"' + b"x" * (3 << 20) + b'",1\n'
    rows = read(b"text,id\n" + giant + b"after,2\n", "items.csv", "csv", max_line_bytes=1000)
    assert rows == [
        ("line 2", ("line_too_long", "", "the line is longer than the limit of 1,000 bytes.")),
        ("line 3", {"text": "after", "id": "2"}),
    ]


def test_a_number_cut_by_a_read_chunk_is_read_whole(read):
    # The first 1 MiB chunk ends after "12"; the element is 1234, not 12 followed by garbage.
    content = b"[" + b" " * ((1 << 20) - 3) + b"12" + b"34]"
    assert read(content, "items.json", "json") == [
        ("line 1 (element 1)", ("not_an_object", "", "expected a JSON object, found a number.")),
    ]


@pytest.mark.parametrize(
    ("content", "line"), [(b"[", 1), (b"[\n\n   ", 3)], ids=["bare", "with whitespace"]
)
def test_an_array_that_ends_after_its_opening_bracket_is_refused(read, content, line):
    with pytest.raises(UnreadableFile) as caught:
        read(content, "items.json", "json")
    assert str(caught.value) == (
        f"line {line}: element 1 is not valid JSON, or the array is not closed with ]."
    )


def test_a_csv_header_row_with_bad_quoting_is_refused_with_a_plain_message(read):
    with pytest.raises(UnreadableFile) as caught:
        read(b'"text"x,id\nhello,1\n', "items.csv", "csv")
    assert str(caught.value) == (
        "line 1: the header row is not valid CSV: a closing quote must be followed by a comma or "
        'the end of the line (write a quote inside a quoted cell as "").'
    )


def test_a_csv_error_without_a_plain_sentence_still_reads_as_one():
    assert readers._csv_error(csv.Error("a wording this Python has not used"), 100) == (
        "is not valid CSV."
    )
    assert readers._csv_error(csv.Error("field larger than field limit (100)"), 100) == (
        "has a cell larger than the limit of 100 bytes."
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (b"\x00", "binary data"),
        (decimal.Decimal("1.5"), "a value of another kind"),
        ((), "an array"),
    ],
)
def test_json_kind_names_values_json_does_not_have(value, kind):
    assert json_kind(value) == kind


# --- Parquet --------------------------------------------------------------------------------


def test_parquet_maps_lists_and_durations_become_json_values(read):
    table = pa.table(
        {
            "text": ["a"],
            "counts": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64())),
            "seen": pa.array(
                [[("k", datetime.date(2024, 5, 2))]], pa.map_(pa.string(), pa.date32())
            ),
            "days": pa.array([[datetime.date(2024, 5, 2), None]], pa.list_(pa.date32())),
            "took": pa.array([datetime.timedelta(minutes=1, seconds=30)], pa.duration("s")),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    [(where, fields)] = read(buffer.getvalue(), "items.parquet", "parquet")
    assert where == "row group 0, row 0"
    assert fields == {
        "text": "a",
        "counts": [("k", 1)],  # a map of JSON values is kept as pyarrow gives it: key-value pairs
        "seen": [["k", "2024-05-02"]],
        "days": ["2024-05-02", None],
        "took": 90.0,
    }


# --- Label Studio ---------------------------------------------------------------------------


def test_a_labelstudio_element_that_is_not_an_object_is_reported_by_its_line(read):
    rows = read(b'[{"data": {"text": "a"}},\n 5]', "tasks.json", "labelstudio")
    assert rows[1] == (
        "line 2 (element 2)",
        ("not_an_object", "", "expected a JSON object, found a number."),
    )
    assert rows[0][1]["data"] == {"text": "a"}


# --- rows -----------------------------------------------------------------------------------


def row(fields: dict):
    return build_row("line 2", 2, fields, Mapping(), ("annotations",))


def test_data_given_as_a_json_cell_is_the_items_data():
    built = row({"id": "r1", "data": '{"text": "hi", "title": "T"}'})
    assert (built.external_id, built.data, built.metadata) == (
        "r1",
        {"text": "hi", "title": "T"},
        {},
    )


def test_a_data_cell_that_is_not_json_falls_back_to_the_text_field():
    assert row({"id": "r1", "data": "{broken", "text": "hello"}).data == {"text": "hello"}
    [problem] = row({"id": "r1", "data": "{broken"})
    assert (problem.code, problem.message) == (
        "missing_text",
        "field `text` missing (found fields: data, id).",
    )


def test_a_csv_export_with_a_data_column_imports_its_objects(run_import, team):
    content = b'id,data\nr1,"{""text"": ""hi"", ""title"": ""T""}"\n'
    run = run_import(content, "items.csv")
    assert run.status == JobStatus.DONE, run.errors
    assert Item.objects.get(project=team.project, external_id="r1").data == {
        "text": "hi",
        "title": "T",
    }


# --- the uploaded file ----------------------------------------------------------------------


def test_an_import_whose_upload_is_gone_fails_with_a_plain_message(team, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    source = tmp_path / "upload"
    source.write_bytes(b'{"text": "a"}\n')
    run = import_start(
        project=team.project, user=team.lead, source=source, filename="items.jsonl", options={}
    )
    before = Item.objects.filter(project=team.project).count()
    upload_path(run.params["stored_name"]).unlink()
    job_run_execute.run(run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED
    assert run.message == "The uploaded file items.jsonl is no longer on the server."
    assert Item.objects.filter(project=team.project).count() == before


def test_the_sweep_on_a_fresh_install_deletes_nothing_and_makes_no_folder(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    assert uploads_sweep() == 0
    assert not (tmp_path / "media").exists()
