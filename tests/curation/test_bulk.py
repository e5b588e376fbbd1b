"""curation.bulk.bulk_insert: COPY on PostgreSQL, bulk_create elsewhere, and the same Django
errors either way (so a lost connection under a COPY is a 503, not a 500)."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from curation.bulk import bulk_insert
from curation.models import Item
from tests.factories import ProjectFactory

FIELDS = ["project", "external_id", "data", "metadata", "content_hash", "split", "source",
          "priority", "created_at"]  # fmt: skip
NOW = timezone.now()


@pytest.mark.django_db
def test_rows_land_with_their_json():
    project = ProjectFactory()
    rows = [(project.pk, f"b-{i}", {"text": f"t{i}"}, {"k": i}, f"{i:064x}", "train", "", 0, NOW)
            for i in range(3)]  # fmt: skip
    assert bulk_insert(Item, FIELDS, rows) == 3
    stored = Item.objects.filter(project=project).order_by("external_id")
    assert [(i.external_id, i.data, i.metadata) for i in stored] == [
        (f"b-{i}", {"text": f"t{i}"}, {"k": i}) for i in range(3)
    ]


@pytest.mark.django_db
def test_a_database_error_under_copy_is_djangos_error():
    project = ProjectFactory()
    row = (project.pk, "same", {"text": "x"}, {}, "0" * 64, "train", "", 0, NOW)
    with pytest.raises(IntegrityError), transaction.atomic():  # django.db's, not psycopg's
        bulk_insert(Item, FIELDS, [row, row])
    assert not Item.objects.filter(project=project).exists()
