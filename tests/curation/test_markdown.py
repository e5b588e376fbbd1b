"""XSS-3: guidelines Markdown is rendered server-side and cleaned by an allowlist."""

from html.parser import HTMLParser

import pytest

from curation.markdown import render_markdown


class Elements(HTMLParser):
    """The tags and attributes a browser would build from the HTML."""

    def __init__(self, html):
        super().__init__()
        self.tags, self.attrs = set(), []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.extend((name, (value or "").lower()) for name, value in attrs)


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        '<img src=x onerror="alert(1)">',
        "<svg onload=alert(1)>",
        "<script>alert(1)</script>",
        '<a href="https://example.org" onclick="alert(1)">x</a>',
        "![x](javascript:alert(1))",
        '<iframe src="https://example.org"></iframe>',
    ],
)
def test_dangerous_markup_never_survives(source):
    elements = Elements(render_markdown(source))
    assert elements.tags <= {"p", "a", "strong", "em"}
    assert not [name for name, _ in elements.attrs if name.startswith("on")]
    urls = [value for name, value in elements.attrs if name in {"href", "src"}]
    assert not [url for url in urls if not url.startswith(("https:", "http:", "mailto:"))]


def test_ordinary_markdown_keeps_its_structure():
    html = render_markdown("# Title\n\n**bold** and [a link](https://example.org)\n\n- one\n")
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">a link</a>' in html
    assert "<li>one</li>" in html


def test_raw_html_shows_as_text():
    assert "&lt;b&gt;" in render_markdown("<b>not bold</b>")
