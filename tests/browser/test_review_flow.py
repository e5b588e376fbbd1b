"""A reviewer clears a two-item queue in headless Chromium with the keyboard: a digit picks a value
an annotator gave, Enter in the rationale starts a new line, Enter outside it decides (Ctrl+Enter
from inside it), and each decision brings the next item. Item text with HTML stays inert, and the
strict Content-Security-Policy reports not one violation."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from adjudication.models import Review, ReviewStatus
from annotation.models import LabelSchema
from annotation.services import annotation_submit
from tests.factories import PASSWORD, ItemFactory

pytestmark = pytest.mark.browser

LABELS = {
    "labels": [
        {"value": "pos", "text": "Positive", "hotkey": "p", "color": "#1a7f37"},
        {"value": "neg", "text": "Negative"},
    ]
}
SCRIPT = "<script>alert(1)</script><img src=x onerror=alert(1)>"
HTMX_BAIT = '<div hx-get="/api/projects/" hx-trigger="load">bait</div>'


@pytest.fixture
def watched(page):
    """The page, and what must stay empty: CSP violations, console errors, script errors,
    dialogs, requests only markup from the data could make, and decisions sent as a full page
    load instead of through htmx."""
    seen = {"console": [], "errors": [], "dialogs": [], "requests": [], "reloads": []}
    page.on("console", lambda m: seen["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.on(
        "request",
        lambda r: (
            seen["requests"].append(r.url) if "/api/" in r.url or r.url.endswith("/x") else None
        ),
    )
    page.on(
        "request",
        lambda r: (
            seen["reloads"].append(r.url)
            if r.method == "POST"
            and "/review/" in r.url
            and r.headers.get("hx-request") != "true"
            and not r.url.endswith("/review/next/")
            else None
        ),
    )
    yield page, seen
    assert seen == {"console": [], "errors": [], "dialogs": [], "requests": [], "reloads": []}
    assert page.evaluate("() => window.__csp") == []


def waiting_item(team, text, labels):
    item = ItemFactory(project=team.project, data={"text": text})
    for annotator, label in zip(team.annotators, labels, strict=True):
        annotation_submit(item=item, annotator=annotator, value={"label": label}, seconds_spent=3)
    return item


def test_a_reviewer_clears_the_queue_with_the_keyboard(
    live_server, transactional_db, team, watched
):
    page, _ = watched
    project = team.project
    LabelSchema.objects.create(project=project, kind="single_choice", config=LABELS)
    first = waiting_item(team, f"Great, just great. {SCRIPT}{HTMX_BAIT}", ["pos", "neg", "neg"])
    second = waiting_item(team, "Fine, I guess.", ["pos", "neg", "pos"])
    assert Review.objects.filter(status=ReviewStatus.WAITING).count() == 2

    page.goto(live_server.url + reverse("adjudication:review_queue", kwargs={"slug": project.slug}))
    page.get_by_label("Username").fill(team.reviewer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".review-counts div").first).to_have_text("Waiting2")
    page.get_by_role("button", name="Start reviewing").click()

    card = page.locator("#review-card")
    expect(page.locator("[data-shortcuts-toggle]")).to_be_visible()  # review.js listens
    expect(card.locator(".review-item-id")).to_have_text(first.external_id)
    expect(card.locator("#review-text")).to_have_text(first.text)  # as text, inert
    expect(card).to_be_focused()
    page.keyboard.press("?")
    expect(page.locator("#review-shortcuts")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("#review-shortcuts")).to_be_hidden()
    page.keyboard.press("g")
    assert page.locator("#review-guidelines").get_attribute("open") is not None

    # Enter with nothing chosen decides nothing, and says why.
    page.keyboard.press("Enter")
    expect(card.locator("[data-review-hint]")).to_contain_text("Choose a value first")
    page.keyboard.press("2")  # the second value given: Negative
    expect(card.locator('input[value=\'{"label": "neg"}\']')).to_be_checked()
    page.keyboard.press("r")
    rationale = card.locator("textarea[name=rationale]")
    expect(rationale).to_be_focused()
    page.keyboard.type("Sarcasm.")
    page.keyboard.press("Enter")  # a new line, not a decision
    page.keyboard.type("Two said so.")
    expect(rationale).to_have_value("Sarcasm.\nTwo said so.")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")

    expect(card.locator(".review-item-id")).to_have_text(second.external_id)
    expect(card.locator(".review-notice")).to_have_text(f"Decided {first.external_id}.")
    expect(card).to_be_focused()
    assert page.url.endswith(f"/review/{second.pk}/")
    page.keyboard.press("p")  # Positive's own hotkey
    expect(card.locator('input[value=\'{"label": "pos"}\']')).to_be_checked()
    card.locator("textarea[name=rationale]").click()
    page.keyboard.type("Majority, and it reads positive.")
    page.keyboard.press("Control+Enter")

    expect(page.locator(".messages")).to_contain_text(f"Decided {second.external_id}.")
    expect(page.locator(".messages")).to_contain_text("Nothing waits for review.")
    expect(page.locator(".review-counts div").first).to_have_text("Waiting0")
    decided = {r.item_id: r for r in Review.objects.filter(status=ReviewStatus.DECIDED)}
    assert set(decided) == {first.pk, second.pk}
    assert decided[first.pk].value == {"label": "neg"}
    assert decided[first.pk].rationale == "Sarcasm.\nTwo said so."
    assert decided[second.pk].value == {"label": "pos"}
    assert all(r.decided_by == team.reviewer and r.seconds_spent > 0 for r in decided.values())


def test_skip_with_s_and_a_written_value_with_w(live_server, transactional_db, team, watched):
    page, _ = watched
    project = team.project
    LabelSchema.objects.create(project=project, kind="single_choice", config=LABELS)
    first = waiting_item(team, "One", ["pos", "neg", "neg"])
    second = waiting_item(team, "Two", ["pos", "neg", "pos"])
    page.goto(
        live_server.url
        + reverse("adjudication:review_item", kwargs={"slug": project.slug, "item_id": first.pk})
    )
    page.get_by_label("Username").fill(team.reviewer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    card = page.locator("#review-card")
    expect(card.locator(".review-item-id")).to_have_text(first.external_id)
    expect(page.locator("[data-shortcuts-toggle]")).to_be_visible()
    page.keyboard.press("s")
    expect(card.locator(".review-item-id")).to_have_text(second.external_id)
    assert Review.objects.get(item=first).claimed_by is None

    page.keyboard.press("w")
    box = card.locator("textarea[name=new_value]")
    expect(box).to_be_focused()
    box.fill('{"label": "maybe"}')
    page.keyboard.press("Control+Enter")
    expect(card.locator(".errorlist")).to_contain_text("maybe")  # refused by the schema
    expect(card.locator("textarea[name=new_value]")).to_have_value('{"label": "maybe"}')
    card.locator("textarea[name=new_value]").fill('{"label": "neg"}')
    page.keyboard.press("Control+Enter")
    expect(page.locator(".messages")).to_contain_text(f"Decided {second.external_id}.")
    assert Review.objects.get(item=second).value == {"label": "neg"}
    assert Review.objects.get(item=first).status == ReviewStatus.WAITING
