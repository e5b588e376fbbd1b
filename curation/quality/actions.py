"""What a lead does about findings: drop items, move leaked items to another split, keep one
item of a near-duplicate cluster, or say the finding is not a problem.

Every action takes the project and refuses the whole request when an id is not one of its items
(AUTHZ-5: no partial success). Dropping never deletes: the item keeps its annotations and leaves
the labeling queue, exports and quality jobs.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from curation.models import (
    AuditKind,
    Finding,
    FindingKind,
    FindingStatus,
    Item,
    Project,
    QueueRank,
    Split,
)
from curation.quality.findings import finding_resolve
from curation.services import audit


def _own_items(project: Project, item_ids) -> list[int]:
    ids = sorted({int(i) for i in item_ids})
    found = set(Item.objects.filter(project=project, pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError({"items": [f"Not items of this project: {missing[:20]}."]})
    return ids


def items_drop(*, project: Project, item_ids, user, note: str = "") -> int:
    """Drops the items: they leave the queue, exports and later quality jobs. Idempotent."""
    ids = _own_items(project, item_ids)
    with transaction.atomic():
        dropped = Item.objects.filter(project=project, pk__in=ids, dropped_at__isnull=True).update(
            dropped_at=timezone.now(), queue_rank=QueueRank.FULL
        )
        audit(AuditKind.ITEMS_DROPPED, actor=user, project=project, items=ids[:1000],
              count=len(ids), note=note[:200])  # fmt: skip
    return dropped


def items_move(*, project: Project, item_ids, split: str, user) -> int:
    """Moves the items to `split` (e.g. a leaked test item to train)."""
    if split not in Split.values:
        raise ValidationError({"split": [f"Use one of: {', '.join(Split.values)}."]})
    ids = _own_items(project, item_ids)
    with transaction.atomic():
        moved = (
            Item.objects.filter(project=project, pk__in=ids)
            .exclude(split=split)
            .update(split=split)
        )
        audit(AuditKind.ITEMS_MOVED, actor=user, project=project, items=ids[:1000],
              count=len(ids), split=split)  # fmt: skip
    return moved


def cluster_keep_one(*, finding: Finding, keep: int, user) -> Finding:
    """Keeps item `keep` of a near-duplicate cluster and drops the others."""
    if finding.kind != FindingKind.NEAR_DUPLICATE:
        raise ValidationError({"finding": ["Only a near-duplicate cluster has items to keep."]})
    members = [finding.item_id, *finding.items]
    if keep not in members:
        raise ValidationError({"keep": ["Keep one of the cluster's own items."]})
    with transaction.atomic():
        items_drop(project=finding.project, item_ids=[i for i in members if i != keep],
                   user=user, note=f"near-duplicates of item {keep}")  # fmt: skip
        return finding_resolve(finding=finding, user=user, status=FindingStatus.FIXED,
                               note=f"Kept item {keep}, dropped the rest.")  # fmt: skip


def leaked_items_act(*, finding: Finding, action: str, user) -> Finding:
    """Moves the leaked item to train ("move") or drops it ("drop"), and resolves the finding."""
    if finding.kind != FindingKind.LEAKAGE:
        raise ValidationError({"finding": ["Only a leakage finding has a leaked item."]})
    with transaction.atomic():
        if action == "move":
            items_move(project=finding.project, item_ids=[finding.item_id], split=Split.TRAIN,
                       user=user)  # fmt: skip
            note = "Moved the leaked item to train."
        elif action == "drop":
            items_drop(project=finding.project, item_ids=[finding.item_id], user=user,
                       note="leaked into training data")  # fmt: skip
            note = "Dropped the leaked item."
        else:
            raise ValidationError({"action": ["Use move or drop."]})
        return finding_resolve(finding=finding, user=user, status=FindingStatus.FIXED, note=note)
