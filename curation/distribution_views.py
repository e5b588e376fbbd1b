"""The distribution page: the final labels' distribution, broken down by a metadata field with a
chi-square test of independence, and compared with reference samples a lead uploads (for
example production traffic), each table also as CSV.

Reviewers and leads read; leads upload and delete references. The project is reached through
`project_for_member` and a reference through its project (AUTHZ-1); the query's version, split,
field and table go through allowlists (QRY-1). An upload is measured before it is read and
refused over the limit; it is counted as it streams in and never stored.
"""

import csv

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, ValidationError
from django.core.validators import RegexValidator
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from curation import distribution_charts as charts
from curation.access import has_role, project_for_member
from curation.distribution import RESIDUAL_NOTABLE
from curation.distribution_data import (
    FIELD_PATTERN,
    LABEL,
    Source,
    comparison_summary,
    distribution_reference_create,
    distribution_reference_delete,
    distribution_summary,
    metadata_keys,
    project_reference,
    project_references,
)
from curation.forms import UPLOAD_OVERHEAD_BYTES, ImportSizeLimitHandler, add_service_errors
from curation.forms import human_bytes as _human_bytes
from curation.models import Project, Role, Split
from curation.views import _redirect

TABLES = ("labels", "crosstab", "comparison")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
FIELD_MESSAGE = "Use 1 to 64 letters, digits, dots, dashes or underscores."


# --- upload size ------------------------------------------------------------------------------


def reference_limit() -> int:
    """Bytes a reference sample may have: the import limit, at most 64 MB (it is read while the
    request waits)."""
    return min(settings.IMPORT_MAX_UPLOAD_BYTES, 64 * 1024 * 1024)


def reference_too_big_message() -> str:
    return (
        f"The file is larger than the limit of {_human_bytes(reference_limit())} for a "
        "reference sample. Upload a random sample of it: its shares are what count."
    )


def reference_declared_too_big(request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > reference_limit() + UPLOAD_OVERHEAD_BYTES


class ReferenceSizeLimitHandler(ImportSizeLimitHandler):
    """The import's size-limit handler with the reference sample's (smaller) limit."""

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = reference_limit()


def limit_reference_uploads(request) -> ReferenceSizeLimitHandler:
    handler = ReferenceSizeLimitHandler(request)
    request.upload_handlers = [handler, *request.upload_handlers]
    return handler


# --- forms ------------------------------------------------------------------------------------


class DistributionForm(forms.Form):
    """What the page shows: which data (live or a version, a split), the field to break the
    labels down by, the reference to compare with. Every value is checked against choices."""

    version = forms.TypedChoiceField(label="Data", coerce=int, empty_value=None, required=False)
    split = forms.ChoiceField(
        choices=[("", "All splits"), *Split.choices], required=False, label="Split"
    )
    by = forms.CharField(
        label="Break labels down by",
        max_length=64,
        required=False,
        validators=[RegexValidator(FIELD_PATTERN, FIELD_MESSAGE)],
        help_text="A metadata field, such as language or region.",
        widget=forms.TextInput(attrs={"list": "metadata-keys", "placeholder": "language"}),
    )
    reference = forms.TypedChoiceField(
        label="Reference sample", coerce=int, empty_value=None, required=False
    )

    def __init__(self, data, *, project: Project, references):
        super().__init__(data)
        versions = project.versions.order_by("-number").values_list("number", flat=True)
        self.fields["version"].choices = [("", "The live project")] + [
            (number, f"Version {number}") for number in versions
        ]
        self.fields["reference"].choices = [("", "No reference")] + [
            (ref.pk, f"{ref.name} ({ref.field})") for ref in references
        ]


class ReferenceUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV with a header row, or JSON Lines (.jsonl).")
    name = forms.CharField(
        max_length=200, required=False, help_text="Shown in the list; the file's name if empty."
    )
    field = forms.CharField(
        label="Compare with",
        max_length=64,
        initial=LABEL,
        validators=[RegexValidator(FIELD_PATTERN, FIELD_MESSAGE)],
        help_text="label for the final label, or a metadata field such as language.",
        widget=forms.TextInput(attrs={"list": "metadata-keys"}),
    )
    column = forms.CharField(
        label="Column in the file",
        max_length=200,
        required=False,
        help_text="The file's field holding each category; the same name as above if empty.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = reference_limit()
        self.fields["file"].widget.attrs.update(
            {"data-max-bytes": str(limit), "data-too-big": reference_too_big_message()}
        )


# --- presentation -----------------------------------------------------------------------------


def _tone(residual: float | None) -> str:
    """A cell's highlight class: strong or notable excess or shortfall against independence."""
    if residual is None or abs(residual) < RESIDUAL_NOTABLE:
        return ""
    strength = "strong" if abs(residual) >= 3 else "notable"
    return f"resid-{'pos' if residual > 0 else 'neg'} resid-{strength}"


def _crosstab_view(crosstab: dict) -> dict:
    """Rows of cells (count, row share, adjusted residual, highlight) and the test in words."""
    rows = []
    for i, label in enumerate(crosstab["rows"]):
        total = crosstab["row_totals"][i]
        cells = []
        for j, count in enumerate(crosstab["table"][i]):
            residual = crosstab["residuals"][i][j]
            cells.append(
                {
                    "count": count,
                    "share": _pct(count / total) if total else "",
                    "residual": residual,
                    "tone": _tone(residual),
                    "sign": "" if not _tone(residual) else ("▲" if residual > 0 else "▼"),
                }
            )
        rows.append({"label": label, "cells": cells, "total": total})
    test = crosstab["chi_square"]
    if test["p_value"] is None:
        sentence = f"No chi-square test: {test['reason']}"
    elif test["independent"]:
        sentence = (
            f"No evidence at the 5% level that the labels depend on {crosstab['by']} "
            f"({_p_phrase(test['p_value'])}): the differences in the labels' shares between "
            f"values of {crosstab['by']} are within chance. That is not proof of independence; "
            "a larger sample could still find a difference."
        )
    else:
        sentence = (
            f"The labels depend on {crosstab['by']} at the 5% level "
            f"({_p_phrase(test['p_value'])}): the labels' shares differ between values of "
            f"{crosstab['by']}."
        )
    low = test["low_expected_share"]
    return {
        "rows": rows,
        "sentence": sentence,
        "test": test,
        "p_text": "" if test["p_value"] is None else _p(test["p_value"]),
        "low_pct": _pct(low),
        "col_totals": crosstab["col_totals"],
    }


def _pct(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"


def _comparison_rows(rows: list[dict]) -> list[dict]:
    return [
        row
        | {
            "dataset_pct": _pct(row["dataset_share"]),
            "reference_pct": _pct(row["reference_share"]),
            "difference_pp": f"{row['difference'] * 100:+.1f}",
            "ratio_text": "" if row["ratio"] is None else f"{row['ratio']:.2f}",
            "z_text": "" if row["z"] is None else f"{row['z']:.2f}",
        }
        for row in rows
    ]


def _p_phrase(value: float) -> str:
    return "p < 0.0001" if value < 0.0001 else f"p = {value:.4f}"


def _p(value: float) -> str:
    return "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def _analysis(request, project: Project, form: DistributionForm) -> dict:
    """The page's figures for a valid form."""
    data = form.cleaned_data
    version = None
    if data["version"] is not None:
        version = project.versions.get(number=data["version"])  # a choice: it exists
    source = Source(project, version, data["split"])
    summary = distribution_summary(source, by=data["by"])
    context = {
        "source": source,
        "summary": summary,
        "labels_chart": charts.share_bars(
            [
                {"label": r["label"], "count": r["count"], "share": r["share"]}
                for r in summary["labels"]["rows"]
            ],
            title="Final labels",
        ),  # fmt: skip
        "keys": metadata_keys(source),
        "label_rows": [row | {"pct": _pct(row["share"])} for row in summary["labels"]["rows"]],
    }
    if summary["crosstab"] is not None:
        context["crosstab"] = _crosstab_view(summary["crosstab"])
    if data["reference"] is not None:
        reference = project_reference(project=project, reference_id=data["reference"])
        comparison = comparison_summary(source, reference)
        context["comparison"] = comparison
        context["comparison_rows"] = _comparison_rows(comparison["rows"])
        context["comparison_chart"] = charts.paired_bars(
            [{"label": r["category"], **r} for r in comparison["rows"]],
            title=f"Dataset against {reference.name}",
        )
    return context


def _page_context(request, project: Project, form: DistributionForm, **extra) -> dict:
    references = list(project_references(project=project))
    context = {
        "project": project,
        "is_lead": has_role(project, Role.LEAD),
        "form": form,
        "references": references,
        "upload_form": extra.pop("upload_form", None) or ReferenceUploadForm(),
        "limit": _human_bytes(reference_limit()),
        "query": request.GET.urlencode(),
        **extra,
    }
    if form.is_valid():
        context |= _analysis(request, project, form)
    return context


# --- CSV --------------------------------------------------------------------------------------


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def _csv_rows(table: str, context: dict) -> tuple[list[str], list[list]]:
    summary = context["summary"]
    if table == "labels":
        rows = [[r["label"], r["count"], r["share"]] for r in summary["labels"]["rows"]]
        return ["label", "count", "share"], rows
    if table == "crosstab":
        crosstab = summary["crosstab"]
        field = crosstab["by"] if crosstab else "value"
        header = ["label", field, "count", "row_share", "expected", "adjusted_residual"]
        if crosstab is None:
            return header, []
        rows = []
        for i, label in enumerate(crosstab["rows"]):
            total = crosstab["row_totals"][i]
            for j, value in enumerate(crosstab["cols"]):
                count = crosstab["table"][i][j]
                rows.append([label, value, count, count / total if total else None,
                             crosstab["expected"][i][j], crosstab["residuals"][i][j]])  # fmt: skip
        return header, rows
    header = ["category", "dataset_count", "dataset_share", "reference_count", "reference_share",
              "difference", "ratio", "z", "flag"]  # fmt: skip
    comparison = context.get("comparison")
    if comparison is None:
        return header, []
    return header, [
        [r["category"], r["dataset_count"], r["dataset_share"], r["reference_count"],
         r["reference_share"], r["difference"], r["ratio"], r["z"], r["flag"]]
        for r in comparison["rows"]
    ]  # fmt: skip


def _csv_response(project: Project, table: str, context: dict) -> HttpResponse:
    header, rows = _csv_rows(table, context)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"{project.slug}-distribution-{table}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"  # never rendered (XSS-6)
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(cell) for cell in row])
    return response


# --- views ------------------------------------------------------------------------------------


def _wants_fragment(request) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


@require_GET
@login_required
def distribution(request, slug):
    """The distribution page (reviewers, leads); `format=csv&table=…` downloads one table."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    references = project_references(project=project)
    form = DistributionForm(request.GET, project=project, references=references)
    context = _page_context(request, project, form)
    if request.GET.get("format") == "csv":
        table = request.GET.get("table", "")
        if table not in TABLES:
            raise BadRequest(f"Unknown table: use one of {', '.join(TABLES)}.")
        if not form.is_valid():
            raise BadRequest("The query is not valid: " + "; ".join(
                f"{name}: {' '.join(errs)}" for name, errs in form.errors.items()))  # fmt: skip
        return _csv_response(project, table, context)
    template = "curation/distribution/distribution.html"
    if _wants_fragment(request):
        template += "#results"
    return render(request, template, context, status=200 if form.is_valid() else 400)


@csrf_exempt  # the body is measured before anything reads it; CSRF is checked right after
@require_http_methods(["POST"])
@login_required
def distribution_reference_upload(request, slug):
    """Uploads a reference sample (lead): its counts are stored, the file is not."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    if reference_declared_too_big(request):
        return _upload_failed(request, project, reference_too_big_message(), status=413)
    limit = limit_reference_uploads(request)
    try:
        request.FILES  # noqa: B018 - reads the body here, through the limit
    except MultiPartParserError:
        raise BadRequest("The upload is not valid multipart/form-data.") from None
    if limit.exceeded:
        return _upload_failed(request, project, reference_too_big_message(), status=413)
    return _upload(request, project)


@csrf_protect
def _upload(request, project: Project):
    form = ReferenceUploadForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            reference = distribution_reference_create(
                project=project, user=request.user, upload=data["file"],
                filename=data["file"].name, name=data["name"], field=data["field"],
                column=data["column"],
            )  # fmt: skip
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, f"Added the reference “{reference.name}” ({reference.total:,} rows)."
            )
            url = reverse("curation:distribution", kwargs={"slug": project.slug})
            by = "" if reference.field == LABEL else f"&by={reference.field}"
            return _redirect(request, f"{url}?reference={reference.pk}{by}#comparison")
    return _upload_failed(request, project, None, form=form, status=400)


def _upload_failed(request, project: Project, message, *, form=None, status: int):
    references = project_references(project=project)
    page_form = DistributionForm({}, project=project, references=references)
    context = _page_context(request, project, page_form, upload_form=form, too_big=message)
    return render(request, "curation/distribution/distribution.html", context, status=status)


@require_POST
@login_required
def distribution_reference_delete_view(request, slug, reference_id):
    """Deletes a reference sample (lead)."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    reference = project_reference(project=project, reference_id=reference_id)
    distribution_reference_delete(reference=reference, user=request.user)
    messages.success(request, f"Deleted the reference “{reference.name}”.")
    return _redirect(request, reverse("curation:distribution", kwargs={"slug": project.slug}))
