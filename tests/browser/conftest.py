"""What every browser test shares: headless Chromium with a CSP-violation recorder, and jobs run
in-process by the live server."""

import os
import shutil

import pytest

# Playwright's sync API runs an event loop in this thread; Django would refuse ORM calls from it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from django.db import connections  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Also catches violations the console might word differently.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def page(settings, tmp_path):
    if not shutil.which(CHROMIUM):
        reason = f"{CHROMIUM} is missing: install Debian's chromium package to run browser tests."
        if os.environ.get("CI"):
            pytest.fail(reason)
        print(reason)
        pytest.skip(reason)
    settings.MEDIA_ROOT = tmp_path  # the live server shares this process's settings
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context()
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
        context.close()
        browser.close()
        # While Playwright's loop runs, Django keeps this thread's ORM connections per context;
        # close them here, or PostgreSQL refuses to drop the test database.
        connections.close_all()
