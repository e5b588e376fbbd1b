"""Label schemas: what a valid annotation value is for each kind (pure: no ORM).

A schema is (kind, config). `value_problems(kind, config, value)` returns (field, message) pairs,
empty when the value fits; the field is a key of the value, or "" for the value as a whole.
The labeling issue adds the other kinds; single choice is here now.
"""


def label_values(config: dict) -> list[str]:
    return [str(label["value"]) for label in config.get("labels", []) if "value" in label]


def _single_choice(config: dict, value: dict) -> list[tuple[str, str]]:
    allowed = label_values(config)
    if set(value) != {"label"}:
        found = ", ".join(sorted(map(str, value))) or "none"
        return [("", f'must be an object with exactly one key, "label" (found keys: {found}).')]
    if value["label"] not in allowed:
        return [("label", f"{value['label']!r} is not a label of this project "
                          f"(labels: {', '.join(allowed)}).")]  # fmt: skip
    return []


VALIDATORS = {"single_choice": _single_choice}


def value_problems(kind: str | None, config: dict | None, value) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        return [("", "must be a JSON object.")]
    if kind is None:  # the project has no schema yet: any object is kept as given
        return []
    return VALIDATORS[kind](config or {}, value)
