"""The PostgreSQL statements behind "next item" and "submit": a few round trips where the ORM
took a dozen, for the two calls an annotator makes every few seconds.

`annotation.services` calls these on PostgreSQL and keeps its ORM code for SQLite; the rules are
the same (the tests run on both): an item's counters and queue rank change only under its row
lock, and no item holds more annotations plus live leases than its overlap (ASG-1). The queue
rank written here is `assignment.queue_rank`'s, spelled in SQL: an item gets STARTED when it
keeps room after the change, FULL otherwise.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import DataError, IntegrityError, connection

from annotation.assignment import FULL, STARTED
from annotation.models import Annotation, Lease
from annotation.selectors import SINCE_COUNTS
from curation import rows
from curation.models import ROLE_RANK, Item, Project, Role

# What the short path's calls use of the member's user, project and item (annotation.short_path);
# other fields are deferred (loaded if used).
USER = get_user_model()
USER_FIELDS = {"id", "username", "is_active"}
PROJECT_FIELDS = {"id", "slug", "created_at", "annotators_per_item", "gold_rate"}
ITEM_FIELDS = {"id", "project_id", "external_id", "data"}
ONLY = {USER: USER_FIELDS, Project: PROJECT_FIELDS, Item: ITEM_FIELDS}
# The roles that may label, as SQL constants.
MEMBER_ROLES = ", ".join(
    f"'{role}'" for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[Role.ANNOTATOR]
)


def member_from_row(row, *models) -> tuple[list, str, tuple]:
    """The user and `models` instances from the start of `row` (their ONLY columns, in order),
    the role that follows them, and the rest of the row."""
    found, start = [], 0
    for model in (USER, *models):
        end = start + rows.width(model, ONLY[model])
        found.append(rows.instance(model, row[start:end], ONLY[model]))
        start = end
    return found, row[start], row[start + 1 :]


_ITEM_SELECT = rows.columns(Item, "it")
_ITEM_WIDTH = rows.width(Item)

_EXPIRED = """
    SELECT EXISTS (SELECT 1 FROM annotation_lease
                   WHERE project_id = %(project)s AND expires_at <= %(now)s)"""

_OWN_LEASES = """
    SELECT EXISTS (SELECT 1 FROM annotation_lease
                   WHERE project_id = %(project)s AND annotator_id = %(user)s)"""

# The annotator's live lease, else a new one on the first queued item with room that they have
# not labeled, skipped or leased and that no other call holds locked (SKIP LOCKED): one scan of
# the item_queue index. The new lease and the item's counters are written in the same statement,
# which needs no transaction around it. An annotator holds one lease per project at most (a
# unique constraint): when a call of theirs running at the same time took one first, or an
# expired one of theirs is still there, the INSERT does nothing, the counters stay, and the
# statement returns no row.
_NEXT_TEMPLATE = f"""
    WITH held AS (
        SELECT l.id, l.item_id, l.presentation, l.created_at, l.expires_at
        FROM annotation_lease l
        WHERE l.project_id = %(project)s AND l.annotator_id = %(user)s
          AND l.expires_at > %(now)s
        ORDER BY l.created_at LIMIT 1
    ), pick AS (
        SELECT i.id FROM curation_item i
        WHERE NOT EXISTS (SELECT 1 FROM held)
          AND i.project_id = %(project)s AND i.queue_rank > 0
          AND NOT EXISTS (SELECT 1 FROM annotation_annotation a
                          WHERE a.item_id = i.id AND a.annotator_id = %(user)s)
          AND NOT EXISTS (SELECT 1 FROM annotation_skip s
                          WHERE s.item_id = i.id AND s.annotator_id = %(user)s)
          AND NOT EXISTS (SELECT 1 FROM annotation_lease l
                          WHERE l.item_id = i.id AND l.annotator_id = %(user)s)
        ORDER BY i.queue_rank, i.priority DESC, i.id
        LIMIT 1 FOR UPDATE OF i SKIP LOCKED
    ), made AS (
        INSERT INTO annotation_lease
            (item_id, annotator_id, project_id, presentation, created_at, expires_at)
        SELECT id, %(user)s, %(project)s,
               CASE WHEN (SELECT kind FROM annotation_labelschema WHERE project_id = %(project)s
                          ORDER BY id LIMIT 1) = 'preference'
                    THEN %(presentation)s::jsonb ELSE '{{{{}}}}'::jsonb END,
               %(now)s, %(expires)s
        FROM pick
        ON CONFLICT DO NOTHING
        RETURNING id, item_id, presentation, created_at, expires_at
    ), counted AS (
        UPDATE curation_item i
        SET lease_count = i.lease_count + 1,
            queue_rank = CASE
                WHEN i.gold IS NOT NULL OR i.dropped_at IS NOT NULL
                  OR i.annotation_count + i.lease_count + 1 >= %(capacity)s THEN {FULL}
                ELSE {STARTED} END
        FROM made WHERE i.id = made.item_id
        RETURNING i.id, i.annotation_count, i.lease_count, i.queue_rank
    )
    SELECT x.id, x.presentation, x.created_at, x.expires_at, {_ITEM_SELECT},
           c.annotation_count, c.lease_count, c.queue_rank{{since_columns}}
    FROM (SELECT * FROM held UNION ALL SELECT * FROM made) x
    JOIN curation_item it ON it.id = x.item_id
    LEFT JOIN counted c ON c.id = x.item_id{{since_join}}"""  # noqa: S608 - names, constants

# With the progress counts of "next" (selectors.labeling_progress).
_SINCE_JOIN = f"\n    CROSS JOIN ({SINCE_COUNTS}) since"
_NEXT_COUNTING = _NEXT_TEMPLATE.format(since_columns=", since.n, since.made_here",
                                       since_join=_SINCE_JOIN)  # fmt: skip
_NEXT = _NEXT_TEMPLATE.format(since_columns="", since_join="")

# "Next" for the short path (annotation.short_path), counting, with the member found by their
# API token and the project's slug in the statement itself. Only for the plain case: a project
# that asks for no gold items and holds no expired leases to end first; otherwise, or for an
# unknown token, an inactive user or a user who is no member, `who` is empty, so nothing is read
# or written and no row comes back (as when nothing is held and nothing left): the general
# service then runs.
_NEXT_WHO = f"""who AS (
        SELECT {rows.columns(USER, "u", USER_FIELDS)}, {rows.columns(Project, "p", PROJECT_FIELDS)},
               m.role, u.id AS user_id, p.id AS project_id, p.annotators_per_item AS capacity
        FROM authtoken_token t
        JOIN {USER._meta.db_table} u ON u.id = t.user_id
        JOIN curation_project p ON p.slug = %(slug)s
        JOIN curation_membership m ON m.project_id = p.id AND m.user_id = u.id
        WHERE t.key = %(token)s AND u.is_active AND m.role IN ({MEMBER_ROLES})
          AND p.gold_rate = 0
          AND NOT EXISTS (SELECT 1 FROM annotation_lease l
                          WHERE l.project_id = p.id AND l.expires_at <= %(now)s)
    ), """  # noqa: S608 - column and table names, role constants
_NEXT_AS = (
    _NEXT_TEMPLATE.format(since_columns=", since.n, since.made_here, who.*",
                          since_join=f"{_SINCE_JOIN}\n    CROSS JOIN who")
    .replace("WITH held AS (", f"WITH {_NEXT_WHO}held AS (", 1)
    .replace("%(user)s", "(SELECT user_id FROM who)")
    .replace("%(project)s", "(SELECT project_id FROM who)")
    .replace("%(capacity)s", "(SELECT capacity FROM who)")
)  # fmt: skip


def expired_leases_exist(*, project_id: int, now) -> bool:
    with rows.cursor() as cursor:
        cursor.execute(_EXPIRED, {"project": project_id, "now": now})
        return cursor.fetchone()[0]


def lease_next(*, project, annotator, now, expires, presentation: dict, reclaim,
               count_since=None) -> Lease | None:  # fmt: skip
    """The annotator's live lease in `project`, else a new one on the next item, else None.
    A new lease of a preference project stores `presentation` (the order shown), others {}.
    With `count_since`, the lease carries `progress_since`: (their annotations in the project
    made after it up to `now`, those of them not imported, their live leases there: one).

    One statement, in a transaction of its own or the caller's. Two calls of one annotator at
    once take one lease between them (ASG-4): the unique constraint makes the second INSERT wait
    for the first call's transaction and then do nothing, and the second call, finding it holds
    a lease, runs the statement again, which now returns that lease. An expired lease of theirs
    in the way is ended first by `reclaim()`."""
    params = {"project": project.pk, "user": annotator.pk, "now": now, "expires": expires,
              "capacity": project.annotators_per_item,
              "presentation": Annotation._meta.get_field("presentation").get_db_prep_value(
                  presentation, connection), "since": count_since}  # fmt: skip
    statement = _NEXT if count_since is None else _NEXT_COUNTING
    with rows.cursor() as cursor:
        for _ in range(3):
            cursor.execute(statement, params)
            row = cursor.fetchone()
            if row is not None:
                break
            cursor.execute(_OWN_LEASES, params)
            if not cursor.fetchone()[0]:
                return None  # nothing held and nothing left
            reclaim()
    if row is None:
        return None
    return _lease(row, project=project, annotator=annotator, counting=count_since is not None)


def lease_next_as(*, token: str, slug: str, now, expires, presentation: dict, count_since):
    """lease_next, counting, for the annotator who is the active user of API token `token`, a
    member of the project with slug `slug`, found by the statement itself: (lease, user,
    project, role). None, having written nothing, when the general service must run: no such
    member or project, a project with gold items or expired leases, nothing held and nothing
    left, a call of theirs at the same time (see lease_next)."""
    params = {"token": token, "slug": slug, "now": now, "expires": expires, "since": count_since,
              "presentation": Annotation._meta.get_field("presentation").get_db_prep_value(
                  presentation, connection)}  # fmt: skip
    with rows.cursor() as cursor:
        cursor.execute(_NEXT_AS, params)
        row = cursor.fetchone()
    if row is None:
        return None
    (user, project), role, _ = member_from_row(row[9 + _ITEM_WIDTH :], Project)
    return _lease(row, project=project, annotator=user, counting=True), user, project, role


def _lease(row, *, project, annotator, counting: bool) -> Lease:
    """The Lease of a row of the "next" statement."""
    lease_id, shown, created_at, expires_at = row[:4]
    item = rows.instance(Item, row[4 : 4 + _ITEM_WIDTH])
    counted = row[4 + _ITEM_WIDTH : 7 + _ITEM_WIDTH]
    if counted[0] is not None:  # a new lease: the item's counters as just written
        item.annotation_count, item.lease_count, item.queue_rank = counted
    item.project = project
    lease = Lease(
        id=lease_id,
        item=item,
        annotator=annotator,
        project=project,
        presentation=_json(shown),
        created_at=created_at,
        expires_at=expires_at,
    )
    lease._state.adding, lease._state.db = False, connection.alias
    if counting:  # one live lease: an annotator holds one per project
        lease.progress_since = (*row[7 + _ITEM_WIDTH : 9 + _ITEM_WIDTH], 1)
    return lease


def _json(value):
    return Annotation._meta.get_field("presentation").from_db_value(value, None, connection)


# The annotator's lease on the item ends, and the annotation is stored with the item's counters,
# in one statement that first locks the item's row. They may submit on a gold item, with their
# lease still live, or when the item has room without it (assignment.may_submit, spelled in
# SQL); otherwise nothing is written and the statement says so (`ok` false): the caller takes
# the general path. An answer of theirs already on the item, or their key used before, fails
# the unique constraints: the general path handles replacing and repeats.
#
# Reads in a statement see the database as it was when the statement began, and the lock may
# have to wait for another transaction: what that one committed would be invisible here, save
# the item's row, which the lock reads afresh. Every change to an item's leases or annotations
# also writes the item's row (its counters), so the statement compares the row it locked with
# the row of its start (`ctid`, the version's place): when they differ it writes nothing and
# says `fresh` false, and the caller runs it again, now holding the lock.
_STORE_TEMPLATE = f"""
    WITH {{who}}seen AS (
        SELECT ctid FROM curation_item WHERE id = %(item)s
    ), locked AS (
        SELECT i.ctid, i.project_id, i.annotation_count, i.lease_count,
               i.gold IS NOT NULL AS gold, p.annotators_per_item AS capacity
        FROM curation_item i JOIN curation_project p ON p.id = i.project_id
        WHERE i.id = %(item)s{{gate}}
        FOR UPDATE OF i
    ), fresh AS (
        SELECT locked.* FROM locked JOIN seen ON seen.ctid = locked.ctid
    ), mine AS (
        SELECT id, presentation, expires_at FROM annotation_lease
        WHERE item_id = %(item)s AND annotator_id = {{user}} AND EXISTS (SELECT 1 FROM fresh)
    ), allowed AS (
        SELECT f.gold OR EXISTS (SELECT 1 FROM mine WHERE expires_at > %(now)s)
               OR f.annotation_count + f.lease_count - (SELECT count(*) FROM mine) < f.capacity
               AS ok, {{quick}} AS quick
        FROM fresh f
    ), gone AS (
        DELETE FROM annotation_lease
        WHERE id IN (SELECT id FROM mine) AND (SELECT ok AND quick FROM allowed)
    ), counted AS (
        UPDATE curation_item i
        SET annotation_count = f.annotation_count + 1,
            lease_count = f.lease_count - (SELECT count(*) FROM mine),
            queue_rank = CASE
                WHEN i.gold IS NOT NULL OR i.dropped_at IS NOT NULL
                  OR f.annotation_count + 1 + f.lease_count - (SELECT count(*) FROM mine)
                     >= f.capacity
                THEN {FULL} ELSE {STARTED} END
        FROM fresh f
        WHERE i.id = %(item)s AND (SELECT ok AND quick FROM allowed)
    ), made AS (
        INSERT INTO annotation_annotation
            (item_id, annotator_id, value, presentation, seconds_spent, submission_key, version,
             created_at, updated_at)
        SELECT %(item)s, {{user}}, %(value)s, coalesce((SELECT presentation FROM mine), '{{{{}}}}'),
               %(seconds)s, %(key)s, 1, %(now)s, %(now)s
        WHERE (SELECT ok AND quick FROM allowed)
        RETURNING id, presentation
    ){{also}}
    SELECT EXISTS (SELECT 1 FROM fresh), coalesce((SELECT ok FROM allowed), false),
           coalesce((SELECT quick FROM allowed), false), made.id, made.presentation,
           f.annotation_count, f.gold, f.capacity, s.kind, s.config::text{{member}}
    FROM (SELECT 1) one
    LEFT JOIN fresh f ON true
    LEFT JOIN made ON true
    LEFT JOIN LATERAL (SELECT kind, config FROM annotation_labelschema
                       WHERE project_id = f.project_id ORDER BY id LIMIT 1) s
      ON true{{member_join}}"""  # noqa: S608 - constants only

# The member a short-path submit is made for (annotation.short_path): found by their API token in
# the statement that stores the annotation, which then locks and writes nothing without them.
# An unknown token, an inactive user, or a user not an annotator, reviewer or lead of the
# item's project gives no row; the general path then answers the error.
_WHO = f"""who AS (
        SELECT {rows.columns(USER, "u", USER_FIELDS)}, {rows.columns(Item, "i", ITEM_FIELDS)},
               {rows.columns(Project, "p", PROJECT_FIELDS)}, m.role, u.id AS user_id
        FROM authtoken_token t
        JOIN {USER._meta.db_table} u ON u.id = t.user_id
        JOIN curation_item i ON i.id = %(item)s
        JOIN curation_project p ON p.id = i.project_id
        JOIN curation_membership m ON m.project_id = p.id AND m.user_id = u.id
        WHERE t.key = %(token)s AND u.is_active AND m.role IN ({MEMBER_ROLES})
    ), """  # noqa: S608 - column and table names, role constants

_STORE = _STORE_TEMPLATE.format(who="", user="%(user)s", gate="", member="", member_join="",
                                quick="true", also="")  # fmt: skip
_AS = {"who": _WHO, "user": "(SELECT user_id FROM who)", "gate": " AND EXISTS (SELECT 1 FROM who)",
       "member": ", who.*", "member_join": "\n    LEFT JOIN who ON true"}  # fmt: skip
_STORE_AS = _STORE_TEMPLATE.format(**_AS, quick="true", also="")

# The same for a submit in one statement, outside a transaction (annotation_store_quick): it
# writes only when the annotation completes no item (a gold item never completes), so that
# adjudication has nothing to settle, and when the project's schema is the one the value was
# checked against, so that no check follows the write. Then it also runs what the receivers of
# `annotations_changed` do for such a submit (their `when_stored` SQL, annotation.events), which
# see the CTE `stored` (project_id, annotation_id, item_id): one row when the annotation was
# stored, else none.
_QUICK = """(f.gold OR f.annotation_count + 1 < f.capacity)
               AND coalesce((SELECT kind IS NOT DISTINCT FROM %(kind)s::text
                                    AND config = %(config)s::jsonb
                             FROM annotation_labelschema WHERE project_id = f.project_id
                             ORDER BY id LIMIT 1),
                            %(kind)s::text IS NULL)"""
_STORED = """, stored AS (
        SELECT f.project_id, made.id AS annotation_id, %(item)s AS item_id
        FROM fresh f JOIN made ON true
    )"""
_QUICK_STATEMENTS: dict[tuple[str, ...], str] = {}


def _quick_statement(also: tuple[str, ...]) -> str:
    if also not in _QUICK_STATEMENTS:
        parts = "".join(f", also_{n} AS ({sql})" for n, sql in enumerate(also))
        _QUICK_STATEMENTS[also] = _STORE_TEMPLATE.format(**_AS, quick=_QUICK,
                                                         also=_STORED + parts)  # fmt: skip
    return _QUICK_STATEMENTS[also]


@dataclass(frozen=True)
class Stored:
    """A stored annotation and what the item's lock read: the counts before it, and the schema
    to check the value against (the caller rolls back when it fails)."""

    annotation_id: int
    presentation: dict
    annotations_before: int
    gold: bool
    capacity: int
    schema_kind: str | None
    schema_config: dict | None
    member: tuple | None = None  # with a token: (user, item, project)


def annotation_store(*, item_id: int, annotator_id: int | None, value, seconds, key: str, now,
                     token: str | None = None):  # fmt: skip
    """Locks the item, ends the annotator's lease on it and inserts their annotation with the
    item's counters, if they may submit: a Stored, else None (nothing written). Run inside a
    transaction, which keeps the item locked until it ends. Raises IntegrityError when they
    answered the item already or used `key` before.

    With `token` (an API token's key) instead of `annotator_id`, the annotator is the token's
    user, who must be an active annotator, reviewer or lead of the item's project (the Stored
    then carries them, the item and its project); else nothing is locked or written and the
    answer is None."""
    json_field = Annotation._meta.get_field("value")
    params = {"item": item_id, "user": annotator_id, "key": key, "now": now,
              "value": json_field.get_db_prep_value(value, connection),
              "seconds": seconds, "token": token}  # fmt: skip
    statement = _STORE if token is None else _STORE_AS
    with rows.cursor() as cursor:
        for _ in range(2):  # the second time round, this transaction holds the item's lock
            cursor.execute(statement, params)
            fresh, ok, _, *found = cursor.fetchone()
            if token is not None and found[7] is None:
                return None  # not a member (no `who`): nothing was locked or written
            if fresh:
                break
    if not ok:
        return None
    return _stored(found, member=token is not None)


# What annotation_store_quick answers when it wrote nothing and annotation_store must decide.
NOT_QUICK = "not quick"


def annotation_store_quick(*, item_id: int, token: str, value, seconds, key: str, now, kind,
                           config: str | None, also: tuple[str, ...]):  # fmt: skip
    """annotation_store with `token`, in a statement of its own (a transaction of its own when
    the caller has none), for a `value` already checked against the schema of `kind` and
    `config` (its JSON text). Runs the statements `also` with it (see _QUICK). Answers a
    Stored; None, having written nothing, for no such member, no room for them, an answer of
    theirs there already or a repeated key (the general path answers those); NOT_QUICK, having
    written nothing, when annotation_store must run: the annotation would complete its item,
    the schema is another, or the item changed under the lock three times running."""
    json_field = Annotation._meta.get_field("value")
    params = {"item": item_id, "key": key, "now": now, "token": token, "seconds": seconds,
              "value": json_field.get_db_prep_value(value, connection),
              "kind": kind, "config": config}  # fmt: skip
    statement = _quick_statement(also)
    try:
        with rows.cursor() as cursor:
            for _ in range(3):  # each run reads afresh; the lock ends with the statement
                cursor.execute(statement, params)
                fresh, ok, quick, *found = cursor.fetchone()
                if found[7] is None:
                    return None  # not a member (no `who`): nothing was locked or written
                if fresh:
                    break
    except (IntegrityError, DataError):  # theirs already, a key used before: nothing written
        return None
    if not fresh or (ok and not quick):
        return NOT_QUICK
    if not ok:
        return None
    return _stored(found, member=True)


def _stored(found, *, member: bool) -> Stored:
    annotation_id, shown, annotations, gold, capacity, kind, config = found[:7]
    who = member_from_row(found[7:], Item, Project)[0] if member else None
    return Stored(annotation_id, _json(shown), annotations, gold, capacity, kind,
                  None if config is None else _json(config), who)  # fmt: skip
