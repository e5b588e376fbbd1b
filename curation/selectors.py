"""Reads of projects, members and items, scoped by the caller through curation.access."""

from django.db.models import Count, F, IntegerField, Min, OuterRef, QuerySet, Subquery, Sum, Window
from django.db.models.functions import Coalesce, RowNumber

from curation.models import ACTIVE_JOB_STATUSES, Item, JobRun, Membership, Project


def _count_subquery(queryset, field: str = "id"):
    counted = queryset.order_by().values("project").annotate(n=Count(field)).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def projects_with_progress(projects: QuerySet[Project]) -> QuerySet[Project]:
    """Adds `n_items`, `n_annotations` and `n_members` to each project, in one query."""
    items = Item.objects.filter(project=OuterRef("pk"))
    return projects.annotate(
        n_items=_count_subquery(items),
        n_annotations=_count_subquery(items, "annotations"),
        n_members=_count_subquery(Membership.objects.filter(project=OuterRef("pk"))),
    )


def progress_percent(project: Project) -> int:
    """Share of the annotations the project needs that exist, as a whole percentage."""
    needed = project.n_items * project.annotators_per_item
    return min(100, round(100 * project.n_annotations / needed)) if needed else 0


def project_members(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("role", "user__username")


def project_split_counts(*, project: Project) -> dict[str, int]:
    rows = project.items.order_by().values("split").annotate(n=Count("id"))
    return {row["split"]: row["n"] for row in rows}


def project_jobs(*, project: Project) -> QuerySet[JobRun]:
    return project.job_runs.select_related("created_by")


def project_active_import(*, project: Project) -> JobRun | None:
    return project.job_runs.filter(kind="import", status__in=ACTIVE_JOB_STATUSES).first()


def item_duplicate_groups(*, project: Project) -> QuerySet:
    """Exact duplicates: one row per content hash that more than one of the project's items
    share, as {"content_hash", "n", "first_id"}, largest groups first. One GROUP BY query, on
    the (project, content_hash) index."""
    return (
        project.items.order_by()
        .values("content_hash")
        .annotate(n=Count("id"), first_id=Min("id"))
        .filter(n__gt=1)
        .order_by("-n", "first_id")
    )


def item_duplicate_counts(*, project: Project) -> dict[str, int]:
    """{"groups": hashes shared by several items, "items": the items that share one}."""
    return item_duplicate_groups(project=project).aggregate(
        groups=Count("content_hash"), items=Coalesce(Sum("n"), 0)
    )


def items_by_hash(*, project: Project, hashes: list[str], per_hash: int) -> dict[str, list[dict]]:
    """The first `per_hash` items (by id) of each content hash in `hashes`, as
    {"external_id", "data"} dicts, in one query."""
    rank = Window(RowNumber(), partition_by=F("content_hash"), order_by=F("id").asc())
    rows = (
        project.items.filter(content_hash__in=hashes)
        .annotate(rank=rank)
        .filter(rank__lte=per_hash)
        .order_by("content_hash", "id")
        .values("content_hash", "external_id", "data")
    )
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row.pop("content_hash"), []).append(row)
    return grouped
