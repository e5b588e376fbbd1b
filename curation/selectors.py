"""Reads of projects, members and items, scoped by the caller through curation.access."""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from curation.models import Item, JobRun, Membership, Project


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
