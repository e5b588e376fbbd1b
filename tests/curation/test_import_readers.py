"""Import readers and row checks over literal bytes: no database. Each reader names a record by
its physical line (CSV: the line it starts on; a JSON array: the line of the element; Parquet:
row group and row) and turns what it cannot read into a plain message."""

import codecs
import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotation.schemas import value_problems
from curation.hashing import content_hash
from curation.importing.labelstudio import from_labelstudio
from curation.importing.readers import (
    Position,
    Record,
    UnreadableFile,
    format_for,
    read_records,
)
from curation.importing.rows import ItemRow, Mapping, build_row


@pytest.fixture
def read(tmp_path):
    """read(content, name) -> [(where, fields or (code, field, message))] for the file."""

    def read(content: bytes, name: str = "items.jsonl", fmt: str = "", max_line_bytes=1 << 20):
        path = tmp_path / "upload"
        path.write_bytes(content)
        records = read_records(path, name, fmt or format_for(name), max_line_bytes=max_line_bytes)
        return [
            (r.where, r.fields)
            if r.problem is None
            else (r.where, (r.problem.code, r.problem.field, r.problem.message))
            for r in records
        ]

    return read


def unreadable(read, content: bytes, name: str, fmt: str = "") -> str:
    with pytest.raises(UnreadableFile) as caught:
        read(content, name, fmt)
    return str(caught.value)


# --- telling the format ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("A.JSONL.GZ", "jsonl"),
        ("a.csv", "csv"),
        ("a.csv.gz", "csv"),
        ("a.json", "json"),
        ("a.parquet", "parquet"),
        ("a.pq", "parquet"),
    ],
)
def test_format_follows_the_suffix_ignoring_gz(name, fmt):
    assert format_for(name) == fmt


def test_a_chosen_format_wins_over_the_suffix():
    assert format_for("export.json", "labelstudio") == "labelstudio"
    assert format_for("data.txt", "csv") == "csv"


def test_unknown_suffix_or_format_is_refused_with_what_to_do():
    with pytest.raises(UnreadableFile, match=r"data\.txt: cannot tell the format.*\.jsonl"):
        format_for("data.txt")
    with pytest.raises(UnreadableFile, match="Unknown format 'xml'; use one of jsonl, csv"):
        format_for("data.xml", "xml")


# --- JSON Lines -----------------------------------------------------------------------------


def test_jsonl_rows_keep_their_physical_line_numbers_across_blank_lines(read):
    content = b'{"text": "one"}\n\n   \n{"text": "two", "id": 7}\r\n{"text": "three"}'
    assert read(content) == [
        ("line 1", {"text": "one"}),
        ("line 4", {"text": "two", "id": 7}),
        ("line 5", {"text": "three"}),
    ]


def test_jsonl_with_a_utf8_bom_is_read(read):
    assert read(codecs.BOM_UTF8 + b'{"text": "caf\xc3\xa9"}\n') == [("line 1", {"text": "café"})]


def test_jsonl_invalid_json_names_the_line_and_column(read):
    rows = read(b'{"text": "ok"}\n{"text": "broken",}\n{"text": "fine"}\n')
    assert rows[1] == ("line 2", ("invalid_json", "", "is not valid JSON near column 18."))
    assert rows[2] == ("line 3", {"text": "fine"})


def test_jsonl_line_that_is_not_an_object_says_what_it_found(read):
    rows = read(b'{"text": "ok"}\n"just a string"\n[1, 2]\n42\nnull\n')
    assert [problem[2] for _, problem in rows[1:]] == [
        "expected a JSON object, found a string.",
        "expected a JSON object, found an array.",
        "expected a JSON object, found a number.",
        "expected a JSON object, found null.",
    ]


def test_jsonl_invalid_utf8_names_the_line_and_byte(read):
    rows = read(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    assert rows[1] == ("line 2", ("bad_utf8", "", "bad UTF-8 at byte 14 of the line."))


def test_jsonl_escaped_nul_is_refused_naming_the_field(read):
    rows = read(b'{"text": "ok"}\n{"id": "a", "text": "x\\u0000y"}\n{"data": {"t": "\\u0000"}}\n')
    assert rows[1] == (
        "line 2",
        ("nul_byte", "text", "field `text` contains a NUL character (\\u0000), which cannot be "
         "stored."),
    )  # fmt: skip
    assert rows[2][1][:2] == ("nul_byte", "data")


def test_jsonl_nul_in_a_field_name_is_refused(read):
    rows = read(b'{"text": "ok", "a\\u0000b": 1}\n')
    assert rows == [
        ("line 1", ("nul_byte", "", "a field name contains a NUL character (\\u0000), which "
                    "cannot be stored.")),
    ]  # fmt: skip


def test_jsonl_escaped_backslash_before_u0000_is_ordinary_text(read):
    """`\\\\u0000` is a backslash followed by "u0000", not a NUL: the text is kept as it is."""
    assert read(b'{"text": "C: printf(\\"\\\\u0000\\")"}\n') == [
        ("line 1", {"text": 'C: printf("\\u0000")'})
    ]


def test_jsonl_raw_nul_byte_is_refused_by_line(read):
    rows = read(b'{"text": "ok"}\n{"text": "a\x00b"}\n')
    assert rows[1] == ("line 2", ("nul_byte", "", "contains a NUL byte, which cannot be stored."))


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\udfff", b"x\\ud83dy"])
def test_jsonl_lone_surrogate_is_refused(read, escape):
    rows = read(b'{"text": "' + escape + b'"}\n')
    assert rows == [
        ("line 1", ("lone_surrogate", "", "contains a lone surrogate (\\ud800-\\udfff), which "
                    "is not valid Unicode.")),
    ]  # fmt: skip


def test_jsonl_surrogate_pair_is_an_ordinary_character(read):
    assert read(b'{"text": "\\ud83d\\ude00"}\n') == [("line 1", {"text": "\U0001f600"})]


def test_jsonl_too_long_line_is_reported_and_reading_goes_on(read):
    long_line = b'{"text": "' + b"x" * 500 + b'"}\n'
    rows = read(b'{"text": "a"}\n' + long_line + b'{"text": "b"}\n', max_line_bytes=100)
    assert rows == [
        ("line 1", {"text": "a"}),
        ("line 2", ("line_too_long", "", "the line is longer than the limit of 100 bytes.")),
        ("line 3", {"text": "b"}),
    ]


def test_jsonl_line_exactly_at_the_limit_is_read(read):
    line = b'{"text": "' + b"x" * 88 + b'"}'
    assert len(line) == 100
    assert read(line + b"\n", max_line_bytes=100) == [("line 1", {"text": "x" * 88})]


# --- CSV ------------------------------------------------------------------------------------


def test_csv_rows_become_fields_named_by_the_header(read):
    rows = read(b"text,id,lang\nhello,1,en\nbonjour,2,fr\n", "items.csv")
    assert rows == [
        ("line 2", {"text": "hello", "id": "1", "lang": "en"}),
        ("line 3", {"text": "bonjour", "id": "2", "lang": "fr"}),
    ]


def test_csv_with_a_bom_and_crlf_line_ends(read):
    content = codecs.BOM_UTF8 + b"text,id\r\nhello,1\r\n"
    assert read(content, "items.csv") == [("line 2", {"text": "hello", "id": "1"})]


def test_csv_quoted_newlines_keep_the_starting_line(read):
    content = b'text,id\n"first\nsecond\nthird",1\nnext,2\n"a ""quoted"" word",3\n'
    assert read(content, "items.csv") == [
        ("line 2", {"text": "first\nsecond\nthird", "id": "1"}),
        ("line 5", {"text": "next", "id": "2"}),
        ("line 6", {"text": 'a "quoted" word', "id": "3"}),
    ]


def test_csv_quoted_newline_in_the_header_counts_too(read):
    content = b'"te\nxt",id\nhello,1\n'
    assert read(content, "items.csv") == [("line 3", {"te\nxt": "hello", "id": "1"})]


def test_csv_wrong_cell_count_names_the_line(read):
    rows = read(b"text,id\nhello,1\ntoo,many,cells\nshort\n", "items.csv")
    assert rows[1:] == [
        ("line 3", ("wrong_cell_count", "", "has 3 cells but the header has 2 columns.")),
        ("line 4", ("wrong_cell_count", "", "has 1 cells but the header has 2 columns.")),
    ]


def test_csv_blank_lines_are_skipped(read):
    assert read(b"text\n\nhello\n,\n", "items.csv") == [("line 3", {"text": "hello"})]


def test_csv_bad_quoting_is_a_plain_message_and_reading_goes_on(read):
    rows = read(b'text,id\n"bad"x,1\nok,2\n', "items.csv")
    assert rows == [
        ("line 2", ("invalid_csv", "", "is not valid CSV: a closing quote must be followed by a "
                    'comma or the end of the line (write a quote inside a quoted cell as "").')),
        ("line 3", {"text": "ok", "id": "2"}),
    ]  # fmt: skip


def test_csv_unclosed_quote_is_named_by_its_line(read):
    rows = read(b'text,id\nok,1\n"never closed,2\nmore,3\n', "items.csv")
    assert rows[1] == (
        "line 3",
        ("invalid_csv", "", "is not valid CSV: a quoted cell is not closed before the end of "
         "the file."),
    )  # fmt: skip


def test_csv_invalid_utf8_and_nul_are_reported_by_line(read):
    rows = read(b"text,id\nok,1\ncaf\xe9,2\nok,3\n", "items.csv")
    assert rows[1:] == [
        ("line 3", ("bad_utf8", "", "bad UTF-8 at byte 4 of the line.")),
        ("line 4", {"text": "ok", "id": "3"}),
    ]
    rows = read(b"text,id\nok,1\nab\x00c,2\nok,3\n", "items.csv")
    assert rows[1:] == [
        ("line 3", ("nul_byte", "", "contains a NUL byte, which cannot be stored.")),
        ("line 4", {"text": "ok", "id": "3"}),
    ]


def test_csv_too_long_line_is_reported_and_reading_goes_on(read):
    content = b"text,id\n" + b"x" * 300 + b",1\nok,2\n"
    assert read(content, "items.csv", max_line_bytes=100) == [
        ("line 2", ("line_too_long", "", "the line is longer than the limit of 100 bytes.")),
        ("line 3", {"text": "ok", "id": "2"}),
    ]


def test_csv_cells_longer_than_the_csv_module_default_are_read(read):
    text = "word " * 40_000  # 200 KB, above the csv module's 128 KiB default field limit
    rows = read(f"text\n{text}\n".encode(), "items.csv")
    assert rows == [("line 2", {"text": text})]


def test_csv_header_row_is_required(read):
    assert unreadable(read, b"\nhello\n", "items.csv") == (
        "line 1: the header row is empty; CSV files need a header row."
    )
    assert unreadable(read, b"text,,id\nx,y,z\n", "items.csv") == (
        "line 1: column 2 of the header row has no name."
    )
    assert unreadable(read, b"text,id,text\nx,y,z\n", "items.csv") == (
        "line 1: the header row names the column `text` twice."
    )
    assert unreadable(read, b"te\xffxt\nx\n", "items.csv") == (
        "line 1 (the header row): bad UTF-8 at byte 3 of the line."
    )


def test_csv_without_a_header_reads_the_first_row_as_names(read):
    """The first row is always the header; a file that starts with data shows it by the names
    the row checks then report as found (see test_missing_text_lists_the_fields_found)."""
    assert read(b"hello,1\nworld,2\n", "items.csv") == [("line 2", {"hello": "world", "1": "2"})]


def test_empty_csv_has_no_rows(read):
    assert read(b"", "items.csv") == []


# --- JSON array -----------------------------------------------------------------------------


def test_json_array_elements_are_named_by_the_line_they_start_on(read):
    content = (
        b'[\n  {"text": "a"},\n  {\n    "text": "b\\nc",\n    "id": 2\n  },\n  {"text": "d"}\n]\n'
    )
    assert read(content, "items.json") == [
        ("line 2 (element 1)", {"text": "a"}),
        ("line 3 (element 2)", {"text": "b\nc", "id": 2}),
        ("line 7 (element 3)", {"text": "d"}),
    ]


def test_json_array_on_one_line_with_a_bom(read):
    content = codecs.BOM_UTF8 + b'[{"text": "a"}, {"text": "b"}]'
    assert read(content, "items.json") == [
        ("line 1 (element 1)", {"text": "a"}),
        ("line 1 (element 2)", {"text": "b"}),
    ]


def test_empty_json_array_has_no_rows(read):
    assert read(b" [ ] \n", "items.json") == []


def test_json_array_element_that_is_not_an_object(read):
    rows = read(b'[{"text": "a"},\n 17,\n "b"]', "items.json")
    assert rows[1:] == [
        ("line 2 (element 2)", ("not_an_object", "", "expected a JSON object, found a number.")),
        ("line 3 (element 3)", ("not_an_object", "", "expected a JSON object, found a string.")),
    ]


def test_json_array_lone_surrogate_and_nul_are_refused_by_element(read):
    rows = read(b'[{"text": "a"},\n{"text": "\\ud800"},\n{"text": "\\u0000"}]', "items.json")
    assert rows[1][0] == "line 2 (element 2)"
    assert rows[1][1][0] == "lone_surrogate"
    assert rows[2] == (
        "line 3 (element 3)",
        ("nul_byte", "text", "field `text` contains a NUL character (\\u0000), which cannot be "
         "stored."),
    )  # fmt: skip


def test_json_array_not_closed(read):
    message = unreadable(read, b'[\n{"text": "a"},\n{"text": "b"}\n', "items.json")
    assert message == "line 4: the array is not closed with ] after element 2."
    message = unreadable(read, b'[\n{"text": "a"},\n{"text": "b"', "items.json")
    assert message == "line 3: element 2 is not valid JSON, or the array is not closed with ]."


def test_json_array_broken_element_names_its_line(read):
    message = unreadable(read, b'[\n{"text": "a"},\n{"text": "b",}\n]', "items.json")
    assert message == "line 3: element 2 is not valid JSON, or the array is not closed with ]."
    message = unreadable(read, b'[\n{"text": "a"}\n{"text": "b"}\n]', "items.json")
    assert message == "line 3: expected , or ] after element 1."


def test_json_array_trailing_garbage(read):
    message = unreadable(read, b'[{"text": "a"}]\n\n{"text": "b"}\n', "items.json")
    assert message == "line 3: unexpected content after the closing ]."
    assert unreadable(read, b"[] []", "items.json") == (
        "line 1: unexpected content after the closing ]."
    )


def test_json_lines_named_json_says_so(read):
    assert unreadable(read, b'{"text": "a"}\n{"text": "b"}\n', "items.json") == (
        "line 1: expected a JSON array ([ ... ]) of objects; this looks like JSON Lines: name "
        "it .jsonl or choose JSON Lines."
    )


def test_json_array_invalid_utf8_names_the_line_and_byte(read):
    content = b'[\n{"text": "a"},\n{"text": "caf\xe9"}\n]'
    assert unreadable(read, content, "items.json") == ("line 3: bad UTF-8 at byte 31 of the file.")


def test_json_array_larger_than_a_read_chunk_is_read_whole(read):
    """Elements, numbers and line counts that straddle the reader's 1 MiB chunks stay intact."""
    elements = [{"text": f"row {i} " + "é" * (i % 50), "n": i * 1.5} for i in range(30_000)]
    content = "[\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in elements) + "\n]"
    rows = read(content.encode(), "items.json")
    assert len(content.encode()) > 2 * (1 << 20)
    assert [fields for _, fields in rows] == elements
    assert rows[-1][0] == "line 30001 (element 30000)"


def test_json_array_element_above_the_limit_is_reported_and_reading_goes_on(read):
    content = b'[{"text": "' + b"x" * 500 + b'"},\n{"text": "b"}]'
    assert read(content, "items.json", max_line_bytes=100) == [
        ("line 1 (element 1)",
         ("line_too_long", "", "the element is longer than the limit of 100 bytes.")),
        ("line 2 (element 2)", {"text": "b"}),
    ]  # fmt: skip


# --- Parquet --------------------------------------------------------------------------------


def parquet_bytes(tmp_path, table: pa.Table, **options) -> bytes:
    path = tmp_path / "table.parquet"
    pq.write_table(table, path, **options)
    return path.read_bytes()


def test_parquet_rows_are_named_by_row_group_and_row(read, tmp_path):
    table = pa.table({"text": [f"t{i}" for i in range(5)], "id": list(range(5))})
    rows = read(parquet_bytes(tmp_path, table, row_group_size=2), "items.parquet")
    assert [where for where, _ in rows] == [
        "row group 0, row 0",
        "row group 0, row 1",
        "row group 1, row 0",
        "row group 1, row 1",
        "row group 2, row 0",
    ]
    assert rows[3][1] == {"text": "t3", "id": 3}


def test_parquet_dates_decimals_and_bytes_become_json_values(read, tmp_path):
    import datetime
    import decimal

    table = pa.table(
        {
            "text": ["a", "b"],
            "created": [datetime.datetime(2024, 5, 1, 12, 30), None],
            "day": [datetime.date(2024, 5, 2), None],
            "price": pa.array([decimal.Decimal("1.50"), None], pa.decimal128(5, 2)),
            "raw": [b"caf\xc3\xa9", b"ok"],
            "nested": [{"at": datetime.datetime(2024, 1, 1)}, None],
            "tags": [["x", "y"], []],
        }
    )
    rows = read(parquet_bytes(tmp_path, table), "items.parquet")
    assert rows[0][1] == {
        "text": "a",
        "created": "2024-05-01T12:30:00",
        "day": "2024-05-02",
        "price": "1.50",
        "raw": "café",
        "nested": {"at": "2024-01-01T00:00:00"},
        "tags": ["x", "y"],
    }
    assert rows[1][1]["created"] is None


def test_parquet_bytes_that_are_not_utf8_are_refused_by_row(read, tmp_path):
    table = pa.table({"text": ["a", "b"], "raw": [b"ok", b"\xff\xfe"]})
    rows = read(parquet_bytes(tmp_path, table), "items.parquet")
    assert rows[1] == (
        "row group 0, row 1",
        ("binary_value", "raw", "field `raw` holds binary data that is not UTF-8 text."),
    )


def test_parquet_nul_in_a_string_is_refused(read, tmp_path):
    table = pa.table({"text": ["fine", "bad\x00"]})
    rows = read(parquet_bytes(tmp_path, table), "items.parquet")
    assert rows[1] == (
        "row group 0, row 1",
        ("nul_byte", "text", "field `text` contains a NUL character (\\u0000), which cannot be "
         "stored."),
    )  # fmt: skip


def test_damaged_parquet_file(read, tmp_path):
    content = parquet_bytes(tmp_path, pa.table({"text": ["a"]}))
    assert unreadable(read, content[:40], "items.parquet") == (
        "the Parquet file is damaged or truncated."
    )


def test_parquet_progress_counts_row_groups(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c", "d"]}), path, row_group_size=1)
    position = Position()
    fractions = [
        position.fraction()
        for _ in read_records(path, "t.parquet", "parquet", max_line_bytes=100, position=position)
    ]
    assert fractions == [0.0, 0.25, 0.5, 0.75]


def test_progress_is_whole_once_the_reader_has_closed_the_file(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_bytes(b'{"text": "a"}\n{"text": "b"}\n')
    position = Position()
    assert len(list(read_records(path, "items.jsonl", "jsonl", max_line_bytes=100,
                                 position=position))) == 2  # fmt: skip
    assert position.fraction() == 1.0  # the file is closed: its position can no longer be read


# --- what the file really is (IMP-9) --------------------------------------------------------


def test_csv_renamed_jsonl_is_named_as_such(read):
    assert unreadable(read, b"text,id\nhello,1\n", "items.jsonl") == (
        "this does not look like JSON Lines: line 1 does not start with {. If it is a CSV file, "
        "name it .csv or choose CSV."
    )


def test_json_array_renamed_jsonl_is_named_as_such(read):
    assert unreadable(read, b'[\n  {"text": "a"}\n]\n', "items.jsonl") == (
        "this looks like a JSON array spread over several lines, not JSON Lines; name it .json "
        "or choose JSON array."
    )


def test_jsonl_renamed_csv_is_named_as_such(read):
    assert unreadable(read, b'{"text": "a"}\n', "items.csv") == (
        "this looks like JSON, not CSV: line 1 starts with {. Name it .jsonl (one object per "
        "line) or .json (an array), or choose that format."
    )


def test_parquet_renamed_csv_is_named_as_such(read, tmp_path):
    content = parquet_bytes(tmp_path, pa.table({"text": ["a"]}))
    assert unreadable(read, content, "items.csv") == (
        "this is a Parquet file; name it .parquet or choose Parquet."
    )


def test_text_named_parquet_is_refused(read):
    assert unreadable(read, b"text\nhello\n", "items.parquet") == (
        "this is not a Parquet file (it lacks the PAR1 header)."
    )


def test_gzip_without_gz_suffix_is_refused(read):
    content = gzip.compress(b'{"text": "a"}\n')
    assert unreadable(read, content, "items.jsonl") == (
        "the file is gzip-compressed but its name does not end in .gz; rename it (e.g. "
        "items.jsonl.gz) or decompress it first."
    )


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("items.jsonl.gz", b'{"text": "a"}\n{"text": "b"}\n'),
        ("items.csv.gz", b"text\na\nb\n"),
        ("items.json.gz", b'[{"text": "a"}, {"text": "b"}]'),
    ],
)
def test_gzipped_text_with_gz_suffix_is_read(read, name, content):
    rows = read(gzip.compress(content), name)
    assert [fields["text"] for _, fields in rows] == ["a", "b"]


def test_truncated_gzip_is_refused(read):
    content = gzip.compress(b'{"text": "a"}\n' * 50_000)
    with pytest.raises(UnreadableFile, match="the gzip file is damaged or truncated."):
        read(content[: len(content) // 2], "items.jsonl.gz")


def test_binary_garbage_is_refused(read):
    garbage = bytes(range(256)) * 40
    assert unreadable(read, garbage, "items.jsonl") == (
        "this is not a text file (it contains binary data)."
    )
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)
    assert unreadable(read, png, "items.csv") == (
        "this is not a text file (it contains binary data)."
    )


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_utf16_with_bom_is_refused_with_a_clear_message(read, codec):
    content = ('\ufeff{"text": "a"}\n').encode(codec)
    if codec == "utf-16":
        content = content[2:]  # the codec wrote its own BOM before ours
    assert unreadable(read, content, "items.jsonl") == (
        "the file is UTF-16 encoded; save it as UTF-8 and import again."
    )


def test_utf16_without_bom_is_refused_as_not_text(read):
    content = "text\nhello\n".encode("utf-16-le")
    assert unreadable(read, content, "items.csv") == (
        "this is not a text file (it contains binary data)."
    )


# --- Label Studio ---------------------------------------------------------------------------


def labelstudio(tasks) -> bytes:
    """Label Studio's export with one task per line, so that task n is on line n + 1."""
    return ("[\n" + ",\n".join(json.dumps(task) for task in tasks) + "\n]").encode()


def test_labelstudio_tasks_become_rows(read):
    tasks = [
        {
            "id": 11,
            "data": {"text": "Where is my parcel?"},
            "meta": {"channel": "email"},
            "annotations": [
                {
                    "completed_by": {"id": 3, "email": "ann@example.org"},
                    "result": [{"type": "choices", "value": {"choices": ["shipping"]}}],
                },
                {
                    "completed_by": 4,
                    "was_cancelled": True,
                    "result": [{"type": "choices", "value": {"choices": ["billing"]}}],
                },
                {"completed_by": 5, "result": [{"type": "rating", "value": {"rating": 4}}]},
            ],
            "predictions": [
                {"score": 0.8, "result": [{"type": "choices", "value": {"choices": ["shipping"]}}]}
            ],
        },
        {
            "id": 12,
            "data": {"text": "Refund me"},
            "annotations": [
                {
                    "completed_by": {"id": 9},
                    "result": [
                        {"type": "labels", "value": {"start": 0, "end": 6, "labels": ["verb"]}},
                        {"type": "labels", "value": {"start": 7, "end": 9, "labels": ["pron"]}},
                    ],
                },
                {
                    "completed_by": 6,
                    "result": [{"type": "pairwise", "value": {"selected": "left"}}],
                },
            ],
        },
    ]
    rows = read(labelstudio(tasks), "export.json", "labelstudio")
    assert rows == [
        (
            "line 2 (element 1)",
            {
                "id": 11,
                "data": {"text": "Where is my parcel?"},
                "metadata": {"channel": "email"},
                "annotations": [
                    {"annotator": "ann", "value": {"label": "shipping"}},
                    {"annotator": "ls-user-5", "value": {"rating": 4}},
                ],
                "prediction": {"label": "shipping", "score": 0.8},
            },
        ),
        (
            "line 3 (element 2)",
            {
                "id": 12,
                "data": {"text": "Refund me"},
                "annotations": [
                    {
                        "annotator": "ls-user-9",
                        "value": {
                            "spans": [
                                {"start": 0, "end": 6, "label": "verb"},
                                {"start": 7, "end": 9, "label": "pron"},
                            ]
                        },
                    },
                    {"annotator": "ls-user-6", "value": {"choice": "A"}},
                ],
            },
        ),
    ]


def test_labelstudio_multiple_choices_become_labels(read):
    tasks = [
        {
            "data": {"text": "x"},
            "annotations": [
                {
                    "completed_by": 1,
                    "result": [{"type": "choices", "value": {"choices": ["a", "b"]}}],
                }
            ],
        }
    ]
    [(_, row)] = read(labelstudio(tasks), "export.json", "labelstudio")
    assert row["annotations"] == [{"annotator": "ls-user-1", "value": {"labels": ["a", "b"]}}]


def test_labelstudio_task_without_data_is_a_problem(read):
    rows = read(labelstudio([{"id": 1, "text": "x"}]), "export.json", "labelstudio")
    assert rows == [
        ("line 2 (element 1)",
         ("not_a_task", "data", 'is not a Label Studio task: it has no "data" object.')),
    ]  # fmt: skip


def test_labelstudio_malformed_results_are_left_out_not_a_crash(read):
    tasks = [
        {
            "data": {"text": "x"},
            "annotations": [
                "not an object",
                {"completed_by": 1, "result": "oops"},
                {"completed_by": 2, "result": [17, {"type": "choices", "value": "x"}]},
                {"completed_by": 2, "result": [{"type": "labels", "value": {"labels": "verb"}}]},
                {"completed_by": 3, "result": [{"type": "choices", "value": {"choices": []}}]},
                {
                    "completed_by": {"id": 8, "email": 5},
                    "result": [{"type": "rating", "value": {}}],
                },
            ],
            "predictions": {"not": "a list"},
        }
    ]
    [(_, row)] = read(labelstudio(tasks), "export.json", "labelstudio")
    assert row == {
        "id": None,
        "data": {"text": "x"},
        "annotations": [{"annotator": "ls-user-8", "value": {"rating": None}}],
    }


def ls_spans(text: str, *values: dict) -> list[tuple[int, int]]:
    """The code-point offsets of Label Studio `labels` results over `text`."""
    results = [{"type": "labels", "value": {"labels": ["x"], **v}} for v in values]
    task = {"data": {"text": text}, "annotations": [{"completed_by": 1, "result": results}]}
    [row] = _task_rows([task])
    return [(s["start"], s["end"]) for s in row["annotations"][0]["value"]["spans"]]


def _task_rows(tasks):
    return [record.fields for record in from_labelstudio(Record("x", 1, fields=t) for t in tasks)]


def test_labelstudio_utf16_offsets_become_code_points():
    # "😀" is one code point and two UTF-16 units; "é" and "中" one of each.
    text = "😀 café 中 😀😀 end"
    assert ls_spans(text, {"start": 3, "end": 7}) == [(2, 6)]  # café
    assert ls_spans(text, {"start": 8, "end": 9}) == [(7, 8)]  # 中
    assert ls_spans(text, {"start": 10, "end": 14}) == [(9, 11)]  # 😀😀
    assert ls_spans(text, {"start": 15, "end": 18}) == [(12, 15)]  # end
    assert ls_spans(text, {"start": 0, "end": 0}) == [(0, 0)]
    # An offset inside a surrogate pair takes in the whole character.
    assert ls_spans(text, {"start": 1, "end": 11}) == [(0, 10)]


def test_labelstudio_offsets_already_in_code_points_are_kept_when_the_text_says_so():
    text = "😀 café"
    assert ls_spans(text, {"start": 2, "end": 6, "text": "café"}) == [(2, 6)]
    assert ls_spans(text, {"start": 3, "end": 7, "text": "café"}) == [(2, 6)]
    # Neither reading matches: the UTF-16 reading, which is what Label Studio writes.
    assert ls_spans(text, {"start": 3, "end": 7, "text": "tea"}) == [(2, 6)]


def test_labelstudio_offsets_of_plain_text_and_bad_offsets_pass_through():
    assert ls_spans("café au lait", {"start": 5, "end": 7}) == [(5, 7)]
    # Not numbers, negative, or past the end: left for the schema check to refuse by field.
    assert ls_spans("😀 x", {"start": "1", "end": None}, {"start": -1, "end": 2}) == [
        ("1", None), (-1, 2)]  # fmt: skip
    assert ls_spans("😀 x", {"start": 3, "end": 9}) == [(2, 4)]


# --- rows: the field mapping ----------------------------------------------------------------

EXTENSIONS = ("annotations",)


def row(fields: dict, mapping: dict | None = None, line: int = 3):
    return build_row(f"line {line}", line, fields, Mapping.from_dict(mapping), EXTENSIONS)


def test_defaults_take_text_and_id_and_send_the_rest_to_metadata():
    item = row({"text": "Hi", "id": 5, "lang": "en", "split": "Train", "source": "web"})
    assert isinstance(item, ItemRow)
    assert (item.external_id, item.data, item.metadata) == ("5", {"text": "Hi"}, {"lang": "en"})
    assert (item.split, item.source, item.prediction) == ("train", "web", None)
    assert item.content_hash == content_hash({"text": "Hi"})


def test_metadata_object_and_extra_fields_are_merged():
    item = row({"text": "Hi", "metadata": {"a": 1}, "b": 2, "final": "x", "agreement": 0.5})
    assert item.metadata == {"a": 1, "b": 2}


def test_csv_metadata_cell_holding_json_is_parsed():
    assert row({"text": "Hi", "metadata": '{"a": 1}'}).metadata == {"a": 1}
    [problem] = row({"text": "Hi", "metadata": "[1]"})
    assert (problem.field, problem.code, problem.message) == (
        "metadata",
        "not_an_object",
        'field `metadata` must be an object such as {"channel": "email"}, not an array.',
    )


def test_text_field_renamed():
    item = row({"body": "Hi", "text": "ignored", "uid": "u1"}, {"text": "body", "id": "uid"})
    assert item.data == {"text": "Hi"}
    assert item.external_id == "u1"
    assert item.metadata == {"text": "ignored"}


def test_data_fields_make_up_the_item():
    mapping = {"data_fields": ["question", "answer"], "text": "question"}
    item = row({"question": "Q?", "answer": "A.", "id": "1", "x": 1}, mapping)
    assert item.data == {"question": "Q?", "answer": "A."}
    assert item.metadata == {"x": 1}
    assert item.content_hash == content_hash({"question": "Q?", "answer": "A."})


def test_data_field_missing_lists_the_fields_found():
    [problem] = row({"question": "Q?", "id": 1}, {"data_fields": ["question", "answer"]})
    assert (problem.field, problem.code) == ("answer", "missing_field")
    assert problem.message == "field `answer` missing (found fields: id, question)."


def test_metadata_fields_choose_what_is_kept():
    item = row({"text": "Hi", "lang": "en", "noise": 1}, {"metadata_fields": ["lang"]})
    assert item.metadata == {"lang": "en"}
    assert row({"text": "Hi", "noise": 1}, {"metadata_fields": []}).metadata == {}


def test_default_source_fills_rows_that_name_none():
    assert row({"text": "Hi"}, {"default_source": "vendor"}).source == "vendor"
    assert row({"text": "Hi", "source": "web"}, {"default_source": "vendor"}).source == "web"
    assert row({"text": "Hi"}).source == ""


def test_empty_mapping_values_mean_the_defaults():
    item = row({"text": "Hi", "id": "x"}, {"text": "", "id": "", "default_source": ""})
    assert (item.data, item.external_id) == ({"text": "Hi"}, "x")


def test_data_object_as_concord_exports_it():
    item = row({"id": "e1", "data": {"text": "Hi", "title": "T"}, "final": "a", "n_annotations": 2})
    assert item.data == {"text": "Hi", "title": "T"}
    assert item.metadata == {}


def test_missing_text_lists_the_fields_found():
    [problem] = row({"data": "not an object", "id": 4})
    assert (problem.field, problem.code) == ("text", "missing_text")
    assert problem.message == "field `text` missing (found fields: data, id)."
    [problem] = row({})
    assert problem.message == "field `text` missing (the row is empty)."


@pytest.mark.parametrize(
    ("value", "kind"),
    [(17, "a number"), (None, "null"), (["a"], "an array"), ({"a": 1}, "an object"),
     (True, "true or false")],
)  # fmt: skip
def test_text_must_be_a_string(value, kind):
    [problem] = row({"text": value})
    assert (problem.field, problem.code) == ("text", "text_not_string")
    assert problem.message == f"field `text` must be text, not {kind}."


def test_unknown_split_names_the_allowed_ones():
    [problem] = row({"text": "Hi", "split": "validation"})
    assert (problem.field, problem.code) == ("split", "unknown_split")
    assert problem.message == (
        "unknown split 'validation' in field `split`; use one of unassigned, train, dev, test."
    )
    assert row({"text": "Hi", "split": " DEV "}).split == "dev"
    assert row({"text": "Hi", "split": ""}).split == "unassigned"


def test_source_must_be_short_text():
    [problem] = row({"text": "Hi", "source": "x" * 33})
    assert problem.message == "field `source` must be text of at most 32 characters."


def test_id_too_long_or_not_text():
    [problem] = row({"text": "Hi", "id": "x" * 256})
    assert problem.message == "field `id` is longer than 255 characters."
    [problem] = row({"text": "Hi", "id": {"a": 1}})
    assert (problem.code, problem.message) == (
        "bad_id",
        "field `id` must be text or a number, not an object.",
    )
    [problem] = row({"text": "Hi", "id": True})
    assert problem.code == "bad_id"
    assert row({"text": "Hi", "id": 7.0}).external_id == "7"
    assert row({"text": "Hi", "id": 7.5}).external_id == "7.5"


def test_rows_without_id_get_a_stable_one_from_text_and_line():
    first = row({"text": "Same"}, line=3)
    again = row({"text": "Same"}, line=3)
    other_line = row({"text": "Same"}, line=4)
    assert first.external_id == again.external_id == f"{content_hash({'text': 'Same'})[:16]}-3"
    assert other_line.external_id != first.external_id


def test_text_is_stored_as_given_only_the_hash_is_normalised():
    text = "  Cafe\u0301  ÉTÉ\tﬁ  "
    item = row({"text": text})
    assert item.data["text"] == text
    assert item.content_hash == content_hash({"text": "café été fi"})


# --- rows: predictions and annotations ------------------------------------------------------


@pytest.mark.parametrize(
    "prediction",
    [
        {"label": "billing"},
        {"scores": {"billing": 0.7, "shipping": 0.3}},
        {"label": "billing", "scores": {"billing": 1, "shipping": 0}},
        {"label": "billing", "score": 12.5},
        '{"label": "billing"}',
    ],
)
def test_valid_predictions(prediction):
    item = row({"text": "Hi", "prediction": prediction})
    assert isinstance(item, ItemRow)
    assert item.prediction == (
        json.loads(prediction) if isinstance(prediction, str) else prediction
    )


@pytest.mark.parametrize(
    ("prediction", "message"),
    [
        ("billing", "field `prediction` is not valid JSON."),
        ([0.1, 0.9], 'field `prediction` must be an object with "label" and/or "scores".'),
        ({"model": "x"}, 'field `prediction` must be an object with "label" and/or "scores".'),
        ({"label": 3}, 'field `prediction`: "label" must be text, not a number.'),
        ({"scores": {"a": "high"}},
         'field `prediction`: "scores" must map each label to a probability between 0 and 1.'),
        ({"scores": {"a": 1.5}},
         'field `prediction`: "scores" must map each label to a probability between 0 and 1.'),
        ({"scores": {"a": True}},
         'field `prediction`: "scores" must map each label to a probability between 0 and 1.'),
        ({"scores": [0.5]},
         'field `prediction`: "scores" must map each label to a probability between 0 and 1.'),
        ({"label": "a", "score": "high"},
         'field `prediction`: "score" must be a number, not a string.'),
    ],
)  # fmt: skip
def test_invalid_predictions(prediction, message):
    problems = row({"text": "Hi", "prediction": prediction})
    assert [(p.field, p.code, p.message) for p in problems] == [
        ("prediction", "invalid_json" if message.endswith("JSON.") else "bad_prediction", message)
    ]


def test_annotations_pass_to_the_extension_csv_cells_parsed():
    entries = [{"annotator": "ann", "value": {"label": "a"}}]
    assert row({"text": "Hi", "annotations": entries}).extras == {"annotations": entries}
    assert row({"text": "Hi", "annotations": json.dumps(entries)}).extras == {
        "annotations": entries
    }
    assert row({"text": "Hi", "annotations": ""}).extras == {}
    [problem] = row({"text": "Hi", "annotations": "[{"})
    assert problem.message == "field `annotations` is not valid JSON."


def test_several_problems_of_one_row_are_all_reported():
    problems = row({"text": 5, "split": "nope", "prediction": "x"})
    assert [p.code for p in problems] == ["text_not_string", "unknown_split", "invalid_json"]


# --- label schema values --------------------------------------------------------------------

SCHEMA = {"labels": [{"value": "billing"}, {"value": "shipping"}]}


def test_single_choice_value_must_be_one_of_the_labels():
    assert value_problems("single_choice", SCHEMA, {"label": "billing"}) == []
    assert value_problems("single_choice", SCHEMA, {"label": "spam"}) == [
        ("label", "'spam' is not a label of this project (labels: billing, shipping).")
    ]
    assert value_problems("single_choice", SCHEMA, {"label": "billing", "x": 1}) == [
        ("", 'must be an object with exactly one key, "label" (found keys: label, x).')
    ]
    assert value_problems("single_choice", SCHEMA, "billing") == [("", "must be a JSON object.")]


def test_without_a_schema_any_object_is_kept():
    assert value_problems(None, None, {"spans": [{"start": 0, "end": 1}]}) == []
    assert value_problems(None, None, ["x"]) == [("", "must be a JSON object.")]


def test_json_array_element_larger_than_a_chunk_and_the_limit_stops_the_read(read):
    content = b'[{"text": "' + b"x" * (2 << 20) + b'"}]'
    assert unreadable(read, content, "items.json") == (
        "line 1: element 1 is larger than the limit of 1,048,576 bytes, or the JSON is broken "
        "there."
    )
