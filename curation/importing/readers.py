"""Streaming readers for import files (pure: no ORM). Each yields `Record`s one at a time and
never holds the whole file; a record that cannot be read carries a `Problem` instead of fields.

Line numbers are 1-based physical lines (a CSV record spanning lines is named by its first);
Parquet rows are named by row group and row.
"""

import codecs
import csv
import gzip
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta
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
    """Checks the first bytes against the format; returns whether the file is gzip-compressed.

    Messages leave out the file name: the import report puts it in front of them.
    """
    with open(path, "rb") as fh:
        head = fh.read(8192)
    gzipped = head[:2] == b"\x1f\x8b"
    if gzipped and not filename.lower().endswith(".gz"):
        raise UnreadableFile(
            f"the file is gzip-compressed but its name does not end in .gz; rename it "
            f"(e.g. {filename}.gz) or decompress it first."
        )
    if gzipped:
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(8192)
        except (OSError, EOFError):
            raise UnreadableFile("the gzip file is damaged or truncated.") from None
    if fmt == "parquet":
        if gzipped or head[:4] != b"PAR1":
            raise UnreadableFile("this is not a Parquet file (it lacks the PAR1 header).")
        return False
    if head[:4] == b"PAR1":
        raise UnreadableFile("this is a Parquet file; name it .parquet or choose Parquet.")
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise UnreadableFile("the file is UTF-16 encoded; save it as UTF-8 and import again.")
    if b"\x00" in head and _binary(head):
        raise UnreadableFile("this is not a text file (it contains binary data).")
    _check_shape(head.removeprefix(_BOM).lstrip(), fmt)
    return gzipped


def _binary(head: bytes) -> bool:
    """A head with NUL bytes is binary unless it is UTF-8 text with a stray NUL or two, which
    the readers then report by line."""
    if head.count(b"\x00") > max(2, len(head) // 64):
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 3  # not a character cut off by the 8 KB read
    return False


def _check_shape(head: bytes, fmt: str) -> None:
    """Catches a file of one format named as another by its first character."""
    if not head:
        return
    first = head[:1]
    if fmt == "jsonl" and first not in (b"{", b"["):
        raise UnreadableFile(
            "this does not look like JSON Lines: line 1 does not start with {. If it is a CSV "
            "file, name it .csv or choose CSV."
        )
    if fmt == "jsonl" and first == b"[" and not head.split(b"\n", 1)[0].rstrip().endswith(b"]"):
        raise UnreadableFile(
            "this looks like a JSON array spread over several lines, not JSON Lines; name it "
            ".json or choose JSON array."
        )
    if fmt == "csv" and first in (b"{", b"["):
        raise UnreadableFile(
            "this looks like JSON, not CSV: line 1 starts with " + first.decode() + ". Name it "
            ".jsonl (one object per line) or .json (an array), or choose that format."
        )


class Position:
    """How far through the file a reader is, as a fraction (bytes, or Parquet row groups)."""

    def __init__(self):
        self._tell, self._size = (lambda: 0), 1

    def fraction(self) -> float:
        try:
            return min(1.0, self._tell() / self._size) if self._size else 1.0
        except ValueError:  # the reader has finished and closed the file
            return 1.0


@dataclass(frozen=True)
class Limits:
    """What one file may hold besides its line length (IMP-7), checked before its rows are
    kept: fields per row, and a Parquet file's uncompressed size in all and per row group, read
    from its footer before any row group is. Zero means no limit."""

    max_fields: int = 0
    max_parquet_bytes: int = 0
    max_row_group_bytes: int = 0


def read_records(
    path: Path,
    filename: str,
    fmt: str,
    *,
    max_line_bytes: int,
    position: Position | None = None,
    limits: Limits = Limits(),  # noqa: B008  (frozen, so one shared default is safe)
) -> Iterator[Record]:
    """Records of the file at `path` (shown to the user as `filename`) in format `fmt`, one at
    a time (so that `position` says how far the reader is at each)."""
    for chunk in read_chunks(path, filename, fmt, size=1, max_line_bytes=max_line_bytes,
                             position=position, limits=limits):  # fmt: skip
        yield from chunk


def read_chunks(
    path: Path,
    filename: str,
    fmt: str,
    *,
    size: int,
    max_line_bytes: int,
    position: Position | None = None,
    limits: Limits = Limits(),  # noqa: B008  (frozen, so one shared default is safe)
    plain: Callable[[int, list], list | None] | None = None,
) -> Iterator[list]:
    """The records of `read_records` in lists of up to `size`. When the file breaks part-way,
    the records read before the break are yielded before the error, so their problems are
    still reported. JSON Lines, the format of large files, is read a block at a time with no
    generator step per line.

    `plain(first line number, lines)`, for JSON Lines, may take a block of lines whole and
    return what the caller makes of them (its own rows, which then stand in the lists for the
    block's records), or None, when the block holds a line it does not take: that block and
    the rest of the file are then read into records."""
    gzipped = _sniff(path, filename, fmt)
    position = position or Position()
    if fmt == "parquet":
        yield from _batched(_parquet(path, position, limits), size)
        return
    with open(path, "rb") as raw:
        position._tell, position._size = raw.tell, path.stat().st_size
        fh = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        if fmt == "jsonl":
            chunks = _jsonl(fh, max_line_bytes, limits.max_fields, size, plain)
        elif fmt == "csv":
            chunks = _batched(_csv(fh, max_line_bytes, limits.max_fields), size)
        else:
            records = _json_array(fh, max_line_bytes, limits.max_fields)
            if fmt == "labelstudio":
                from curation.importing.labelstudio import from_labelstudio

                records = from_labelstudio(records)
            chunks = _batched(records, size)
        try:
            yield from chunks
        except (EOFError, gzip.BadGzipFile, zlib.error):
            if not gzipped:
                raise
            raise UnreadableFile("the gzip file is damaged or truncated.") from None


def _batched(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    """Lists of up to `size` records; on an error, the records before it, then the error."""
    return _rechunked(([record] for record in records), size)


def _rechunked(parts: Iterator[list], size: int) -> Iterator[list]:
    """The items of `parts` (lists of any length) in lists of `size`, the last one shorter; on
    an error, the items before it, then the error."""
    chunk: list = []
    try:
        for part in parts:
            chunk += part
            if len(chunk) >= size:
                ends = range(size, len(chunk) + 1, size)
                yield from (chunk[end - size : end] for end in ends)
                chunk = chunk[ends[-1] :]
    except Exception:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


def _lines(fh, max_line_bytes: int) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, too long) for each physical line, the UTF-8 BOM removed."""
    number, readline, limit = 0, fh.readline, max_line_bytes + 1
    while True:
        line = readline(limit)
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


def _too_long_problem(max_line_bytes: int) -> Problem:
    message = f"the line is longer than the limit of {max_line_bytes:,} bytes."
    return Problem("", "line_too_long", message)


def _decode_problem(line: bytes) -> Problem | None:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem("", "bad_utf8", f"bad UTF-8 at byte {exc.start + 1} of the line.")
    return None


def _json_problem(line: bytes, exc: Exception, *, whole_line: bool = True) -> Problem:
    """The problem of a line (or, with `whole_line` false, of an array element) the parser
    refused, with the 1-based character column where it stopped."""
    if problem := _decode_problem(line):
        return problem
    if b"\x00" in line:
        return Problem("", "nul_byte", "contains a NUL byte, which cannot be stored.")
    if "surrogate" in str(exc):
        return Problem("", "lone_surrogate", "contains a lone surrogate (\\ud800-\\udfff), "
                       "which is not valid Unicode.")  # fmt: skip
    column = getattr(exc, "colno", None)
    if whole_line and isinstance(pos := getattr(exc, "pos", None), int):
        # The parser counts the line's end too: a line cut short fails past its last character,
        # which it reports as column 1 of the next line.
        column = min(pos, len(line.decode("utf-8").rstrip("\r\n"))) + 1
    where = f" near column {column}" if column else ""
    return Problem("", "invalid_json", f"is not valid JSON{where}.")


def _too_many_fields(count: int, max_fields: int) -> Problem:
    message = f"has {count:,} fields, more than the limit of {max_fields:,} fields per row."
    return Problem("", "too_many_fields", message)


def _line_blocks(fh, max_line_bytes: int, block_bytes: int = 1 << 18):
    """(number of the first line, lines), a block of the file at a time: each physical line
    without its end, the UTF-8 BOM removed, and None for a line longer than the limit, whose
    bytes are dropped as they arrive, never held whole."""
    number, carry, long_line = 1, b"", False
    raw = fh.read(max(block_bytes, len(_BOM)))
    block = raw.removeprefix(_BOM)
    while raw:  # (not `block`: a file may hold the BOM alone in its first read)
        done = []
        if long_line:  # the rest of a line over the limit: drop it up to its end
            end = block.find(b"\n")
            if end < 0:
                raw = block = fh.read(block_bytes)
                continue
            block, long_line, done = block[end + 1 :], False, [None]
        lines = (carry + block).split(b"\n") if carry else block.split(b"\n")
        carry = lines.pop()
        if lines and max(map(len, lines)) > max_line_bytes:
            lines = [None if len(line) > max_line_bytes else line for line in lines]
        if len(carry) > max_line_bytes:
            carry, long_line = b"", True
        lines = done + lines if done else lines
        yield number, lines
        number += len(lines)
        raw = block = fh.read(block_bytes)
    if long_line or carry:
        yield number, [None if long_line else carry]


def _jsonl(fh, max_line_bytes: int, max_fields: int, size: int, plain=None) -> Iterator[list]:
    """Records of a JSON Lines file in lists of up to `size` (see `read_chunks` for `plain`)."""
    return _rechunked(_jsonl_blocks(fh, max_line_bytes, max_fields, plain), size)


def _jsonl_blocks(fh, max_line_bytes: int, max_fields: int, plain) -> Iterator[list]:
    """A list for each block of lines: what `plain` made of it, or a record for each line that
    is not blank. The common line (an object of a few fields, no backslash) takes three tests
    after parsing; blank lines and every problem go to `_jsonl_problem`."""
    loads, refused, nul = orjson.loads, orjson.JSONDecodeError, _NUL_RAW[1]
    for first, lines in _line_blocks(fh, max_line_bytes):
        if plain is not None:
            taken = plain(first, lines)
            if taken is not None:
                yield taken
                continue
            plain = None  # a line it does not take: records from here on
        records = []
        for number, line in enumerate(lines, first):
            try:
                value = loads(line)  # a line over the limit is None, which orjson refuses
            except refused as exc:
                record = _jsonl_problem(number, line, max_line_bytes, exc=exc)
                if record is None:
                    continue  # a blank line
            else:
                if (type(value) is not dict or (max_fields and len(value) > max_fields)
                        or (b"\\" in line and nul in line and has_nul(value))):  # fmt: skip
                    record = _jsonl_problem(number, line, max_fields, value=value)
                else:
                    record = Record(f"line {number}", number, value)
            records.append(record)
        yield records


def _jsonl_problem(number: int, line: bytes | None, limit: int, *, exc=None, value=None):
    """The record of a JSON Lines line that is not a plain object, or None for a blank line.
    `limit` is the line limit when the parser refused the line, else the fields limit."""
    where = f"line {number}"
    if exc is not None:
        if line is None:
            return Record(where, number, problem=_too_long_problem(limit))
        if not line or line.isspace():
            return None
        return Record(where, number, problem=_json_problem(line, exc))
    if not isinstance(value, dict):
        message = f"expected a JSON object, found {json_kind(value)}."
        return Record(where, number, problem=Problem("", "not_an_object", message))
    if limit and len(value) > limit:
        return Record(where, number, problem=_too_many_fields(len(value), limit))
    # `\\u0000` (an escaped backslash) is not a NUL: the parsed value decides.
    return Record(where, number, problem=_nul_problem(value))


def json_kind(value) -> str:
    """How a value reads in JSON terms, for messages ("a number", not "int")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "binary data" if isinstance(value, bytes) else "a value of another kind"


def _nul_problem(value) -> Problem:
    for key, item in value.items():
        if has_nul(key):
            return Problem("", "nul_byte", "a field name contains a NUL character (\\u0000), "
                           "which cannot be stored.")  # fmt: skip
        if has_nul(item):
            return Problem(key, "nul_byte", f"field `{key}` contains a NUL character (\\u0000), "
                           "which cannot be stored.")  # fmt: skip
    # Not reached: callers pass only rows in which has_nul found a NUL, and the loop above
    # looks at the same names and values. Kept so that a new caller still gets a message.
    return Problem("", "nul_byte", "the row contains a NUL character (\\u0000), which cannot be "
                   "stored.")  # fmt: skip  # pragma: no cover


def _csv(fh, max_line_bytes: int, max_fields: int = 0) -> Iterator[Record]:
    bad: dict[int, Problem] = {}
    state = {"line": 0}

    def decoded() -> Iterator[str]:
        for number, line, too_long in _lines(fh, max_line_bytes):
            state["line"] = number
            if too_long:
                bad[number] = _too_long_problem(max_line_bytes)
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

    if csv.field_size_limit() < max_line_bytes:  # the default, 128 KiB, is below a long text
        csv.field_size_limit(max_line_bytes)
    reader = csv.reader(decoded(), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise UnreadableFile(f"line 1: the header row {_csv_error(exc, max_line_bytes)}") from None
    if 1 in bad:
        raise UnreadableFile(f"line 1 (the header row): {bad[1].message}")
    _check_header(header := [name.strip() for name in header], max_fields)
    start = state["line"] + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = Problem("", "invalid_csv", _csv_error(exc, max_line_bytes))
            yield Record(f"line {start}", start, problem=problem)
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


def _check_header(header: list[str], max_fields: int = 0) -> None:
    if max_fields and len(header) > max_fields:
        raise UnreadableFile(f"line 1: the header row has {len(header):,} columns, more than the "
                             f"limit of {max_fields:,} fields per row.")  # fmt: skip
    if not any(header):
        raise UnreadableFile("line 1: the header row is empty; CSV files need a header row.")
    if not all(header):
        raise UnreadableFile(
            f"line 1: column {header.index('') + 1} of the header row has no name."
        )
    if len(set(header)) != len(header):
        repeated = next(name for name in header if header.count(name) > 1)
        raise UnreadableFile(f"line 1: the header row names the column `{repeated}` twice.")


_CSV_ERRORS = {
    "',' expected after '\"'": "is not valid CSV: a closing quote must be followed by a comma "
    'or the end of the line (write a quote inside a quoted cell as "").',
    "unexpected end of data": "is not valid CSV: a quoted cell is not closed before the end of "
    "the file.",
    "new-line character seen in unquoted field": "is not valid CSV: a carriage return (\\r) "
    "appears outside quotes; save the file with ordinary line endings.",
    "field larger than field limit": "has a cell larger than the limit of {limit:,} bytes.",
}


def _csv_error(exc: Exception, max_line_bytes: int) -> str:
    """The csv module's error as a plain sentence."""
    text = str(exc)
    for start, message in _CSV_ERRORS.items():
        if text.startswith(start):
            return message.format(limit=max_line_bytes)
    return "is not valid CSV."


def _json_array(fh, max_line_bytes: int, max_fields: int = 0) -> Iterator[Record]:
    """Elements of a top-level JSON array, read incrementally; raw_decode finds each element's
    end, then orjson parses it strictly (it refuses lone surrogates, which `json` lets through).

    The buffer is read through an index and compacted once per chunk: slicing it after every
    element would copy the rest of the chunk each time.
    """
    decoder = json.JSONDecoder()
    incremental = codecs.getincrementaldecoder("utf-8")("strict")
    buffer, pos, line, eof, index, read = "", 0, 1, False, 0, 0
    chunk_size = 1 << 20

    def more() -> bool:
        nonlocal buffer, pos, eof, read
        if eof:
            return False
        raw = fh.read(chunk_size)
        pending = incremental.getstate()[0]
        try:
            text = incremental.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            data = pending + raw
            at = line + buffer.count("\n", pos) + data.count(b"\n", 0, exc.start)
            offset = read - len(pending) + exc.start + 1
            raise UnreadableFile(f"line {at}: bad UTF-8 at byte {offset:,} of the file.") from None
        read += len(raw)
        eof = not raw
        buffer, pos = buffer[pos:] + text, 0
        return bool(raw)

    def skip_ws() -> None:
        nonlocal pos, line
        while True:
            end = len(buffer)
            while pos < end and buffer[pos] in " \t\r\n":
                line += buffer[pos] == "\n"
                pos += 1
            if pos < end or not more():
                return

    more()
    if buffer.startswith("\ufeff"):
        pos = 1
    skip_ws()
    if not buffer.startswith("[", pos):
        looks_like_lines = buffer.startswith("{", pos)
        hint = "; this looks like JSON Lines: name it .jsonl or choose JSON Lines"
        hint = hint if looks_like_lines else ""
        raise UnreadableFile(f"line {line}: expected a JSON array ([ ... ]) of objects{hint}.")
    pos += 1
    skip_ws()
    closed = buffer.startswith("]", pos)
    while not closed:
        skip_ws()
        start_line, index = line, index + 1
        while True:
            try:
                value, end = decoder.raw_decode(buffer, pos)
                if end == len(buffer) and not eof and isinstance(value, int | float):
                    raise ValueError("a number may continue in the next chunk")
                break
            except ValueError:
                if len(buffer) - pos > max_line_bytes:
                    raise UnreadableFile(
                        f"line {start_line}: element {index} is larger than the limit of "
                        f"{max_line_bytes:,} bytes, or the JSON is broken there."
                    ) from None
                if not more():
                    raise UnreadableFile(
                        f"line {start_line}: element {index} is not valid JSON, or the array "
                        "is not closed with ]."
                    ) from None
        text = buffer[pos:end]
        line += text.count("\n")
        pos = end
        where = f"line {start_line} (element {index})"
        if len(text) > max_line_bytes:  # characters: never more than its bytes
            message = f"the element is longer than the limit of {max_line_bytes:,} bytes."
            yield Record(where, start_line, problem=Problem("", "line_too_long", message))
        else:
            yield _element(where, start_line, text, value, max_fields)
        skip_ws()
        if buffer.startswith(",", pos):
            pos += 1
            continue
        if pos == len(buffer):
            raise UnreadableFile(f"line {line}: the array is not closed with ] after element "
                                 f"{index}.")  # fmt: skip
        if not buffer.startswith("]", pos):
            raise UnreadableFile(f"line {line}: expected , or ] after element {index}.")
        closed = True
    pos += 1
    skip_ws()
    if pos < len(buffer):
        raise UnreadableFile(f"line {line}: unexpected content after the closing ].")


def _element(where: str, line: int, text: str, value, max_fields: int = 0) -> Record:
    if not isinstance(value, dict):
        message = f"expected a JSON object, found {json_kind(value)}."
        return Record(where, line, problem=Problem("", "not_an_object", message))
    if max_fields and len(value) > max_fields:
        return Record(where, line, problem=_too_many_fields(len(value), max_fields))
    try:
        value = orjson.loads(text.encode("utf-8", "surrogatepass"))
    except orjson.JSONDecodeError as exc:
        return Record(where, line, problem=_json_problem(b"", exc, whole_line=False))
    if "\\u0000" in text and has_nul(value):
        return Record(where, line, problem=_nul_problem(value))
    return Record(where, line, fields=value)


def _parquet(path: Path, position: Position, limits: Limits) -> Iterator[Record]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception:
        raise UnreadableFile("the Parquet file is damaged or truncated.") from None
    _check_parquet(parquet, limits)
    convert = [f.name for f in parquet.schema_arrow if not _json_native(f.type)]
    done = [0]
    position._tell, position._size = (lambda: done[0]), parquet.num_row_groups
    for group in range(parquet.num_row_groups):
        done[0] = group
        row = 0
        for batch in parquet.iter_batches(row_groups=[group], batch_size=5000):
            for fields in batch.to_pylist():
                where = f"row group {group}, row {row}"
                row += 1
                problem = _to_json(fields, convert) if convert else None
                if problem is None and has_nul(fields):
                    problem = _nul_problem(fields)
                if problem is not None:
                    yield Record(where, None, problem=problem)
                else:
                    yield Record(where, None, fields=fields)


def _check_parquet(parquet, limits: Limits) -> None:
    """Refuses a file over the limits from its footer alone, before a row group is read: row
    groups are decompressed whole, so their size bounds the memory an import takes."""
    columns = len(parquet.schema_arrow)
    if limits.max_fields and columns > limits.max_fields:
        raise UnreadableFile(f"the file has {columns:,} columns, more than the limit of "
                             f"{limits.max_fields:,} fields per row.")  # fmt: skip
    meta = parquet.metadata
    sizes = [meta.row_group(group).total_byte_size for group in range(meta.num_row_groups)]
    if (limit := limits.max_parquet_bytes) and sum(sizes) > limit:
        raise UnreadableFile(f"the file holds {sum(sizes):,} bytes uncompressed, more than the "
                             f"limit of {limit:,} bytes for one import.")  # fmt: skip
    for group, size in enumerate(sizes):
        if limits.max_row_group_bytes and size > limits.max_row_group_bytes:
            raise UnreadableFile(
                f"row group {group} holds {size:,} bytes uncompressed, more than the limit of "
                f"{limits.max_row_group_bytes:,} bytes for one row group; write the file with "
                "smaller row groups (pyarrow: row_group_size)."
            )


def _json_native(kind) -> bool:
    """Whether pyarrow gives values of this type as JSON-ready Python (no dates, decimals or
    bytes, which would fail when the row is stored)."""
    import pyarrow.types as t

    if t.is_struct(kind):
        return all(_json_native(kind.field(i).type) for i in range(kind.num_fields))
    if t.is_list(kind) or t.is_large_list(kind) or t.is_fixed_size_list(kind):
        return _json_native(kind.value_type)
    if t.is_map(kind):
        return _json_native(kind.key_type) and _json_native(kind.item_type)
    return (t.is_string(kind) or t.is_large_string(kind) or t.is_integer(kind)
            or t.is_floating(kind) or t.is_boolean(kind) or t.is_null(kind))  # fmt: skip


def _to_json(fields: dict, names: list[str]) -> Problem | None:
    """Turns the values of columns `names` into JSON values in place: dates and times into ISO
    8601 text, decimals into text, bytes into text when they are UTF-8."""
    for name in names:
        try:
            fields[name] = _json_value(fields[name])
        except UnicodeDecodeError:
            message = f"field `{name}` holds binary data that is not UTF-8 text."
            return Problem(name, "binary_value", message)
    return None


def _json_value(value):
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)  # Decimal and anything else pyarrow may hand over


def has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False
