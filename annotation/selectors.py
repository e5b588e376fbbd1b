"""Reads of the annotation app for the labeling pages: an annotator's progress, their own work,
the item to go back to, and the work other annotators hold right now.

Every function takes the project a view reached through `curation.access.project_for_member`
and the requesting user, and reads only that user's rows: an annotator never sees what others
gave (blind annotation). Counts are single queries on indexed columns, never loops over items.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from annotation.models import Annotation, LabelSchema, Lease, Skip
from annotation.schemas import value_problems
from curation import rows
from curation.models import Item, Project

SEARCH_MAX_CHARS = 200
QUEUE_ORDER = ("queue_rank", "-priority", "id")  # the order of the item_queue index
DONE_SNAPSHOT_SECONDS = 10 * 60


@dataclass(frozen=True)
class Progress:
    done_today: int
    done_total: int
    left: int  # items the annotator may still be given, counting the ones they hold
    more: bool = False  # `left` stopped at the cap asked for: there are more


@dataclass(frozen=True)
class HeldByOthers:
    """Items nobody else may take now because other annotators hold leases on them."""

    items: int
    soonest: datetime | None  # when the first of those leases ends


def items_open_to(*, project: Project, annotator) -> QuerySet[Item]:
    """Items of `project` with room that `annotator` has not labeled, skipped or leased: what
    "next item" may still hand them (unordered)."""
    mine = {"item": OuterRef("pk"), "annotator": annotator}
    return Item.objects.filter(project=project, queue_rank__gt=0).filter(
        ~Exists(Annotation.objects.filter(**mine)),
        ~Exists(Skip.objects.filter(**mine)),
        ~Exists(Lease.objects.filter(**mine)),
    )


def gold_open_to(*, project: Project, annotator) -> QuerySet[Item]:
    """Gold items of `project` that `annotator` has not answered, skipped or leased: mixed into
    their stream at the project's gold rate (unordered)."""
    mine = {"item": OuterRef("pk"), "annotator": annotator}
    found = Item.objects.filter(project=project, gold__isnull=False, dropped_at__isnull=True)
    return found.filter(
        ~Exists(Annotation.objects.filter(**mine)),
        ~Exists(Skip.objects.filter(**mine)),
        ~Exists(Lease.objects.filter(**mine)),
    )


# The annotator's annotations in the project made after the cached counts were taken (`since`)
# up to `now`, and those of them not imported; "next" runs it inside its own statement.
SINCE_COUNTS = """
    SELECT count(*) AS n, count(*) FILTER (WHERE NOT a.imported) AS made_here
    FROM annotation_annotation a JOIN curation_item i ON i.id = a.item_id
    WHERE a.annotator_id = %(user)s AND i.project_id = %(project)s
      AND a.created_at > %(since)s AND a.created_at <= %(now)s"""
_SINCE_AND_HELD = f"""
    SELECT since.n, since.made_here,
      (SELECT count(*) FROM annotation_lease l
       WHERE l.project_id = %(project)s AND l.annotator_id = %(user)s AND l.expires_at > %(now)s)
    FROM ({SINCE_COUNTS}) since"""  # noqa: S608 - a constant
MORE_SNAPSHOT_SECONDS = 60
ROLL_FORWARD_AFTER = 25  # annotations since the snapshot: then it moves to `now`


@dataclass(frozen=True)
class DoneSnapshot:
    """The annotator's cached counts (see labeling_progress), and whether `left` stopped at the
    cap within the last minute."""

    key: str
    taken_at: datetime
    done: int
    done_today: int
    more_key: str | None
    more: bool


def done_snapshot(*, project: Project, annotator, now, cap: int | None = None) -> DoneSnapshot:
    """The first half of labeling_progress: its cached counts, taken now when there are none
    yet or they were taken before midnight. A caller may count the annotations made since
    `taken_at` in a statement of its own and pass them on as `since`."""
    today = timezone.make_aware(datetime.combine(timezone.localdate(now), time.min))
    # created_at keeps keys apart when ids repeat (a fresh database, the test suite).
    base = f"{project.pk}:{project.created_at.timestamp()}:{annotator.pk}"
    key, more_key = f"labeling-done:{base}", f"labeling-more:{base}:{cap}"
    cached = cache.get_many([key, more_key]) if cap is not None else {key: cache.get(key)}
    snapshot = cached.get(key)
    if snapshot is None or snapshot[0] < today:  # none yet, or taken before midnight
        # Annotations that came with an import were not done today, whenever they landed.
        mine = Annotation.objects.filter(annotator=annotator, item__project=project)
        counts = mine.filter(created_at__lte=now).aggregate(
            done=Count("id"), today=Count("id", filter=Q(created_at__gte=today, imported=False))
        )
        snapshot = (now, counts["done"], counts["today"])
        cache.set(key, snapshot, DONE_SNAPSHOT_SECONDS)
    taken_at, done, done_today = snapshot
    return DoneSnapshot(key, taken_at, done, done_today, more_key if cap is not None else None,
                        bool(cached.get(more_key)))  # fmt: skip


def labeling_progress(*, project: Project, annotator, now=None, cap: int | None = None,
                      snapshot: DoneSnapshot | None = None,
                      since: tuple[int, int, int] | None = None) -> Progress:  # fmt: skip
    """For "12 done today, 340 left for you", at a cost that does not grow with the project.

    Counting all the annotator's annotations reads each one (25 ms at 5,000), so `done_total`
    and `done_today` are such counts, cached for ten minutes, plus the annotations made since
    (up to `now`); after ROLL_FORWARD_AFTER of those the cached counts move forward to `now`.
    Counting every item still open to them reads all the project's open items (80 ms at
    100,000); with a `cap` the count walks the queue's index and stops after cap + 1 rows
    (about 1 ms), and `more` says it stopped. That it stopped is kept for a minute: "over
    1,000 left" does not turn false in less, and the walk is the costliest read of "next".

    `snapshot` (from done_snapshot at the same `now` and `cap`) and `since` (the annotations
    made after its `taken_at` up to `now`, those of them not imported, and the live leases the
    annotator holds in the project) spare the reads of a caller that counted them already.
    """
    now = now or timezone.now()
    snapshot = snapshot or done_snapshot(project=project, annotator=annotator, now=now, cap=cap)
    if since is None:
        at = connection.ops.adapt_datetimefield_value
        params = {"project": project.pk, "user": annotator.pk, "since": at(snapshot.taken_at),
                  "now": at(now)}  # fmt: skip
        with rows.cursor() as cursor:
            cursor.execute(_SINCE_AND_HELD, params)
            since = cursor.fetchone()
    count, count_here, held = since
    done, done_today = snapshot.done + count, snapshot.done_today + count_here
    if count >= ROLL_FORWARD_AFTER and now > snapshot.taken_at:
        # The same counts as a snapshot taken now, without counting them all again: the "since"
        # read walks each annotation since the snapshot, and a busy annotator makes hundreds.
        cache.set(snapshot.key, (now, done, done_today), DONE_SNAPSHOT_SECONDS)
    more = snapshot.more
    if not more:
        queue = items_open_to(project=project, annotator=annotator).order_by(*QUEUE_ORDER)
        counted = queue.count() if cap is None else queue[: cap + 1].count()
        more = cap is not None and counted > cap
        if more:
            cache.set(snapshot.more_key, True, MORE_SNAPSHOT_SECONDS)
    return Progress(
        done_today=done_today,
        done_total=done,
        left=(cap if more else counted) + held,
        more=more,
    )


def work_held_by_others(*, project: Project, annotator, now=None) -> HeldByOthers:
    """Items that still need annotations, that `annotator` has neither labeled nor skipped, and
    that others hold live leases on: they come back if a lease ends unfinished (ASG-9)."""
    now = now or timezone.now()
    mine = {"item": OuterRef("item"), "annotator": annotator}
    leases = (
        Lease.objects.filter(project=project, expires_at__gt=now)
        .exclude(annotator=annotator)
        .filter(item__annotation_count__lt=project.annotators_per_item)
        .filter(~Exists(Annotation.objects.filter(**mine)), ~Exists(Skip.objects.filter(**mine)))
    )
    found = leases.aggregate(items=Count("item", distinct=True), soonest=Min("expires_at"))
    return HeldByOthers(items=found["items"], soonest=found["soonest"])


def own_rows(*, item: Item, annotator) -> tuple[Annotation | None, Lease | None]:
    """The annotator's own annotation and lease on `item`, each None when absent."""
    annotation = Annotation.objects.filter(item=item, annotator=annotator).first()
    return annotation, Lease.objects.filter(item=item, annotator=annotator).first()


def item_for_annotator(*, project: Project, annotator, item_id: int):
    """(item, own annotation or None, own lease or None) for an item of `project` that
    `annotator` has labeled or holds; None for any other item."""
    item = Item.objects.filter(project=project, pk=item_id).first()
    if item is None:
        return None
    annotation, lease = own_rows(item=item, annotator=annotator)
    if annotation is None and lease is None:
        return None
    return item, annotation, lease


def project_item(*, project: Project, item_id: int) -> Item | None:
    return Item.objects.filter(project=project, pk=item_id).select_related("project").first()


def previous_item_id(*, project: Project, annotator, before: Annotation | None = None):
    """The item of the annotator's latest annotation in `project` (made before `before`, when
    given): where "go back" leads. Uses the (annotator, created_at) index."""
    mine = Annotation.objects.filter(annotator=annotator, item__project=project)
    if before is not None:
        mine = mine.filter(
            Q(created_at__lt=before.created_at) | Q(created_at=before.created_at, pk__lt=before.pk)
        )
    return mine.order_by("-created_at", "-pk").values_list("item_id", flat=True).first()


def my_annotations(*, project: Project, annotator, search: str = "") -> QuerySet[Annotation]:
    """The annotator's own annotations in `project`, latest change first, optionally only those
    whose item text (a pair's prompt or responses) or external id contains `search` (cut to
    SEARCH_MAX_CHARS, QRY-3)."""
    mine = Annotation.objects.filter(annotator=annotator, item__project=project)
    search = search.strip()[:SEARCH_MAX_CHARS]
    if search:
        mine = mine.filter(
            Q(item__data__text__icontains=search)
            | Q(item__data__prompt__icontains=search)  # a pair's prompt and responses
            | Q(item__data__response_a__icontains=search)
            | Q(item__data__response_b__icontains=search)
            | Q(item__external_id__icontains=search)
        )
    return mine.select_related("item").order_by("-updated_at", "-pk")


# Editing one's own annotation ends when the item has been adjudicated. Adjudication is a later
# app that imports this one, so it cannot be called from here: it appends to this list, from its
# AppConfig.ready, a function taking item ids and returning those already decided.
ADJUDICATED_ITEMS: list[Callable[[list[int]], Iterable[int]]] = []


def items_adjudicated(*, item_ids: Iterable[int]) -> set[int]:
    """The ids among `item_ids` whose annotations may no longer change (one call per page)."""
    ids = list(item_ids)
    decided: set[int] = set()
    for check in ADJUDICATED_ITEMS:
        decided.update(check(ids))
    return decided


def schema_fields(project: Project) -> list[str] | None:
    """The item fields the project's schema needs (for curation's item checks): a preference
    needs "response_a" and "response_b", every other kind "text"; None without a schema."""
    kind = LabelSchema.objects.filter(project=project).values_list("kind", flat=True).first()
    if kind is None:
        return None
    return ["response_a", "response_b"] if kind == "preference" else ["text"]


def schema_value_problems(project: Project, value, data=None) -> list[tuple[str, str]]:
    """What is wrong with `value` under the project's label schema (for curation, which cannot
    import the schemas); [] when it fits or the project has no schema."""
    schema = LabelSchema.objects.filter(project=project).values_list("kind", "config").first()
    kind, config = schema if schema else (None, None)
    return value_problems(kind, config, value, data=data)
