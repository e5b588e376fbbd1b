"""Sample audits: a seeded random sample of a version's labels (or of a synthetic batch's
items), judged correct or incorrect by reviewers, gives the error rate with a Wilson interval,
overall and per label (curation.proportions).

A version's audit samples its labelled records only (`label_key` not empty): an item frozen
without a final label has nothing to be right or wrong about. A batch's audit samples the
batch's items that are not dropped, with their current final label, which may be none: the
reviewer then judges the item itself (is it fit to keep?).

Leads draw; reviewers and leads judge. A judgement names the sample's `revision` and is a
conditional UPDATE on it: a stale one changes nothing and raises `Conflict` (HTTP 409). When
the last sample of a batch's audit is judged, the batch is decided (curation.batches).
"""

import json
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from curation.batches import batch_decide
from curation.extensions import enrich_items, label_value_problems
from curation.labels import label_name
from curation.models import (
    AuditEvent,
    AuditKind,
    AuditSample,
    DatasetVersion,
    Project,
    SampleAudit,
    SyntheticBatch,
    Verdict,
)
from curation.proportions import ErrorRate, draw_sample, error_rates

MAX_SIZE = 5000
SUGGESTED_SIZE = 200
MAX_SEED = 2**63 - 1
ENRICH_CHUNK = 2000
MAX_CHOICES = 30  # correct-value buttons offered on the judging page, at most


class Conflict(Exception):
    """The sample changed since the reviewer saw it (HTTP 409)."""


# --- selectors --------------------------------------------------------------------------------


def project_audits(*, project: Project) -> QuerySet:
    """The project's audits, newest first, with `sampled`, `judged` and `wrong` counts."""
    return (
        project.sample_audits.select_related("version", "batch", "created_by")
        .annotate(
            sampled=Count("samples"),
            judged=Count("samples", filter=~Q(samples__verdict=Verdict.PENDING)),
            wrong=Count("samples", filter=Q(samples__verdict=Verdict.INCORRECT)),
        )
        .order_by("-created_at", "-id")
    )


def project_audit(*, project: Project, audit_id: int) -> SampleAudit:
    """Audit `audit_id` of `project`, or 404 (an audit of another project is not found)."""
    audit = project.sample_audits.select_related("version", "batch").filter(pk=audit_id).first()
    if audit is None:
        raise Http404("No such audit.")
    return audit


def audit_sample(*, audit: SampleAudit, sample_id: int) -> AuditSample:
    """Sample `sample_id` of `audit`, or 404."""
    sample = audit.samples.select_related("reviewer").filter(pk=sample_id).first()
    if sample is None:
        raise Http404("No such sample.")
    return sample


@dataclass(frozen=True)
class AuditReport:
    overall: ErrorRate
    per_label: list[ErrorRate]
    incorrect: list[AuditSample]  # with the reviewer's correct value

    @property
    def complete(self) -> bool:
        return self.overall.sampled > 0 and self.overall.remaining == 0


def audit_report(audit: SampleAudit) -> AuditReport:
    """Judged, remaining and incorrect samples with the error rate and its Wilson 95% interval,
    overall and per label (the label as audited), and the incorrect samples."""
    rows = audit.samples.values_list("label", "verdict")
    overall, per_label = error_rates(rows)
    wrong = audit.samples.filter(verdict=Verdict.INCORRECT).select_related("reviewer")
    return AuditReport(overall, per_label, list(wrong.order_by("position")))


def label_choices(audit: SampleAudit) -> list[tuple[str, str]]:
    """(name, value as JSON) of the labels seen in the audited version or batch, offered as
    the correct value when every audited value is single-choice shaped ({"label": ...});
    [] otherwise (the reviewer writes the value as JSON)."""
    if audit.version_id:
        keys = audit.version.records.exclude(label_key="").values_list("label_key", flat=True)
        values = [
            json.loads(key) for key in keys.order_by("label_key").distinct()[: MAX_CHOICES + 1]
        ]
    else:
        seen = audit.samples.exclude(value=None).values_list("value", flat=True)
        values = list({json.dumps(v, sort_keys=True): v for v in seen}.values())
    if not values or len(values) > MAX_CHOICES or not all(_single_choice(v) for v in values):
        return []
    named = sorted({v["label"]: v for v in values}.items())
    return [(name, json.dumps(value, sort_keys=True)) for name, value in named]


def _single_choice(value) -> bool:
    return isinstance(value, dict) and set(value) == {"label"} and isinstance(value["label"], str)


def sample_csv_rows(audit: SampleAudit) -> list[dict]:
    """Every sample with its verdict, as rows for the CSV download."""
    rows = []
    for sample in audit.samples.select_related("reviewer").order_by("position"):
        rows.append({
            "position": sample.position, "item_id": sample.item_id,
            "external_id": sample.external_id, "audited_label": sample.label,
            "audited_value": _json(sample.value), "verdict": sample.verdict,
            "correct_value": _json(sample.correct_value), "comment": sample.comment,
            "reviewer": sample.reviewer.get_username() if sample.reviewer else "",
            "judged_at": sample.judged_at.isoformat() if sample.judged_at else "",
        })  # fmt: skip
    return rows


CSV_COLUMNS = ["position", "item_id", "external_id", "audited_label", "audited_value", "verdict",
               "correct_value", "comment", "reviewer", "judged_at"]  # fmt: skip


def _json(value) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


# --- drawing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    item_id: int
    external_id: str
    label: str
    value: object


def _version_population(version: DatasetVersion) -> list[Candidate]:
    records = version.records.exclude(label_key="").order_by("position")
    rows = records.values_list("item_id", "external_id", "label", "label_key")
    return [Candidate(i, e, label, json.loads(key)) for i, e, label, key in rows]


def _batch_population(project: Project, batch: SyntheticBatch) -> list[Candidate]:
    members = batch.members.filter(item__dropped_at=None).order_by("item_id")
    rows = list(members.values_list("item_id", "item__external_id"))
    population = []
    for start in range(0, len(rows), ENRICH_CHUNK):
        chunk = rows[start : start + ENRICH_CHUNK]
        enriched = enrich_items(project, [item_id for item_id, _ in chunk], "final")
        for item_id, external_id in chunk:
            value = (enriched.get(item_id, {}).get("final") or {}).get("value")
            population.append(Candidate(item_id, external_id, label_name(value), value))
    return population


def audit_draw(*, project: Project, user, version: DatasetVersion | None = None,
               batch: SyntheticBatch | None = None, size: int, seed: int | None = None,
               stratified: bool = False, note: str = "") -> SampleAudit:  # fmt: skip
    """Draws a sample of `size` (capped at the population) from a version's labelled records
    or a batch's items, seeded (a random seed is chosen and kept when none is given, so every
    draw can be repeated), stratified by label if asked (proportional allocation, at least
    one per label when the size allows). One transaction; writes an AuditEvent."""
    if (version is None) == (batch is None):
        raise ValidationError({"source": ["Choose a version or a synthetic batch to audit."]})
    for thing in (version, batch):
        if thing is not None and thing.project_id != project.pk:
            raise ValidationError({"source": ["That is not part of this project."]})
    if not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
        raise ValidationError({"size": [f"Give a size from 1 to {MAX_SIZE:,} (100 to 500 is "
                                         "usual)."]})  # fmt: skip
    if seed is None:
        seed = secrets.randbelow(MAX_SEED)
    elif not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValidationError({"seed": [f"Give a whole number from 0 to {MAX_SEED}."]})
    if version is not None:
        population = _version_population(version)
        if not population:
            raise ValidationError({"version": ["This version has no labelled items to audit."]})
    else:
        population = _batch_population(project, batch)
        if not population:
            raise ValidationError({"batch": ["This batch has no items left to audit."]})
    chosen = draw_sample([c.label for c in population], size, seed, stratified=stratified)
    with transaction.atomic():
        audit = SampleAudit.objects.create(
            project=project, version=version, batch=batch, size=len(chosen), seed=seed,
            stratified=stratified, note=note, created_by=user,
        )  # fmt: skip
        AuditSample.objects.bulk_create(
            [
                AuditSample(
                    audit=audit,
                    position=position,
                    item_id=population[i].item_id,
                    external_id=population[i].external_id,
                    label=population[i].label,
                    value=population[i].value,
                )  # fmt: skip
                for position, i in enumerate(chosen, start=1)
            ],
            batch_size=1000,
        )
        detail = {"audit": audit.pk, "size": audit.size, "seed": seed, "stratified": stratified,
                  "version": version.number if version else None,
                  "batch": batch.pk if batch else None}  # fmt: skip
        AuditEvent.objects.create(
            kind=AuditKind.SAMPLE_AUDIT_CREATED, actor=user, project=project, detail=detail
        )
    return audit


# --- judging ----------------------------------------------------------------------------------


def audit_sample_judge(*, sample: AuditSample, reviewer, verdict: str, correct_value=None,
                       comment: str = "", revision: int) -> AuditSample:  # fmt: skip
    """Records a reviewer's verdict on one sample, if the sample is still at `revision` (else
    Conflict, and nothing changes). For "incorrect" the correct value is optional; when given
    it must fit the project's label schema (ValidationError naming the field). A batch's audit
    whose last sample this was decides the batch. Returns the sample as stored."""
    if verdict not in (Verdict.CORRECT, Verdict.INCORRECT):
        raise ValidationError({"verdict": ["Mark the label correct or incorrect."]})
    if verdict == Verdict.CORRECT:
        correct_value = None
    elif correct_value is not None:
        _check_value(sample, correct_value)
    audit = sample.audit
    with transaction.atomic():
        # One judgement at a time per audit: the last one sees every other and decides.
        SampleAudit.objects.select_for_update().filter(pk=audit.pk).first()
        updated = AuditSample.objects.filter(pk=sample.pk, revision=revision).update(
            verdict=verdict, correct_value=correct_value, comment=comment[:2000],
            reviewer=reviewer, judged_at=timezone.now(), revision=F("revision") + 1,
        )  # fmt: skip
        if not updated:
            current = AuditSample.objects.filter(pk=sample.pk).values_list("revision", flat=True)
            raise Conflict(
                f"This sample changed since you opened it (revision {current.first()}, you "
                f"sent {revision}): nothing was saved. Look at it again."
            )
        if audit.batch_id and not audit.samples.filter(verdict=Verdict.PENDING).exists():
            batch = SyntheticBatch.objects.select_for_update().get(pk=audit.batch_id)
            batch_decide(batch=batch)
    sample.refresh_from_db()
    return sample


def _check_value(sample: AuditSample, value) -> None:
    if value == sample.value:
        raise ValidationError({"correct_value": ["That is the audited value: mark it correct "
                                                 "instead."]})  # fmt: skip
    project = sample.audit.project
    data = project.items.filter(pk=sample.item_id).values_list("data", flat=True).first()
    problems = label_value_problems(project, value, data)
    if problems:
        messages = [f"{field}: {message}" if field else message for field, message in problems]
        raise ValidationError({"correct_value": messages})
