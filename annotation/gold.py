"""Gold (honeypot) items: items whose answer a lead knows. They are mixed into every annotator's
stream at the project's gold rate, look like any other item, and need no review; an annotator's
answers on them give their accuracy."""

from django.core.exceptions import ValidationError
from django.db import transaction

from annotation import assignment
from annotation.models import LabelSchema
from annotation.schemas import value_problems
from curation.models import AuditKind, Item
from curation.services import audit


def gold_set(*, item: Item, value, user) -> Item:
    """Makes `item` a gold item with the known answer `value` (checked against the schema)."""
    schema = LabelSchema.objects.filter(project=item.project).first()
    kind, config = (schema.kind, schema.config) if schema else (None, None)
    problems = value_problems(kind, config, value, data=item.data)
    if problems:
        raise ValidationError({f"value.{f}" if f else "value": [m] for f, m in problems})
    with transaction.atomic():
        locked = Item.objects.select_for_update(of=("self",)).get(pk=item.pk)
        locked.gold, locked.queue_rank = value, assignment.FULL
        locked.save(update_fields=["gold", "queue_rank"])
        audit(AuditKind.GOLD_CHANGED, actor=user, project=item.project, item=item.pk, gold=True)
    return locked


def gold_clear(*, item: Item, user) -> Item:
    """Makes a gold item an ordinary one again; it rejoins the queue if it still has room."""
    with transaction.atomic():
        locked = (
            Item.objects.select_for_update(of=("self",)).select_related("project").get(pk=item.pk)
        )
        locked.gold = None
        locked.queue_rank = assignment.queue_rank(
            capacity=locked.project.annotators_per_item,
            annotations=locked.annotation_count,
            leases=locked.lease_count,
            outside=locked.dropped_at is not None,
        )
        locked.save(update_fields=["gold", "queue_rank"])
        audit(AuditKind.GOLD_CHANGED, actor=user, project=item.project, item=item.pk, gold=False)
    return locked
