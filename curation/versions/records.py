"""A version's records, as they are frozen and exported (pure: no ORM).

A record is a clean training row: the item's `id` (its external id), its `data` fields at the
top level (`text`, or `prompt`/`response_a`/`response_b`), the final `label` by name, `final`
({"value", "rule"}), `split`, `source`, `metadata`, `agreement` and `n_annotations`. Every record
of a version has the same keys, null where an item lacks a field, so that pyarrow (and
`datasets`) infer one schema. The bytes are orjson's with sorted keys: the same record always
serialises the same way, which is what makes a version's export reproducible.
"""

import hashlib
import json
from collections.abc import Iterable

import orjson

from curation.labels import label_name

# Keys a record sets itself; a data field of one of these names goes out as "data_<name>".
RESERVED = ("id", "label", "final", "split", "source", "metadata", "agreement", "n_annotations")


def data_columns(keys: Iterable[str]) -> list[tuple[str, str]]:
    """(data key, record key) pairs, in key order, for the data fields found in the items;
    ("text", "text") when none were found."""
    found = sorted(set(keys)) or ["text"]
    return [(key, f"data_{key}" if key in RESERVED else key) for key in found]


def canonical_json(value) -> str:
    """JSON text with sorted keys and no spaces; integers beyond 64 bits kept exact."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def label_key(value) -> str:
    """The canonical JSON of a final value, "" when there is none (for diffs)."""
    return "" if value is None else canonical_json(value)


def version_record(export: dict, columns: list[tuple[str, str]]) -> dict:
    """The version record of one item's export record (mode "final"); see the module doc."""
    data = export.get("data")
    if not isinstance(data, dict):
        data = {"text": data}
    final = export.get("final") or {"value": None, "rule": ""}
    record = {column: data.get(key) for key, column in columns}
    record.update(
        id=export["id"],
        label=label_name(final.get("value")),
        final=final,
        split=export.get("split", ""),
        source=export.get("source", ""),
        metadata=export.get("metadata") or {},
        agreement=export.get("agreement"),
        n_annotations=export.get("n_annotations") or 0,
    )
    return record


def record_text(record: dict) -> str:
    """The record as the line of JSON it is exported as (without the newline)."""
    return canonical_json(record)


class ContentHash:
    """sha256 over the records' bytes, each followed by "\\n", in position order: the hash of
    the version's data as one JSON Lines file."""

    def __init__(self):
        self._hash = hashlib.sha256()

    def add(self, text: str) -> None:
        self._hash.update(text.encode("utf-8"))
        self._hash.update(b"\n")

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def content_hash(texts: Iterable[str]) -> str:
    """The content hash of records given as their JSON texts, in order."""
    digest = ContentHash()
    for text in texts:
        digest.add(text)
    return digest.hexdigest()
