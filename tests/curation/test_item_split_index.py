"""The index on (project, split) leaves unassigned items out: a fresh import, every row of it
unassigned, then writes one index fewer, while the queries that pick items by split (the split
views, the leakage checks, the API's split filter) still find theirs through it."""

import pytest
from django.conf import settings
from django.db import connection

from curation.models import Item, Split
from tests.factories import ItemFactory, ProjectFactory

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (query plans): set DATABASE_URL"),
    pytest.mark.django_db,
]


def plan(queryset) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is small enough to scan
        return queryset.explain()


@pytest.fixture
def project():
    project = ProjectFactory()
    for i, split in enumerate(["unassigned"] * 6 + ["train", "dev", "test"]):
        ItemFactory(project=project, external_id=f"i{i}", split=split)
    return project


def test_items_of_a_split_are_found_through_the_index(project):
    for queryset in (
        Item.objects.filter(project=project, split=Split.TEST),
        Item.objects.filter(project=project).exclude(split=Split.UNASSIGNED),
        Item.objects.filter(project=project, split__in=[Split.TRAIN, Split.DEV]),
    ):
        assert "item_project_split" in plan(queryset)
    assert Item.objects.filter(project=project).exclude(split=Split.UNASSIGNED).count() == 3


def test_unassigned_items_stay_out_of_the_index(project):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef('item_project_split'::regclass)")
        (definition,) = cursor.fetchone()
    assert "WHERE" in definition and "unassigned" in definition
    unassigned = Item.objects.filter(project=project, split=Split.UNASSIGNED)
    assert "item_project_split" not in plan(unassigned)
