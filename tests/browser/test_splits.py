"""A lead designs a stratified split in headless Chromium: the preview (htmx) shows the counts
and label shares and writes nothing, Apply writes the splits, shows the leakage job's report
and refreshes the current counts. A label made of markup stays text, and the strict
Content-Security-Policy reports not one violation."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from curation.models import Item, JobRun, JobStatus
from tests.factories import PASSWORD, ItemFactory

pytestmark = pytest.mark.browser

BAIT = "<img src=x onerror=alert(1)>"


def test_a_lead_previews_then_applies_a_stratified_split(
    live_server, transactional_db, team, page, in_process_jobs
):
    seen = {"errors": [], "dialogs": []}
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    project = team.project
    project.items.all().delete()
    for n in range(20):
        label = "positive" if n < 15 else BAIT
        ItemFactory(project=project, gold={"label": label}, data={"text": f"Message {n}"})

    page.goto(live_server.url + reverse("curation:splits", kwargs={"slug": project.slug}))
    page.get_by_label("Username").fill(team.lead.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Splits of Support intents")).to_be_visible()
    expect(page.locator("#split-current")).to_contain_text("20 items not dropped")

    page.get_by_label("Method").select_option("stratified")
    page.get_by_label("Train %").fill("60")
    page.get_by_label("Dev %").fill("20")
    page.get_by_label("Test %").fill("20")
    page.get_by_label("Seed").fill("7")
    page.get_by_role("button", name="Preview").click()
    result = page.locator("#split-result")
    expect(result).to_contain_text("Preview (nothing is written yet)")
    expect(result.locator(".split-preview-counts tbody tr").nth(0)).to_contain_text("12")
    expect(result.locator(".split-labels")).to_contain_text(BAIT)  # shown as text
    assert set(Item.objects.filter(project=project).values_list("split", flat=True)) == {
        "unassigned"
    }

    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#split-design .message-success")).to_contain_text("20 items changed")
    expect(page.locator("#job-report .badge")).to_have_text("Done")
    expect(page.locator("#split-current")).to_contain_text("Final labels in the current splits")
    expect(page.locator("#split-current tbody tr").nth(0)).to_contain_text("12")
    splits = list(Item.objects.filter(project=project).values_list("split", flat=True))
    assert sorted(splits).count("train") == 12 and splits.count("test") == 4
    assert JobRun.objects.get(project=project, kind="leakage").status == JobStatus.DONE

    assert seen == {"errors": [], "dialogs": []}
    assert page.evaluate("() => window.__csp") == []
