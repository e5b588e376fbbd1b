"""One lease per annotator and project, as a constraint: "next item" no longer needs a
transaction and a lock on the member's row to keep two calls of one annotator from taking two
items (ASG-4). Replaces the plain index on the same columns."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count

FULL, STARTED, NEW = 0, 1, 2  # annotation.assignment's queue ranks, as of this migration


def keep_one_lease_per_annotator(apps, schema_editor):
    """Before the constraint: where an annotator holds several leases in a project, keep the
    one that lasts longest and give the others' items their room back (counters and rank)."""
    Lease = apps.get_model("annotation", "Lease")
    Item = apps.get_model("curation", "Item")
    doubled = (Lease.objects.values("annotator_id", "project_id").annotate(n=Count("id"))
               .filter(n__gt=1))  # fmt: skip
    for pair in doubled:
        leases = Lease.objects.filter(annotator_id=pair["annotator_id"],
                                      project_id=pair["project_id"])  # fmt: skip
        keep = leases.order_by("-expires_at", "-id").first()
        item_ids = list(leases.exclude(pk=keep.pk).values_list("item_id", flat=True))
        leases.exclude(pk=keep.pk).delete()
        for item in Item.objects.filter(pk__in=item_ids).select_related("project"):
            item.lease_count = Lease.objects.filter(item_id=item.pk).count()
            taken = item.annotation_count + item.lease_count
            outside = item.gold is not None or item.dropped_at is not None
            item.queue_rank = (FULL if outside or taken >= item.project.annotators_per_item
                               else STARTED if taken else NEW)  # fmt: skip
            item.save(update_fields=["lease_count", "queue_rank"])


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0004_annotation_imported'),
        ('curation', '0019_item_project_split_partial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(keep_one_lease_per_annotator, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name='lease',
            name='lease_annotator_project',
        ),
        migrations.AddConstraint(
            model_name='lease',
            constraint=models.UniqueConstraint(fields=('annotator', 'project'), name='lease_one_per_annotator_project'),
        ),
    ]
