"""The import job end to end: every format lands, a bad row anywhere keeps the whole file out
and the report names file, line and field in plain words, skip-invalid imports the rest, and a
rerun or a retry never duplicates anything."""

import csv
import datetime
import gzip
import io
import json
from datetime import timedelta

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from annotation.models import Annotation, LabelSchema
from curation.importing import pipeline
from curation.importing.files import import_start
from curation.management.commands.import_items import Command as ImportItemsCommand
from curation.models import Item, JobRun, JobStatus, Membership, Role
from curation.tasks import job_run_execute
from tests.conftest import jobs_in_process
from tests.factories import ItemFactory, ProjectFactory

User = get_user_model()
LABELS = {"labels": [{"value": "billing"}, {"value": "shipping"}]}


def jsonl(*rows) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def said(annotator: str, label: str) -> dict:
    """One entry of a row's `annotations`: a single-choice label from `annotator`."""
    return {"annotator": annotator, "value": {"label": label}}


def csv_bytes(*rows: list) -> bytes:
    """CSV as spreadsheets and Python write it: CRLF line ends, cells with \\r or \\n quoted."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


@pytest.fixture
def schema(team):
    return LabelSchema.objects.create(project=team.project, kind="single_choice", config=LABELS)


def state(project) -> dict:
    """What an import may change: the project's items and annotations, users and members."""
    return {
        "items": list(
            Item.objects.filter(project=project).values_list("external_id", "data", "metadata")
        ),
        "annotations": Annotation.objects.filter(item__project=project).count(),
        "users": User.objects.count(),
        "members": Membership.objects.filter(project=project).count(),
    }


def items(project, **filters) -> dict:
    return {
        item.external_id: item
        for item in Item.objects.filter(project=project, **filters).exclude(
            external_id__startswith="item-"
        )
    }


def assert_nothing_imported(run: JobRun, before: dict, project, *, rows: int = 1) -> None:
    assert run.status == JobStatus.FAILED
    noun = "row" if rows == 1 else "rows"
    assert run.message.startswith(f"Nothing was imported: {rows:,} {noun} of ")
    assert run.message.endswith("Fix them, or import again with 'skip invalid rows'.")
    assert run.counts["items_created"] == 0
    assert state(project) == before


def assert_unreadable(run: JobRun, before: dict, project, message: str) -> None:
    """The file as a whole was refused: one error naming the file, nothing changed."""
    filename = run.params["filename"]
    assert run.status == JobStatus.FAILED
    assert run.message == f"{filename}: {message}"
    assert run.errors[-1] == {
        "file": filename,
        "where": filename,
        "line": None,
        "field": "",
        "code": "unreadable",
        "message": f"{filename}: {message}",
    }
    assert state(project) == before


# --- each format in -------------------------------------------------------------------------


def test_jsonl_lands_with_metadata_split_source_and_prediction(team, run_import):
    content = jsonl(
        {"id": "a1", "text": "Where is my parcel?", "split": "train", "source": "email",
         "lang": "en", "prediction": {"label": "shipping", "scores": {"shipping": 0.9}}},
        {"id": "a2", "text": "Refund please", "metadata": {"ticket": 7}, "split": "TEST"},
    )  # fmt: skip
    run = run_import(content)
    assert run.status == JobStatus.DONE, run.errors
    assert run.message == "Imported 2 items from items.jsonl."
    assert run.progress == 1.0
    assert run.counts["rows"] == 2
    assert run.counts["items_created"] == 2
    assert run.counts["invalid_rows"] == 0
    assert run.errors == []
    got = items(team.project)
    assert got["a1"].data == {"text": "Where is my parcel?"}
    assert (got["a1"].split, got["a1"].source) == ("train", "email")
    assert got["a1"].metadata == {"lang": "en"}
    assert got["a1"].prediction == {"label": "shipping", "scores": {"shipping": 0.9}}
    assert (got["a2"].split, got["a2"].metadata) == ("test", {"ticket": 7})
    assert got["a2"].prediction is None
    assert Item.objects.filter(project=team.other_project).count() == 2


def test_csv_lands_with_bom_quoted_newlines_and_json_cells(team, run_import):
    content = b"\xef\xbb\xbf" + csv_bytes(
        ["id", "text", "split", "channel", "prediction"],
        ["c1", "line one\nline two", "dev", "chat", '{"label": "billing"}'],
        ["c2", "plain", "", "email", ""],
    )
    run = run_import(content, "items.csv")
    assert run.status == JobStatus.DONE, run.errors
    got = items(team.project)
    assert got["c1"].data == {"text": "line one\nline two"}
    assert (got["c1"].split, got["c1"].metadata) == ("dev", {"channel": "chat"})
    assert got["c1"].prediction == {"label": "billing"}
    assert (got["c2"].split, got["c2"].prediction) == ("unassigned", None)


def test_json_array_lands(team, run_import):
    content = b'[\n {"id": "j1", "text": "first"},\n {"id": "j2", "text": "second"}\n]\n'
    run = run_import(content, "items.json")
    assert run.status == JobStatus.DONE, run.errors
    assert {k: v.data["text"] for k, v in items(team.project).items()} == {
        "j1": "first",
        "j2": "second",
    }


def test_a_repeated_id_on_the_same_line_of_a_json_array_is_refused(team, run_import):
    """Rows of a JSON array written on one line share that line: the id check must still see
    the second "j1" as a repeat of the first."""
    before = state(team.project)
    run = run_import(b'[{"id": "j1", "text": "a"}, {"id": "j1", "text": "b"}]', "items.json")
    assert_nothing_imported(run, before, team.project)
    assert [(e["line"], e["code"]) for e in run.errors] == [(1, "duplicate_id")]
    assert run.errors[0]["message"] == "line 1 (element 2): id 'j1' repeats the one on line 1."


def parquet(tmp_path, table: pa.Table, **options) -> bytes:
    path = tmp_path / "made.parquet"
    pq.write_table(table, path, **options)
    return path.read_bytes()


def test_parquet_lands_with_metadata_columns(team, run_import, tmp_path):
    table = pa.table(
        {
            "id": [1, 2, 3],
            "text": ["uno", "dos", "tres"],
            "lang": ["es", "es", None],
            "score": [0.5, 1.0, 2.5],
            "created": [datetime.datetime(2024, 3, 1, 9, 30)] * 3,
        }
    )
    run = run_import(parquet(tmp_path, table, row_group_size=2), "items.parquet")
    assert run.status == JobStatus.DONE, run.errors
    got = items(team.project)
    assert sorted(got) == ["1", "2", "3"]
    assert got["1"].data == {"text": "uno"}
    assert got["1"].metadata == {"lang": "es", "score": 0.5, "created": "2024-03-01T09:30:00"}
    assert got["3"].metadata["lang"] is None


def test_parquet_metadata_fields_choose_columns(team, run_import, tmp_path):
    table = pa.table({"id": ["p1"], "text": ["uno"], "lang": ["es"], "noise": [1]})
    mapping = {"metadata_fields": ["lang"]}
    run = run_import(parquet(tmp_path, table), "items.parquet", mapping=mapping)
    assert run.status == JobStatus.DONE, run.errors
    assert items(team.project)["p1"].metadata == {"lang": "es"}


def test_parquet_bad_row_is_named_by_row_group_and_row(team, run_import, tmp_path):
    table = pa.table({"id": ["a", "b", "c"], "text": ["ok", "ok too", None]})
    before = state(team.project)
    run = run_import(parquet(tmp_path, table, row_group_size=2), "items.parquet")
    assert_nothing_imported(run, before, team.project)
    assert run.errors == [
        {
            "file": "items.parquet",
            "where": "row group 1, row 0",
            "line": None,
            "field": "text",
            "code": "text_not_string",
            "message": "row group 1, row 0: field `text` must be text, not null.",
        }
    ]


def test_labelstudio_tasks_land_with_annotations_and_predictions(team, run_import, schema):
    tasks = [
        {
            "id": 101,
            "data": {"text": "Where is my parcel?"},
            "meta": {"channel": "email"},
            "annotations": [
                {"completed_by": {"id": 1, "email": "anna_1@example.org"},
                 "result": [{"type": "choices", "value": {"choices": ["shipping"]}}]},
                {"completed_by": {"id": 9, "email": "ls_newcomer@example.org"},
                 "result": [{"type": "choices", "value": {"choices": ["billing"]}}]},
                {"completed_by": 4, "was_cancelled": True,
                 "result": [{"type": "choices", "value": {"choices": ["billing"]}}]},
            ],
            "predictions": [
                {"score": 0.75, "result": [{"type": "choices", "value": {"choices": ["shipping"]}}]}
            ],
        }
    ]  # fmt: skip
    run = run_import(json.dumps(tasks).encode(), "export.json", format="labelstudio")
    assert run.status == JobStatus.DONE, run.errors
    item = items(team.project)["101"]
    assert item.data == {"text": "Where is my parcel?"}
    assert item.metadata == {"channel": "email"}
    assert item.prediction == {"label": "shipping", "score": 0.75}
    values = dict(item.annotations.values_list("annotator__username", "value"))
    assert values == {"anna_1": {"label": "shipping"}, "ls_newcomer": {"label": "billing"}}
    assert run.counts["annotations_created"] == 2
    assert run.counts["users_created"] == ["ls_newcomer"]
    assert not User.objects.get(username="ls_newcomer").is_active


def test_gzipped_jsonl_lands(team, run_import):
    run = run_import(gzip.compress(jsonl({"id": "g1", "text": "zipped"})), "items.jsonl.gz")
    assert run.status == JobStatus.DONE, run.errors
    assert items(team.project)["g1"].data == {"text": "zipped"}


def test_an_uploaded_file_is_imported_in_process_after_commit(
    team, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    upload = SimpleUploadedFile("my items.jsonl", jsonl({"id": "u1", "text": "uploaded"}))
    with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
        run = import_start(project=team.project, user=team.lead, source=upload,
                           filename="C:\\Users\\lena\\my items.jsonl", options={})  # fmt: skip
    run.refresh_from_db()
    assert run.status == JobStatus.DONE, run.errors
    assert run.params["filename"] == "my items.jsonl"
    assert run.params["stored_name"].endswith(".jsonl")
    assert "my items" not in run.params["stored_name"]
    assert items(team.project)["u1"].data == {"text": "uploaded"}


def test_unknown_file_type_is_refused_before_any_job(team, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with pytest.raises(ValidationError) as caught:
        import_start(project=team.project, user=team.lead, source=io.BytesIO(b"x"),
                     filename="items.txt", options={})  # fmt: skip
    assert "cannot tell the format" in caught.value.message_dict["format"][0]
    assert not JobRun.objects.exists()


def test_a_chosen_format_reads_a_file_of_any_name(team, run_import):
    run = run_import(csv_bytes(["text"], ["from a .txt"]), "export.txt", format="csv")
    assert run.status == JobStatus.DONE, run.errors
    assert run.counts["items_created"] == 1


# --- all or nothing (IMP-1, IMP-2) ----------------------------------------------------------


def test_999_valid_rows_and_1_invalid_import_nothing(team, run_import, settings):
    """Earlier chunks were written before line 1000 was read; the transaction takes them back."""
    settings.IMPORT_CHUNK_ROWS = 100
    rows = [{"id": f"r{i}", "text": f"row {i}"} for i in range(1, 1000)] + [{"id": "r1000"}]
    before = state(team.project)
    run = run_import(jsonl(*rows))
    assert_nothing_imported(run, before, team.project)
    assert run.message == (
        "Nothing was imported: 1 row of items.jsonl has problems (1 in all). Fix them, or "
        "import again with 'skip invalid rows'."
    )
    assert run.errors == [
        {
            "file": "items.jsonl",
            "where": "line 1000",
            "line": 1000,
            "field": "text",
            "code": "missing_text",
            "message": "line 1000: field `text` missing (found fields: id).",
        }
    ]
    assert run.error_count == 1
    assert run.counts["rows"] == 1000
    assert run.counts["invalid_rows"] == 1


def test_50000_bad_lines_keep_the_first_1000_errors_and_count_all(team, run_import):
    before = state(team.project)
    run = run_import(b'{"text": 1}\n' * 50_000, "big.jsonl")
    assert_nothing_imported(run, before, team.project, rows=50_000)
    assert run.error_count == 50_000
    assert len(run.errors) == 1000
    assert {error["file"] for error in run.errors} == {"big.jsonl"}
    assert [error["line"] for error in run.errors] == list(range(1, 1001))
    assert run.errors[-1]["message"] == "line 1000: field `text` must be text, not a number."
    assert run.counts["rows"] == 50_000


# --- each kind of bad row: the line in the message, the project unchanged -------------------

OK = b'{"id": "ok-1", "text": "fine"}\n'
BAD_ROWS = {
    "invalid JSON": (
        b'{"id": "x", "text": "broken",}',
        "invalid_json", "", "line 2: is not valid JSON near column 29.",
    ),
    "missing text column": (
        b'{"data": "not an object", "id": "x"}',
        "missing_text", "text", "line 2: field `text` missing (found fields: data, id).",
    ),
    "text not a string": (
        b'{"id": "x", "text": ["a", "b"]}',
        "text_not_string", "text", "line 2: field `text` must be text, not an array.",
    ),
    "bad UTF-8": (
        b'{"id": "x", "text": "caf\xe9"}',
        "bad_utf8", "", "line 2: bad UTF-8 at byte 25 of the line.",
    ),
    "NUL byte": (
        b'{"id": "x", "text": "a\\u0000b"}',
        "nul_byte", "text",
        "line 2: field `text` contains a NUL character (\\u0000), which cannot be stored.",
    ),
    "lone surrogate": (
        b'{"id": "x", "text": "\\ud800"}',
        "lone_surrogate", "",
        "line 2: contains a lone surrogate (\\ud800-\\udfff), which is not valid Unicode.",
    ),
    "value outside the label schema": (
        b'{"id": "x", "text": "t", "annotations": [{"annotator": "anna_1", '
        b'"value": {"label": "spam"}}]}',
        "bad_value", "annotations[0].value.label",
        "line 2: field `annotations[0].value.label`: 'spam' is not a label of this project "
        "(labels: billing, shipping).",
    ),
    "unknown split": (
        b'{"id": "x", "text": "t", "split": "validation"}',
        "unknown_split", "split",
        "line 2: unknown split 'validation' in field `split`; use one of unassigned, train, dev, "
        "test.",
    ),
    "duplicate id inside the file": (
        b'{"id": "ok-1", "text": "another text"}',
        "duplicate_id", "id", "line 2: id 'ok-1' repeats the one on line 1.",
    ),
    "id already in the project": (
        b'{"id": "existing-1", "text": "t"}',
        "id_exists", "id", "line 2: id 'existing-1' is already in the project.",
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", BAD_ROWS)
def test_a_bad_row_keeps_the_file_out_and_names_its_line(team, run_import, schema, kind):
    ItemFactory(project=team.project, external_id="existing-1")
    bad, code, field, message = BAD_ROWS[kind]
    before = state(team.project)
    run = run_import(OK + bad + b"\n" + b'{"id": "ok-3", "text": "also fine"}\n')
    assert_nothing_imported(run, before, team.project)
    assert run.errors == [
        {"file": "items.jsonl", "where": "line 2", "line": 2, "field": field, "code": code,
         "message": message}
    ]  # fmt: skip
    assert run.counts["rows"] == 3


BAD_CSV = {
    "missing text column": (
        b"body,id\nhello,1\n",
        "line 2: field `text` missing (found fields: body, id).",
    ),
    "wrong cell count": (
        b"text,id\nhello,1\nhello,2,extra\n",
        "line 3: has 3 cells but the header has 2 columns.",
    ),
    "bad UTF-8": (b"text,id\nok,1\ncaf\xe9,2\n", "line 3: bad UTF-8 at byte 4 of the line."),
    "NUL byte": (
        b"text,id\nok,1\nab\x00c,2\n",
        "line 3: contains a NUL byte, which cannot be stored.",
    ),
    "after a quoted newline": (
        b'text,id\n"one\ntwo\nthree",1\nfour,1\n',
        "line 5: id '1' repeats the one on line 2.",
    ),
    "bad quoting": (
        b'text,id\n"quoted"tail,1\n',
        'line 2: is not valid CSV: a closing quote must be followed by a comma or the end of the '
        'line (write a quote inside a quoted cell as "").',
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", BAD_CSV)
def test_a_bad_csv_row_names_its_line(team, run_import, kind):
    content, message = BAD_CSV[kind]
    before = state(team.project)
    run = run_import(content, "items.csv")
    assert_nothing_imported(run, before, team.project)
    assert [error["message"] for error in run.errors] == [message]


def test_report_messages_read_as_plain_sentences(team, run_import, schema):
    """IMP-3: a snapshot of the messages for a file with one of each problem."""
    lines = [
        b'{"id": "a", "text": "fine"}',
        b'{"data": "x", "id": "b"}',
        b'{"id": "c", "text": 17}',
        b'{"id": "d", "text": "x",}',
        b"[1, 2]",
        b'{"id": "f", "text": "t", "split": "holdout"}',
        b'{"id": "g", "text": "t", "source": "' + b"s" * 40 + b'"}',
        b'{"id": "h", "text": "t", "prediction": {"label": 3}}',
        b'{"id": "i", "text": "t", "prediction": {"scores": {"billing": 7}}}',
        b'{"id": "j", "text": "t", "annotations": [{"annotator": "no spaces allowed", '
        b'"value": {"label": "billing"}}]}',
        b'{"id": "k", "text": "t", "annotations": [{"annotator": "anna_1", "value": "billing"}]}',
        b'{"id": "l", "text": "t", "annotations": [{"annotator": "anna_1", "value": {"label": '
        b'"billing"}}, {"annotator": "anna_1", "value": {"label": "billing"}}]}',
        b'{"id": "m", "text": "t", "annotations": {"anna_1": "billing"}}',
        b'{"id": "a", "text": "again"}',
        b'{"id": {"n": 1}, "text": "t"}',
        b'{"id": "o", "text": "t\\u0000"}',
        b'{"id": "p", "text": "\\udc00"}',
        b'{"id": "q", "text": "caf\xe9"}',
        b'{"id": "r", "text": "t", "metadata": [1, 2]}',
    ]
    before = state(team.project)
    run = run_import(b"\n".join(lines) + b"\n")
    assert_nothing_imported(run, before, team.project, rows=18)
    assert [error["message"] for error in run.errors] == [
        "line 2: field `text` missing (found fields: data, id).",
        "line 3: field `text` must be text, not a number.",
        "line 4: is not valid JSON near column 24.",
        "line 5: expected a JSON object, found an array.",
        "line 6: unknown split 'holdout' in field `split`; use one of unassigned, train, dev, "
        "test.",
        "line 7: field `source` must be text of at most 32 characters.",
        'line 8: field `prediction`: "label" must be text, not a number.',
        'line 9: field `prediction`: "scores" must map each label to a probability between 0 '
        "and 1.",
        "line 10: field `annotations[0].annotator` must be a user name: letters, digits and "
        "@ . + - _ only.",
        "line 11: field `annotations[0].value`: must be a JSON object.",
        "line 12: field `annotations[1].annotator`: 'anna_1' appears twice for this item.",
        'line 13: field `annotations` must be a list of {"annotator": ..., "value": {...}} '
        "objects.",
        "line 14: id 'a' repeats the one on line 1.",
        "line 15: field `id` must be text or a number, not an object.",
        "line 16: field `text` contains a NUL character (\\u0000), which cannot be stored.",
        "line 17: contains a lone surrogate (\\ud800-\\udfff), which is not valid Unicode.",
        "line 18: bad UTF-8 at byte 25 of the line.",
        'line 19: field `metadata` must be an object such as {"channel": "email"}, not an array.',
    ]


# --- encodings (IMP-4) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (b"\xef\xbb\xbf" + jsonl({"id": "b1", "text": "caf\u00e9"}), "items.jsonl"),
        (b"\xef\xbb\xbfid,text\nb1,caf\xc3\xa9\n", "items.csv"),
        (b'\xef\xbb\xbf[{"id": "b1", "text": "caf\\u00e9"}]', "items.json"),
    ],
)
def test_utf8_bom_is_accepted(team, run_import, content, filename):
    run = run_import(content, filename)
    assert run.status == JobStatus.DONE, run.errors
    assert items(team.project)["b1"].data == {"text": "café"}


def test_utf16_is_refused_with_a_clear_message(team, run_import):
    before = state(team.project)
    run = run_import('{"id": "x", "text": "hi"}\n'.encode("utf-16"))
    assert_unreadable(run, before, team.project,
                      "the file is UTF-16 encoded; save it as UTF-8 and import again.")  # fmt: skip


def test_invalid_utf8_in_a_json_array_names_line_and_byte(team, run_import):
    before = state(team.project)
    run = run_import(b'[\n{"text": "a"},\n{"text": "caf\xe9"}\n]', "items.json")
    assert_unreadable(run, before, team.project, "line 3: bad UTF-8 at byte 31 of the file.")


# --- text kept exactly as imported (IMP-5) --------------------------------------------------

TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK
        st.characters(min_codepoint=0x0300, max_codepoint=0x036F),  # combining marks
        st.sampled_from("\u200d\ufe0f\U0001f3fd\u00e9e\u0301\ufb01\u212b\u2028\r\n\t \\\"'"),
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    ),
    min_size=1,
    max_size=30,
).filter(str.strip)  # a blank text is refused


def encode(fmt: str, rows: list[dict]) -> tuple[bytes, str]:
    if fmt == "jsonl":
        return jsonl(*rows), "items.jsonl"
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False).encode(), "items.json"
    table = [["id", "text", "annotations"]]
    table += [[r["id"], r["text"], json.dumps(r["annotations"])] for r in rows]
    return csv_bytes(*table), "items.csv"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
@hypothesis_settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(texts=st.lists(TEXT, min_size=1, max_size=5), data=st.data())
def test_text_and_span_offsets_round_trip_exactly(run_import, team, fmt, texts, data):
    """Import never normalises: the stored text is the file's, code point for code point, so
    span offsets (code-point indices) still pick out the same characters."""
    project = ProjectFactory()
    rows, expected = [], {}
    for i, text in enumerate(texts):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, len(text)))
        span = {"start": start, "end": end, "label": "x"}
        annotation = {"annotator": "anna_1", "value": {"spans": [span]}}
        rows.append({"id": f"t{i}", "text": text, "annotations": [annotation]})
        expected[f"t{i}"] = (text, text[start:end])
    run = run_import(*encode(fmt, rows), project=project)
    assert run.status == JobStatus.DONE, run.errors
    stored = {item.external_id: item for item in Item.objects.filter(project=project)}
    assert set(stored) == set(expected)
    for external_id, (text, covered) in expected.items():
        item = stored[external_id]
        assert item.data["text"].encode("utf-8") == text.encode("utf-8")
        [span] = item.annotations.get().value["spans"]
        assert item.data["text"][span["start"] : span["end"]] == covered


def test_a_span_past_the_end_of_its_text_is_named_by_line_and_nothing_lands(run_import):
    """Imported spans are checked against their item's text, as when an annotator marks them."""
    project = ProjectFactory()
    config = {"labels": [{"value": "PER"}, {"value": "LOC"}]}
    LabelSchema.objects.create(project=project, kind="spans", config=config)
    inside = {"spans": [{"start": 0, "end": 3, "label": "PER"}]}
    past = {"spans": [{"start": 13, "end": 40, "label": "LOC"}]}
    text = "Ada lives in Paris."
    rows = [{"id": key, "text": text, "annotations": [{"annotator": "anna_1", "value": value}]}
            for key, value in (("a", inside), ("b", past))]  # fmt: skip
    run = run_import(jsonl(*rows), "items.jsonl", project=project)
    assert run.status == JobStatus.FAILED
    [error] = run.errors
    assert error["line"] == 2 and error["field"] == "annotations[0].value.spans[0].end"
    assert "past the end of the text (19 characters" in error["message"]
    assert not Item.objects.filter(project=project).exists()


def test_labelstudio_span_offsets_after_an_emoji_land_on_the_same_words(run_import):
    """Label Studio counts offsets in UTF-16 units, as JavaScript does. Its published case
    (label-studio issue 1347): in "💩This is an annotation." it exports "annotation" as 13-23,
    which in code points is 12-22."""
    project = ProjectFactory()
    config = {"labels": [{"value": "NOUN"}]}
    LabelSchema.objects.create(project=project, kind="spans", config=config)
    span = {"start": 13, "end": 23, "text": "annotation", "labels": ["NOUN"]}
    result = {"type": "labels", "value": span}
    tasks = [{"id": 1, "data": {"text": "💩This is an annotation."},
              "annotations": [{"completed_by": 1, "result": [result]}]}]  # fmt: skip
    run = run_import(json.dumps(tasks).encode(), "export.json", format="labelstudio",
                     project=project)  # fmt: skip
    assert run.status == JobStatus.DONE, run.errors
    item = Item.objects.get(project=project)
    [stored] = item.annotations.get().value["spans"]
    assert (stored["start"], stored["end"]) == (12, 22)
    assert item.data["text"][stored["start"] : stored["end"]] == "annotation"


# --- idempotent (IMP-6) ---------------------------------------------------------------------


def test_importing_the_same_file_twice_adds_nothing_the_second_time(team, run_import):
    content = jsonl(*[{"id": f"s{i}", "text": f"same {i}"} for i in range(3)], {"text": "no id"})
    first = run_import(content)
    assert first.status == JobStatus.DONE, first.errors
    before = state(team.project)
    second = run_import(content)
    assert_nothing_imported(second, before, team.project, rows=4)
    assert [(e["line"], e["code"]) for e in second.errors] == [
        (1, "id_exists"), (2, "id_exists"), (3, "id_exists"), (4, "id_exists"),
    ]  # fmt: skip
    assert second.errors[0]["message"] == "line 1: id 's0' is already in the project."


def test_running_a_completed_job_again_changes_nothing(team, run_import):
    run = run_import(jsonl({"id": "once", "text": "only once"}))
    assert run.status == JobStatus.DONE
    before = state(team.project)
    job_run_execute.run(run.pk)
    job_run_execute.run(run.pk)
    again = JobRun.objects.get(pk=run.pk)
    assert state(team.project) == before
    assert (again.status, again.attempts, again.finished_at) == (
        JobStatus.DONE,
        1,
        run.finished_at,
    )
    assert again.counts == run.counts


class WorkerLost(BaseException):
    """Stands for the worker process dying: nothing in the job catches it."""


def test_an_import_retried_after_a_crash_lands_exactly_once(
    team, run_import, settings, monkeypatch
):
    settings.IMPORT_CHUNK_ROWS = 10
    real_writer_for = pipeline.writer_for

    def dying_writer_for(project_id):
        writer, writes = real_writer_for(project_id), [0]
        real_write = writer.write

        def write(rows, want_ids):
            writes[0] += 1
            if writes[0] == 2:
                raise WorkerLost
            return real_write(rows, want_ids)

        writer.write = write
        return writer

    monkeypatch.setattr(pipeline, "writer_for", dying_writer_for)
    content = jsonl(*[{"id": f"k{i}", "text": f"kept {i}"} for i in range(35)])
    with pytest.raises(WorkerLost):
        run_import(content)
    run = JobRun.objects.get(kind="import")
    assert run.status == JobStatus.RUNNING
    assert len(items(team.project)) == 0  # the first chunk went back with the transaction

    monkeypatch.setattr(pipeline, "writer_for", real_writer_for)
    JobRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    job_run_execute.run(run.pk)
    run.refresh_from_db()
    assert (run.status, run.attempts) == (JobStatus.DONE, 2)
    assert len(items(team.project)) == 35


# --- what the file is (IMP-9) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "filename", "message"),
    [
        (
            lambda tmp: csv_bytes(["text", "id"], ["hello", "1"]),
            "items.jsonl",
            "this does not look like JSON Lines: line 1 does not start with {. If it is a CSV "
            "file, name it .csv or choose CSV.",
        ),
        (
            lambda tmp: parquet(tmp, pa.table({"text": ["a"]})),
            "items.csv",
            "this is a Parquet file; name it .parquet or choose Parquet.",
        ),
        (
            lambda tmp: gzip.compress(jsonl({"text": "a"})),
            "items.jsonl",
            "the file is gzip-compressed but its name does not end in .gz; rename it (e.g. "
            "items.jsonl.gz) or decompress it first.",
        ),
        (
            lambda tmp: bytes(range(256)) * 20,
            "items.csv",
            "this is not a text file (it contains binary data).",
        ),
        (
            lambda tmp: jsonl({"text": "a"}),
            "items.csv",
            "this looks like JSON, not CSV: line 1 starts with {. Name it .jsonl (one object per "
            "line) or .json (an array), or choose that format.",
        ),
        (
            lambda tmp: jsonl({"text": "a"}),
            "items.parquet",
            "this is not a Parquet file (it lacks the PAR1 header).",
        ),
        (
            lambda tmp: b'[{"text": "a"},\n{"text": "b"}\n',
            "items.json",
            "line 3: the array is not closed with ] after element 2.",
        ),
        (
            lambda tmp: b'[{"text": "a"}]\ntrailing',
            "items.json",
            "line 2: unexpected content after the closing ].",
        ),
    ],
    ids=["csv as jsonl", "parquet as csv", "gzip without gz", "binary", "jsonl as csv",
         "text as parquet", "array not closed", "trailing garbage"],
)  # fmt: skip
def test_a_file_that_is_not_what_its_name_says_gets_a_clear_message(
    team, run_import, tmp_path, make, filename, message
):
    before = state(team.project)
    run = run_import(make(tmp_path), filename)
    assert_unreadable(run, before, team.project, message)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"text,id,text\na,1,b\n", "line 1: the header row names the column `text` twice."),
        (b"\r\nhello,1\n", "line 1: the header row is empty; CSV files need a header row."),
    ],
)
def test_csv_without_a_usable_header_row_is_refused(team, run_import, content, message):
    before = state(team.project)
    run = run_import(content, "items.csv", skip_invalid=True)
    assert_unreadable(run, before, team.project, message)


def test_unreadable_file_in_skip_invalid_mode_still_imports_nothing(team, run_import, settings):
    """A JSON array broken after good elements cannot be trusted: even skip-invalid stops."""
    settings.IMPORT_CHUNK_ROWS = 1  # the first element is written before the break is found
    before = state(team.project)
    content = b'[{"id": "e1", "text": "a"},\n{"id": "e2", "text": 5},\n{"id": "e3"'
    run = run_import(content, "items.json", skip_invalid=True)
    assert_unreadable(
        run, before, team.project,
        "line 3: element 3 is not valid JSON, or the array is not closed with ].",
    )  # fmt: skip
    assert [error["line"] for error in run.errors] == [2, None]


def test_unreadable_file_reports_no_items_created(team, run_import, settings):
    settings.IMPORT_CHUNK_ROWS = 1
    content = b'[{"id": "e1", "text": "a"},\n{"id": "e3"'
    run = run_import(content, "items.json", skip_invalid=True)
    assert run.counts["items_created"] == 0


# --- field mapping --------------------------------------------------------------------------


def test_text_field_renamed_and_default_source(team, run_import):
    content = csv_bytes(["uid", "review", "stars"], ["r1", "Great", "5"], ["r2", "Bad", "1"])
    mapping = {"text": "review", "id": "uid", "default_source": "vendor"}
    run = run_import(content, "reviews.csv", mapping=mapping)
    assert run.status == JobStatus.DONE, run.errors
    got = items(team.project)
    assert got["r1"].data == {"text": "Great"}
    assert (got["r1"].metadata, got["r1"].source) == ({"stars": "5"}, "vendor")


def test_data_fields_and_metadata_fields(team, run_import):
    content = jsonl({"id": "q1", "question": "Q?", "answer": "A.", "lang": "en", "junk": 1})
    mapping = {"data_fields": ["question", "answer"], "text": "question",
               "metadata_fields": ["lang"]}  # fmt: skip
    run = run_import(content, mapping=mapping)
    assert run.status == JobStatus.DONE, run.errors
    item = items(team.project)["q1"]
    assert (item.data, item.metadata) == ({"question": "Q?", "answer": "A."}, {"lang": "en"})


def test_renamed_text_field_missing_names_it(team, run_import):
    before = state(team.project)
    run = run_import(jsonl({"text": "x", "id": 1}), mapping={"text": "body"})
    assert_nothing_imported(run, before, team.project)
    assert run.errors[0]["message"] == "line 1: field `body` missing (found fields: id, text)."


# --- annotations that come with the rows ----------------------------------------------------


def test_unknown_annotators_become_inactive_project_annotators(team, run_import, schema):
    content = jsonl(
        {"id": "n1", "text": "t1",
         "annotations": [said("anna_1", "billing"), said("vendor_kim", "shipping")]},
        {"id": "n2", "text": "t2",
         "annotations": [said("vendor_kim", "billing"), said("otto_outsider", "billing")]},
        {"id": "n3", "text": "t3"},
    )  # fmt: skip
    run = run_import(content)
    assert run.status == JobStatus.DONE, run.errors
    assert run.counts["annotations_created"] == 4
    assert run.counts["users_created"] == ["vendor_kim"]
    assert run.counts["users_created_count"] == 1
    assert run.counts["members_added"] == ["otto_outsider", "vendor_kim"]
    kim = User.objects.get(username="vendor_kim")
    assert not kim.is_active
    assert not kim.has_usable_password()
    assert Membership.objects.get(project=team.project, user=kim).role == Role.ANNOTATOR
    assert Membership.objects.filter(project=team.project, user=team.annotator).count() == 1
    got = items(team.project)
    assert dict(got["n2"].annotations.values_list("annotator__username", "value")) == {
        "vendor_kim": {"label": "billing"},
        "otto_outsider": {"label": "billing"},
    }
    assert not got["n3"].annotations.exists()


def test_annotations_in_csv_cells(team, run_import, schema):
    cell = json.dumps([said("anna_2", "billing")])
    run = run_import(csv_bytes(["id", "text", "annotations"], ["v1", "t", cell]), "items.csv")
    assert run.status == JobStatus.DONE, run.errors
    assert items(team.project)["v1"].annotations.get().value == {"label": "billing"}


def test_value_outside_the_schema_names_the_field_and_line(team, run_import, schema):
    content = jsonl(
        {"id": "w1", "text": "t", "annotations": [said("anna_1", "billing")]},
        {"id": "w2", "text": "t", "annotations": [said("new_person", "refund")]},
    )
    before = state(team.project)
    run = run_import(content)
    assert_nothing_imported(run, before, team.project)
    [error] = run.errors
    assert (error["line"], error["field"], error["code"]) == (
        2,
        "annotations[0].value.label",
        "bad_value",
    )
    assert error["message"] == (
        "line 2: field `annotations[0].value.label`: 'refund' is not a label of this project "
        "(labels: billing, shipping)."
    )
    assert not User.objects.filter(username="new_person").exists()


def test_more_annotations_than_annotators_per_item(team, run_import, schema):
    entries = [said(name, "billing") for name in ("anna_1", "anna_2", "anna_3", "lena_lead")]
    before = state(team.project)
    run = run_import(
        jsonl({"id": "o", "text": "x"}, {"id": "m1", "text": "t", "annotations": entries})
    )
    assert_nothing_imported(run, before, team.project)
    assert [(e["field"], e["code"], e["message"]) for e in run.errors] == [
        ("annotations", "too_many_annotations",
         "line 2: field `annotations` has 4 annotations but the project takes 3 per item."),
    ]  # fmt: skip


def test_without_a_schema_any_object_value_is_kept(team, run_import):
    value = {"spans": [{"start": 0, "end": 2, "label": "x"}]}
    entry = {"annotator": "anna_1", "value": value}
    run = run_import(jsonl({"id": "f1", "text": "hi", "annotations": [entry]}))
    assert run.status == JobStatus.DONE, run.errors
    assert items(team.project)["f1"].annotations.get().value == value


# --- predictions ----------------------------------------------------------------------------


def test_prediction_with_label_and_probabilities_is_stored(team, run_import):
    prediction = {"label": "billing", "scores": {"billing": 0.8, "shipping": 0.2}}
    run = run_import(jsonl({"id": "p1", "text": "t", "prediction": prediction}))
    assert run.status == JobStatus.DONE, run.errors
    assert items(team.project)["p1"].prediction == prediction


def test_bad_prediction_names_its_line(team, run_import):
    content = jsonl(
        {"id": "p1", "text": "t", "prediction": {"label": "billing"}},
        {"id": "p2", "text": "t", "prediction": {"scores": {"billing": 1.3}}},
        {"id": "p3", "text": "t", "prediction": ["billing"]},
    )
    before = state(team.project)
    run = run_import(content)
    assert_nothing_imported(run, before, team.project, rows=2)
    assert [e["message"] for e in run.errors] == [
        'line 2: field `prediction`: "scores" must map each label to a probability between 0 '
        "and 1.",
        'line 3: field `prediction` must be an object with "label" and/or "scores".',
    ]


# --- exact duplicates -----------------------------------------------------------------------


def duplicate_rows() -> bytes:
    existing = Item.objects.filter(project__slug="support-intents").first().data["text"]
    return jsonl(
        {"id": "d1", "text": f"  {existing.upper()} "},  # same text once normalised
        {"id": "d2", "text": "Brand new"},
        {"id": "d3", "text": "brand   NEW"},
        {"id": "d4", "text": "Unique"},
    )


def test_exact_duplicates_are_counted_and_still_imported(team, run_import):
    run = run_import(duplicate_rows())
    assert run.status == JobStatus.DONE, run.errors
    assert run.counts["duplicates_of_existing"] == 1
    assert run.counts["duplicates_in_file"] == 1
    assert run.counts["skipped_duplicates"] == 0
    assert run.counts["items_created"] == 4
    assert items(team.project)["d1"].data["text"].startswith("  ")


def test_skip_duplicates_leaves_them_out_and_says_how_many(team, run_import):
    run = run_import(duplicate_rows(), skip_duplicates=True)
    assert run.status == JobStatus.DONE, run.errors
    assert run.counts["skipped_duplicates"] == 2
    assert run.counts["items_created"] == 2
    assert sorted(items(team.project)) == ["d2", "d4"]


# --- skip invalid rows ----------------------------------------------------------------------


def test_skip_invalid_imports_the_good_rows_and_reports_the_rest(team, run_import, schema):
    content = jsonl(
        {"id": "g1", "text": "good", "annotations": [said("anna_1", "billing")]},
        {"id": "b1", "text": 4},
        {"id": "g2", "text": "also good"},
        {"id": "b2", "text": "t", "annotations": [said("anna_1", "x")]},
        {"id": "g1", "text": "same id again"},
    )
    run = run_import(content, skip_invalid=True)
    assert run.status == JobStatus.DONE
    assert run.message == "Imported 2 items from items.jsonl."
    assert sorted(items(team.project)) == ["g1", "g2"]
    assert items(team.project)["g1"].data == {"text": "good"}
    assert run.counts["invalid_rows"] == 3
    assert run.counts["annotations_created"] == 1
    assert run.error_count == 3
    assert [(e["line"], e["code"]) for e in run.errors] == [
        (2, "text_not_string"), (4, "bad_value"), (5, "duplicate_id"),
    ]  # fmt: skip


def test_too_long_line_is_reported_and_the_rest_still_read(team, run_import, settings):
    settings.IMPORT_MAX_LINE_BYTES = 200
    content = jsonl({"id": "l1", "text": "short"}, {"id": "l2", "text": "x" * 500},
                    {"id": "l3", "text": "short too"})  # fmt: skip
    before = state(team.project)
    run = run_import(content)
    assert_nothing_imported(run, before, team.project)
    assert [e["message"] for e in run.errors] == [
        "line 2: the line is longer than the limit of 200 bytes."
    ]
    assert run.counts["rows"] == 3
    run = run_import(content, skip_invalid=True)
    assert sorted(items(team.project)) == ["l1", "l3"]


def test_too_many_rows_is_refused(team, run_import, settings):
    settings.IMPORT_MAX_ROWS = 3
    settings.IMPORT_CHUNK_ROWS = 2
    before = state(team.project)
    run = run_import(jsonl(*[{"text": f"t{i}"} for i in range(5)]))
    assert run.status == JobStatus.FAILED
    assert run.message == "items.jsonl has more than 3 rows, the limit for one import."
    assert state(team.project) == before


# --- the import_items command ---------------------------------------------------------------


@pytest.fixture
def command(settings, tmp_path):
    """command(content, filename, *args) runs `manage.py import_items` as a shell would: the
    job runs in-process and the exit status and both streams come back."""
    settings.MEDIA_ROOT = str(tmp_path / "media")

    def run(content: bytes, filename: str, *args: str, capsys) -> tuple[int, str, str]:
        path = tmp_path / filename
        path.write_bytes(content)
        argv = ["manage.py", "import_items", *(a.replace("{path}", str(path)) for a in args)]
        code = 0
        with jobs_in_process():
            try:
                ImportItemsCommand().run_from_argv(argv)
            except SystemExit as exit_:
                code = exit_.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.mark.django_db(transaction=True)
def test_command_failure_exits_non_zero_with_errors_on_stderr(team, command, capsys):
    before = state(team.project)
    code, out, err = command(
        jsonl({"id": "x1", "text": "fine"}, {"id": "x2", "body": "no text"}),
        "items.jsonl", "support-intents", "{path}", capsys=capsys,
    )  # fmt: skip
    assert code == 1
    assert out == ""
    assert "line 2: field `text` missing (found fields: body, id)." in err
    assert "CommandError: Nothing was imported: 1 row of items.jsonl" in err
    assert state(team.project) == before
    assert JobRun.objects.get(kind="import").status == JobStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_command_success_prints_a_summary(team, command, capsys):
    content = csv_bytes(["uid", "body"], ["c1", "one"], ["c2", "two"], ["c3", "One"])
    code, out, err = command(
        content, "items.csv", "support-intents", "{path}", "--text-field", "body",
        "--id-field", "uid", "--source", "cli", capsys=capsys,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "Imported 3 items from items.csv.",
        "  rows: 3",
        "  items created: 3",
        "  duplicates in file: 1",
    ]
    assert {item.source for item in items(team.project).values()} == {"cli"}


@pytest.mark.django_db(transaction=True)
def test_command_reports_skipped_rows(team, command, capsys):
    code, out, err = command(
        jsonl({"id": "s1", "text": "fine"}, {"id": "s2", "text": None}),
        "items.jsonl", "support-intents", "{path}", "--skip-invalid", capsys=capsys,
    )  # fmt: skip
    assert code == 0
    assert "Imported 1 item from items.jsonl." in out
    assert "  skipped line 2: field `text` must be text, not null." in out


@pytest.mark.django_db(transaction=True)
def test_command_unreadable_file_and_unknown_project(team, command, capsys):
    code, _, err = command(b"\x1f\x8b\x08garbage", "items.jsonl", "support-intents", "{path}",
                           capsys=capsys)  # fmt: skip
    assert code == 1
    assert "items.jsonl: the file is gzip-compressed but its name does not end in .gz" in err
    code, _, err = command(b"", "items.jsonl", "no-such-project", "{path}", capsys=capsys)
    assert code == 1
    assert "No project with the slug 'no-such-project'." in err
    code, _, err = command(b"", "items.jsonl", "support-intents", "missing.jsonl", capsys=capsys)
    assert code == 1
    assert "missing.jsonl: no such file." in err
    assert items(team.project) == {}
