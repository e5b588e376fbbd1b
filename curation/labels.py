"""Short display names for final label values, for splits, versions, audits and distributions
(pure: no ORM). The value shapes are the label schemas' (annotation/schemas.py): {"label"},
{"labels"}, {"spans"}, {"choice", "reason"} and {"rating"}."""

import json

NO_LABEL = ""
MAX_NAME = 255


def label_name(value) -> str:
    """The label a person would name: "positive", "bug+crash", "A", "4", "ORG+PER";
    "(none)" for an empty multiple choice or no spans; "" when there is no final value."""
    if value is None:
        return NO_LABEL
    name = _name(value)
    return name[:MAX_NAME]


def _name(value) -> str:
    if not isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value.get("label"), str):
        return value["label"]
    if isinstance(value.get("labels"), list):
        return "+".join(sorted(map(str, value["labels"]))) or "(none)"
    if isinstance(value.get("choice"), str):
        return value["choice"]
    if "rating" in value:
        return str(value["rating"])
    if isinstance(value.get("spans"), list):
        kinds = {span.get("label") for span in value["spans"] if isinstance(span, dict)}
        return "+".join(sorted(map(str, kinds))) or "(none)"
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
