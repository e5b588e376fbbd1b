"""What "a payload got through" means in a page of HTML, checked with the standard library's
HTML parser: the parser sees tags and attributes where a browser would, so an escaped payload is
text and an unescaped one is markup.

`html_problems(html)` lists every place where data became markup: a `<script>` holding a marker,
an event-handler attribute, a `javascript:` URL, an element no page of ours uses (`iframe`,
`base`, `math`, `style`, …), htmx attributes that came from data, or `{{7*7}}` evaluated.
`unguarded_text(html, places)` lists text of the given places outside any `hx-disable`
container (XSS-4). Both name the marker, so the payload and the place are known.
"""

import re
from html.parser import HTMLParser

from tests.hostile.payloads import MARKER

VOID = frozenset(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "param", "source", "track", "wbr"])  # fmt: skip
# Elements no page of Concord renders: one in a page came from data.
FOREIGN = frozenset(["iframe", "frame", "frameset", "object", "embed", "base", "math", "mglyph",
                     "style", "template"])  # fmt: skip
URL_ATTRIBUTES = frozenset(["href", "src", "action", "formaction", "xlink:href", "poster", "data",
                            "background"])  # fmt: skip
BAD_SCHEMES = ("javascript:", "vbscript:", "data:text/html")
HTMX_FROM_DATA = re.compile(r"\?xss[a-z]+\d\d")  # the htmx bait puts "?<marker>" in its URL
JSON_TYPES = frozenset({"application/json", "application/ld+json"})


def _markers(text: str) -> list[str]:
    return [m.group(0) for m in MARKER.finditer(text)]


def _scheme(value: str) -> str:
    """The value as a browser reads a URL's scheme: control characters and spaces dropped."""
    return "".join(ch for ch in value if ch > " ").lower()


class _Scan(HTMLParser):
    def __init__(self, places: frozenset[str]):
        super().__init__(convert_charrefs=True)
        self.places = places
        self.problems: list[str] = []
        self.unguarded: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, carries hx-disable)
        self.script_type: str | None = None

    # --- tags and attributes ------------------------------------------------------------------

    def handle_starttag(self, tag, attrs):
        self._check(tag, attrs)
        if tag == "script":
            self.script_type = (dict(attrs).get("type") or "text/javascript").lower()
        elif tag == "style":
            self.script_type = "style"
        if tag not in VOID:
            guarded = any(name in ("hx-disable", "data-hx-disable") for name, _ in attrs)
            self.stack.append((tag, guarded))

    def handle_startendtag(self, tag, attrs):
        self._check(tag, attrs)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.script_type = None
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def _check(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = ", ".join(sorted({m for _, v in attrs for m in _markers(v or "")})) or "no marker"
        where = f"<{tag}> ({found})"
        if tag in FOREIGN:
            self.problems.append(f"{where}: a <{tag}> element")
        if tag == "meta" and any(name == "http-equiv" for name, _ in attrs):
            self.problems.append(f"{where}: a <meta http-equiv>")
        if tag == "script" and "src" not in dict(attrs):
            kind = (dict(attrs).get("type") or "").lower()
            if kind not in JSON_TYPES:
                self.problems.append(f"{where}: an inline <script>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"{where}: event handler {name}={value[:60]!r}")
            elif name in ("style", "srcdoc"):
                self.problems.append(f"{where}: a {name} attribute")
            elif name in URL_ATTRIBUTES and _scheme(value).startswith(BAD_SCHEMES):
                self.problems.append(f"{where}: {name}={value[:60]!r}")
            elif name.startswith(("hx-on", "data-hx-on")):
                self.problems.append(f"{where}: htmx handler {name}")
            elif name.startswith(("hx-", "data-hx-")) and HTMX_FROM_DATA.search(value):
                self.problems.append(f"{where}: htmx attribute {name}={value[:60]!r} from data")

    def close(self):
        # An unclosed <script> or <style> holds the rest of the page as its text.
        if self.cdata_elem is not None and (markers := _markers(self.rawdata)):
            self.problems.append(f"({', '.join(markers)}): inside an unclosed <{self.cdata_elem}>")
        super().close()

    # --- text ---------------------------------------------------------------------------------

    def handle_data(self, data):
        markers = _markers(data)
        if not markers:
            return
        if self.script_type is not None:
            if self.script_type not in JSON_TYPES:
                self.problems.append(f"({', '.join(markers)}): data inside a {self.script_type}")
            return
        if re.search(r"49\s*xss|49\$\{", data):
            self.problems.append(f"text ({', '.join(markers)}): a template evaluated {{7*7}}")
        # A browser never parses markup inside <textarea> or <title> (RCDATA), so htmx cannot
        # find elements there: their text needs no hx-disable.
        rcdata = any(tag in ("textarea", "title") for tag, _ in self.stack)
        if not rcdata and not any(guarded for _, guarded in self.stack):
            for marker in markers:
                place = MARKER.fullmatch(marker).group(1)
                if place in self.places:
                    parents = " > ".join(tag for tag, _ in self.stack[-4:])
                    self.unguarded.append(f"{marker} in {parents or 'the page'}")


def _scan(html: str, places=()) -> _Scan:
    scan = _Scan(frozenset(places))
    scan.feed(html)
    scan.close()
    return scan


def scan(html: str, places=()) -> tuple[list[str], list[str]]:
    """(html_problems, unguarded_text) in one pass."""
    found = _scan(html, places)
    return found.problems, sorted(set(found.unguarded))


def html_problems(html: str) -> list[str]:
    """Every place in `html` where data became markup (empty when all is escaped)."""
    return _scan(html).problems


def unguarded_text(html: str, places) -> list[str]:
    """Text of the given places (e.g. "item") outside every `hx-disable` container."""
    return sorted(set(_scan(html, places).unguarded))
