"""One lease per annotator and project, held by a unique constraint (ASG-4): "next item" needs no
transaction around it, an expired lease of the annotator's own that nobody reclaimed yet does
not stop them, and the migration that brought the constraint keeps one lease of several."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation.models import Lease
from annotation.services import assignment_next
from curation.models import Item, Role
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    project = ProjectFactory(annotators_per_item=2)
    items = ItemFactory.create_batch(4, project=project)
    anna, bert = UserFactory(), UserFactory()
    for user in (anna, bert):
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    return project, items, anna, bert


def counters_match_rows(project) -> bool:
    return all(
        item.lease_count == item.leases.count()
        and item.annotation_count == item.annotations.count()
        for item in Item.objects.filter(project=project)
    )


def test_a_second_lease_in_the_same_project_is_refused_by_the_database(team):
    project, (first, second, *_), anna, _ = team
    later = timezone.now() + timedelta(minutes=5)
    Lease.objects.create(item=first, annotator=anna, project=project, expires_at=later)
    with pytest.raises(IntegrityError), transaction.atomic():
        Lease.objects.create(item=second, annotator=anna, project=project, expires_at=later)


def test_an_unreclaimed_expired_lease_of_ones_own_is_ended_and_the_next_one_given(team):
    project, _, anna, bert = team
    now = timezone.now()
    old = assignment_next(project=project, annotator=anna, now=now)
    Lease.objects.filter(pk=old.pk).update(expires_at=now - timedelta(seconds=1))
    # The caller says no lease has expired (as a read made a moment earlier would): the new
    # lease is refused by the constraint, the expired one is reclaimed, and the call retried.
    fresh = assignment_next(project=project, annotator=anna, now=now, expired=False)
    assert fresh is not None
    assert list(Lease.objects.filter(annotator=anna).values_list("pk", flat=True)) == [fresh.pk]
    assert fresh.expires_at > now
    assert counters_match_rows(project)
    assert assignment_next(project=project, annotator=bert, now=now) is not None
    assert counters_match_rows(project)


def test_nothing_left_is_none_and_writes_nothing(team):
    project, items, anna, _ = team
    for item in items:
        item.queue_rank = 0
        item.save()
    assert assignment_next(project=project, annotator=anna) is None
    assert not Lease.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="DDL inside the test's transaction")
def test_the_migration_keeps_the_longest_lease_and_recounts_the_others(team):
    project, (first, second, third, _), anna, bert = team
    migration = importlib.import_module("annotation.migrations.0005_one_lease_per_annotator")
    constraint = next(c for c in Lease._meta.constraints
                      if c.name == "lease_one_per_annotator_project")  # fmt: skip
    now = timezone.now()
    with connection.schema_editor() as editor:
        editor.remove_constraint(Lease, constraint)
    shortest = Lease.objects.create(item=first, annotator=anna, project=project,
                                    expires_at=now + timedelta(minutes=1))  # fmt: skip
    longest = Lease.objects.create(item=second, annotator=anna, project=project,
                                   expires_at=now + timedelta(minutes=9))  # fmt: skip
    other = Lease.objects.create(item=third, annotator=bert, project=project,
                                 expires_at=now + timedelta(minutes=1))  # fmt: skip
    for item in (first, second, third):
        Item.objects.filter(pk=item.pk).update(lease_count=1, queue_rank=1)

    migration.keep_one_lease_per_annotator(apps, None)

    assert set(Lease.objects.values_list("pk", flat=True)) == {longest.pk, other.pk}
    assert not Lease.objects.filter(pk=shortest.pk).exists()
    first.refresh_from_db()
    assert (first.lease_count, first.queue_rank) == (0, 2)  # back to NEW: nobody on it
    assert counters_match_rows(project)
    connection.check_constraints()  # no deferred checks pending before the DDL
    with connection.schema_editor() as editor:
        editor.add_constraint(Lease, constraint)
