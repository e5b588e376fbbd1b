"""Pages and their htmx fragments for projects, members and job runs.

Every project is reached through `project_for_member` (404 for outsiders, 403 below the role a
page needs). One URL serves the full page, or one named partial when the request comes from htmx.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseStopPolling,
    trigger_client_event,
)

from curation import selectors, services
from curation.access import can_create_projects, has_role, project_for_member, projects_for
from curation.forms import (
    MemberAddForm,
    MemberRemoveForm,
    MemberRoleForm,
    ProjectEditForm,
    ProjectForm,
    add_service_errors,
)
from curation.jobs import job_run_start
from curation.models import Project, Role, Split

RECENT_JOBS = 10


def _jobs(project: Project) -> list[tuple]:
    """Recent runs with their counts as pairs: a template cannot call `.items()` on a dict
    whose keys include "items", which project_stats counts do."""
    runs = selectors.project_jobs(project=project)[:RECENT_JOBS]
    return [(run, list(run.counts.items())) for run in runs]


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
        "members": selectors.project_members(project=project),
        "jobs": _jobs(project),
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
    project = project_for_member(user=request.user, slug=slug)
    job = selectors.project_jobs(project=project).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job.")
    context = {"project": project, "job": job, "counts": list(job.counts.items())}
    if not request.htmx:
        return render(request, "curation/job_detail.html", context)
    html = render_to_string("curation/job_detail.html#job-status", context, request=request)
    if job.is_active:
        return HttpResponse(html)
    # The job ended: stop the row polling, and let the project's counts refresh themselves.
    return trigger_client_event(HttpResponseStopPolling(html), "job-finished")


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
