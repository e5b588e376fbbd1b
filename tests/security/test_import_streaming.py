"""IMP-8: import parsing streams, in the requirement's sense: no `json.load` of the whole file,
no CSV read without chunking, Parquet read by row group. Each reader goes through a 16 MB file
while holding a small part of it, and the import code never reads a file whole.

The worker's memory over a whole import is measured in tests/faults/test_large_imports.py."""

import ast
import gzip
import os
import tracemalloc
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.importing.readers import Position, read_records

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
SIZE = 16 * MB
MAX_LINE_BYTES = 8 * MB


def rows(n: int):
    for i in range(n):
        # Long rows keep the count of allocations (which tracemalloc slows) low; random hex
        # keeps gzip from shrinking the file to nothing.
        yield {"id": f"r{i}", "text": f"Message {i}: {os.urandom(1000).hex()}", "n": i}


def row_count() -> int:
    line = len(orjson.dumps(next(rows(1)))) + 1
    return SIZE // line


def write(path: Path, fmt: str) -> int:
    n = row_count()
    if fmt in ("jsonl", "jsonl.gz"):
        opener = gzip.open if fmt.endswith(".gz") else open
        with opener(path, "wb") as out:
            for row in rows(n):
                out.write(orjson.dumps(row) + b"\n")
    elif fmt == "csv":
        with open(path, "w", encoding="utf-8") as out:
            out.write("id,text,n\n")
            for row in rows(n):
                out.write(f'{row["id"]},"{row["text"]}",{row["n"]}\n')
    elif fmt == "json":
        with open(path, "wb") as out:
            out.write(b"[\n")
            for i, row in enumerate(rows(n)):
                out.write((b",\n" if i else b"") + orjson.dumps(row))
            out.write(b"\n]\n")
    return n


FORMATS = {"jsonl": "items.jsonl", "jsonl.gz": "items.jsonl.gz", "csv": "items.csv",
           "json": "items.json"}  # fmt: skip


def traced_read(path: Path, filename: str, fmt: str) -> tuple[int, int, float]:
    """Reads every record; returns (records, peak traced bytes, fraction read at the first)."""
    position = Position()
    tracemalloc.start()
    try:
        records = read_records(path, filename, fmt, max_line_bytes=MAX_LINE_BYTES,
                               position=position)  # fmt: skip
        first = next(records)
        assert first.problem is None, first.problem
        fraction = position.fraction()
        count = 1 + sum(1 for record in records if record.problem is None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return count, peak, fraction


@pytest.mark.parametrize("kind", FORMATS)
def test_a_reader_holds_a_small_part_of_the_file(kind, tmp_path):
    filename = FORMATS[kind]
    path = tmp_path / filename
    rows_written = write(path, kind)
    fmt = "jsonl" if kind == "jsonl.gz" else kind
    count, peak, fraction = traced_read(path, filename, fmt)
    assert count == rows_written
    size = path.stat().st_size
    # The first record comes after one buffer (8 kB of lines, 1 MB of a JSON array), not after
    # the whole file; the peak is a few such buffers and a record, not the file.
    assert fraction < 0.1, f"{fraction:.0%} of the file read before the first record"
    assert peak < size / 3, f"peak {peak / MB:.1f} MB while reading {size / MB:.1f} MB"


def test_parquet_is_read_by_row_group(tmp_path):
    path = tmp_path / "items.parquet"
    n = row_count()
    table = pa.Table.from_pylist(list(rows(n)))
    pq.write_table(table, path, row_group_size=n // 16)
    del table
    position = Position()
    allocated = pa.total_allocated_bytes()
    records = read_records(path, "items.parquet", "parquet", max_line_bytes=MAX_LINE_BYTES,
                           position=position)  # fmt: skip
    first = next(records)
    assert first.problem is None and first.fields["id"] == "r0"
    # Arrow memory for one row group (a 16th of the table) and its batch, not for the table.
    assert pa.total_allocated_bytes() - allocated < SIZE / 3
    assert 1 + sum(1 for _ in records) == n


# --- the code never reads a file whole -----------------------------------------------------------

WHOLE_FILE_CALLS = {
    "load": "json.load / orjson of a file",
    "read_csv": "pandas.read_csv",
    "read_json": "pandas.read_json",
    "read_table": "pyarrow.parquet.read_table",
    "read_pandas": "pyarrow read_pandas",
    "read_all": "read_all",
    "readlines": "readlines",
}


def whole_file_reads(source: str) -> list[str]:
    """Calls that read a whole file: `.read()` without a size, and the calls above."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        if name == "read" and not node.args and not node.keywords:
            found.append(f"line {node.lineno}: .read() of everything")
        elif name == "read" and isinstance(node.func.value, ast.Call):
            found.append(f"line {node.lineno}: ParquetFile(...).read()")
        elif name in WHOLE_FILE_CALLS:
            found.append(f"line {node.lineno}: {WHOLE_FILE_CALLS[name]}")
    return found


def test_the_import_code_never_reads_a_file_whole():
    sources = sorted((ROOT / "curation" / "importing").glob("*.py"))
    assert len(sources) >= 4
    hits = [f"{path.name} {hit}" for path in sources for hit in whole_file_reads(path.read_text())]
    assert hits == []


@pytest.mark.parametrize(
    ("code", "caught"),
    [
        ("data = json.load(fh)", True),
        ("text = fh.read()", True),
        ("frame = pd.read_csv(path)", True),
        ("table = pq.read_table(path)", True),
        ("table = pq.ParquetFile(path).read()", True),
        ("lines = fh.readlines()", True),
        ("head = fh.read(8192)", False),
        ("line = fh.readline(limit)", False),
        ("value = orjson.loads(line)", False),
    ],
)
def test_the_whole_file_rule_catches_what_it_names(code, caught):
    assert bool(whole_file_reads(code)) is caught
