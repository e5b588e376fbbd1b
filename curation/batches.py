"""Synthetic batches: items with source "synthetic" that arrived in one import stay out of
dataset versions until an audit of the batch passes (see SyntheticBatch)."""

from curation.models import BatchItem, BatchStatus, Project


def items_held_back(*, project: Project):
    """Ids of the project's items whose synthetic batch has not passed its audit (a queryset
    of item ids, to use in `exclude(pk__in=...)`)."""
    return (
        BatchItem.objects.filter(batch__project=project)
        .exclude(batch__status=BatchStatus.PASSED)
        .values("item_id")
    )
