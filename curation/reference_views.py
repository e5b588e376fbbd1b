"""The reference sets page: upload an external evaluation set (a public benchmark), list the
project's sets with their counts and open findings, start a check of a set against the training
data, delete a set.

Reviewers read the page; leads upload, check and delete. The project is reached through
`project_for_member` and a set through its project (AUTHZ-1). An upload is measured before it
is read and refused with 413 over the import limit or the project's storage quota (IMP-7);
its file is stored under a server-made name and read by a job (IMP-8), whose page names each
problem by line and field.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from curation.access import has_role, project_for_member
from curation.forms import (
    add_service_errors,
    human_bytes,
    import_limit,
    too_big_message,
)
from curation.models import ACTIVE_JOB_STATUSES, Project, Role
from curation.quality.reference_leakage import KIND as CHECK_KIND
from curation.quality.registry import QUALITY_JOBS
from curation.references import (
    ReferenceBusy,
    max_texts,
    project_reference_set,
    project_reference_sets,
    reference_open_findings,
    reference_set_delete,
    reference_upload_start,
    reference_uploads,
)
from curation.views import _job_report, _job_started, _redirect, upload_refusal

RECENT_UPLOADS = 5
FORMATS = [
    ("", "Tell from the file name"),
    ("jsonl", "JSON Lines (.jsonl, .ndjson)"),
    ("csv", "CSV with a header row (.csv)"),
    ("json", "JSON array (.json)"),
    ("parquet", "Parquet (.parquet)"),
]


class ReferenceUploadForm(forms.Form):
    file = forms.FileField(help_text="JSON Lines, CSV, a JSON array or Parquet; .gz works too.")
    name = forms.CharField(
        max_length=200, required=False, help_text="Shown in the list; the file's name if empty."
    )
    format = forms.ChoiceField(choices=FORMATS, required=False)
    text_field = forms.CharField(
        max_length=200, required=False, label="Text field",
        widget=forms.TextInput(attrs={"placeholder": "text"}),
        help_text="The field or column holding each text; text when left empty.",
    )  # fmt: skip
    id_field = forms.CharField(
        max_length=200, required=False, label="Id field",
        widget=forms.TextInput(attrs={"placeholder": "id"}),
        help_text="Optional: the field naming each text (a question's id). Without it, a text "
                  "is named by its line.",
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Lets the page refuse an oversized file before sending it (static/js/concord.js).
        limit = import_limit()
        self.fields["file"].widget.attrs.update(
            {"data-max-bytes": str(limit), "data-too-big": too_big_message(limit)}
        )


def _page(request, project: Project, form=None, status: int = 200, **extra):
    """The page, or (htmx) its upload form only."""
    uploads = list(reference_uploads(project=project)[:RECENT_UPLOADS])
    sets = project_reference_sets(project=project)
    open_findings = reference_open_findings(project=project)
    check = QUALITY_JOBS[CHECK_KIND]
    context = {
        "project": project,
        "is_lead": has_role(project, Role.LEAD),
        "form": form or ReferenceUploadForm(),
        "sets": [(found, open_findings.get(found.pk, 0)) for found in sets],
        "uploads": [_job_report(run) for run in uploads],
        "active": next((run for run in uploads if run.status in ACTIVE_JOB_STATUSES), None),
        "limit": human_bytes(import_limit()),
        "max_texts": max_texts(),
        "check": check,
        # The check's other parameters, at their defaults, for each set's "Check" button.
        "check_params": [(k, v) for k, v in check.defaults.items() if k != "reference_set"],
        **extra,
    }
    template = "curation/reference_sets.html"
    if request.htmx and request.method == "POST":
        template += "#reference-upload"
    return render(request, template, context, status=status)


@csrf_exempt  # the body is measured before anything reads it; CSRF is checked right after
@require_http_methods(["GET", "POST"])
@login_required
def reference_sets(request, slug):
    """The project's reference sets (reviewers read) and the upload of a new one (lead). An
    upload over the import limit or the project's storage quota gets 413 unread, or stopped as
    it streams in."""
    if request.method == "GET":
        project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
        return _page(request, project)
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    if refused := upload_refusal(request, project):
        return _page(request, project, status=413, too_big=refused)
    return _upload(request, project)


@csrf_protect
def _upload(request, project: Project):
    form = ReferenceUploadForm(request.POST, request.FILES)
    busy = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            run = reference_upload_start(
                project=project, user=request.user, source=data["file"],
                filename=data["file"].name, name=data["name"], fmt=data["format"],
                text_field=data["text_field"], id_field=data["id_field"],
            )  # fmt: skip
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ReferenceBusy as exc:
            busy = exc.run
        else:
            return _job_started(request, project, run)
    # htmx 2 swaps no 4xx answer: the form with its errors comes back as 200 there.
    return _page(request, project, form, status=200 if request.htmx else 400, busy=busy)


@require_POST
@login_required
def reference_set_delete_view(request, slug, set_id):
    """Deletes a reference set with its texts and the open findings of its checks (lead)."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    reference = project_reference_set(project=project, set_id=set_id)
    reference_set_delete(reference_set=reference)
    messages.success(request, f"Deleted the reference set “{reference.name}”.")
    return _redirect(request, reverse("curation:reference_sets", kwargs={"slug": project.slug}))
