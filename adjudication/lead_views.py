"""The lead's pages of the review: guideline issues (reviewers read them, leads resolve them),
gold items (made by hand, promoted from a final label, removed) and the review settings.

Every view reaches its project through `project_for_member` (the lead role, or the reviewer role
for reading guideline issues: 404 for outsiders, 403 below the role) and items through the
project. Lists are the queue's pattern: one URL, the full page or with htmx its named fragment.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from adjudication import selectors
from adjudication.forms import GoldForm, ReviewSettingsForm, value_errors
from adjudication.review_desk import schema_for
from adjudication.review_views import (
    PER_PAGE,
    Row,
    allowed_choice,
    excerpt,
    item_or_404,
    lead_project,
    reviewer_project,
    wants_fragment,
)
from adjudication.services import (
    SETTLING_FIELDS,
    gold_promote,
    guideline_issue_resolve,
    policy_for,
    policy_update,
)
from annotation.gold import gold_clear, gold_set
from annotation.labeling_views import value_summary
from annotation.services import Conflict
from curation.access import has_role
from curation.forms import add_service_errors
from curation.models import Project, Role

ISSUE_VIEWS = {"open": "Open", "resolved": "Resolved"}


# --- guideline issues ------------------------------------------------------------------------


@require_GET
@login_required
def guideline_issues(request, slug):
    """Decisions whose reviewer found the guidelines unclear; leads mark them resolved."""
    project = reviewer_project(request, slug)
    view, problem = allowed_choice(request.GET.get("show"), ISSUE_VIEWS, "open")
    issues = selectors.guideline_issues(project=project, resolved=view == "resolved")
    page = Paginator(issues, PER_PAGE).get_page(request.GET.get("page"))
    schema = schema_for(project)
    rows = [
        Row(r, excerpt(r.item), summary=value_summary(schema, r.value, r.item.text)) for r in page
    ]
    context = {
        "project": project,
        "page": page,
        "rows": rows,
        "show": view,
        "views": ISSUE_VIEWS,
        "problem": problem,
        "is_lead": has_role(project, Role.LEAD),
    }
    template = "adjudication/guideline_issues.html"
    if wants_fragment(request):
        template += "#guideline-issues"
    return render(request, template, context, status=400 if problem and not request.htmx else 200)


@require_POST
@login_required
def guideline_issue_resolve_view(request, slug, item_id):
    project = lead_project(request, slug)
    review = selectors.review_for(project=project, item_id=item_id)
    if review is None:
        raise Http404("This item is not in review.")
    guideline_issue_resolve(review=review)
    messages.success(request, f"Marked the guideline issue of {review.item.external_id} resolved.")
    return redirect(reverse("adjudication:guideline_issues", kwargs={"slug": project.slug}))


# --- gold items ----------------------------------------------------------------------------


def _gold_url(project: Project) -> str:
    return reverse("adjudication:gold", kwargs={"slug": project.slug})


def _gold_page(request, project: Project, form: GoldForm, *, error: str = "", status=200):
    gold = project.items.filter(gold__isnull=False).order_by("external_id", "pk")
    page = Paginator(gold, PER_PAGE).get_page(request.GET.get("page"))
    schema = schema_for(project)
    rows = [(item, excerpt(item), value_summary(schema, item.gold, item.text)) for item in page]
    context = {"project": project, "form": form, "page": page, "rows": rows, "error": error}
    template = "adjudication/gold.html"
    if wants_fragment(request) and request.method == "GET":
        template += "#gold-list"
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def gold(request, slug):
    """The project's gold items, and a form that makes an item gold with its known answer."""
    project = lead_project(request, slug)
    form = GoldForm(request.POST if request.method == "POST" else None, project=project)
    if form.is_bound and form.is_valid():
        item = form.cleaned_data["external_id"]
        try:
            gold_set(item=item, value=form.cleaned_data["value"], user=request.user)
        except ValidationError as exc:
            value_errors(form, "value", exc)
        else:
            messages.success(request, f"{item.external_id} is a gold item now.")
            return redirect(_gold_url(project))
    return _gold_page(request, project, form)


@require_POST
@login_required
def gold_promote_view(request, slug, item_id):
    """Makes a settled or decided item's final label its gold answer."""
    project = lead_project(request, slug)
    review = selectors.review_for(project=project, item_id=item_id)
    if review is None:
        raise Http404("This item is not in review.")
    try:
        gold_promote(review=review, lead=request.user)
    except Conflict as exc:
        return _gold_page(request, project, GoldForm(project=project), error=str(exc), status=409)
    except ValidationError as exc:
        error = f"Its final label no longer fits the label schema: {'; '.join(exc.messages)}"
        return _gold_page(request, project, GoldForm(project=project), error=error, status=409)
    messages.success(
        request,
        f"{review.item.external_id} is a gold item now, with its final label as the answer.",
    )
    return redirect(_gold_url(project))


@require_POST
@login_required
def gold_remove(request, slug, item_id):
    """Makes a gold item an ordinary one again. Idempotent."""
    project = lead_project(request, slug)
    item = item_or_404(project, item_id)
    if item.gold is None:
        messages.info(request, f"{item.external_id} is not a gold item.")
    else:
        gold_clear(item=item, user=request.user)
        messages.success(request, f"{item.external_id} is an ordinary item again.")
    return redirect(_gold_url(project))


# --- settings --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def review_settings(request, slug):
    """The project's review policy and gold rate: the form reads them, policy_update checks them
    through the models and saves them; a new rule or item threshold settles again, in the
    agreement job, the items not yet decided."""
    project = lead_project(request, slug)
    form = ReviewSettingsForm(
        request.POST if request.method == "POST" else None,
        instance=policy_for(project),
        initial={"gold_rate": project.gold_rate},
    )
    if form.is_bound and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in ReviewSettingsForm.Meta.fields}
        try:
            policy_update(
                project=project,
                user=request.user,
                gold_rate=form.cleaned_data["gold_rate"],
                **fields,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            notice = "Saved the review settings."
            if any(name in form.changed_data for name in SETTLING_FIELDS):
                notice += " The items not yet decided are being settled again by the new rule."
            messages.success(request, notice)
            return redirect(reverse("adjudication:review_settings", kwargs={"slug": slug}))
    return render(request, "adjudication/review_settings.html", {"project": project, "form": form})
