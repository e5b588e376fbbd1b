"""Label Studio task JSON → Concord rows (pure). Label Studio exports a JSON array of tasks:
{"id", "data": {...}, "annotations": [{"completed_by", "result": [...], "was_cancelled"}],
"predictions": [{"result": [...], "score"}]}. Results of type choices, labels, rating and
pairwise become Concord values; cancelled annotations are left out."""

from collections.abc import Iterable, Iterator

from curation.extensions import Problem
from curation.importing.readers import Record


def _annotator(completed_by) -> str:
    if isinstance(completed_by, dict):
        email = completed_by.get("email") or ""
        return email.split("@")[0] or f"ls-user-{completed_by.get('id')}"
    return f"ls-user-{completed_by}"


def _value(results: list) -> dict | None:
    spans, value = [], None
    for result in results or []:
        kind, body = result.get("type"), result.get("value", {})
        if kind == "choices":
            choices = body.get("choices", [])
            value = {"label": choices[0]} if len(choices) == 1 else {"labels": choices}
        elif kind == "labels":
            for label in body.get("labels", []):
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
    for annotation in task.get("annotations") or []:
        if annotation.get("was_cancelled"):
            continue
        value = _value(annotation.get("result"))
        if value is not None:
            annotations.append({"annotator": _annotator(annotation.get("completed_by")),
                                "value": value})  # fmt: skip
    if annotations:
        row["annotations"] = annotations
    predictions = task.get("predictions") or []
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
