"""Synthetic batches: items with source "synthetic" that arrived in one import stay out of
dataset versions until an audit of the batch passes (see SyntheticBatch).

The rule, kept simple so that no synthetic item slips into a version unaudited: every item
whose source is "synthetic" is held back until a batch holding it passes. A committed import
collects the project's synthetic items that are in no batch yet into a new batch: one import
runs per project at a time, so those are its own synthetic items, plus any added one by one
through the item API since the last import (they wait, held back, for the next import; a lead
may also collect them into a batch of their own on the batches page).

A batch's status follows its latest complete audit (every sample judged): the estimated error
rate (incorrect / judged, the point estimate; the Wilson interval is shown beside it) at or
below the batch's `max_error_rate` passes it, above fails it; with no complete audit it is
held. A new audit can be drawn for a failed batch, and changing the threshold re-decides.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from curation.bulk import bulk_insert
from curation.models import (
    AuditEvent,
    AuditKind,
    BatchItem,
    BatchStatus,
    Item,
    JobRun,
    Project,
    SampleAudit,
    SyntheticBatch,
    Verdict,
)
from curation.proportions import ErrorRate

SYNTHETIC = "synthetic"


# --- selectors --------------------------------------------------------------------------------


def items_held_back(*, project: Project):
    """Ids of the project's items held out of versions: members of a batch that has not
    passed its audit, and synthetic items in no batch yet (a queryset of item ids, to use in
    `exclude(pk__in=...)`)."""
    in_open_batch = Q(synthetic_batch__isnull=False) & ~Q(
        synthetic_batch__batch__status=BatchStatus.PASSED
    )
    loose = Q(source=SYNTHETIC, synthetic_batch__isnull=True)
    return Item.objects.filter(project=project).filter(in_open_batch | loose).values("pk")


def loose_synthetic_items(*, project: Project) -> QuerySet:
    """The project's synthetic items that are in no batch yet."""
    member = BatchItem.objects.filter(item=OuterRef("pk"))
    return Item.objects.filter(project=project, source=SYNTHETIC).exclude(Exists(member))


def project_batches(*, project: Project) -> QuerySet:
    """The project's batches, newest first, each with `audit_count`."""
    return project.synthetic_batches.annotate(audit_count=Count("audits")).order_by(
        "-created_at", "-id"
    )


def project_batch(*, project: Project, batch_id: int) -> SyntheticBatch:
    """Batch `batch_id` of `project`, or 404 (a batch of another project is not found)."""
    batch = project.synthetic_batches.filter(pk=batch_id).first()
    if batch is None:
        raise Http404("No such batch.")
    return batch


@dataclass(frozen=True)
class AuditResult:
    audit: SampleAudit
    rate: ErrorRate


def latest_complete_audit(*, batch: SyntheticBatch) -> AuditResult | None:
    """The batch's newest audit with every sample judged, and its error rate; None if none."""
    audits = (
        batch.audits.annotate(
            sampled=Count("samples"),
            pending=Count("samples", filter=Q(samples__verdict=Verdict.PENDING)),
            wrong=Count("samples", filter=Q(samples__verdict=Verdict.INCORRECT)),
        )
        .filter(sampled__gt=0, pending=0)
        .order_by("-created_at", "-id")
    )
    audit = audits.first()
    if audit is None:
        return None
    return AuditResult(audit, ErrorRate(None, audit.sampled, audit.sampled, audit.wrong))


# --- services ---------------------------------------------------------------------------------


def batch_record_import(*, run: JobRun, filename: str) -> SyntheticBatch | None:
    """Collects the project's synthetic items in no batch into a new held batch named after
    the imported file; None when there are none. Runs inside the import's transaction, so an
    import that rolls back leaves no batch."""
    return _collect(project=run.project, run=run, name=filename)


def batch_collect_loose(*, project: Project, user) -> SyntheticBatch | None:
    """A lead's batch of the synthetic items that arrived one by one (none: None)."""
    with transaction.atomic():
        batch = _collect(project=project, run=None, name="Synthetic items added one by one")
        if batch is not None:
            _event(batch, user, {"batch": batch.pk, "collected": batch.item_count})
    return batch


def _collect(*, project: Project, run: JobRun | None, name: str) -> SyntheticBatch | None:
    # Ids first: on PostgreSQL the insert is a COPY, which holds the connection.
    ids = list(loose_synthetic_items(project=project).values_list("pk", flat=True))
    if not ids:
        return None
    batch = SyntheticBatch.objects.create(
        project=project, run=run, name=name[:255], item_count=len(ids)
    )
    bulk_insert(BatchItem, ["batch", "item"], ((batch.pk, item_id) for item_id in ids))
    return batch


def batch_threshold_set(*, batch: SyntheticBatch, user, max_error_rate: float) -> SyntheticBatch:
    """Sets the error rate a batch's audit may show at most (0 to 1), and decides the batch
    again from its latest complete audit. Writes an AuditEvent."""
    if not isinstance(max_error_rate, int | float) or not 0.0 <= max_error_rate <= 1.0:
        raise ValidationError({"max_error_rate": ["Give a rate between 0 and 1 (0.05 is 5%)."]})
    with transaction.atomic():
        locked = SyntheticBatch.objects.select_for_update().get(pk=batch.pk)
        old = locked.max_error_rate
        locked.max_error_rate = float(max_error_rate)
        locked.save(update_fields=["max_error_rate"])
        batch_decide(batch=locked)
        detail = {"batch": locked.pk, "old": old, "new": locked.max_error_rate,
                  "status": locked.status}  # fmt: skip
        _event(locked, user, detail)
    return locked


def batch_decide(*, batch: SyntheticBatch) -> SyntheticBatch:
    """Sets the batch's status from its latest complete audit (see the module's docstring).
    The caller holds the transaction (and the batch's or the audit's row lock)."""
    result = latest_complete_audit(batch=batch)
    if result is None:
        status = BatchStatus.HELD
    elif result.rate.rate <= batch.max_error_rate:
        status = BatchStatus.PASSED
    else:
        status = BatchStatus.FAILED
    if status != batch.status:
        batch.status = status
        batch.decided_at = None if status == BatchStatus.HELD else timezone.now()
        batch.save(update_fields=["status", "decided_at"])
    return batch


def _event(batch: SyntheticBatch, user, detail: dict) -> None:
    AuditEvent.objects.create(
        kind=AuditKind.SYNTHETIC_BATCH_CHANGED, actor=user, project=batch.project, detail=detail
    )
