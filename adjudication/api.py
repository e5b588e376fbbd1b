"""The adjudication API for machine clients: the review queue (list, next, claim, release,
decide, send back), guideline issues, gold answers, the review policy and agreement figures.

Projects are reached through `HasProjectRole` (curation.access), so a non-member gets 404 and a
member below the needed role 403 (AUTHZ-1/2): reviewers and leads review, leads send items back,
set gold answers, resolve guideline issues and change the policy. A review is addressed by its
item's id and looked up inside the project of the URL. Reading never writes (ASG-8), except the
agreement endpoint, which starts the computation when the figures are out of date. Decisions
carry the review's version (body or `If-Match`): a stale one is a 409, never an overwrite.
"""

import math
import re

from django.db.models import F, Min, Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from adjudication import serializers as s
from adjudication.jobs import agreement_refresh_if_stale
from adjudication.models import Review, ReviewPolicy, ReviewStatus
from adjudication.selectors import (
    annotations_given,
    decided_reviews,
    guideline_issues,
    queue_counts,
    review_events,
    review_for,
    review_queue,
    snapshot_for,
)
from adjudication.services import (
    guideline_issue_resolve,
    policy_update,
    review_claim,
    review_decide,
    review_next,
    review_release,
    review_requeue,
)
from annotation.api import ConflictError
from annotation.gold import gold_clear, gold_set
from annotation.services import Conflict
from curation.access import has_role
from curation.api import ERRORS, ConcordApi
from curation.models import Item, Project, Role
from curation.permissions import HasProjectRole
from curation.serializers import ErrorSerializer

CONFLICT = {409: ErrorSerializer}
POLICY_FIELDS = [
    "rule",
    "item_threshold",
    "anonymize",
    "agreement_threshold",
    "tentative_threshold",
    "rating_level",
]

# Orders of the decided and settled lists; the waiting list uses the queue's own (QUEUE_ORDERS).
# Fixed tuples chosen by an allowlisted name: no user string reaches order_by (QRY-1).
DONE_ORDERS = {
    ReviewStatus.DECIDED: {
        "oldest": ("decided_at", "pk"),
        "disagreement": (F("agreement").asc(nulls_last=True), "decided_at", "pk"),
    },
    ReviewStatus.AUTO: {
        "oldest": ("pk",),
        "disagreement": (F("agreement").asc(nulls_last=True), "pk"),
    },
}


# --- helpers ----------------------------------------------------------------------------------


def _review_or_404(project: Project, item_id: int) -> Review:
    review = review_for(project=project, item_id=item_id)
    if review is None:
        raise NotFound
    return review


def _item_or_404(project: Project, item_id: int) -> Item:
    item = project.items.filter(pk=item_id).first()
    if item is None:
        raise NotFound
    return item


def _policy_read(project: Project) -> ReviewPolicy:
    """The stored policy, or the defaults unsaved: reading must not create rows (ASG-8)."""
    return ReviewPolicy.objects.filter(project=project).first() or ReviewPolicy(project=project)


def _detail(review: Review, project: Project) -> Response:
    """The review with its item, annotations and history; its version as the ETag."""
    policy = _policy_read(project)
    review.given = annotations_given(item=review.item, anonymize=policy.anonymize)
    review.history = list(review_events(review=review))
    body = s.ReviewDetailSerializer(review).data
    return Response(body, headers={"ETag": f'"{review.version}"'})


IF_MATCH = re.compile(r'^(?:W/)?(?:"(\d{1,9})"|(\d{1,9}))$')  # "3", W/"3" or a bare 3


def _version_sent(request, body_version: int | None) -> int:
    """The version the client decides against: the body's, or the If-Match header's. One of
    them is required, so that no client overwrites a decision it has not seen (ASG-6)."""
    header = request.headers.get("If-Match")
    header_version = None
    if header is not None:
        match = IF_MATCH.match(header.strip())
        if match is None:
            raise ValidationError(
                {"If-Match": ['Send the review\'s version as its ETag gives it, e.g. "3".']}
            )
        header_version = int(match.group(1) or match.group(2))
    if body_version is not None and header_version is not None and body_version != header_version:
        raise ValidationError({"version": ["It differs from the If-Match header; send one."]})
    version = body_version if body_version is not None else header_version
    if version is None:
        raise ValidationError(
            {"version": ["Send the version of the review you decide on (or an If-Match header)."]}
        )
    return version


def _seconds_until_free(project: Project, now) -> int | None:
    """Seconds until the first live claim on a waiting review runs out (ASG-9); None if none."""
    live = Min("claim_expires_at", filter=Q(claim_expires_at__gt=now))
    soonest = review_queue(project=project).order_by().aggregate(soonest=live)["soonest"]
    return None if soonest is None else max(1, math.ceil((soonest - now).total_seconds()))


# --- agreement --------------------------------------------------------------------------------


class AgreementApi(ConcordApi):
    """The project's agreement figures and review counts: reviewers and leads."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    serializer_class = s.AgreementSerializer
    query_serializer_class = s.AgreementQuerySerializer

    @extend_schema(
        summary="Agreement figures of a project (reviewer, lead)",
        description=(
            "The figures the dashboard shows, from the last computation. When annotations "
            "changed since (`stale`), or there is none yet, this starts one and `job` names it; "
            "`statistics` is `{}` until the first finishes. `refresh=1` (lead) recomputes now."
        ),
        parameters=[s.AgreementQuerySerializer],
        responses={200: s.AgreementSerializer, **ERRORS},
    )
    def get(self, request, slug):
        project, refresh = self.project, self.query["refresh"]
        if refresh and not has_role(project, Role.LEAD):
            raise PermissionDenied("Only a lead can force a recomputation.")
        run = agreement_refresh_if_stale(project=project, user=request.user, force=refresh)
        snapshot = snapshot_for(project=project)
        computed = snapshot is not None and snapshot.computed_at is not None
        stale = not computed or snapshot.stale_since is not None
        message = None
        if not computed:
            message = "No agreement figures yet: the first computation has started."
        elif stale:
            message = "Annotations changed since these figures were computed; newer ones follow."
        body = {
            "computed_at": snapshot.computed_at if snapshot else None,
            "stale": stale,
            "seconds": snapshot.seconds if snapshot else None,
            "job": {"id": run.pk, "status": run.status} if run is not None else None,
            "queue": vars(queue_counts(project=project)),
            "statistics": snapshot.data if computed else {},
            "message": message,
        }
        return Response(s.AgreementSerializer(body).data)


# --- the review queue -------------------------------------------------------------------------


class ReviewListApi(ConcordApi):
    """Reviews of a project by status: reviewers and leads."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    serializer_class = s.ReviewSerializer
    query_serializer_class = s.ReviewListQuerySerializer
    is_list = True

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no project
            return Review.objects.none()
        found, order = self.query["status"], self.query["order"]
        if found == ReviewStatus.WAITING:
            reviews = review_queue(project=self.project, order=order)
        elif found == ReviewStatus.DECIDED:
            reviews = decided_reviews(project=self.project).order_by(*DONE_ORDERS[found][order])
        else:
            settled = Review.objects.filter(project=self.project, status=ReviewStatus.AUTO)
            reviews = settled.order_by(*DONE_ORDERS[found][order])
        return reviews.select_related("item", "claimed_by", "decided_by")

    @extend_schema(
        summary="Reviews of a project (reviewer, lead)",
        parameters=[s.ReviewListQuerySerializer],
        responses=s.ReviewSerializer(many=True),
    )
    def get(self, request, slug):
        return self.paginated(self.get_queryset(), s.ReviewSerializer)


class ReviewNextApi(ConcordApi):
    """Claim the next waiting review: reviewers and leads. The one you hold again, if any."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.REVIEWER}
    serializer_class = s.ReviewDetailSerializer

    @extend_schema(
        summary="Claim the next item to review (reviewer, lead)",
        description=(
            "200 with the review you now hold (the one you already hold, if any). 204 when "
            "nothing waits for you; with `Retry-After` (seconds) when the waiting items are "
            "held by other reviewers and may come back."
        ),
        request=s.ReviewNextSerializer,
        responses={
            200: s.ReviewDetailSerializer,
            204: OpenApiResponse(description="Nothing waits for you (see Retry-After)."),
            **ERRORS,
        },
    )
    def post(self, request, slug):
        data = self.validated(s.ReviewNextSerializer, request.data)
        now = timezone.now()
        order = data["order"]
        found = review_next(project=self.project, reviewer=request.user, order=order, now=now)
        if found is None:
            wait = _seconds_until_free(self.project, now)
            headers = {"Retry-After": str(wait)} if wait is not None else None
            return Response(status=status.HTTP_204_NO_CONTENT, headers=headers)
        return _detail(_review_or_404(self.project, found.item_id), self.project)


class ReviewDetailApi(ConcordApi):
    """One review with its item, annotations and history: reviewers and leads. Never writes."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    serializer_class = s.ReviewDetailSerializer

    @extend_schema(
        summary="One review (reviewer, lead)",
        description="The `ETag` header carries the version to send with a decision.",
        responses={200: s.ReviewDetailSerializer, **ERRORS},
    )
    def get(self, request, slug, item_id):
        return _detail(_review_or_404(self.project, item_id), self.project)


class ReviewClaimApi(ConcordApi):
    """Hold a waiting review for a while, so no other reviewer decides it meanwhile."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.REVIEWER}
    serializer_class = s.ReviewDetailSerializer

    @extend_schema(
        summary="Claim an item to review (reviewer, lead)",
        description="409 when another reviewer holds it, or it is not waiting for review.",
        request=None,
        responses={200: s.ReviewDetailSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, slug, item_id):
        review = _review_or_404(self.project, item_id)
        if review.status != ReviewStatus.WAITING:
            raise ConflictError("This item is not waiting for review.")
        if not review_claim(review=review, reviewer=request.user):
            raise ConflictError("Another reviewer is reviewing this item now; take the next one.")
        return _detail(_review_or_404(self.project, item_id), self.project)


class ReviewReleaseApi(ConcordApi):
    """Give back your claim on a review. Idempotent."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.REVIEWER}
    serializer_class = s.ReviewDetailSerializer

    @extend_schema(
        summary="Release your claim on an item (reviewer, lead)",
        request=None,
        responses={200: s.ReviewDetailSerializer, **ERRORS},
    )
    def post(self, request, slug, item_id):
        review_release(review=_review_or_404(self.project, item_id), reviewer=request.user)
        return _detail(_review_or_404(self.project, item_id), self.project)


class ReviewDecisionApi(ConcordApi):
    """Decide an item's final label: reviewers and leads, against the version they loaded."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.REVIEWER}
    serializer_class = s.ReviewDetailSerializer

    @extend_schema(
        summary="Decide an item's final label (reviewer, lead)",
        description=(
            'Send the review\'s `version` (or `If-Match: "<version>"`). 400 names the field of '
            "`value` that does not fit the schema. 409 when the review changed since you loaded "
            "it, or another reviewer holds it; nothing is changed then."
        ),
        parameters=[
            OpenApiParameter(
                "If-Match",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The review's ETag, instead of `version` in the body.",
            )
        ],
        request=s.DecisionSerializer,
        responses={200: s.ReviewDetailSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, slug, item_id):
        review = _review_or_404(self.project, item_id)
        data = self.validated(s.DecisionSerializer, request.data)
        version = _version_sent(request, data.pop("version"))
        try:
            review_decide(review=review, reviewer=request.user, version=version, **data)
        except Conflict as conflict:
            raise ConflictError(str(conflict)) from None
        return _detail(_review_or_404(self.project, item_id), self.project)


class ReviewRequeueApi(ConcordApi):
    """Send any item of the project back to the review queue: leads."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.LEAD}
    serializer_class = s.ReviewDetailSerializer

    @extend_schema(
        summary="Send an item back for review (lead)",
        request=s.RequeueSerializer,
        responses={200: s.ReviewDetailSerializer, **ERRORS},
    )
    def post(self, request, slug, item_id):
        item = _item_or_404(self.project, item_id)
        data = self.validated(s.RequeueSerializer, request.data)
        review_requeue(item=item, lead=request.user, note=data["note"])
        return _detail(_review_or_404(self.project, item_id), self.project)


# --- guideline issues -------------------------------------------------------------------------


class GuidelineIssueListApi(ConcordApi):
    """Decisions flagged "guidelines unclear": reviewers and leads read them."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    serializer_class = s.GuidelineIssueSerializer
    query_serializer_class = s.GuidelineIssueQuerySerializer
    is_list = True

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no project
            return Review.objects.none()
        return guideline_issues(project=self.project, resolved=self.query["resolved"])

    @extend_schema(
        summary="Guideline issues of a project (reviewer, lead)",
        parameters=[s.GuidelineIssueQuerySerializer],
        responses=s.GuidelineIssueSerializer(many=True),
    )
    def get(self, request, slug):
        return self.paginated(self.get_queryset(), s.GuidelineIssueSerializer)


class GuidelineIssueResolveApi(ConcordApi):
    """Mark a guideline issue as dealt with: leads. Idempotent."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.LEAD}
    serializer_class = s.GuidelineIssueSerializer

    @extend_schema(
        summary="Resolve a guideline issue (lead)",
        description="404 when the item has no flagged decision.",
        request=None,
        responses={200: s.GuidelineIssueSerializer, **ERRORS},
    )
    def post(self, request, slug, item_id):
        review = _review_or_404(self.project, item_id)
        if not review.guidelines_unclear:
            raise NotFound
        guideline_issue_resolve(review=review)
        review.guideline_resolved = True
        return Response(s.GuidelineIssueSerializer(review).data)


# --- gold -------------------------------------------------------------------------------------


class ItemGoldApi(ConcordApi):
    """Set or clear an item's known answer: leads. A gold item leaves the overlap queue."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"PUT": Role.LEAD, "DELETE": Role.LEAD}
    serializer_class = s.GoldSerializer

    @extend_schema(
        summary="Make an item a gold item with this answer (lead)",
        description="400 names the field of `value` that does not fit the schema.",
        request=s.GoldSetSerializer,
        responses={200: s.GoldSerializer, **ERRORS},
    )
    def put(self, request, slug, item_id):
        item = _item_or_404(self.project, item_id)
        data = self.validated(s.GoldSetSerializer, request.data)
        item = gold_set(item=item, value=data["value"], user=request.user)
        return Response(s.GoldSerializer(item).data)

    @extend_schema(
        summary="Make a gold item an ordinary one again (lead)",
        description="It rejoins the labeling queue if it still needs annotations.",
        responses={204: None, **ERRORS},
    )
    def delete(self, request, slug, item_id):
        gold_clear(item=_item_or_404(self.project, item_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- review policy ----------------------------------------------------------------------------


def _policy_body(policy: ReviewPolicy, project: Project) -> dict:
    body = {name: getattr(policy, name) for name in POLICY_FIELDS}
    return {**body, "gold_rate": project.gold_rate}


class ReviewPolicyApi(ConcordApi):
    """How items are settled and agreement judged. Read: reviewers and leads. Change: leads."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER, "PATCH": Role.LEAD}
    serializer_class = s.ReviewPolicySerializer

    @extend_schema(
        summary="The review policy of a project (reviewer, lead)",
        responses={200: s.ReviewPolicySerializer, **ERRORS},
    )
    def get(self, request, slug):
        body = _policy_body(_policy_read(self.project), self.project)
        return Response(s.ReviewPolicySerializer(body).data)

    @extend_schema(
        summary="Change the review policy (lead)",
        description=(
            "Any subset of the fields. 400 names the field: thresholds lie in 0..1, the "
            "tentative threshold at most the agreement threshold, `gold_rate` in 0..0.5. The "
            "items not yet decided are settled again by a new rule, and the agreement figures are "
            "recomputed."
        ),
        request=s.ReviewPolicyUpdateSerializer,
        responses={200: s.ReviewPolicySerializer, **ERRORS},
    )
    def patch(self, request, slug):
        project = self.project
        current = _policy_body(_policy_read(project), project)
        data = self.validated(s.ReviewPolicyUpdateSerializer, request.data,
                              context={"current": current})  # fmt: skip
        policy = policy_update(project=project, user=request.user, **data)
        return Response(s.ReviewPolicySerializer(_policy_body(policy, project)).data)
