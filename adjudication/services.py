"""Writes of the adjudication app: settling complete items by the project's rule, the review
queue (claim, release, decide), sending items back, and guideline issues.

A review never touches annotations: the decision is its own record, and every change is logged
as a ReviewEvent with the state before and after (ASG-8). Claims are conditional UPDATEs, so two
reviewers claiming the same item at once cannot both win; decisions carry the review's version,
and a stale one is refused (ASG-6).
"""

import json
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from adjudication import rules
from adjudication.models import (
    FinalRule,
    Review,
    ReviewAction,
    ReviewEvent,
    ReviewPolicy,
    ReviewStatus,
)
from annotation.exporting import canonical
from annotation.gold import gold_set
from annotation.models import Annotation, LabelSchema
from annotation.schemas import value_problems
from annotation.services import Conflict
from curation import rows
from curation.bulk import bulk_insert
from curation.models import AuditKind, Item, Project
from curation.services import audit

CHUNK = 2000


def claim_duration() -> timedelta:
    return timedelta(seconds=getattr(settings, "REVIEW_CLAIM_SECONDS", 15 * 60))


def policy_for(project: Project) -> ReviewPolicy:
    """The project's review policy, made with the defaults the first time it is asked for."""
    policy = ReviewPolicy.objects.filter(project=project).first()
    if policy is None:
        policy, _ = ReviewPolicy.objects.get_or_create(project=project)
    return policy


POLICY_FIELDS = ("rule", "item_threshold", "anonymize", "agreement_threshold",
                 "tentative_threshold", "rating_level")  # fmt: skip
SETTLING_FIELDS = ("rule", "item_threshold")


def policy_update(*, project: Project, user=None, gold_rate=None, **fields) -> ReviewPolicy:
    """Changes the project's review policy (and its gold rate), checked by the models
    (ValidationError names the field). A new rule or item threshold re-settles the items not
    yet decided: the agreement job does that, so a big project does not wait on the request.
    The job compares the policy's time with the one its last figures were settled under, so a
    run already under way when the rule changed is followed by one that settles again."""
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({name: ["Not a setting of the review policy."] for name in unknown})
    with transaction.atomic():
        policy = ReviewPolicy.objects.select_for_update().filter(project=project).first()
        policy = policy or ReviewPolicy(project=project)
        resettle = any(name in fields and fields[name] != getattr(policy, name)
                       for name in SETTLING_FIELDS)  # fmt: skip
        for name, value in fields.items():
            setattr(policy, name, value)
        policy.full_clean()
        policy.save()
        if gold_rate is not None and gold_rate != project.gold_rate:
            project.gold_rate = gold_rate
            project.full_clean()
            project.save(update_fields=["gold_rate", "updated_at"])
        agreement_mark_stale(project=project)
        if resettle:
            from curation.jobs import job_run_start

            job_run_start(project=project, kind="agreement", user=user, params={"resettle": True})
    return policy


def reviews_resettle(*, project: Project, report=None) -> dict:
    """Settles again, by the current rule, every reviewed item not decided or sent back: after
    the lead changed the rule. Idempotent."""
    open_items = list(
        Review.objects.filter(project=project, status__in=[ReviewStatus.AUTO, ReviewStatus.WAITING],
                              requeued=False)
        .order_by("item_id").values_list("item_id", flat=True)
    )  # fmt: skip
    counts = {"settled": 0, "waiting": 0, "changed": 0}
    for start in range(0, len(open_items), CHUNK):
        chunk = open_items[start : start + CHUNK]
        found = reviews_refresh(project=project, item_ids=chunk, action=ReviewAction.RESETTLED)
        for key, n in found.items():
            counts[key] += n
        if report is not None:
            report(0.3 * (start + CHUNK) / len(open_items), counts)
    return counts


def _state(review: Review | None) -> dict | None:
    if review is None:
        return None
    return {"status": review.status, "value": review.value, "rule": review.rule}


def _log(review: Review, action: str, before, *, actor=None, note: str = "") -> ReviewEvent:
    return ReviewEvent(review=review, action=action, actor=actor, before=before,
                       after=_state(review), note=note)  # fmt: skip


def _apply(review: Review, outcome: rules.Outcome, values: list, now) -> None:
    review.agreement = outcome.agreement
    if outcome.waiting:
        review.status, review.value, review.rule = ReviewStatus.WAITING, None, ""
        review.waiting_since = review.waiting_since or now
    else:
        review.status, review.value = ReviewStatus.AUTO, values[outcome.index]
        review.rule = outcome.rule
        review.waiting_since = review.claimed_by = review.claim_expires_at = None


def reviews_refresh(
    *,
    project: Project,
    item_ids: list[int],
    now=None,
    action: str = ReviewAction.REOPENED,
    complete: bool = False,
    mark_stale: bool = False,
) -> dict:
    """Settles or queues the complete items among `item_ids` by the project's rule, creating or
    updating their reviews; decided and sent-back items stay as they are. Set-based per chunk:
    three reads and bulk writes. Idempotent. Returns counts {"settled", "waiting", "changed"}.
    `complete` says the caller knows every one of `item_ids` is complete and not gold (a submit
    that filled its item, under the item's lock), which spares the query that finds them.
    `mark_stale` also marks the project's agreement figures out of date (agreement_mark_stale),
    for a submit in the statement that reads its item's annotations."""
    now = now or timezone.now()
    counts = {"settled": 0, "waiting": 0, "changed": 0}
    if complete and len(item_ids) == 1:
        settled, marked = _settle_new(project, item_ids[0], now, counts, mark_stale=mark_stale)
        mark_stale = mark_stale and not marked
        if settled:
            return counts
    if mark_stale:
        agreement_mark_stale(project=project)
    policy = None  # read once some item is complete: most submits complete none
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        complete_ids = chunk if complete else list(
            Item.objects.filter(project=project, pk__in=chunk, gold__isnull=True,
                                annotation_count__gte=project.annotators_per_item)
            .values_list("pk", flat=True)
        )  # fmt: skip
        if complete_ids:
            policy = policy or policy_for(project)
            _refresh_chunk(project, policy, complete_ids, now, counts, action)
    return counts


def _refresh_chunk(project, policy, item_ids, now, counts, action) -> None:
    values: dict[int, list] = {item_id: [] for item_id in item_ids}
    rows = Annotation.objects.filter(item_id__in=item_ids).order_by("item_id", "pk")
    for item_id, value in rows.values_list("item_id", "value"):
        values[item_id].append(value)
    with transaction.atomic():
        reviews = {r.item_id: r for r in Review.objects.select_for_update()
                   .filter(item_id__in=item_ids)}  # fmt: skip
        new, changed, events = [], [], []
        for item_id, found in values.items():
            review = reviews.get(item_id)
            if review is not None and (review.status == ReviewStatus.DECIDED or review.requeued):
                continue
            outcome = rules.settle([canonical(v) for v in found], rule=policy.rule,
                                   item_threshold=policy.item_threshold)  # fmt: skip
            counts["waiting" if outcome.waiting else "settled"] += 1
            if review is None:
                review = Review(item_id=item_id, project=project)
                _apply(review, outcome, found, now)
                new.append(review)
                continue
            before = _state(review)
            _apply(review, outcome, found, now)
            if _state(review) != before:
                review.version += 1
                changed.append(review)
                events.append(_log(review, action, before))
            elif review.agreement != outcome.agreement:
                changed.append(review)
        _insert_new(new, now)
        Review.objects.bulk_update(
            changed,
            ["status", "value", "rule", "agreement", "waiting_since", "claimed_by",
             "claim_expires_at", "version", "updated_at"],
            batch_size=1000,
        )  # fmt: skip
        ReviewEvent.objects.bulk_create(events, batch_size=1000)
        counts["changed"] += len(changed)


_SETTLE_READ = """
    SELECT p.rule, p.item_threshold,
           EXISTS (SELECT 1 FROM adjudication_review r WHERE r.item_id = %(item)s),
           ARRAY (SELECT a.value::text FROM annotation_annotation a
                  WHERE a.item_id = %(item)s ORDER BY a.id)
    FROM adjudication_reviewpolicy p WHERE p.project_id = %(project)s"""

# The same, marking the project's agreement figures out of date on the way (agreement_mark_stale):
# a statement in WITH that changes rows runs whether or not the query reads it.
_STALE_AND_SETTLE_READ = f"""
    WITH stale AS (
        UPDATE adjudication_agreementsnapshot SET stale_since = %(now)s
        WHERE project_id = %(project)s AND stale_since IS NULL
    ){_SETTLE_READ}"""  # noqa: S608 - constants only

_SETTLE_WRITE = """
    WITH made AS (
        INSERT INTO adjudication_review
            (item_id, project_id, status, value, rule, agreement, waiting_since, rationale,
             guidelines_unclear, guideline_comment, guideline_resolved, requeued, version,
             updated_at)
        VALUES (%(item)s, %(project)s, %(status)s, %(value)s, %(rule)s, %(agreement)s,
                %(waiting_since)s, '', false, '', false, false, 1, %(now)s)
        ON CONFLICT (item_id) DO NOTHING
        RETURNING id
    )
    INSERT INTO adjudication_reviewevent (review_id, action, before, after, note, created_at)
    SELECT id, %(action)s, NULL, %(after)s, '', %(now)s FROM made
    RETURNING review_id"""


def _settle_new(project: Project, item_id: int, now, counts: dict,
                mark_stale: bool = False) -> tuple[bool, bool]:  # fmt: skip
    """PostgreSQL, one item a submit just completed (the common case): its first review and
    event in two statements instead of seven. (settled, marked stale): not settled, having
    written nothing but the stale mark, when the general path must run: no policy yet, or the
    item already has a review (an edit, a lowered overlap, a concurrent settle), which needs
    the locked read-modify-write. With `mark_stale` the read also marks the project's agreement
    figures out of date (agreement_mark_stale)."""
    if connection.vendor != "postgresql":
        return False, False
    with rows.cursor() as cursor:
        params = {"item": item_id, "project": project.pk, "now": now}
        cursor.execute(_STALE_AND_SETTLE_READ if mark_stale else _SETTLE_READ, params)
        row = cursor.fetchone()
        if row is None or row[2]:
            return False, mark_stale
        rule, threshold, _, raw = row
        found = [json.loads(v) for v in raw]
        outcome = rules.settle([canonical(v) for v in found], rule=rule, item_threshold=threshold)
        review = Review(item_id=item_id, project=project)
        _apply(review, outcome, found, now)
        json_field = Review._meta.get_field("value")
        cursor.execute(_SETTLE_WRITE, {
            "item": item_id, "project": project.pk, "status": review.status,
            "value": json_field.get_db_prep_save(review.value, connection),
            "rule": review.rule, "agreement": review.agreement,
            "waiting_since": review.waiting_since, "now": now,
            "action": _first_action(review),
            "after": json_field.get_db_prep_save(_state(review), connection),
        })  # fmt: skip
        if cursor.fetchone() is None:
            return False, mark_stale  # a review appeared since the read: the general path
    counts["waiting" if outcome.waiting else "settled"] += 1
    return True, mark_stale


REVIEW_COLUMNS = ["item", "project", "status", "value", "rule", "agreement", "waiting_since",
                  "rationale", "guidelines_unclear", "guideline_comment", "guideline_resolved",
                  "requeued", "version", "updated_at"]  # fmt: skip
EVENT_COLUMNS = ["review", "action", "before", "after", "note", "created_at"]


FEW = 50  # fewer new reviews than this are inserted with INSERT, more with COPY


def _first_action(review: Review) -> str:
    """The action of a new review's first event: queued for a reviewer, or settled by rule."""
    return ReviewAction.QUEUED if review.status == ReviewStatus.WAITING else ReviewAction.SETTLED


def _insert_new(new: list[Review], now) -> None:
    """Writes new reviews and their first event ("settled" or "queued"): with COPY when many
    (an import of a million labeled items brings as many reviews), else with two INSERTs (a
    submit brings one, and a COPY's setup costs more than the row)."""
    if not new:
        return
    if len(new) < FEW:
        for review in new:
            review.updated_at = now
        Review.objects.bulk_create(new)
        ReviewEvent.objects.bulk_create([
            ReviewEvent(review=r, action=_first_action(r), before=None, after=_state(r),
                        created_at=now)
            for r in new
        ])  # fmt: skip
        return
    bulk_insert(Review, REVIEW_COLUMNS, (
        (r.item_id, r.project_id, r.status, r.value, r.rule, r.agreement, r.waiting_since,
         "", False, "", False, False, 1, now) for r in new
    ))  # fmt: skip
    ids = dict(Review.objects.filter(item_id__in=[r.item_id for r in new])
               .values_list("item_id", "pk"))  # fmt: skip
    bulk_insert(ReviewEvent, EVENT_COLUMNS, (
        (ids[r.item_id], _first_action(r), None, _state(r), "", now) for r in new
    ))  # fmt: skip


def reviews_sync(*, project: Project, report=None) -> dict:
    """Settles or queues every complete item of `project` that has no review yet (after an
    import, or if a refresh was missed): the job's first step. Idempotent."""
    missing = list(
        Item.objects.filter(project=project, gold__isnull=True, review__isnull=True,
                            annotation_count__gte=project.annotators_per_item)
        .order_by("pk").values_list("pk", flat=True)
    )  # fmt: skip
    counts = {"settled": 0, "waiting": 0, "changed": 0}
    for start in range(0, len(missing), CHUNK):
        found = reviews_refresh(project=project, item_ids=missing[start : start + CHUNK])
        for key, n in found.items():
            counts[key] += n
        if report is not None:
            report(0.3 * (start + CHUNK) / len(missing), counts)
    return counts


_MARK_STALE = """
    UPDATE adjudication_agreementsnapshot SET stale_since = %s
    WHERE project_id = %s AND stale_since IS NULL"""


# agreement_mark_stale inside the statement that stores a submit completing no item
# (annotation.events: `stored` holds the new annotation's project).
MARK_STALE_WHEN_STORED = """
    UPDATE adjudication_agreementsnapshot SET stale_since = %(now)s
    WHERE project_id = (SELECT project_id FROM stored) AND stale_since IS NULL"""


def agreement_mark_stale(*, project: Project) -> None:
    """Notes that the project's agreement figures are out of date: one UPDATE, written out
    because every submit makes it."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with rows.cursor() as cursor:
        cursor.execute(_MARK_STALE, [now, project.pk])


# --- the queue ------------------------------------------------------------------------------


def _claimable(reviewer, now) -> Q:
    free = Q(claimed_by__isnull=True) | Q(claim_expires_at__lte=now) | Q(claimed_by=reviewer)
    return Q(status=ReviewStatus.WAITING) & free


def review_claim(*, review: Review, reviewer, now=None) -> bool:
    """Locks a waiting review for `reviewer` for a while; False if another reviewer holds it.
    One conditional UPDATE: of two reviewers claiming at once, exactly one wins."""
    now = now or timezone.now()
    until = now + claim_duration()
    won = Review.objects.filter(_claimable(reviewer, now), pk=review.pk).update(
        claimed_by=reviewer, claim_expires_at=until
    )
    if won:
        review.claimed_by, review.claim_expires_at = reviewer, until
    return bool(won)


QUEUE_ORDERS = {
    "oldest": ("waiting_since", "pk"),
    "disagreement": ("agreement", "waiting_since", "pk"),
}


def review_next(*, project: Project, reviewer, order: str = "oldest", now=None) -> Review | None:
    """The review `reviewer` holds in `project`, else the first free waiting one in `order`,
    claimed for them; None when nothing waits."""
    now = now or timezone.now()
    waiting = Review.objects.filter(project=project, status=ReviewStatus.WAITING)
    held = waiting.filter(claimed_by=reviewer, claim_expires_at__gt=now).order_by("pk").first()
    if held is not None:
        return held
    free = waiting.filter(Q(claimed_by__isnull=True) | Q(claim_expires_at__lte=now))
    for _ in range(5):  # another reviewer may win the one we saw; try the next
        candidate = free.order_by(*QUEUE_ORDERS[order]).first()
        if candidate is None:
            return None
        if review_claim(review=candidate, reviewer=reviewer, now=now):
            return candidate
    return None


def review_release(*, review: Review, reviewer) -> None:
    """Gives back `reviewer`'s claim on `review`, if they hold it. Idempotent."""
    Review.objects.filter(pk=review.pk, claimed_by=reviewer).update(
        claimed_by=None, claim_expires_at=None
    )


def _checked(item: Item, value):
    schema = LabelSchema.objects.filter(project=item.project).first()
    kind, config = (schema.kind, schema.config) if schema else (None, None)
    problems = value_problems(kind, config, value, data=item.data)
    if problems:
        raise ValidationError({f"value.{f}" if f else "value": [m] for f, m in problems})
    return value


def review_decide(*, review: Review, reviewer, value, rationale: str = "",
                  guidelines_unclear: bool = False, guideline_comment: str = "",
                  version: int | None = None, seconds_spent: float | None = None,
                  now=None) -> Review:  # fmt: skip
    """Makes `value` the item's final label (rule "adjudicated"), with the reviewer's rationale.

    The value is checked against the schema (ValidationError). Refused with Conflict when
    another reviewer holds a live claim, or `version` is not the review's (it changed since the
    reviewer loaded it). Deciding again, with the current version, replaces the decision; the
    event log keeps both.
    """
    now = now or timezone.now()
    value = _checked(review.item, value)
    with transaction.atomic():
        locked = Review.objects.select_for_update(of=("self",)).get(pk=review.pk)
        holder = locked.claimed_by
        if holder is not None and holder != reviewer and locked.claim_expires_at > now:
            raise Conflict(f"{holder.get_username()} is reviewing this item now; take the next "
                           "one.")  # fmt: skip
        if version is not None and int(version) != locked.version:
            raise Conflict(f"This review changed since you opened it (version {locked.version}, "
                           f"you sent {version}); reload it before deciding.")  # fmt: skip
        before = _state(locked)
        locked.status, locked.value, locked.rule = (ReviewStatus.DECIDED, value,
                                                    FinalRule.ADJUDICATED)  # fmt: skip
        locked.decided_by, locked.decided_at = reviewer, now
        locked.rationale = rationale.strip()[:5000]
        locked.guidelines_unclear = bool(guidelines_unclear)
        locked.guideline_comment = guideline_comment.strip()[:5000] if guidelines_unclear else ""
        locked.guideline_resolved = False
        locked.claimed_by = locked.claim_expires_at = None
        locked.requeued = False
        if seconds_spent is not None:
            locked.seconds_spent = (locked.seconds_spent or 0) + max(0.0, float(seconds_spent))
        locked.version += 1
        locked.save()
        _log(locked, ReviewAction.DECIDED, before, actor=reviewer, note=locked.rationale).save()
        audit(AuditKind.ITEM_ADJUDICATED, actor=reviewer, project=locked.project,
              item=locked.item_id, version=locked.version)  # fmt: skip
        agreement_mark_stale(project=locked.project)
    return locked


def review_requeue(*, item: Item, lead, note: str = "") -> Review:
    """Sends `item` (any item of the project) back to the review queue, keeping its history: a
    lead's second look, or label-noise detection's. Idempotent while it waits."""
    now = timezone.now()
    with transaction.atomic():
        review = Review.objects.select_for_update().filter(item=item).first()
        before = _state(review)
        if review is None:
            review = Review(item=item, project=item.project)
        review.status, review.value, review.rule = ReviewStatus.WAITING, None, ""
        review.requeued, review.waiting_since = True, now
        review.claimed_by = review.claim_expires_at = None
        review.version += 1 if review.pk else 0
        review.save()
        _log(review, ReviewAction.REQUEUED, before, actor=lead, note=note.strip()[:2000]).save()
        audit(AuditKind.ITEM_REQUEUED, actor=lead, project=item.project, item=item.pk)
        agreement_mark_stale(project=item.project)
    return review


def guideline_issue_resolve(*, review: Review) -> None:
    """Marks a flagged decision's guideline issue as dealt with. Idempotent."""
    Review.objects.filter(pk=review.pk, guidelines_unclear=True).update(guideline_resolved=True)


def gold_promote(*, review: Review, lead) -> Item:
    """Makes a settled or decided item's final label its gold answer."""
    if review.value is None or review.status == ReviewStatus.WAITING:
        raise Conflict("Only an item with a final label can become a gold item.")
    return gold_set(item=review.item, value=review.value, user=lead)
