"""The labeling page (one item at a time, keyboard first) and "My work".

One URL, two renderings: the full page, or with htmx the card fragment
"annotation/label.html#label-card", which a submit, a skip or "go back" swaps in place. Every
project is reached through `project_for_member` (404 for outsiders). An annotator sees their own
annotations only: never another annotator's labels or how many there are (blind annotation).
"""

import json
import math
import re
import uuid
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import replace_url

from annotation import schemas, selectors
from annotation.models import Annotation, LabelSchema, SchemaKind
from annotation.services import Conflict, annotation_submit, assignment_next, item_skip
from curation.access import project_for_member
from curation.hashing import item_text
from curation.models import Item, Project

# Keys the page keeps for itself beyond those annotation.schemas reserves (guidelines): a schema
# hotkey among them is not used, and its label keeps its place's digit.
PAGE_KEYS = {"g"}
MAX_SECONDS = 24 * 3600
# "1000+ left for you": past this the exact count would cost a read of every open item.
LEFT_CAP = 1000
PER_PAGE = 25


@dataclass(frozen=True)
class Choice:
    """A label (or a rating's scale point) as the page shows it."""

    value: str
    text: str
    hotkey: str  # the schema's key, lower case; "" when it has none
    color: str  # "#rrggbb" from the schema, else "" and the page's palette applies
    description: str
    digit: str  # the digit of its place ("1" to "9"), unless a schema hotkey takes that digit
    palette: int


def page_choices(kind: str | None, config: dict) -> list[Choice]:
    """The schema's labels (or a rating's scale points) in order, with the keys that choose
    them: its own hotkey, and the digit of its place when no hotkey claims that digit."""
    if kind is None or kind == SchemaKind.PREFERENCE:
        return []  # a preference's choices are the two responses, laid out by the card
    found = schemas.label_choices(kind, config)
    hotkeys = [c.hotkey.lower() if c.hotkey.lower() not in PAGE_KEYS else "" for c in found]
    claimed = set(hotkeys)
    return [
        Choice(
            value=str(c.value), text=c.text, hotkey=hotkey, color=c.color,
            description=c.description, palette=index % 8,
            digit=str(index + 1) if index < 9 and str(index + 1) not in claimed else "",
        )
        for index, (c, hotkey) in enumerate(zip(found, hotkeys, strict=True))
    ]  # fmt: skip


@dataclass(frozen=True)
class Side:
    """One response of a preference pair, where the page shows it."""

    value: str  # "A" or "B": what the stored choice says, whatever side it was shown on
    position: int
    key: str
    text: str


@dataclass
class Card:
    """What the card fragment shows: an item to label (new, or one's own to change), or why
    there is none."""

    project: Project
    schema: LabelSchema | None
    progress: selectors.Progress | None = None
    item: Item | None = None
    annotation: Annotation | None = None  # the annotator's own, when changing it
    order: str = "AB"
    value: object = None  # their stored value, or the one they just sent
    submission_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    posted_version: int | None = None  # kept after a stale write, so a resubmit stays refused
    previous_item_id: int | None = None
    adjudicated: bool = False
    errors: list[str] = field(default_factory=list)
    conflict: str = ""
    notice: str = ""
    held: selectors.HeldByOthers | None = None  # when nothing is left

    @property
    def kind(self) -> str | None:
        return self.schema.kind if self.schema else None

    @property
    def config(self) -> dict:
        config = self.schema.config if self.schema else {}
        return config if isinstance(config, dict) else {}

    @property
    def version(self) -> int | None:
        if self.posted_version is not None:
            return self.posted_version
        return self.annotation.version if self.annotation else None

    @property
    def allow_overlap(self) -> bool:
        return bool(self.config.get("allow_overlap"))

    @property
    def allow_tie(self) -> bool:
        return bool(self.config.get("allow_tie", True))

    @property
    def reason_mode(self) -> str:
        """The reason box: "optional" (the default), "required", or "" when none is asked."""
        reason = self.config.get("reason", "optional")
        return {"required": "required", "off": ""}.get(reason, "optional")

    @property
    def choices(self) -> list[Choice]:
        return page_choices(self.kind, self.config)

    @property
    def data(self) -> dict:
        data = self.item.data if self.item else {}
        return data if isinstance(data, dict) else {}

    @property
    def text(self) -> str:
        return self.item.text if self.item else ""

    @property
    def text_json(self) -> str:
        # For spans: the exact text, since HTML parsing turns "\r\n" into "\n" and offsets count.
        return json.dumps(self.text)

    @property
    def prompt(self) -> str:
        return _as_text(self.data.get("prompt", ""))

    @property
    def sides(self) -> list[Side]:
        order = self.order if self.order in ("AB", "BA") else "AB"
        return [
            Side(letter, position, key, _as_text(self.data.get(f"response_{letter.lower()}", "")))
            for position, (letter, key) in enumerate(zip(order, "ab", strict=True), start=1)
        ]

    @property
    def fields(self) -> list[tuple[str, str]]:
        """The item's other fields, shown as context under the text."""
        shown = {"prompt", "response_a", "response_b"} if self.kind == "preference" else {"text"}
        return [(str(k), _as_text(v)) for k, v in self.data.items() if k not in shown]

    @property
    def chosen(self) -> set[str]:
        value = self.value if isinstance(self.value, dict) else {}
        chosen = {str(value[key]) for key in ("label", "rating", "choice") if key in value}
        labels = value.get("labels")
        return chosen | ({str(label) for label in labels} if isinstance(labels, list) else set())

    @property
    def reason(self) -> str:
        value = self.value if isinstance(self.value, dict) else {}
        return _as_text(value.get("reason", ""))

    @property
    def value_json(self) -> str:
        return json.dumps(self.value) if self.value is not None else ""


def _as_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# --- rendering -------------------------------------------------------------------------------


def _fragment(request) -> bool:
    # htmx restoring history after the back button needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _render(request, card: Card, status: int = 200):
    template = "annotation/label.html"
    if _fragment(request):
        template += "#label-card"
    context = {"project": card.project, "card": card}
    response = render(request, template, context, status=200 if request.htmx else status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _label_url(project: Project) -> str:
    return reverse("annotation:label", kwargs={"slug": project.slug})


def _schema(project: Project) -> LabelSchema | None:
    return LabelSchema.objects.filter(project=project).first()


def _progress(project: Project, user) -> selectors.Progress:
    return selectors.labeling_progress(project=project, annotator=user, cap=LEFT_CAP)


def _next_card(project: Project, user, notice: str = "") -> Card:
    """The annotator's current item (a lease from "next item"), or why there is none."""
    schema = _schema(project)
    card = Card(project=project, schema=schema, notice=notice)
    if schema is None or project.archived:
        return card  # no labels to give yet, or labeling is closed: hand nothing out
    lease = assignment_next(project=project, annotator=user)
    if lease is not None:
        return _fill(card, user, lease.item, annotation=None, presentation=lease.presentation)
    card.progress = _progress(project, user)
    card.held = selectors.work_held_by_others(project=project, annotator=user)
    card.previous_item_id = selectors.previous_item_id(project=project, annotator=user)
    return card


def _fill(card: Card, user, item: Item, *, annotation, presentation) -> Card:
    """Puts `item` on the card, with the annotator's own annotation when they are changing it."""
    card.item, card.annotation = item, annotation
    card.order = presentation.get("order", "AB") if isinstance(presentation, dict) else "AB"
    if annotation is not None and card.value is None:
        card.value = annotation.value
    card.previous_item_id = selectors.previous_item_id(
        project=card.project, annotator=user, before=annotation
    )
    card.adjudicated = item.pk in selectors.items_adjudicated(item_ids=[item.pk])
    card.progress = _progress(card.project, user)
    return card


# --- pages -----------------------------------------------------------------------------------


@require_GET
@login_required
def label(request, slug):
    """The item the annotator holds, or a new one from "next item", or why there is none."""
    project = project_for_member(user=request.user, slug=slug)
    return _render(request, _next_card(project, request.user))


@require_http_methods(["GET", "POST"])
@login_required
def label_item(request, slug, item_id):
    """GET: an item the annotator labeled (to change it) or holds. POST: their answer."""
    project = project_for_member(user=request.user, slug=slug)
    if request.method == "POST":
        return _submit(request, project, item_id)
    found = selectors.item_for_annotator(project=project, annotator=request.user, item_id=item_id)
    if found is None:
        raise Http404("You have not labeled this item.")
    item, annotation, lease = found
    card = Card(project=project, schema=_schema(project))
    presentation = (lease or annotation).presentation
    return _render(request, _fill(card, request.user, item, annotation=annotation,
                                  presentation=presentation))  # fmt: skip


def _submit(request, project: Project, item_id: int):
    item = selectors.project_item(project=project, item_id=item_id)
    if item is None:
        raise Http404("No such item in this project.")
    schema, user = _schema(project), request.user
    value, errors = posted_value(request.POST, schema)
    version, version_error = _posted_version(request.POST.get("version", ""))
    key = request.POST.get("submission_key", "")[:64] or uuid.uuid4().hex
    card = Card(project=project, schema=schema, value=value, errors=errors + version_error,
                posted_version=version, submission_key=key)  # fmt: skip
    annotation, lease = selectors.own_rows(item=item, annotator=user)
    _fill(card, user, item, annotation=annotation, presentation=_shown(request, annotation, lease))
    if card.adjudicated:
        card.errors.append("This item has been adjudicated: its annotations can no longer change.")
    if card.errors:
        return _render(request, card, status=400)
    try:
        annotation_submit(
            item=item, annotator=user, value=value, version=version,
            seconds_spent=_posted_seconds(request.POST.get("seconds_spent", "")),
            submission_key=card.submission_key,
        )  # fmt: skip
    except ValidationError as exc:
        card.errors = [message for messages in exc.message_dict.values() for message in messages]
        return _render(request, card, status=400)
    except Conflict as exc:
        card.conflict = _not_saved(str(exc))
        return _render(request, card, status=409)
    return _after_write(request, project, notice=f"Saved your answer for {item.external_id}.")


def _shown(request, annotation: Annotation | None, lease) -> dict:
    """How the item was shown, to show it the same way again with a message."""
    if lease is not None or annotation is not None:
        return (lease or annotation).presentation
    # The lease was reclaimed meanwhile: the page says which order it showed (display only).
    order = request.POST.get("order", "")
    return {"order": order} if order in ("AB", "BA") else {}


def _after_write(request, project: Project, *, notice: str):
    if not _fragment(request):
        return redirect(_label_url(project))
    response = _render(request, _next_card(project, request.user, notice=notice))
    # The next card is the queue's: its address, without a history entry per item.
    return replace_url(response, _label_url(project))


@require_POST
@login_required
def label_skip(request, slug, item_id):
    """Passes on an item (never offered to this annotator again) and shows the next one."""
    project = project_for_member(user=request.user, slug=slug)
    item = selectors.project_item(project=project, item_id=item_id)
    if item is None:
        raise Http404("No such item in this project.")
    item_skip(item=item, annotator=request.user, reason=request.POST.get("reason", "").strip())
    return _after_write(request, project, notice=f"Skipped {item.external_id}.")


# --- reading the posted answer ---------------------------------------------------------------


def posted_value(post, schema: LabelSchema | None) -> tuple[object, list[str]]:
    """(value, problems): the JSON label.js puts in "value", or without JavaScript the form's
    own fields. The schema's validation is the service's, not this function's."""
    raw = post.get("value", "").strip()
    if raw:
        try:
            return json.loads(raw, parse_constant=_no_constant), []
        except ValueError:
            return None, ["Your answer could not be read. Choose again, then submit."]
    kind = schema.kind if schema else None
    if kind in (SchemaKind.SINGLE_CHOICE, SchemaKind.RATING, SchemaKind.PREFERENCE):
        key = {"single_choice": "label", "rating": "rating", "preference": "choice"}[kind]
        if not post.get(key):
            return None, ["Choose an answer first."]
        value = {key: post[key]}
        if kind == SchemaKind.RATING:
            value = {key: int(post[key])} if re.fullmatch(r"-?\d{1,9}", post[key]) else value
        if kind == SchemaKind.PREFERENCE and post.get("reason", "").strip():
            value["reason"] = post["reason"].strip()
        return value, []
    if kind == SchemaKind.MULTIPLE_CHOICE:
        return {"labels": post.getlist("labels")}, []
    return None, ["Marking spans needs JavaScript: turn it on and reload the page."]


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def _posted_version(raw: str) -> tuple[int | None, list[str]]:
    raw = raw.strip()
    if not raw:
        return None, []
    if raw.isdigit() and len(raw) < 10:
        return int(raw), []
    return None, ["The page sent a broken version number: reload it."]


def _posted_seconds(raw: str) -> float | None:
    """Seconds the item was on screen; an unreadable figure is dropped, never an error."""
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return min(seconds, MAX_SECONDS) if math.isfinite(seconds) and seconds >= 0 else None


def _not_saved(message: str) -> str:
    return message if "not saved" in message else f"{message} Your answer was not saved."


# --- my work ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkRow:
    annotation: Annotation
    summary: str
    adjudicated: bool
    text: str  # the item's text, or a pair's prompt and responses


@require_GET
@login_required
def my_work(request, slug):
    """The annotator's own annotations, searchable, each with a link to change it."""
    project = project_for_member(user=request.user, slug=slug)
    typed = request.GET.get("q", "").strip()
    search = typed[: selectors.SEARCH_MAX_CHARS]
    schema = _schema(project)
    annotations = selectors.my_annotations(project=project, annotator=request.user, search=search)
    page = Paginator(annotations, PER_PAGE).get_page(request.GET.get("page"))
    decided = selectors.items_adjudicated(item_ids=[a.item_id for a in page])
    rows = [WorkRow(a, value_summary(schema, a.value, a.item.text), a.item_id in decided,
                    item_text(a.item.data)) for a in page]  # fmt: skip
    context = {"project": project, "page": page, "rows": rows, "q": search,
               "shortened": len(typed) > len(search)}  # fmt: skip
    template = "annotation/my_work.html"
    if _fragment(request):
        template += "#my-work-results"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def value_summary(schema: LabelSchema | None, value, text: str) -> str:
    """One line for an annotation's value in the schema's words."""
    kind = schema.kind if schema else None
    names = (
        {str(c.value): c.text for c in schemas.label_choices(kind, schema.config)} if schema else {}
    )
    value = value if isinstance(value, dict) else {}
    if kind in (SchemaKind.SINGLE_CHOICE, SchemaKind.RATING) and len(value) == 1:
        answer = str(next(iter(value.values())))
        return names.get(answer, answer)
    if kind == SchemaKind.MULTIPLE_CHOICE and isinstance(value.get("labels"), list):
        return ", ".join(names.get(str(v), str(v)) for v in value["labels"]) or "No label"
    if kind == SchemaKind.SPANS and isinstance(value.get("spans"), list):
        return _spans_summary(value["spans"], names, text)
    if kind == SchemaKind.PREFERENCE and "choice" in value:
        choice = {"A": "Response A is better", "B": "Response B is better", "tie": "A tie"}
        said = choice.get(str(value["choice"]), str(value["choice"]))
        return f"{said}: {value['reason']}" if value.get("reason") else said
    return json.dumps(value, ensure_ascii=False)


def _spans_summary(spans: list, names: dict, text: str) -> str:
    if not spans:
        return "No spans"
    parts = []
    for span in spans[:5]:
        try:
            # Offsets are code points, which is how Python indexes a str.
            parts.append(f"{names.get(str(span['label']), span['label'])}: "
                         f"“{text[int(span['start']):int(span['end'])]}”")  # fmt: skip
        except (KeyError, TypeError, ValueError):
            parts.append(json.dumps(span, ensure_ascii=False))
    more = f" and {len(spans) - 5} more" if len(spans) > 5 else ""
    return "; ".join(parts) + more
