"""Static rules from the security requirements, checked over the source tree."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ["config", "curation", "annotation", "adjudication"]


def source_files(pattern="*.py"):
    for app in APPS:
        yield from (ROOT / app).rglob(pattern)


def templates():
    yield from (ROOT / "templates").rglob("*.html")
    for app in APPS:
        yield from (ROOT / app).rglob("templates/**/*.html")


def offending_lines(files, regex):
    hits = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(regex, line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return hits


def test_views_and_serializers_never_fetch_project_data_unscoped():
    """AUTHZ-1: views, API views and serializers reach data only through curation.access."""
    files = [p for p in source_files() if p.name in {"views.py", "api.py", "serializers.py"}
             or p.name.endswith(("_views.py", "_api.py"))]  # fmt: skip
    assert {"review_views.py", "lead_views.py", "dashboard_views.py"} <= {p.name for p in files}
    assert offending_lines(files, r"\.objects\.(get|filter)\(\s*(pk|id)\b") == []
    models = r"Item|Annotation|JobRun|Membership|Review|ReviewEvent|AgreementSnapshot"
    assert offending_lines(files, rf"\b({models})\.objects\.get\(") == []


def test_no_template_marks_data_safe():
    """XSS-1: no |safe or autoescape off in templates."""
    assert offending_lines(templates(), r"\|\s*safe\b|autoescape\s+off") == []


def test_only_the_markdown_sanitiser_marks_html_safe():
    """XSS-1: mark_safe, format_html and SafeString appear only after nh3 cleaned the HTML."""
    hits = offending_lines(source_files(), r"\b(mark_safe|format_html|SafeString)\(")
    assert [h for h in hits if not h.startswith("curation/markdown.py")] == []


def test_nothing_unpickles():
    """FILE-5: no pickle, joblib or torch.load anywhere in the apps."""
    assert offending_lines(source_files(), r"^\s*(import|from)\s+(pickle|joblib|dill)\b") == []
    assert offending_lines(source_files(), r"torch\.load\(") == []


def test_no_user_string_reaches_filter_kwargs_or_raw_sql():
    """QRY-1 / QRY-2: no filter(**…) built from input, no extra() or string-formatted SQL."""
    assert offending_lines(source_files(), r"\.(extra|raw)\(") == []
    assert offending_lines(source_files(), r"execute\(\s*f[\"']") == []


@pytest.mark.parametrize("path", ["templates", "static/css", "static/js"])
def test_no_asset_comes_from_a_cdn(path):
    files = [
        p for p in (ROOT / path).rglob("*") if p.is_file() and p.suffix in {".html", ".css", ".js"}
    ]
    assert offending_lines(files, r"(src|href)=[\"']https?://|@import\s+url\(https?:") == []


def test_templates_have_no_inline_script_or_style():
    """XSS-5: the CSP forbids inline code, so none may be written."""
    hits = offending_lines(
        templates(), r"<script(?![^>]*\bsrc=)(?![^>]*json)|<style|\sstyle=|\son[a-z]+="
    )
    assert hits == []


# Imports run one way: adjudication → annotation → curation → config.
LAYER = {"config": 0, "curation": 1, "annotation": 2, "adjudication": 3}


def test_imports_run_one_way():
    hits = []
    for app, level in LAYER.items():
        for path in (ROOT / app).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                match = re.match(
                    r"\s*(?:from|import)\s+(config|curation|annotation|adjudication)\b", line
                )
                if match and LAYER[match.group(1)] > level and not _allowed(app, match.group(1)):
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert hits == []


def _allowed(app: str, target: str) -> bool:
    # config wires the apps together (URL includes) without importing their logic.
    return app == "config"
