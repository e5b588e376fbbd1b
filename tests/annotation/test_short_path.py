"""The short path of next and submit (annotation.short_path): a plain token call is answered
without DRF's request handling, with the same status, body and headers as DRF's path gives;
anything else (errors included) is answered by DRF's path, exactly as before."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Annotation, LabelSchema, Lease
from annotation.serializers import AnnotationSubmitSerializer
from annotation.short_path import plain_submit
from curation.api import ConcordApi
from curation.models import Role
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

SINGLE = {"labels": [{"value": "billing"}, {"value": "technical"}]}
DRF_ONLY = {"HTTP_ACCEPT": "application/*"}  # DRF takes it; the short path leaves it to DRF


@pytest.fixture
def general_calls(monkeypatch):
    """How many requests DRF's path handled (its `initial` runs once for each)."""
    calls = []
    initial = ConcordApi.initial

    def counted(self, request, *args, **kwargs):
        calls.append(request.path)
        return initial(self, request, *args, **kwargs)

    monkeypatch.setattr(ConcordApi, "initial", counted)
    return calls


@pytest.fixture
def setup():
    project = ProjectFactory(annotators_per_item=2)
    LabelSchema.objects.create(project=project, config=SINGLE)
    items = ItemFactory.create_batch(3, project=project)
    annotators = [UserFactory() for _ in range(3)]
    for user in annotators:
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    return project, items, annotators


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def next_url(project) -> str:
    return reverse("api:assignment-next", kwargs={"slug": project.slug})


def annotations_url(item_id) -> str:
    return reverse("api:annotation-list", kwargs={"item_id": item_id})


def post(client, url, body, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def headers(response) -> dict:
    """All headers but the length: the short path's answer must carry every header the general
    path's does (security, content security policy, frame options), though it skips most of
    the middleware."""
    return {name: value for name, value in response.headers.items() if name != "Content-Length"}


def test_next_on_the_short_path_answers_as_drf_does(setup, general_calls):
    project, _, (anna, *_) = setup
    client = client_of(anna)
    quick = post(client, next_url(project), {})
    assert quick.status_code == 200, quick.content
    assert general_calls == []  # answered without DRF's request handling
    general = post(client, next_url(project), {}, **DRF_ONLY)  # the same live lease again
    assert general_calls == [next_url(project)]
    assert general.status_code == 200
    assert quick.json() == general.json()
    assert headers(quick) == headers(general)
    assert Lease.objects.filter(annotator=anna).count() == 1


def test_submit_on_the_short_path_answers_as_drf_does(setup, general_calls):
    project, _, (anna, *_) = setup
    client = client_of(anna)
    bodies = {}
    for route, extra in (("quick", {}), ("general", DRF_ONLY)):
        item_id = post(client, next_url(project), {}, **extra).json()["item"]["id"]
        answer = post(client, annotations_url(item_id),
                      {"value": {"label": "billing"}, "seconds_spent": 4.5,
                       "submission_key": f"key-{route}"}, **extra)  # fmt: skip
        assert answer.status_code == 201, answer.content
        bodies[route] = answer
    assert len(general_calls) == 2  # next and submit of the second round only
    quick, general = bodies["quick"].json(), bodies["general"].json()
    assert set(quick) == set(general)
    assert quick["annotator"] == general["annotator"] == anna.username
    assert quick["value"] == {"label": "billing"} and quick["seconds_spent"] == 4.5
    assert headers(bodies["quick"]) == headers(bodies["general"])
    stored = Annotation.objects.get(pk=quick["id"])
    assert (stored.annotator, stored.submission_key) == (anna, "key-quick")
    assert stored.seconds_spent == 4.5

    again = post(client, annotations_url(quick["item"]),
                 {"value": {"label": "billing"}, "submission_key": "key-quick"})  # fmt: skip
    assert again.status_code == 200  # a repeated key returns the stored answer
    assert again.json() == quick


def test_a_second_next_finds_the_member_in_its_statement_and_counts_right(setup, general_calls):
    """The second call of a token in a project takes the folded statement on PostgreSQL (the
    member found by the statement that leases); its progress matches DRF's path."""
    project, _, (anna, *_) = setup
    client = client_of(anna)
    first = post(client, next_url(project), {}).json()
    answer = {"value": {"label": "billing"}}
    assert post(client, annotations_url(first["item"]["id"]), answer).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        second = post(client, next_url(project), {})
    assert second.status_code == 200, second.content
    assert general_calls == []
    if connection.vendor == "postgresql":  # the member, the lease and the counts in one
        starts = [" ".join(q["sql"].split()[:3]) for q in queries.captured_queries]
        assert starts[0] == "WITH who AS", starts  # then the items left, in a project this small
        assert not any(start.startswith("SELECT u.id") for start in starts), starts
    assert second.json()["item"]["id"] != first["item"]["id"]
    assert second.json()["progress"]["done"] == first["progress"]["done"] + 1 == 1
    general = post(client, next_url(project), {}, **DRF_ONLY)  # the same lease, by DRF's path
    assert general.json() == second.json()
    assert Lease.objects.get(annotator=anna).item_id == second.json()["item"]["id"]


@pytest.mark.parametrize("change", ["removed", "inactive", "other project"])
def test_a_member_known_to_the_process_is_checked_again_on_every_next(setup, change):
    project, _, (anna, *_) = setup
    client, url = client_of(anna), next_url(project)
    assert post(client, url, {}).status_code == 200
    Lease.objects.filter(annotator=anna).delete()
    if change == "removed":
        project.memberships.filter(user=anna).delete()
        expected = 404
    elif change == "inactive":
        anna.is_active = False
        anna.save()
        expected = 401
    else:  # the slug now names another project, where she is no member
        project.slug, old = f"{project.slug}-old", project.slug
        project.save()
        ProjectFactory(slug=old)
        expected = 404
    response = post(client, url, {})
    assert response.status_code == expected, response.content
    assert not Lease.objects.filter(annotator=anna).exists()


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.LEAD])
def test_reviewers_and_leads_label_on_the_short_path_too(setup, general_calls, role):
    project, items, _ = setup
    user = UserFactory()
    MembershipFactory(project=project, user=user, role=role)
    client = client_of(user)
    item_id = post(client, next_url(project), {}).json()["item"]["id"]
    answer = post(client, annotations_url(item_id), {"value": {"label": "technical"}})
    assert answer.status_code == 201, answer.content
    assert general_calls == []
    assert Annotation.objects.get(pk=answer.json()["id"]).annotator == user


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown token", 401),
        ("inactive user", 401),
        ("non-member", 404),
        ("query string", 400),
        ("get", 405),
        ("nothing left", 204),
    ],
)
def test_next_hands_everything_else_to_drf(setup, general_calls, case, expected):
    project, items, (anna, bert, *_) = setup
    client, url, method = client_of(anna), next_url(project), "post"
    if case == "unknown token":
        client.credentials(HTTP_AUTHORIZATION="Token not-a-key")
    elif case == "inactive user":
        anna.is_active = False
        anna.save()
    elif case == "non-member":
        client = client_of(UserFactory())
    elif case == "query string":
        url += "?page=2"
    elif case == "get":
        method = "get"
    elif case == "nothing left":
        for item in items:
            Annotation.objects.create(item=item, annotator=anna, value={"label": "billing"})
    response = getattr(client, method)(url)
    assert response.status_code == expected, response.content
    assert general_calls == [next_url(project)]
    if expected != 204:
        assert "detail" in response.json() or response.json()


@pytest.mark.parametrize(
    ("case", "expected", "field"),
    [
        ("value off the schema", 400, "value.label"),
        ("NUL in the value", 400, "value.label"),  # PostgreSQL's JSON cannot hold it
        ("unknown field", 400, "colour"),
        ("malformed JSON", 400, None),
        ("NaN", 400, None),
        ("form body", 415, None),
        ("unknown token", 401, None),
        ("inactive user", 401, None),
        ("non-member", 404, None),
        ("no such item", 404, None),
        ("item full", 409, None),
        ("take_next", 201, None),
    ],
)
def test_submit_hands_everything_else_to_drf(setup, general_calls, case, expected, field):
    project, items, (anna, bert, carl) = setup
    client, item = client_of(anna), items[0]
    body = json.dumps({"value": {"label": "billing"}})
    content_type = "application/json"
    if case == "value off the schema":
        body = json.dumps({"value": {"label": "nonsense"}})
    elif case == "NUL in the value":
        body = json.dumps({"value": {"label": "bill\x00ing"}})
    elif case == "unknown field":
        body = json.dumps({"value": {"label": "billing"}, "colour": "red"})
    elif case == "malformed JSON":
        body = '{"value": '
    elif case == "NaN":
        body = '{"value": {"label": "billing"}, "seconds_spent": NaN}'
    elif case == "form body":
        body, content_type = "value=billing", "application/x-www-form-urlencoded"
    elif case == "unknown token":
        client.credentials(HTTP_AUTHORIZATION="Token not-a-key")
    elif case == "inactive user":
        anna.is_active = False
        anna.save()
    elif case == "non-member":
        client = client_of(UserFactory())
    elif case == "no such item":
        item = type(item)(pk=10**9)
    elif case == "item full":
        for other in (bert, carl):
            Annotation.objects.create(item=item, annotator=other, value={"label": "billing"})
        item.annotation_count = 2
        item.queue_rank = 0
        item.save()
    elif case == "take_next":
        body = json.dumps({"value": {"label": "billing"}, "take_next": True})
    response = client.post(annotations_url(item.pk), body, content_type=content_type)
    assert response.status_code == expected, response.content
    assert general_calls == [annotations_url(item.pk)]
    if field:
        assert field in json.dumps(response.json())
    if case == "take_next":
        assert response.json()["next"]["item"]["id"] != item.pk
    stored = Annotation.objects.filter(item=item, annotator=anna).count()
    assert stored == (1 if expected == 201 else 0)


# --- the submit body, checked without the serializer ---------------------------------------------

# What a JSON body can hold: submit_answer refuses NaN and the infinities before plain_submit,
# which the serializer's JSON field refuses too.
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 100_000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "k1", " k2", "k3 ", "\x00", "é", "\ud800", "7", "2.5", "x" * 64]),
    st.just("y" * 65),
)  # fmt: skip
_VALUES = st.one_of(_SCALARS, st.dictionaries(st.sampled_from(["label", "rating"]), _SCALARS))
_BODIES = st.one_of(
    st.dictionaries(
        st.sampled_from(
            ["value", "seconds_spent", "submission_key", "version", "take_next", "colour"]
        ),  # fmt: skip
        _VALUES,
    ),
    _VALUES,
)


@settings(max_examples=500, deadline=None)
@given(_BODIES)
def test_the_plain_check_of_a_submit_body_agrees_with_the_serializer(body):
    """Whatever the quick check takes, the serializer takes too, with the same values; what it
    does not take goes to the serializer (DRF's path)."""
    quick = plain_submit(body)
    if quick is None:
        return
    serializer = AnnotationSubmitSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    expected = dict(serializer.validated_data)
    assert expected.pop("take_next") is False
    assert quick == expected
    assert type(quick["seconds_spent"]) is type(expected["seconds_spent"])


def test_the_plain_check_takes_the_benchmarks_body_and_refuses_the_odd_ones():
    plain = {"value": {"label": "billing"}, "seconds_spent": 12, "submission_key": "a1"}
    assert plain_submit(plain) == {**plain, "seconds_spent": 12.0, "version": None}
    for odd in ({**plain, "seconds_spent": "12"}, {**plain, "submission_key": " a1"},
                {**plain, "take_next": True}, {**plain, "value": None}, {"seconds_spent": 1},
                {**plain, "version": True}, {**plain, "colour": "red"}, [plain]):  # fmt: skip
        assert plain_submit(odd) is None, odd


@pytest.mark.parametrize("call", ["next", "submit"])
def test_a_host_not_allowed_is_refused_before_anything_is_written(setup, call, settings):
    """The short path answers ahead of CommonMiddleware, which checks the Host header: it
    checks it too, and hands a bad one down the chain to be refused."""
    settings.ALLOWED_HOSTS = ["concord.example.org"]
    project, items, (anna, *_) = setup
    client = client_of(anna)
    good = {"HTTP_HOST": "concord.example.org"}
    if call == "next":
        response = post(client, next_url(project), {}, HTTP_HOST="evil.example")
    else:
        item_id = post(client, next_url(project), {}, **good).json()["item"]["id"]
        response = post(client, annotations_url(item_id), {"value": {"label": "billing"}},
                        HTTP_HOST="evil.example")  # fmt: skip
    assert response.status_code == 400
    assert Annotation.objects.count() == 0
    assert Lease.objects.count() == (0 if call == "next" else 1)
    assert post(client, next_url(project), {}, **good).status_code == 200


def test_the_short_path_follows_the_routes_and_their_prefix(setup, general_calls):
    """The middleware finds the two routes from the URLconf: a path of another shape goes to
    the resolver, and a site served under a prefix still takes the short path."""
    project, _, (anna, *_) = setup
    client = client_of(anna)  # its first request finds the routes, under the prefix
    quick = post(client, next_url(project), {}, SCRIPT_NAME="/concord")
    assert quick.status_code == 200, quick.content
    assert general_calls == []
    assert int(quick["Content-Length"]) == len(quick.content)
    assert post(client, next_url(project), {}).status_code == 200  # and without it
    wrong = post(client, f"/api/projects/{project.slug}/extra/next/", {})
    assert wrong.status_code == 404
    assert general_calls == []
