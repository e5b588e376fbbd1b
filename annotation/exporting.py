"""Annotations in curation's exports: registered as an ExportEnricher in AnnotationConfig.ready.

For a chunk of item ids it reads the annotations with their annotators' user names in one
query. Mode "annotations" gives each item its list of {"annotator", "value", "seconds_spent"}
(curation turns that into one record per annotation). Mode "final" gives each item
"annotations" ([{"annotator", "value"}], the shape the import reads back), "final" ({"value",
"rule"}), "agreement" and "n_annotations", decided by `verdict`, a plain function of the
values' canonical keys; an item with fewer annotations than the project's overlap has no final
value yet (rule "incomplete").

The adjudication app registers its own enricher after this one, and since later enrichers win,
its "final" (settled, decided, gold, awaiting review) replaces this one for the items it knows.
"""

import json
from collections.abc import Sequence
from operator import itemgetter

import orjson
from django.db.models import TextField
from django.db.models.functions import Cast

from annotation.models import Annotation
from curation.exporting.records import fetch_rows, loads_json
from curation.extensions import ExportEnricher


def _order_key(part) -> str:
    return json.dumps(part, sort_keys=True, default=str)


def _comparable(value):
    """The part of a value that says which label it is: a preference's free-text reason is
    left out, and the labels of a multiple choice and the spans of a text are put in order (the
    schema lets annotators give them in any order)."""
    if not isinstance(value, dict):
        return value
    found = {key: part for key, part in value.items() if key != "reason"}
    for key in ("labels", "spans"):
        if isinstance(found.get(key), list):
            found[key] = sorted(found[key], key=_order_key)
    return found


def canonical(value) -> bytes:
    """The key under which two values count as the same label: the comparable part of the
    value as JSON with sorted keys."""
    value = _comparable(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # integers beyond 64 bits
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


INCOMPLETE = "incomplete"  # the final rule of an item with fewer annotations than its overlap


def verdict(keys: Sequence) -> tuple[str, int | None, float | None]:
    """(rule, index of the chosen value or None, agreement) for one item's canonical keys.

    No values: "unlabeled". All equal: "unanimous". One value given by more than half the
    annotators: "majority". Otherwise "no_majority", and no value. Agreement is the share of
    annotator pairs that gave the same value (None under two values): A, A, B has three pairs
    of which one agrees, so 1/3.
    """
    n = len(keys)
    if n == 0:
        return "unlabeled", None, None
    counts: dict = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    agreement = sum(c * (c - 1) for c in counts.values()) / (n * (n - 1)) if n > 1 else None
    top, count = max(counts.items(), key=itemgetter(1))
    if count == n:
        return "unanimous", 0, agreement
    if 2 * count > n:
        return "majority", keys.index(top), agreement
    return "no_majority", None, agreement


def final_label(values: list) -> dict:
    """{"value", "rule"}: the final value of one item's annotation values, as `verdict` rules."""
    rule, index, _ = verdict([canonical(value) for value in values])
    return {"value": None if index is None else values[index], "rule": rule}


def percent_agreement(keys: Sequence) -> float | None:
    """Share of annotator pairs that gave the same value, as `verdict` computes it."""
    return verdict(keys)[2]


class _Chunk:
    """One chunk's memo. A project has few distinct labels, so each distinct value text is
    parsed once, each (annotator, value) pair and each combination of keys built once, and
    records share them: they are read, never changed."""

    def __init__(self, capacity: int):
        self.capacity = capacity  # annotators per item: fewer annotations give no final label
        self.values: dict[str, tuple] = {}  # text -> (value, canonical key)
        self.pairs: dict[tuple, dict] = {}  # (annotator, text) -> {"annotator", "value"}
        self.finals: dict[tuple, tuple] = {}  # keys -> ({"value", "rule"}, agreement)

    def parse(self, text: str) -> tuple:
        known = self.values.get(text)
        if known is None:
            value = loads_json(text)
            known = self.values[text] = (value, canonical(value))
        return known

    def pair(self, username: str, text: str) -> dict:
        pair = self.pairs[(username, text)] = {"annotator": username, "value": self.parse(text)[0]}
        return pair

    def final_fields(self, pairs: list[dict], keys: list) -> dict:
        keys = tuple(keys)
        decided = self.finals.get(keys)
        if decided is None:
            rule, index, agreement = verdict(keys)
            if 0 < len(keys) < self.capacity:  # the other annotators may still disagree
                rule, index = INCOMPLETE, None
            final = {"value": None if index is None else pairs[index]["value"], "rule": rule}
            decided = self.finals[keys] = (final, agreement)
        return {"annotations": pairs, "final": decided[0], "agreement": decided[1],
                "n_annotations": len(pairs)}  # fmt: skip


def _rows(project, item_ids: list[int]) -> list[tuple]:
    """(item id, annotation id, annotator name, value as JSON text, seconds) of the items, in
    one query, ordered by item and annotation id (the order the annotations were made).

    A chunk of curation's export is usually a run of consecutive item ids, so a range scan of
    the item index finds its annotations far faster than an IN list of 10,000 ids. When the
    ids are not consecutive the range also holds other items: the query then keeps to the
    project, and the caller drops items it did not ask for. The rows are sorted here: they
    arrive nearly in order, which Python's sort takes in one pass, while the database would
    sort them from scratch (half the query's time).
    """
    low, high = min(item_ids), max(item_ids)
    annotations = Annotation.objects.filter(item_id__gte=low, item_id__lte=high)
    if high - low + 1 != len(item_ids):
        annotations = annotations.filter(item__project=project)
    rows = fetch_rows(
        annotations.order_by().values_list(
            "item_id", "pk", "annotator__username", Cast("value", TextField()), "seconds_spent"
        )
    )
    rows.sort()
    return rows


def _final(chunk: _Chunk, rows: list[tuple], item_ids: list[int]) -> dict[int, dict]:
    labels: dict[int, tuple] = {item_id: ([], []) for item_id in item_ids}
    pairs, values = chunk.pairs, chunk.values
    for item_id, _, username, text, _ in rows:
        slot = labels.get(item_id)
        if slot is not None:
            slot[0].append(pairs.get((username, text)) or chunk.pair(username, text))
            slot[1].append(values[text][1])
    return {item_id: chunk.final_fields(*slot) for item_id, slot in labels.items()}


def _each(chunk: _Chunk, rows: list[tuple], item_ids: list[int]) -> dict[int, dict]:
    labels: dict[int, list] = {item_id: [] for item_id in item_ids}
    for item_id, _, username, text, seconds in rows:
        entries = labels.get(item_id)
        if entries is not None:
            value = chunk.parse(text)[0]
            entries.append({"annotator": username, "value": value, "seconds_spent": seconds})
    return {item_id: {"annotations": entries} for item_id, entries in labels.items()}


def enrich(project, item_ids: list[int], mode: str) -> dict[int, dict]:
    """Annotation fields for each of `item_ids` (items of `project`, as curation chose them).
    Reads only, in one query. Records share equal parts (a label, a final verdict): they are
    read, never changed."""
    if not item_ids:
        return {}
    rows = _rows(project, item_ids)
    chunk = _Chunk(project.annotators_per_item)
    return (_each if mode == "annotations" else _final)(chunk, rows, item_ids)


enricher = ExportEnricher(name="annotation", enrich=enrich)
