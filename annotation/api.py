"""The labeling API for machine clients: next item, submit, skip, and an item's annotations.

Projects are reached through `HasProjectRole` and items by id through `HasItemRole`
(annotation.access), so a non-member gets 404 and a member below the needed role 403 (AUTHZ-1/2).
Annotators see only their own annotations; reviewers and leads see everyone's, with names
(AUTHZ-7). Nothing sent to an annotator counts or shows other annotators' answers.
"""

import math

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.fields import DateTimeField
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from annotation import serializers as s
from annotation.access import item_for_member
from annotation.models import Annotation
from annotation.selectors import labeling_progress, work_held_by_others
from annotation.services import Conflict, annotation_submit, assignment_next, item_skip
from curation.access import has_role
from curation.api import ERRORS, ConcordApi
from curation.models import Role
from curation.permissions import HasProjectRole
from curation.serializers import ErrorSerializer

CONFLICT = {409: ErrorSerializer}


class HasItemRole(BasePermission):
    """Reaches the item named by the URL's `item_id` through `item_for_member` (AUTHZ-1): 404
    for non-members of its project, 403 below the role the view's `item_roles` names for the
    method. Keeps the item on `view.item` and its project on `view.project`."""

    def has_permission(self, request, view):
        method = "GET" if request.method in SAFE_METHODS else request.method
        role = view.item_roles.get(method, Role.ANNOTATOR)
        view.item = item_for_member(user=request.user, item_id=view.kwargs["item_id"], role=role)
        view.project = view.item.project
        return True


class ConflictError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


LEFT_COUNTED_UP_TO = 1000


def _progress(*, project, annotator, now, snapshot=None, since=None) -> dict:
    """The annotator's own counts in `project` (never anyone else's, AUTHZ-7); `left` stops at
    LEFT_COUNTED_UP_TO and `left_capped` says there are more. `snapshot` and `since` as
    labeling_progress takes them, when the caller read them."""
    progress = labeling_progress(project=project, annotator=annotator, now=now,
                                 cap=LEFT_COUNTED_UP_TO, snapshot=snapshot,
                                 since=since)  # fmt: skip
    return {
        "done_today": progress.done_today,
        "done": progress.done_total,
        "left": min(progress.left, LEFT_COUNTED_UP_TO),
        "left_capped": progress.more or progress.left > LEFT_COUNTED_UP_TO,
    }


def _seconds_until_room(*, project, annotator, now) -> int | None:
    """Seconds until the first live lease of someone else, on an item the annotator could then
    take, runs out; None when there is none (the queue is empty for them, ASG-9)."""
    soonest = work_held_by_others(project=project, annotator=annotator, now=now).soonest
    if soonest is None:
        return None
    return max(1, math.ceil((soonest - now).total_seconds()))


_DATETIME = DateTimeField()  # DRF's own formatting, without building a serializer per call


def _next_body(lease, *, project, annotator, now, snapshot=None) -> dict:
    """NextSerializer's shape, written out: a serializer's fields are built anew for every
    instance, which cost more than the rest of the call. Tests compare the two."""
    item = lease.item
    return {
        "item": {"id": item.pk, "external_id": item.external_id, "data": item.data},
        "lease": {
            "expires_at": _DATETIME.to_representation(lease.expires_at),
            "presentation": lease.presentation,
        },
        "progress": _progress(project=project, annotator=annotator, now=now, snapshot=snapshot,
                              since=getattr(lease, "progress_since", None) if snapshot else None),
    }  # fmt: skip


def _annotation_body(annotation, username: str) -> dict:
    """AnnotationSerializer's shape, written out (see _next_body)."""
    seconds = annotation.seconds_spent
    return {
        "id": annotation.pk,
        "item": annotation.item_id,
        "annotator": username,
        "value": annotation.value,
        "presentation": annotation.presentation,
        "seconds_spent": None if seconds is None else float(seconds),
        "version": annotation.version,
        "created_at": _DATETIME.to_representation(annotation.created_at),
        "updated_at": _DATETIME.to_representation(annotation.updated_at),
    }


class AssignmentNextApi(ConcordApi):
    """Lease the next item to label: any member. The same lease again while it is live."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.ANNOTATOR}
    serializer_class = s.NextSerializer

    @extend_schema(
        summary="Lease the next item to label",
        description=(
            "200 with the item, your lease and your progress; calling again returns the same "
            "lease while it is live. 204 when nothing is left for you; with a `Retry-After` "
            "header (seconds) when items are leased by others and may come back."
        ),
        request=None,
        responses={
            200: s.NextSerializer,
            204: OpenApiResponse(description="Nothing left for you (see Retry-After)."),
            **ERRORS,
        },
    )
    def post(self, request, slug):
        now = timezone.now()
        lease = assignment_next(project=self.project, annotator=request.user, now=now)
        if lease is None:
            wait = _seconds_until_room(project=self.project, annotator=request.user, now=now)
            headers = {"Retry-After": str(wait)} if wait is not None else None
            return Response(status=status.HTTP_204_NO_CONTENT, headers=headers)
        return Response(_next_body(lease, project=self.project, annotator=request.user, now=now))


class AnnotationListCreateApi(ConcordApi):
    """List: your own annotation of the item (annotators), everyone's (reviewers, leads).
    Submit: any member, for themselves only."""

    permission_classes = [IsAuthenticated, HasItemRole]
    item_roles = {"GET": Role.ANNOTATOR, "POST": Role.ANNOTATOR}
    serializer_class = s.AnnotationSerializer
    is_list = True

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no item
            return Annotation.objects.none()
        annotations = self.item.annotations.select_related("annotator").order_by("created_at", "id")
        if not has_role(self.project, Role.REVIEWER):
            annotations = annotations.filter(annotator=self.request.user)
        return annotations

    @extend_schema(
        summary="Annotations of an item: yours, or everyone's for reviewers and leads",
        responses=s.AnnotationSerializer(many=True),
    )
    def get(self, request, item_id):
        return self.paginated(self.get_queryset(), s.AnnotationSerializer)

    @extend_schema(
        summary="Submit or replace your annotation of an item",
        description=(
            "201 when stored, 200 when it replaced your earlier one or repeated a "
            "`submission_key`. 400 names the field of `value` that does not fit the schema. 409 "
            "when the item already has all its annotations and your lease had expired, or when "
            "`version` is not the stored one. With `take_next`, the answer also carries `next`: "
            "your next item, lease and progress, or null when nothing is left for you."
        ),
        request=s.AnnotationSubmitSerializer,
        responses={
            201: s.AnnotationAnswerSerializer,
            200: s.AnnotationAnswerSerializer,
            **ERRORS,
            **CONFLICT,
        },
    )
    def post(self, request, item_id):
        data = self.validated(s.AnnotationSubmitSerializer, request.data)
        take_next = data.pop("take_next")
        try:
            annotation, created = annotation_submit(item=self.item, annotator=request.user, **data)
        except Conflict as conflict:
            raise ConflictError(str(conflict)) from None
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        body = _annotation_body(annotation, request.user.username)  # their own: no query
        if take_next:
            now = timezone.now()
            lease = assignment_next(project=self.project, annotator=request.user, now=now)
            body["next"] = (
                None
                if lease is None
                else _next_body(lease, project=self.project, annotator=request.user, now=now)
            )
        return Response(body, status=code)


class ItemSkipApi(ConcordApi):
    """Pass on an item: it is not offered to you again, and your lease on it ends. Idempotent."""

    permission_classes = [IsAuthenticated, HasItemRole]
    item_roles = {"POST": Role.ANNOTATOR}
    serializer_class = s.SkipSerializer

    @extend_schema(
        summary="Skip an item",
        request=s.SkipCreateSerializer,
        responses={200: s.SkipSerializer, **ERRORS},
    )
    def post(self, request, item_id):
        data = self.validated(s.SkipCreateSerializer, request.data)
        skip = item_skip(item=self.item, annotator=request.user, reason=data["reason"])
        return Response(s.SkipSerializer(skip).data)
