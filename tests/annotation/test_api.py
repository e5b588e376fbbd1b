"""The labeling API: next item, submit, skip and an item's annotations. Leases, overlap caps,
idempotent retries, stale versions, values checked against every kind of schema, blind
annotation, and 404 for everyone outside the project."""

import json
from datetime import timedelta
from functools import partial

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation import api
from annotation.models import Annotation, LabelSchema, Lease, Skip
from annotation.services import annotation_submit
from curation.models import Item, Role
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

SINGLE = {"labels": [{"value": "billing"}, {"value": "technical"}, {"value": "account"}]}


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


def next_url(project) -> str:
    return reverse("api:assignment-next", kwargs={"slug": project.slug})


def annotations_url(item_id: int) -> str:
    return reverse("api:annotation-list", kwargs={"item_id": item_id})


def skip_url(item_id: int) -> str:
    return reverse("api:item-skip", kwargs={"item_id": item_id})


def take(client, project):
    response = client.post(next_url(project), {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def submit(client, item_id: int, value, **extra):
    return client.post(annotations_url(item_id), {"value": value, **extra}, format="json")


def label_all(client, project, label="billing") -> list[int]:
    """Takes and labels items until the queue is empty; returns their ids in order."""
    done = []
    while (response := client.post(next_url(project), {}, format="json")).status_code == 200:
        item_id = response.json()["item"]["id"]
        assert submit(client, item_id, {"label": label}).status_code == 201
        done.append(item_id)
    assert response.status_code == 204, response.content
    return done


@pytest.fixture
def single(team):
    return LabelSchema.objects.create(project=team.project, config=SINGLE)


def project_of_one(*annotators, overlap=1):
    """A project with one item and the given annotators."""
    project = ProjectFactory(annotators_per_item=overlap)
    for user in annotators:
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    return project, ItemFactory(project=project)


# --- next ---------------------------------------------------------------------------------------


def test_next_leases_an_item_and_shows_only_what_the_annotator_needs(team, single, api_for):
    body = take(api_for(team.annotator), team.project)
    assert set(body) == {"item", "lease", "progress"}
    assert set(body["item"]) == {"id", "external_id", "data"}
    assert set(body["lease"]) == {"expires_at", "presentation"}
    assert body["progress"] == {"done_today": 0, "done": 0, "left": 5, "left_capped": False}
    lease = Lease.objects.get(annotator=team.annotator)
    assert lease.item_id == body["item"]["id"]
    assert body["lease"]["expires_at"].startswith(lease.expires_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_next_is_idempotent_while_the_lease_lives(team, single, api_for):
    client = api_for(team.annotator)
    first, second = take(client, team.project), take(client, team.project)
    assert first["item"] == second["item"] and first["lease"] == second["lease"]
    assert Lease.objects.filter(annotator=team.annotator).count() == 1


def test_progress_counts_the_annotators_own_work(team, single, api_for):
    client = api_for(team.annotator)
    item_id = take(client, team.project)["item"]["id"]
    assert submit(client, item_id, {"label": "billing"}).status_code == 201
    progress = take(client, team.project)["progress"]
    assert progress == {"done_today": 1, "done": 1, "left": 4, "left_capped": False}


def test_done_today_starts_again_at_midnight(team, single):
    item = team.project.items.first()
    annotation_submit(item=item, annotator=team.annotator, value={"label": "billing"})
    now = timezone.now()
    yesterday_noon = timezone.localtime(now).replace(hour=12, minute=0) - timedelta(days=1)
    Annotation.objects.update(created_at=yesterday_noon)
    progress = partial(api._progress, project=team.project, annotator=team.annotator)
    assert progress(now=yesterday_noon + timedelta(minutes=1))["done_today"] == 1
    assert progress(now=now)["done_today"] == 0
    assert progress(now=now)["done"] == 1


def test_imported_annotations_are_done_but_not_done_today(team, single, run_import):
    """Labels that came with imported items were made elsewhere, before: the annotator's
    "done today" counts only their own work, whether the import lands before or after the
    counts were last taken."""
    progress = partial(api._progress, project=team.project, annotator=team.annotator)
    counts = progress(now=timezone.now())
    assert (counts["done_today"], counts["done"]) == (0, 0)
    theirs = {"annotator": team.annotator.username, "value": {"label": "billing"}}
    row = {"id": "old-1", "text": "Where is my refund?", "annotations": [theirs]}
    run = run_import(json.dumps(row).encode() + b"\n")
    assert run.status == "done", run.errors
    counts = progress(now=timezone.now())
    assert (counts["done_today"], counts["done"]) == (0, 1)
    cache.clear()  # the snapshot taken afresh
    counts = progress(now=timezone.now())
    assert (counts["done_today"], counts["done"]) == (0, 1)
    item = team.project.items.exclude(external_id="old-1").first()
    annotation_submit(item=item, annotator=team.annotator, value={"label": "billing"})
    counts = progress(now=timezone.now())
    assert (counts["done_today"], counts["done"]) == (1, 2)


def test_progress_counts_stay_exact_when_the_snapshot_moves_forward(team, single, monkeypatch):
    """After ROLL_FORWARD_AFTER annotations since the cached counts, they move forward to now
    instead of being counted again later: the figures stay those of a fresh count."""
    from annotation import selectors

    monkeypatch.setattr(selectors, "ROLL_FORWARD_AFTER", 2)
    project, annotator = team.project, team.annotator
    progress = partial(api._progress, project=project, annotator=annotator)
    key = f"labeling-done:{project.pk}:{project.created_at.timestamp()}:{annotator.pk}"
    assert progress(now=timezone.now())["done"] == 0
    taken = [cache.get(key)[0]]
    for n, item in enumerate(project.items.order_by("pk"), start=1):
        annotation_submit(item=item, annotator=annotator, value={"label": "billing"})
        counts = progress(now=timezone.now())
        assert (counts["done_today"], counts["done"]) == (n, n)
        taken.append(cache.get(key)[0])
    assert len(set(taken)) == 3  # moved forward after the second and the fourth
    cache.clear()  # a fresh count agrees
    assert progress(now=timezone.now())["done"] == 5


def test_next_counts_progress_in_its_own_statement_as_a_fresh_count_does(
    team, single, api_for, run_import, monkeypatch
):
    """On the short path the statement that leases the item also counts the annotations made
    since the cached counts: the figures stay those of the annotator's rows, with an imported
    label among them (done, not done today) and the cached counts moving forward every second
    annotation."""
    from annotation import selectors

    monkeypatch.setattr(selectors, "ROLL_FORWARD_AFTER", 2)
    theirs = {"annotator": team.annotator.username, "value": {"label": "billing"}}
    row = {"id": "old-1", "text": "Where is my refund?", "annotations": [theirs]}
    client = api_for(team.annotator)
    mine = Annotation.objects.filter(annotator=team.annotator, item__project=team.project)
    answer = take(client, team.project)  # the counts are cached from here
    assert run_import(json.dumps(row).encode() + b"\n").status == "done"
    for n in range(1, 5):
        assert submit(client, answer["item"]["id"], {"label": "billing"}).status_code == 201
        answer = take(client, team.project)
        progress = answer["progress"]
        assert (
            (progress["done_today"], progress["done"])
            == (n, n + 1)
            == (mine.filter(imported=False).count(), mine.count())
        )
        assert progress["left"] == 5 - n  # five items and the imported one, theirs already


def test_progress_stops_counting_what_is_left_at_a_cap(team, single, api_for, monkeypatch):
    monkeypatch.setattr(api, "LEFT_COUNTED_UP_TO", 3)
    progress = take(api_for(team.annotator), team.project)["progress"]
    assert (progress["left"], progress["left_capped"]) == (3, True)


def test_204_without_retry_after_when_nothing_is_left(team, single, api_for):
    client = api_for(team.annotator)
    assert len(label_all(client, team.project)) == 5
    response = client.post(next_url(team.project), {}, format="json")
    assert response.status_code == 204
    assert response.content == b""
    assert "Retry-After" not in response.headers


def test_204_with_retry_after_while_others_hold_the_rest(api_for):
    """ASG-9: the queue is empty for now, and the header says when a lease may end."""
    holder, waiter = UserFactory(), UserFactory()
    project, item = project_of_one(holder, waiter)
    take(api_for(holder), project)
    response = api_for(waiter).post(next_url(project), {}, format="json")
    assert response.status_code == 204
    assert 1700 < int(response.headers["Retry-After"]) <= 1800  # the default lease: 30 minutes
    assert submit(api_for(holder), item.pk, {"label": "x"}).status_code == 201
    response = api_for(waiter).post(next_url(project), {}, format="json")
    assert response.status_code == 204
    assert "Retry-After" not in response.headers


def test_an_expired_lease_returns_the_item_to_the_pool(api_for):
    holder, waiter = UserFactory(), UserFactory()
    project, item = project_of_one(holder, waiter)
    take(api_for(holder), project)
    Lease.objects.filter(annotator=holder).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert take(api_for(waiter), project)["item"]["id"] == item.pk
    assert list(Lease.objects.values_list("annotator", flat=True)) == [waiter.pk]
    item.refresh_from_db()
    assert (item.annotation_count, item.lease_count, item.queue_rank) == (0, 1, 0)


def test_an_annotator_never_gets_an_item_twice(team, single, api_for):
    """ASG-3: each annotator labels every item once; then the item is full for the others."""
    for annotator in team.annotators:
        done = label_all(api_for(annotator), team.project)
        assert sorted(done) == sorted(team.project.items.values_list("pk", flat=True))
    response = api_for(team.lead).post(next_url(team.project), {}, format="json")
    assert response.status_code == 204 and "Retry-After" not in response.headers
    assert Annotation.objects.filter(item__project=team.project).count() == 15


def test_next_and_submit_cost_the_same_queries_however_big_the_project(team, single, api_for):
    client = api_for(team.annotator)

    def queries_of_next_and_submit() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as taking:
            item_id = take(client, team.project)["item"]["id"]
        with CaptureQueriesContext(connection) as submitting:
            assert submit(client, item_id, {"label": "billing"}).status_code == 201
        return len(taking), len(submitting)

    # The others label first, so that each measured submit completes its item (and settles it).
    for other in team.annotators[1:]:
        label_all(api_for(other), team.project)
    queries_of_next_and_submit()  # the first also counts all of `done` (api._progress)
    small = queries_of_next_and_submit()
    ItemFactory.create_batch(30, project=team.project)
    for other in team.annotators[1:]:
        label_all(api_for(other), team.project)
    assert queries_of_next_and_submit() == small


# --- submit -------------------------------------------------------------------------------------


def test_submit_stores_the_answer_and_ends_the_lease(team, single, api_for):
    client = api_for(team.annotator)
    item_id = take(client, team.project)["item"]["id"]
    response = submit(client, item_id, {"label": "billing"}, seconds_spent=3.5,
                      submission_key="k-1")  # fmt: skip
    assert response.status_code == 201
    body = response.json()
    assert body["item"] == item_id and body["annotator"] == team.annotator.username
    assert (body["value"], body["version"], body["seconds_spent"]) == ({"label": "billing"}, 1, 3.5)
    assert not Lease.objects.filter(annotator=team.annotator).exists()
    item = Item.objects.get(pk=item_id)
    assert (item.annotation_count, item.lease_count) == (1, 0)


def test_take_next_stores_the_answer_and_leases_the_next_item_in_one_call(team, single, api_for):
    client = api_for(team.annotator)
    first = take(client, team.project)["item"]["id"]
    response = submit(client, first, {"label": "billing"}, take_next=True)
    assert response.status_code == 201
    body = response.json()
    assert body["item"] == first and body["value"] == {"label": "billing"}
    following = body["next"]
    assert set(following) == {"item", "lease", "progress"}
    assert following["item"]["id"] != first
    assert following["progress"] == {"done_today": 1, "done": 1, "left": 4, "left_capped": False}
    lease = Lease.objects.get(annotator=team.annotator)
    assert lease.item_id == following["item"]["id"]
    assert Annotation.objects.filter(annotator=team.annotator).count() == 1


def test_take_next_gives_null_when_nothing_is_left(api_for):
    annotator = UserFactory()
    project, item = project_of_one(annotator)
    take(api_for(annotator), project)
    response = submit(api_for(annotator), item.pk, {"label": "x"}, take_next=True)
    assert response.status_code == 201 and response.json()["next"] is None
    plain = submit(api_for(annotator), item.pk, {"label": "y"}, version=1)
    assert plain.status_code == 200 and "next" not in plain.json()


def test_replacing_ones_answer_is_a_200_and_a_stale_version_a_409(team, single, api_for):
    """ASG-6: a write based on an old version is refused, never a silent overwrite."""
    client = api_for(team.annotator)
    item_id = take(client, team.project)["item"]["id"]
    assert submit(client, item_id, {"label": "billing"}).json()["version"] == 1
    replaced = submit(client, item_id, {"label": "technical"}, version=1)
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    stale = submit(client, item_id, {"label": "account"}, version=1)
    assert stale.status_code == 409
    assert "version 2" in stale.json()["detail"]
    stored = Annotation.objects.get(annotator=team.annotator)
    assert (stored.value, stored.version) == ({"label": "technical"}, 2)


def test_the_same_submission_key_twice_stores_one_annotation(team, single, api_for):
    """ASG-7: a network retry is answered with the stored annotation."""
    client = api_for(team.annotator)
    item_id = take(client, team.project)["item"]["id"]
    first = submit(client, item_id, {"label": "billing"}, submission_key="retry-me")
    again = submit(client, item_id, {"label": "billing"}, submission_key="retry-me")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Annotation.objects.filter(annotator=team.annotator).count() == 1
    assert Item.objects.get(pk=item_id).annotation_count == 1


def test_a_retried_replacement_is_a_repeat_not_a_stale_version(team, single, api_for):
    client = api_for(team.annotator)
    item_id = take(client, team.project)["item"]["id"]
    submit(client, item_id, {"label": "billing"}, submission_key="first")
    body = {"label": "technical"}
    assert submit(client, item_id, body, version=1, submission_key="second").status_code == 200
    again = submit(client, item_id, body, version=1, submission_key="second")
    assert again.status_code == 200 and again.json()["version"] == 2


def test_a_submission_key_reused_on_another_item_is_a_conflict(team, single, api_for):
    client = api_for(team.annotator)
    first_id = take(client, team.project)["item"]["id"]
    submit(client, first_id, {"label": "billing"}, submission_key="once")
    second_id = take(client, team.project)["item"]["id"]
    response = submit(client, second_id, {"label": "billing"}, submission_key="once")
    assert response.status_code == 409
    assert f"item {first_id}" in response.json()["detail"]
    assert not Annotation.objects.filter(item_id=second_id).exists()


def test_a_late_submission_to_an_item_filled_meanwhile_is_a_409(api_for):
    """ASG-5: the lease ran out, someone else took the place: the answer is refused."""
    late, quick = UserFactory(), UserFactory()
    project, item = project_of_one(late, quick)
    take(api_for(late), project)
    Lease.objects.filter(annotator=late).update(expires_at=timezone.now() - timedelta(minutes=1))
    take(api_for(quick), project)
    assert submit(api_for(quick), item.pk, {"label": "x"}).status_code == 201
    response = submit(api_for(late), item.pk, {"label": "late"})
    assert response.status_code == 409
    assert "not saved" in response.json()["detail"]
    assert list(Annotation.objects.values_list("annotator", flat=True)) == [quick.pk]


def test_a_late_submission_is_kept_while_the_item_has_room(api_for):
    late, other = UserFactory(), UserFactory()
    project, item = project_of_one(late, other)
    take(api_for(late), project)
    Lease.objects.filter(annotator=late).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert submit(api_for(late), item.pk, {"label": "late"}).status_code == 201
    item.refresh_from_db()
    assert (item.annotation_count, item.lease_count, item.queue_rank) == (1, 0, 0)


def test_a_submission_without_a_lease_is_kept_only_while_there_is_room(team, api_for):
    item = team.project.items.first()
    statuses = [submit(api_for(user), item.pk, {"label": "x"}).status_code
                for user in [*team.annotators, team.lead]]  # fmt: skip
    assert statuses == [201, 201, 201, 409]


NER = {"labels": [{"value": "PER"}, {"value": "LOC"}]}
PAIR = {"prompt": "Hi?", "response_a": "Hello!", "response_b": "Hey."}
SCALE = {"scale": [{"value": v} for v in range(1, 6)]}
KINDS = {
    # kind: (config, item data, a valid value, [(an invalid value, the field named)])
    "single_choice": (
        SINGLE,
        {"text": "My invoice is wrong."},
        {"label": "billing"},
        [({"label": "spam"}, "value.label"), ({"labels": ["billing"]}, "value")],
    ),
    "multiple_choice": (
        SINGLE,
        {"text": "Charged twice and locked out."},
        {"labels": ["billing", "account"]},
        [({"labels": ["billing", "spam"]}, "value.labels[1]"), ({"labels": "x"}, "value.labels")],
    ),
    "spans": (
        NER,
        {"text": "Ada lives in Paris."},
        {"spans": [{"start": 0, "end": 3, "label": "PER"}]},
        [
            ({"spans": [{"start": 13, "end": 40, "label": "LOC"}]}, "value.spans[0].end"),
            ({"spans": [{"start": 0, "end": 3, "label": "ORG"}]}, "value.spans[0].label"),
        ],
    ),
    "preference": (
        {"allow_tie": True, "reason": "optional"},
        PAIR,
        {"choice": "B", "reason": "Shorter."},
        [({"choice": "C"}, "value.choice"), ({"choice": "A", "reason": 5}, "value.reason")],
    ),
    "rating": (
        SCALE,
        {"text": "Rate this answer."},
        {"rating": 4},
        [({"rating": 9}, "value.rating"), ({"rating": "4"}, "value.rating")],
    ),
}
INVALID = [(kind, value, field) for kind, (*_, bad) in KINDS.items() for value, field in bad]


def project_with_schema(kind, member):
    config, data, _, _ = KINDS[kind]
    project = ProjectFactory()
    MembershipFactory(project=project, user=member, role=Role.ANNOTATOR)
    LabelSchema.objects.create(project=project, kind=kind, config=config)
    return project, ItemFactory(project=project, data=data)


@pytest.mark.parametrize(("kind", "value", "field"), INVALID)
def test_a_value_that_does_not_fit_the_schema_is_a_400_naming_the_field(api_for, kind, value,
                                                                        field):  # fmt: skip
    annotator = UserFactory()
    project, item = project_with_schema(kind, annotator)
    client = api_for(annotator)
    take(client, project)
    response = submit(client, item.pk, value)
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["errors"], body
    assert body["detail"].startswith(f"{field}: ")
    assert not Annotation.objects.exists()
    assert Lease.objects.filter(annotator=annotator).exists()  # still theirs to answer


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_value_that_fits_is_stored_for_every_kind(api_for, kind):
    annotator = UserFactory()
    project, item = project_with_schema(kind, annotator)
    client = api_for(annotator)
    take(client, project)
    response = submit(client, item.pk, KINDS[kind][2])
    assert response.status_code == 201, response.content
    assert Annotation.objects.get().value == KINDS[kind][2]


def test_a_preference_lease_says_how_the_pair_is_shown_and_the_answer_keeps_it(api_for):
    annotator = UserFactory()
    project, item = project_with_schema("preference", annotator)
    client = api_for(annotator)
    shown = take(client, project)["lease"]["presentation"]
    assert shown in ({"order": "AB"}, {"order": "BA"})
    assert submit(client, item.pk, {"choice": "A"}).json()["presentation"] == shown


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "value"),
        ({"value": {"label": "billing"}, "labels": ["x"]}, "labels"),
        ({"value": {"label": "billing"}, "seconds_spent": -1}, "seconds_spent"),
        ({"value": {"label": "billing"}, "version": 0}, "version"),
        ({"value": {"label": "billing"}, "submission_key": "k" * 65}, "submission_key"),
        ({"value": ["billing"]}, "value"),
    ],
)
def test_a_malformed_submission_is_a_400_naming_the_field(team, single, api_for, body, field):
    item = team.project.items.first()
    response = api_for(team.annotator).post(annotations_url(item.pk), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Annotation.objects.exists()


# --- skip ---------------------------------------------------------------------------------------


def test_a_skipped_item_is_not_offered_again(team, single, api_for):
    client = api_for(team.annotator)
    skipped = take(client, team.project)["item"]["id"]
    response = client.post(skip_url(skipped), {"reason": "Not English."}, format="json")
    assert response.status_code == 200
    assert response.json()["item"] == skipped and response.json()["reason"] == "Not English."
    assert client.post(skip_url(skipped), {}, format="json").status_code == 200  # idempotent
    assert Skip.objects.filter(annotator=team.annotator).count() == 1
    item = Item.objects.get(pk=skipped)
    assert (item.lease_count, item.annotation_count) == (0, 0)
    done = label_all(client, team.project)
    assert skipped not in done and len(done) == 4


# --- blind annotation ---------------------------------------------------------------------------


def test_an_annotator_sees_nothing_of_other_annotators_answers(team, api_for):
    """AUTHZ-7: not the values, not how many there are, on any route an annotator uses."""
    me, other = team.annotators[0], team.annotators[1]
    item = team.project.items.order_by("id").first()
    Item.objects.filter(pk=item.pk).update(priority=5)  # offered first
    submit(api_for(other), item.pk, {"label": "zebra-secret-7"}, seconds_spent=77.5)
    client = api_for(me)
    responses = [
        client.get(annotations_url(item.pk)),
        client.post(next_url(team.project), {}, format="json"),
        client.get(
            reverse("api:item-detail", kwargs={"slug": team.project.slug, "item_id": item.pk})
        ),  # fmt: skip
        client.get(reverse("api:item-list", kwargs={"slug": team.project.slug})),
    ]
    for response in responses:
        assert response.status_code == 200
        text = response.content.decode()
        for secret in ("zebra-secret-7", other.username, "77.5", "annotation_count", "lease_count"):
            assert secret not in text, (response.request["PATH_INFO"], secret)
    assert responses[0].json()["count"] == 0
    assert responses[1].json()["item"]["id"] == item.pk


def test_reviewers_and_leads_see_every_answer_with_its_annotator(team, api_for):
    item = team.project.items.first()
    for user, label in [(team.annotators[0], "a"), (team.annotators[1], "b")]:
        submit(api_for(user), item.pk, {"label": label})
    for viewer in (team.reviewer, team.lead):
        body = api_for(viewer).get(annotations_url(item.pk)).json()
        seen = [(row["annotator"], row["value"]) for row in body["results"]]
        assert seen == [("anna_1", {"label": "a"}), ("anna_2", {"label": "b"})]
    own = api_for(team.annotators[0]).get(annotations_url(item.pk)).json()["results"]
    assert [(row["annotator"], row["value"]) for row in own] == [("anna_1", {"label": "a"})]


def test_the_annotation_list_takes_a_fixed_number_of_queries(
    team, api_for, django_assert_max_num_queries
):
    item = team.project.items.first()
    for user in team.annotators:
        submit(api_for(user), item.pk, {"label": "x"})
    lead = api_for(team.lead)
    with django_assert_max_num_queries(4):  # token, item, count, page
        assert lead.get(annotations_url(item.pk)).json()["count"] == 3


def test_the_annotation_list_rejects_unknown_parameters(team, api_for):
    item = team.project.items.first()
    response = api_for(team.lead).get(annotations_url(item.pk), {"annotator": "anna_2"})
    assert response.status_code == 400
    assert "annotator" in response.json()["errors"]


# --- who may -------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["outsider", "other_lead"])
def test_non_members_get_404_on_every_labeling_route(team, api_for, persona):
    client = api_for(team.persona(persona))
    item = team.project.items.first()
    calls = [
        client.post(next_url(team.project), {}, format="json"),
        client.get(annotations_url(item.pk)),
        client.post(annotations_url(item.pk), {"value": {"label": "x"}}, format="json"),
        client.post(skip_url(item.pk), {}, format="json"),
        client.get(annotations_url(999_999)),
    ]
    for response in calls:
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
    assert not Annotation.objects.exists() and not Lease.objects.exists()


def test_an_item_of_another_project_is_404_for_a_member_of_this_one(team, api_for):
    foreign = team.other_project.items.first()
    client = api_for(team.annotator)
    assert client.get(annotations_url(foreign.pk)).status_code == 404
    assert submit(client, foreign.pk, {"label": "x"}).status_code == 404


def test_anonymous_callers_get_401(team, api_for):
    client = api_for(None)
    assert client.post(next_url(team.project), {}, format="json").status_code == 401
    assert client.get(annotations_url(team.project.items.first().pk)).status_code == 401


def test_removing_a_member_releases_their_leases_and_their_access(team, single, api_for):
    """AUTHZ-8: the lease is back in the pool and the same token gets 404 at once."""
    client = api_for(team.annotator)
    item_id = take(client, team.project)["item"]["id"]
    member = reverse("api:member-detail", kwargs={"slug": team.project.slug,
                                                  "username": team.annotator.username})  # fmt: skip
    assert api_for(team.lead).delete(member).status_code == 204
    assert not Lease.objects.filter(annotator=team.annotator).exists()
    item = Item.objects.get(pk=item_id)
    assert (item.lease_count, item.queue_rank) == (0, 2)
    assert client.post(next_url(team.project), {}, format="json").status_code == 404
    assert submit(client, item_id, {"label": "billing"}).status_code == 404


def test_the_written_out_answers_match_the_documented_serializers(team, single, api_for):
    """next's and submit's bodies are built by hand for speed; they must stay what the OpenAPI
    schema's serializers say."""
    from annotation import serializers as s

    client = api_for(team.annotator)
    taken = take(client, team.project)
    lease = Lease.objects.select_related("item").get(annotator=team.annotator)
    assert taken["item"] == dict(s.LabelingItemSerializer(lease.item).data)
    assert taken["lease"] == dict(s.LeaseSerializer(lease).data)
    answer = submit(client, lease.item_id, {"label": "billing"}, seconds_spent=2).json()
    stored = Annotation.objects.select_related("annotator").get(annotator=team.annotator)
    expected = dict(s.AnnotationSerializer(stored).data)
    assert set(answer) == set(expected)
    assert {k: v for k, v in answer.items() if not k.endswith("_at")} == {
        k: v for k, v in expected.items() if not k.endswith("_at")
    }
    assert all(answer[k][:19] == expected[k][:19] for k in ("created_at", "updated_at"))
