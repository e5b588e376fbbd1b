"""The quality page (run the quality jobs, list what they found, the project's quality settings)
and the page of one finding.

Reviewers read; leads run jobs, change the settings, resolve findings, drop items and move them
between splits.
Every project is reached through `project_for_member` and every finding through its project
(AUTHZ-1); the list's filters go through allowlists (QRY-1). The API (curation.quality_api)
reads findings with the same selectors and acts on them with `finding_act`.
"""

import difflib
import json
import re
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from curation.access import has_role, project_for_member
from curation.forms import QualitySettingsForm
from curation.hashing import item_text
from curation.jobs import job_run_cancel
from curation.models import Finding, FindingKind, FindingStatus, JobRun, Project, Role
from curation.quality.actions import cluster_keep_one, leaked_items_act
from curation.quality.checks import RULES
from curation.quality.findings import finding_resolve
from curation.quality.registry import QUALITY_JOBS, QualityJob, quality_job_start
from curation.quality.settings import quality_settings_for, quality_settings_update
from curation.views import JobReport, _job_context, _job_report, _project_job, _redirect

PER_PAGE = 25
EXCERPT = 160
CLUSTER_SHOWN = 20  # items of a near-duplicate cluster shown side by side
TWINS_SHOWN = 5  # training items shown beside a leaked item
DIFF_WORDS = 2000  # longer texts are shown without word marks (difflib is quadratic)
KIND_FILTERS = {"all": "All kinds", **dict(FindingKind.choices)}
STATUS_FILTERS = {"all": "Any status", **dict(FindingStatus.choices)}
ACTIONS = ("keep", "move", "drop")


# --- selectors --------------------------------------------------------------------------------


def project_findings(*, project: Project, kind: str = "all", status: str = "all") -> QuerySet:
    """The project's findings of `kind` and `status` ("all" for any), worst first. Both values
    come from the allowlists above, never straight from a request."""
    findings = project.findings.select_related("item", "resolved_by")
    if kind != "all":
        findings = findings.filter(kind=kind)
    if status != "all":
        findings = findings.filter(status=status)
    return findings.order_by(F("score").desc(nulls_last=True), "pk")


def finding_counts(*, project: Project) -> dict[str, dict[str, int]]:
    """{kind: {status: n}} for every kind and status, zeros included; one GROUP BY query."""
    counts = {kind: dict.fromkeys(FindingStatus.values, 0) for kind in FindingKind.values}
    rows = project.findings.order_by().values("kind", "status").annotate(n=Count("id"))
    for row in rows:
        counts[row["kind"]][row["status"]] = row["n"]
    return counts


def project_finding(*, project: Project, finding_id: int) -> Finding:
    """Finding `finding_id` of `project`, or 404 (a finding of another project is not found)."""
    finding = (
        project.findings.select_related("item", "resolved_by", "job").filter(pk=finding_id).first()
    )
    if finding is None:
        raise Http404("No such finding.")
    finding.project = project  # the caller's scoped instance, with its role
    return finding


def last_quality_runs(*, project: Project) -> dict[str, JobRun]:
    """The latest run of each quality job kind, in one query."""
    latest = Window(
        RowNumber(), partition_by=F("kind"), order_by=[F("created_at").desc(), F("id").desc()]
    )
    runs = (
        project.job_runs.filter(kind__in=list(QUALITY_JOBS))
        .select_related("created_by")
        .annotate(rank=latest)
        .filter(rank=1)
    )
    return {run.kind: run for run in runs}


# --- services ---------------------------------------------------------------------------------


def finding_act(*, finding: Finding, action: str, keep, user) -> str:
    """Keeps one item of a near-duplicate cluster ("keep"), or moves a leaked item to train or
    drops it ("move", "drop"), and resolves the finding. Returns what was done, in words; a
    ValidationError naming the field on bad input. One transaction (the actions')."""
    if action == "keep":
        try:
            keep = int(keep)
        except (TypeError, ValueError):
            raise ValidationError({"keep": ["Give the id of the item to keep."]}) from None
        cluster_keep_one(finding=finding, keep=keep, user=user)
        return f"Kept item {keep} and dropped the rest of the cluster."
    if action in ("move", "drop"):
        leaked_items_act(finding=finding, action=action, user=user)
        return "Moved the leaked item to train." if action == "move" else "Dropped the leaked item."
    raise ValidationError({"action": [f"Use one of: {', '.join(ACTIONS)}."]})


# --- the parameters form ----------------------------------------------------------------------


class CommaListField(forms.CharField):
    """A list of strings, typed as comma-separated text."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value):
        text = super().to_python(value)
        return [part.strip() for part in text.split(",") if part.strip()]


def _param_field(name: str, default) -> forms.Field:
    label = name.replace("_", " ").capitalize()
    if isinstance(default, bool):
        return forms.BooleanField(label=label, required=False, initial=default)
    if isinstance(default, int):
        return forms.IntegerField(label=label, initial=default)
    if isinstance(default, float):
        return forms.FloatField(label=label, initial=default)
    if isinstance(default, str):
        return forms.CharField(label=label, required=False, initial=default, max_length=500)
    if isinstance(default, list):
        return CommaListField(label=label, required=False, initial=default, max_length=2000,
                              help_text="Separate values with commas.")  # fmt: skip
    return forms.JSONField(label=label, initial=default)


class QualityParamsForm(forms.Form):
    """A quality job's parameters, one field per default, typed like the default. The fields
    carry the job's kind as prefix, so several jobs' forms can share a page."""

    def __init__(self, spec: QualityJob, data=None):
        super().__init__(data, prefix=spec.kind)
        self.spec = spec
        for name, default in spec.defaults.items():
            self.fields[name] = _param_field(name, default)

    def add_service_errors(self, exc: ValidationError) -> None:
        """quality_params' errors ("params.<name>", "kind") on the fields they name."""
        for key, messages_ in exc.message_dict.items():
            name = key.removeprefix("params.")
            self.add_error(name if name in self.fields else None, messages_)


# --- the quality page -------------------------------------------------------------------------


@dataclass
class JobCard:
    spec: QualityJob
    form: QualityParamsForm  # read-only for reviewers
    last: JobReport | None
    applies: bool  # whether the project's label schema is one the job works on

    @property
    def schema_kinds(self) -> str:
        return ", ".join(kind.replace("_", " ") for kind in self.spec.schema_kinds or ())


def _schema_kind(project: Project) -> str | None:
    # The label schema belongs to the annotation app: read through the relation, never imported.
    schema = getattr(project, "label_schema", None)
    return getattr(schema, "kind", None)


def _card(project: Project, spec: QualityJob, form=None, run=None) -> JobCard:
    if form is None:
        form = QualityParamsForm(spec)
        if not has_role(project, Role.LEAD):
            for field in form.fields.values():
                field.disabled = True
    applies = spec.schema_kinds is None or _schema_kind(project) in spec.schema_kinds
    return JobCard(spec, form, _job_report(run) if run is not None else None, applies)


def _cards(project: Project, bound: QualityParamsForm | None = None) -> list[JobCard]:
    """A card per quality job, with its last run; `bound` is the form a lead just sent."""
    runs = last_quality_runs(project=project)
    return [
        _card(project, spec, bound if bound and bound.spec is spec else None, runs.get(spec.kind))
        for spec in QUALITY_JOBS.values()
    ]


def _choice(raw: str | None, allowed: dict, default: str) -> tuple[str, str]:
    """(the value to use, the problem to report) for a filter with an allowlist."""
    if not raw or raw in allowed:
        return raw or default, ""
    return default, f"“{raw[:40]}” is not a filter here: showing {allowed[default].lower()}."


@dataclass
class Row:
    finding: Finding
    excerpt: str


def _excerpt(item) -> str:
    text = " ".join(item_text(item.data).split()) if item is not None else ""
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def _findings_context(request, project: Project) -> dict:
    kind, bad_kind = _choice(request.GET.get("kind"), KIND_FILTERS, "all")
    status, bad_status = _choice(request.GET.get("status"), STATUS_FILTERS, "open")
    findings = project_findings(project=project, kind=kind, status=status)
    page = Paginator(findings, PER_PAGE).get_page(request.GET.get("page"))
    counts = finding_counts(project=project)
    return {
        "project": project,
        "is_lead": has_role(project, Role.LEAD),
        "kind": kind,
        "status": status,
        "kinds": KIND_FILTERS,
        "statuses": STATUS_FILTERS,
        "problem": bad_kind or bad_status,
        "page": page,
        "rows": [Row(finding, _excerpt(finding.item)) for finding in page],
        "counts": [(value, label, counts[value]) for value, label in FindingKind.choices],
        "status_choices": FindingStatus.choices,
        "query": f"kind={kind}&status={status}&",
    }


def _wants_fragment(request) -> bool:
    # htmx restoring history after the back button needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


@require_GET
@login_required
def quality(request, slug):
    """The quality jobs with their last runs, then the findings, filtered and paginated."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    context = _findings_context(request, project)
    if _wants_fragment(request):
        return render(request, "curation/quality.html#findings", context)
    context |= {"cards": _cards(project), **_settings_context(project)}
    return render(
        request, "curation/quality.html", context, status=400 if context["problem"] else 200
    )


@require_POST
@login_required
def quality_run(request, slug):
    """Starts a quality job with the parameters of its card (lead); then its card shows the run
    with its live progress, or the fields' errors."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    spec = QUALITY_JOBS.get(request.POST.get("kind", ""))
    if spec is None:
        raise BadRequest("Unknown quality job.")
    form = QualityParamsForm(spec, request.POST)
    run = None
    if form.is_valid():
        try:
            run = quality_job_start(project=project, kind=spec.kind, user=request.user,
                                    params=form.cleaned_data)  # fmt: skip
        except ValidationError as exc:
            form.add_service_errors(exc)
    if run is not None and not request.htmx:
        messages.success(request, f"Started {spec.label} (job #{run.pk}).")
        return redirect("curation:quality", slug=project.slug)
    if request.htmx:
        if run is not None:
            run.refresh_from_db()  # as it is now: a run in-process may have finished
        else:
            run = last_quality_runs(project=project).get(spec.kind)
        card = _card(project, spec, form, run)
        context = {"project": project, "card": card, "is_lead": True}
        return render(request, "curation/quality.html#job-card", context)
    context = _findings_context(request, project) | {"cards": _cards(project, bound=form)}
    context |= _settings_context(project)
    return render(request, "curation/quality.html", context, status=400)


# --- the quality settings ---------------------------------------------------------------------


def _settings_context(project: Project, form: QualitySettingsForm | None = None,
                      *, saved: bool = False) -> dict:  # fmt: skip
    """The settings section: the form (read-only below lead), each rule's description and a
    note on each job that can run after an import."""
    if form is None:
        disabled = not has_role(project, Role.LEAD)
        form = QualitySettingsForm(initial=quality_settings_for(project), disabled=disabled)
    schema_kind = _schema_kind(project)
    jobs = []
    for option in form["after_import"]:
        spec = QUALITY_JOBS[option.data["value"]]
        if spec.schema_kinds is None or schema_kind in spec.schema_kinds:
            jobs.append((option, "With its default parameters."))
        else:
            kinds = ", ".join(kind.replace("_", " ") for kind in spec.schema_kinds)
            jobs.append((option, f"Only for projects labelled with: {kinds}."))
    rules = [(option, RULES[option.data["value"]].description) for option in form["rules"]]
    return {"settings_form": form, "settings_rules": rules, "settings_jobs": jobs,
            "settings_saved": saved}  # fmt: skip


@require_POST
@login_required
def quality_settings(request, slug):
    """Saves the project's quality settings (lead). htmx gets the settings section back, saved or
    with its fields' errors; a plain post goes back to the page, or shows it with the errors."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    form = QualitySettingsForm(request.POST, initial=quality_settings_for(project))
    saved = False
    if form.is_valid():
        try:
            quality_settings_update(project=project, user=request.user, **form.changes())
            saved = True
        except ValidationError as exc:
            form.add_service_errors(exc)
    if request.htmx:
        settings = _settings_context(project, None if saved else form, saved=saved)
        context = {"project": project, "is_lead": True, **settings}
        return render(request, "curation/quality.html#quality-settings", context)
    if saved:
        messages.success(request, "Saved the quality settings.")
        return redirect(reverse("curation:quality", kwargs={"slug": project.slug}) + "#settings")
    context = _findings_context(request, project) | {"cards": _cards(project)}
    return render(request, "curation/quality.html", context | _settings_context(project, form),
                  status=400)  # fmt: skip


# --- one finding ------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    # Each word keeps the whitespace around it, so the marked text reads as the original.
    return re.findall(r"\s*\S+\s*", text)


def word_diff(reference: str, text: str, *, fold=False) -> list[tuple[str, str]] | None:
    """`text` against `reference`, word by word: [(op, words)] with op "equal", "insert" (only
    in `text`) or "delete" (only in `reference`); `fold` compares case-insensitively. None when
    either is too long to compare."""
    a, b = _words(reference), _words(text)
    if len(a) > DIFF_WORDS or len(b) > DIFF_WORDS:
        return None

    def keys(words):
        return [w.strip().casefold() if fold else w.strip() for w in words]

    matcher = difflib.SequenceMatcher(None, keys(a), keys(b), autojunk=False)
    segments = []
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op in ("delete", "replace"):
            segments.append(("delete", "".join(a[a1:a2])))
        if op in ("insert", "replace"):
            segments.append(("insert", "".join(b[b1:b2])))
        if op == "equal":
            segments.append(("equal", "".join(b[b1:b2])))
    return segments


@dataclass
class Shown:
    """An item as the finding page shows it: its text in marked segments. Each segment's class
    is "" (plain), "ins", "del" or "same" (shared with the other text)."""

    item: object
    segments: list[tuple[str, str]]
    compared: bool = True
    note: str = ""


def _items_of(project: Project, ids: list[int]) -> list:
    found = {item.pk: item for item in project.items.filter(pk__in=ids)}
    return [found[i] for i in ids if i in found]


def _plain(item) -> Shown:
    return Shown(item, [("", item_text(item.data))])


def _differences(reference, item) -> Shown:
    """The item with what it adds to the reference inserted and what it lacks struck out."""
    diff = word_diff(item_text(reference.data), item_text(item.data))
    if diff is None:
        return Shown(item, [("", item_text(item.data))], compared=False)
    classes = {"equal": "", "insert": "ins", "delete": "del"}
    return Shown(item, [(classes[op], words) for op, words in diff])


def _overlap(other, item, note: str = "") -> Shown:
    """The item with the words it shares with `other` marked."""
    diff = word_diff(item_text(other.data), item_text(item.data), fold=True)
    if diff is None:
        return Shown(item, [("", item_text(item.data))], compared=False, note=note)
    marked = [("same" if op == "equal" else "", w) for op, w in diff if op != "delete"]
    return Shown(item, marked, note=note)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, str | int) or value is None:
        return "–" if value is None else str(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 300 else text[:299] + "…"


def _value_text(value) -> str:
    """A label value or detail entry in words: a label's name, a list joined, else JSON."""
    if isinstance(value, dict) and "label" in value:
        value = value["label"]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = ", ".join(_cell(v) for v in value)
        return text if len(text) <= 300 else text[:299] + "…"
    return _cell(value)


@dataclass
class DetailRow:
    """One entry of a finding's detail: as text, or as a small table (a list of records, or a
    matrix of numbers)."""

    name: str
    text: str = ""
    header: list[str] | None = None
    rows: list[list[str]] | None = None


def _detail_row(key: str, value) -> DetailRow:
    name = key.replace("_", " ")
    if isinstance(value, list) and 0 < len(value) <= 50:
        if all(isinstance(v, dict) for v in value):
            header = list(dict.fromkeys(k for v in value for k in v))[:8]
            return DetailRow(name, header=header,
                             rows=[[_cell(v.get(h)) for h in header] for v in value])  # fmt: skip
        if all(isinstance(v, list) for v in value):
            return DetailRow(name, rows=[[_cell(c) for c in v[:20]] for v in value])
    return DetailRow(name, _value_text(value))


def _cluster_context(project: Project, finding: Finding, others: list[int]) -> dict:
    members = _items_of(project, [finding.item_id, *others][:CLUSTER_SHOWN])
    cluster = [_plain(members[0])] + [_differences(members[0], i) for i in members[1:]]
    return {"cluster": cluster if members else [],
            "more": max(0, len(others) + 1 - CLUSTER_SHOWN)}  # fmt: skip


def _leak_context(project: Project, finding: Finding, others: list[int], detail: dict) -> dict:
    exact = set(detail.get("exact") or [])
    shared = {e.get("item"): e.get("shared") for e in detail.get("ngram") or []
              if isinstance(e, dict)}  # fmt: skip

    def note(twin) -> str:
        if twin.pk in exact:
            return "The same text"
        return f"Shares {shared[twin.pk]} n-grams" if shared.get(twin.pk) else ""

    twins = _items_of(project, others[:TWINS_SHOWN])
    coverage = detail.get("coverage", finding.score)
    return {
        "leaked": _overlap(twins[0], finding.item) if twins else _plain(finding.item),
        "twins": [_overlap(finding.item, twin, note(twin)) for twin in twins],
        "more": max(0, len(others) - TWINS_SHOWN),
        "coverage": coverage if isinstance(coverage, int | float) else None,
        "overlap": _value_text(detail["overlap"]) if detail.get("overlap") else "",
    }


def _label_context(finding: Finding, detail: dict) -> dict:
    confidence = detail.get("confidence", finding.score)
    return {
        "given": _value_text(detail.get("given", "")),
        "suggested": _value_text(detail.get("suggested", "")),
        "confidence": confidence if isinstance(confidence, int | float) else None,
    }


# Detail entries a kind's section shows by itself; the others are listed as they are.
SHOWN_DETAIL = {
    FindingKind.LEAKAGE: {"coverage", "overlap", "exact", "ngram", "pair"},
    FindingKind.WRONG_LABEL: {"given", "suggested", "confidence"},
}


def _finding_context(project: Project, finding: Finding) -> dict:
    context = {"project": project, "finding": finding, "is_lead": has_role(project, Role.LEAD)}
    detail = finding.detail if isinstance(finding.detail, dict) else {}
    others = [i for i in finding.items if isinstance(i, int)]
    if finding.kind == FindingKind.NEAR_DUPLICATE:
        context |= _cluster_context(project, finding, others)
    elif finding.kind == FindingKind.LEAKAGE and finding.item is not None:
        context |= _leak_context(project, finding, others, detail)
    elif finding.kind == FindingKind.WRONG_LABEL:
        context |= _label_context(finding, detail)
    if finding.item is not None and finding.kind != FindingKind.NEAR_DUPLICATE:
        context["text"] = item_text(finding.item.data)
    hidden = SHOWN_DETAIL.get(finding.kind, set())
    context["detail"] = [_detail_row(k, v) for k, v in detail.items() if k not in hidden]
    return context


def _finding_page(request, project: Project, finding: Finding, *, error: str = "", status=200):
    context = _finding_context(project, finding) | {"error": error}
    return render(request, "curation/quality_finding.html", context, status=status)


def _finding_url(project: Project, finding: Finding) -> str:
    return reverse("curation:finding", kwargs={"slug": project.slug, "finding_id": finding.pk})


def _first_error(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@require_GET
@login_required
def finding_detail(request, slug, finding_id):
    """One finding: its items (side by side for duplicates and leaks), what was found, and the
    lead's actions and resolution."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    return _finding_page(request, project, project_finding(project=project, finding_id=finding_id))


@require_POST
@login_required
def finding_resolve_view(request, slug, finding_id):
    """Marks a finding fixed, dropped or not a problem, or reopens it (lead), with a note. From
    the list (htmx) the answer is the finding's row; otherwise back to the finding's page."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    finding = project_finding(project=project, finding_id=finding_id)
    error = ""
    try:
        finding_resolve(finding=finding, user=request.user, status=request.POST.get("status", ""),
                        note=request.POST.get("note", "")[:2000])  # fmt: skip
    except ValidationError as exc:
        error = _first_error(exc)
    if request.htmx:
        row = Row(finding, _excerpt(finding.item))
        context = {"project": project, "row": row, "is_lead": True, "row_error": error}
        return render(request, "curation/quality.html#finding-row", context)
    if error:
        return _finding_page(request, project, finding, error=error, status=400)
    messages.success(request, f"Marked the finding {finding.get_status_display().lower()}.")
    return redirect(_finding_url(project, finding))


@require_POST
@login_required
def finding_action_view(request, slug, finding_id):
    """Keep one item of a cluster, or move or drop a leaked item (lead); resolves the finding."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    finding = project_finding(project=project, finding_id=finding_id)
    try:
        done = finding_act(finding=finding, action=request.POST.get("action", ""),
                           keep=request.POST.get("keep"), user=request.user)  # fmt: skip
    except ValidationError as exc:
        return _finding_page(request, project, finding, error=_first_error(exc), status=400)
    messages.success(request, done)
    return _redirect(request, _finding_url(project, finding))


# --- cancelling a job -------------------------------------------------------------------------


@require_POST
@login_required
def job_cancel(request, slug, job_id):
    """Asks a run to stop (lead): a queued run ends at once, a running one between chunks."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    job = _project_job(project, job_id)
    job_run_cancel(run=job)
    job.refresh_from_db()
    if request.htmx:
        return render(request, "curation/job_detail.html#job-report", _job_context(project, job))
    if job.is_active:
        messages.success(request, f"Asked job #{job.pk} to stop; it stops after its current step.")
    return redirect("curation:job_status", slug=project.slug, job_id=job.pk)
