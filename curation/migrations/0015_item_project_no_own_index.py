# The item table's project_id index duplicated the leading column of its unique
# (project_id, external_id) index, and every insert paid for both. Only the index is dropped:
# the foreign key stays as it is (AlterField would drop and re-check it over every item).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0014_signature_blocks"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="item",
                    name="project",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="items",
                        to="curation.project",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS curation_item_project_id_b2cc4c0d",
                    "CREATE INDEX curation_item_project_id_b2cc4c0d ON curation_item (project_id)",
                ),
            ],
        ),
    ]
