"""IMP-7, the limits an import file meets before its rows are kept: fields per row
(IMPORT_MAX_FIELDS), a Parquet file's uncompressed size (IMPORT_MAX_PARQUET_BYTES) and the size
of one of its row groups (IMPORT_MAX_ROW_GROUP_BYTES). Each refusal names the limit, the file
and the line or row group, and leaves the project unchanged."""

import io

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.models import Item, JobStatus


def jsonl(*rows: dict) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def parquet(rows: list[dict], row_group_size: int) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), out, row_group_size=row_group_size,
                   compression="zstd")  # fmt: skip
    return out.getvalue()


def imported(project) -> list[str]:
    """External ids of the items an import added (the team's project starts with "item-N")."""
    items = Item.objects.filter(project=project).exclude(external_id__startswith="item-")
    return list(items.values_list("external_id", flat=True))


def group_sizes(content: bytes) -> list[int]:
    meta = pq.ParquetFile(io.BytesIO(content)).metadata
    return [meta.row_group(group).total_byte_size for group in range(meta.num_row_groups)]


@pytest.fixture
def batches_read(monkeypatch) -> list:
    """Row groups the import started to read: none, when a limit refuses the file first."""
    calls, read = [], pq.ParquetFile.iter_batches

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get("row_groups"))
        return read(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    return calls


class TestFieldsPerRow:
    def test_a_json_lines_row_with_too_many_fields_is_named_by_line(
        self, team, run_import, settings
    ):
        settings.IMPORT_MAX_FIELDS = 4
        wide = {"id": "w", "text": "wide", **{f"f{i}": i for i in range(5)}}
        run = run_import(jsonl({"id": "a", "text": "fine", "x": 1}, wide), "wide.jsonl")
        assert run.status == JobStatus.FAILED
        assert "wide.jsonl" in run.message
        assert [(e["file"], e["line"], e["code"], e["message"]) for e in run.errors] == [
            ("wide.jsonl", 2, "too_many_fields",
             "line 2: has 7 fields, more than the limit of 4 fields per row."),
        ]  # fmt: skip
        assert imported(team.project) == []

    def test_skip_invalid_imports_the_rows_within_the_limit(self, team, run_import, settings):
        settings.IMPORT_MAX_FIELDS = 3
        content = jsonl({"id": "a", "text": "fine", "x": 1},
                        {"id": "b", "text": "wide", "x": 1, "y": 2})  # fmt: skip
        run = run_import(content, "wide.jsonl", skip_invalid=True)
        assert run.status == JobStatus.DONE
        assert imported(team.project) == ["a"]
        assert run.counts["invalid_rows"] == 1

    def test_a_json_array_element_with_too_many_fields_is_named_by_line(
        self, team, run_import, settings
    ):
        settings.IMPORT_MAX_FIELDS = 2
        content = b'[\n{"id": "a", "text": "ok"},\n{"id": "b", "text": "no", "x": 1}\n]\n'
        run = run_import(content, "items.json")
        assert [e["message"] for e in run.errors] == [
            "line 3 (element 2): has 3 fields, more than the limit of 2 fields per row."
        ]
        assert imported(team.project) == []

    def test_a_csv_header_with_too_many_columns_refuses_the_file_at_line_1(
        self, team, run_import, settings
    ):
        settings.IMPORT_MAX_FIELDS = 3
        run = run_import(b"id,text,a,b\n1,hello,x,y\n", "wide.csv")
        assert run.status == JobStatus.FAILED
        assert run.message == ("wide.csv: line 1: the header row has 4 columns, more than the "
                               "limit of 3 fields per row.")  # fmt: skip
        assert run.errors[0]["file"] == "wide.csv"
        assert imported(team.project) == []

    def test_a_parquet_file_with_too_many_columns_is_refused_before_any_row_group(
        self, team, run_import, settings, batches_read
    ):
        settings.IMPORT_MAX_FIELDS = 2
        content = parquet([{"id": "a", "text": "t", "extra": 1}], row_group_size=10)
        run = run_import(content, "wide.parquet")
        assert run.message == ("wide.parquet: the file has 3 columns, more than the limit of 2 "
                               "fields per row.")  # fmt: skip
        assert batches_read == []
        assert imported(team.project) == []

    def test_a_row_at_the_limit_is_imported(self, team, run_import, settings):
        settings.IMPORT_MAX_FIELDS = 3
        run = run_import(jsonl({"id": "a", "text": "fine", "x": 1}), "items.jsonl")
        assert run.status == JobStatus.DONE
        assert imported(team.project) == ["a"]


ROWS = [{"id": f"r{i}", "text": f"text number {i} " + "word " * 40} for i in range(40)]


class TestParquetSizes:
    def test_a_file_over_the_uncompressed_size_limit_is_refused_before_reading(
        self, team, run_import, settings, batches_read
    ):
        content = parquet(ROWS, row_group_size=10)
        total = sum(group_sizes(content))
        settings.IMPORT_MAX_PARQUET_BYTES = total - 1
        run = run_import(content, "big.parquet")
        assert run.status == JobStatus.FAILED
        assert run.message == (
            f"big.parquet: the file holds {total:,} bytes uncompressed, more than the limit of "
            f"{total - 1:,} bytes for one import."
        )
        assert batches_read == []
        assert imported(team.project) == []

    def test_a_row_group_over_its_limit_is_named_and_nothing_is_read(
        self, team, run_import, settings, batches_read
    ):
        rows = [dict(row) for row in ROWS]
        for row in rows[20:30]:  # row group 2 holds longer texts than the others
            row["text"] += "longer " * 40
        content = parquet(rows, row_group_size=10)
        sizes = group_sizes(content)
        limit = max(sizes[0], sizes[1], sizes[3])
        assert sizes[2] > limit
        settings.IMPORT_MAX_ROW_GROUP_BYTES = limit
        run = run_import(content, "groups.parquet")
        assert run.status == JobStatus.FAILED
        assert run.message == (
            f"groups.parquet: row group 2 holds {sizes[2]:,} bytes uncompressed, more than the "
            f"limit of {limit:,} bytes for one row group; write the file with smaller row groups "
            "(pyarrow: row_group_size)."
        )
        assert batches_read == []
        assert imported(team.project) == []

    def test_a_file_within_both_limits_is_imported(self, team, run_import, settings):
        content = parquet(ROWS, row_group_size=10)
        settings.IMPORT_MAX_PARQUET_BYTES = sum(group_sizes(content))
        settings.IMPORT_MAX_ROW_GROUP_BYTES = max(group_sizes(content))
        run = run_import(content, "fine.parquet")
        assert run.status == JobStatus.DONE
        assert len(imported(team.project)) == len(ROWS)
