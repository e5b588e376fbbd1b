"""An annotator labels in headless Chromium with the keyboard only, goes back to change an answer,
marks spans with the mouse in a text with emoji, and picks the better of a swapped pair; item text
with HTML stays inert, and the strict Content-Security-Policy reports not one violation."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from annotation.models import Annotation, LabelSchema, Lease
from annotation.services import assignment_next
from tests.factories import PASSWORD, ItemFactory

pytestmark = pytest.mark.browser

SINGLE = {
    "labels": [
        {"value": "pos", "text": "Positive", "hotkey": "p", "color": "#1a7f37"},
        {"value": "neg", "text": "Negative", "hotkey": "n"},
    ]
}
SCRIPT = "<script>alert(1)</script><img src=x onerror=alert(1)>"
HTMX_BAIT = '<div hx-get="/api/projects/" hx-trigger="load">bait</div>'


@pytest.fixture
def watched(page):
    """The page, and what must stay empty: CSP violations, script errors, dialogs, requests that
    only markup from the data could have made, and answers sent by a full page load instead of
    htmx (a form htmx had not taken over yet)."""
    seen = {"csp": [], "errors": [], "dialogs": [], "requests": [], "reloads": []}
    page.on(
        "console",
        lambda m: seen["csp"].append(m.text) if "Content Security Policy" in m.text else None,
    )
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
            if r.method == "POST" and "/label/" in r.url and r.headers.get("hx-request") != "true"
            else None
        ),
    )
    yield page, seen
    assert seen == {"csp": [], "errors": [], "dialogs": [], "requests": [], "reloads": []}
    assert page.evaluate("() => window.__csp") == []


# Keys pressed in the very next task after htmx swaps a card in (a fast typist): the card's form
# must already be htmx's by then, or the answer goes as a full page load.
KEYS_ON_ARRIVAL = """(keys) => document.addEventListener("htmx:afterSwap", () => setTimeout(() => {
  for (const key of keys) {
    document.body.dispatchEvent(new KeyboardEvent("keydown", {key: key, bubbles: true}));
  }
}, 0), {once: true})"""


def sign_in(page, base, user, project):
    page.goto(base + reverse("annotation:label", kwargs={"slug": project.slug}))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#label-card")).to_be_visible()
    # label.js (deferred) shows the shortcuts button once it listens to the keyboard.
    expect(page.locator("[data-shortcuts-toggle]")).to_be_visible()


def shown_item(page, project):
    return project.items.get(external_id=page.locator(".label-item-id").inner_text().strip())


def test_ten_items_with_the_keyboard_then_back_to_change_two(
    live_server, transactional_db, team, watched
):
    page, _ = watched
    project = team.project
    LabelSchema.objects.create(project=project, kind="single_choice", config=SINGLE)
    ItemFactory(project=project, data={"text": SCRIPT})
    ItemFactory(project=project, data={"text": HTMX_BAIT})
    ItemFactory.create_batch(3, project=project)
    sign_in(page, live_server.url, team.annotator, project)
    expect(page.locator(".label-progress")).to_contain_text("0 done today, 10 left for you")

    page.keyboard.press("?")
    expect(page.locator("#label-shortcuts")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("#label-shortcuts")).to_be_hidden()
    page.keyboard.press("g")
    assert page.locator("#label-guidelines").get_attribute("open") is not None

    labels = []
    for n in range(10):
        key, label = [("p", "pos"), ("2", "neg"), ("1", "pos"), ("n", "neg")][n % 4]
        if n == 4:  # answered "2" by KEYS_ON_ARRIVAL, the moment its card came in
            labels.append("neg")
            expect(page.locator(".label-progress")).to_contain_text("5 done today")
            continue
        labels.append(label)
        text = shown_item(page, project).text
        if text in (SCRIPT, HTMX_BAIT):
            expect(page.locator("#item-text")).to_have_text(text)  # as text, inert
        page.keyboard.press(key)
        expect(page.locator(f".choices input[value={label}]")).to_be_checked()
        if n == 3:
            page.evaluate(KEYS_ON_ARRIVAL, ["2", "Enter"])
        page.keyboard.press("Enter")
        expect(page.locator(".label-progress")).to_contain_text(f"{n + 1} done today")
    expect(page.locator("#label-card h2")).to_have_text("Nothing left for you right now")
    expect(page.locator("#label-card")).to_be_focused()
    mine = Annotation.objects.filter(annotator=team.annotator).order_by("created_at")
    assert [a.value["label"] for a in mine] == labels
    assert len({a.item_id for a in mine}) == 10
    assert all(a.seconds_spent > 0 for a in mine)

    # Back to the last item, back once more, change that one; then Backspace to the last one.
    last, before = list(mine)[-1], list(mine)[-2]
    for annotation in (last, before):
        page.keyboard.press("z")
        expect(page.locator(".label-item-id")).to_have_text(annotation.item.external_id)
        checked = page.locator(f".choices input[value={annotation.value['label']}]")
        expect(checked).to_be_checked()
    for annotation, back_key in ((before, None), (last, "Backspace")):
        if back_key:
            page.keyboard.press(back_key)
            expect(page.locator(".label-item-id")).to_have_text(annotation.item.external_id)
        page.keyboard.press("n" if annotation.value["label"] == "pos" else "p")
        page.keyboard.press("Enter")
        expect(page.locator("#label-card h2")).to_have_text("Nothing left for you right now")
        changed = Annotation.objects.get(pk=annotation.pk)
        assert changed.value["label"] != annotation.value["label"] and changed.version == 2
    assert Annotation.objects.filter(annotator=team.annotator).count() == 10

    # My work: their ten, searchable as they type; the item with markup shows as text.
    page.get_by_role("link", name="My work").first.click()
    results = page.locator("#my-work-results")
    expect(results.locator("caption")).to_have_text("10 annotations")
    page.get_by_label("Search the items you labeled").fill("onerror")
    expect(results.locator("caption")).to_have_text("1 annotation on items containing “onerror”")
    expect(results.locator(".work-text")).to_have_text(SCRIPT)
    assert page.url.endswith("/my-work/?q=onerror")


def selection_points(page, needle):
    """Viewport points at the start of `needle`'s first character and the end of its last."""
    return page.evaluate(
        """(needle) => {
          const root = document.getElementById("item-text");
          const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
          let node;
          while ((node = walker.nextNode()) && node.data.indexOf(needle) < 0) {}
          const at = node.data.indexOf(needle);
          const range = document.createRange();
          range.setStart(node, at);
          range.setEnd(node, at + 1);
          const first = range.getBoundingClientRect();
          range.setStart(node, at + needle.length - 1);
          range.setEnd(node, at + needle.length);
          const last = range.getBoundingClientRect();
          return [first.left + 1, first.top + first.height / 2, last.right - 1,
                  last.top + last.height / 2];
        }""",
        needle,
    )


def drag_select(page, needle):
    x1, y1, x2, y2 = selection_points(page, needle)
    page.mouse.move(x1, y1)
    page.mouse.down()
    page.mouse.move(x2, y2, steps=8)
    page.mouse.up()


def test_spans_with_the_mouse_store_code_point_offsets(
    live_server, transactional_db, team, watched
):
    page, _ = watched
    project = team.project
    config = {"labels": [{"value": "PER", "text": "Person", "color": "#2563eb"},
                         {"value": "LOC", "text": "Place", "hotkey": "l"}]}  # fmt: skip
    LabelSchema.objects.create(project=project, kind="spans", config=config)
    text = "😀🎉 Ada Lovelace met Charles Babbage\r\nin 🇬🇧 London."
    item = ItemFactory(project=project, data={"text": text}, priority=10)
    sign_in(page, live_server.url, team.annotator, project)
    assert shown_item(page, project) == item

    drag_select(page, "Ada Lovelace")
    page.keyboard.press("1")
    drag_select(page, "London")
    page.get_by_role("button", name="Place").click()
    drag_select(page, "Charles")
    page.keyboard.press("l")
    marks = page.locator("#item-text mark.span-mark")
    expect(marks).to_have_count(3)
    expect(marks.nth(0)).to_have_text("Ada Lovelace")
    assert page.evaluate("() => document.getElementById('item-text').textContent") == text
    marks.filter(has_text="Charles").click()  # removes it
    expect(marks).to_have_count(2)
    drag_select(page, "Babbage")
    page.keyboard.press("2")
    marks.filter(has_text="Babbage").focus()
    page.keyboard.press("x")  # removes the focused mark
    expect(marks).to_have_count(2)
    drag_select(page, "Ada")  # inside a span: this schema allows no overlaps
    page.keyboard.press("l")
    expect(page.locator("[data-label-hint]")).to_contain_text("may not overlap")
    expect(marks).to_have_count(2)
    page.keyboard.press("Enter")
    expect(page.locator(".label-notice")).to_contain_text(
        f"Saved your answer for {item.external_id}"
    )

    stored = Annotation.objects.get(annotator=team.annotator).value["spans"]

    def span(words, label):  # offsets as Python counts them: code points
        return {"start": text.index(words), "end": text.index(words) + len(words), "label": label}

    assert stored == [span("Ada Lovelace", "PER"), span("London", "LOC")]
    assert text[stored[1]["start"] : stored[1]["end"]] == "London"


def test_a_swapped_pair_maps_the_keys_back_to_a_and_b(live_server, transactional_db, team, watched):
    page, _ = watched
    project = team.project
    LabelSchema.objects.create(project=project, kind="preference", config={"reason": "optional"})
    pair = {"prompt": "Say hi", "response_a": "Hello from A", "response_b": "Howdy from B"}
    item = ItemFactory(project=project, data=pair, priority=10)
    lease = assignment_next(project=project, annotator=team.annotator)
    assert lease.item == item
    Lease.objects.filter(pk=lease.pk).update(presentation={"order": "BA"})
    sign_in(page, live_server.url, team.annotator, project)

    sides = page.locator(".pair-side .item-text")
    expect(sides.nth(0)).to_have_text("Howdy from B")  # B is shown on the left
    page.keyboard.press("a")  # the left one
    page.get_by_label("Why?").fill("Friendlier\ngreeting")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator(".label-notice")).to_contain_text("Saved your answer")
    stored = Annotation.objects.get(annotator=team.annotator)
    assert stored.value == {"choice": "B", "reason": "Friendlier\ngreeting"}
    assert stored.presentation == {"order": "BA"}
