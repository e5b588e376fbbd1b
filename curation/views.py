"""Pages and their htmx fragments for projects, members and job runs.

Every project is reached through `project_for_member` (404 for outsiders, 403 below the role a
page needs). One URL serves the full page, or one named partial when the request comes from htmx.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseStopPolling,
    push_url,
    trigger_client_event,
)

from curation import selectors, services
from curation.access import can_create_projects, has_role, project_for_member, projects_for
from curation.exporting import export_file, export_start, export_stream
from curation.exporting.writers import csv_bytes
from curation.forms import (
    ExportForm,
    ImportForm,
    MemberAddForm,
    MemberRemoveForm,
    MemberRoleForm,
    ProjectEditForm,
    ProjectForm,
    add_service_errors,
    declared_too_big,
    human_bytes,
    import_limit,
    limit_uploads,
    too_big_message,
)
from curation.hashing import item_text
from curation.importing.files import ImportBusy, import_start
from curation.jobs import job_run_live, job_run_start
from curation.models import AuditKind, JobRun, Project, Role, Split
from curation.storage import StorageQuotaExceeded, declared_upload_size, project_quota

RECENT_JOBS = 10


def _template(request, name: str, partial: str) -> str:
    return f"{name}#{partial}" if request.htmx else name


def _redirect(request, url: str):
    """A redirect htmx follows as a full page load, or a plain one."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# --- projects ---------------------------------------------------------------------------------


@require_GET
@login_required
def project_list(request):
    projects = selectors.projects_with_progress(projects_for(user=request.user))
    rows = [
        {
            "project": project,
            "role": Role(project.my_role).label,
            "percent": selectors.progress_percent(project),
        }
        for project in projects
    ]
    context = {"rows": rows, "can_create": can_create_projects(request.user)}
    template = _template(request, "curation/project_list.html", "project-table")
    return render(request, template, context)


def _progress(request, project: Project) -> dict:
    """Counts for the project page: items per split, annotations, members and % complete."""
    counted = selectors.projects_with_progress(
        projects_for(user=request.user).filter(pk=project.pk)
    ).get()
    per_split = selectors.project_split_counts(project=project)
    return {
        "n_items": counted.n_items,
        "n_annotations": counted.n_annotations,
        "n_members": counted.n_members,
        "percent": selectors.progress_percent(counted),
        "splits": [(label, per_split.get(value, 0)) for value, label in Split.choices],
        "duplicates": selectors.item_duplicate_counts(project=project),
    }


@require_GET
@login_required
def project_detail(request, slug):
    project = project_for_member(user=request.user, slug=slug)
    context = {"project": project, "progress": _progress(request, project)}
    if request.htmx:
        return render(request, "curation/project_detail.html#project-counts", context)
    context |= {
        "role": Role(project.my_role).label,
        "is_lead": has_role(project, Role.LEAD),
        "can_export": has_role(project, Role.REVIEWER),
        "members": selectors.project_members(project=project),
        # Job reports quote imported annotations: none for annotators (blindness).
        "jobs": _jobs(project) if has_role(project, Role.REVIEWER) else None,
    }
    return render(request, "curation/project_detail.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def project_create(request):
    if not can_create_projects(request.user):
        raise PermissionDenied("You cannot create projects.")
    form = ProjectForm(request.POST) if request.method == "POST" else ProjectForm()
    if form.is_bound and form.is_valid():
        try:
            project = services.project_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Created {project.name}. You are its lead.")
            return _redirect(request, project.get_absolute_url())
    template = _template(request, "curation/project_form.html", "project-form")
    return render(request, template, {"form": form, "project": None})


@require_http_methods(["GET", "POST"])
@login_required
def project_edit(request, slug):
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    initial = {name: getattr(project, name) for name in ProjectEditForm.base_fields}
    if request.method == "POST":
        form = ProjectEditForm(request.POST, initial=initial)
    else:
        form = ProjectEditForm(initial=initial)
    if form.is_bound and form.is_valid():
        try:
            services.project_update(project=project, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
            # project_update set the refused values on the instance: show the saved ones.
            project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
        else:
            messages.success(request, "Saved the project.")
            return _redirect(request, project.get_absolute_url())
    template = _template(request, "curation/project_form.html", "project-form")
    return render(request, template, {"form": form, "project": project})


# --- job runs ---------------------------------------------------------------------------------

JOB_LABELS = {"import": "Import", "export": "Export", "project_stats": "Project statistics"}
# Import counts in words: (key, singular, plural). Zero counts after the first two are left out.
IMPORT_PHRASES = [
    ("rows", "row read", "rows read"),
    ("items_created", "item created", "items created"),
    ("invalid_rows", "row with problems", "rows with problems"),
    ("duplicates_of_existing", "row repeats the text of an item already in the project",
     "rows repeat the text of items already in the project"),
    ("duplicates_in_file", "row repeats the text of an earlier row in the file",
     "rows repeat the text of earlier rows in the file"),
    ("skipped_duplicates", "duplicate left out", "duplicates left out"),
    ("annotations_created", "annotation created", "annotations created"),
    ("users_created_count", "user account created", "user accounts created"),
]  # fmt: skip
EXPORT_PHRASES = [("items", "item exported", "items exported"),
                  ("records", "record written", "records written")]  # fmt: skip
PHRASES = {"import": IMPORT_PHRASES, "export": EXPORT_PHRASES}


@dataclass
class JobReport:
    """A run as its row and its page show it, with live progress while it runs."""

    run: JobRun
    percent: int
    counts: list[tuple[str, object]]  # pairs: a template cannot call .items() on {"items": …}
    phrases: list[str]
    filename: str

    @property
    def label(self) -> str:
        return JOB_LABELS.get(self.run.kind, self.run.kind.replace("_", " ").capitalize())


def _phrases(kind: str, counts: dict) -> list[str]:
    """Counts in words for imports and exports; other kinds show their counts as they are."""
    phrases = []
    for position, (key, one, many) in enumerate(PHRASES.get(kind, [])):
        value = counts.get(key, 0)
        if isinstance(value, int) and (value or position < 2):
            phrases.append(f"{value:,} {one if value == 1 else many}")
    if kind == "export" and isinstance(counts.get("bytes"), int):
        phrases.append(f"a file of {human_bytes(counts['bytes'])}")
    return phrases


def _job_report(run: JobRun) -> JobReport:
    progress, counts = job_run_live(run)
    shown = [(key, value) for key, value in counts.items() if not isinstance(value, list)]
    return JobReport(
        run=run,
        percent=round(100 * progress),
        counts=shown,
        phrases=_phrases(run.kind, counts),
        filename=str(run.params.get("filename", "")),
    )


def _jobs(project: Project) -> list[JobReport]:
    return [_job_report(run) for run in selectors.project_jobs(project=project)[:RECENT_JOBS]]


def _project_job(project: Project, job_id: int) -> JobRun:
    job = selectors.project_jobs(project=project).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job.")
    return job


def _job_context(project: Project, job: JobRun) -> dict:
    counts = job.counts if not job.is_active else {}
    return {
        "project": project,
        "report": _job_report(job),
        "may_import": job.kind == "import" and has_role(project, Role.LEAD),
        "export_ready": job.kind == "export" and export_file(job) is not None,
        "users_created": counts.get("users_created", []),
        "users_created_count": counts.get("users_created_count", 0),
        "members_added": counts.get("members_added", []),
    }


@require_POST
@login_required
def job_start(request, slug):
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    run = job_run_start(project=project, kind="project_stats", user=request.user)
    if not request.htmx:
        messages.success(request, f"Started job #{run.pk}.")
        return redirect(project)
    context = {
        "project": project,
        "is_lead": True,
        "jobs": _jobs(project),
    }
    return render(request, "curation/project_detail.html#jobs", context)


@require_GET
@login_required
def job_status(request, slug, job_id):
    """The job's page; for htmx its report (polled on the page) or its row (polled in lists).
    Reviewers and leads only: an import's report quotes the file's annotations (blindness)."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    job = _project_job(project, job_id)
    context = _job_context(project, job)
    if not request.htmx:
        return render(request, "curation/job_detail.html", context)
    partial = "job-report" if request.htmx.target == "job-report" else "job-status"
    html = render_to_string(f"curation/job_detail.html#{partial}", context, request=request)
    if job.is_active:
        return HttpResponse(html)
    # The job ended: stop the polling, and let the project's counts refresh themselves.
    return trigger_client_event(HttpResponseStopPolling(html), "job-finished")


def _job_started(request, project: Project, run: JobRun):
    """After starting an import or export: its page, or (htmx) its report in place."""
    address = reverse("curation:job_status", args=[project.slug, run.pk])
    if not request.htmx:
        return redirect(address)
    run.refresh_from_db()  # a job run in-process has finished by now
    response = render(request, "curation/job_detail.html#job-report", _job_context(project, run))
    return push_url(response, address)


ERROR_COLUMNS = ("file", "where", "line", "field", "code", "message")


@require_GET
@login_required
def job_errors(request, slug, job_id):
    """The problems a run kept, as CSV: reviewers and leads, like the report on the job's page."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    job = _project_job(project, job_id)
    # The export's CSV writer: RFC 4180, and formula-like cells neutralised (EXP-1).
    body = csv_bytes(job.errors, list(ERROR_COLUMNS), header=True)
    response = HttpResponse(body, content_type=DOWNLOAD_TYPES["csv"])
    return _attachment(response, f"{project.slug}-{job.pk}-errors.csv")


# --- downloads --------------------------------------------------------------------------------

# Served types come from this list, never from a file's name or contents (XSS-6).
DOWNLOAD_TYPES = {
    "jsonl": "application/x-ndjson; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def _attachment(response, filename: str):
    """Headers for a file the browser must save, never render (XSS-6)."""
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


def export_file_response(run: JobRun, *, user) -> FileResponse:
    """The finished export of `run` as an attachment named `<slug>-<id>.<ext>`; 404 when the run
    is not a finished export or its file has expired. The caller has checked the role; the
    download is audited as `user`'s (LOG-1)."""
    fmt, path = run.params.get("format"), export_file(run)
    if path is None or fmt not in DOWNLOAD_TYPES:
        raise Http404("No file to download.")
    try:
        handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it
    except FileNotFoundError:  # swept since export_file looked
        raise Http404("No file to download.") from None
    response = FileResponse(handle, content_type=DOWNLOAD_TYPES[fmt])
    services.audit(AuditKind.EXPORT_DOWNLOADED, actor=user, project=run.project, job=run.pk,
                   format=fmt)  # fmt: skip
    return _attachment(response, f"{run.project.slug}-{run.pk}.{fmt}")


@require_GET
@login_required
def job_download(request, slug, job_id):
    """A finished export's file: reviewers and leads, who may see every annotator's labels."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    return export_file_response(_project_job(project, job_id), user=request.user)


# --- import and export ------------------------------------------------------------------------


def _import_page(request, project: Project, form: ImportForm, status: int = 200, **extra):
    context = {
        "project": project,
        "form": form,
        "limit": human_bytes(import_limit()),
        "active": selectors.project_active_import(project=project),
        **extra,
    }
    template = _template(request, "curation/import.html", "import-form")
    return render(request, template, context, status=status)


def _too_big(request, project: Project, message: str):
    return _import_page(request, project, ImportForm(), status=413, too_big=message)


def upload_refusal(request, project: Project) -> str | None:
    """Reads an upload page's body through the import limit and the project's storage quota
    (IMP-7). Returns the message of a 413 when it is over either (before the body is read when
    the declared size tells, else once it has streamed in up to the limit), None otherwise."""
    if declared_too_big(request):
        return too_big_message(import_limit())
    quota = project_quota(project=project)
    if quota.refuses(declared_upload_size(request)):
        return quota.message()
    limit = limit_uploads(request)
    quota.cap(limit)
    try:
        request.FILES  # noqa: B018 - reads the body here, through the limits
    except MultiPartParserError:
        raise BadRequest("The upload is not valid multipart/form-data.") from None
    if quota.refuses(limit.received):
        return quota.message()
    if limit.exceeded:
        return too_big_message(import_limit())
    return None


@csrf_exempt  # the body is measured before anything reads it; CSRF is checked right after
@require_http_methods(["GET", "POST"])
@login_required
def import_items(request, slug):
    """Upload a file and start its import job (lead). Uploads over the import limit or the
    project's storage quota get 413 unread, or stopped as they stream in."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    if request.method == "GET":
        return _import_page(request, project, ImportForm())
    if refused := upload_refusal(request, project):
        return _too_big(request, project, refused)
    return _import_submit(request, project)


@csrf_protect
def _import_submit(request, project: Project):
    form = ImportForm(request.POST, request.FILES)
    busy = None
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            run = import_start(
                project=project,
                user=request.user,
                source=upload,
                filename=upload.name,
                options=form.options(),
            )
        except StorageQuotaExceeded as exc:  # another upload of the project got there first
            return _too_big(request, project, exc.reason)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ImportBusy as exc:
            busy = exc.run
        else:
            return _job_started(request, project, run)
    return _import_page(request, project, form, busy=busy)


def _export_stream(project: Project, fmt: str, mode: str, user) -> StreamingHttpResponse:
    services.audit(AuditKind.EXPORT_DOWNLOADED, actor=user, project=project, format=fmt,
                   mode=mode, direct=True)  # fmt: skip
    response = StreamingHttpResponse(
        export_stream(project, fmt, mode), content_type=DOWNLOAD_TYPES[fmt]
    )
    return _attachment(response, f"{project.slug}-{mode}.{fmt}")


@require_http_methods(["GET", "POST"])
@login_required
def export_items(request, slug):
    """Download now (JSONL, CSV) or run an export job: reviewers and leads only, because an
    export carries every annotation with its annotator's name."""
    project = project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    form = ExportForm(request.POST if request.method == "POST" else None)
    busy = None
    if form.is_bound and form.is_valid():
        fmt, mode = form.cleaned_data["format"], form.cleaned_data["mode"]
        if form.cleaned_data["action"] == "download":
            return _export_stream(project, fmt, mode, request.user)
        try:
            run = export_start(project=project, user=request.user, fmt=fmt, mode=mode)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            # One export at a time per project: the one under way may be of another kind.
            if (run.params.get("format"), run.params.get("mode")) == (fmt, mode):
                return _job_started(request, project, run)
            busy = run
    context = {
        "project": project,
        "form": form,
        "busy": busy,
        "retention_hours": settings.EXPORT_RETENTION_HOURS,
    }
    return render(request, _template(request, "curation/export.html", "export-form"), context)


# --- duplicates -------------------------------------------------------------------------------

DUPLICATE_GROUPS_PER_PAGE = 25
IDS_PER_GROUP = 10


@require_GET
@login_required
def duplicates(request, slug):
    """Groups of items with the same text (after normalising), largest first: any member."""
    project = project_for_member(user=request.user, slug=slug)
    all_groups = selectors.item_duplicate_groups(project=project)
    page = Paginator(all_groups, DUPLICATE_GROUPS_PER_PAGE).get_page(request.GET.get("page"))
    groups = list(page.object_list)
    items = selectors.items_by_hash(
        project=project, hashes=[g["content_hash"] for g in groups], per_hash=IDS_PER_GROUP
    )
    rows = []
    for group in groups:
        members = items.get(group["content_hash"], [])
        rows.append(
            {
                "count": group["n"],
                "text": item_text(members[0]["data"]) if members else "",
                "external_ids": [item["external_id"] for item in members],
                "more": group["n"] - len(members),
            }
        )
    template = _template(request, "curation/duplicates.html", "duplicate-groups")
    return render(request, template, {"project": project, "page": page, "groups": rows})


# --- members ----------------------------------------------------------------------------------


def _members_page(request, project: Project, **extra):
    context = {
        "project": project,
        "is_lead": has_role(project, Role.LEAD),
        "members": selectors.project_members(project=project),
        "roles": Role.choices,
        "add_form": MemberAddForm(),
        **extra,
    }
    return render(request, _template(request, "curation/members.html", "members-table"), context)


def _members_changed(request, project: Project, notice: str):
    """After a successful change: the refreshed table for htmx, else a redirect (PRG)."""
    if not request.htmx:
        messages.success(request, notice)
        return redirect("curation:members", slug=project.slug)
    # Fetched again because the lead may just have changed their own role.
    project = project_for_member(user=request.user, slug=project.slug)
    return _members_page(request, project, notice=notice)


def _membership(project: Project, membership_id: int):
    membership = project.memberships.select_related("user").filter(pk=membership_id).first()
    if membership is None:
        raise Http404("No such member.")
    return membership


@require_http_methods(["GET", "POST"])
@login_required
def members(request, slug):
    needed = Role.LEAD if request.method == "POST" else Role.ANNOTATOR
    project = project_for_member(user=request.user, slug=slug, role=needed)
    if request.method == "GET":
        return _members_page(request, project)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            membership = services.membership_add(
                project=project,
                user=form.cleaned_data["username"],
                role=form.cleaned_data["role"],
                actor=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            notice = f"Added {membership.user.username} as {membership.get_role_display()}."
            return _members_changed(request, project, notice)
    return _members_page(request, project, add_form=form)


@require_POST
@login_required
def member_role(request, slug, membership_id):
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    membership = _membership(project, membership_id)
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        try:
            changed = services.membership_change_role(
                membership=membership, role=form.cleaned_data["role"], actor=request.user
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            notice = f"{membership.user.username} is now {changed.get_role_display()}."
            return _members_changed(request, project, notice)
    return _members_page(request, project, failed_id=membership.pk, failed_form=form)


@require_POST
@login_required
def member_remove(request, slug, membership_id):
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    membership = _membership(project, membership_id)
    form = MemberRemoveForm(request.POST)
    try:
        services.membership_remove(membership=membership, actor=request.user)
    except ValidationError as exc:
        form.add_error(None, exc.messages)
        return _members_page(request, project, failed_id=membership.pk, failed_form=form)
    if membership.user_id == request.user.pk:
        messages.success(request, f"You left {project.name}.")
        return _redirect(request, reverse("curation:project_list"))
    return _members_changed(request, project, f"Removed {membership.user.username}.")
