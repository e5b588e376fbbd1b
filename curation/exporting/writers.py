"""Export records written as JSON Lines, CSV or Parquet (pure: no ORM).

JSON Lines keeps each record as it is (with `raw_json`, data, metadata and prediction are the
database's JSON text, passed through). CSV and Parquet are flat tables with the same columns:
`text` is `data.text`; `data` holds the whole data object as JSON only when it has more than a
text; `metadata`, `prediction` and `annotations` are JSON; `final_label` (and `label` in mode
"annotations") is the label itself when the value is a plain {"label": ...}, else the value's
JSON. Values whose shape depends on the project (data, metadata, label values) are JSON strings
in Parquet too: the schema is then fixed before the first row group is written, and pandas and
`datasets` read every column as a plain string, integer or float.

CSV follows RFC 4180, and a cell starting with =, +, -, @, tab, CR or NUL gets a leading ' so
that spreadsheets do not run it as a formula (EXP-1). JSON Lines and Parquet are never altered.
"""

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

import orjson

from curation.extensions import EXPORT_ENRICHERS

Chunks = Iterable[list[dict]]

_ITEM_COLUMNS = ("id", "text", "data", "metadata", "split", "source")
# Column -> Parquet type name; every other column is a string.
_TYPES = {"agreement": "float64", "n_annotations": "int64", "seconds_spent": "float64"}
LAYOUTS = {
    "final": _ITEM_COLUMNS + ("prediction", "final_label", "final_rule", "agreement",
                              "n_annotations", "annotations"),
    "annotations": _ITEM_COLUMNS + ("annotator", "label", "seconds_spent"),
}  # fmt: skip
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def dumps(value) -> bytes:
    """Compact JSON; integers beyond 64 bits (which orjson refuses) go through `json`."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _line(record: dict) -> bytes:
    # A record orjson refused: field by field, so that only the field with the big integer
    # goes through `json` (which cannot write the orjson.Fragment fields of `raw_json`).
    fields = (orjson.dumps(key) + b":" + dumps(value) for key, value in record.items())
    return b"{" + b",".join(fields) + b"}\n"


def jsonl_bytes(chunk: list[dict]) -> bytes:
    """One JSON object per line. Appending to one buffer spares the allocator 10,000 separate
    line objects per chunk, which costs more than the serialising."""
    buffer = bytearray()
    for record in chunk:
        try:
            buffer += orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError:  # an integer beyond 64 bits
            buffer += _line(record)
    return bytes(buffer)


def write_jsonl(chunks: Chunks, fh) -> None:
    """Writes one JSON object per line, UTF-8, to the binary file `fh`."""
    for chunk in chunks:
        fh.write(jsonl_bytes(chunk))


def columns(mode: str) -> list[str]:
    """The flat columns of `mode`, then any an enricher declares that the layout lacks."""
    layout = list(LAYOUTS[mode])
    for enricher in EXPORT_ENRICHERS.values():
        layout += [name for name in enricher.columns.get(mode, []) if name not in layout]
    return layout


def _json_text(value) -> str | None:
    return None if value is None else dumps(value).decode()


def _label(value) -> str | None:
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("label"), str):
        return value["label"]
    return _json_text(value)


def flat_row(record: dict, names: list[str]) -> list:
    """One record as the cells of a flat table with columns `names` (None for empty)."""
    data = record.get("data")
    text = data.get("text") if isinstance(data, dict) else None
    plain_text = isinstance(text, str) and len(data) == 1
    final = record.get("final") or {}
    known = {
        "text": text if isinstance(text, str) else None,
        "data": None if plain_text else _json_text(data),
        "metadata": _json_text(record.get("metadata") or {}),
        "prediction": _json_text(record.get("prediction")),
        "final_label": _label(final.get("value")),
        "final_rule": final.get("rule"),
        "annotations": _json_text(record.get("annotations")),
        "label": _label(record.get("value")),
    }
    row = []
    for name in names:
        if name in known:
            row.append(known[name])
            continue
        value = record.get(name)
        typed = name in _TYPES or value is None or isinstance(value, str)
        row.append(value if typed else _json_text(value))
    return row


def _neutralised(cell) -> str:
    if cell is None:
        return ""
    text = cell if isinstance(cell, str) else str(cell)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_bytes(chunk: list[dict], names: list[str], header: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180: CRLF, quotes doubled
    if header:
        writer.writerow(names)
    for record in chunk:
        writer.writerow([_neutralised(cell) for cell in flat_row(record, names)])
    return buffer.getvalue().encode("utf-8")


def write_csv(chunks: Chunks, fh, *, mode: str = "final") -> None:
    """Writes an RFC 4180 CSV with a header row, UTF-8, to the binary file `fh`."""
    names = columns(mode)
    fh.write(csv_bytes([], names, header=True))
    for chunk in chunks:
        fh.write(csv_bytes(chunk, names, header=False))


def parquet_schema(mode: str):
    import pyarrow as pa

    return pa.schema(
        [pa.field(name, getattr(pa, _TYPES.get(name, "string"))()) for name in columns(mode)]
    )


def write_parquet(chunks: Chunks, path, *, mode: str = "final") -> None:
    """Writes a Parquet file (zstd) at `path` (a path or binary file), one row group per chunk,
    with the fixed schema of `parquet_schema(mode)`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema(mode)
    names = schema.names
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for chunk in chunks:
            if not chunk:
                continue
            cells = list(zip(*(flat_row(record, names) for record in chunk), strict=True))
            arrays = [pa.array(column, type=schema.field(i).type) for i, column in enumerate(cells)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


def write_export(chunks: Chunks, path: Path, *, fmt: str, mode: str) -> None:
    """Writes `chunks` to the file at `path` (created or truncated) in format `fmt`."""
    if fmt == "parquet":
        write_parquet(chunks, path, mode=mode)
        return
    with open(path, "wb") as fh:
        if fmt == "jsonl":
            write_jsonl(chunks, fh)
        else:
            write_csv(chunks, fh, mode=mode)
