"""A lead freezes a version from the versions page in headless Chromium, sees it listed, opens
it, edits a section of its dataset card and downloads the zip; the card's Markdown stays inert
and the strict Content-Security-Policy reports not one violation."""

import io
import zipfile

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from annotation.models import Annotation
from curation.models import DatasetVersion
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_lead_freezes_opens_edits_the_card_and_downloads(
    live_server, transactional_db, team, page, in_process_jobs
):
    seen = {"console": [], "errors": [], "dialogs": []}
    page.on("console", lambda m: seen["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    item = team.project.items.order_by("pk").first()
    for annotator in team.annotators:
        Annotation.objects.create(item=item, annotator=annotator, value={"label": "billing"})

    page.goto(live_server.url + reverse("curation:versions", args=[team.project.slug]))
    page.get_by_label("Username").fill(team.lead.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Versions of Support intents")).to_be_visible()

    page.get_by_label("Note").fill("First <b>cut</b>")
    page.get_by_role("button", name="Freeze version").click()
    page.get_by_role("link", name="Open version 1").click()  # once the job is done
    expect(page.locator("h1").first).to_have_text("Support intents v1")
    version = DatasetVersion.objects.get()
    expect(page.locator(".version-hash")).to_have_text(version.content_hash)
    expect(page.locator(".version-note")).to_have_text("First <b>cut</b>")

    page.get_by_label("Motivation").fill("Faster **triage**. <img src=x onerror=alert(1)>")
    page.get_by_role("button", name="Save the card").click()
    expect(page.locator(".messages")).to_contain_text("The dataset card is saved.")
    preview = page.locator(".card-preview")
    expect(preview.locator("strong", has_text="triage")).to_be_visible()
    expect(preview.locator("img")).to_have_count(0)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download (zip)").click()
    assert download.value.suggested_filename == "support-intents-v1.zip"
    with open(download.value.path(), "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    assert archive.namelist() == ["README.md", "data/unassigned.jsonl"]
    assert len(archive.read("data/unassigned.jsonl").splitlines()) == 5
    assert "Faster **triage**." in archive.read("README.md").decode()

    page.get_by_role("link", name="Versions").click()
    row = page.locator(".versions-table tbody tr")
    expect(row).to_have_count(1)
    expect(row.first).to_contain_text("lena_lead")
    expect(row.first).to_contain_text(version.content_hash[:12])
    assert seen == {"console": [], "errors": [], "dialogs": []}
    assert page.evaluate("() => window.__csp") == []
