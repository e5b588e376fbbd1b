"""The review pages: the queue, the review page (one item at a time, keyboard first), guideline
issues, gold items and the review settings.

Reviewers and leads only: every view reaches its project through `project_for_member` with the
reviewer role (404 for outsiders, 403 for annotators, so nothing here reaches an annotator), and
items through the project (`project_item`, `review_for`). The review page is the labeling page's
pattern: one URL, the full page or with htmx the card "adjudication/review_item.html#review-card",
which a decision or a skip swaps for the next item's. Annotations are only read here: a decision
is the review's own record (ASG-8).
"""

import json
import math
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Min, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url

from adjudication import selectors
from adjudication.forms import (
    WRITE,
    DecisionForm,
    GoldForm,
    RequeueForm,
    ReviewSettingsForm,
    value_errors,
)
from adjudication.models import Review, ReviewAction, ReviewStatus
from adjudication.services import (
    QUEUE_ORDERS,
    agreement_mark_stale,
    gold_promote,
    guideline_issue_resolve,
    policy_for,
    review_claim,
    review_decide,
    review_next,
    review_release,
    review_requeue,
)
from annotation import schemas
from annotation.exporting import canonical
from annotation.gold import gold_clear, gold_set
from annotation.labeling_views import page_choices, value_summary
from annotation.models import LabelSchema, SchemaKind
from annotation.selectors import project_item
from annotation.services import Conflict
from curation.access import has_role, project_for_member
from curation.forms import add_service_errors
from curation.models import Item, Project, Role
from curation.services import project_update

ORDER_NAMES = {"oldest": "Oldest first", "disagreement": "Most disagreement first"}
ORDERS = {key: ORDER_NAMES.get(key, key) for key in QUEUE_ORDERS}
DEFAULT_ORDER = "oldest"
QUEUE_VIEWS = {"waiting": "Waiting", "decided": "Recent decisions"}
ISSUE_VIEWS = {"open": "Open", "resolved": "Resolved"}
PER_PAGE = 25
EXCERPT = 160
# Keys the review page keeps for itself: digits pick the annotators' values; guidelines, skip,
# next, rationale, write and help. A schema hotkey among them is not used here.
PAGE_KEYS = frozenset("gsnrw?")
PREFERENCE_KEYS = {"A": "a", "B": "b", "tie": "t"}
SKIPPED_KEPT = 500


# --- what the review page shows ------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """A value the reviewer can choose: one the annotators gave (with its digit), the current
    decision, or a label of the schema nobody gave."""

    key: str  # the JSON the form posts
    summary: str
    digit: str = ""
    hotkey: str = ""
    palette: int = 0
    color: str = ""
    given_by: tuple[str, ...] = ()
    current: bool = False


@dataclass(frozen=True)
class Piece:
    """A stretch of the item's text under the same spans: `title` names them all, `name` the
    ones that end here (shown after the stretch)."""

    text: str
    palette: int | None = None
    color: str = ""
    title: str = ""
    name: str = ""


@dataclass(frozen=True)
class Column:
    """One annotation, side by side with the others."""

    name: str
    summary: str
    pieces: tuple[Piece, ...]
    seconds: float | None
    record: dict


@dataclass(frozen=True)
class Moment:
    """One event of the review's history."""

    action: str
    actor: str
    at: object
    note: str
    summary: str


@dataclass
class Desk:
    """What the review card shows for one item, and the decision form when one can be made."""

    project: Project
    schema: LabelSchema | None
    item: Item
    review: Review | None
    order: str
    is_lead: bool
    form: DecisionForm | None = None
    columns: list[Column] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)
    others: list[Option] = field(default_factory=list)
    history: list[Moment] = field(default_factory=list)
    held_by: object = None  # another reviewer holding a live claim on the item
    notice: str = ""
    conflict: str = ""

    @property
    def kind(self) -> str | None:
        return self.schema.kind if self.schema else None

    @property
    def data(self) -> dict:
        return self.item.data if isinstance(self.item.data, dict) else {}

    @property
    def prompt(self) -> str:
        return _as_text(self.data.get("prompt", ""))

    @property
    def responses(self) -> list[tuple[str, str]]:
        return [(side, _as_text(self.data.get(f"response_{side.lower()}", ""))) for side in "AB"]

    @property
    def fields(self) -> list[tuple[str, str]]:
        shown = {"prompt", "response_a", "response_b"} if self.kind == "preference" else {"text"}
        return [(str(k), _as_text(v)) for k, v in self.data.items() if k not in shown]

    @property
    def can_decide(self) -> bool:
        return (
            self.review is not None
            and self.review.status != ReviewStatus.AUTO
            and self.held_by is None
        )

    @property
    def can_requeue(self) -> bool:
        return self.is_lead and (self.review is None or self.review.status != ReviewStatus.WAITING)

    @property
    def can_promote(self) -> bool:
        review = self.review
        final = review is not None and review.value is not None
        waiting = final and review.status == ReviewStatus.WAITING
        return self.is_lead and final and not waiting and self.item.gold is None

    @property
    def show_form(self) -> bool:
        return self.form is not None and (self.can_decide or self.form.is_bound)

    @property
    def chosen(self) -> str:
        return (self.form["value"].value() or "") if self.form else ""

    @property
    def writing(self) -> bool:
        return self.chosen == WRITE or bool(self.form and self.form["new_value"].errors)

    @property
    def final_summary(self) -> str:
        review = self.review
        if review is None or review.value is None:
            return ""
        return value_summary(self.schema, review.value, self.item.text)

    @property
    def requeue_note(self) -> str:
        sent_back = [m for m in self.history if m.action == ReviewAction.REQUEUED.label]
        return sent_back[-1].note if sent_back and self.review.requeued else ""

    @property
    def queue_url(self) -> str:
        return _queue_url(self.project, self.order)


def _as_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _key(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _schema(project: Project) -> LabelSchema | None:
    return LabelSchema.objects.filter(project=project).first()


def _config(schema: LabelSchema | None) -> dict:
    config = schema.config if schema else {}
    return config if isinstance(config, dict) else {}


def _free_key(hotkey: str) -> str:
    return "" if hotkey.lower() in PAGE_KEYS or hotkey.isdigit() else hotkey.lower()


def _buttons(schema: LabelSchema | None) -> list[Option]:
    """The schema's own answers as options (single choice, rating, preference), with their
    hotkeys; the digits are the given values'."""
    kind, config = (schema.kind, _config(schema)) if schema else (None, {})
    if kind == SchemaKind.PREFERENCE:
        return [
            Option(
                key=_key({"choice": c.value}),
                summary=c.text,
                palette=i,
                hotkey=PREFERENCE_KEYS[c.value],
            )
            for i, c in enumerate(schemas.label_choices(kind, config))
        ]
    if kind not in (SchemaKind.SINGLE_CHOICE, SchemaKind.RATING):
        return []
    name = "label" if kind == SchemaKind.SINGLE_CHOICE else "rating"
    raw, shown = schemas.label_choices(kind, config), page_choices(kind, config)
    return [
        Option(
            key=_key({name: r.value}),
            summary=s.text,
            hotkey=_free_key(s.hotkey),
            palette=s.palette,
            color=s.color,
        )
        for r, s in zip(raw, shown, strict=True)
    ]


def options_for(schema, item: Item, given: list, current) -> tuple[list[Option], list[Option]]:
    """(the distinct given values, oldest first, then the current decision if nobody gave it;
    the schema's answers nobody gave). A given value that is one of the schema's answers keeps
    that answer's hotkey and colour."""
    buttons = {button.key: button for button in _buttons(schema)}
    groups: dict[bytes, tuple[object, list[str]]] = {}
    for annotation in given:
        groups.setdefault(canonical(annotation.value), (annotation.value, []))[1].append(
            annotation.name
        )
    now = canonical(current) if current is not None else None
    if now is not None and now not in groups:
        groups[now] = (current, [])
    options = []
    for n, (found, (value, names)) in enumerate(groups.items(), start=1):
        key = _key(value)
        button = buttons.pop(key, None)
        options.append(
            Option(
                key=key,
                summary=value_summary(schema, value, item.text),
                digit=str(n) if n <= 9 else "",
                hotkey=button.hotkey if button else "",
                palette=button.palette if button else (n - 1) % 8,
                color=button.color if button else "",
                given_by=tuple(names),
                current=found == now,
            )
        )
    return options, list(buttons.values())


def span_pieces(text: str, spans, looks: dict) -> tuple[Piece, ...]:
    """`text` cut where the spans start and end (offsets in code points, as Python indexes a
    str); `looks` maps a label to (name, palette, colour). Unreadable spans are left out."""
    found = sorted((s["start"], s["end"], str(s["label"])) for s in spans if _readable(s, text))
    cuts = sorted({0, len(text), *(s for s, _, _ in found), *(e for _, e, _ in found)})
    pieces, active, waiting = [], [], list(reversed(found))
    for start, end in zip(cuts, cuts[1:], strict=False):
        active = [span for span in active if span[1] > start]
        while waiting and waiting[-1][0] <= start:
            active.append(waiting.pop())
        if not active:
            pieces.append(Piece(text[start:end]))
            continue
        name, palette, color = looks.get(active[-1][2], (active[-1][2], 0, ""))
        title = ", ".join(looks.get(label, (label,))[0] for _, _, label in active)
        ending = ", ".join(looks.get(lb, (lb,))[0] for _, e, lb in active if e == end)
        pieces.append(Piece(text[start:end], palette, color, title, ending))
    return tuple(pieces)


def _readable(span, text: str) -> bool:
    if not isinstance(span, dict) or "label" not in span:
        return False
    start, end = span.get("start"), span.get("end")
    ints = all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end))
    return ints and 0 <= start < end <= len(text)


def _stat(stat) -> str:
    value = stat.get("value") if isinstance(stat, dict) else stat
    return f"{value:.2f}" if isinstance(value, int | float) and math.isfinite(value) else "–"


def _record(record: dict) -> dict:
    """An annotator's track record as the page writes it; {} before the first computation."""
    if not record:
        return {}
    gold, seconds = record.get("gold_accuracy"), record.get("median_seconds")
    return {
        "items": record.get("items"),
        "agreement": _stat(record.get("agreement")),
        "gold": _stat(gold),
        "gold_n": gold.get("n", 0) if isinstance(gold, dict) else 0,
        "seconds": f"{seconds:.0f}" if isinstance(seconds, int | float) else "–",
    }


def _columns(schema, item: Item, given: list) -> list[Column]:
    looks = {}
    if schema and schema.kind == SchemaKind.SPANS:
        looks = {
            c.value: (c.text, c.palette, c.color)
            for c in page_choices(schema.kind, _config(schema))
        }
    columns = []
    for annotation in given:
        spans = annotation.value.get("spans") if isinstance(annotation.value, dict) else None
        pieces = span_pieces(item.text, spans, looks) if looks and isinstance(spans, list) else ()
        columns.append(
            Column(
                annotation.name,
                value_summary(schema, annotation.value, item.text),
                pieces,
                annotation.seconds_spent,
                _record(annotation.record),
            )
        )
    return columns


def _history(schema, item: Item, review: Review | None) -> list[Moment]:
    if review is None:
        return []
    return [_moment(schema, item, event) for event in selectors.review_events(review=review)]


def _moment(schema, item: Item, event) -> Moment:
    after = event.after.get("value") if isinstance(event.after, dict) else None
    return Moment(
        action=dict(ReviewAction.choices).get(event.action, event.action),
        actor=event.actor.get_username() if event.actor else "Concord",
        at=event.created_at,
        note=event.note,
        summary=value_summary(schema, after, item.text) if after is not None else "",
    )


def _desk(request, project, item, review, *, order, form=None, notice="") -> Desk:
    """Everything the card shows for `item`; a fresh decision form when none is given."""
    schema = _schema(project)
    anonymize = policy_for(project).anonymize
    given = selectors.annotations_given(
        item=item, anonymize=anonymize, track=selectors.track_records(project=project)
    )
    current = review.value if review is not None and review.status != ReviewStatus.WAITING else None
    desk = Desk(
        project=project,
        schema=schema,
        item=item,
        review=review,
        order=order,
        is_lead=has_role(project, Role.LEAD),
        notice=notice,
    )
    desk.columns = _columns(schema, item, given)
    desk.options, desk.others = options_for(schema, item, given, current)
    desk.history = _history(schema, item, review)
    desk.held_by = _held_by_other(review, request.user)
    desk.form = form if form is not None else _fresh_form(desk, current)
    return desk


def _held_by_other(review: Review | None, user):
    if review is None or review.status != ReviewStatus.WAITING or review.claimed_by_id is None:
        return None
    if review.claimed_by_id == user.pk or review.claim_expires_at <= timezone.now():
        return None
    return review.claimed_by


def _fresh_form(desk: Desk, current) -> DecisionForm | None:
    review = desk.review
    if not desk.can_decide:
        return None
    start = current if current is not None else _first_given(desk)
    return DecisionForm(
        initial={
            "value": _key(current) if current is not None else "",
            "new_value": json.dumps(start, ensure_ascii=False, indent=1) if start else "",
            "rationale": review.rationale,
            "guidelines_unclear": review.guidelines_unclear,
            "guideline_comment": review.guideline_comment,
            "version": review.version,
        }
    )


def _first_given(desk: Desk):
    return json.loads(desk.options[0].key) if desk.options else None


# --- rendering and addresses ---------------------------------------------------------------


def _fragment(request) -> bool:
    # htmx restoring history after the back button needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _render(request, desk: Desk, status: int = 200):
    template = "adjudication/review_item.html"
    if _fragment(request):
        template += "#review-card"
    context = {"project": desk.project, "desk": desk}
    # htmx 2 swaps no 4xx answer: the card with its message comes with 200 there.
    response = render(request, template, context, status=200 if request.htmx else status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _with_order(url: str, order: str) -> str:
    return url if order == DEFAULT_ORDER else f"{url}?{urlencode({'order': order})}"


def _queue_url(project: Project, order: str = DEFAULT_ORDER) -> str:
    return _with_order(reverse("adjudication:review_queue", kwargs={"slug": project.slug}), order)


def _item_url(project: Project, item_id: int, order: str = DEFAULT_ORDER) -> str:
    url = reverse("adjudication:review_item", kwargs={"slug": project.slug, "item_id": item_id})
    return _with_order(url, order)


def _order(raw: str | None) -> str:
    """The queue order asked for, through the allowlist (QRY-1): unknown ones are a 400."""
    if not raw:
        return DEFAULT_ORDER
    if raw not in QUEUE_ORDERS:
        raise BadRequest("Unknown queue order.")
    return raw


def _project_item(project: Project, item_id: int) -> Item:
    item = project_item(project=project, item_id=item_id)
    if item is None:
        raise Http404("No such item in this project.")
    return item


def _reviewer_project(request, slug: str) -> Project:
    return project_for_member(user=request.user, slug=slug, role=Role.REVIEWER)


def _lead_project(request, slug: str) -> Project:
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
    text = " ".join((item.text or _as_text(data.get("prompt") or item.data)).split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def _allowed(raw: str | None, allowed: dict, default: str) -> tuple[str, str]:
    """(the value to use, the problem to report) for a parameter with an allowlist."""
    if not raw or raw in allowed:
        return raw or default, ""
    return default, f"“{raw[:40]}” is not a choice here: showing {allowed[default].lower()}."


@require_GET
@login_required
def review_queue(request, slug):
    """Counts, the waiting items in the chosen order (or the recent decisions), and the button
    that starts reviewing."""
    project = _reviewer_project(request, slug)
    order, bad_order = _allowed(request.GET.get("order"), ORDERS, DEFAULT_ORDER)
    view, bad_view = _allowed(request.GET.get("show"), QUEUE_VIEWS, "waiting")
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
    if _fragment(request):
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
    schema = _schema(project)
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
    project = _reviewer_project(request, slug)
    order = _order(request.POST.get("order"))
    request.session.pop(_skip_key(project), None)  # a fresh start offers the skipped ones again
    review = review_next(project=project, reviewer=request.user, order=order)
    if review is None:
        messages.info(request, _nothing_waits(project))
        return redirect(_queue_url(project, order))
    return redirect(_item_url(project, review.item_id, order))


# --- the review page -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def review_item(request, slug, item_id):
    """GET: the item with its annotations, claimed for this reviewer when it waits and nobody
    else holds it (read-only when someone does). POST: the reviewer's decision."""
    project = _reviewer_project(request, slug)
    item = _project_item(project, item_id)
    if request.method == "POST":
        return _decide(request, project, item)
    order = _order(request.GET.get("order"))
    review = selectors.review_for(project=project, item_id=item.pk)
    waiting = review is not None and review.status == ReviewStatus.WAITING
    if waiting and not review_claim(review=review, reviewer=request.user):
        review = selectors.review_for(project=project, item_id=item.pk)  # who holds it now
    return _render(request, _desk(request, project, item, review, order=order))


def _decide(request, project: Project, item: Item):
    order = _order(request.POST.get("order"))
    review = selectors.review_for(project=project, item_id=item.pk)
    if review is None:
        raise Http404("This item is not in review.")
    form = DecisionForm(request.POST)
    desk = _desk(request, project, item, review, order=order, form=form)
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
    desk = _desk(request, project, item, review, order=order, form=form)
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
        url = _queue_url(project, order)
        return HttpResponseClientRedirect(url) if _fragment(request) else redirect(url)
    url = _item_url(project, review.item_id, order)
    if not _fragment(request):
        messages.success(request, notice)
        return redirect(url)
    item = _project_item(project, review.item_id)
    review = selectors.review_for(project=project, item_id=item.pk)
    return push_url(
        _render(request, _desk(request, project, item, review, order=order, notice=notice)), url
    )


@require_POST
@login_required
def review_skip(request, slug, item_id):
    """Gives the item back to the queue and goes to the next one; the reviewer is not offered
    it again until they start reviewing afresh from the queue."""
    project = _reviewer_project(request, slug)
    item = _project_item(project, item_id)
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
    project = _lead_project(request, slug)
    item = _project_item(project, item_id)
    form = RequeueForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The note is too long: keep it under 2,000 characters.")
        return redirect(_item_url(project, item.pk))
    review_requeue(item=item, lead=request.user, note=form.cleaned_data["note"])
    messages.success(request, f"Sent {item.external_id} back for review.")
    return redirect(_queue_url(project))


# --- guideline issues ------------------------------------------------------------------------


@require_GET
@login_required
def guideline_issues(request, slug):
    """Decisions whose reviewer found the guidelines unclear; leads mark them resolved."""
    project = _reviewer_project(request, slug)
    view, problem = _allowed(request.GET.get("show"), ISSUE_VIEWS, "open")
    issues = selectors.guideline_issues(project=project, resolved=view == "resolved")
    page = Paginator(issues, PER_PAGE).get_page(request.GET.get("page"))
    schema = _schema(project)
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
    if _fragment(request):
        template += "#guideline-issues"
    return render(request, template, context, status=400 if problem and not request.htmx else 200)


@require_POST
@login_required
def guideline_issue_resolve_view(request, slug, item_id):
    project = _lead_project(request, slug)
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
    schema = _schema(project)
    rows = [(item, excerpt(item), value_summary(schema, item.gold, item.text)) for item in page]
    context = {"project": project, "form": form, "page": page, "rows": rows, "error": error}
    template = "adjudication/gold.html"
    if _fragment(request) and request.method == "GET":
        template += "#gold-list"
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def gold(request, slug):
    """The project's gold items, and a form that makes an item gold with its known answer."""
    project = _lead_project(request, slug)
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
    project = _lead_project(request, slug)
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
    project = _lead_project(request, slug)
    item = _project_item(project, item_id)
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
    """The project's review policy and gold rate, checked by the form and the models."""
    project = _lead_project(request, slug)
    policy = policy_for(project)
    form = ReviewSettingsForm(
        request.POST if request.method == "POST" else None,
        instance=policy,
        initial={"gold_rate": project.gold_rate},
    )
    if form.is_bound and form.is_valid():
        try:
            with transaction.atomic():
                form.save()
                project_update(project=project, gold_rate=form.cleaned_data["gold_rate"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            agreement_mark_stale(project=project)  # the bars change what the dashboard says
            messages.success(request, "Saved the review settings.")
            return redirect(reverse("adjudication:review_settings", kwargs={"slug": slug}))
    return render(request, "adjudication/review_settings.html", {"project": project, "form": form})
