"""The labeling API's two busiest calls, next item and a new annotation, on a short path.

An annotator's client makes both every few seconds, and on this scale Django REST framework's
request handling (wrapping the request, negotiating, authenticating, checking permissions,
rendering) and one query for the token and another for the project cost as much as the work
itself. For the plain case only (a POST with `Authorization: Token <key>`, no query string, an
Accept header that takes JSON, a JSON body for a submit), they are answered here, from a
middleware ahead of the rest of Django's chain (annotation/middleware.py): one statement
reads the token's user, their role and the project or item (next also learns whether expired
leases wait to be reclaimed), then the same services run and the same body is rendered by the
same renderer.

Everything else returns None and the request goes on to the view and DRF's path, which then
answers exactly as it always did: an unknown token, a non-member, a malformed body, a value the
schema refuses, a conflict, nothing left to label, a session cookie, `take_next`. Only reads and
writes that were rolled back happen before such a hand-over, so the general path starts from the
same state.
"""

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404, HttpResponse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from annotation.fastpath import ITEM_FIELDS, PROJECT_FIELDS, USER, USER_FIELDS, member_from_row
from annotation.selectors import done_snapshot
from annotation.serializers import MAX_SECONDS_SPENT
from annotation.services import (
    Conflict,
    annotation_submit,
    annotation_submit_as,
    assignment_next,
    assignment_next_as,
)
from curation import rows
from curation.models import ROLE_RANK, Item, Project, Role

_ACCEPTS_JSON = {"", "*/*", "application/json"}
_RENDER = JSONRenderer().render

_MEMBER_OF_PROJECT = f"""
    SELECT {rows.columns(USER, "u", USER_FIELDS)}, {rows.columns(Project, "p", PROJECT_FIELDS)},
           m.role,
           EXISTS (SELECT 1 FROM annotation_lease l
                   WHERE l.project_id = p.id AND l.expires_at <= %(now)s)
    FROM authtoken_token t
    JOIN {USER._meta.db_table} u ON u.id = t.user_id
    JOIN curation_project p ON p.slug = %(slug)s
    JOIN curation_membership m ON m.project_id = p.id AND m.user_id = u.id
    WHERE t.key = %(key)s"""  # noqa: S608 - column and table names only

_MEMBER_OF_ITEM = f"""
    SELECT {rows.columns(USER, "u", USER_FIELDS)}, {rows.columns(Item, "i", ITEM_FIELDS)},
           {rows.columns(Project, "p", PROJECT_FIELDS)}, m.role
    FROM authtoken_token t
    JOIN {USER._meta.db_table} u ON u.id = t.user_id
    JOIN curation_item i ON i.id = %(item)s
    JOIN curation_project p ON p.id = i.project_id
    JOIN curation_membership m ON m.project_id = p.id AND m.user_id = u.id
    WHERE t.key = %(key)s"""  # noqa: S608 - column and table names only


def token_key(request) -> str | None:
    """The API token of a request the short path may answer, else None."""
    meta = request.META
    if meta.get("QUERY_STRING") or meta.get("HTTP_ACCEPT", "") not in _ACCEPTS_JSON:
        return None
    parts = meta.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) != 2 or parts[0].lower() != "token":
        return None
    return parts[1]


def _member(sql: str, params: dict, *models):
    """The row's user and model instances, and the member's role; None when there is no row, the
    user is inactive or the role is below annotator (the general path says which)."""
    with rows.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    found, role, rest = member_from_row(row, *models)
    if not found[0].is_active or ROLE_RANK.get(role, 0) < ROLE_RANK[Role.ANNOTATOR]:
        return None
    return found, role, rest


def _json(body: dict, *, status: int, allow: str) -> HttpResponse:
    response = HttpResponse(_RENDER(body), status=status, content_type="application/json")
    response["Allow"] = allow
    return response


# Who an earlier "next" of this process found behind an API token and a project's slug: (user id,
# project id, project created_at), to find their cached progress counts before the statement
# that finds and checks the member again (a guess only: every call is authorised by that
# statement; a wrong guess costs a read of the counts, never a wrong answer).
_KNOWN: dict[tuple[str, str], tuple] = {}
_KNOWN_MAX = 10_000
# (API token, item id) of the leases this process handed out on an item's last place. Their
# submit will complete the item, which the one-statement store leaves to the transaction that
# settles it (services.annotation_submit_as): trying it first would cost a statement.
_LAST_PLACE: set[tuple[str, int]] = set()


def next_answer(request, *, slug: str, allow: str, body, progress_cap: int) -> HttpResponse | None:
    """POST /api/projects/{slug}/next/ when it leases or returns an item; `body` builds the answer
    (the view's), `allow` is the view's Allow header. The statement that leases the item also
    counts the annotator's annotations since their cached progress counts (`progress_cap` is
    the body's cap on the items left), which spares the progress its own read; on PostgreSQL,
    once this process has met the token in the project, it also finds the member."""
    key = token_key(request)  # a POST: the middleware hands over nothing else
    if key is None:
        return None
    now = timezone.now()
    known = _KNOWN.get((key, slug)) if connection.vendor == "postgresql" else None
    found = None
    if known is not None:
        user_id, project_id, created_at = known
        snapshot = done_snapshot(project=Project(pk=project_id, created_at=created_at),
                                 annotator=USER(pk=user_id), now=now, cap=progress_cap)  # fmt: skip
        found = assignment_next_as(token=key, slug=slug, now=now, count_since=snapshot.taken_at)
    if found is not None:
        lease, user, project, role = found
        if (user.pk, project.pk, project.created_at) != known:  # counted for another snapshot
            _KNOWN[(key, slug)] = (user.pk, project.pk, project.created_at)
            snapshot = done_snapshot(project=project, annotator=user, now=now, cap=progress_cap)
            del lease.progress_since  # labeling_progress counts them itself
    else:
        member = _member(_MEMBER_OF_PROJECT, {"key": key, "slug": slug, "now": now}, Project)
        if member is None:
            return None
        (user, project), role, (expired,) = member
        if len(_KNOWN) >= _KNOWN_MAX:
            _KNOWN.clear()
        _KNOWN[(key, slug)] = (user.pk, project.pk, project.created_at)
        snapshot = done_snapshot(project=project, annotator=user, now=now, cap=progress_cap)
        lease = assignment_next(project=project, annotator=user, now=now, expired=expired,
                                count_since=snapshot.taken_at)  # fmt: skip
        if lease is None:  # the general path answers 204 with its Retry-After
            return None
    item = lease.item
    if item.gold is None and item.annotation_count + 1 >= project.annotators_per_item:
        if len(_LAST_PLACE) >= _KNOWN_MAX:
            _LAST_PLACE.clear()
        _LAST_PLACE.add((key, item.pk))
    project.my_role = role
    request.user = user
    answer = body(lease, project=project, annotator=user, now=now, snapshot=snapshot)
    return _json(answer, status=200, allow=allow)


_SUBMIT_FIELDS = {"value", "seconds_spent", "submission_key", "version", "take_next"}


def plain_submit(data) -> dict | None:
    """The fields of a submit body in its plain form, as AnnotationSubmitSerializer would
    validate them, without building the serializer (its fields are deep-copied for every
    instance); None for anything else, which the serializer then judges: a field missing or
    unknown, a number sent as a string, a key with surrounding spaces, `take_next`."""
    if type(data) is not dict or data.get("value") is None or not data.keys() <= _SUBMIT_FIELDS:
        return None
    seconds = data.get("seconds_spent")
    key = data.get("submission_key", "")
    version = data.get("version")
    if data.get("take_next", False) is not False:
        return None
    if seconds is not None:
        if type(seconds) not in (int, float) or not 0 <= seconds <= MAX_SECONDS_SPENT:
            return None
        seconds = float(seconds)
    if type(key) is not str or len(key) > 64 or key != key.strip() or not key.isascii():
        return None
    if "\x00" in key:
        return None
    if version is not None and (type(version) is not int or version < 1):
        return None
    return {"value": data["value"], "seconds_spent": seconds, "submission_key": key,
            "version": version}  # fmt: skip


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def submit_answer(request, *, item_id: int, allow: str, body) -> HttpResponse | None:
    """POST /api/items/{id}/annotations/ that stores or repeats an annotation; `body` builds the
    answer from (annotation, username), `allow` is the view's Allow header."""
    key = token_key(request)
    if key is None or request.content_type != "application/json":
        return None
    if request.content_params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        return None
    if not 0 < item_id <= rows.BIGINT_MAX:
        return None
    try:
        data = json.loads(request.body.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None
    fields = plain_submit(data)
    if fields is None:
        return None
    if connection.vendor == "postgresql":  # the member is found by the statement that stores
        last = (key, item_id) in _LAST_PLACE
        _LAST_PLACE.discard((key, item_id))
        annotation = annotation_submit_as(token=key, item_id=item_id, quick=not last, **fields)
        if annotation is None:
            return None
        user, created = annotation.annotator, True
    else:
        member = _member(_MEMBER_OF_ITEM, {"key": key, "item": item_id}, Item, Project)
        if member is None:
            return None
        (user, item, project), role, _ = member
        project.my_role = role
        item.project = project
        try:
            annotation, created = annotation_submit(item=item, annotator=user, **fields)
        except (Conflict, ValidationError, Http404, PermissionDenied):
            return None  # rolled back: the general path repeats the call and answers the error
    request.user = user
    return _json(body(annotation, user.username), status=201 if created else 200, allow=allow)
