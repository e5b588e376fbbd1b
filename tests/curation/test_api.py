"""The REST API under /api/: who may do what, filters, bulk create, errors, auth and the schema."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from curation import api
from curation.exporting.files import export_dir
from curation.models import Item, JobRun, Membership, Role
from tests.conftest import PERSONAS
from tests.factories import PASSWORD, ItemFactory, MembershipFactory, ProjectFactory, UserFactory


def url(name: str, **kwargs) -> str:
    return reverse(f"api:{name}", kwargs=kwargs)


def send(client, method: str, path: str, body=None):
    uploads = isinstance(body, dict) and any(hasattr(v, "read") for v in body.values())
    return getattr(client, method.lower())(path, body, format="multipart" if uploads else "json")


def errors_of(response) -> dict:
    body = response.json()
    assert set(body) == {"detail", "errors"}, body
    return body["errors"]


# --- the authorization matrix -----------------------------------------------------------------
# Each route and method: (path kwargs, request body) built from the team, and the status each
# persona gets, in the order of tests.conftest.PERSONAS:
# anonymous, outsider, annotator, reviewer, other_lead, lead.


def _project(team):
    return {"slug": team.project.slug}


def _member(username):
    return lambda team: {"slug": team.project.slug, "username": username}


def _item(team):
    return {"slug": team.project.slug, "item_id": team.project.items.first().pk}


def _job(team):
    run = JobRun.objects.create(project=team.project, kind="project_stats")
    return {"job_id": run.pk}


def _finished_export(team):
    """A done export with its file (the matrix test points MEDIA_ROOT at a temporary folder)."""
    export_dir().mkdir(parents=True, exist_ok=True)
    (export_dir() / "matrix.jsonl").write_bytes(b"{}\n")
    params = {"format": "jsonl", "mode": "final", "stored_name": "matrix.jsonl"}
    run = JobRun.objects.create(
        project=team.project, kind="export", status="done", finished_at=timezone.now(),
        params=params,
    )  # fmt: skip
    return {"job_id": run.pk}


def _item_id(team):
    return {"item_id": team.project.items.first().pk}


def _new_member(team):
    return {"username": UserFactory(username="nina_new").username, "role": Role.ANNOTATOR}


MATRIX = {
    ("project-list", "GET"): (lambda t: {}, None, (401, 200, 200, 200, 200, 200)),
    ("project-list", "POST"): (
        lambda t: {},
        lambda t: {"name": "New", "slug": "new-project"},
        (401, 403, 403, 403, 403, 403),
    ),
    ("project-detail", "GET"): (_project, None, (401, 404, 200, 200, 404, 200)),
    ("project-detail", "PATCH"): (
        _project,
        lambda t: {"name": "Renamed"},
        (401, 404, 403, 403, 404, 200),
    ),
    ("member-list", "GET"): (_project, None, (401, 404, 200, 200, 404, 200)),
    ("member-list", "POST"): (_project, _new_member, (401, 404, 403, 403, 404, 201)),
    ("member-detail", "PATCH"): (
        _member("anna_2"),
        lambda t: {"role": Role.REVIEWER},
        (401, 404, 403, 403, 404, 200),
    ),
    ("member-detail", "DELETE"): (_member("anna_3"), None, (401, 404, 403, 403, 404, 204)),
    ("item-list", "GET"): (_project, None, (401, 404, 200, 200, 404, 200)),
    ("item-list", "POST"): (
        _project,
        lambda t: [{"external_id": "new-1", "data": {"text": "Hello"}}],
        (401, 404, 403, 403, 404, 201),
    ),
    ("item-detail", "GET"): (_item, None, (401, 404, 200, 200, 404, 200)),
    ("job-detail", "GET"): (_job, None, (401, 404, 403, 200, 404, 200)),
    # Exports name every annotator: reviewers and leads only.
    ("job-download", "GET"): (_finished_export, None, (401, 404, 403, 200, 404, 200)),
    ("import-create", "POST"): (
        _project,
        lambda t: {"file": SimpleUploadedFile("items.jsonl", b'{"text": "Hello"}\n')},
        (401, 404, 403, 403, 404, 202),
    ),
    ("export-create", "POST"): (
        _project,
        lambda t: {"format": "jsonl", "mode": "final"},
        (401, 404, 403, 202, 404, 202),
    ),
    ("user-list", "GET"): (lambda t: {}, None, (401, 403, 403, 403, 403, 403)),
    ("user-list", "POST"): (
        lambda t: {},
        lambda t: {"username": "newbie"},
        (401, 403, 403, 403, 403, 403),
    ),
    # Labeling (annotation.api): any member labels, the lead too.
    ("assignment-next", "POST"): (_project, lambda t: {}, (401, 404, 200, 200, 404, 200)),
    ("annotation-list", "GET"): (_item_id, None, (401, 404, 200, 200, 404, 200)),
    ("annotation-list", "POST"): (
        _item_id,
        lambda t: {"value": {"label": "billing"}},
        (401, 404, 201, 201, 404, 201),
    ),
    ("item-skip", "POST"): (_item_id, lambda t: {}, (401, 404, 200, 200, 404, 200)),
}
CASES = [
    pytest.param(name, method, persona, statuses[i], id=f"{name}-{method}-{persona}")
    for (name, method), (_, _, statuses) in MATRIX.items()
    for i, persona in enumerate(PERSONAS)
]


@pytest.mark.parametrize(("name", "method", "persona", "expected"), CASES)
def test_authorization_matrix(team, api_for, settings, tmp_path, name, method, persona, expected):
    """Each persona gets the declared status on every API route and method."""
    settings.MEDIA_ROOT = tmp_path  # uploads and exports land here, not in the data folder
    kwargs_for, body_for, _ = MATRIX[(name, method)]
    path = url(name, **kwargs_for(team))
    body = body_for(team) if body_for else None
    response = send(api_for(team.persona(persona)), method, path, body)
    response.close()  # a download's file is open until its response is closed
    assert response.status_code == expected, getattr(response, "content", b"")
    if expected == 404:
        assert response.json() == {"detail": "Not found."}


def _api_routes():
    resolver = get_resolver().url_patterns
    (api_root,) = [p for p in resolver if isinstance(p, URLResolver) and p.namespace == "api"]

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                yield pattern

    return list(walk(api_root.url_patterns))


def test_every_api_route_and_method_is_in_the_matrix():
    """A new route or method without a matrix entry fails here (AUTHZ-3)."""
    declared = {name for name, _ in MATRIX}
    # The adjudication API's rows live in tests/authz_routes/adjudication_api.py and the quality
    # and reference-set APIs' in tests/authz_routes/curation_quality.py (the route matrix of
    # tests/test_authz_matrix.py, which also fails on a route without an entry).
    elsewhere = (
        "adjudication",
        "curation.quality_api",
        "curation.distribution_api",
        "curation.split_api",
        "curation.version_api",
        "curation.audit_api",
        "curation.reference_api",
    )
    ours = [p for p in _api_routes() if not p.callback.__module__.startswith(elsewhere)]
    routes = {p.name for p in ours} - {"schema", "docs"}
    assert routes == declared
    for pattern in _api_routes():
        if pattern.name in declared and pattern.name in routes:
            methods = {m.upper() for m in pattern.callback.view_class.http_method_names}
            handled = {m for m in methods if hasattr(pattern.callback.view_class, m.lower())}
            handled -= {"OPTIONS", "HEAD"}
            assert handled == {m for n, m in MATRIX if n == pattern.name}, pattern.name


def test_every_api_view_declares_permission_classes():
    """Deny by default: no view relies on the global default silently (AUTHZ-2)."""
    for pattern in _api_routes():
        view = pattern.callback.view_class
        if view.__module__.startswith("curation"):
            assert "permission_classes" in vars(view), view.__name__
            assert view.permission_classes, view.__name__


# --- projects ---------------------------------------------------------------------------------


def test_user_with_the_right_creates_a_project_and_becomes_its_lead(team, api_for):
    team.outsider.user_permissions.add(Permission.objects.get(codename="add_project"))
    response = send(
        api_for(team.outsider), "POST", url("project-list"), {"name": "Fresh", "slug": "fresh"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["my_role"] == Role.LEAD
    assert response.json()["n_members"] == 1
    assert Membership.objects.get(project__slug="fresh").user == team.outsider


def test_project_create_with_a_taken_slug_names_the_slug(team, api_for):
    team.lead.user_permissions.add(Permission.objects.get(codename="add_project"))
    body = {"name": "Again", "slug": team.other_project.slug}
    response = send(api_for(team.lead), "POST", url("project-list"), body)
    assert response.status_code == 400
    assert "slug" in errors_of(response)
    assert response.json()["detail"].startswith("slug: ")


def test_project_list_shows_only_my_projects_with_role_and_counts(team, api_for):
    response = api_for(team.annotator).get(url("project-list"))
    (project,) = response.json()["results"]
    assert project["slug"] == team.project.slug
    assert project["my_role"] == Role.ANNOTATOR
    assert (project["n_items"], project["n_members"]) == (5, 5)
    assert api_for(team.outsider).get(url("project-list")).json()["results"] == []


def test_project_update_refuses_slug_and_bad_values_by_name(team, api_for):
    client = api_for(team.lead)
    path = url("project-detail", slug=team.project.slug)
    response = send(client, "PATCH", path, {"slug": "moved"})
    assert response.status_code == 400
    assert "slug" in errors_of(response)
    response = send(client, "PATCH", path, {"annotators_per_item": 0})
    assert response.status_code == 400
    assert "annotators_per_item" in errors_of(response)
    response = send(client, "PATCH", path, {"guidelines": "Be kind.", "archived": True})
    assert response.status_code == 200
    assert response.json()["guidelines"] == "Be kind."
    assert response.json()["archived"] is True


# --- members ----------------------------------------------------------------------------------


def test_nobody_raises_their_own_role(team, api_for):
    """An annotator or reviewer PATCHing their own membership gets 403 (AUTHZ-6)."""
    for user in (team.annotator, team.reviewer):
        path = url("member-detail", slug=team.project.slug, username=user.username)
        response = send(api_for(user), "PATCH", path, {"role": Role.LEAD})
        assert response.status_code == 403
    roles = dict(team.project.memberships.values_list("user__username", "role"))
    assert roles[team.annotator.username] == Role.ANNOTATOR
    assert roles[team.reviewer.username] == Role.REVIEWER


def test_last_lead_cannot_step_down_or_be_removed(team, api_for):
    client = api_for(team.lead)
    path = url("member-detail", slug=team.project.slug, username=team.lead.username)
    response = send(client, "PATCH", path, {"role": Role.ANNOTATOR})
    assert response.status_code == 400
    assert "role" in errors_of(response)
    response = client.delete(path)
    assert response.status_code == 400
    assert "username" in errors_of(response)
    assert team.project.memberships.filter(role=Role.LEAD).count() == 1


def test_a_lead_may_step_down_when_another_lead_remains(team, api_for):
    MembershipFactory(project=team.project, user=UserFactory(), role=Role.LEAD)
    path = url("member-detail", slug=team.project.slug, username=team.lead.username)
    response = send(api_for(team.lead), "PATCH", path, {"role": Role.REVIEWER})
    assert response.status_code == 200
    assert response.json()["role"] == Role.REVIEWER


def test_member_add_errors_name_the_field(team, api_for):
    client = api_for(team.lead)
    path = url("member-list", slug=team.project.slug)
    cases = [
        ({"username": "nobody-here", "role": Role.ANNOTATOR}, "username"),
        ({"username": team.annotator.username, "role": Role.ANNOTATOR}, "username"),
        ({"username": team.outsider.username, "role": "owner"}, "role"),
        ({"username": team.outsider.username, "role": Role.LEAD, "is_staff": True}, "is_staff"),
    ]
    for body, field in cases:
        response = send(client, "POST", path, body)
        assert response.status_code == 400, body
        assert field in errors_of(response), body


def test_unknown_member_is_404(team, api_for):
    path = url("member-detail", slug=team.project.slug, username=team.outsider.username)
    assert send(api_for(team.lead), "PATCH", path, {"role": Role.LEAD}).status_code == 404


def test_removed_member_loses_access_on_the_next_request(team, api_for):
    """AUTHZ-8: the annotator's existing session is refused right after removal."""
    annotator_client = api_for(team.annotator)
    project_path = url("project-detail", slug=team.project.slug)
    assert annotator_client.get(project_path).status_code == 200
    member_path = url("member-detail", slug=team.project.slug, username=team.annotator.username)
    assert api_for(team.lead).delete(member_path).status_code == 204
    assert annotator_client.get(project_path).status_code == 404


# --- items: list, filters, ordering -----------------------------------------------------------


@pytest.fixture
def catalogue(team):
    ItemFactory(project=team.project, external_id="b-refund", data={"text": "I want a REFUND"})
    ItemFactory(project=team.project, external_id="a-train", split="train", source="vendor")
    return team


def _external_ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["external_id"] for item in response.json()["results"]]


def test_item_filters_and_ordering(catalogue, api_for):
    client = api_for(catalogue.annotator)
    path = url("item-list", slug=catalogue.project.slug)
    assert _external_ids(client.get(path, {"split": "train"})) == ["a-train"]
    assert _external_ids(client.get(path, {"source": "vendor"})) == ["a-train"]
    assert _external_ids(client.get(path, {"external_id": "b-refund"})) == ["b-refund"]
    assert _external_ids(client.get(path, {"q": "refund"})) == ["b-refund"]
    ordered = _external_ids(client.get(path, {"ordering": "-external_id"}))
    assert ordered == sorted(ordered, reverse=True)
    assert len(_external_ids(client.get(path, {"page_size": 2}))) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"ordering": "-annotator__password"}, "ordering"),
        ({"ordering": "data__text"}, "ordering"),
        ({"annotator__password": "x"}, "annotator__password"),
        ({"data__text__icontains": "x"}, "data__text__icontains"),
        ({"project__slug": "other-project"}, "project__slug"),
        ({"split": "holdout"}, "split"),
        ({"q": "x" * 201}, "q"),
        ({"q": "(a+)+" * 2000}, "q"),
        ({"split": ["train", "dev"]}, "split"),
    ],
)
def test_item_list_rejects_what_is_not_allowlisted(team, api_for, params, field):
    """QRY-1/QRY-3: unknown parameters, orderings and over-long searches are a 400 naming them."""
    response = api_for(team.lead).get(url("item-list", slug=team.project.slug), params)
    assert response.status_code == 400
    assert list(errors_of(response)) == [field]
    assert field in response.json()["detail"]


def test_outsider_gets_404_before_any_parameter_check(team, api_for):
    path = url("item-list", slug=team.project.slug)
    response = api_for(team.outsider).get(path, {"ordering": "-annotator__password"})
    assert response.status_code == 404


def test_item_detail_is_looked_up_inside_the_project(team, api_for):
    foreign = team.other_project.items.first()
    path = url("item-detail", slug=team.project.slug, item_id=foreign.pk)
    response = api_for(team.lead).get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# --- items: bulk create -----------------------------------------------------------------------


def test_bulk_create_returns_count_and_ids(team, api_for):
    rows = [
        {"external_id": "n1", "data": {"text": "one"}, "metadata": {"lang": "en"}},
        {"data": {"text": "two"}, "split": "dev", "source": "production"},
    ]
    response = send(api_for(team.lead), "POST", url("item-list", slug=team.project.slug), rows)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["count"] == 2
    created = Item.objects.filter(pk__in=body["ids"], project=team.project)
    assert sorted(created.values_list("split", flat=True)) == ["dev", "unassigned"]


def _row_error_text(response, index: int) -> str:
    """Every key and message about row `index`, so tests need not know the nesting."""
    errors = errors_of(response)
    return " ".join(
        f"{k} {' '.join(v)}" for k, v in errors.items() if k.startswith(f"rows[{index}]")
    )


def test_bulk_create_is_all_or_none_and_names_row_and_field(team, api_for):
    rows = [
        {"external_id": "ok-1", "data": {"text": "fine"}},
        {"external_id": "bad-1", "data": {"text": "fine"}, "split": "holdout"},
        {"external_id": "bad-2", "data": {}},
    ]
    before = Item.objects.count()
    response = send(api_for(team.lead), "POST", url("item-list", slug=team.project.slug), rows)
    assert response.status_code == 400
    assert "split" in _row_error_text(response, 1)
    assert "data" in _row_error_text(response, 2)
    assert _row_error_text(response, 0) == ""
    assert response.json()["detail"].startswith("rows[1].split: ")
    assert Item.objects.count() == before


def test_mixed_batch_with_a_duplicate_external_id_creates_nothing(team, api_for):
    existing = team.project.items.first().external_id
    path = url("item-list", slug=team.project.slug)
    before = Item.objects.count()
    rows = [
        {"external_id": "fresh-1", "data": {"text": "a"}},
        {"external_id": "fresh-2", "data": {"text": "b"}},
        {"external_id": "fresh-1", "data": {"text": "c"}},
    ]
    response = send(api_for(team.lead), "POST", path, rows)
    assert response.status_code == 400
    assert "external_id" in _row_error_text(response, 2)
    rows = [
        {"external_id": "fresh-3", "data": {"text": "d"}},
        {"external_id": existing, "data": {"text": "e"}},
    ]
    response = send(api_for(team.lead), "POST", path, rows)
    assert response.status_code == 400
    assert "external_id" in _row_error_text(response, 1)
    assert Item.objects.count() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": {"text": "not a list"}}, "JSON list"),
        ([], "empty"),
        ([{"data": {"text": "x"}}] * 10_001, "At most 10000 items"),
    ],
)
def test_bulk_create_refuses_bad_shapes_with_a_clear_message(team, api_for, body, message):
    response = send(api_for(team.lead), "POST", url("item-list", slug=team.project.slug), body)
    assert response.status_code == 400
    assert message in errors_of(response)["rows"][0]


def test_bulk_create_refuses_rows_with_unknown_fields(team, api_for):
    rows = [{"data": {"text": "x"}, "project": team.other_project.pk}]
    response = send(api_for(team.lead), "POST", url("item-list", slug=team.project.slug), rows)
    assert response.status_code == 400
    assert "rows[0].project" in errors_of(response)


def test_oversized_body_is_refused_before_parsing(team, api_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    rows = [{"data": {"text": "x" * 2000}}]
    response = send(api_for(team.lead), "POST", url("item-list", slug=team.project.slug), rows)
    assert response.status_code == 413
    assert not Item.objects.filter(data__text="x" * 2000).exists()


def test_malformed_json_is_a_400_without_parser_internals(team, api_for):
    path = url("item-list", slug=team.project.slug)
    response = api_for(team.lead).post(path, "[{", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "The request body is not valid JSON."}


def test_deeply_nested_json_is_a_400(team, api_for):
    path = url("item-list", slug=team.project.slug)
    body = "[" * 100_000 + "]" * 100_000
    response = api_for(team.lead).post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert "Recursion" not in response.json()["detail"]


def test_options_reveals_nothing(team, api_for):
    """OPTIONS is 405 for members (the schema documents the API) and 404 for outsiders."""
    path = url("item-list", slug=team.project.slug)
    assert api_for(team.annotator).options(path).status_code == 405
    assert api_for(team.outsider).options(path).status_code == 404


# --- query counts -----------------------------------------------------------------------------


def _grow(team):
    for i in range(30):
        project = ProjectFactory()
        MembershipFactory(project=project, user=team.lead, role=Role.LEAD)
        MembershipFactory(project=team.project, user=UserFactory(username=f"extra_{i}"))
    ItemFactory.create_batch(40, project=team.project)


@pytest.mark.parametrize(
    ("name", "staff"),
    [("project-list", False), ("member-list", False), ("item-list", False), ("user-list", True)],
)
def test_list_query_count_does_not_grow_with_rows(
    team, api_for, django_assert_max_num_queries, name, staff
):
    _grow(team)
    if staff:
        team.lead.is_staff = True
        team.lead.save()
    kwargs = {} if name in ("project-list", "user-list") else {"slug": team.project.slug}
    client = api_for(team.lead)
    # session + user, the project (where scoped), count and page
    with django_assert_max_num_queries(5):
        response = client.get(url(name, **kwargs), {"page_size": 100})
    assert response.status_code == 200
    assert len(response.json()["results"]) >= 30


# --- jobs -------------------------------------------------------------------------------------


def test_job_state_is_shown_to_reviewers_and_leads_only(team, api_for):
    run = JobRun.objects.create(
        project=team.project, kind="project_stats", progress=0.5, counts={"items": 5}
    )
    # An import's report quotes the file's annotations: never for annotators (blindness).
    assert api_for(team.annotator).get(url("job-detail", job_id=run.pk)).status_code == 403
    response = api_for(team.reviewer).get(url("job-detail", job_id=run.pk))
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["progress"], body["counts"]) == ("queued", 0.5, {"items": 5})
    assert body["project"] == team.project.slug
    assert "params" not in body
    foreign = JobRun.objects.create(project=team.other_project, kind="project_stats")
    assert api_for(team.lead).get(url("job-detail", job_id=foreign.pk)).status_code == 404
    assert api_for(team.lead).get(url("job-detail", job_id=foreign.pk + 99)).status_code == 404


# --- staff, users and tokens ------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
def test_staff_without_membership_gets_404_on_project_data(team, api_for, flag):
    """AUTHZ-6: staff and superuser flags grant no access to a project's data."""
    admin = UserFactory(username="sam_staff", **{flag: True, "is_staff": True})
    run = JobRun.objects.create(project=team.project, kind="project_stats")
    client = api_for(admin)
    paths = [
        url("project-detail", slug=team.project.slug),
        url("member-list", slug=team.project.slug),
        url("item-list", slug=team.project.slug),
        url("item-detail", **_item(team)),
        url("job-detail", job_id=run.pk),
    ]
    for path in paths:
        assert client.get(path).status_code == 404, path
    assert client.get(url("project-list")).json()["results"] == []
    path = url("member-list", slug=team.project.slug)
    body = {"username": admin.username, "role": Role.LEAD}
    assert send(client, "POST", path, body).status_code == 404


def test_staff_lists_users_without_secrets(team, api_for):
    staff = UserFactory(is_staff=True)
    Token.objects.create(user=team.lead)
    response = api_for(staff).get(url("user-list"))
    assert response.status_code == 200
    for user in response.json()["results"]:
        assert set(user) == {
            "id",
            "username",
            "email",
            "is_staff",
            "is_active",
            "date_joined",
            "last_login",
        }


def test_staff_creates_users(team, api_for):
    client = api_for(UserFactory(is_staff=True))
    body = {"username": "carla", "password": "correct-horse-battery-9", "email": "c@example.org"}
    response = send(client, "POST", url("user-list"), body)
    assert response.status_code == 201, response.content
    assert "password" not in response.json()
    assert Token.objects.filter(user__username="carla").count() == 0
    carla = team.lead.__class__.objects.get(username="carla")
    assert carla.check_password("correct-horse-battery-9")
    assert not carla.is_staff
    response = send(client, "POST", url("user-list"), {"username": "dora"})
    assert response.status_code == 201
    assert not team.lead.__class__.objects.get(username="dora").has_usable_password()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "lena_lead"}, "username"),
        ({"username": "eve", "password": "123"}, "password"),
        ({"username": "eve", "email": "not-an-email"}, "email"),
        ({"username": "eve", "is_superuser": True}, "is_superuser"),
        ({"username": "bad name!"}, "username"),
    ],
)
def test_user_create_errors_name_the_field(team, api_for, body, field):
    response = send(api_for(UserFactory(is_staff=True)), "POST", url("user-list"), body)
    assert response.status_code == 400
    assert field in errors_of(response)


def test_token_authentication_works_and_inactive_tokens_get_401(team):
    token = Token.objects.create(user=team.lead)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(url("project-detail", slug=team.project.slug)).status_code == 200
    rows = [{"data": {"text": "via token"}}]
    assert send(client, "POST", url("item-list", slug=team.project.slug), rows).status_code == 201
    team.lead.is_active = False
    team.lead.save()
    response = client.get(url("project-detail", slug=team.project.slug))
    assert response.status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(url("project-list")).status_code == 401


def test_inactive_session_user_gets_401(team, api_for):
    client = api_for(team.lead)
    team.lead.is_active = False
    team.lead.save()
    assert client.get(url("project-list")).status_code == 401


def test_session_writes_need_csrf(team):
    """AUTH-5: a cookie-authenticated write without the CSRF token is refused."""
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=team.lead.username, password=PASSWORD)
    path = url("project-detail", slug=team.project.slug)
    response = client.patch(path, {"name": "Hijacked"}, format="json")
    assert response.status_code == 403
    team.project.refresh_from_db()
    assert team.project.name != "Hijacked"


# --- schema and docs --------------------------------------------------------------------------


def test_schema_is_a_valid_openapi_document_with_every_path(team, api_for):
    response = api_for(team.annotator).get(url("schema"), {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    assert {
        "/api/projects/",
        "/api/projects/{slug}/",
        "/api/projects/{slug}/members/",
        "/api/projects/{slug}/members/{username}/",
        "/api/projects/{slug}/items/",
        "/api/projects/{slug}/items/{item_id}/",
        "/api/projects/{slug}/imports/",
        "/api/projects/{slug}/exports/",
        "/api/jobs/{job_id}/",
        "/api/jobs/{job_id}/download/",
        "/api/users/",
    } <= set(schema["paths"])


def test_docs_page_uses_the_vendored_swagger_ui(team, api_for):
    response = api_for(team.annotator).get(url("docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    for name in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert finders.find(f"vendor/swagger-ui/{name}"), name


def test_api_views_are_named_entity_action_api():
    for pattern in _api_routes():
        view = pattern.callback.view_class
        if view.__module__ == api.__name__:
            assert view.__name__.endswith("Api"), view.__name__


def test_api_docs_page_has_no_inline_style_or_script(client, team):
    """XSS-5: the vendored Swagger UI page works under the strict CSP."""
    client.force_login(team.annotator)
    html = client.get("/api/docs/").content.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "<style" not in html
    assert "<script>" not in html
