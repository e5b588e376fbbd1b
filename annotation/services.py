"""Writes of the annotation app: leases ("next item"), submits, skips and releases.

Every change to an item's annotations or leases happens under a lock on the item's row and
updates its counters (`annotation_count`, `lease_count`, `queue_rank`) in the same transaction,
so no item ever holds more than `annotators_per_item` annotations plus live leases (ASG-1), and
"next item" is one index scan with SKIP LOCKED on PostgreSQL (ASG-2). SQLite runs write
transactions one at a time (IMMEDIATE), which gives the same guarantee.
"""

import json
import random
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual
from django.utils import timezone

from annotation import assignment, fastpath
from annotation.events import annotations_changed
from annotation.models import Annotation, LabelSchema, Lease, SchemaKind, Skip
from annotation.schemas import value_problems
from annotation.selectors import QUEUE_ORDER, gold_open_to, items_adjudicated, items_open_to
from curation.models import Item, Membership, Project


class Conflict(Exception):
    """The write cannot be done as asked (HTTP 409): the item is full, or the value is stale."""


class _GeneralPath(Exception):
    """Leaves a fast path's transaction, rolled back, for the general path."""


def lease_duration() -> timedelta:
    return timedelta(seconds=getattr(settings, "LEASE_SECONDS", 30 * 60))


def _set_counts(item: Item, *, annotations: int, leases: int) -> None:
    """Stores an item's counters and queue rank; the caller holds the item's row lock."""
    capacity = item.project.annotators_per_item
    item.annotation_count, item.lease_count = annotations, leases
    item.queue_rank = assignment.queue_rank(
        capacity=capacity,
        annotations=annotations,
        leases=leases,
        outside=item.gold is not None or item.dropped_at is not None,
    )
    item.save(update_fields=["annotation_count", "lease_count", "queue_rank"])


def leases_reclaim(*, project: Project, now=None, annotator=None) -> int:
    """Ends expired leases of `project` and gives their items the room back. Returns how many.
    Up to 1,000 items at a time, `annotator`'s own expired lease always among them: it is in
    the way of their next one (one lease per annotator and project).

    Idempotent: counters are recounted from the lease rows under the items' locks, so two
    requests reclaiming at once cannot both subtract.
    """
    now = now or timezone.now()
    expired = Lease.objects.filter(project=project, expires_at__lte=now)
    item_ids = list(expired.values_list("item_id", flat=True).distinct()[:1000])
    if annotator is not None:
        item_ids += expired.filter(annotator=annotator).values_list("item_id", flat=True)
    if not item_ids:
        return 0
    with transaction.atomic():
        items = list(Item.objects.select_for_update(of=("self",)).select_related("project")
                     .filter(pk__in=item_ids).order_by("pk"))  # fmt: skip
        deleted, _ = Lease.objects.filter(item_id__in=item_ids, expires_at__lte=now).delete()
        live = dict(Lease.objects.filter(item_id__in=item_ids).values_list("item_id")
                    .annotate(n=Count("id")))  # fmt: skip
        for item in items:
            _set_counts(item, annotations=item.annotation_count, leases=live.get(item.pk, 0))
    return deleted


def _presentation(schema: LabelSchema | None) -> dict:
    if schema is not None and schema.kind == SchemaKind.PREFERENCE:
        return _order()
    return {}


def _order() -> dict:
    """The left/right order of a preference pair shown to one annotator."""
    return {"order": random.choice(["AB", "BA"])}  # noqa: S311 - not for security


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def assignment_next(*, project: Project, annotator, now=None, expired=None,
                    count_since=None) -> Lease | None:  # fmt: skip
    """The annotator's current live lease in `project`, else a new lease on the next item with
    room, else None. Idempotent per annotator (ASG-4), also for two calls at once. One short
    transaction, after ending the project's expired leases. `expired` says whether the project
    has any, when the caller read that already at `now` (None: look). With `count_since` the
    lease may carry `progress_since` (see fastpath.lease_next), for labeling_progress."""
    now = now or timezone.now()
    gold = bool(project.gold_rate) and random.random() < project.gold_rate  # noqa: S311
    if _postgresql() and not gold:
        if expired is None:
            expired = fastpath.expired_leases_exist(project_id=project.pk, now=now)
        if expired:
            leases_reclaim(project=project, now=now)
        return fastpath.lease_next(
            project=project,
            annotator=annotator,
            now=now,
            expires=now + lease_duration(),
            presentation=_order(),
            reclaim=lambda: leases_reclaim(project=project, now=now, annotator=annotator),
            count_since=count_since,
        )
    leases_reclaim(project=project, now=now, annotator=annotator)
    with transaction.atomic():
        # One call at a time per member: a second tab or a retry racing this one waits here,
        # then finds the lease this one made instead of taking a second item.
        mine = Membership.objects.filter(project=project, user=annotator).order_by()
        list(mine.select_for_update(of=("self",)).values_list("pk"))
        held = (Lease.objects.filter(project=project, annotator=annotator, expires_at__gt=now)
                .select_related("item").order_by("created_at").first())  # fmt: skip
        if held is not None:
            return held
        item = None
        if gold:
            golden = gold_open_to(project=project, annotator=annotator).order_by("pk")
            item = golden.select_for_update(skip_locked=True, of=("self",)).first()
        if item is None:
            queue = items_open_to(project=project, annotator=annotator).order_by(*QUEUE_ORDER)
            item = queue.select_for_update(skip_locked=True, of=("self",)).first()
        if item is None:
            return None
        item.project = project
        schema = LabelSchema.objects.filter(project=project).first()
        try:
            with transaction.atomic():
                lease = Lease.objects.create(item=item, annotator=annotator, project=project,
                                             presentation=_presentation(schema),
                                             expires_at=now + lease_duration())  # fmt: skip
        except IntegrityError:  # a call of theirs without the member lock took one just now
            return (Lease.objects.filter(project=project, annotator=annotator)
                    .select_related("item").first())  # fmt: skip
        _set_counts(item, annotations=item.annotation_count, leases=item.lease_count + 1)
    return lease


def assignment_next_as(*, token: str, slug: str, now, count_since):
    """assignment_next's common case for the short path (annotation.short_path), on PostgreSQL:
    the annotator is the active user of API token `token`, found as a member of the project
    with slug `slug` by the statement that leases, which spares a read. (lease, user, project,
    role), the lease carrying `progress_since` from `count_since` (see fastpath.lease_next);
    None, having written nothing, when assignment_next must run (see fastpath.lease_next_as)."""
    if not _postgresql():
        return None
    return fastpath.lease_next_as(token=token, slug=slug, now=now, expires=now + lease_duration(),
                                  presentation=_order(), count_since=count_since)  # fmt: skip


def _validated(item: Item, value) -> dict:
    schema = LabelSchema.objects.filter(project=item.project).first()
    kind, config = (schema.kind, schema.config) if schema else (None, None)
    problems = value_problems(kind, config, value, data=item.data)
    if problems:
        raise ValidationError({f"value.{f}" if f else "value": [m] for f, m in problems})
    return value


def _locked_item(item_id: int) -> Item:
    # The item's row only: without `of`, the join would lock the project's row too, and every
    # write in the project would wait for the one before it.
    return Item.objects.select_for_update(of=("self",)).select_related("project").get(pk=item_id)


def annotation_submit(*, item: Item, annotator, value, seconds_spent=None, submission_key="",
                      version=None, now=None) -> tuple[Annotation, bool]:  # fmt: skip
    """Stores the annotator's value for `item`; returns (annotation, created).

    Replaces their own earlier value (optimistic: a `version` that is not the stored one raises
    Conflict, ASG-6). A repeated `submission_key` returns the stored annotation (ASG-7); one
    already used for another item raises Conflict. A new annotation needs the annotator's live
    lease, or room on the item (else Conflict, ASG-5). One transaction under the item's row lock.
    """
    now = now or timezone.now()
    if _postgresql():
        stored = _submit_new(item, annotator, value, seconds_spent, submission_key, now)
        if stored is not None:
            return stored
    value = _validated(item, value)
    with transaction.atomic():
        item = _locked_item(item.pk)
        existing, repeat = _own_annotations(item, annotator, submission_key)
        if repeat is not None:
            if repeat.item_id != item.pk:
                raise Conflict(f"This submission_key was already used for item {repeat.item_id}; "
                               "send a new key with each answer.")  # fmt: skip
            return repeat, False
        if existing is not None:
            if existing.item_id in items_adjudicated(item_ids=[existing.item_id]):
                raise Conflict("A reviewer has already decided this item; your label can no "
                               "longer change.")  # fmt: skip
            replaced = _replace(existing, value, seconds_spent, version, submission_key)
            annotations_changed.send(sender=Annotation, project=item.project, item_ids=[item.pk])
            return replaced, False
        lease = Lease.objects.filter(item=item, annotator=annotator).first()
        leases = item.lease_count - (1 if lease else 0)
        holds = lease is not None and assignment.lease_is_live(lease.expires_at, now)
        capacity = item.project.annotators_per_item
        counts = {"annotations": item.annotation_count, "leases": leases}
        gold = item.gold is not None  # every annotator may answer a gold item
        if not gold and not assignment.may_submit(capacity=capacity, holds_live_lease=holds,
                                                  **counts):  # fmt: skip
            raise Conflict("This item already has all the annotations it needs; your lease had "
                           "expired. Your answer was not saved; take the next item.")  # fmt: skip
        annotation = Annotation.objects.create(
            item=item, annotator=annotator, value=value, seconds_spent=seconds_spent,
            submission_key=submission_key, presentation=lease.presentation if lease else {},
        )  # fmt: skip
        if lease is not None:
            lease.delete()
        _set_counts(item, annotations=item.annotation_count + 1, leases=leases)
        annotations_changed.send(sender=Annotation, project=item.project, item_ids=[item.pk])
    return annotation, True


def _submit_new(item: Item, annotator, value, seconds_spent, key, now):
    """annotation_submit's common case on PostgreSQL, a new annotation: one statement locks the
    item, stores the annotation (ending the lease) and reads the schema, which then checks the
    value (a refused value rolls it all back); then adjudication is told. Returns None, having
    written nothing, for anything else: an answer of theirs already there (replacing), a
    repeated key, an item with no room left for them. The general path then decides."""
    stored = _store_new(item.pk, value, seconds_spent, key, now, annotator=annotator, item=item)
    return None if stored is None else (stored, True)


def annotation_submit_as(*, token: str, item_id: int, value, seconds_spent=None,
                         submission_key: str = "", version=None, now=None, quick=True):  # fmt: skip
    """annotation_submit's common case for the short path (annotation.short_path), on
    PostgreSQL: the annotator is the active user of API token `token`, found as a member of the
    item's project by the statement that stores, which spares a read. Returns the annotation,
    its item, project and annotator loaded; None, having written nothing, when the general path
    must answer: no such member or item, and all that annotation_submit leaves to its general
    path (an answer of theirs already there, a repeated key, no room).
    `version` matters only when replacing, so not here.

    A new annotation that completes no item is stored by one statement outside a transaction
    when it can be (_store_quick); `quick=False` says the caller expects this one to complete
    its item, which that statement would leave to the transaction that settles it."""
    if not _postgresql():
        return None
    now = now or timezone.now()
    if quick:
        found = _store_quick(token, item_id, value, seconds_spent, submission_key, now)
        if found is not fastpath.NOT_QUICK:
            return found
    return _store_new(item_id, value, seconds_spent, submission_key, now, token=token)


# The label schema of the project each API token last stored an annotation in, as (kind,
# config, config's JSON), for this process's quick submits: a guess, which the storing statement
# checks (a wrong one costs a statement that writes nothing).
_SCHEMAS: dict[str, tuple] = {}
_SCHEMAS_MAX = 10_000
# The kinds whose values are checked without the item's data (spans need its text, preference
# its two responses).
_QUICK_KINDS = {None, SchemaKind.SINGLE_CHOICE, SchemaKind.MULTIPLE_CHOICE, SchemaKind.RATING}


def _remember_schema(token: str, kind: str | None, config) -> None:
    if len(_SCHEMAS) >= _SCHEMAS_MAX:
        _SCHEMAS.clear()
    _SCHEMAS[token] = (kind, config, None if config is None else json.dumps(config))


def _store_quick(token, item_id, value, seconds_spent, key, now):
    """annotation_submit_as in one statement, when the token's last project's schema takes the
    value without the item's data and every receiver of annotations_changed can run in it;
    else (or when the statement says so) fastpath.NOT_QUICK, having written nothing."""
    guess = _SCHEMAS.get(token)
    if guess is None or guess[0] not in _QUICK_KINDS:
        return fastpath.NOT_QUICK
    also = annotations_changed.when_stored()
    if also is None:
        return fastpath.NOT_QUICK
    if connection.in_atomic_block:  # its freshness check relies on the lock ending with it
        return fastpath.NOT_QUICK
    kind, config, config_json = guess
    if value_problems(kind, config, value):  # the general path names the field
        return fastpath.NOT_QUICK
    stored = fastpath.annotation_store_quick(
        item_id=item_id, token=token, value=value, seconds=seconds_spent, key=key, now=now,
        kind=kind, config=config_json, also=also,
    )  # fmt: skip
    if stored is None or stored is fastpath.NOT_QUICK:
        return stored
    annotator, item, project = stored.member
    item.project = project
    return _new_annotation(stored, item, annotator, value, seconds_spent, key, now)


def _store_new(item_id, value, seconds_spent, key, now, *, annotator=None, item=None, token=None):
    """The new annotation for _submit_new and annotation_submit_as, or None."""
    try:
        with transaction.atomic():
            stored = fastpath.annotation_store(
                item_id=item_id, annotator_id=None if annotator is None else annotator.pk,
                value=value, seconds=seconds_spent, key=key, now=now, token=token,
            )  # fmt: skip
            if stored is None:
                raise _GeneralPath
            if stored.member is not None:
                annotator, item, project = stored.member
                item.project = project
            problems = value_problems(stored.schema_kind, stored.schema_config, value,
                                      data=item.data)  # fmt: skip
            if problems:
                raise ValidationError({f"value.{f}" if f else "value": [m] for f, m in problems})
            complete = (
                [] if stored.gold or stored.annotations_before + 1 < stored.capacity else [item.pk]
            )
            annotations_changed.send(sender=Annotation, project=item.project,
                                     item_ids=[item.pk], complete_item_ids=complete)  # fmt: skip
    except (_GeneralPath, IntegrityError, DataError):  # DataError: a value JSON cannot hold
        return None
    except ValidationError:
        if token is None:
            raise
        return None  # the general path repeats the call and names the field
    if token is not None:  # for this token's next submits (_store_quick)
        _remember_schema(token, stored.schema_kind, stored.schema_config)
    return _new_annotation(stored, item, annotator, value, seconds_spent, key, now)


def _new_annotation(stored, item, annotator, value, seconds_spent, key, now) -> Annotation:
    annotation = Annotation(
        id=stored.annotation_id,
        item=item,
        annotator=annotator,
        value=value,
        presentation=stored.presentation,
        seconds_spent=seconds_spent,
        submission_key=key,
        version=1,
        created_at=now,
        updated_at=now,
    )
    annotation._state.adding, annotation._state.db = False, connection.alias
    return annotation


def _own_annotations(item: Item, annotator, submission_key: str):
    """(the annotator's annotation of `item`, their annotation sent with `submission_key`),
    each None when absent: one query."""
    mine = Q(item=item) | Q(submission_key=submission_key) if submission_key else Q(item=item)
    existing = repeat = None
    for annotation in Annotation.objects.filter(mine, annotator=annotator):
        if submission_key and annotation.submission_key == submission_key:
            repeat = annotation
        if annotation.item_id == item.pk:
            existing = annotation
    return existing, repeat


def _replace(annotation: Annotation, value, seconds_spent, version, key) -> Annotation:
    if version is not None and int(version) != annotation.version:
        raise Conflict(f"Your annotation changed elsewhere (version {annotation.version}, you "
                       f"sent {version}); reload it before saving.")  # fmt: skip
    annotation.value = value
    if seconds_spent is not None:
        annotation.seconds_spent = (annotation.seconds_spent or 0) + seconds_spent
    annotation.version += 1
    # Keeping the key makes a retried replacement a repeat, not a stale version (ASG-7).
    annotation.submission_key = key or annotation.submission_key
    annotation.save(
        update_fields=["value", "seconds_spent", "version", "submission_key", "updated_at"]
    )
    return annotation


def _drop_lease(item: Item, annotator) -> None:
    """Deletes the annotator's lease on the locked `item` and gives its room back."""
    if Lease.objects.filter(item=item, annotator=annotator).delete()[0]:
        _set_counts(item, annotations=item.annotation_count, leases=max(0, item.lease_count - 1))


def item_skip(*, item: Item, annotator, reason: str = "") -> Skip:
    """Records that the annotator passes on `item` (never offered to them again) and releases
    their lease. Idempotent. One transaction under the item's row lock."""
    with transaction.atomic():
        item = _locked_item(item.pk)
        try:
            with transaction.atomic():
                skip, _ = Skip.objects.get_or_create(item=item, annotator=annotator,
                                                     defaults={"reason": reason[:500]})  # fmt: skip
        except IntegrityError:
            skip = Skip.objects.get(item=item, annotator=annotator)
        _drop_lease(item, annotator)
    return skip


def lease_release(*, item: Item, annotator) -> None:
    """Gives back the annotator's lease on `item`, if any. Idempotent."""
    with transaction.atomic():
        _drop_lease(_locked_item(item.pk), annotator)


def leases_release_member(*, project: Project, user) -> int:
    """Releases every lease `user` holds in `project` (they left it, AUTHZ-8)."""
    item_ids = list(Lease.objects.filter(project=project, annotator=user)
                    .values_list("item_id", flat=True))  # fmt: skip
    for item_id in item_ids:
        lease_release(item=Item(pk=item_id), annotator=user)
    return len(item_ids)


def _count_of(model, field: str = "item"):
    rows = model.objects.filter(**{field: OuterRef("pk")}).order_by()
    counted = rows.values(field).annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def items_recount(*, project: Project, item_ids=None) -> None:
    """Recounts annotations and leases of the project's items (all, or `item_ids`) from their
    rows, set-based, then their queue ranks: after bulk writes such as an import or the demo.
    Run inside the writer's transaction."""
    items = Item.objects.filter(project=project)
    chunks = [None] if item_ids is None else [item_ids[i : i + 5000]
                                                for i in range(0, len(item_ids), 5000)]  # fmt: skip
    for chunk in chunks:
        selected = items if chunk is None else items.filter(pk__in=chunk)
        selected.update(annotation_count=_count_of(Annotation), lease_count=_count_of(Lease))
        project_requeue(project=project, items=selected)


def project_requeue(*, project: Project, items=None) -> None:
    """Recomputes queue ranks (all the project's items, or `items`), e.g. after
    `annotators_per_item` changed. One UPDATE."""
    used = F("annotation_count") + F("lease_count")
    capacity = project.annotators_per_item
    items = Item.objects.filter(project=project) if items is None else items
    items.update(
        queue_rank=Case(
            When(Q(gold__isnull=False) | Q(dropped_at__isnull=False), then=Value(assignment.FULL)),
            When(GreaterThanOrEqual(used, capacity), then=Value(assignment.FULL)),
            When(GreaterThan(used, 0), then=Value(assignment.STARTED)),
            default=Value(assignment.NEW),
        )
    )
