"""Pages of dataset versions: the list with the "Freeze version" form, a version with its card,
the card's edit, the download, and the diff of two versions.

Reviewers and leads read; only leads freeze and edit the card. Every project is reached through
`project_for_member` (404 for outsiders, 403 below the role a page needs).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from curation.access import has_role, project_for_member
from curation.cards import card_body, card_header, ordered_counts, ordered_splits
from curation.forms import add_service_errors
from curation.markdown import render_markdown
from curation.models import AuditKind, DatasetVersion, Project, Role
from curation.services import audit
from curation.versions import (
    KINDS,
    CardConflict,
    card_revision,
    diff_entries,
    project_freeze_run,
    project_version,
    project_versions,
    version_card_update,
    version_diff,
    version_freeze_start,
    version_zip_file,
    version_zip_name,
)
from curation.versions.forms import CardForm, DiffForm, FreezeForm
from curation.views import _attachment, _job_report

DIFF_PAGE = 200  # entries of each kind the diff page shows; the API pages through all


def _freeze_context(project: Project) -> dict:
    run = project_freeze_run(project=project)
    version = None
    if run is not None and run.counts.get("version"):
        version = project.versions.filter(number=run.counts["version"]).first()
    return {"freeze": _job_report(run) if run else None, "frozen": version}


def _versions_page(request, project: Project, form: FreezeForm, status: int = 200):
    context = {
        "project": project,
        "versions": project_versions(project=project),
        "form": form,
        "is_lead": has_role(project, Role.LEAD),
        **_freeze_context(project),
    }
    return render(request, "curation/versions/list.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def versions(request, slug):
    """The project's versions (reviewer, lead); POST freezes a new one (lead), and the page
    follows the job. For htmx polling, just the freeze's status."""
    if request.method == "POST":
        return _freeze(request, slug)
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    if request.htmx and request.htmx.target == "freeze-status":
        context = {"project": project, **_freeze_context(project)}
        html = render_to_string("curation/versions/list.html#freeze-status", context, request)
        run = context["freeze"].run if context["freeze"] else None
        return HttpResponse(html) if run and run.is_active else HttpResponseStopPolling(html)
    return _versions_page(request, project, FreezeForm())


def _freeze(request, slug):
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    form = FreezeForm(request.POST)
    if not form.is_valid():
        return _versions_page(request, project, form, status=400)
    run = version_freeze_start(project=project, user=request.user, note=form.cleaned_data["note"])
    messages.success(request, f"Freezing a new version (job #{run.pk}).")
    return redirect(reverse("curation:versions", args=[project.slug]))


def _card_form(version: DatasetVersion, data=None) -> CardForm:
    sections = version.card_sections or {}
    initial = {**sections, "language": ", ".join(sections.get("language") or []),
               "revision": card_revision(version)}  # fmt: skip
    return CardForm(data, initial=initial)


def _version_page(request, version: DatasetVersion, form: CardForm | None = None, status=200):
    project = version.project
    summary = version.summary or {}
    is_lead = has_role(project, Role.LEAD)
    context = {
        "project": project,
        "version": version,
        "summary": summary,
        "splits": ordered_splits(summary.get("splits", {})),
        "labels": ordered_counts(summary.get("labels", {})),
        "rules": ordered_counts(summary.get("rules", {})),
        "card_header": card_header(version),
        "card_html": render_markdown(card_body(version)),
        "form": (form or _card_form(version)) if is_lead else None,
        "is_lead": is_lead,
        "others": project_versions(project=project)
        .exclude(pk=version.pk)
        .values_list("number", flat=True),
    }
    return render(request, "curation/versions/detail.html", context, status=status)


@require_GET
@login_required
def version_detail(request, slug, number):
    """A version: its summary, splits, labels and card; the card's form for leads."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    return _version_page(request, project_version(project=project, number=number))


@require_POST
@login_required
def version_card(request, slug, number):
    """Saves the card's lead-written sections (lead). A card changed by someone else since the
    form was opened is not overwritten: the page says so (409) and shows the current card."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    version = project_version(project=project, number=number)
    form = CardForm(request.POST)
    if not form.is_valid():
        return _version_page(request, version, form, status=400)
    try:
        version_card_update(version=version, user=request.user, sections=form.sections(),
                            revision=form.cleaned_data["revision"])  # fmt: skip
    except CardConflict:
        messages.error(request, "Someone else saved this card while you were editing it. Here "
                                "is their version; make your changes again.")  # fmt: skip
        version = project_version(project=project, number=number)  # as it is now
        return _version_page(request, version, status=409)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _version_page(request, version, form, status=400)
    messages.success(request, "The dataset card is saved.")
    return redirect(reverse("curation:version_detail", args=[project.slug, version.number]))


def version_zip_response(version: DatasetVersion, *, user) -> FileResponse:
    """The version's export as a zip attachment (built in a temporary file, then streamed); the
    download is audited as `user`'s (LOG-1)."""
    audit(AuditKind.EXPORT_DOWNLOADED, actor=user, project=version.project,
          version=version.number)  # fmt: skip
    response = FileResponse(version_zip_file(version), content_type="application/zip")
    return _attachment(response, version_zip_name(version))


@require_GET
@login_required
def version_download(request, slug, number):
    """The version's export as a zip: README.md and data/<split>.jsonl (reviewer, lead)."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    return version_zip_response(project_version(project=project, number=number),
                                user=request.user)  # fmt: skip


@require_GET
@login_required
def versions_diff(request, slug):
    """What changed from one version to another: counts, the first entries of each kind and
    the label distribution (reviewer, lead)."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    numbers = list(project_versions(project=project).values_list("number", flat=True))
    form = DiffForm(request.GET or None, numbers=numbers)
    context = {"project": project, "form": form, "diff": None, "limit": DIFF_PAGE}
    if form.is_valid():
        old = project_version(project=project, number=form.cleaned_data["from"])
        new = project_version(project=project, number=form.cleaned_data["to"])
        diff = version_diff(old=old, new=new)
        context["diff"] = diff
        context["sections"] = [
            (kind, diff.counts[kind], diff_entries(old, new, kind, limit=DIFF_PAGE))
            for kind in KINDS
        ]
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, "curation/versions/diff.html", context, status=status)
