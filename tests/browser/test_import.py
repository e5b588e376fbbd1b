"""A lead imports a JSONL file through the import page in headless Chromium: a file over the limit
is refused before it is sent, a good one runs as a job whose report replaces the form, and the
strict Content-Security-Policy reports not one violation."""

import pytest
from playwright.sync_api import expect

from curation.models import JobRun, JobStatus
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

ROWS = b"".join(
    b'{"id": "b-%d", "text": "Browser row %d", "prediction": {"label": "x"}}\n' % (i, i)
    for i in range(3)
)


def test_lead_uploads_a_jsonl_file_and_sees_the_report(
    live_server, transactional_db, team, page, in_process_jobs, settings
):
    settings.IMPORT_MAX_UPLOAD_BYTES = 2000
    console_violations, errors = [], []
    page.on(
        "console",
        lambda message: (
            console_violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(live_server.url + f"/p/{team.project.slug}/")
    page.get_by_label("Username").fill(team.lead.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Import items").click()
    expect(page.get_by_role("heading", name="Import items into Support intents")).to_be_visible()

    # Over the limit: refused in the page, before a byte is sent.
    big = {"name": "big.jsonl", "mimeType": "application/x-ndjson", "buffer": b"x" * 5000}
    page.get_by_label("File", exact=True).set_input_files(big)
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("[data-upload-error]")).to_contain_text(
        "import limit of 2.0 KB (2,000 bytes)"
    )
    assert not JobRun.objects.filter(kind="import").exists()
    # Without that check (an old page, a script) the server answers 413 and the form says why.
    page.locator("input[name=file]").evaluate("input => input.removeAttribute('data-max-bytes')")
    with page.expect_response(lambda response: response.status == 413):
        page.get_by_role("button", name="Upload and import").click()
    refusal = page.locator("#import-form p.message-error:not([data-upload-error])")
    expect(refusal).to_contain_text("(2,000 bytes)")
    assert not JobRun.objects.filter(kind="import").exists()

    rows = {"name": "support.jsonl", "mimeType": "application/x-ndjson", "buffer": ROWS}
    page.get_by_label("File", exact=True).set_input_files(rows)
    page.get_by_label("Skip exact duplicates").check()
    page.get_by_role("button", name="Upload and import").click()

    report = page.locator("#job-report")
    expect(report.locator(".badge")).to_have_text("Done")
    expect(report.locator("progress.job-progress")).to_be_visible()
    expect(report.locator("progress.job-progress")).to_have_attribute("value", "100")
    expect(report).to_contain_text("3 items created")
    expect(report).to_contain_text("support.jsonl")
    run = JobRun.objects.get(kind="import")
    assert run.status == JobStatus.DONE
    assert page.url.endswith(f"/p/{team.project.slug}/jobs/{run.pk}/")  # pushed by htmx
    assert team.project.items.filter(external_id__startswith="b-").count() == 3

    # The project page lists the run and counts the new items.
    page.get_by_role("link", name="Support intents").click()
    expect(page.locator(f"#job-{run.pk}")).to_contain_text("3 items created")
    expect(page.locator("#project-counts .stats")).to_contain_text("8")

    assert console_violations == []
    assert page.evaluate("() => window.__csp") == []
    assert errors == []
