"""The wrong-label job: likely wrong final labels (confident learning on out-of-fold
probabilities), annotators far below the team (a robust z-score), and Dawid–Skene estimates of
each annotator's reliability. Registered as a quality job of curation, so the lead starts it like
the others; its suspects go back to the review queue with the model's suggestion.

Reads the project in a few bulk queries; the heavy parts are the pure functions of
`label_noise` and `dawid_skene`. Findings are swapped in at the end in one transaction with the
requeues and the run's completion, so a failed run changes nothing.
"""

from django.db import transaction

from adjudication.agreement import per_annotator
from adjudication.dawid_skene import dawid_skene
from adjudication.label_noise import annotator_outliers, find_label_issues
from adjudication.models import Review, ReviewStatus
from adjudication.services import review_requeue
from annotation.models import Annotation, LabelSchema, SchemaKind
from annotation.schemas import label_values
from curation.jobs import JobFailed, Report, job_kind, job_run_complete
from curation.models import FindingKind, FindingStatus, Item, JobRun
from curation.quality.findings import Draft, findings_replace
from curation.quality.registry import QualityJob, register_quality_job

KIND = "label_noise"
MIN_ITEMS = 20

register_quality_job(
    QualityJob(
        kind=KIND,
        label="Likely wrong labels",
        description=(
            "A baseline model (TF-IDF and logistic regression, or the items' imported "
            "predictions) scores every settled item by cross-validation; confident learning "
            "ranks the final labels that are likely wrong and sends them back for review with "
            "the model's suggestion. Also flags annotators far below the team and estimates "
            "each annotator's reliability with Dawid–Skene."
        ),
        finding_kind=FindingKind.WRONG_LABEL,
        defaults={"folds": 5, "max_suspects": 200, "requeue": True, "z_cutoff": -3.5},
        schema_kinds=(SchemaKind.SINGLE_CHOICE,),
    )
)


def _settled(project) -> dict[int, str]:
    """{item id: final label} of the settled, decided and gold items that are not dropped."""
    found: dict[int, str] = {}
    reviews = Review.objects.filter(
        project=project, status__in=[ReviewStatus.AUTO, ReviewStatus.DECIDED],
        item__dropped_at__isnull=True,
    )  # fmt: skip
    for item_id, value in reviews.values_list("item_id", "value"):
        if isinstance(value, dict) and isinstance(value.get("label"), str):
            found[item_id] = value["label"]
    gold = Item.objects.filter(project=project, gold__isnull=False, dropped_at__isnull=True)
    for item_id, value in gold.values_list("pk", "gold"):
        if isinstance(value, dict) and isinstance(value.get("label"), str):
            found[item_id] = value["label"]
    return found


def _texts(project, ids: list[int]) -> tuple[list[str], list]:
    texts, predictions = {}, {}
    for start in range(0, len(ids), 5000):
        rows = Item.objects.filter(project=project, pk__in=ids[start : start + 5000])
        for pk, data, prediction in rows.values_list("pk", "data", "prediction"):
            text = data.get("text", "") if isinstance(data, dict) else ""
            texts[pk], predictions[pk] = text if isinstance(text, str) else "", prediction
    return [texts[i] for i in ids], [predictions[i] for i in ids]


@job_kind(KIND)
def label_noise_job(run: JobRun, report: Report) -> dict:
    project, params = run.project, run.params
    schema = LabelSchema.objects.filter(project=project).first()
    if schema is None or schema.kind != SchemaKind.SINGLE_CHOICE:
        raise JobFailed("Wrong-label detection works on single-choice projects only.")
    classes = label_values(schema.config)
    final = _settled(project)
    if len(final) < MIN_ITEMS:
        raise JobFailed(f"Wrong-label detection needs at least {MIN_ITEMS} items with a final "
                        f"label; this project has {len(final)}.")  # fmt: skip
    ids = sorted(final)
    texts, predictions = _texts(project, ids)
    report(0.1, {"items": len(ids)})
    labels = [final[i] for i in ids]
    suspects = find_label_issues(texts, labels, classes, folds=params["folds"], seed=0,
                                 predictions=predictions)  # fmt: skip
    report(0.7, {"items": len(ids), "suspects": len(suspects)})
    wrong = [
        Draft(
            key=f"item:{ids[s.index]}",
            item_id=ids[s.index],
            rule="confident_learning",
            message=(
                f"Labeled {s.given!r}, but the model says {s.suggested!r} "
                f"(p = {s.confidence:.2f}; the given label has p = {s.self_confidence:.2f})."
            ),
            score=1.0 - s.self_confidence,
            detail={
                "given": s.given,
                "suggested": s.suggested,
                "confidence": s.confidence,
                "self_confidence": s.self_confidence,
                "rank": s.rank,
            },
        )  # fmt: skip
        for s in suspects
    ]
    people, reliability = _annotators(project, final, params["z_cutoff"])
    report(0.9, {"items": len(ids), "suspects": len(suspects)})
    with transaction.atomic():
        counts = findings_replace(project=project, kind=FindingKind.WRONG_LABEL, drafts=wrong,
                                  job=run)  # fmt: skip
        flagged = findings_replace(project=project, kind=FindingKind.ANNOTATOR, drafts=people,
                                   job=run)  # fmt: skip
        requeued = _requeue(run, wrong[: params["max_suspects"]]) if params["requeue"] else 0
        result = {"items": len(ids), "suspects": len(wrong), "requeued": requeued,
                  "annotators_flagged": len(people), "new": counts["new"],
                  "annotator_findings_new": flagged["new"], **reliability}  # fmt: skip
        job_run_complete(run=run, counts=result,
                         message=f"{len(wrong)} likely wrong labels; {requeued} sent back for "
                                 "review.")  # fmt: skip
    return result


def _requeue(run: JobRun, drafts: list[Draft]) -> int:
    """Sends the suspects back to the review queue, unless a lead already said the label is
    right (the finding is "not a problem") or the item waits already."""
    from curation.models import Finding

    project = run.project
    dismissed = set(Finding.objects.filter(
        project=project, kind=FindingKind.WRONG_LABEL, status=FindingStatus.NOT_A_PROBLEM,
    ).values_list("item_id", flat=True))  # fmt: skip
    waiting = set(Review.objects.filter(project=project, status=ReviewStatus.WAITING)
                  .values_list("item_id", flat=True))  # fmt: skip
    items = {i.pk: i for i in Item.objects.filter(project=project,
                                                  pk__in=[d.item_id for d in drafts])}  # fmt: skip
    sent = 0
    for draft in drafts:
        if draft.item_id in dismissed or draft.item_id in waiting:
            continue
        review_requeue(item=items[draft.item_id], lead=run.created_by,
                       note=f"Likely wrong label: {draft.message}")  # fmt: skip
        sent += 1
    return sent


def _annotators(project, final: dict, cutoff: float) -> tuple[list[Draft], dict]:
    """Findings for annotators far below the team, and the Dawid–Skene summary."""
    rows = Annotation.objects.filter(item__project=project, item__dropped_at__isnull=True)
    records = [(item, who, value["label"]) for item, who, value
               in rows.order_by().values_list("item_id", "annotator__username", "value")
               if isinstance(value, dict) and isinstance(value.get("label"), str)]  # fmt: skip
    if not records:
        return [], {}
    figures = per_annotator(records, gold=final)
    accuracy = {who: f["gold_accuracy"].value for who, f in figures.items()}
    agreement = {who: f["agreement"].value for who, f in figures.items()}
    flagged: dict = {}
    for measure, scores in (("accuracy against the final labels", accuracy),
                            ("agreement with the other annotators", agreement)):  # fmt: skip
        for who, z in annotator_outliers(scores, cutoff=cutoff).items():
            flagged.setdefault(who, []).append((measure, z, scores[who]))
    estimate = dawid_skene(records)
    majority_differs = sum(1 for item, label in estimate.labels.items()
                           if item in final and final[item] != label)  # fmt: skip
    drafts = [
        Draft(
            key=f"annotator:{who}",
            rule="robust_z",
            message=f"{who} is far below the team: "
            + "; ".join(f"{measure} {score:.2f} (robust z {z:.1f})" for measure, z, score in found),
            score=-min(z for _, z, _ in found),
            detail={
                "annotator": who,
                "measures": [{"measure": m, "z": z, "value": v} for m, z, v in found],
                "dawid_skene_confusion": estimate.confusion.get(who),
            },
        )  # fmt: skip
        for who, found in sorted(flagged.items())
    ]
    return drafts, {"dawid_skene_differs_from_final": majority_differs}
