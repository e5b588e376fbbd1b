"""XSS-1, XSS-2, XSS-4: every page and fragment, fetched over the hostile project (payloads in
every data field), renders each payload as inert text.

The routes come from the URL resolver through the authorization matrix: every route a lead may
GET is fetched here, as a full page and as each htmx fragment (`HX-Request`, and the
`HX-Target`s views switch on), with the query variants that make a page show more data. A new
route is fetched without anyone adding it; a new URL parameter fails until `values` names it.
HTML must pass `html_problems` (no markup from data) and keep item content inside `hx-disable`;
every other answer (JSON, CSV, ZIP) must not be served as HTML.
"""

import json
import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from tests.hostile.checks import html_problems, scan, unguarded_text
from tests.hostile.payloads import MARKER, PAYLOADS
from tests.hostile.project import HOSTILE_USERNAME, ITEM_PLACES, PLACES
from tests.test_authz_matrix import MATRIX, routes

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
# The fragments views choose by HX-Target, beyond the one plain `HX-Request` gets.
TARGETS = {"curation:job_status": ["job-report"], "curation:versions": ["freeze-status"]}
# Routes that answer a lead's GET with something other than a page of this project's data.
NOT_DATA = {
    "healthz": "a health check: no data",
    "logout": "POST only",
    "api:schema": "the OpenAPI document: no project data",
    "api:docs": "the API docs page: no project data",
}


def values(hostile, name: str) -> dict:
    """URL parameters of the hostile project's own objects (the ones holding payloads)."""
    project = hostile.project
    review_routes = name.startswith(("adjudication:", "api:review", "api:guideline", "api:item-g"))
    label_item = project.items.filter(external_id=PAYLOADS[-2].at("eid")).get().pk
    return {
        "slug": lambda: project.slug,
        "item_id": lambda: hostile.review_item_id if review_routes else label_item,
        "job_id": lambda: hostile.export_id if "download" in name else hostile.failed_import_id,
        "finding_id": lambda: hostile.finding_id,
        "set_id": lambda: hostile.reference_set_id,
        "number": lambda: 1,
        "audit_id": lambda: hostile.audit_id,
        "sample_id": lambda: hostile.audit_sample_id(),
        "batch_id": lambda: hostile.batch_id,
        "reference_id": lambda: hostile.reference_id,
        "table": lambda: "summary",
        "membership_id": lambda: project.memberships.get(user__username=HOSTILE_USERNAME).pk,
        "username": lambda: HOSTILE_USERNAME,
        "annotation_id": lambda: (
            project.items.get(pk=hostile.review_item_id).annotations.first().pk
        ),
    }


def url_of(hostile, name: str) -> str:
    route = dict(routes())[name]
    found = values(hostile, name)
    names = re.findall(r"<(?:\w+:)?(\w+)>", route)
    missing = [key for key in names if key not in found]
    assert not missing, f"{name}: tell tests/hostile/test_pages.py values() about {missing}"
    return reverse(name, kwargs={key: found[key]() for key in names})


def get_routes() -> list[str]:
    """Every route the lead may GET (status 200 in the matrix)."""
    return sorted(
        name
        for name, rows in MATRIX.items()
        for method, _payload, expected in rows
        if method == "get" and expected["lead"] == 200 and name not in NOT_DATA
    )


def queries(hostile) -> dict[str, list[dict]]:
    """Query strings that make a page show more of its data, or echo what was typed."""
    project = hostile.project
    annotator = project.memberships.get(user__username=HOSTILE_USERNAME).user_id
    lead = hostile.lead.pk
    script = PAYLOADS[0].at("query")
    return {
        "annotation:my_work": [{"q": "xss"}, {"q": script}],
        "adjudication:agreement_items": [
            {"label": hostile.labels[0]}, {"label": script}, {"annotator": annotator},
        ],
        "adjudication:agreement_confusion": [{"a": annotator, "b": hostile.annotator.pk},
                                             {"a": lead, "b": annotator}],
        "adjudication:review_queue": [{"show": "all"}, {"order": script, "show": script}],
        "adjudication:guideline_issues": [{"show": "all"}, {"show": script}],
        "curation:quality": [{"kind": "all", "status": "all"}, {"kind": script}],
        "curation:distribution": [
            {"by": hostile.metadata_key}, {"by": script}, {"reference": hostile.reference_id},
            {"version": 1, "split": "train", "reference": hostile.reference_id},
        ],
        "curation:versions_diff": [{"from": 1, "to": 2}, {"from": script, "to": 2}],
        "curation:audit_judge": [{"at": 2}, {"at": script}],
        "api:version-diff": [{"from": 1, "to": 2}],
        "api:distribution": [{"by": hostile.metadata_key}],
        "api:distribution-compare": [{"reference": hostile.reference_id}],
    }  # fmt: skip


def fetches(hostile, name: str):
    """(url, headers) for each way the page is asked for."""
    base = url_of(hostile, name)
    variants = [{}] + queries(hostile).get(name, [])
    for query in variants:
        url = base + ("?" + urlencode(query) if query else "")
        yield url, {}
        if not name.startswith("api:"):
            yield url, HX
            for target in TARGETS.get(name, []):
                yield url, {**HX, "HTTP_HX_TARGET": target}


def check_answer(name: str, url: str, headers: dict, response) -> list[str]:
    """What is wrong with one answer, each line naming the route and the variant."""
    label = f"{name} {url} {'hx' if headers else 'page'}{headers.get('HTTP_HX_TARGET', '')}"
    if response.status_code >= 500:
        return [f"{label}: status {response.status_code}"]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    kind = response.get("Content-Type", "")
    if "text/html" not in kind:
        if not content:
            return []
        problems = []
        if response.get("X-Content-Type-Options") != "nosniff":
            problems.append(f"{label}: {kind} answer without nosniff")
        is_file = "json" not in kind
        if is_file and not response.get("Content-Disposition", "").startswith("attachment"):
            problems.append(f"{label}: a {kind} file served inline")
        return problems
    html = content.decode()
    markup, unguarded = scan(html, ITEM_PLACES)
    problems = [f"{label}: {problem}" for problem in markup]
    problems += [f"{label}: unguarded {where}" for where in unguarded]
    return problems


def walk(client, hostile, names) -> tuple[list[str], set[str], set[str]]:
    """(problems, routes that answered 200, places whose payloads some answer showed)."""
    problems, seen, places = [], set(), set()
    for name in names:
        for url, headers in fetches(hostile, name):
            response = client.get(url, **headers)
            # Not response.close(): the client has closed it, and closing again would close the
            # database connection (and the test's transaction) on PostgreSQL. A download's
            # file is closed when check_answer reads its stream to the end.
            problems += check_answer(name, url, headers, response)
            if response.status_code == 200:
                seen.add(name)
            if not response.streaming:  # a stream was read by check_answer
                places |= {m.group(1) for m in MARKER.finditer(response.content.decode())}
    return problems, seen, places


# Every place the hostile project fills is shown somewhere (else its payloads test nothing);
# the exceptions, and why.
NOT_SHOWN = {
    "rtxt": "a reference text is shown only when it matches an item, as that item's text",
}


def test_every_route_a_lead_reads_renders_every_payload_inert(client, hostile):
    client.force_login(hostile.lead)
    names = get_routes()
    problems, seen, places = walk(client, hostile, names)
    assert not problems, "\n".join(problems)
    # Each page answered at least once with its data (a 404 would check nothing).
    assert set(names) - seen == set()
    assert set(PLACES) - places == set(NOT_SHOWN), "data stored but shown on no page"


def test_the_labeling_pages_render_every_payload_inert_for_an_annotator(client, hostile):
    client.force_login(hostile.annotator)
    names = [n for n in get_routes() if n.startswith("annotation:") or n.startswith("curation:p")]
    names = [n for n in names if n != "annotation:schema_edit"]
    problems, *_ = walk(client, hostile, names)
    assert not problems, "\n".join(problems)
    label = client.get(reverse("annotation:label", kwargs={"slug": hostile.project.slug}),
                       follow=True)  # fmt: skip
    html = label.content.decode()
    assert label.status_code == 200 and "xssitem" in html, html[:500]
    assert html_problems(html) == [] and unguarded_text(html, ITEM_PLACES) == []


def test_the_payloads_are_shown_as_text(client, hostile):
    """The corpus reaches the pages (a page that hid every payload would pass the checks above
    without proving anything): item text, labels, file names and messages appear escaped."""
    client.force_login(hostile.lead)
    slug = hostile.project.slug
    pages = {
        "annotation:label": reverse("annotation:label", kwargs={"slug": slug}),
        "curation:job_status": url_of(hostile, "curation:job_status"),
        "adjudication:review_item": url_of(hostile, "adjudication:review_item"),
        "curation:project_detail": url_of(hostile, "curation:project_detail"),
    }
    html = {name: client.get(url, follow=True).content.decode() for name, url in pages.items()}
    assert (
        "&lt;script&gt;alert(&#x27;xssprj01&#x27;)&lt;/script&gt;"
        in html["curation:project_detail"]
    )
    assert "xsserr01" in html["curation:job_status"]  # the field name in an error message
    assert "xssfile02" in html["curation:job_status"]  # the uploaded file's name
    assert "&lt;svg onload=alert(&#x27;xsslblt03&#x27;)&gt;" not in html["annotation:label"]
    assert "xsslblt" in html["annotation:label"] and "xsslbld" in html["annotation:label"]
    assert "xssitem" in html["adjudication:review_item"]


# --- answers to forms: what was typed comes back in error messages ----------------------------


def posts(hostile) -> list[tuple[str, str, dict]]:
    """(route, persona, form) whose answer echoes what was sent: errors, kept values."""
    script, img = PAYLOADS[0].at("form"), PAYLOADS[1].at("form")
    config = json.dumps({"labels": [{"value": "a", "text": img}, {"value": script}]})
    return [
        ("curation:members", "lead", {"username": script, "role": "annotator"}),
        ("curation:members", "lead", {"username": HOSTILE_USERNAME, "role": img}),
        ("curation:project_edit", "lead", {"name": "", "description": script, "guidelines": img,
                                           "annotators_per_item": "x"}),
        ("annotation:schema_edit", "lead", {"kind": "single_choice", "config": config[:-2]}),
        ("annotation:schema_preview", "lead", {"kind": "single_choice", "config": config}),
        ("adjudication:review_item", "reviewer", {"value": script, "rationale": img,
                                                  "version": "x"}),
        ("adjudication:review_requeue", "lead", {"note": script * 200}),
        ("adjudication:gold", "lead", {"external_id": script, "value": img}),
        ("curation:audit_judge", "reviewer", {"position": 1, "revision": 99, "verdict": script,
                                              "comment": img}),
        ("curation:version_card", "lead", {"revision": "stale", "motivation": script,
                                           "license": img}),
        ("curation:quality_settings", "lead", {"min_chars": script}),
        ("curation:finding_resolve", "lead", {"status": script, "note": img}),
        ("curation:distribution_reference_upload", "lead", {"field": script, "column": img}),
        ("curation:audit_create", "lead", {"source": script, "size": img, "note": img}),
        ("curation:batch_threshold", "lead", {"max_error_rate": script}),
        ("curation:versions", "lead", {"note": script * 100}),
        ("curation:splits", "lead", {"seed": script, "stratify_by": img}),
        ("annotation:label_item", "annotator", {"value": script, "submission_key": img}),
        ("annotation:label_item", "annotator", {"label": script}),
    ]  # fmt: skip


# Answers that do not repeat what was sent, and why that is fine.
NO_ECHO = {
    "adjudication:review_requeue": "the note is stored (cut to its limit), not shown back",
    "curation:finding_resolve": "an unknown status is answered with the known ones",
}


def test_form_answers_echo_what_was_typed_as_text(client, hostile):
    problems, echoed = [], set()
    for name, persona, form in posts(hostile):
        client.force_login(getattr(hostile, persona))
        url = url_of(hostile, name)
        for headers in ({}, HX):
            response = client.post(url, form, **headers)
            if response.status_code in (301, 302) and not headers:
                response = client.get(response["Location"])
            problems += check_answer(f"POST {name}", url, headers, response)
            if b"xssform" in response.content:
                echoed.add(name)
    assert not problems, "\n".join(problems)
    assert {name for name, *_ in posts(hostile)} - echoed == set(NO_ECHO)


def test_a_submitted_label_brings_the_next_hostile_item_inert(client, hostile):
    """The htmx swap after a submit: the card of the next item, its payloads as text."""
    client.force_login(hostile.annotator)
    url = url_of(hostile, "annotation:label_item")
    response = client.post(url, {"label": hostile.labels[0]}, **HX)
    html = response.content.decode()
    assert response.status_code == 200 and "xssitem" in html, html[:300]
    markup, unguarded = scan(html, ITEM_PLACES)
    assert markup == [] and unguarded == []
    assert hostile.project.items.get(pk=url.rstrip("/").rsplit("/", 1)[-1]).annotations.filter(
        annotator=hostile.annotator).exists()  # fmt: skip


def test_a_failed_sign_in_echoes_the_typed_name_as_text(client, hostile):
    """The login form keeps what was typed: a payload username stays a value."""
    typed = PAYLOADS[1].at("login")
    response = client.post(reverse("login"), {"username": typed, "password": "wrong"})
    html = response.content.decode()
    assert response.status_code == 200 and html_problems(html) == []
    assert typed not in html
