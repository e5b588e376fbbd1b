"""Label Studio task JSON → Concord rows (pure). Label Studio exports a JSON array of tasks:
{"id", "data": {...}, "annotations": [{"completed_by", "result": [...], "was_cancelled"}],
"predictions": [{"result": [...], "score"}]}. Results of type choices, labels, rating and
pairwise become Concord values; cancelled annotations are left out. An annotation that would
be kept must name its annotator (`completed_by`), or the task is refused.

Label Studio counts span offsets in UTF-16 code units (JavaScript's string indices), Concord in
code points, as Python does: after an emoji or any other character outside the Basic Multilingual
Plane the two differ, so offsets are converted against the task's `data["text"]`. A span whose
`text` shows its offsets were already code points (written by a script, say) is kept as given.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator

from curation.extensions import Problem
from curation.importing.readers import Record


def _annotator(completed_by) -> str | None:
    """The Concord user name for Label Studio's `completed_by` (a user id, or a user object
    with "email" and "id"); None when it names nobody."""
    if isinstance(completed_by, dict):
        email = completed_by.get("email")
        name = email.split("@")[0] if isinstance(email, str) else ""
        completed_by = completed_by.get("id")
        if name:
            return name
    if completed_by is None or completed_by == "" or isinstance(completed_by, dict | list | bool):
        return None
    return f"ls-user-{completed_by}"


def _dicts(value) -> list[dict]:
    """The objects of a list that should hold objects; anything else counts as empty."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


class _Offsets:
    """UTF-16 offsets of one text -> code-point offsets."""

    def __init__(self, text: str):
        self.text = text
        # ends[i]: the UTF-16 offset where code point i ends (only texts with astral characters).
        self.ends: list[int] | None = None
        if len(text.encode("utf-16-le")) != 2 * len(text):
            ends, at = [], 0
            for char in text:
                at += 2 if ord(char) > 0xFFFF else 1
                ends.append(at)
            self.ends = ends

    def span(self, body: dict) -> tuple:
        start, end = body.get("start"), body.get("end")
        if self.ends is None or not all(type(v) is int and v >= 0 for v in (start, end)):
            return start, end  # nothing to convert, or left for the schema check to refuse
        # A start inside a surrogate pair takes in its character, and so does such an end.
        converted = (bisect_right(self.ends, start), bisect_left(self.ends, end) + 1 if end else 0)
        selected = body.get("text")
        as_given_matches = isinstance(selected, str) and self.text[start:end] == selected
        if as_given_matches and self.text[converted[0] : converted[1]] != selected:
            return start, end  # already code points
        return converted


def _value(results, offsets: _Offsets | None = None) -> dict | None:
    spans, value = [], None
    for result in _dicts(results):
        kind, body = result.get("type"), result.get("value")
        if not isinstance(body, dict):
            continue
        if kind == "choices":
            choices = body.get("choices")
            if isinstance(choices, list) and choices:
                value = {"label": choices[0]} if len(choices) == 1 else {"labels": choices}
        elif kind == "labels":
            labels = body.get("labels")
            start, end = offsets.span(body) if offsets else (body.get("start"), body.get("end"))
            for label in labels if isinstance(labels, list) else []:
                spans.append({"start": start, "end": end, "label": label})
        elif kind == "rating":
            value = {"rating": body.get("rating")}
        elif kind == "pairwise":
            value = {"choice": {"left": "A", "right": "B"}.get(body.get("selected"), "tie")}
    if spans:
        return {"spans": spans}
    return value


def _task_row(task: dict) -> dict | Problem:
    row = {"id": task.get("id"), "data": task.get("data")}
    if isinstance(task.get("meta"), dict):
        row["metadata"] = task["meta"]
    text = task["data"].get("text")
    offsets = _Offsets(text) if isinstance(text, str) else None
    annotations = []
    entries = task.get("annotations")
    for i, annotation in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(annotation, dict) or annotation.get("was_cancelled"):
            continue
        value = _value(annotation.get("result"), offsets)
        if value is None:
            continue
        annotator = _annotator(annotation.get("completed_by"))
        if annotator is None:
            return _nobody(i)
        annotations.append({"annotator": annotator, "value": value})
    if annotations:
        row["annotations"] = annotations
    predictions = _dicts(task.get("predictions"))
    if predictions:
        value = _value(predictions[0].get("result")) or {}
        prediction = {k: v for k, v in value.items() if k == "label"}
        if predictions[0].get("score") is not None:
            prediction["score"] = predictions[0]["score"]
        if prediction:
            row["prediction"] = prediction
    return row


def _nobody(index: int) -> Problem:
    # Guessing a user would merge every such annotation into one annotator.
    field = f"annotations[{index}].completed_by"
    message = (f'field `{field}`: this Label Studio annotation has no "completed_by", and '
               "Concord needs to know who gave each label; export the tasks again with their "
               "annotators, or remove the annotation.")  # fmt: skip
    return Problem(field, "no_annotator", message)


def from_labelstudio(records: Iterable[Record]) -> Iterator[Record]:
    for record in records:
        if record.fields is not None and not isinstance(record.fields.get("data"), dict):
            message = 'is not a Label Studio task: it has no "data" object.'
            yield Record(record.where, record.line, problem=Problem("data", "not_a_task", message))
        elif record.fields is not None:
            row = _task_row(record.fields)
            if isinstance(row, Problem):
                yield Record(record.where, record.line, problem=row)
            else:
                yield Record(record.where, record.line, fields=row)
        else:
            yield record
