"""A reviewer judges an audit's samples in headless Chromium with the keyboard: C marks a
label correct, X incorrect and a digit picks the correct label, Enter saves, N and P move
between samples, ? shows the keys; the card reports the error rate as it goes, and the strict
Content-Security-Policy reports not one violation."""

import json

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from curation.audits import audit_draw
from curation.models import AuditSample, DatasetVersion, Verdict, VersionRecord
from tests.factories import PASSWORD, ItemFactory

pytestmark = pytest.mark.browser

SCRIPT = "<script>alert(1)</script><img src=x onerror=alert(1)>"


@pytest.fixture
def watched(page):
    """The page, and what must stay empty: console errors, script errors, dialogs, and
    verdicts sent as a full page load instead of through htmx."""
    seen = {"console": [], "errors": [], "dialogs": [], "reloads": []}
    page.on("console", lambda m: seen["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.on(
        "request",
        lambda r: (
            seen["reloads"].append(r.url)
            if r.method == "POST" and "/judge/" in r.url and r.headers.get("hx-request") != "true"
            else None
        ),
    )
    yield page, seen
    assert seen == {"console": [], "errors": [], "dialogs": [], "reloads": []}
    assert page.evaluate("() => window.__csp") == []


def test_a_reviewer_judges_samples_with_the_keyboard(live_server, transactional_db, team, watched):
    page, _ = watched
    project = team.project
    version = DatasetVersion.objects.create(project=project, number=1, content_hash="0" * 64)
    for position, label in enumerate(["pos", "neg", "pos"], start=1):
        item = ItemFactory(project=project, data={"text": f"Text {position} {SCRIPT}"})
        VersionRecord.objects.create(
            version=version, position=position, item_id=item.pk, external_id=item.external_id,
            split="train", label=label, label_key=json.dumps({"label": label}), record="{}",
        )  # fmt: skip
    audit = audit_draw(project=project, user=team.lead, version=version, size=3, seed=4)
    samples = list(audit.samples.order_by("position"))

    judge_url = reverse("curation:audit_judge", kwargs={"slug": project.slug, "audit_id": audit.pk})
    page.goto(live_server.url + judge_url)
    page.get_by_label("Username").fill(team.reviewer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    card = page.locator("#judge-card")
    expect(page.locator("[data-shortcuts-toggle]")).to_be_visible()  # audit.js listens
    expect(card.locator(".judge-item-id")).to_have_text(samples[0].external_id)
    expect(card.locator("#judge-text")).to_contain_text("<script>alert(1)</script>")  # inert
    expect(card.locator(".judge-label")).to_have_text(samples[0].label)
    expect(card).to_be_focused()
    expect(card.locator("[data-correction]")).to_be_hidden()
    page.keyboard.press("?")
    expect(page.locator("#judge-shortcuts")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("#judge-shortcuts")).to_be_hidden()

    # Enter with no verdict saves nothing, and says why.
    page.keyboard.press("Enter")
    expect(card.locator("[data-judge-hint]")).to_contain_text("Mark the label correct")

    # C: correct, saved, the next sample comes in.
    page.keyboard.press("c")
    expect(card.locator(".judge-item-id")).to_have_text(samples[1].external_id)
    expect(card.locator("[data-judge-rate]")).to_have_text("0.0%")
    expect(card).to_be_focused()

    # X, then a digit picks the correct label, Enter saves.
    wanted = "neg" if samples[1].label == "pos" else "pos"
    digit = "1" if wanted == "neg" else "2"  # choices are sorted by name: neg, pos
    page.keyboard.press("x")
    expect(card.locator("[data-correction]")).to_be_visible()
    page.keyboard.press(digit)
    expect(card.locator(f"input[name=correct_value][data-digit='{digit}']")).to_be_checked()
    page.keyboard.press("Enter")
    expect(card.locator(".judge-item-id")).to_have_text(samples[2].external_id)
    expect(card.locator("[data-judge-rate]")).to_have_text("50.0%")

    # P goes back without saving; N comes forward again.
    page.keyboard.press("p")
    expect(card.locator(".judge-item-id")).to_have_text(samples[1].external_id)
    expect(card.locator(".badge")).to_have_text("Incorrect")
    page.keyboard.press("n")
    expect(card.locator(".judge-item-id")).to_have_text(samples[2].external_id)
    page.keyboard.press("c")

    expect(card.locator(".judge-done")).to_contain_text("33.3%")
    verdicts = list(AuditSample.objects.filter(audit=audit).order_by("position")
                    .values_list("verdict", "correct_value"))  # fmt: skip
    assert verdicts == [
        (Verdict.CORRECT, None), (Verdict.INCORRECT, {"label": wanted}), (Verdict.CORRECT, None),
    ]  # fmt: skip
