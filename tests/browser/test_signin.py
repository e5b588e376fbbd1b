"""A lead signs in through the real form in headless Chromium and walks through their project,
with the strict Content-Security-Policy on: not one violation may be reported."""

import re

import pytest
from playwright.sync_api import expect

from curation.models import JobRun, JobStatus
from tests.factories import PASSWORD, ItemFactory

pytestmark = pytest.mark.browser


def test_lead_signs_in_and_walks_through_their_project(
    live_server, transactional_db, team, page, in_process_jobs
):
    console_violations = []
    page.on(
        "console",
        lambda message: (
            console_violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="Sign in to Concord")).to_be_visible()
    page.get_by_label("Username").fill(team.lead.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="My projects")).to_be_visible()
    expect(page.locator(".site-user")).to_have_text("lena_lead")
    # A queued run that no worker picks up: its row polls until the run ends.
    waiting = JobRun.objects.create(project=team.project, kind="project_stats")
    page.get_by_role("link", name="Support intents").click()

    expect(page.get_by_role("heading", name="Support intents", level=1)).to_be_visible()
    config = page.evaluate(
        "() => [htmx.config.selfRequestsOnly, htmx.config.allowEval, htmx.config.allowScriptTags]"
    )
    assert config == [True, False, False]
    row = page.locator(f"#job-{waiting.pk}")
    expect(row.locator(".badge")).to_have_text("Queued")
    with page.expect_response(lambda response: response.url.endswith(f"/jobs/{waiting.pk}/")):
        pass  # it polls
    ItemFactory.create_batch(2, project=team.project)
    JobRun.objects.filter(pk=waiting.pk).update(status=JobStatus.DONE, progress=1.0)
    expect(row.locator(".badge")).to_have_text("Done")
    # The finished run tells the counts to refresh themselves: 5 items became 7.
    expect(page.locator("#project-counts .stats")).to_contain_text("7")

    page.get_by_role("button", name="Test background jobs").click()
    expect(page.locator("#jobs .job")).to_have_count(2)
    expect(page.locator("#jobs .job").first.locator(".badge")).to_have_text("Done")
    expect(page.locator("#jobs .job").first).to_contain_text(re.compile(r"items\s*7"))

    page.get_by_role("link", name="Manage members").click()
    expect(page.get_by_role("heading", name="Members of Support intents")).to_be_visible()
    page.get_by_label("Role of anna_1").select_option("reviewer")
    page.locator("#member-" + str(_membership_id(team, "anna_1"))).get_by_role(
        "button", name="Change"
    ).click()
    expect(page.get_by_role("status")).to_have_text("anna_1 is now Reviewer.")
    page.get_by_label("Role of lena_lead").select_option("annotator")
    page.locator("#member-" + str(_membership_id(team, "lena_lead"))).get_by_role(
        "button", name="Change"
    ).click()
    expect(page.get_by_role("alert").filter(has_text="at least one lead")).to_be_visible()

    assert console_violations == []
    assert page.evaluate("() => window.__csp") == []
    assert errors == []


def _membership_id(team, username):
    return team.project.memberships.get(user__username=username).pk
