"""The page model of the review page: what the card shows for one item (the annotations side by
side, the values a reviewer can choose, the review's history) and the decision form when one can
be made, and the addresses of the queue and of an item in it. No views here:
adjudication/review_views.py renders a Desk.

Annotations are only read here: a decision is the review's own record (ASG-8).
"""

import json
import math
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from adjudication import selectors
from adjudication.forms import WRITE, DecisionForm
from adjudication.models import Review, ReviewAction, ReviewStatus
from adjudication.services import policy_for
from annotation import schemas
from annotation.exporting import canonical
from annotation.labeling_views import page_choices, value_summary
from annotation.models import LabelSchema, SchemaKind
from curation.access import has_role
from curation.models import Item, Project, Role

DEFAULT_ORDER = "oldest"
# Keys the review page keeps for itself: digits pick the annotators' values; guidelines, skip,
# next, rationale, write and help. A schema hotkey among them is not used here.
PAGE_KEYS = frozenset("gsnrw?")
PREFERENCE_KEYS = {"A": "a", "B": "b", "tie": "t"}


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
        return as_text(self.data.get("prompt", ""))

    @property
    def responses(self) -> list[tuple[str, str]]:
        return [(side, as_text(self.data.get(f"response_{side.lower()}", ""))) for side in "AB"]

    @property
    def fields(self) -> list[tuple[str, str]]:
        shown = {"prompt", "response_a", "response_b"} if self.kind == "preference" else {"text"}
        return [(str(k), as_text(v)) for k, v in self.data.items() if k not in shown]

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
        return review_queue_url(self.project, self.order)


def as_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _key(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def schema_for(project: Project) -> LabelSchema | None:
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


def desk_for(request, project, item, review, *, order, form=None, notice="") -> Desk:
    """Everything the card shows for `item`; a fresh decision form when none is given."""
    schema = schema_for(project)
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


# --- addresses -------------------------------------------------------------------------------


def _with_order(url: str, order: str) -> str:
    return url if order == DEFAULT_ORDER else f"{url}?{urlencode({'order': order})}"


def review_queue_url(project: Project, order: str = DEFAULT_ORDER) -> str:
    return _with_order(reverse("adjudication:review_queue", kwargs={"slug": project.slug}), order)


def review_item_url(project: Project, item_id: int, order: str = DEFAULT_ORDER) -> str:
    url = reverse("adjudication:review_item", kwargs={"slug": project.slug, "item_id": item_id})
    return _with_order(url, order)
