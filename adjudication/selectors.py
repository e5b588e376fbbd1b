"""Reads of the adjudication app for the review pages, the API and the dashboard.

Every function takes a project reached through `curation.access.project_for_member` (reviewers
and leads). Counts are single queries on the review indexes, whatever the project's size.
"""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from adjudication.models import AgreementSnapshot, Review, ReviewEvent, ReviewStatus
from adjudication.services import QUEUE_ORDERS
from annotation.models import Annotation, Skip
from curation.models import Item, Project


@dataclass(frozen=True)
class QueueCounts:
    waiting: int
    claimed: int  # of the waiting ones, held by a reviewer now
    decided: int
    settled: int  # settled by the project's rule
    flagged: int  # decisions flagged "guidelines unclear", not yet resolved


def queue_counts(*, project: Project, now=None) -> QueueCounts:
    now = now or timezone.now()
    found = Review.objects.filter(project=project).aggregate(
        waiting=Count("pk", filter=Q(status=ReviewStatus.WAITING)),
        claimed=Count("pk", filter=Q(status=ReviewStatus.WAITING, claim_expires_at__gt=now)),
        decided=Count("pk", filter=Q(status=ReviewStatus.DECIDED)),
        settled=Count("pk", filter=Q(status=ReviewStatus.AUTO)),
        flagged=Count("pk", filter=Q(guidelines_unclear=True, guideline_resolved=False)),
    )
    return QueueCounts(**found)


def review_queue(*, project: Project, order: str = "oldest") -> QuerySet[Review]:
    """Waiting reviews in `order` ("oldest" or "disagreement", QUEUE_ORDERS; anything else is
    the caller's 400)."""
    waiting = Review.objects.filter(project=project, status=ReviewStatus.WAITING)
    return waiting.select_related("item", "claimed_by").order_by(*QUEUE_ORDERS[order])


def decided_reviews(*, project: Project) -> QuerySet[Review]:
    decided = Review.objects.filter(project=project, status=ReviewStatus.DECIDED)
    return decided.select_related("item", "decided_by").order_by("-decided_at", "-pk")


def review_for(*, project: Project, item_id: int) -> Review | None:
    found = Review.objects.filter(project=project, item_id=item_id)
    return found.select_related("item", "claimed_by", "decided_by").first()


def guideline_issues(*, project: Project, resolved: bool = False) -> QuerySet[Review]:
    flagged = Review.objects.filter(
        project=project, guidelines_unclear=True, guideline_resolved=resolved
    )
    return flagged.select_related("item", "decided_by").order_by("-decided_at", "-pk")


def review_events(*, review: Review) -> QuerySet[ReviewEvent]:
    return review.events.select_related("actor").order_by("created_at", "pk")


@dataclass(frozen=True)
class Given:
    """One annotation as the review page shows it."""

    annotator_id: int
    name: str  # the user name, or "Annotator 2" when the project anonymises
    value: object
    seconds_spent: float | None
    presentation: dict
    created_at: object
    record: dict  # the annotator's track record on this project (from the agreement figures)


def annotations_given(*, item: Item, anonymize: bool, track: dict | None = None) -> list[Given]:
    """Every annotation of `item`, oldest first, with who gave it (or a stable stand-in)."""
    rows = Annotation.objects.filter(item=item).select_related("annotator").order_by("pk")
    track = track or {}
    return [
        Given(
            annotator_id=a.annotator_id,
            name=f"Annotator {i}" if anonymize else a.annotator.get_username(),
            value=a.value,
            seconds_spent=a.seconds_spent,
            presentation=a.presentation,
            created_at=a.created_at,
            record=track.get(str(a.annotator_id), {}),
        )
        for i, a in enumerate(rows, start=1)
    ]


def snapshot_for(*, project: Project) -> AgreementSnapshot | None:
    return AgreementSnapshot.objects.filter(project=project).first()


def track_records(*, project: Project) -> dict:
    """{annotator id as str: {"items", "agreement", "gold_accuracy", "median_seconds",
    "skips"}} from the last agreement computation (empty before the first)."""
    snapshot = snapshot_for(project=project)
    if snapshot is None:
        return {}
    rows = snapshot.data.get("per_annotator", [])
    return {str(row["annotator_id"]): row for row in rows if "annotator_id" in row}


def skips_by_annotator(*, project: Project) -> dict[int, int]:
    skips = Skip.objects.filter(item__project=project).order_by()
    return dict(skips.values_list("annotator_id").annotate(n=Count("pk")))
