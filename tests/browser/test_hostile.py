"""XSS-2, XSS-4, XSS-5 in a real browser: over the hostile project (payloads in every data field,
tests/hostile/project.py), an annotator labels two items (the second arrives by an htmx swap)
and a lead walks every page that shows data. No script runs (no dialog, no page error), the
Content-Security-Policy reports no violation, and the htmx bait in the data makes no request.
"""

import contextlib

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from annotation.models import Annotation
from tests.factories import PASSWORD
from tests.hostile.project import build_hostile_project

pytestmark = pytest.mark.browser


@pytest.fixture
def hostile_live(transactional_db, team, settings, page, in_process_jobs):
    """The hostile project, committed, so the live server sees it; jobs run as they are queued.
    After `page`, so the uploads land in the folder the live server reads."""
    return build_hostile_project(team, jobs=contextlib.nullcontext)


@pytest.fixture
def watched(page):
    """The page, and what must stay empty: dialogs (alert), script errors, console messages
    about the Content-Security-Policy, and requests to the API (htmx bait in the data)."""
    seen = {"dialogs": [], "errors": [], "csp": [], "api": []}
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on(
        "console",
        lambda m: seen["csp"].append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("request", lambda r: seen["api"].append(r.url) if "/api/" in r.url else None)
    yield page, seen
    assert seen == {"dialogs": [], "errors": [], "csp": [], "api": []}


def sign_in(page, base, user, path):
    page.context.clear_cookies()
    page.goto(base + path)
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def settled(page, what: str) -> None:
    """Waits until the page and its htmx requests are done; then checks the CSP recorder."""
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => window.__csp") == [], what


def test_no_payload_runs_on_any_page_that_shows_data(live_server, hostile_live, watched):
    page, seen = watched
    hostile, base = hostile_live, live_server.url
    slug = hostile.project.slug

    # An annotator: the labeling page, a submit, and the next item swapped in by htmx.
    sign_in(page, base, hostile.annotator, reverse("annotation:label", kwargs={"slug": slug}))
    expect(page.locator("#label-card")).to_contain_text("xssitem")
    expect(page.locator("[data-shortcuts-toggle]")).to_be_visible()  # label.js is listening
    first = page.locator(".label-item-id").inner_text().strip()
    settled(page, "label page")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator(".label-item-id")).not_to_have_text(first)
    expect(page.locator("#label-card")).to_contain_text("xssitem")
    settled(page, "next item")
    assert Annotation.objects.filter(annotator=hostile.annotator).count() == 1
    page.goto(base + reverse("annotation:my_work", kwargs={"slug": slug}) + "?q=xss")
    settled(page, "my work")

    # A lead, on every page that shows data.
    def at(name, query="", **kwargs):
        return reverse(name, kwargs={"slug": slug, **kwargs}) + query

    pages = [
        at("curation:project_detail"),
        at("adjudication:review_item", item_id=hostile.review_item_id),
        at("adjudication:review_queue", "?show=all"),
        at("adjudication:agreement"),
        at("adjudication:agreement_items"),
        at("adjudication:guideline_issues", "?show=all"),
        at("adjudication:gold"),
        at("curation:quality", "?kind=all&status=all"),
        at("curation:finding", finding_id=hostile.finding_id),
        at("curation:duplicates"),
        at("curation:reference_sets"),
        at("curation:job_status", job_id=hostile.failed_import_id),
        at("curation:job_status", job_id=hostile.import_id),
        at("curation:members"),
        at("annotation:schema_edit"),
        at("curation:versions"),
        at("curation:version_detail", number=1),
        at("curation:versions_diff", "?from=1&to=2"),
        at("curation:audits"),
        at("curation:audit", audit_id=hostile.audit_id),
        at("curation:audit_judge", audit_id=hostile.audit_id),
        at("curation:batches"),
        at("curation:distribution", f"?by={hostile.metadata_key}"),
        at("curation:distribution", f"?reference={hostile.reference_id}"),
        at("curation:splits"),
    ]
    sign_in(page, base, hostile.lead, pages[0])
    for path in pages:
        page.goto(base + path)
        expect(page.locator("main")).to_be_visible()
        assert "xss" in page.content(), f"{path} shows no payload: it proves nothing"
        settled(page, path)
    assert not seen["api"]
