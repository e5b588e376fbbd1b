"""Many annotators at once on PostgreSQL: no item past its overlap, no item twice for anyone, no
answer lost, no lease left behind (ASG-1 to ASG-4). Real threads with their own connections;
SQLite runs one write transaction at a time, so these races cannot happen there."""

import threading
import uuid

import pytest
from django.conf import settings
from django.db import connections
from django.db.models import Count
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation import fastpath, services
from annotation.models import Annotation, Lease
from annotation.services import Conflict, annotation_submit, annotation_submit_as, assignment_next
from curation.models import Item, Role
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="needs PostgreSQL (SKIP LOCKED and row locks): set DATABASE_URL=postgres://...",
    ),
    pytest.mark.django_db(transaction=True),
]


def in_threads(work, arguments: list) -> list:
    """Runs work(argument) on one thread each, released together; returns results in order.
    Each thread closes its database connection when done."""
    barrier = threading.Barrier(len(arguments))
    results: list = [None] * len(arguments)

    def run(index, argument):
        try:
            barrier.wait()
            results[index] = work(argument)
        except Exception as exc:  # reported by the test, not lost in the thread
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(arguments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def team_of(n: int, *, overlap: int, items: int):
    project = ProjectFactory(annotators_per_item=overlap)
    users = UserFactory.create_batch(n)
    for user in users:
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    ItemFactory.create_batch(items, project=project)
    return project, users


def test_thirty_annotators_label_everything_exactly_to_the_overlap():
    project, users = team_of(30, overlap=3, items=200)
    next_url = reverse("api:assignment-next", kwargs={"slug": project.slug})

    def label_until_empty(user) -> dict:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        created, seen = 0, []
        while (response := client.post(next_url, {}, format="json")).status_code == 200:
            item_id = response.json()["item"]["id"]
            seen.append(item_id)
            body = {"value": {"label": "x"}, "submission_key": uuid.uuid4().hex}
            url = reverse("api:annotation-list", kwargs={"item_id": item_id})
            answer = client.post(url, body, format="json")
            assert answer.status_code == 201, answer.content
            created += 1
        assert response.status_code == 204, response.content
        return {"created": created, "seen": seen}

    results = in_threads(label_until_empty, users)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []
    for result in results:
        assert len(result["seen"]) == len(set(result["seen"])), "an item was offered twice"
    stored = Annotation.objects.filter(item__project=project)
    assert sum(r["created"] for r in results) == stored.count() == 600
    per_item = stored.values("item").annotate(n=Count("id")).values_list("n", flat=True)
    assert sorted(set(per_item)) == [3] and len(per_item) == 200
    pairs = stored.values("item", "annotator").annotate(n=Count("id")).filter(n__gt=1)
    assert not pairs.exists()
    assert not Lease.objects.filter(project=project).exists()
    counters = Item.objects.filter(project=project).values_list(
        "annotation_count", "lease_count", "queue_rank"
    )
    assert set(counters) == {(3, 0, 0)}


def test_racing_submits_without_leases_stop_at_the_overlap():
    project, users = team_of(10, overlap=3, items=1)
    item = project.items.get()

    def answer(user):
        try:
            return annotation_submit(item=item, annotator=user, value={"label": user.username})[1]
        except Conflict:
            return "conflict"

    results = in_threads(answer, users)
    assert sorted(map(str, results)) == ["True"] * 3 + ["conflict"] * 7
    assert Annotation.objects.filter(item=item).count() == 3
    item.refresh_from_db()
    assert (item.annotation_count, item.lease_count, item.queue_rank) == (3, 0, 0)


def test_two_tabs_asking_for_the_next_item_at_once_get_the_same_lease():
    """ASG-4 under a race: the second call waits for the first and returns its lease."""
    project, (user,) = team_of(1, overlap=3, items=20)
    for _ in range(5):
        leases = in_threads(lambda u: assignment_next(project=project, annotator=u), [user] * 4)
        assert len({lease.pk for lease in leases}) == 1, leases
        assert Lease.objects.filter(annotator=user).count() == 1
        annotation_submit(item=leases[0].item, annotator=user, value={"label": "x"})


def test_two_tabs_calling_next_through_the_api_at_once_get_the_same_lease():
    """ASG-4 on the API's short path, whose statement finds the member by token once the process
    knows them: four calls of one token at once take one lease between them."""
    project, (user,) = team_of(1, overlap=3, items=20)
    token = Token.objects.create(user=user).key
    next_url = reverse("api:assignment-next", kwargs={"slug": project.slug})

    def call_next(_):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = client.post(next_url, {}, format="json")
        assert response.status_code == 200, response.content
        return response.json()["item"]["id"]

    for _ in range(5):  # the first round meets the token; the others take the folded statement
        items = in_threads(call_next, [None] * 4)
        assert len(set(items)) == 1, items
        assert Lease.objects.filter(annotator=user).count() == 1
        item = Item.objects.get(pk=items[0])
        annotation_submit(item=item, annotator=user, value={"label": "x"})
    assert Annotation.objects.filter(annotator=user).count() == 5


def _waiting_on_a_lock(thread_id: int) -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else read once per transaction
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND application_name = %s", [f"submit-{thread_id}"])  # fmt: skip
        return cursor.fetchone()[0] > 0


@pytest.mark.parametrize("path", ["transaction", "one statement"])
@pytest.mark.parametrize("change", ["reclaim", "own lease"])
def test_a_submit_waiting_on_the_item_reads_what_the_holder_committed(change, path, monkeypatch):
    """A submit that waits for the item's lock while another transaction changes the
    submitter's lease on the item works from what that one committed, not from what the
    database held when the submit began: the store statement sees the item's row changed
    under it and runs again. Either change read stale would leave the lease counter off by one
    (reclaim), or a lease on an item its annotator has done (own lease). The same holds for
    the one statement that stores a submit outside a transaction (its lock ends with it)."""
    import time
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from annotation.services import leases_reclaim

    project = ProjectFactory(annotators_per_item=3)
    item = ItemFactory(project=project)
    anna, bert = UserFactory.create_batch(2)
    for user in (anna, bert):
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    if change == "reclaim":  # anna's lease ran out; a reclaim ends it while she submits
        assignment_next(project=project, annotator=bert)
        assignment_next(project=project, annotator=anna)
        Lease.objects.filter(annotator=anna).update(expires_at=timezone.now() - timedelta(1))
    token = Token.objects.create(user=anna).key
    services._remember_schema(token, None, None)  # the project has none: any object
    calls = []
    quick = fastpath.annotation_store_quick
    monkeypatch.setattr(fastpath, "annotation_store_quick",
                        lambda **kwargs: calls.append(quick(**kwargs)) or calls[-1])  # fmt: skip
    result = {}

    def submit():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET application_name = %s", [f"submit-{threading.get_ident()}"])
            if path == "transaction":
                result["stored"] = annotation_submit(item=item, annotator=anna, value={"x": 1})
            else:
                result["stored"] = annotation_submit_as(token=token, item_id=item.pk,
                                                        value={"x": 1})  # fmt: skip
        except Exception as exc:
            result["error"] = exc
        finally:
            connections.close_all()

    with transaction.atomic():
        Item.objects.select_for_update().get(pk=item.pk)  # the holder takes the lock first
        thread = threading.Thread(target=submit)
        thread.start()
        deadline = time.monotonic() + 30
        while not _waiting_on_a_lock(thread.ident):
            assert time.monotonic() < deadline, "the submit never waited for the item"
            time.sleep(0.02)
        if change == "reclaim":
            leases_reclaim(project=project)  # ends anna's lease: the counters drop by one
        else:  # anna, submitting with no lease, is given the item in another tab
            assert assignment_next(project=project, annotator=anna).item_id == item.pk
    thread.join(timeout=30)
    assert "error" not in result, result.get("error")
    assert result["stored"] is not None
    assert len(calls) == (0 if path == "transaction" else 1)
    assert all(isinstance(found, fastpath.Stored) for found in calls)  # stored in one statement
    item.refresh_from_db()
    leases = Lease.objects.filter(item=item)
    assert item.annotation_count == Annotation.objects.filter(item=item).count() == 1
    assert item.lease_count == leases.count() == (1 if change == "reclaim" else 0)
    assert not leases.filter(annotator=anna).exists()
