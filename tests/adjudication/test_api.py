"""The adjudication API: the review queue (list, next, claim, release, decide, send back),
guideline issues, gold answers, the review policy and the agreement figures. Claims race
safely, stale decisions are refused without a change, values are checked against the schema,
reading writes nothing, and everyone outside the project gets 404."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from adjudication.jobs import agreement_refresh_if_stale
from adjudication.models import (
    AgreementSnapshot,
    Review,
    ReviewEvent,
    ReviewPolicy,
    ReviewStatus,
)
from adjudication.selectors import snapshot_for
from adjudication.services import policy_for, review_claim, review_decide
from annotation.models import Annotation, LabelSchema
from annotation.services import annotation_submit
from curation.models import Item, JobRun, QueueRank, Role
from tests.conftest import jobs_in_process
from tests.factories import ItemFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SINGLE = {"labels": [{"value": "billing"}, {"value": "technical"}, {"value": "account"}]}
SPLIT = ("billing", "billing", "technical")


@pytest.fixture
def api_for():
    """api_for(user) is an APIClient authenticated by `user`'s API token (None = anonymous)."""

    def sign_in(user):
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return sign_in


@pytest.fixture
def schema(team):
    return LabelSchema.objects.create(project=team.project, kind="single_choice", config=SINGLE)


@pytest.fixture
def second_reviewer(team):
    user = UserFactory(username="rob_reviewer")
    MembershipFactory(project=team.project, user=user, role=Role.REVIEWER)
    return user


def url(name: str, team, item=None) -> str:
    kwargs = {"slug": team.project.slug}
    if item is not None:
        kwargs["item_id"] = item if isinstance(item, int) else item.pk
    return reverse(f"api:{name}", kwargs=kwargs)


def items(team) -> list[Item]:
    return list(team.project.items.order_by("pk"))


def annotate(team, item, labels=SPLIT) -> Review | None:
    """Each annotator persona labels `item`; a complete item gets its review at once."""
    for annotator, label in zip(team.annotators, labels, strict=True):
        annotation_submit(item=item, annotator=annotator, value={"label": label})
    return Review.objects.filter(item=item).first()


def waiting(team, item=None, labels=SPLIT) -> Review:
    review = annotate(team, item or items(team)[0], labels)
    assert review.status == ReviewStatus.WAITING
    return review


def post(client, path, body=None, headers=None):
    return client.post(path, body if body is not None else {}, format="json", headers=headers)


def row_state() -> dict:
    """Every row a reviewer's reading could touch, with its update time where it has one."""
    return {
        "reviews": sorted(Review.objects.values_list("pk", "updated_at", "version")),
        "annotations": sorted(Annotation.objects.values_list("pk", "updated_at", "version")),
        "events": ReviewEvent.objects.count(),
        "policies": sorted(ReviewPolicy.objects.values_list("pk", "updated_at")),
        "items": sorted(Item.objects.values_list("pk", "queue_rank", "gold")),
    }


# --- who may do what --------------------------------------------------------------------------

ROUTES = [
    ("get", "agreement", False, None),
    ("get", "review-list", False, None),
    ("post", "review-next", False, {}),
    ("get", "review-detail", True, None),
    ("post", "review-claim", True, {}),
    ("post", "review-release", True, {}),
    ("post", "review-decision", True, {"value": {"label": "billing"}, "version": 1}),
    ("post", "review-requeue", True, {"note": "again"}),
    ("get", "guideline-issue-list", False, None),
    ("post", "guideline-issue-resolve", True, {}),
    ("put", "item-gold", True, {"value": {"label": "billing"}}),
    ("delete", "item-gold", True, None),
    ("get", "review-policy", False, None),
    ("patch", "review-policy", False, {"anonymize": True}),
]


OUTSIDE = [("annotator", 403), ("outsider", 404), ("other_lead", 404), ("anonymous", 401)]


@pytest.mark.parametrize(("method", "name", "per_item", "body"), ROUTES)
@pytest.mark.parametrize(("persona", "expected"), OUTSIDE)
def test_only_reviewers_and_leads_reach_the_api(
    team, api_for, method, name, per_item, body, persona, expected
):
    review = waiting(team)
    review.guidelines_unclear = True
    review.save()
    before = row_state()
    path = url(name, team, review.item if per_item else None)
    response = getattr(api_for(team.persona(persona)), method)(path, body, format="json")
    assert response.status_code == expected, response.content
    if expected == 404:
        assert response.json() == {"detail": "Not found."}
    assert row_state() == before


def test_a_review_of_another_project_is_404_even_for_its_reviewers(team, api_for):
    foreign = ItemFactory(project=team.other_project)
    client = api_for(team.reviewer)
    assert client.get(url("review-detail", team, foreign)).status_code == 404
    assert post(client, url("review-claim", team, foreign)).status_code == 404
    assert post(client, url("review-decision", team, foreign), {"version": 1}).status_code == 404
    response = client.put(url("item-gold", team, foreign), {"value": {}}, format="json")
    assert response.status_code == 403  # a reviewer is below the lead role, whatever the item
    response = api_for(team.lead).put(url("item-gold", team, foreign), {"value": {}}, format="json")
    assert response.status_code == 404
    assert Item.objects.get(pk=foreign.pk).gold is None


# --- the review list --------------------------------------------------------------------------


def test_list_shows_waiting_reviews_by_default(team, api_for):
    review = waiting(team)
    annotate(team, items(team)[1], ("billing",) * 3)  # unanimous: settled, not listed
    response = api_for(team.reviewer).get(url("review-list", team))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert row == {
        "id": review.item_id,
        "external_id": review.item.external_id,
        "status": "waiting",
        "agreement": pytest.approx(1 / 3),
        "value": None,
        "rule": "",
        "claimed_by": None,
        "decided_by": None,
        "decided_at": None,
        "version": 1,
        "n_annotations": 3,
    }


def test_list_filters_decided_and_settled_reviews(team, api_for):
    first, second = items(team)[:2]
    review = waiting(team, first)
    review_decide(review=review, reviewer=team.reviewer, value={"label": "billing"}, version=1)
    annotate(team, second, ("technical",) * 3)
    client = api_for(team.reviewer)
    decided = client.get(url("review-list", team), {"status": "decided"}).json()["results"]
    assert [(r["id"], r["decided_by"], r["rule"]) for r in decided] == [
        (first.pk, "rita_reviewer", "adjudicated")
    ]
    settled = client.get(url("review-list", team), {"status": "auto"}).json()["results"]
    assert [(r["id"], r["value"], r["rule"]) for r in settled] == [
        (second.pk, {"label": "technical"}, "unanimous")
    ]


def test_list_orders_by_most_disagreement(team, api_for):
    first, second = items(team)[:2]
    waiting(team, first, SPLIT)  # two of three pairs disagree
    waiting(team, second, ("billing", "technical", "account"))  # every pair disagrees
    client = api_for(team.reviewer)
    oldest = client.get(url("review-list", team)).json()["results"]
    assert [r["id"] for r in oldest] == [first.pk, second.pk]
    most = client.get(url("review-list", team), {"order": "disagreement"}).json()["results"]
    assert [r["id"] for r in most] == [second.pk, first.pk]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("order", "-item__annotator__password"),
        ("status", "claimed_by__password"),
        ("ordering", "-user__password"),
        ("item__annotator__password__startswith", "a"),
    ],
)
def test_list_refuses_parameters_outside_its_allowlist(team, api_for, param, value):
    """QRY-1: an unknown field or value is a 400 naming the parameter, never a lookup."""
    waiting(team)
    response = api_for(team.reviewer).get(url("review-list", team), {param: value})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [param]


def test_list_queries_do_not_grow_with_the_page(team, api_for):
    client = api_for(team.reviewer)
    waiting(team, items(team)[0])
    with CaptureQueriesContext(connection) as one:
        assert client.get(url("review-list", team)).json()["count"] == 1
    for item in items(team)[1:]:
        waiting(team, item)
    Review.objects.update(decided_by=team.lead)  # a sent-back review keeps its former decider
    with CaptureQueriesContext(connection) as five:
        assert client.get(url("review-list", team)).json()["count"] == 5
    assert len(five) == len(one)


# --- next, claim, release ---------------------------------------------------------------------


def test_next_claims_the_oldest_waiting_review_and_keeps_it(team, api_for):
    first, second = items(team)[:2]
    waiting(team, first)
    waiting(team, second)
    client = api_for(team.reviewer)
    response = post(client, url("review-next", team))
    assert response.status_code == 200
    assert response.json()["id"] == first.pk
    assert response.json()["claimed_by"] == "rita_reviewer"
    assert response["ETag"] == '"1"'
    again = post(client, url("review-next", team))
    assert again.json()["id"] == first.pk  # two tabs, one claim
    other = post(api_for(team.lead), url("review-next", team), {"order": "disagreement"})
    assert other.json()["id"] == second.pk


def test_next_says_when_claimed_items_may_come_back(team, api_for, second_reviewer):
    review = waiting(team)
    assert review_claim(review=review, reviewer=team.reviewer)
    response = post(api_for(second_reviewer), url("review-next", team))
    assert response.status_code == 204
    assert 0 < int(response["Retry-After"]) <= 15 * 60


def test_next_is_204_without_retry_after_when_nothing_waits(team, api_for):
    response = post(api_for(team.reviewer), url("review-next", team))
    assert response.status_code == 204
    assert "Retry-After" not in response


def test_next_refuses_an_unknown_order(team, api_for):
    response = post(api_for(team.reviewer), url("review-next", team), {"order": "-pk"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["order"]


def test_of_two_reviewers_claiming_one_wins_and_one_gets_409(team, api_for, second_reviewer):
    review = waiting(team)
    first = post(api_for(team.reviewer), url("review-claim", team, review.item))
    second = post(api_for(second_reviewer), url("review-claim", team, review.item))
    assert (first.status_code, second.status_code) == (200, 409)
    assert "reviewing this item" in second.json()["detail"]
    review.refresh_from_db()
    assert review.claimed_by == team.reviewer


@pytest.mark.django_db(transaction=True)
def test_claims_sent_at_the_same_moment_have_one_winner(team, api_for, second_reviewer):
    """Two requests racing on separate connections: the conditional UPDATE lets one through."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    review = waiting(team)
    clients = [api_for(team.reviewer), api_for(second_reviewer)]
    start, codes = threading.Barrier(2), []

    def claim(client):
        try:
            start.wait()
            codes.append(post(client, url("review-claim", team, review.item)).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200, 409]


def test_claiming_again_your_own_or_an_expired_claim_succeeds(team, api_for, second_reviewer):
    review = waiting(team)
    client = api_for(team.reviewer)
    assert post(client, url("review-claim", team, review.item)).status_code == 200
    assert post(client, url("review-claim", team, review.item)).status_code == 200
    Review.objects.filter(pk=review.pk).update(claim_expires_at=timezone.now() - timedelta(1))
    response = post(api_for(second_reviewer), url("review-claim", team, review.item))
    assert response.status_code == 200
    assert response.json()["claimed_by"] == "rob_reviewer"


def test_claiming_a_settled_item_is_409(team, api_for):
    review = annotate(team, items(team)[0], ("billing",) * 3)
    response = post(api_for(team.reviewer), url("review-claim", team, review.item))
    assert response.status_code == 409
    assert "not waiting" in response.json()["detail"]


def test_release_frees_only_your_own_claim(team, api_for, second_reviewer):
    review = waiting(team)
    path = url("review-release", team, review.item)
    assert review_claim(review=review, reviewer=team.reviewer)
    response = post(api_for(second_reviewer), path)
    assert response.status_code == 200
    assert response.json()["claimed_by"] == "rita_reviewer"
    response = post(api_for(team.reviewer), path)
    assert response.status_code == 200
    assert response.json()["claimed_by"] is None
    assert post(api_for(second_reviewer), url("review-claim", team, review.item)).status_code == 200


# --- the review -------------------------------------------------------------------------------


def test_detail_has_the_item_its_annotations_and_history(team, api_for):
    review = waiting(team)
    response = api_for(team.reviewer).get(url("review-detail", team, review.item))
    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    body = response.json()
    assert body["item"] == {
        "id": review.item_id,
        "external_id": review.item.external_id,
        "data": review.item.data,
        "metadata": {},
    }
    assert [(a["annotator"], a["value"]) for a in body["annotations"]] == [
        ("anna_1", {"label": "billing"}),
        ("anna_2", {"label": "billing"}),
        ("anna_3", {"label": "technical"}),
    ]
    assert set(body["annotations"][0]) == {
        "annotator",
        "value",
        "seconds_spent",
        "presentation",
        "created_at",
    }
    assert [e["action"] for e in body["events"]] == ["queued"]
    assert body["version"] == 1 and body["status"] == "waiting"


def test_detail_names_annotators_by_number_when_the_policy_anonymises(team, api_for):
    review = waiting(team)
    policy = policy_for(team.project)
    policy.anonymize = True
    policy.save()
    response = api_for(team.lead).get(url("review-detail", team, review.item))
    names = [a["annotator"] for a in response.json()["annotations"]]
    assert names == ["Annotator 1", "Annotator 2", "Annotator 3"]
    assert b"anna_" not in response.content


def test_detail_of_an_item_without_review_is_404(team, api_for):
    response = api_for(team.reviewer).get(url("review-detail", team, items(team)[4]))
    assert response.status_code == 404


def test_reading_changes_no_row(team, api_for):
    """ASG-8: viewing the queue, a review, its history, issues or the policy writes nothing."""
    review = waiting(team)
    annotate(team, items(team)[1], ("billing",) * 3)
    assert review_claim(review=review, reviewer=team.lead)
    before = row_state()
    client = api_for(team.reviewer)
    for path, params in [
        (url("review-list", team), {}),
        (url("review-list", team), {"status": "auto", "order": "disagreement"}),
        (url("review-detail", team, review.item), {}),
        (url("guideline-issue-list", team), {"resolved": "true"}),
        (url("review-policy", team), {}),
    ]:
        assert client.get(path, params).status_code == 200
    assert row_state() == before


# --- decisions --------------------------------------------------------------------------------


def test_decision_sets_the_final_label_and_keeps_the_annotations(team, api_for, schema):
    review = waiting(team)
    annotations = list(Annotation.objects.values_list("pk", "value", "updated_at"))
    body = {
        "value": {"label": "billing"},
        "rationale": "A refund is billing.",
        "version": 1,
        "seconds_spent": 12.5,
    }
    response = post(api_for(team.reviewer), url("review-decision", team, review.item), body)
    assert response.status_code == 200, response.content
    found = response.json()
    assert (found["status"], found["value"], found["rule"]) == (
        "decided",
        {"label": "billing"},
        "adjudicated",
    )
    assert (found["decided_by"], found["version"], found["rationale"]) == (
        "rita_reviewer",
        2,
        "A refund is billing.",
    )
    assert response["ETag"] == '"2"'
    assert [e["action"] for e in found["events"]] == ["queued", "decided"]
    assert found["events"][-1]["before"]["status"] == "waiting"
    assert list(Annotation.objects.values_list("pk", "value", "updated_at")) == annotations


@pytest.mark.parametrize("tag", ['"1"', 'W/"1"', "1"])
def test_decision_takes_the_version_from_if_match(team, api_for, tag):
    review = waiting(team)
    path = url("review-decision", team, review.item)
    response = post(
        api_for(team.reviewer), path, {"value": {"label": "billing"}}, {"If-Match": tag}
    )
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2


def test_a_stale_decision_is_409_and_changes_nothing(team, api_for, second_reviewer):
    review = waiting(team)
    review_decide(review=review, reviewer=second_reviewer, value={"label": "technical"}, version=1)
    before = row_state()
    path = url("review-decision", team, review.item)
    client = api_for(team.reviewer)
    for body, headers in [
        ({"value": {"label": "billing"}, "version": 1}, {}),
        ({"value": {"label": "billing"}}, {"If-Match": '"1"'}),
    ]:
        response = post(client, path, body, headers)
        assert response.status_code == 409
        assert "version 2" in response.json()["detail"]
    assert row_state() == before
    review.refresh_from_db()
    assert review.value == {"label": "technical"}


def test_a_decision_on_an_item_another_reviewer_holds_is_409(team, api_for, second_reviewer):
    review = waiting(team)
    assert review_claim(review=review, reviewer=second_reviewer)
    before = row_state()
    body = {"value": {"label": "billing"}, "version": 1}
    response = post(api_for(team.reviewer), url("review-decision", team, review.item), body)
    assert response.status_code == 409
    assert "rob_reviewer" in response.json()["detail"]
    assert row_state() == before


@pytest.mark.parametrize(
    ("body", "headers", "field"),
    [
        ({"value": {"label": "billing"}}, {}, "version"),
        ({"value": {"label": "billing"}, "version": 1}, {"If-Match": '"2"'}, "version"),
        ({"value": {"label": "billing"}}, {"If-Match": "*"}, "If-Match"),
        ({"value": {"label": "refund"}, "version": 1}, {}, "value.label"),
        ({"value": "billing", "version": 1}, {}, "value"),
        ({"version": 1}, {}, "value"),
        ({"value": {"label": "billing"}, "version": 1, "status": "auto"}, {}, "status"),
        ({"value": {"label": "billing"}, "version": 1, "rationale": "x" * 5001}, {}, "rationale"),
    ],
)
def test_a_bad_decision_is_400_naming_the_field(team, api_for, schema, body, headers, field):
    review = waiting(team)
    before = row_state()
    path = url("review-decision", team, review.item)
    response = post(api_for(team.reviewer), path, body, headers)
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert response.json()["detail"].startswith(field)
    assert row_state() == before


def test_flagged_decisions_become_guideline_issues_a_lead_resolves(team, api_for):
    review = waiting(team)
    body = {
        "value": {"label": "billing"},
        "version": 1,
        "guidelines_unclear": True,
        "guideline_comment": "Refunds are not covered.",
    }
    path = url("review-decision", team, review.item)
    assert post(api_for(team.reviewer), path, body).status_code == 200
    client = api_for(team.reviewer)
    (issue,) = client.get(url("guideline-issue-list", team)).json()["results"]
    assert (issue["id"], issue["comment"], issue["resolved"]) == (
        review.item_id,
        "Refunds are not covered.",
        False,
    )
    path = url("guideline-issue-resolve", team, review.item)
    assert post(client, path).status_code == 403
    response = post(api_for(team.lead), path)
    assert response.status_code == 200
    assert response.json()["resolved"] is True
    assert post(api_for(team.lead), path).status_code == 200  # idempotent
    assert client.get(url("guideline-issue-list", team)).json()["count"] == 0
    resolved = client.get(url("guideline-issue-list", team), {"resolved": "true"}).json()
    assert [i["id"] for i in resolved["results"]] == [review.item_id]


def test_resolving_an_item_without_a_flag_is_404(team, api_for):
    review = waiting(team)
    response = post(api_for(team.lead), url("guideline-issue-resolve", team, review.item))
    assert response.status_code == 404


# --- sending back -----------------------------------------------------------------------------


def test_a_lead_sends_a_settled_item_back_for_review(team, api_for):
    review = annotate(team, items(team)[0], ("billing",) * 3)
    response = post(
        api_for(team.lead), url("review-requeue", team, review.item), {"note": "Looks wrong to me."}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["requeued"], body["value"]) == ("waiting", True, None)
    assert body["events"][-1]["note"] == "Looks wrong to me."
    assert body["events"][-1]["actor"] == "lena_lead"
    claimed = post(api_for(team.reviewer), url("review-next", team))
    assert claimed.json()["id"] == review.item_id


def test_any_item_of_the_project_can_be_sent_back(team, api_for):
    item = items(team)[3]  # no annotations, no review yet
    response = post(api_for(team.lead), url("review-requeue", team, item))
    assert response.status_code == 200
    assert Review.objects.get(item=item).status == ReviewStatus.WAITING


def test_only_a_lead_sends_items_back(team, api_for):
    review = annotate(team, items(team)[0], ("billing",) * 3)
    response = post(api_for(team.reviewer), url("review-requeue", team, review.item))
    assert response.status_code == 403
    assert Review.objects.get(pk=review.pk).status == ReviewStatus.AUTO


# --- gold -------------------------------------------------------------------------------------


def test_a_gold_item_leaves_the_queue_and_rejoins_it(team, api_for, schema):
    item = items(team)[0]
    assert item.queue_rank == QueueRank.NEW
    client = api_for(team.lead)
    path = url("item-gold", team, item)
    response = client.put(path, {"value": {"label": "account"}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": item.pk,
        "external_id": item.external_id,
        "gold": {"label": "account"},
    }
    item.refresh_from_db()
    assert (item.gold, item.queue_rank) == ({"label": "account"}, QueueRank.FULL)
    assert client.delete(path).status_code == 204
    item.refresh_from_db()
    assert (item.gold, item.queue_rank) == (None, QueueRank.NEW)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": {"label": "refund"}}, "value.label"),
        ({"value": ["account"]}, "value"),
        ({}, "value"),
        ({"value": {"label": "account"}, "item": 3}, "item"),
    ],
)
def test_a_bad_gold_answer_is_400_naming_the_field(team, api_for, schema, body, field):
    item = items(team)[0]
    response = api_for(team.lead).put(url("item-gold", team, item), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    item.refresh_from_db()
    assert (item.gold, item.queue_rank) == (None, QueueRank.NEW)


def test_only_a_lead_sets_gold_answers(team, api_for):
    item = items(team)[0]
    path = url("item-gold", team, item)
    client = api_for(team.reviewer)
    assert client.put(path, {"value": {"label": "x"}}, format="json").status_code == 403
    assert client.delete(path).status_code == 403
    assert Item.objects.get(pk=item.pk).gold is None


# --- the review policy ------------------------------------------------------------------------


def test_policy_reads_the_defaults_without_storing_them(team, api_for):
    response = api_for(team.reviewer).get(url("review-policy", team))
    assert response.status_code == 200
    assert response.json() == {
        "rule": "any_disagreement",
        "item_threshold": 0.67,
        "anonymize": False,
        "agreement_threshold": 0.8,
        "tentative_threshold": 0.667,
        "rating_level": "ordinal",
        "gold_rate": 0.0,
    }
    assert not ReviewPolicy.objects.exists()


def test_a_lead_changes_the_policy_and_the_gold_rate(team, api_for):
    body = {"rule": "below_threshold", "item_threshold": 0.5, "anonymize": True, "gold_rate": 0.1}
    response = api_for(team.lead).patch(url("review-policy", team), body, format="json")
    assert response.status_code == 200, response.content
    assert response.json() | body == response.json()
    policy = ReviewPolicy.objects.get(project=team.project)
    assert (policy.rule, policy.item_threshold, policy.anonymize) == ("below_threshold", 0.5, True)
    team.project.refresh_from_db()
    assert team.project.gold_rate == 0.1
    again = api_for(team.reviewer).get(url("review-policy", team)).json()
    assert again == response.json()


def test_a_policy_change_marks_the_agreement_figures_stale(team, api_for):
    AgreementSnapshot.objects.create(project=team.project, computed_at=timezone.now())
    body = {"rating_level": "interval"}
    response = api_for(team.lead).patch(url("review-policy", team), body, format="json")
    assert response.status_code == 200
    assert snapshot_for(project=team.project).stale_since is not None


def test_every_submit_marks_the_agreement_figures_stale(team, api_for, schema):
    """A submit through the API (its short path on a plain call): one that leaves the item open
    and one that completes it, which also settles or queues the item in the same request."""
    snapshot = AgreementSnapshot.objects.create(project=team.project, computed_at=timezone.now())
    item = items(team)[0]
    for n, (annotator, label) in enumerate(zip(team.annotators, SPLIT, strict=True), start=1):
        AgreementSnapshot.objects.filter(pk=snapshot.pk).update(stale_since=None)
        leased = post(api_for(annotator), url("assignment-next", team)).json()["item"]["id"]
        assert leased == item.pk
        path = reverse("api:annotation-list", kwargs={"item_id": item.pk})
        answer = post(api_for(annotator), path, {"value": {"label": label}})
        assert answer.status_code == 201, answer.content
        assert snapshot_for(project=team.project).stale_since is not None, f"submit {n}"
        review = Review.objects.filter(item=item).first()
        assert (review is not None) == (n == len(SPLIT))  # the third completes the item
    assert review.status == ReviewStatus.WAITING  # two against one: a reviewer decides


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"item_threshold": 1.5}, "item_threshold"),
        ({"gold_rate": 0.6, "anonymize": True}, "gold_rate"),
        ({"gold_rate": 0.2, "agreement_threshold": -0.1}, "agreement_threshold"),
        ({"tentative_threshold": 0.9}, "tentative_threshold"),
        ({"agreement_threshold": 0.5}, "agreement_threshold"),
        ({"rule": "coin_flip"}, "rule"),
        ({"rating_level": "ratio"}, "rating_level"),
        ({"anonymize": "perhaps"}, "anonymize"),
        ({"project": 2}, "project"),
    ],
)
def test_a_bad_policy_is_400_naming_the_field_and_saves_nothing(team, api_for, body, field):
    response = api_for(team.lead).patch(url("review-policy", team), body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert not ReviewPolicy.objects.exists()
    team.project.refresh_from_db()
    assert team.project.gold_rate == 0.0


def test_only_a_lead_changes_the_policy(team, api_for):
    response = api_for(team.reviewer).patch(
        url("review-policy", team), {"anonymize": True}, format="json"
    )
    assert response.status_code == 403
    assert not ReviewPolicy.objects.exists()


# --- agreement --------------------------------------------------------------------------------


def test_agreement_before_any_computation_is_empty_and_says_so(team, api_for):
    waiting(team)
    response = api_for(team.reviewer).get(url("agreement", team))
    assert response.status_code == 200
    body = response.json()
    assert (body["statistics"], body["computed_at"], body["stale"]) == ({}, None, True)
    assert "No agreement figures yet" in body["message"]
    run = JobRun.objects.get(project=team.project, kind="agreement")
    assert body["job"] == {"id": run.pk, "status": "queued"}
    assert body["queue"] == {"waiting": 1, "claimed": 0, "decided": 0, "settled": 0, "flagged": 0}


def test_agreement_asks_for_one_computation_at_a_time(team, api_for):
    client = api_for(team.reviewer)
    first = client.get(url("agreement", team)).json()["job"]
    second = client.get(url("agreement", team)).json()["job"]
    assert first == second
    assert JobRun.objects.filter(project=team.project, kind="agreement").count() == 1


def test_only_a_lead_forces_a_recomputation(team, api_for):
    response = api_for(team.reviewer).get(url("agreement", team), {"refresh": "1"})
    assert response.status_code == 403
    assert not JobRun.objects.filter(project=team.project).exists()


def test_agreement_refuses_unknown_parameters(team, api_for):
    response = api_for(team.lead).get(url("agreement", team), {"project": "other-project"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["project"]


def compute(team, capture) -> AgreementSnapshot:
    """Runs the agreement job to the end, in this process."""
    with jobs_in_process(), capture(execute=True):
        agreement_refresh_if_stale(project=team.project, user=team.lead, force=True)
    run = JobRun.objects.filter(project=team.project, kind="agreement").first()
    assert run.status == "done", run.message
    return snapshot_for(project=team.project)


def test_agreement_shows_the_stored_figures_once_computed(
    team, api_for, schema, django_capture_on_commit_callbacks
):
    for item in items(team)[:3]:
        waiting(team, item)
    snapshot = compute(team, django_capture_on_commit_callbacks)
    assert snapshot.data  # the job stored figures
    response = api_for(team.reviewer).get(url("agreement", team))
    body = response.json()
    # The same snapshot the dashboard reads, number for number.
    assert body["statistics"] == snapshot.data
    assert (body["stale"], body["job"], body["message"]) == (False, None, None)
    assert body["computed_at"] is not None and body["seconds"] == snapshot.seconds
    assert body["queue"]["waiting"] == 3


def test_a_lead_forces_a_recomputation(team, api_for, schema, django_capture_on_commit_callbacks):
    waiting(team)
    compute(team, django_capture_on_commit_callbacks)
    with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
        response = api_for(team.lead).get(url("agreement", team), {"refresh": "1"})
    assert response.status_code == 200
    assert response.json()["job"] is not None
    assert JobRun.objects.filter(project=team.project, kind="agreement").count() == 2


def test_figures_turn_stale_when_a_decision_changes_them(
    team, api_for, schema, django_capture_on_commit_callbacks
):
    review = waiting(team)
    compute(team, django_capture_on_commit_callbacks)
    review_decide(review=review, reviewer=team.reviewer, value={"label": "billing"}, version=1)
    body = api_for(team.reviewer).get(url("agreement", team)).json()
    assert body["stale"] is True
    assert body["statistics"] != {}
    assert "changed" in body["message"]


def test_agreement_numbers_are_the_dashboards(
    team, api_for, client, schema, django_capture_on_commit_callbacks
):
    """The API and the dashboard page read the same snapshot and the same queue counts."""
    for item in items(team)[:2]:
        waiting(team, item)
    annotate(team, items(team)[2], ("account",) * 3)
    compute(team, django_capture_on_commit_callbacks)
    body = api_for(team.reviewer).get(url("agreement", team)).json()
    client.force_login(team.reviewer)
    page = client.get(reverse("adjudication:agreement", kwargs={"slug": team.project.slug}))
    assert page.status_code == 200
    assert page.context["data"] == body["statistics"]
    assert vars(page.context["queue"]) == body["queue"]
