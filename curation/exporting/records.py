"""A project's items as export records, read in id-ordered chunks (keyset pagination).

Each chunk costs one query for the items plus one per registered enricher (annotations, final
label, agreement), never one per item, and memory stays bounded by the chunk size. The chunks
are read in autocommit, each at the moment it is read: an item created during a long export
may or may not appear, and no transaction is held open while a browser downloads.
"""

import json
import queue
import threading
from collections.abc import Iterator

import orjson
from django.db import connection
from django.db.models import TextField
from django.db.models.functions import Cast
from orjson import Fragment

from curation.bulk import gc_paused
from curation.exporting.writers import columns, csv_bytes, jsonl_bytes
from curation.extensions import enrich_items
from curation.models import Item, Project

FORMATS = ("jsonl", "csv", "parquet")
MODES = ("final", "annotations")
CHUNK_ITEMS = 10_000
# Mode "annotations": the fields one annotation adds to its item's record; an item nobody
# labelled still gets one record, with these fields null, so that every item is in the export.
ANNOTATION_FIELDS = ("annotator", "value", "seconds_spent")
_NO_ANNOTATION = dict.fromkeys(ANNOTATION_FIELDS)
_HUGE = 2.0**63


def loads_json(text: str | None):
    """Parses JSON text read from the database; None stays None.

    orjson is several times faster than `json` but turns integers beyond 64 bits into floats.
    Such a float is at least 2**63 in size, so when a parsed value holds one (rare) the text is
    parsed again with `json`, which keeps big integers exact and gives real floats the same.
    """
    if text is None:
        return None
    value = orjson.loads(text)
    if len(text) >= 20 and _has_huge_float(value):  # 20 characters: -9223372036854775809
        return json.loads(text)
    return value


def _has_huge_float(value) -> bool:
    kind = type(value)
    if kind is dict:
        return any(map(_has_huge_float, value.values()))
    if kind is list:
        return any(map(_has_huge_float, value))
    return kind is float and abs(value) >= _HUGE


def fetch_rows(queryset) -> list[tuple]:
    """All rows of a values_list() queryset, read straight from the cursor with the SQL and
    parameters Django compiled: for 10,000 rows Django's row-by-row iteration costs more than
    the query itself."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _item_rows(project: Project, after: int, size: int) -> list[tuple]:
    # JSON columns come as text and are parsed with orjson: Django's JSONField would use `json`.
    as_text = TextField()
    return fetch_rows(
        Item.objects.filter(project=project, pk__gt=after, dropped_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "external_id", Cast("data", as_text), Cast("metadata", as_text),
                     "split", "source", Cast("prediction", as_text))[:size]
    )  # fmt: skip


def _base(row: tuple) -> dict:
    _, external_id, data, metadata, split, source, prediction = row
    return {"id": external_id, "data": loads_json(data),
            "metadata": {} if metadata == "{}" else loads_json(metadata) or {},
            "split": split, "source": source,
            "prediction": None if prediction is None else loads_json(prediction)}  # fmt: skip


def _raw_base(row: tuple) -> dict:
    # JSON Lines only serialises these: the database's JSON text goes out as it is, unparsed.
    _, external_id, data, metadata, split, source, prediction = row
    return {"id": external_id, "data": Fragment(data),
            "metadata": {} if metadata in ("{}", "null") else Fragment(metadata),
            "split": split, "source": source,
            "prediction": None if prediction is None else Fragment(prediction)}  # fmt: skip


def _records(rows: list[tuple], extra: dict[int, dict], mode: str, raw_json: bool) -> list[dict]:
    base = _raw_base if raw_json else _base
    records = []
    for row in rows:
        record = base(row)
        fields = extra[row[0]]
        if mode == "final":
            record.update(fields)
            records.append(record)
            continue
        del record["prediction"]
        annotations = fields.pop("annotations", None) or [_NO_ANNOTATION]
        record.update(fields)
        records.extend({**record, **_NO_ANNOTATION, **entry} for entry in annotations)
    return records


def export_records(
    project: Project,
    mode: str,
    *,
    chunk_size: int = CHUNK_ITEMS,
    counts: dict | None = None,
    raw_json: bool = False,
) -> Iterator[list[dict]]:
    """The project's export records, chunk by chunk, in item id order. Reads only.

    Mode "final": one record per item, {"id", "data", "metadata", "split", "source",
    "prediction"} plus what the enrichers add ("annotations", "final", "agreement",
    "n_annotations"). Mode "annotations": one record per item and annotation, {"id", "data",
    "metadata", "split", "source", "annotator", "value", "seconds_spent"}; an item without
    annotations gives one record whose annotator, value and seconds_spent are null.
    `counts`, when given, is kept up to date with "items" and "records". With `raw_json`,
    data, metadata and prediction are the database's JSON text as `orjson.Fragment`s, which
    only orjson can read: for JSON Lines, which then skips parsing them and writing them again.
    """
    if mode not in MODES:
        raise ValueError(f"Unknown export mode {mode!r}; use one of {', '.join(MODES)}.")
    tally = counts if counts is not None else {}
    tally.setdefault("items", 0)
    tally.setdefault("records", 0)
    after = 0
    while True:
        with gc_paused():
            rows = _item_rows(project, after, chunk_size)
            if not rows:
                return
            extra = enrich_items(project, [row[0] for row in rows], mode)
            records = _records(rows, extra, mode, raw_json)
        after = rows[-1][0]
        tally["items"] += len(rows)
        tally["records"] += len(records)
        yield records
        if len(rows) < chunk_size:
            return  # a short chunk is the last one: no query to find nothing more


def prefetched(chunks: Iterator[list[dict]], depth: int = 2) -> Iterator[list[dict]]:
    """The same chunks, built on a background thread (with its own database connection) while
    the caller writes the previous ones: the queries' waits overlap the writing."""
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce():
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                handoff.put(chunk)
            handoff.put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            handoff.put(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=produce, name="export-prefetch", daemon=True)
    worker.start()
    try:
        while (item := handoff.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                handoff.get_nowait()
            except queue.Empty:
                worker.join(0.05)


def export_stream(project: Project, fmt: str, mode: str) -> Iterator[bytes]:
    """The export of `project` as bytes, chunk by chunk, for a StreamingHttpResponse.

    JSON Lines and CSV only: Parquet writes its footer last and needs a file (the export job).
    Reads only, in autocommit, like `export_records`.
    """
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"Format {fmt!r} cannot be streamed; use jsonl or csv, or an export job.")
    chunks = export_records(project, mode, raw_json=fmt == "jsonl")
    if fmt == "jsonl":
        yield from filter(None, map(jsonl_bytes, chunks))
        return
    names = columns(mode)
    yield csv_bytes([], names, header=True)
    for chunk in chunks:
        yield csv_bytes(chunk, names, header=False)
