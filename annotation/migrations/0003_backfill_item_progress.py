from django.db import migrations

# Items created before labeling progress was tracked get their counts and queue rank from the
# annotations that exist (no leases exist yet).
FORWARD = """
UPDATE curation_item SET annotation_count = (
    SELECT COUNT(*) FROM annotation_annotation a WHERE a.item_id = curation_item.id
);
UPDATE curation_item SET queue_rank = CASE
    WHEN annotation_count >= (
        SELECT p.annotators_per_item FROM curation_project p WHERE p.id = curation_item.project_id
    ) THEN 0
    WHEN annotation_count > 0 THEN 1
    ELSE 2
END;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0002_labeling"),
        ("curation", "0004_item_labeling_progress"),
    ]

    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop)]
