"""A lead opens the distribution page in headless Chromium, breaks the labels down by a metadata
field, reads the chi-square sentence beside the chart, uploads a reference sample and sees the
comparison. Category names with HTML stay inert, and the strict Content-Security-Policy
reports not one violation."""

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import PASSWORD, ItemFactory

pytestmark = pytest.mark.browser

BAIT = "<img src=x onerror=alert(1)>"


@pytest.fixture
def watched(page):
    """The page, and what must stay empty: console errors, script errors and dialogs."""
    seen = {"console": [], "errors": [], "dialogs": []}
    page.on("console", lambda m: seen["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    yield page, seen
    assert seen == {"console": [], "errors": [], "dialogs": []}
    assert page.evaluate("() => window.__csp") == []


def test_a_lead_breaks_labels_down_and_compares_with_a_reference(
    live_server, transactional_db, team, watched, tmp_path
):
    page, _ = watched
    project = team.project
    project.items.update(dropped_at=timezone.now())
    for label, language, count in [("positive", "en", 30), ("negative", "en", 8),
                                   ("positive", BAIT, 6), ("negative", BAIT, 20)]:  # fmt: skip
        for _ in range(count):
            ItemFactory(project=project, gold={"label": label}, metadata={"language": language})

    page.goto(live_server.url + reverse("curation:distribution", kwargs={"slug": project.slug}))
    page.get_by_label("Username").fill(team.lead.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Final labels")).to_be_visible()
    expect(page.locator("svg.chart-shares")).to_be_visible()

    page.get_by_label("Break labels down by").fill("language")
    page.get_by_role("button", name="Show").click()
    sentence = page.locator("#chi-sentence")
    expect(sentence).to_contain_text("The labels depend on language at the 5% level")
    expect(page.locator(".crosstab-table")).to_contain_text(BAIT)  # shown as text, not markup
    expect(page.locator(".crosstab-table td.resid-pos").first).to_be_visible()
    assert "by=language" in page.url  # the query is in the address, to share or reload

    sample = tmp_path / "traffic.csv"
    sample.write_text("lang\n" + "en\n" * 50 + "fr\n" * 50, encoding="utf-8")
    upload = page.locator("#reference-upload")
    upload.get_by_label("File", exact=True).set_input_files(str(sample))
    upload.get_by_label("Name", exact=True).fill("Production traffic")
    upload.get_by_label("Compare with").fill("language")
    upload.get_by_label("Column in the file").fill("lang")
    upload.get_by_role("button", name="Upload").click()

    comparison = page.locator("#comparison")
    expect(comparison).to_contain_text("Against “Production traffic”")
    expect(page.locator("#js-divergence")).to_contain_text("bits")
    expect(comparison.locator("svg.chart-paired")).to_be_visible()
    expect(comparison.locator("tr.flag-under")).to_contain_text("fr")
    expect(comparison.locator("tr.flag-under")).to_contain_text("under-represented")
    expect(page.locator("#references")).to_contain_text("Production traffic")
