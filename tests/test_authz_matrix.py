"""AUTHZ-3: every route × every persona has a declared status, and the suite checks each one.

A new URL without an entry here fails `test_every_route_has_an_entry`. Outsiders and the lead of
another project get 404 on project data (existence is not revealed); members below the needed
role get 403; anonymous users are sent to sign in (pages) or get 401 (API).
"""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from curation.exporting.files import export_dir
from curation.models import JobRun, JobStatus
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
# A file to upload, as (name, content): sent fresh, as multipart, with each request.
UPLOAD = ("items.jsonl", b'{"text": "Hello"}\n')

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
    # Job reports quote the annotations of imported files: reviewers and leads only.
    "curation:job_status": [("get", None, S(302, 404, 403, 200, 404, 200))],
    "curation:job_errors": [("get", None, S(302, 404, 403, 200, 404, 200))],
    # Exports carry every annotator's name: reviewers and leads only (job_id: a finished export).
    "curation:job_download": [("get", None, S(302, 404, 403, 200, 404, 200))],
    "curation:import_items": [
        ("get", None, S(302, 404, 403, 403, 404, 200)),
        ("post", {"file": UPLOAD}, PAGE_LEAD_WRITE),
    ],
    "curation:export_items": [
        ("get", None, S(302, 404, 403, 200, 404, 200)),
        (
            "post",
            {"format": "jsonl", "mode": "final", "action": "job"},
            S(302, 404, 403, 302, 404, 302),
        ),
    ],
    "curation:duplicates": [("get", None, PAGE_MEMBER)],
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
    "api:job-detail": [("get", None, S(401, 404, 403, 200, 404, 200))],
    "api:job-download": [("get", None, S(401, 404, 403, 200, 404, 200))],
    "api:import-create": [("post", {"file": UPLOAD}, S(401, 404, 403, 403, 404, 202))],
    "api:export-create": [
        ("post", {"format": "jsonl", "mode": "final"}, S(401, 404, 403, 202, 404, 202))
    ],
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


def job_for(name, project) -> int:
    """A queued run; for download routes a finished export with its file in place (MEDIA_ROOT
    is a temporary folder in these tests)."""
    if not name.endswith("download"):
        return JobRun.objects.create(project=project, kind="project_stats").pk
    export_dir().mkdir(parents=True, exist_ok=True)
    (export_dir() / "matrix.jsonl").write_bytes(b"{}\n")
    params = {"format": "jsonl", "mode": "final", "stored_name": "matrix.jsonl"}
    return JobRun.objects.create(
        project=project, kind="export", status=JobStatus.DONE, finished_at=timezone.now(),
        params=params,
    ).pk  # fmt: skip


def reference_set_for(project) -> int:
    """A reference set of the project with one text."""
    from curation.quality.leakage import exact_hash

    found = project.reference_sets.create(name="Matrix", filename="m.jsonl", text_field="text",
                                          count=1)  # fmt: skip
    found.texts.create(external_id="q-1", text="What is 2 + 2?", exact=exact_hash("What is 2 + 2?"))
    return found.pk


def annotation_for(team) -> int:
    """An annotation by the annotator persona on the project's first item."""
    from annotation.models import Annotation

    item = team.project.items.first()
    value = {"label": "x"}
    return Annotation.objects.get_or_create(item=item, annotator=team.annotator,
                                            defaults={"value": value})[0].pk  # fmt: skip


# Values for URL parameters that modules of tests.authz_routes add: name -> function(team).
URL_VALUES: dict = {}


def url_for(name, team):
    project = team.project
    values = {
        "slug": lambda: project.slug,
        "item_id": lambda: project.items.first().pk,
        "job_id": lambda: job_for(name, project),
        "membership_id": lambda: project.memberships.get(user=team.annotators[1]).pk,
        "username": lambda: team.annotators[1].username,
        "annotation_id": lambda: annotation_for(team),
        "table": lambda: "summary",
        "finding_id": lambda: project.findings.order_by("pk").first().pk,
        "set_id": lambda: reference_set_for(project),
        **{key: (lambda make=make: make(team)) for key, make in URL_VALUES.items()},
    }
    route = dict(routes())[name]
    kwargs = {key: values[key]() for key in re.findall(r"<(?:\w+:)?(\w+)>", route)}
    return reverse(name, kwargs=kwargs)


from tests.authz_routes import (  # noqa: E402
    adjudication_api,
    adjudication_dashboard,
    adjudication_review,
    annotation_api,
    annotation_labeling,
    annotation_schema,
    curation_audits,
    curation_distributions,
    curation_quality,
    curation_splits,
    curation_versions,
)

# A module may define prepare(team): data its routes need before each request (e.g. a review).
PREPARE = {}
for _module in (annotation_schema, annotation_labeling, annotation_api, adjudication_review,
                adjudication_api, adjudication_dashboard, curation_quality, curation_splits,
                curation_versions, curation_audits, curation_distributions):  # fmt: skip
    assert not set(_module.ROUTES) & set(MATRIX), f"{_module.__name__} repeats a route"
    MATRIX.update(_module.ROUTES)
    PREPARE.update(dict.fromkeys(_module.ROUTES, getattr(_module, "prepare", None)))
    URL_VALUES.update(getattr(_module, "URL_VALUES", {}))


CASES = [
    pytest.param(name, method, payload, persona, expected[persona], id=f"{name}-{method}-{persona}")
    for name, rows in MATRIX.items()
    for method, payload, expected in rows
    for persona in PERSONAS
]


def with_files(payload: dict) -> dict:
    """The payload with each (name, content) pair as a fresh uploaded file."""
    return {k: SimpleUploadedFile(*v) if isinstance(v, tuple) else v for k, v in payload.items()}


@pytest.mark.parametrize(("name", "method", "payload", "persona", "expected"), CASES)
def test_route_answers_each_persona_as_declared(
    client, team, settings, tmp_path, name, method, payload, persona, expected
):
    settings.MEDIA_ROOT = tmp_path  # uploads and exports land here, not in the data folder
    user = team.persona(persona)
    if user is not None:
        client.force_login(user)
    if PREPARE.get(name) is not None:
        PREPARE[name](team)
    url = url_for(name, team)
    uploads = isinstance(payload, dict) and any(isinstance(v, tuple) for v in payload.values())
    if uploads:
        response = getattr(client, method)(url, with_files(payload))
    elif name.startswith("api:") and payload is not None:
        response = getattr(client, method)(
            url, json.dumps(payload), content_type="application/json"
        )
    elif payload is not None:
        response = getattr(client, method)(url, payload)
    else:
        response = getattr(client, method)(url)
    response.close()  # a download's file is open until its response is closed
    assert response.status_code == expected, getattr(response, "content", b"")[:300]


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
