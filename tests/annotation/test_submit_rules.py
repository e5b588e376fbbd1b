"""Who may submit a new annotation (assignment.may_submit), as the store statement spells it on
PostgreSQL and the ORM path on SQLite: a live lease always, an expired one or none only while
the item has room, a gold item always. A refused submit leaves the lease and the counters as
they were."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Annotation, Lease
from annotation.services import Conflict, annotation_submit, assignment_next
from curation.models import Item, Role
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    project = ProjectFactory(annotators_per_item=2)
    item = ItemFactory(project=project)
    users = UserFactory.create_batch(3)
    for user in users:
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    return project, item, users


def state(item) -> tuple:
    item.refresh_from_db()
    leases = sorted(Lease.objects.filter(item=item).values_list("annotator_id", flat=True))
    return item.annotation_count, item.lease_count, item.queue_rank, leases


def lease_of(project, user, *, expired: bool):
    lease = assignment_next(project=project, annotator=user)
    if expired:
        Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    return lease


def test_an_expired_lease_on_an_item_the_others_filled_is_refused_and_kept(setup):
    project, item, (anna, bert, carl) = setup
    anna_lease = lease_of(project, anna, expired=False)
    lease_of(project, bert, expired=False)
    annotation_submit(item=item, annotator=bert, value={"label": "x"})
    Lease.objects.filter(pk=anna_lease.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    Lease.objects.create(item=item, annotator=carl, project=project,
                         expires_at=timezone.now() + timedelta(minutes=5))  # fmt: skip
    Item.objects.filter(pk=item.pk).update(lease_count=2, queue_rank=0)
    before = state(item)
    with pytest.raises(Conflict):
        annotation_submit(item=item, annotator=anna, value={"label": "x"})
    assert before[3] == sorted([anna.pk, carl.pk])
    assert state(item) == before  # anna's expired lease and the counters, as they were
    assert not Annotation.objects.filter(annotator=anna).exists()


def test_an_expired_lease_with_room_left_is_accepted_and_ended(setup):
    project, item, (anna, *_) = setup
    lease_of(project, anna, expired=True)
    annotation, created = annotation_submit(item=item, annotator=anna, value={"label": "x"})
    assert created and annotation.annotator == anna
    assert state(item) == (1, 0, 1, [])  # STARTED: one more annotator may take it


def test_a_live_lease_is_accepted_even_when_the_others_filled_the_rest(setup):
    project, item, (anna, bert, _) = setup
    lease_of(project, anna, expired=False)
    lease_of(project, bert, expired=False)
    annotation_submit(item=item, annotator=bert, value={"label": "x"})
    annotation, created = annotation_submit(item=item, annotator=anna, value={"label": "y"})
    assert created
    assert state(item) == (2, 0, 0, [])  # FULL


def test_a_gold_item_takes_everyones_answer(setup):
    project, item, (anna, bert, carl) = setup
    Item.objects.filter(pk=item.pk).update(gold={"label": "x"}, queue_rank=0)
    for user in (anna, bert, carl):
        assert annotation_submit(item=item, annotator=user, value={"label": "x"})[1] is True
    assert state(item)[:2] == (3, 0)


def test_a_second_answer_of_ones_own_replaces_the_first(setup):
    project, item, (anna, *_) = setup
    first, _ = annotation_submit(item=item, annotator=anna, value={"label": "x"})
    again, created = annotation_submit(item=item, annotator=anna, value={"label": "y"})
    assert (created, again.pk, again.value) == (False, first.pk, {"label": "y"})
    assert state(item)[:2] == (1, 0)
