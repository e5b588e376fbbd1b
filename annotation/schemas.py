"""Label schemas: what a valid config and a valid annotation value are, per kind (pure: no ORM).

A schema is (kind, config). The checkers return (field, message) pairs, empty when all is well;
the field names the place ("labels[2].hotkey", "spans[1].end", "rating"), or is "" for the
object as a whole. Values, per kind (the API contract):

  single_choice    {"label": "x"}
  multiple_choice  {"labels": ["x", "y"]}: distinct labels; [] means "none apply" (unless "min")
  spans            {"spans": [{"start": 0, "end": 5, "label": "ORG"}]}: Unicode code point offsets
                   into the item's data["text"], end exclusive, in any order; [] means none;
                   no two spans overlap unless the config says "allow_overlap": true
  preference       {"choice": "A" | "B" | "tie", "reason": "..."}: A and B are the item's
                   data["response_a"] and data["response_b"], whatever order they were shown in
  rating           {"rating": 4}: the value of a point of the config's scale

Checks run once per imported row, so they use plain comparisons and sets, never a regex.
"""

from collections import Counter
from collections.abc import Iterable
from typing import NamedTuple

KIND_NAMES = {
    "single_choice": "single choice",
    "multiple_choice": "multiple choice",
    "spans": "spans",
    "preference": "pairwise preference",
    "rating": "rating",
}
SETTINGS = {
    "single_choice": ("labels",),
    "multiple_choice": ("labels", "min", "max"),
    "spans": ("labels", "allow_overlap"),
    "preference": ("allow_tie", "reason"),
    "rating": ("scale",),
}
ENTRY_KEYS = ("value", "text", "hotkey", "color", "description")
# Keys the labeling page keeps for itself: submit, skip, undo, help, clear.
RESERVED_HOTKEYS = frozenset({"Enter", "s", "S", "z", "Z", "g", "G", "?", "Backspace"})
KEPT = ("Enter submits, s skips, z and Backspace go back to the previous item, g shows the "
        "guidelines and ? shows help.")  # fmt: skip
REASON_MODES = ("optional", "required", "off")
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
MAX_LABELS, MAX_POINTS = 200, 101
MAX_VALUE, MAX_TEXT, MAX_DESCRIPTION, MAX_REASON = 100, 100, 500, 2000
MAX_SPANS, MAX_REPORTED = 10_000, 20
SPAN_KEYS = frozenset({"start", "end", "label"})
SHOWN_LABELS = 12  # labels listed in "is not a label" messages before "…"

Problems = list[tuple[str, str]]


class Choice(NamedTuple):
    """One button of the labeling page: a label, a point of a scale, or A / B / tie."""

    value: str | int
    text: str
    hotkey: str
    color: str
    description: str


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_color(x) -> bool:
    return isinstance(x, str) and len(x) == 7 and x[0] == "#" and HEX_DIGITS.issuperset(x[1:])


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _found_keys(value: dict) -> str:
    return ", ".join(sorted(map(str, value))) or "none"


# --- configs ----------------------------------------------------------------------------------


def config_problems(kind: str, config) -> Problems:
    """What is wrong with `config` for a schema of `kind`; [] when it can be saved."""
    if kind not in SETTINGS:
        return [("kind", f"{kind!r} is not a kind of schema (kinds: {', '.join(SETTINGS)}).")]
    if not isinstance(config, dict):
        return [("", "must be a JSON object.")]
    allowed = SETTINGS[kind]
    problems = [
        (str(key), f"is not a setting of a {KIND_NAMES[kind]} schema (settings: "
                   f"{', '.join(allowed)}).")
        for key in config
        if key not in allowed
    ]  # fmt: skip
    return problems + CONFIG_CHECKS[kind](config)


def _entries_problems(config: dict, name: str, least: int) -> Problems:
    """Checks `config[name]`: labels (string values) or scale points (whole-number values)."""
    points = name == "scale"
    noun = "point" if points else "label"
    entries = config.get(name)
    if entries is None:
        return [(name, f"is required: a list of {noun}s.")]
    if not isinstance(entries, list):
        return [(name, f"must be a list of {noun}s.")]
    if not least <= len(entries) <= (MAX_POINTS if points else MAX_LABELS):
        most = MAX_POINTS if points else MAX_LABELS
        return [(name, f"must have between {least} and {most} {noun}s (it has {len(entries)}).")]
    problems: Problems = []
    values: dict = {}
    hotkeys: dict[str, int] = {}
    for i, entry in enumerate(entries):
        at = f"{name}[{i}]"
        if not isinstance(entry, dict):
            problems.append((at, 'must be an object such as {"value": ..., "text": ...}.'))
            continue
        problems += [
            (f"{at}.{key}", f"is not a setting of a {noun} (settings: {', '.join(ENTRY_KEYS)}).")
            for key in entry
            if key not in ENTRY_KEYS
        ]
        problems += _entry_value(entry, at, values, i, points)
        if "hotkey" in entry:
            problems += _hotkey(entry["hotkey"], at, name, hotkeys, i)
        problems += _entry_texts(entry, at)
    if points and not problems:
        ordered = [entry["value"] for entry in entries]
        for i in range(1, len(ordered)):
            if ordered[i] < ordered[i - 1]:
                message = f"must be greater than the point before it ({ordered[i - 1]})."
                problems.append(
                    (f"scale[{i}].value", message + " List the scale from low to high.")
                )
    return problems


def _entry_value(entry: dict, at: str, seen: dict, i: int, points: bool) -> Problems:
    if "value" not in entry:
        return [(f"{at}.value", "is required.")]
    value = entry["value"]
    if points and not _is_int(value):
        return [(f"{at}.value", "must be a whole number.")]
    if not points:
        if not isinstance(value, str) or not value.strip():
            return [(f"{at}.value", "must be a non-empty string.")]
        if len(value) > MAX_VALUE:
            return [(f"{at}.value", f"must be at most {MAX_VALUE} characters long.")]
        if value != value.strip():
            return [(f"{at}.value", "must not start or end with spaces.")]
    if value in seen:
        return [(f"{at}.value", f"repeats the value of {at.split('[')[0]}[{seen[value]}] "
                                f"({value!r}); values must be unique.")]  # fmt: skip
    seen[value] = i
    return []


def _hotkey(key, at: str, name: str, seen: dict[str, int], i: int) -> Problems:
    field = f"{at}.hotkey"
    if isinstance(key, str) and key in RESERVED_HOTKEYS:
        return [(field, f"{key!r} is reserved by the labeling page; choose another key. {KEPT}")]
    if not isinstance(key, str) or len(key) != 1 or key.isspace():
        return [(field, "must be a single character, such as 1 or a.")]
    # "a" and "A" would be one key with Caps Lock on, so they count as the same hotkey.
    folded = key.casefold()
    if folded in seen:
        return [(field, f"{key!r} is already the hotkey of {name}[{seen[folded]}].")]
    seen[folded] = i
    return []


def _entry_texts(entry: dict, at: str) -> Problems:
    problems = []
    text = entry.get("text")
    if "text" in entry and (not isinstance(text, str) or not text.strip()):
        message = "must be a non-empty string (leave it out to show the value)."
        problems.append((f"{at}.text", message))
    elif isinstance(text, str) and len(text) > MAX_TEXT:
        problems.append((f"{at}.text", f"must be at most {MAX_TEXT} characters long."))
    if "color" in entry and not _is_color(entry["color"]):
        problems.append((f"{at}.color", "must be a colour written #rrggbb, such as #2563eb."))
    description = entry.get("description")
    if "description" in entry and not isinstance(description, str):
        problems.append((f"{at}.description", "must be a string."))
    elif isinstance(description, str) and len(description) > MAX_DESCRIPTION:
        problems.append((f"{at}.description", f"must be at most {MAX_DESCRIPTION} characters long "
                         f"(it has {len(description)})."))  # fmt: skip
    return problems


def _bool_setting(config: dict, key: str) -> Problems:
    if key in config and not isinstance(config[key], bool):
        return [(key, "must be true or false.")]
    return []


def _single_choice_config(config: dict) -> Problems:
    return _entries_problems(config, "labels", least=2)


def _multiple_choice_config(config: dict) -> Problems:
    problems = _entries_problems(config, "labels", least=1)
    for key in ("min", "max"):
        if key in config and (not _is_int(config[key]) or config[key] < 0):
            problems.append((key, "must be a whole number, 0 or more."))
    low, high = config.get("min", 0), config.get("max")
    if problems or not isinstance(config.get("labels"), list):
        return problems
    if high is not None and high < max(low, 1):
        problems.append(("max", f"must be at least 1 and at least min ({low})."))
    if low > len(config["labels"]):
        problems.append(("min", f"is more than the number of labels ({len(config['labels'])})."))
    return problems


def _spans_config(config: dict) -> Problems:
    return _entries_problems(config, "labels", least=1) + _bool_setting(config, "allow_overlap")


def _preference_config(config: dict) -> Problems:
    problems = _bool_setting(config, "allow_tie")
    if "reason" in config and config["reason"] not in REASON_MODES:
        problems.append(("reason", f"must be one of {', '.join(map(repr, REASON_MODES))}."))
    return problems


def _rating_config(config: dict) -> Problems:
    return _entries_problems(config, "scale", least=2)


CONFIG_CHECKS = {
    "single_choice": _single_choice_config,
    "multiple_choice": _multiple_choice_config,
    "spans": _spans_config,
    "preference": _preference_config,
    "rating": _rating_config,
}


# --- values -----------------------------------------------------------------------------------


def label_values(config: dict) -> list[str]:
    labels = config.get("labels")
    if not isinstance(labels, list):
        return []
    return [str(label["value"]) for label in labels if isinstance(label, dict) and "value" in label]


def point_values(config: dict) -> list[int]:
    scale = config.get("scale")
    if not isinstance(scale, list):
        return []
    return [p["value"] for p in scale if isinstance(p, dict) and _is_int(p.get("value"))]


def _not_a_label(label, allowed: list[str]) -> str:
    shown = ", ".join(allowed[:SHOWN_LABELS])
    if len(allowed) > SHOWN_LABELS:
        shown += f", … ({len(allowed)} in all)"
    return f"{label!r} is not a label of this project (labels: {shown})."


def _one_key(key: str, value: dict) -> tuple[str, str]:
    found = _found_keys(value)
    return "", f'must be an object with exactly one key, "{key}" (found keys: {found}).'


def _single_choice(config: dict, value: dict, data) -> Problems:
    if set(value) != {"label"}:
        return [_one_key("label", value)]
    allowed = label_values(config)
    label = value["label"]
    if not isinstance(label, str) or label not in allowed:
        return [("label", _not_a_label(label, allowed))]
    return []


def _multiple_choice(config: dict, value: dict, data) -> Problems:
    if set(value) != {"labels"}:
        return [_one_key("labels", value)]
    chosen = value["labels"]
    if not isinstance(chosen, list):
        return [("labels", "must be a list of labels (an empty list when none apply).")]
    allowed = label_values(config)
    known = set(allowed)
    problems: Problems = []
    seen: dict[str, int] = {}
    for i, label in enumerate(chosen):
        if not isinstance(label, str) or label not in known:
            problems.append((f"labels[{i}]", _not_a_label(label, allowed)))
        elif label in seen:
            problems.append((f"labels[{i}]", f"repeats labels[{seen[label]}] ({label!r}); each "
                             "label may be chosen once."))  # fmt: skip
        else:
            seen[label] = i
    low, high = config.get("min", 0), config.get("max")
    if not problems and _is_int(low) and len(chosen) < low:
        problems.append(("labels", f"must hold at least {_plural(low, 'label', 'labels')} "
                         f"(it has {len(chosen)})."))  # fmt: skip
    if not problems and _is_int(high) and len(chosen) > high:
        problems.append(("labels", f"must hold at most {_plural(high, 'label', 'labels')} "
                         f"(it has {len(chosen)})."))  # fmt: skip
    return problems


def _text_length(data) -> tuple[int | None, Problems]:
    """The item's text length in code points; None (no bound checks) when data is None."""
    if data is None:
        return None, []
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str):
        return None, [("spans", 'the item has no "text" to mark spans in.')]
    return len(text), []


def _spans(config: dict, value: dict, data) -> Problems:
    if set(value) != {"spans"}:
        return [_one_key("spans", value)]
    spans = value["spans"]
    if not isinstance(spans, list):
        return [("spans", 'must be a list of {"start", "end", "label"} objects (an empty list '
                          "when the text has none).")]  # fmt: skip
    if len(spans) > MAX_SPANS:
        return [("spans", f"has {len(spans):,} spans; at most {MAX_SPANS:,} are allowed.")]
    length, problems = _text_length(data)
    allowed = label_values(config)
    known = set(allowed)
    good = []
    for i, span in enumerate(spans):
        at = f"spans[{i}]"
        if not isinstance(span, dict) or set(span) != SPAN_KEYS:
            found = _found_keys(span) if isinstance(span, dict) else type(span).__name__
            problems.append((at, 'must be an object with exactly the keys "start", "end" and '
                                 f'"label" (found: {found}).'))  # fmt: skip
            continue
        before = len(problems)
        problems += _span_bounds(span["start"], span["end"], length, at)
        if not isinstance(span["label"], str) or span["label"] not in known:
            problems.append((f"{at}.label", _not_a_label(span["label"], allowed)))
        if len(problems) == before:
            good.append((span["start"], span["end"], span["label"], i))
    problems += _overlaps(good, config.get("allow_overlap") is True)
    if len(problems) > MAX_REPORTED:
        more = _plural(len(problems) - MAX_REPORTED, "more problem", "more problems")
        problems = [*problems[:MAX_REPORTED], ("spans", f"… and {more}.")]
    return problems


def _span_bounds(start, end, length: int | None, at: str) -> Problems:
    problems = []
    if not _is_int(start) or start < 0:
        problems.append((f"{at}.start", "must be a whole number, 0 or more."))
    if not _is_int(end):
        problems.append((f"{at}.end", "must be a whole number."))
    elif _is_int(start) and end <= start:
        problems.append((f"{at}.end", f"must be greater than start ({start}); end is exclusive."))
    elif length is not None and end > length:
        problems.append((f"{at}.end", f"is past the end of the text ({length} characters, "
                                      "counted in Unicode code points)."))  # fmt: skip
    return problems


def _overlaps(spans: list[tuple[int, int, str, int]], allowed: bool) -> Problems:
    """Overlapping spans (when not allowed) or exact repeats (when overlaps are allowed)."""
    problems: Problems = []
    if allowed:
        seen: dict[tuple, int] = {}
        for start, end, label, i in sorted(spans):
            if (start, end, label) in seen:
                problems.append((f"spans[{i}]", f"repeats spans[{seen[start, end, label]}]."))
            seen.setdefault((start, end, label), i)
        return problems
    reach: tuple[int, int] | None = None  # (end, index) of the span reaching furthest so far
    for start, end, _label, i in sorted(spans):
        if reach is not None and start < reach[0]:
            problems.append((f"spans[{i}]", f"overlaps spans[{reach[1]}]; this schema does not "
                             "allow overlapping spans."))  # fmt: skip
        if reach is None or end > reach[0]:
            reach = (end, i)
    return problems


def _preference(config: dict, value: dict, data) -> Problems:
    if "choice" not in value or not set(value) <= {"choice", "reason"}:
        return [("", 'must be an object with the key "choice" and, optionally, "reason" '
                     f"(found keys: {_found_keys(value)}).")]  # fmt: skip
    problems: Problems = []
    choice = value["choice"]
    if config.get("allow_tie", True) is not False:
        if not isinstance(choice, str) or choice not in ("A", "B", "tie"):
            problems.append(("choice", f'must be "A", "B" or "tie" (found {choice!r}).'))
    elif not isinstance(choice, str) or choice not in ("A", "B"):
        problems.append(("choice", f'must be "A" or "B": this project does not allow ties '
                                   f"(found {choice!r})."))  # fmt: skip
    problems += _reason(config.get("reason", "optional"), value.get("reason"))
    if data is not None and not (
        isinstance(data, dict) and "response_a" in data and "response_b" in data
    ):
        problems.append(("", 'the item has no "response_a" and "response_b" to choose between.'))
    return problems


def _reason(mode: str, reason) -> Problems:
    if reason is None:
        reason = ""
    if not isinstance(reason, str):
        return [("reason", "must be a string.")]
    if len(reason) > MAX_REASON:
        return [("reason", f"must be at most {MAX_REASON:,} characters long (it has "
                           f"{len(reason):,}).")]  # fmt: skip
    if mode == "required" and not reason.strip():
        return [("reason", "is required in this project: say why.")]
    if mode == "off" and reason:
        return [("reason", "is not asked for in this project; leave it out.")]
    return []


def _rating(config: dict, value: dict, data) -> Problems:
    if set(value) != {"rating"}:
        return [_one_key("rating", value)]
    points = point_values(config)
    rating = value["rating"]
    if not _is_int(rating) or rating not in points:
        scale = ", ".join(map(str, points))
        return [("rating", f"must be a point of the scale ({scale}); found {rating!r}.")]
    return []


VALIDATORS = {
    "single_choice": _single_choice,
    "multiple_choice": _multiple_choice,
    "spans": _spans,
    "preference": _preference,
    "rating": _rating,
}


def value_problems(kind: str | None, config: dict | None, value, *, data=None) -> Problems:
    """What is wrong with an annotation `value` under the schema; [] when it fits.

    `data` is the item's data: spans are checked against the length of data["text"], and a
    preference needs data["response_a"] and data["response_b"]. With data=None those checks
    are skipped. A project without a schema (kind None) keeps any JSON object as given.
    """
    if not isinstance(value, dict):
        return [("", "must be a JSON object.")]
    if problem := _unstorable(value, ""):
        return [problem]
    if kind is None:
        return []
    return VALIDATORS[kind](config or {}, value, data)


def _unstorable(value, field: str) -> tuple[str, str] | None:
    """The first text in `value` (a key or a string) that cannot be stored: a NUL character,
    which PostgreSQL's JSON refuses, or a lone surrogate, which is not Unicode."""
    if isinstance(value, str):
        if "\x00" in value:
            return (field, "contains a NUL character (\\u0000), which cannot be stored.")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return (field, "contains a lone surrogate (\\ud800-\\udfff), which is not "
                               "valid Unicode.")  # fmt: skip
        return None
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{field}.{key}" if field else str(key)
            if problem := _unstorable(key, here) or _unstorable(inner, here):
                return problem
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            if problem := _unstorable(inner, f"{field}[{index}]"):
                return problem
    return None


# --- starters and buttons ---------------------------------------------------------------------


def default_config(kind: str) -> dict:
    """A starter config for a new schema of `kind` (a fresh dict each call)."""
    if kind == "single_choice":
        return {"labels": [
            {"value": "positive", "text": "Positive", "hotkey": "1", "color": "#1a7f37",
             "description": "The text is clearly favourable."},
            {"value": "neutral", "text": "Neutral", "hotkey": "2", "color": "#6b7280",
             "description": "Neither favourable nor unfavourable, or factual."},
            {"value": "negative", "text": "Negative", "hotkey": "3", "color": "#b42318",
             "description": "The text is clearly unfavourable."},
        ]}  # fmt: skip
    if kind == "multiple_choice":
        return {"labels": [
            {"value": "toxic", "text": "Toxic", "hotkey": "1", "color": "#b42318",
             "description": "Insults, threats or harassment."},
            {"value": "spam", "text": "Spam", "hotkey": "2", "color": "#8a5a00",
             "description": "Advertising or repeated junk."},
            {"value": "off_topic", "text": "Off topic", "hotkey": "3", "color": "#6b7280",
             "description": "Unrelated to the conversation."},
        ], "min": 0}  # fmt: skip
    if kind == "spans":
        return {"labels": [
            {"value": "PER", "text": "Person", "hotkey": "1", "color": "#2563eb",
             "description": "A person's name."},
            {"value": "ORG", "text": "Organisation", "hotkey": "2", "color": "#7c3aed",
             "description": "A company, institution or team."},
            {"value": "LOC", "text": "Location", "hotkey": "3", "color": "#059669",
             "description": "A place: city, country, address."},
        ], "allow_overlap": False}  # fmt: skip
    if kind == "preference":
        return {"allow_tie": True, "reason": "optional"}
    if kind == "rating":
        texts = ["Very poor", "Poor", "Acceptable", "Good", "Excellent"]
        return {"scale": [
            {"value": n, "text": text, "hotkey": str(n)}
            for n, text in enumerate(texts, start=1)
        ]}  # fmt: skip
    raise ValueError(f"{kind!r} is not a kind of schema.")


PREFERENCE_CHOICES = (
    Choice("A", "Response A", "1", "", "Response A (data.response_a) is better."),
    Choice("B", "Response B", "2", "", "Response B (data.response_b) is better."),
    Choice("tie", "Tie", "3", "", "Both responses are equally good, or equally bad."),
)


def label_choices(kind: str, config: dict | None) -> list[Choice]:
    """The buttons of the labeling page in order: labels as listed, scale points in scale order,
    or A, B and (when allowed) tie. Tolerates a config with problems, for the preview: entries
    it cannot read are left out, and a malformed hotkey or colour is shown as none.

    Preference hotkeys are positional: the labeling page gives "1" to the response it shows
    first and "2" to the second, then stores A or B by the order it recorded.
    """
    config = config if isinstance(config, dict) else {}
    if kind == "preference":
        allow_tie = config.get("allow_tie", True) is not False
        return [c for c in PREFERENCE_CHOICES if allow_tie or c.value != "tie"]
    entries = config.get("scale" if kind == "rating" else "labels")
    choices = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or "value" not in entry:
            continue
        value = entry["value"] if _is_int(entry["value"]) else str(entry["value"])
        text, hotkey, description = entry.get("text"), entry.get("hotkey"), entry.get("description")
        choices.append(Choice(
            value=value,
            text=text if isinstance(text, str) and text.strip() else str(value),
            hotkey=hotkey if isinstance(hotkey, str) and len(hotkey) == 1 else "",
            color=entry["color"] if _is_color(entry.get("color")) else "",
            description=description if isinstance(description, str) else "",
        ))  # fmt: skip
    return choices


# --- changing a schema that has annotations ---------------------------------------------------


def orphaned_values(
    kind: str,
    old_config: dict | None,
    new_config: dict,
    used_values: Iterable[dict],
    *,
    old_kind: str | None = None,
) -> list[str]:
    """Messages naming what existing annotations would no longer fit if the schema became
    (kind, new_config); [] when the change is safe.

    `used_values` are the distinct values in use with their counts, as rows
    {"value": value, "n": count} (what `.values("value").annotate(n=Count("pk"))` gives; a row
    without "n" counts once). `old_kind` is the stored kind (default: `kind`); `old_config` is
    None when the project had no schema, and then every value is checked against the new one.
    Only values that fit the old schema count: this change did not orphan the others.
    Changing the kind while any annotation exists is refused outright. `used_values` is read
    once, so it may be a streaming iterator.
    """
    old_kind = kind if old_kind is None else old_kind
    if old_config is not None and old_kind != kind:
        total = sum(row.get("n", 1) for row in used_values)
        if not total:
            return []
        exist = _plural(total, "annotation exists", "annotations exist")
        old_name, new_name = KIND_NAMES.get(old_kind, old_kind), KIND_NAMES.get(kind, kind)
        return [f"the kind cannot change from {old_name} to {new_name} while {exist}: none of "
                "their values would fit"]  # fmt: skip
    lost: Counter = Counter()
    for row in used_values:  # read once, as it streams: one row per distinct value
        value, n = row["value"], row.get("n", 1)
        if old_config is not None and value_problems(old_kind, old_config, value):
            continue
        problems = value_problems(kind, new_config, value)
        if problems:
            for reason in _lost(kind, new_config, value) or {("other", _as_text(problems[0]))}:
                lost[reason] += n
    ranked = sorted(lost.items(), key=lambda pair: (-pair[1], str(pair[0])))
    return [_orphan_message(reason, n) for reason, n in ranked]


def _as_text(problem: tuple[str, str]) -> str:
    field, message = problem
    return f"{field}: {message}" if field else message


def _used_labels(kind: str, value: dict) -> list:
    if kind == "single_choice":
        return [value.get("label")]
    if kind == "multiple_choice":
        return value["labels"] if isinstance(value.get("labels"), list) else []
    spans = value.get("spans")
    return [s.get("label") for s in spans if isinstance(s, dict)] if isinstance(spans, list) else []


def _lost(kind: str, config: dict, value: dict) -> set[tuple]:
    """What in `value` the config no longer takes, as (what, which) pairs; may be empty when
    the value misses the schema in a way these do not name (the caller then quotes a problem)."""
    if kind == "rating":
        rating = value.get("rating")
        if _is_int(rating) and rating not in point_values(config):
            return {("point", rating)}
        return set()
    if kind == "preference":
        lost = set()
        if value.get("choice") == "tie" and config.get("allow_tie", True) is False:
            lost.add(("choice", "tie"))
        reason = value.get("reason") or ""
        mode = config.get("reason", "optional")
        if mode == "required" and isinstance(reason, str) and not reason.strip():
            lost.add(("reason_missing", None))
        if mode == "off" and reason:
            lost.add(("reason_given", None))
        return lost
    known = set(label_values(config))
    used = _used_labels(kind, value)
    lost = {("label", x) for x in used if isinstance(x, str) and x not in known}
    if kind == "multiple_choice" and not lost:
        low, high = config.get("min", 0), config.get("max")
        if _is_int(low) and len(used) < low:
            lost.add(("min", low))
        if _is_int(high) and len(used) > high:
            lost.add(("max", high))
    overlaps_allowed = config.get("allow_overlap") is True
    if kind == "spans" and not overlaps_allowed and _overlaps(_readable_spans(value), False):
        lost.add(("overlap", None))
    return lost


def _readable_spans(value: dict) -> list[tuple[int, int, str, int]]:
    spans = value.get("spans")
    if not isinstance(spans, list):
        return []
    return [
        (s["start"], s["end"], s["label"], i)
        for i, s in enumerate(spans)
        if isinstance(s, dict) and _is_int(s.get("start")) and _is_int(s.get("end"))
        and isinstance(s.get("label"), str)
    ]  # fmt: skip


def _orphan_message(reason: tuple, n: int) -> str:
    what, which = reason
    used = _plural(n, "annotation", "annotations")
    have = _plural(n, "annotation has", "annotations have")
    return {
        "label": lambda: f"label {which!r} is used by {used}",
        "point": lambda: f"point {which} of the scale is used by {used}",
        "choice": lambda: f"choice {which!r} is used by {used}",
        "min": lambda: f"{have} fewer than {_plural(which, 'label', 'labels')}, the new minimum",
        "max": lambda: f"{have} more than {_plural(which, 'label', 'labels')}, the new maximum",
        "overlap": lambda: f"{have} overlapping spans, which the schema would no longer allow",
        "reason_missing": lambda: f"{have} no reason, which the schema would now require",
        "reason_given": lambda: f"{have} a reason, which the schema would no longer take",
        "other": lambda: f"{used} would no longer fit ({which})",
    }[what]()
