"""A submit that completes no item, stored on PostgreSQL by one statement outside a transaction
(services.annotation_submit_as, fastpath.annotation_store_quick): the same rows as the
transaction that stores and checks, what adjudication does for it done in the statement, and
everything it cannot judge left to that transaction."""

import json

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from adjudication.models import AgreementSnapshot, Review
from annotation import fastpath, services, short_path
from annotation.events import annotations_changed
from annotation.models import Annotation, LabelSchema, Lease
from curation.models import Item, Role
from tests.annotation.test_short_path import client_of
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.skipif(not ON_POSTGRES, reason="the one-statement store is PostgreSQL's"),
    # Outside a test transaction: the one-statement store runs only outside one.
    pytest.mark.django_db(transaction=True),
]

SINGLE = {"labels": [{"value": "billing"}, {"value": "technical"}]}


@pytest.fixture
def quick_calls(monkeypatch):
    """What each one-statement store answered: "stored", "not quick" or None."""
    calls = []
    store = fastpath.annotation_store_quick

    def recorded(**kwargs):
        found = store(**kwargs)
        calls.append("stored" if isinstance(found, fastpath.Stored) else found)
        return found

    monkeypatch.setattr(fastpath, "annotation_store_quick", recorded)
    return calls


def team(overlap: int, items: int = 3):
    project = ProjectFactory(annotators_per_item=overlap)
    LabelSchema.objects.create(project=project, config=SINGLE)
    ItemFactory.create_batch(items, project=project)
    AgreementSnapshot.objects.create(project=project, computed_at=timezone.now())
    anna, bert = UserFactory.create_batch(2)
    for user in (anna, bert):
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    return project, anna, bert


def lease(client, project) -> int:
    leased = client.post(reverse("api:assignment-next", kwargs={"slug": project.slug}))
    assert leased.status_code == 200, leased.content
    return leased.json()["item"]["id"]


def submit(client, item_id: int, value: dict, **body):
    url = reverse("api:annotation-list", kwargs={"item_id": item_id})
    return client.post(url, json.dumps({"value": value, **body}), content_type="application/json")


def label(client, project, value: str, **body):
    """Next, then a submit of `value` for the item it leased: (item id, the submit's answer)."""
    item_id = lease(client, project)
    return item_id, submit(client, item_id, {"label": value}, **body)


def test_a_submit_completing_nothing_is_one_statement_with_adjudications_part(quick_calls):
    project, anna, _ = team(overlap=3)
    client = client_of(anna)
    label(client, project, "billing")  # the first: the transaction, which learns the schema
    assert quick_calls == []
    AgreementSnapshot.objects.filter(project=project).update(stale_since=None)

    item_id = lease(client, project)
    with CaptureQueriesContext(connection) as queries:
        answer = submit(client, item_id, {"label": "technical"}, seconds_spent=3.5)
    assert answer.status_code == 201, answer.content
    assert quick_calls == ["stored"]
    # one statement: no BEGIN or COMMIT around it, no stale mark of its own
    assert len(queries) == 1, [q["sql"][:60] for q in queries]
    assert "adjudication_agreementsnapshot" in queries[0]["sql"]
    stored = Annotation.objects.get(pk=answer.json()["id"])
    assert (stored.item_id, stored.annotator, stored.value) == (
        item_id,
        anna,
        {"label": "technical"},
    )
    assert stored.seconds_spent == 3.5
    item = Item.objects.get(pk=item_id)
    assert (item.annotation_count, item.lease_count) == (1, 0)
    assert not Lease.objects.filter(annotator=anna).exists()
    assert AgreementSnapshot.objects.get(project=project).stale_since is not None
    assert not Review.objects.filter(item_id=item_id).exists()  # not complete: nothing to settle


def test_a_schema_changed_since_it_was_learnt_is_checked_by_the_transaction(quick_calls):
    project, anna, _ = team(overlap=3)
    client = client_of(anna)
    label(client, project, "technical")
    # The lead drops "billing", which no annotation holds; this process still knows it.
    LabelSchema.objects.filter(project=project).update(
        config={"labels": [{"value": "technical"}, {"value": "account"}]}
    )
    item_id, answer = label(client, project, "billing")
    assert quick_calls == [fastpath.NOT_QUICK]  # the statement saw another schema: no write
    assert answer.status_code == 400
    assert "value.label" in answer.json()["errors"]
    assert not Annotation.objects.filter(item_id=item_id).exists()
    assert Lease.objects.filter(annotator=anna, item_id=item_id).exists()
    item_id, answer = label(client, project, "account")  # the learnt schema refuses it
    assert answer.status_code == 201, answer.content
    assert quick_calls == [fastpath.NOT_QUICK]  # the transaction stored it, learning anew
    item_id, answer = label(client, project, "account")
    assert answer.status_code == 201, answer.content
    assert quick_calls == [fastpath.NOT_QUICK, "stored"]


def test_a_submit_completing_its_item_is_settled_in_the_transaction(quick_calls):
    project, anna, bert = team(overlap=2, items=1)
    label(client_of(bert), project, "billing")
    client = client_of(anna)
    services._remember_schema(Token.objects.get(user=anna).key, "single_choice", SINGLE)
    item_id = lease(client, project)  # the item's last place
    short_path._LAST_PLACE.clear()  # as if another process had leased it: tried in one statement
    answer = submit(client, item_id, {"label": "billing"})
    assert answer.status_code == 201, answer.content
    assert quick_calls == [fastpath.NOT_QUICK]  # it declined, having written nothing
    assert Annotation.objects.filter(item_id=item_id).count() == 2
    review = Review.objects.get(item_id=item_id)
    assert (review.status, review.value) == ("auto", {"label": "billing"})
    item = Item.objects.get(pk=item_id)
    assert (item.annotation_count, item.lease_count) == (2, 0)


def test_the_last_place_of_an_item_goes_straight_to_the_transaction(quick_calls):
    project, anna, bert = team(overlap=2, items=1)
    label(client_of(bert), project, "billing")
    item_id, answer = label(client_of(anna), project, "technical")
    assert answer.status_code == 201, answer.content
    assert quick_calls == []  # next saw her lease take the item's last place
    assert Review.objects.get(item_id=item_id).status == "waiting"


def test_a_receiver_without_sql_gets_every_submit_as_a_signal(quick_calls):
    project, anna, _ = team(overlap=3)
    heard = []

    def listener(sender, item_ids, **kwargs):
        heard.append(item_ids)

    annotations_changed.connect(listener)
    try:
        assert annotations_changed.when_stored() is None
        client = client_of(anna)
        first, _ = label(client, project, "billing")
        second, answer = label(client, project, "technical")
        assert answer.status_code == 201
    finally:
        annotations_changed.disconnect(listener)
    assert quick_calls == []
    assert heard == [[first], [second]]
    assert annotations_changed.when_stored() is not None


def test_the_signal_keeps_the_sql_of_each_receiver_it_holds():
    signal = type(annotations_changed)()

    def one(**kwargs):
        pass

    def two(**kwargs):
        pass

    assert signal.when_stored() == ()
    signal.connect(one, when_stored="UPDATE a SET b = 1")
    signal.connect(two, dispatch_uid="two", when_stored="UPDATE c SET d = 1")
    assert signal.when_stored() == ("UPDATE a SET b = 1", "UPDATE c SET d = 1")
    signal.connect(two)  # filed under another key, without SQL
    assert signal.when_stored() is None
    signal.disconnect(two)
    assert signal.when_stored() == ("UPDATE a SET b = 1", "UPDATE c SET d = 1")
    signal.disconnect(dispatch_uid="two")
    assert signal.when_stored() == ("UPDATE a SET b = 1",)


def test_a_value_the_learnt_schema_refuses_goes_to_the_transaction(quick_calls):
    project, anna, _ = team(overlap=3)
    client = client_of(anna)
    label(client, project, "billing")
    item_id, answer = label(client, project, "nonsense")
    assert answer.status_code == 400 and "value.label" in answer.json()["errors"]
    assert quick_calls == []  # refused before any statement
    assert not Annotation.objects.filter(item_id=item_id).exists()


def test_spans_and_preferences_are_checked_against_the_item_in_the_transaction(quick_calls):
    project, anna, _ = team(overlap=3)
    LabelSchema.objects.filter(project=project).update(
        kind="spans", config={"labels": [{"value": "ORG"}]}
    )
    Item.objects.update(data={"text": "Acme Corp"})
    client = client_of(anna)
    for end in (4, 9, 99):
        item_id = lease(client, project)
        answer = submit(client, item_id, {"spans": [{"start": 0, "end": end, "label": "ORG"}]})
        assert answer.status_code == (400 if end == 99 else 201), answer.content
    assert quick_calls == []
    assert services._SCHEMAS[Token.objects.get(user=anna).key][0] == "spans"
