"""AUTHZ-3: every route × every persona has a declared status, and the suite checks each one.

A new URL without an entry here fails `test_every_route_has_an_entry`. Outsiders and the lead of
another project get 404 on project data (existence is not revealed); members below the needed
role get 403; anonymous users are sent to sign in (pages) or get 401 (API).
"""

import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from curation.models import JobRun
from tests.conftest import PERSONAS

# Django's admin has its own staff-only authentication and holds no project data.
EXCLUDED_NAMESPACES = {"admin"}


def S(anonymous, outsider, annotator, reviewer, other_lead, lead):  # noqa: N802 - a table row
    return dict(
        zip(PERSONAS, [anonymous, outsider, annotator, reviewer, other_lead, lead], strict=True)
    )


PAGE_MEMBER = S(302, 404, 200, 200, 404, 200)
PAGE_LEAD_WRITE = S(302, 404, 403, 403, 404, 302)
API_MEMBER = S(401, 404, 200, 200, 404, 200)

# route name -> [(method, payload, expected status per persona)]
MATRIX = {
    "healthz": [("get", None, S(200, 200, 200, 200, 200, 200))],
    "login": [("get", None, S(200, 200, 200, 200, 200, 200))],
    "logout": [("get", None, S(405, 405, 405, 405, 405, 405)), ("post", {}, S(*[302] * 6))],
    "password_change": [("get", None, S(302, 200, 200, 200, 200, 200))],
    "password_change_done": [("get", None, S(302, 200, 200, 200, 200, 200))],
    "curation:project_list": [("get", None, S(302, 200, 200, 200, 200, 200))],
    "curation:project_create": [
        ("get", None, S(302, 403, 403, 403, 403, 403)),
        ("post", {"name": "X", "slug": "x"}, S(302, 403, 403, 403, 403, 403)),
    ],
    "curation:project_detail": [("get", None, PAGE_MEMBER)],
    "curation:project_edit": [
        ("get", None, S(302, 404, 403, 403, 404, 200)),
        (
            "post",
            {"name": "Renamed", "annotators_per_item": 3, "description": "", "guidelines": ""},
            PAGE_LEAD_WRITE,
        ),
    ],
    "curation:job_start": [
        ("get", None, S(*[405] * 6)),  # method checked first: reveals nothing
        ("post", {}, PAGE_LEAD_WRITE),
    ],
    "curation:job_status": [("get", None, PAGE_MEMBER)],
    "curation:members": [
        ("get", None, PAGE_MEMBER),
        ("post", {"username": "otto_outsider", "role": "annotator"}, PAGE_LEAD_WRITE),
    ],
    "curation:member_role": [("post", {"role": "reviewer"}, PAGE_LEAD_WRITE)],
    "curation:member_remove": [("post", {}, PAGE_LEAD_WRITE)],
    "api:schema": [("get", None, S(401, 200, 200, 200, 200, 200))],
    "api:docs": [("get", None, S(401, 200, 200, 200, 200, 200))],
    "api:project-list": [
        ("get", None, S(401, 200, 200, 200, 200, 200)),
        ("post", {"name": "X", "slug": "x"}, S(401, 403, 403, 403, 403, 403)),
    ],
    "api:project-detail": [
        ("get", None, API_MEMBER),
        ("patch", {"description": "new"}, S(401, 404, 403, 403, 404, 200)),
    ],
    "api:member-list": [
        ("get", None, API_MEMBER),
        (
            "post",
            {"username": "otto_outsider", "role": "annotator"},
            S(401, 404, 403, 403, 404, 201),
        ),
    ],
    "api:member-detail": [
        ("patch", {"role": "reviewer"}, S(401, 404, 403, 403, 404, 200)),
        ("delete", None, S(401, 404, 403, 403, 404, 204)),
    ],
    "api:item-list": [
        ("get", None, API_MEMBER),
        (
            "post",
            [{"external_id": "new-1", "data": {"text": "x"}}],
            S(401, 404, 403, 403, 404, 201),
        ),
    ],
    "api:item-detail": [("get", None, API_MEMBER)],
    "api:job-detail": [("get", None, API_MEMBER)],
    "api:user-list": [
        ("get", None, S(401, 403, 403, 403, 403, 403)),
        ("post", {"username": "newbie"}, S(401, 403, 403, 403, 403, 403)),
    ],
}


def routes(patterns=None, namespace=None, prefix=""):
    """(name, route) for every URL pattern outside the excluded namespaces."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in EXCLUDED_NAMESPACES:
                continue
            inner = ":".join(filter(None, [namespace, entry.namespace])) or None
            yield from routes(entry.url_patterns, inner, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            assert entry.name, f"route {entry.pattern} has no name, so it cannot be in the matrix"
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, prefix + str(entry.pattern)


def test_every_route_has_an_entry():
    assert {name for name, _ in routes()} == set(MATRIX)


def url_for(name, team):
    project = team.project
    values = {
        "slug": lambda: project.slug,
        "item_id": lambda: project.items.first().pk,
        "job_id": lambda: JobRun.objects.create(project=project, kind="project_stats").pk,
        "membership_id": lambda: project.memberships.get(user=team.annotators[1]).pk,
        "username": lambda: team.annotators[1].username,
    }
    route = dict(routes())[name]
    kwargs = {key: values[key]() for key in re.findall(r"<(?:\w+:)?(\w+)>", route)}
    return reverse(name, kwargs=kwargs)


CASES = [
    pytest.param(name, method, payload, persona, expected[persona], id=f"{name}-{method}-{persona}")
    for name, rows in MATRIX.items()
    for method, payload, expected in rows
    for persona in PERSONAS
]


@pytest.mark.parametrize(("name", "method", "payload", "persona", "expected"), CASES)
def test_route_answers_each_persona_as_declared(
    client, team, name, method, payload, persona, expected
):
    user = team.persona(persona)
    if user is not None:
        client.force_login(user)
    url = url_for(name, team)
    if name.startswith("api:") and payload is not None:
        response = getattr(client, method)(
            url, json.dumps(payload), content_type="application/json"
        )
    elif payload is not None:
        response = getattr(client, method)(url, payload)
    else:
        response = getattr(client, method)(url)
    assert response.status_code == expected, response.content[:300]


def test_every_api_view_declares_its_permissions():
    """AUTHZ-2: no DRF view relies on the global default permission classes."""
    from rest_framework.views import APIView

    resolver = get_resolver()
    undeclared, checked = [], []
    for name, _ in routes():
        callback = resolver.resolve(reverse(name, kwargs=_dummy_kwargs(name))).func
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if view_class is None or not issubclass(view_class, APIView):
            continue
        declared = any(
            "permission_classes" in vars(k)
            for k in view_class.__mro__
            if k.__module__.split(".")[0] in {"curation", "annotation", "adjudication"}
        )
        if name in {"api:schema", "api:docs"}:  # drf-spectacular's; SERVE_PERMISSIONS applies
            continue
        checked.append(name)
        if not declared:
            undeclared.append(name)
    assert undeclared == []
    assert len(checked) >= 8


def _dummy_kwargs(name):
    route = dict(routes())[name]
    samples = {"slug": "s", "username": "u"}
    return {k: samples.get(k, 1) for k in re.findall(r"<(?:\w+:)?(\w+)>", route)}
