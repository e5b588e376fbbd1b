"""Pages of sample audits and synthetic batches.

Reviewers and leads see the audits, their reports and the batches, and judge samples; leads
draw audits, set a batch's threshold and collect loose synthetic items into a batch. Every
project is reached through `project_for_member` and every audit, sample and batch through its
project (AUTHZ-1). The logic is curation.audits and curation.batches; the API
(curation.audit_api) calls the same functions.
"""

import json
from dataclasses import dataclass, field

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from curation.access import has_role, project_for_member
from curation.audits import (
    CSV_COLUMNS,
    MAX_SIZE,
    SUGGESTED_SIZE,
    Conflict,
    audit_draw,
    audit_report,
    audit_sample_judge,
    label_choices,
    project_audit,
    project_audits,
    sample_csv_rows,
)
from curation.batches import (
    batch_collect_loose,
    batch_threshold_set,
    latest_complete_audit,
    loose_synthetic_items,
    project_batch,
    project_batches,
)
from curation.exporting.writers import csv_bytes
from curation.hashing import item_text
from curation.models import AuditSample, BatchStatus, Project, Role, SampleAudit, Verdict
from curation.proportions import ErrorRate
from curation.views import DOWNLOAD_TYPES, _attachment

# --- presentation -----------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


@dataclass
class RateRow:
    """An error rate as the pages show it."""

    rate: ErrorRate
    name: str = ""

    @property
    def estimate(self) -> str:
        return percent(self.rate.rate)

    @property
    def low(self) -> str:
        interval = self.rate.interval
        return percent(interval[0]) if interval else "–"

    @property
    def high(self) -> str:
        interval = self.rate.interval
        return percent(interval[1]) if interval else "–"

    @property
    def summary(self) -> str:
        if not self.rate.judged:
            return "nothing judged yet"
        return f"{self.estimate} (95% interval {self.low} to {self.high})"


def _json(value) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _row(rate: ErrorRate) -> RateRow:
    return RateRow(rate, rate.label if rate.label else "(no label)")


def _audit_rate(audit) -> RateRow:
    """The list's annotated counts (project_audits) as a rate."""
    return RateRow(ErrorRate(None, audit.sampled, audit.judged, audit.wrong))


# --- forms ------------------------------------------------------------------------------------


class AuditDrawForm(forms.Form):
    source = forms.ChoiceField(label="Audit", help_text="A frozen version, or a held batch.")
    size = forms.IntegerField(
        label="Sample size", min_value=1, max_value=MAX_SIZE, initial=SUGGESTED_SIZE,
        help_text="100 to 500 is usual; capped at the number of labelled items.",
    )  # fmt: skip
    seed = forms.IntegerField(
        label="Seed", required=False, min_value=0, max_value=2**63 - 1,
        help_text="Optional: the same seed draws the same sample again.",
    )  # fmt: skip
    stratified = forms.BooleanField(label="Stratified by label", required=False)

    def __init__(self, project: Project, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        versions = [(f"version:{v.number}", f"Version {v.number} ({v.item_count:,} items)")
                    for v in project.versions.order_by("-number")]  # fmt: skip
        batches = [
            (f"batch:{b.pk}", f"Batch {b.pk}: {b.name} ({b.get_status_display()})")
            for b in project.synthetic_batches.exclude(status=BatchStatus.PASSED)
        ]
        self.fields["source"].choices = [("Versions", versions), ("Synthetic batches", batches)]

    def clean_source(self):
        kind, _, number = self.cleaned_data["source"].partition(":")
        if kind == "version":
            return {"version": self.project.versions.get(number=int(number))}
        return {"batch": self.project.synthetic_batches.get(pk=int(number))}


class ThresholdForm(forms.Form):
    max_error_rate = forms.DecimalField(
        label="Largest error rate that passes (%)", min_value=0, max_value=100,
        decimal_places=2,
    )  # fmt: skip


def _service_errors(form: forms.Form, exc: ValidationError) -> None:
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


# --- audits -----------------------------------------------------------------------------------


def _audits_context(project: Project, form: AuditDrawForm | None = None) -> dict:
    is_lead = has_role(project, Role.LEAD)
    if is_lead and form is None:
        form = AuditDrawForm(project)
    audits = [(audit, _audit_rate(audit)) for audit in project_audits(project=project)[:100]]
    return {"project": project, "is_lead": is_lead, "form": form, "audits": audits}


@require_GET
@login_required
def audits(request, slug):
    """The project's audits with their progress and error rate; a lead's form to draw one."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    return render(request, "curation/audits/list.html", _audits_context(project))


@require_POST
@login_required
def audit_create(request, slug):
    """Draws an audit (lead), then shows its report; the form's errors otherwise."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    form = AuditDrawForm(project, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            audit = audit_draw(project=project, user=request.user, size=data["size"],
                               seed=data["seed"], stratified=data["stratified"],
                               **data["source"])  # fmt: skip
        except ValidationError as exc:
            _service_errors(form, exc)
        else:
            messages.success(request, f"Drew audit {audit.pk}: {audit.size} samples.")
            return redirect("curation:audit", slug=project.slug, audit_id=audit.pk)
    return render(request, "curation/audits/list.html", _audits_context(project, form), status=400)


@require_GET
@login_required
def audit(request, slug, audit_id):
    """An audit's report: overall and per label with Wilson intervals, the incorrect samples."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    found = project_audit(project=project, audit_id=audit_id)
    report = audit_report(found)
    context = {
        "project": project,
        "audit": found,
        "report": report,
        "overall": RateRow(report.overall),
        "rows": [_row(r) for r in report.per_label],
        "incorrect": [(sample, _json(sample.correct_value)) for sample in report.incorrect],
    }
    return render(request, "curation/audits/report.html", context)


@require_GET
@login_required
def audit_csv(request, slug, audit_id):
    """Every sample with its verdict, as CSV (formula-like cells neutralised, EXP-1)."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    found = project_audit(project=project, audit_id=audit_id)
    body = csv_bytes(sample_csv_rows(found), CSV_COLUMNS, header=True)
    response = HttpResponse(body, content_type=DOWNLOAD_TYPES["csv"])
    return _attachment(response, f"{project.slug}-audit-{found.pk}.csv")


# --- judging ----------------------------------------------------------------------------------


@dataclass
class JudgeCard:
    project: Project
    audit: SampleAudit
    sample: AuditSample | None  # None: every sample is judged and none was asked for
    text: str = ""
    item_missing: bool = False
    choices: list = field(default_factory=list)
    previous: int | None = None
    next: int | None = None
    sampled: int = 0
    overall: RateRow | None = None
    notice: str = ""
    errors: list[str] = field(default_factory=list)
    conflict: str = ""
    posted_value: str = ""
    posted_comment: str = ""

    @property
    def audited_value(self) -> str:
        return _json(self.sample.value) if self.sample else ""

    @property
    def correct_json(self) -> str:
        return _json(self.sample.correct_value) if self.sample else ""


def _card(project, audit, position: int | None, **extra) -> JudgeCard:
    """The card for the sample at `position`; None: the first not judged yet (none: done)."""
    samples = audit.samples.order_by("position")
    if position is None:
        sample = samples.filter(verdict=Verdict.PENDING).first()
    else:
        sample = samples.filter(position=position).first() or samples.first()
    report = audit_report(audit)
    card = JudgeCard(project, audit, sample, sampled=report.overall.sampled,
                     overall=RateRow(report.overall), **extra)  # fmt: skip
    if sample is None:
        return card
    data = project.items.filter(pk=sample.item_id).values_list("data", flat=True).first()
    card.item_missing = data is None
    card.text = item_text(data) if data is not None else ""
    card.choices = label_choices(audit)
    card.previous = sample.position - 1 if sample.position > 1 else None
    card.next = sample.position + 1 if sample.position < card.sampled else None
    return card


def _next_position(audit: SampleAudit, after: int) -> int | None:
    """The next sample not judged yet after `after`, wrapping round; None when all are."""
    pending = audit.samples.filter(verdict=Verdict.PENDING).order_by("position")
    later = pending.filter(position__gt=after).values_list("position", flat=True).first()
    return later or pending.values_list("position", flat=True).first()


def _fragment(request) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _render_card(request, card: JudgeCard, status: int = 200):
    template = "curation/audits/judge.html" + ("#judge-card" if _fragment(request) else "")
    # htmx 2 swaps nothing on 4xx: the card carries the error with a 200 (STYLE: htmx pattern).
    response = render(request, template, {"project": card.project, "card": card},
                      status=200 if request.htmx else status)  # fmt: skip
    patch_vary_headers(response, ["HX-Request"])
    return response


def _position(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 9 else None


def _posted_value(request, errors: list[str]):
    raw = request.POST.get("correct_value", "").strip()
    if not raw or request.POST.get("verdict") != Verdict.INCORRECT:
        return None, raw
    try:
        return json.loads(raw), raw
    except (ValueError, RecursionError):
        errors.append("The correct value is not valid JSON.")
        return None, raw


@require_http_methods(["GET", "POST"])
@login_required
def audit_judge(request, slug, audit_id):
    """One sample at a time (reviewer, lead): GET shows `?at=<position>` or the first not
    judged yet; POST records a verdict and brings the next sample not judged yet."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    found = project_audit(project=project, audit_id=audit_id)
    if request.method == "GET":
        return _render_card(request, _card(project, found, _position(request.GET.get("at"))))
    sample = found.samples.filter(position=_position(request.POST.get("position")) or 0).first()
    if sample is None:
        raise BadRequest("No such sample in this audit.")
    errors: list[str] = []
    value, raw = _posted_value(request, errors)
    revision = _position(request.POST.get("revision"))
    comment = request.POST.get("comment", "")
    kept = {"posted_value": raw, "posted_comment": comment}
    if revision is None:
        errors.append("The form is missing the sample's revision; reload the page.")
    if not errors:
        try:
            audit_sample_judge(sample=sample, reviewer=request.user,
                               verdict=request.POST.get("verdict", ""), correct_value=value,
                               comment=comment, revision=revision)  # fmt: skip
        except ValidationError as exc:
            errors = [m for messages_ in exc.message_dict.values() for m in messages_]
        except Conflict as exc:
            card = _card(project, found, sample.position, conflict=str(exc), **kept)
            return _render_card(request, card, status=409)
    if errors:
        card = _card(project, found, sample.position, errors=errors, **kept)
        return _render_card(request, card, status=400)
    following = _next_position(found, sample.position)
    notice = f"Saved: {sample.external_id} marked {request.POST['verdict']}."
    if not _fragment(request):
        messages.success(request, notice)
        url = reverse("curation:audit_judge", kwargs={"slug": slug, "audit_id": found.pk})
        return redirect(f"{url}?at={following}" if following else url)
    return _render_card(request, _card(project, found, following, notice=notice))


# --- synthetic batches ------------------------------------------------------------------------


@dataclass
class BatchRow:
    batch: object
    latest: RateRow | None
    latest_audit: SampleAudit | None
    form: ThresholdForm | None


def _batches_context(project: Project, bound: tuple[int, ThresholdForm] | None = None) -> dict:
    is_lead = has_role(project, Role.LEAD)
    rows = []
    for batch in project_batches(project=project)[:200]:
        result = latest_complete_audit(batch=batch)
        form = None
        if is_lead:
            initial = {"max_error_rate": round(100 * batch.max_error_rate, 2)}
            form = bound[1] if bound and bound[0] == batch.pk else ThresholdForm(initial=initial)
        rows.append(BatchRow(batch, RateRow(result.rate) if result else None,
                             result.audit if result else None, form))  # fmt: skip
    loose = loose_synthetic_items(project=project).count()
    return {"project": project, "is_lead": is_lead, "rows": rows, "loose": loose,
            "suggested_size": SUGGESTED_SIZE}  # fmt: skip


@require_GET
@login_required
def batches(request, slug):
    """The synthetic batches with status, size, threshold and the latest complete audit."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    return render(request, "curation/audits/batches.html", _batches_context(project))


@require_POST
@login_required
def batch_threshold(request, slug, batch_id):
    """Sets a batch's threshold (lead); the batch is decided again from its latest audit."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    batch = project_batch(project=project, batch_id=batch_id)
    form = ThresholdForm(request.POST)
    if form.is_valid():
        rate = float(form.cleaned_data["max_error_rate"]) / 100
        batch = batch_threshold_set(batch=batch, user=request.user, max_error_rate=rate)
        messages.success(request, f"Batch {batch.pk}: passes at {percent(rate)} or less; "
                                  f"{batch.get_status_display().lower()}.")  # fmt: skip
        return redirect("curation:batches", slug=project.slug)
    context = _batches_context(project, bound=(batch.pk, form))
    return render(request, "curation/audits/batches.html", context, status=400)


@require_POST
@login_required
def batch_collect(request, slug):
    """Collects the synthetic items added one by one into a held batch (lead)."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    batch = batch_collect_loose(project=project, user=request.user)
    if batch is None:
        messages.info(request, "No synthetic item is waiting for a batch.")
    else:
        messages.success(request, f"Collected {batch.item_count:,} items into batch {batch.pk}.")
    return redirect("curation:batches", slug=project.slug)
