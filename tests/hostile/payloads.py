"""The hostile input corpus: classic XSS payloads, each stamped with a marker that names the
payload and the place it was stored, so a failing test can say which one got through and where.

A payload is written once as a template with `{m}` where its marker goes; `Payload.at(place)`
gives the text to store in one place ("item", "lblv", …). Markers are `xss<place><nn>`: letters
and digits only, so they survive HTML escaping and URL encoding unchanged and are found with
`MARKER`. Add a payload here and every page test and the browser test use it.
"""

import re
from dataclasses import dataclass

MARKER = re.compile(r"xss([a-z]+)(\d\d)")


@dataclass(frozen=True)
class Payload:
    number: int
    key: str
    template: str  # "{m}" marks where the marker goes; braces meant literally are doubled

    def marker(self, place: str) -> str:
        return f"xss{place}{self.number:02d}"

    def at(self, place: str) -> str:
        """The payload as stored in `place` (e.g. item text), with its own marker."""
        return self.template.format(m=self.marker(place))


PAYLOADS = [
    Payload(1, "script", "<script>alert('{m}')</script>"),
    Payload(2, "img", "\"><img src=x onerror=alert('{m}')>"),
    Payload(3, "svg", "<svg onload=alert('{m}')>"),
    Payload(4, "js_url", "javascript:alert('{m}')"),
    Payload(5, "textarea", "</textarea><script>alert('{m}')</script>"),
    Payload(6, "js_string", "'-alert('{m}')-'\";alert('{m}');//"),
    Payload(7, "template", "{{{{7*7}}}}${{7*7}}{m}"),
    Payload(8, "htmx", '<div hx-get="/api/projects/?{m}" hx-trigger="load">{m}</div>'),
    Payload(9, "iframe", "<iframe srcdoc=\"<script>alert('{m}')</script>\"></iframe>"),
    Payload(10, "a_js", "<a href=\"javascript:alert('{m}')\">{m}</a>"),
    Payload(11, "json_script", "</script><script>alert('{m}')</script><!--"),
    Payload(12, "unicode", "\u2028{m}\u2029</scr\u0131pt>\ufeff"),
    Payload(13, "urlencoded", "%3Cscript%3Ealert('{m}')%3C/script%3E"),
    Payload(14, "entities", "&lt;img src=x onerror=alert('{m}')&gt;"),
    Payload(
        15, "style", "<style>*{{display:none}}</style><b style=\"x\" onmouseover=alert('{m}')>"
    ),
    Payload(16, "mxss", "<math><mtext><table><mglyph><style><img src=x onerror=alert('{m}')>"),
    Payload(17, "base", '<base href="https://evil.example/{m}/">'),
    Payload(18, "htmx_on", '<b hx-on:htmx:load="alert(\'{m}\')" hx-post="/api/users/?{m}">x</b>'),
]
BY_KEY = {payload.key: payload for payload in PAYLOADS}
assert len({p.number for p in PAYLOADS}) == len(PAYLOADS)

# Markdown that a sanitizer must defuse (guidelines, dataset card sections).
MARKDOWN = [
    "[click](javascript:alert('{m}'))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) {m}",
    "![img](x \"onerror=alert('{m}')\")",
    "<img src=x onerror=alert('{m}')>",
    "<svg onload=alert('{m}')>",
    "<a href=\"javascript:alert('{m}')\">raw {m}</a>",
]

# File names an upload may carry (shown, never used as paths).
FILE_NAME = "<img src=x onerror=alert('{m}')>.jsonl"


def stamped(templates: list[str], place: str, first: int = 50) -> list[str]:
    """Extra templates (Markdown, file names) stamped with markers numbered from `first`."""
    return [template.format(m=f"xss{place}{first + i:02d}") for i, template in enumerate(templates)]


def all_at(place: str, *, limit: int | None = None, strip_safe: bool = False) -> list[str]:
    """Every payload stamped for `place`; `limit` keeps those that fit a length limit and
    `strip_safe` those without leading or trailing white space (label values must not)."""
    found = [p.at(place) for p in PAYLOADS]
    if limit is not None:
        found = [text for text in found if len(text) <= limit]
    if strip_safe:
        found = [text for text in found if text == text.strip()]
    return found


def joined(place: str, limit: int | None = None) -> str:
    """All payloads for `place` in one string, cut to `limit` characters on a payload edge."""
    text = ""
    for payload in all_at(place):
        if limit is not None and len(text) + len(payload) + 1 > limit:
            break
        text += payload + " "
    return text.strip()
