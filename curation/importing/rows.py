"""Turning a record's fields into an item row, with problems named by field (pure: no ORM)."""

from dataclasses import dataclass, field

import orjson

from curation.extensions import Problem
from curation.hashing import content_hash, text_hash
from curation.importing.readers import has_nul, json_kind

SPLITS = ("unassigned", "train", "dev", "test")
# Fields Concord's own exports derive from labels; importing an export leaves them out.
DERIVED_KEYS = frozenset({"final", "agreement", "n_annotations", "final_label", "final_rule"})
_ABSENT = (None, "")
# Shown with the fields a schema needs when a row has it: the preference page puts data.prompt
# above the two responses.
_SHOWN_WITH_NEEDED = ("prompt",)
_SET_BY_IMPORT = frozenset({"needed", "cells"})


@dataclass
class Mapping:
    """Which field of a row is what. The defaults fit the common case and Concord's exports.

    `needed` and `cells` come from the import, not the user: the fields of `data` the project's
    label schema needs besides the text (a preference's two responses), and whether a string in
    a JSON field is JSON text (CSV and Parquet cells) rather than a value in its own right."""

    text: str = "text"
    data_fields: list[str] = field(default_factory=list)
    id: str = "id"
    metadata_fields: list[str] | None = None  # None: every field not used otherwise
    split: str = "split"
    source: str = "source"
    annotations: str = "annotations"
    prediction: str = "prediction"
    default_source: str = ""
    needed: tuple[str, ...] = ()
    cells: bool = True

    @classmethod
    def from_dict(
        cls, values: dict | None, *, needed: tuple[str, ...] = (), cells: bool = True
    ) -> "Mapping":
        # An empty string means "the default"; an empty list is kept (no metadata fields).
        known = {k: v for k, v in (values or {}).items() if k in cls.__dataclass_fields__
                 and k not in _SET_BY_IMPORT and v is not None and v != ""}  # fmt: skip
        return cls(**known, needed=tuple(needed), cells=cells)

    def used(self) -> frozenset[str]:
        fields = {self.text, self.id, self.split, self.source, self.annotations, self.prediction}
        fields |= set(self.data_fields) | set(self.moved)
        return frozenset(fields | {"data", "metadata"} | DERIVED_KEYS)

    def __post_init__(self):
        # Without chosen data fields, the fields the schema needs (and the prompt shown with
        # them) go from the row into `data`.
        self.moved: tuple[str, ...] = ()
        if self.needed and not self.data_fields:
            shown = [name for name in _SHOWN_WITH_NEEDED if name not in self.needed]
            self.moved = (*self.needed, *shown)
        self.used_fields = self.used()
        # The common shape (text in one field, every other field to metadata) has a fast path.
        self.plain = not self.data_fields and self.metadata_fields is None and not self.needed


@dataclass(slots=True)
class ItemRow:
    where: str | None  # None: "line {line}" (rows built a block at a time)
    line: int | None
    external_id: str
    data: dict
    metadata: dict
    split: str
    source: str
    prediction: dict | None
    content_hash: str
    extras: dict  # extension field -> value (e.g. "annotations")


def _found(fields: dict) -> str:
    names = ", ".join(sorted(map(str, fields))[:12])
    return f"(found fields: {names})" if names else "(the row is empty)"


def _json_cell(value, name: str, problems: list[Problem], cells: bool = True):
    """CSV cells holding JSON (annotations, prediction, metadata) arrive as strings. In the
    JSON formats only a string that opens an object or array is read as JSON; any other is
    returned as it is, for the field's own check to say what it must be."""
    if isinstance(value, str):
        if not value.strip():
            return None
        if not cells and not value.lstrip().startswith(("{", "[")):
            return value
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            problems.append(Problem(name, "invalid_json", f"field `{name}` is not valid JSON."))
            return None
    return value


def _data_object(value):
    """A `data` object, also as the JSON cell Concord's CSV and Parquet exports write."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value


def _data(fields: dict, m: Mapping, problems: list[Problem]) -> dict | None:
    prefix = ""
    if m.data_fields:
        missing = [name for name in m.data_fields if name not in fields]
        if missing:
            message = f"field `{missing[0]}` missing {_found(fields)}."
            problems.append(Problem(missing[0], "missing_field", message))
            return None
        data = {name: fields[name] for name in m.data_fields}
    elif isinstance(whole := _data_object(fields.get("data")), dict):
        data, prefix = whole, "data."
    elif m.moved:
        data = _with_needed(fields, m)
    elif m.text in fields:
        data = {"text": fields[m.text]}
    else:
        message = f"field `{m.text}` missing {_found(fields)}."
        problems.append(Problem(m.text, "missing_text", message))
        return None
    text_key = m.text if m.data_fields else "text"
    if text_key in data:
        if not isinstance(text := data[text_key], str):
            message = f"field `{m.text}` must be text, not {json_kind(text)}."
            problems.append(Problem(m.text, "text_not_string", message))
        elif not text.strip():
            problems.append(Problem(m.text, "text_empty", f"field `{m.text}` is empty."))
    if m.needed:
        _check_needed(data, prefix, m.needed, problems)
    return data


def _with_needed(fields: dict, m: Mapping) -> dict:
    """The data of a row for a schema that needs fields besides the text: the needed fields and
    the prompt. A row's text, when it has no prompt, is the prompt: the page shows it above the
    pair, and the item's duplicate hash then covers the responses too, not the prompt alone.
    The text is not needed, so an empty cell leaves it out."""
    data = {}
    if m.text not in m.moved and fields.get(m.text) not in _ABSENT:
        data["prompt" if fields.get("prompt") is None else "text"] = fields[m.text]
    for name in m.moved:
        if fields.get(name) is not None:
            data[name] = fields[name]
    return data


def _check_needed(data: dict, prefix: str, needed: tuple[str, ...], problems: list[Problem]):
    """A problem for each field the schema needs that `data` lacks or leaves blank."""
    for name in needed:
        value = data.get(name)
        if value is None:
            state, code = "is missing", "missing_field"
        elif isinstance(value, str) and not value.strip():
            state, code = "is empty", "field_empty"
        else:
            continue
        where = prefix + name
        message = (f"field `{where}` {state}: this project's label schema needs {_and(needed)} "
                   "in every item.")  # fmt: skip
        problems.append(Problem(where, code, message))


def _and(names: tuple[str, ...]) -> str:
    quoted = [f'"{name}"' for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def _metadata(fields: dict, m: Mapping, problems: list[Problem]) -> dict:
    metadata = _json_cell(fields.get("metadata"), "metadata", problems, m.cells) or {}
    if not isinstance(metadata, dict):
        kind = "text" if isinstance(metadata, str) else json_kind(metadata)
        message = f'field `metadata` must be an object such as {{"channel": "email"}}, not {kind}.'
        problems.append(Problem("metadata", "not_an_object", message))
        metadata = {}
    if m.metadata_fields is not None:
        extra = {name: fields[name] for name in m.metadata_fields if name in fields}
    else:
        used = m.used_fields
        extra = {name: value for name, value in fields.items() if name not in used}
    return {**metadata, **extra} if extra else metadata


def _split(fields: dict, m: Mapping, problems: list[Problem]) -> str:
    value = fields.get(m.split)
    if value is None or value == "":
        return "unassigned"
    split = str(value).strip().lower()
    if split not in SPLITS:
        message = f"unknown split {value!r} in field `{m.split}`; use one of {', '.join(SPLITS)}."
        problems.append(Problem(m.split, "unknown_split", message))
    return split


def _prediction(fields: dict, m: Mapping, problems: list[Problem]) -> dict | None:
    value = _json_cell(fields.get(m.prediction), m.prediction, problems, m.cells)
    if value is None:
        return None
    if not isinstance(value, dict) or not ({"label", "scores", "score"} & set(value)):
        message = f'field `{m.prediction}` must be an object with "label" and/or "scores".'
        problems.append(Problem(m.prediction, "bad_prediction", message))
        return None
    label, scores, score = value.get("label"), value.get("scores"), value.get("score")
    if label is not None and not isinstance(label, str):
        message = f'field `{m.prediction}`: "label" must be text, not {json_kind(label)}.'
        problems.append(Problem(m.prediction, "bad_prediction", message))
    if scores is not None and not (
        isinstance(scores, dict) and all(_probability(p) for p in scores.values())
    ):
        message = (f'field `{m.prediction}`: "scores" must map each label to a probability '
                   "between 0 and 1.")  # fmt: skip
        problems.append(Problem(m.prediction, "bad_prediction", message))
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        message = f'field `{m.prediction}`: "score" must be a number, not {json_kind(score)}.'
        problems.append(Problem(m.prediction, "bad_prediction", message))
    return value


def _probability(p) -> bool:
    return isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p <= 1


def _plain_row(where: str, line: int | None, fields: dict, m: Mapping, extension_fields):
    """The common row in one pass: a string text, a string or integer id (or none), at most a
    metadata object and a short source besides, and nothing else to check. It gives what the
    general path would; any other row returns None and takes the general path."""
    get = fields.get
    text = get(m.text)
    if type(text) is not str or not text or text.isspace() or "data" in fields:
        return None  # an empty text is refused by the general path
    absent = _ABSENT  # an empty CSV cell means the same as a missing field
    if get(m.split) not in absent or get(m.prediction) not in absent:
        return None
    for name in extension_fields:
        if get(m.annotations if name == "annotations" else name) not in absent:
            return None
    metadata = get("metadata")
    if type(metadata) is not dict:
        if metadata not in absent:
            return None
        metadata = {}
    source = get(m.source) or m.default_source
    if type(source) is not str or len(source) > 32:
        return None
    used = m.used_fields
    if not fields.keys() <= used:  # the set test first: most rows have no other fields
        extra = {name: value for name, value in fields.items() if name not in used}
        metadata = {**metadata, **extra}
    digest = text_hash(text)
    raw_id = get(m.id)
    if raw_id in absent:
        external_id = f"{digest[:16]}-{line if line is not None else where}"
    elif type(raw_id) is str or type(raw_id) is int:
        external_id = raw_id if type(raw_id) is str else str(raw_id)
        if len(external_id) > 255:
            return None
    else:
        return None
    return ItemRow(where, line, external_id, {"text": text}, metadata, "unassigned", source, None,
                   digest, {})  # fmt: skip


def plain_rows(first: int, lines: list, m: Mapping, extension_fields, max_fields: int = 0):
    """The rows of a block of JSON Lines (numbered from `first`) when every line is a plain row
    (`_plain_row`), parsed and built in one loop: the common file, a million rows of it, pays
    for no record per line. None as soon as a line is anything else (blank, over the limit,
    not JSON, not an object, too many fields, a backslash-escaped NUL, or a row the general
    path must check), for the block to be read line by line. Rows carry no `where`: the
    report names them by line."""
    if not m.plain:
        return None
    rows, loads, plain_row = [], orjson.loads, _plain_row
    for number, line in enumerate(lines, first):
        try:
            fields = loads(line)  # a line over the limit is None, which orjson refuses
        except orjson.JSONDecodeError:
            return None
        if (type(fields) is not dict or (max_fields and len(fields) > max_fields)
                or (b"\\" in line and b"\\u0000" in line and has_nul(fields))):  # fmt: skip
            return None
        row = plain_row(None, number, fields, m, extension_fields)
        if row is None:
            return None
        rows.append(row)
    return rows


def build_row(where: str, line: int | None, fields: dict, m: Mapping, extension_fields):
    """An `ItemRow`, or the list of problems that keep this row out."""
    if m.plain and (row := _plain_row(where, line, fields, m, extension_fields)) is not None:
        return row
    problems: list[Problem] = []
    data = _data(fields, m, problems)
    metadata = _metadata(fields, m, problems)
    split = _split(fields, m, problems)
    source = fields.get(m.source) or m.default_source
    if not isinstance(source, str) or len(source) > 32:
        problems.append(Problem(m.source, "bad_source", f"field `{m.source}` must be text of at "
                                "most 32 characters."))  # fmt: skip
    prediction = _prediction(fields, m, problems)
    extras = {}
    for name in extension_fields:
        key = m.annotations if name == "annotations" else name
        value = _json_cell(fields.get(key), key, problems, m.cells)
        if value is not None:
            extras[name] = value
    if problems or data is None:
        return problems
    digest = content_hash(data)
    raw_id = fields.get(m.id)
    if raw_id is None or raw_id == "":
        # Stable across re-imports of the same file, distinct for equal texts on other lines.
        external_id = f"{digest[:16]}-{line if line is not None else where}"
    elif isinstance(raw_id, bool) or not isinstance(raw_id, str | int | float):
        message = f"field `{m.id}` must be text or a number, not {json_kind(raw_id)}."
        return [Problem(m.id, "bad_id", message)]
    else:
        # 7.0 (a float column with gaps, as pandas writes ids) names the same item as 7.
        is_whole = isinstance(raw_id, float) and raw_id.is_integer()
        external_id = str(int(raw_id)) if is_whole else str(raw_id)
        if len(external_id) > 255:
            return [Problem(m.id, "id_too_long", f"field `{m.id}` is longer than 255 characters.")]
    return ItemRow(where, line, external_id, data, metadata, split, source, prediction, digest,
                   extras)  # fmt: skip
