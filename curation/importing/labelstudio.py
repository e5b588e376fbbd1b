"""Label Studio task JSON → Concord rows (pure). Label Studio exports a JSON array of tasks:
{"id", "data": {...}, "annotations": [{"completed_by", "result": [...], "was_cancelled"}],
"predictions": [{"result": [...], "score"}]}. Results of type choices, labels, rating and
pairwise become Concord values; cancelled annotations are left out."""

from collections.abc import Iterable, Iterator

from curation.extensions import Problem
from curation.importing.readers import Record


def _annotator(completed_by) -> str:
    if isinstance(completed_by, dict):
        email = completed_by.get("email")
        name = email.split("@")[0] if isinstance(email, str) else ""
        return name or f"ls-user-{completed_by.get('id')}"
    return f"ls-user-{completed_by}"


def _dicts(value) -> list[dict]:
    """The objects of a list that should hold objects; anything else counts as empty."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _value(results) -> dict | None:
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
            for label in labels if isinstance(labels, list) else []:
                spans.append({"start": body.get("start"), "end": body.get("end"), "label": label})
        elif kind == "rating":
            value = {"rating": body.get("rating")}
        elif kind == "pairwise":
            value = {"choice": {"left": "A", "right": "B"}.get(body.get("selected"), "tie")}
    if spans:
        return {"spans": spans}
    return value


def _task_row(task: dict) -> dict:
    row = {"id": task.get("id"), "data": task.get("data")}
    if isinstance(task.get("meta"), dict):
        row["metadata"] = task["meta"]
    annotations = []
    for annotation in _dicts(task.get("annotations")):
        if annotation.get("was_cancelled"):
            continue
        value = _value(annotation.get("result"))
        if value is not None:
            annotations.append({"annotator": _annotator(annotation.get("completed_by")),
                                "value": value})  # fmt: skip
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


def from_labelstudio(records: Iterable[Record]) -> Iterator[Record]:
    for record in records:
        if record.fields is not None and not isinstance(record.fields.get("data"), dict):
            message = 'is not a Label Studio task: it has no "data" object.'
            yield Record(record.where, record.line, problem=Problem("data", "not_a_task", message))
        elif record.fields is not None:
            yield Record(record.where, record.line, fields=_task_row(record.fields))
        else:
            yield record
