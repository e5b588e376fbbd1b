"""The reviewer's pages: the queue, starting to review, and the review page (one item at a time,
keyboard first) with its decision, skip and, for leads, sending an item back.

Reviewers and leads only: every view reaches its project through `project_for_member` with the
reviewer role (404 for outsiders, 403 for annotators, so nothing here reaches an annotator), and
items through the project (`project_item`, `review_for`). The review page is the labeling page's
pattern: one URL, the full page or with htmx the card "adjudication/review_item.html#review-card",
which a decision or a skip swaps for the next item's. What the card shows is computed in
adjudication/review_desk.py; the lead's pages (guideline issues, gold, settings) are in
adjudication/lead_views.py, which reuses the access and list helpers defined here.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Paginator
from django.db.models import Min, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url

from adjudication import selectors
from adjudication.forms import DecisionForm, RequeueForm, value_errors
from adjudication.models import Review, ReviewStatus
from adjudication.review_desk import (
    DEFAULT_ORDER,
    Desk,
    as_text,
    desk_for,
    review_item_url,
    review_queue_url,
    schema_for,
)
from adjudication.services import (
    QUEUE_ORDERS,
    review_claim,
    review_decide,
    review_next,
    review_release,
    review_requeue,
)
from annotation.labeling_views import value_summary
from annotation.selectors import project_item
from annotation.services import Conflict
from curation.access import has_role, project_for_member
from curation.models import Item, Project, Role

ORDER_NAMES = {"oldest": "Oldest first", "disagreement": "Most disagreement first"}
ORDERS = {key: ORDER_NAMES.get(key, key) for key in QUEUE_ORDERS}
QUEUE_VIEWS = {"waiting": "Waiting", "decided": "Recent decisions"}
PER_PAGE = 25
EXCERPT = 160
SKIPPED_KEPT = 500


# --- rendering and access ------------------------------------------------------------------


def wants_fragment(request) -> bool:
    # htmx restoring history after the back button needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _render(request, desk: Desk, status: int = 200):
    template = "adjudication/review_item.html"
    if wants_fragment(request):
        template += "#review-card"
    context = {"project": desk.project, "desk": desk}
    # htmx 2 swaps no 4xx answer: the card with its message comes with 200 there.
    response = render(request, template, context, status=200 if request.htmx else status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _order(raw: str | None) -> str:
    """The queue order asked for, through the allowlist (QRY-1): unknown ones are a 400."""
    if not raw:
        return DEFAULT_ORDER
    if raw not in QUEUE_ORDERS:
        raise BadRequest("Unknown queue order.")
    return raw


def item_or_404(project: Project, item_id: int) -> Item:
    item = project_item(project=project, item_id=item_id)
    if item is None:
        raise Http404("No such item in this project.")
    return item


def reviewer_project(request, slug: str) -> Project:
    return project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)


def lead_project(request, slug: str) -> Project:
    return project_for_member(user=request.user, slug=slug, role=Role.LEAD)


# --- the queue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    review: Review
    excerpt: str
    summary: str = ""
    holder: str = ""
    held_until: object = None


def excerpt(item: Item) -> str:
    """The start of the item's text (or prompt, or data) on one line."""
    data = item.data if isinstance(item.data, dict) else {}
    text = " ".join((item.text or as_text(data.get("prompt") or item.data)).split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def allowed_choice(raw: str | None, allowed: dict, default: str) -> tuple[str, str]:
    """(the value to use, the problem to report) for a parameter with an allowlist."""
    if not raw or raw in allowed:
        return raw or default, ""
    return default, f"“{raw[:40]}” is not a choice here: showing {allowed[default].lower()}."


@require_GET
@login_required
def review_queue(request, slug):
    """Counts, the waiting items in the chosen order (or the recent decisions), and the button
    that starts reviewing."""
    project = reviewer_project(request, slug)
    order, bad_order = allowed_choice(request.GET.get("order"), ORDERS, DEFAULT_ORDER)
    view, bad_view = allowed_choice(request.GET.get("show"), QUEUE_VIEWS, "waiting")
    counts = selectors.queue_counts(project=project)
    context = {
        "project": project,
        "counts": counts,
        "order": order,
        "orders": ORDERS,
        "show": view,
        "views": QUEUE_VIEWS,
        "problem": bad_order or bad_view,
        "is_lead": has_role(project, Role.LEAD),
        "order_name": ORDERS[order],
        "query": urlencode({"order": order, "show": view}) + "&",
    }
    if view == "decided":
        context.update(_decided_rows(request, project))
    else:
        context.update(_waiting_rows(request, project, order, counts))
    template = "adjudication/review_queue.html"
    if wants_fragment(request):
        template += "#review-list"
    status = 400 if context["problem"] and not request.htmx else 200
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _waiting_rows(request, project: Project, order: str, counts) -> dict:
    page = Paginator(selectors.review_queue(project=project, order=order), PER_PAGE).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    rows = [
        Row(review, excerpt(review.item), holder=_holder(review, request.user, now),
            held_until=review.claim_expires_at if _held(review, now) else None)
        for review in page
    ]  # fmt: skip
    free_at = None
    if counts.waiting and counts.waiting == counts.claimed:
        free_at = _first_claim_end(project)
    return {"page": page, "rows": rows, "free_at": free_at}


def _held(review: Review, now) -> bool:
    return review.claimed_by_id is not None and review.claim_expires_at > now


def _holder(review: Review, user, now) -> str:
    if not _held(review, now):
        return ""
    return "You" if review.claimed_by_id == user.pk else review.claimed_by.get_username()


def _first_claim_end(project: Project):
    claimed = selectors.review_queue(project=project).filter(claim_expires_at__gt=timezone.now())
    return claimed.order_by().aggregate(first=Min("claim_expires_at"))["first"]


def _decided_rows(request, project: Project) -> dict:
    page = Paginator(selectors.decided_reviews(project=project), PER_PAGE).get_page(
        request.GET.get("page")
    )
    schema = schema_for(project)
    rows = [
        Row(r, excerpt(r.item), summary=value_summary(schema, r.value, r.item.text)) for r in page
    ]
    return {"page": page, "rows": rows}


def _nothing_waits(project: Project, skipped: int = 0) -> str:
    found = selectors.review_queue(project=project).filter(claim_expires_at__gt=timezone.now())
    held = found.count()
    message = "Nothing waits for review."
    if held:
        message = (
            f"Nothing waits for you: someone else is reviewing {held} item"
            f"{'s' if held != 1 else ''}; an item comes back if its claim ends undecided."
        )
    if skipped:
        message += (
            f" You skipped {skipped} item{'s' if skipped != 1 else ''}: start reviewing "
            "again to see them."
        )
    return message


@require_POST
@login_required
def review_start(request, slug):
    """Start reviewing: claims the reviewer's next item in the chosen order and opens it."""
    project = reviewer_project(request, slug)
    order = _order(request.POST.get("order"))
    request.session.pop(_skip_key(project), None)  # a fresh start offers the skipped ones again
    review = review_next(project=project, reviewer=request.user, order=order)
    if review is None:
        messages.info(request, _nothing_waits(project))
        return redirect(review_queue_url(project, order))
    return redirect(review_item_url(project, review.item_id, order))


# --- the review page -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def review_item(request, slug, item_id):
    """GET: the item with its annotations, claimed for this reviewer when it waits and nobody
    else holds it (read-only when someone does). POST: the reviewer's decision."""
    project = reviewer_project(request, slug)
    item = item_or_404(project, item_id)
    if request.method == "POST":
        return _decide(request, project, item)
    order = _order(request.GET.get("order"))
    review = selectors.review_for(project=project, item_id=item.pk)
    waiting = review is not None and review.status == ReviewStatus.WAITING
    if waiting and not review_claim(review=review, reviewer=request.user):
        review = selectors.review_for(project=project, item_id=item.pk)  # who holds it now
    return _render(request, desk_for(request, project, item, review, order=order))


def _decide(request, project: Project, item: Item):
    order = _order(request.POST.get("order"))
    review = selectors.review_for(project=project, item_id=item.pk)
    if review is None:
        raise Http404("This item is not in review.")
    form = DecisionForm(request.POST)
    desk = desk_for(request, project, item, review, order=order, form=form)
    if review.status == ReviewStatus.AUTO:
        desk.conflict = (
            "The project's rule settled this item. A lead can send it back for "
            "review; your decision was not saved."
        )
        return _render(request, desk, status=409)
    if not form.is_valid():
        return _render(request, desk, status=400)
    data = form.cleaned_data
    try:
        review_decide(
            review=review,
            reviewer=request.user,
            value=data["decision"],
            rationale=data["rationale"],
            guidelines_unclear=data["guidelines_unclear"],
            guideline_comment=data["guideline_comment"],
            version=data["version"],
            seconds_spent=data["seconds_spent"],
        )
    except ValidationError as exc:
        value_errors(form, form.value_field, exc)
        return _render(request, desk, status=400)
    except Conflict as exc:
        return _conflict(request, project, item, form, order, str(exc))
    return _after(request, project, order, notice=f"Decided {item.external_id}.")


def _conflict(request, project, item, form: DecisionForm, order: str, message: str):
    """The card as the review stands now, with the reviewer's input kept; the form carries the
    current version, so deciding again, knowingly, replaces what changed."""
    review = selectors.review_for(project=project, item_id=item.pk)
    form.data = form.data.copy()
    form.data["version"] = str(review.version)
    desk = desk_for(request, project, item, review, order=order, form=form)
    kept = ""
    if desk.held_by is None:
        kept = (
            " What you chose and wrote is kept below: look at the current state, then decide again."
        )
    desk.conflict = f"{message} Your decision was not saved.{kept}"
    return _render(request, desk, status=409)


def _after(request, project: Project, order: str, *, notice: str):
    """After a decision or a skip: the reviewer's next item in the queue's order, or the queue
    when nothing waits for them."""
    review = _next_review(request, project, order)
    if review is None:
        messages.success(
            request, f"{notice} {_nothing_waits(project, _skipped_count(request, project))}"
        )
        url = review_queue_url(project, order)
        return HttpResponseClientRedirect(url) if wants_fragment(request) else redirect(url)
    url = review_item_url(project, review.item_id, order)
    if not wants_fragment(request):
        messages.success(request, notice)
        return redirect(url)
    item = item_or_404(project, review.item_id)
    review = selectors.review_for(project=project, item_id=item.pk)
    return push_url(
        _render(request, desk_for(request, project, item, review, order=order, notice=notice)), url
    )


@require_POST
@login_required
def review_skip(request, slug, item_id):
    """Gives the item back to the queue and goes to the next one; the reviewer is not offered
    it again until they start reviewing afresh from the queue."""
    project = reviewer_project(request, slug)
    item = item_or_404(project, item_id)
    order = _order(request.POST.get("order"))
    review = selectors.review_for(project=project, item_id=item.pk)
    if review is not None:
        review_release(review=review, reviewer=request.user)
    key = _skip_key(project)
    skipped = [i for i in request.session.get(key, []) if i != item.pk] + [item.pk]
    request.session[key] = skipped[-SKIPPED_KEPT:]
    return _after(request, project, order, notice=f"Skipped {item.external_id}.")


def _skip_key(project: Project) -> str:
    return f"review-skipped-{project.pk}"


def _skipped_count(request, project: Project) -> int:
    return len(request.session.get(_skip_key(project), []))


def _next_review(request, project: Project, order: str) -> Review | None:
    """review_next, passing over the items this reviewer skipped since they started."""
    skipped = request.session.get(_skip_key(project), [])
    if not skipped:
        return review_next(project=project, reviewer=request.user, order=order)
    now = timezone.now()
    queue = selectors.review_queue(project=project, order=order).exclude(item_id__in=skipped)
    held = queue.filter(claimed_by=request.user, claim_expires_at__gt=now).first()
    if held is not None:
        return held
    free = queue.filter(Q(claimed_by__isnull=True) | Q(claim_expires_at__lte=now))
    for candidate in free[:5]:  # another reviewer may win the one we saw; try the next
        if review_claim(review=candidate, reviewer=request.user, now=now):
            return candidate
    return None


@require_POST
@login_required
def review_requeue_view(request, slug, item_id):
    """A lead sends any item of the project (back) to the review queue, with a note."""
    project = lead_project(request, slug)
    item = item_or_404(project, item_id)
    form = RequeueForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The note is too long: keep it under 2,000 characters.")
        return redirect(review_item_url(project, item.pk))
    review_requeue(item=item, lead=request.user, note=form.cleaned_data["note"])
    messages.success(request, f"Sent {item.external_id} back for review.")
    return redirect(review_queue_url(project))
