"""The checks of the corpus catch what they claim to: each payload pasted raw into a page is
found (with its marker), and the same payload escaped by Django passes. Without this, a checker
that saw nothing would make every page test pass."""

import pytest
from django.utils.html import escape

from tests.hostile.checks import html_problems, unguarded_text
from tests.hostile.payloads import MARKDOWN, PAYLOADS, stamped

PAGE = """<!doctype html><html><head><title>t</title>
<script src="/static/js/concord.js" defer></script></head>
<body><main><h1>Item</h1><div class="item-text" {guard}>{data}</div>
<script type="application/json" id="labels">{json}</script></main></body></html>"""
# Payloads that are harmless outside a JavaScript string or a template engine: the page tests
# still carry them (a script or template that used data would show them).
TEXT_ONLY = {"js_url", "js_string", "template", "unicode", "urlencoded", "entities"}
LIVE = [p for p in PAYLOADS if p.key not in TEXT_ONLY]


def page(data: str, guard: str = "hx-disable", json: str = "{}") -> str:
    return PAGE.format(data=data, guard=guard, json=json)


@pytest.mark.parametrize("payload", LIVE, ids=lambda p: p.key)
def test_a_raw_payload_is_found_with_its_marker(payload):
    problems = html_problems(page(payload.at("item")))
    assert problems and any(payload.marker("item") in p for p in problems), problems


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.key)
def test_an_escaped_payload_passes(payload):
    assert html_problems(page(escape(payload.at("item")))) == []


def test_a_payload_that_breaks_out_of_json_script_is_found():
    payload = PAYLOADS[10].at("item")  # </script><script>alert(…)</script>
    assert any("script" in p for p in html_problems(page("", json=f'"{payload}"')))


def test_a_javascript_url_in_an_attribute_is_found_however_it_is_written():
    for href in ("javascript:alert(1)", " JaVaScRiPt:alert(1)", "java\tscript:alert(1)"):
        assert html_problems(page(f'<a href="{href}">x</a>')), href


def test_an_evaluated_template_is_found():
    assert html_problems(page("49xssitem07")) and not html_problems(page("{{7*7}}xssitem07"))


def test_markdown_payloads_rendered_raw_are_found():
    live = [m for m in stamped(MARKDOWN, "guide") if m.startswith("<")]
    for text in live:
        assert html_problems(page(text)), text


def test_item_text_outside_hx_disable_is_found():
    text = escape(PAYLOADS[0].at("item"))
    assert unguarded_text(page(text, guard=""), {"item"}) == [
        "xssitem01 in html > body > main > div"
    ]
    assert unguarded_text(page(text), {"item"}) == []
    assert unguarded_text(page(text, guard=""), {"prj"}) == []


def test_text_in_a_textarea_needs_no_hx_disable_but_a_breakout_is_found():
    """A browser never parses markup inside <textarea>; closing it early is markup again."""
    kept = f"<textarea>{escape(PAYLOADS[0].at('item'))}</textarea>"
    assert unguarded_text(page(kept, guard=""), {"item"}) == []
    broken = f"<textarea>{PAYLOADS[4].at('item')}</textarea>"
    assert html_problems(page(broken, guard=""))
