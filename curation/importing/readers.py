"""Streaming readers for import files (pure: no ORM). Each yields `Record`s one at a time and
never holds the whole file; a record that cannot be read carries a `Problem` instead of fields.

Line numbers are 1-based physical lines (a CSV record spanning lines is named by its first);
Parquet rows are named by row group and row.
"""

import codecs
import csv
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from curation.extensions import Problem

FORMATS = ("jsonl", "csv", "json", "parquet", "labelstudio")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".json": "json",
             ".parquet": "parquet", ".pq": "parquet"}  # fmt: skip
_NUL_RAW = (b"\x00", b"\\u0000")
_BOM = codecs.BOM_UTF8


class UnreadableFile(Exception):
    """The file as a whole cannot be read (wrong type, encoding, compression)."""


@dataclass(slots=True)
class Record:
    where: str  # "line 17", "row group 0, row 5"
    line: int | None
    fields: dict | None = None
    problem: Problem | None = None


def format_for(filename: str, requested: str = "") -> str:
    """The format named by the user, else by the file's suffix (ignoring a trailing .gz)."""
    if requested:
        if requested not in FORMATS:
            raise UnreadableFile(f"Unknown format {requested!r}; use one of {', '.join(FORMATS)}.")
        return requested
    name = filename.lower().removesuffix(".gz")
    fmt = _SUFFIXES.get(Path(name).suffix)
    if fmt is None:
        raise UnreadableFile(
            f"{filename}: cannot tell the format from the name; name it .jsonl, .csv, .json or "
            ".parquet, or choose the format."
        )
    return fmt


def _sniff(path: Path, filename: str, fmt: str) -> bool:
    """Checks the first bytes against the format; returns whether the file is gzip-compressed."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    gzipped = head[:2] == b"\x1f\x8b"
    if gzipped and not filename.lower().endswith(".gz"):
        raise UnreadableFile(
            f"{filename} is gzip-compressed but its name does not end in .gz; rename it "
            f"(e.g. {filename}.gz) or decompress it first."
        )
    if gzipped:
        with gzip.open(path, "rb") as fh:
            head = fh.read(8192)
    if fmt == "parquet":
        if gzipped or head[:4] != b"PAR1":
            raise UnreadableFile(f"{filename} is not a Parquet file (it lacks the PAR1 header).")
        return False
    if head[:4] == b"PAR1":
        raise UnreadableFile(f"{filename} is a Parquet file; name it .parquet or choose Parquet.")
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise UnreadableFile(f"{filename} is UTF-16 encoded; save it as UTF-8 and import again.")
    if b"\x00" in head:
        raise UnreadableFile(f"{filename} is not a text file (it contains binary data).")
    return gzipped


class Position:
    """How far through the file a reader is, as a fraction (bytes, or Parquet row groups)."""

    def __init__(self):
        self._tell, self._size = (lambda: 0), 1

    def fraction(self) -> float:
        try:
            return min(1.0, self._tell() / self._size) if self._size else 1.0
        except ValueError:  # the reader has finished and closed the file
            return 1.0


def read_records(
    path: Path, filename: str, fmt: str, *, max_line_bytes: int, position: Position | None = None
) -> Iterator[Record]:
    """Records of the file at `path` (shown to the user as `filename`) in format `fmt`."""
    gzipped = _sniff(path, filename, fmt)
    position = position or Position()
    if fmt == "parquet":
        yield from _parquet(path, position)
        return
    with open(path, "rb") as raw:
        position._tell, position._size = raw.tell, path.stat().st_size
        fh = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        if fmt == "jsonl":
            yield from _jsonl(fh, max_line_bytes)
        elif fmt == "csv":
            yield from _csv(fh, max_line_bytes)
        else:
            records = _json_array(fh, max_line_bytes)
            if fmt == "labelstudio":
                from curation.importing.labelstudio import from_labelstudio

                records = from_labelstudio(records)
            yield from records


def _lines(fh, max_line_bytes: int) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, too long) for each physical line, the UTF-8 BOM removed."""
    number = 0
    while True:
        line = fh.readline(max_line_bytes + 1)
        if not line:
            return
        number += 1
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        too_long = len(line) > max_line_bytes and not line.endswith(b"\n")
        if too_long:  # skip the rest of the giant line without holding it
            while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
        yield number, line, too_long


def _too_long(where: str, number: int, max_line_bytes: int) -> Record:
    message = f"{where} is longer than the limit of {max_line_bytes:,} bytes."
    return Record(where, number, problem=Problem("", "line_too_long", message))


def _decode_problem(line: bytes) -> Problem | None:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem("", "bad_utf8", f"bad UTF-8 at byte {exc.start + 1} of the line.")
    return None


def _json_problem(line: bytes, exc: Exception) -> Problem:
    if problem := _decode_problem(line):
        return problem
    if b"\x00" in line:
        return Problem("", "nul_byte", "contains a NUL byte, which cannot be stored.")
    text = str(exc)
    if "surrogate" in text:
        return Problem("", "lone_surrogate", "contains a lone surrogate (\\ud800-\\udfff), "
                       "which is not valid Unicode.")  # fmt: skip
    column = getattr(exc, "colno", None)
    where = f" near column {column}" if column else ""
    return Problem("", "invalid_json", f"is not valid JSON{where}.")


def _jsonl(fh, max_line_bytes: int) -> Iterator[Record]:
    for number, line, too_long in _lines(fh, max_line_bytes):
        where = f"line {number}"
        if too_long:
            yield _too_long(where, number, max_line_bytes)
            continue
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield Record(where, number, problem=_json_problem(line, exc))
            continue
        if not isinstance(value, dict):
            kind = type(value).__name__.replace("dict", "object").replace("list", "array")
            message = f"expected a JSON object, found a JSON {kind}."
            yield Record(where, number, problem=Problem("", "not_an_object", message))
            continue
        if _NUL_RAW[1] in line:
            yield Record(where, number, problem=_nul_problem(value))
            continue
        yield Record(where, number, fields=value)


def _nul_problem(value) -> Problem:
    field = next((k for k, v in value.items() if _has_nul(v)), "")
    where = f"field `{field}`" if field else "the row"
    return Problem(field, "nul_byte", f"{where} contains a NUL character (\\u0000), which cannot "
                   "be stored.")  # fmt: skip


def _csv(fh, max_line_bytes: int) -> Iterator[Record]:
    bad: dict[int, Problem] = {}
    state = {"line": 0}

    def decoded() -> Iterator[str]:
        for number, line, too_long in _lines(fh, max_line_bytes):
            state["line"] = number
            if too_long:
                message = f"is longer than {max_line_bytes:,} bytes."
                bad[number] = Problem("", "line_too_long", message)
                yield "\n"
                continue
            problem = _decode_problem(line) or (
                Problem("", "nul_byte", "contains a NUL byte, which cannot be stored.")
                if b"\x00" in line else None
            )  # fmt: skip
            if problem:
                bad[number] = problem
                yield line.decode("utf-8", "replace").replace("\x00", "")
            else:
                yield line.decode("utf-8")

    reader = csv.reader(decoded(), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise UnreadableFile(f"line 1: the header row is not valid CSV ({exc}).") from None
    if 1 in bad:
        raise UnreadableFile(f"line 1 (the header row) {bad[1].message}")
    header = [name.strip() for name in header]
    if len(set(header)) != len(header) or not all(header):
        raise UnreadableFile("line 1: the header row has empty or repeated column names.")
    start = 2
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Record(f"line {start}", start, problem=Problem("", "invalid_csv", f"{exc}."))
            start = state["line"] + 1
            continue
        first, start = start, state["line"] + 1
        where = f"line {first}"
        problem = next((bad.pop(n) for n in range(first, start) if n in bad), None)
        if problem:
            yield Record(where, first, problem=problem)
        elif not any(cell.strip() for cell in row):
            continue
        elif len(row) != len(header):
            message = f"has {len(row)} cells but the header has {len(header)} columns."
            yield Record(where, first, problem=Problem("", "wrong_cell_count", message))
        else:
            yield Record(where, first, fields=dict(zip(header, row, strict=True)))


def _json_array(fh, max_line_bytes: int) -> Iterator[Record]:
    """Elements of a top-level JSON array, read incrementally; raw_decode finds each element's
    end, then orjson parses it strictly (it refuses lone surrogates, which `json` lets through)."""
    decoder = json.JSONDecoder()
    incremental = codecs.getincrementaldecoder("utf-8")("strict")
    buffer, line, eof, index = "", 1, False, 0
    chunk_size = 1 << 20

    def more() -> bool:
        nonlocal buffer, eof
        if eof:
            return False
        raw = fh.read(chunk_size)
        try:
            text = incremental.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            at = line + buffer.count("\n")
            raise UnreadableFile(f"line {at}: bad UTF-8 ({exc.reason}).") from None
        if not raw:
            eof = True
        buffer += text
        return bool(raw)

    def skip_ws():
        nonlocal buffer, line
        while True:
            stripped = buffer.lstrip(" \t\r\n")
            line += buffer.count("\n", 0, len(buffer) - len(stripped))
            buffer = stripped
            if buffer or not more():
                return

    more()
    if buffer.startswith("\ufeff"):
        buffer = buffer[1:]
    skip_ws()
    if not buffer.startswith("["):
        raise UnreadableFile("line 1: expected a JSON array ([ ... ]) of objects.")
    buffer = buffer[1:]
    skip_ws()
    if buffer.startswith("]"):
        return
    while True:
        skip_ws()
        start_line, index = line, index + 1
        while True:
            try:
                value, end = decoder.raw_decode(buffer)
                if end == len(buffer) and not eof and isinstance(value, int | float):
                    raise ValueError("a number may continue in the next chunk")
                break
            except ValueError:
                if len(buffer) > max_line_bytes:
                    raise UnreadableFile(
                        f"line {start_line}: element {index} is larger than the limit of "
                        f"{max_line_bytes:,} bytes, or the JSON is broken there."
                    ) from None
                if not more():
                    raise UnreadableFile(
                        f"line {start_line}: element {index} is not valid JSON, or the array "
                        "is not closed with ]."
                    ) from None
        text = buffer[:end]
        buffer = buffer[end:]
        line += text.count("\n")
        where = f"line {start_line} (element {index})"
        yield _element(where, start_line, text, value)
        skip_ws()
        if buffer.startswith(","):
            buffer = buffer[1:]
            continue
        if buffer.startswith("]"):
            buffer = buffer[1:]
            skip_ws()
            if buffer:
                raise UnreadableFile(f"line {line}: unexpected content after the closing ].")
            return
        raise UnreadableFile(f"line {line}: expected , or ] after element {index}.")


def _element(where: str, line: int, text: str, value) -> Record:
    if not isinstance(value, dict):
        message = "expected a JSON object."
        return Record(where, line, problem=Problem("", "not_an_object", message))
    try:
        value = orjson.loads(text.encode("utf-8", "surrogatepass"))
    except orjson.JSONDecodeError as exc:
        return Record(where, line, problem=_json_problem(b"", exc))
    if "\\u0000" in text:
        return Record(where, line, problem=_nul_problem(value))
    return Record(where, line, fields=value)


def _parquet(path: Path, position: Position) -> Iterator[Record]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception:
        raise UnreadableFile("the Parquet file is damaged or truncated.") from None
    done = [0]
    position._tell, position._size = (lambda: done[0]), parquet.num_row_groups
    for group in range(parquet.num_row_groups):
        done[0] = group
        row = 0
        for batch in parquet.iter_batches(row_groups=[group], batch_size=5000):
            for fields in batch.to_pylist():
                where = f"row group {group}, row {row}"
                row += 1
                if _has_nul(fields):
                    yield Record(where, None, problem=_nul_problem(fields))
                else:
                    yield Record(where, None, fields=fields)


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
