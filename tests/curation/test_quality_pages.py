"""The quality page, a finding's page and job cancellation: who sees and does what, the filters'
allowlists, the actions on items, and that item text never becomes markup."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from curation.models import FindingKind, FindingStatus, JobRun, JobStatus, Split
from curation.quality_views import QualityParamsForm, word_diff
from tests.conftest import jobs_in_process
from tests.curation.quality_support import PROBE, make_finding, probe_job
from tests.factories import ItemFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
SCRIPT = "<script>alert(1)</script>"


def url(name, team, **kwargs):
    return reverse(f"curation:{name}", kwargs={"slug": team.project.slug, **kwargs})


@pytest.fixture
def probe():
    with probe_job() as spec:
        yield spec


def item(team, text, **fields):
    return ItemFactory(project=team.project, data={"text": text}, **fields)


# --- the quality page -------------------------------------------------------------------------


@pytest.mark.django_db
class TestQualityPage:
    def test_lead_sees_each_job_with_its_parameters_prefilled(self, team, client_for, probe):
        html = client_for(team.lead).get(url("quality", team)).content.decode()
        assert "Probe check" in html and "Flags items with a word." in html
        assert f'name="{PROBE}-word" value="refund"' in html
        assert f'name="{PROBE}-min_length" value="3"' in html
        assert f'name="{PROBE}-threshold" value="0.5"' in html
        assert f'name="{PROBE}-splits" value="train, test"' in html
        assert re.search(rf'type="checkbox" name="{PROBE}-strict"(?![^>]*checked)', html)
        assert 'name="kind" value="quality_probe"' in html
        assert "Not run yet." in html

    def test_reviewer_reads_without_forms(self, team, client_for, probe):
        make_finding(team.project, item=team.project.items.first(), message="Needs a look")
        response = client_for(team.reviewer).get(url("quality", team))
        html = response.content.decode()
        assert response.status_code == 200
        assert "Probe check" in html and "Needs a look" in html
        assert url("quality_run", team) not in html
        assert f'name="{PROBE}-word" value="refund" maxlength="500" disabled' in html
        assert 'name="status" value="fixed"' not in html

    def test_annotator_gets_403_and_outsider_404(self, team, client_for):
        assert client_for(team.annotator).get(url("quality", team)).status_code == 403
        assert client_for(team.outsider).get(url("quality", team)).status_code == 404
        assert client_for(team.other_lead).get(url("quality", team)).status_code == 404

    def test_project_page_links_to_quality_for_reviewers_and_leads(self, team, client_for):
        link = f'href="{url("quality", team)}"'
        detail = reverse("curation:project_detail", kwargs={"slug": team.project.slug})
        assert link in client_for(team.reviewer).get(detail).content.decode()
        assert link in client_for(team.lead).get(detail).content.decode()
        assert link not in client_for(team.annotator).get(detail).content.decode()


@pytest.mark.django_db
class TestFindingsList:
    @pytest.fixture
    def findings(self, team):
        first, second = team.project.items.all()[:2]
        return {
            "check": make_finding(team.project, item=first, message="Text is empty", score=1.0),
            "dup": make_finding(
                team.project,
                FindingKind.NEAR_DUPLICATE,
                item=first,
                items=[second.pk],
                message="Two near-duplicates",
                score=0.9,
            ),
            "fixed": make_finding(
                team.project, item=second, message="Already fixed", status=FindingStatus.FIXED
            ),
            "foreign": make_finding(team.other_project, message="Other project's finding"),
        }

    def test_open_findings_by_default_worst_first(self, team, client_for, findings):
        html = client_for(team.reviewer).get(url("quality", team)).content.decode()
        assert html.index("Text is empty") < html.index("Two near-duplicates")
        assert "Already fixed" not in html
        assert "Other project" not in html
        finding_url = url("finding", team, finding_id=findings["check"].pk)
        assert f'href="{finding_url}"' in html

    def test_filters_by_kind_and_status(self, team, client_for, findings):
        client = client_for(team.reviewer)
        html = client.get(url("quality", team), {"kind": "near_duplicate"}).content.decode()
        assert "Two near-duplicates" in html and "Text is empty" not in html
        html = client.get(url("quality", team), {"status": "fixed"}).content.decode()
        assert "Already fixed" in html and "Text is empty" not in html
        html = client.get(url("quality", team), {"status": "all"}).content.decode()
        assert "Already fixed" in html and "Text is empty" in html

    def test_counts_per_kind_and_status(self, team, client_for, findings):
        html = client_for(team.reviewer).get(url("quality", team)).content.decode()
        here = url("quality", team)
        assert f'<a href="{here}?kind=item_check&amp;status=open">1</a>' in html
        assert f'<a href="{here}?kind=item_check&amp;status=fixed">1</a>' in html
        assert f'<a href="{here}?kind=near_duplicate&amp;status=open">1</a>' in html

    @pytest.mark.parametrize(
        "query", [{"kind": "annotator__password"}, {"status": "closed"}, {"kind": "leak"}]
    )
    def test_unknown_filter_is_400_naming_it(self, team, client_for, findings, query):
        response = client_for(team.reviewer).get(url("quality", team), query)
        assert response.status_code == 400
        assert "is not a filter here" in response.content.decode()

    def test_htmx_gets_the_findings_fragment(self, team, client_for, findings):
        response = client_for(team.reviewer).get(url("quality", team), {"kind": "all"}, **HTMX)
        html = response.content.decode()
        assert html.lstrip().startswith('<section id="findings"')
        assert "Text is empty" in html and "<html" not in html
        assert 'hx-trigger="job-finished from:body"' in html

    def test_pages_of_25(self, team, client_for):
        target = team.project.items.first()
        for n in range(30):
            make_finding(team.project, item=target, message=f"Problem {n:02d}", score=1 - n / 100)
        client = client_for(team.reviewer)
        first = client.get(url("quality", team)).content.decode()
        second = client.get(url("quality", team), {"page": 2}).content.decode()
        assert "Problem 24" in first and "Problem 25" not in first
        assert "Problem 25" in second and "Page 2 of 2" in second
        assert "?kind=all&amp;status=open&amp;page=1" in second

    def test_query_count_does_not_grow_with_findings(self, team, client_for, probe):
        client = client_for(team.lead)
        target = team.project.items.first()
        make_finding(team.project, item=target)
        with CaptureQueriesContext(connection) as few:
            client.get(url("quality", team))
        for _ in range(20):
            make_finding(team.project, item=target)
        with CaptureQueriesContext(connection) as many:
            client.get(url("quality", team))
        assert len(many) == len(few)


# --- running a job ----------------------------------------------------------------------------


@pytest.mark.django_db
class TestRun:
    def test_lead_runs_a_job_and_its_card_shows_the_run(
        self, team, client_for, probe, django_capture_on_commit_callbacks
    ):
        item(team, "I want a refund")
        data = {
            "kind": PROBE,
            f"{PROBE}-word": "refund",
            f"{PROBE}-min_length": "3",
            f"{PROBE}-threshold": "0.7",
            f"{PROBE}-splits": "train",
        }
        with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
            response = client_for(team.lead).post(url("quality_run", team), data, **HTMX)
        run = team.project.job_runs.get(kind=PROBE)
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith(f'<article id="quality-job-{PROBE}"')
        assert f'id="job-{run.pk}"' in html
        assert run.params == {
            "word": "refund",
            "min_length": 3,
            "threshold": 0.7,
            "strict": False,
            "splits": ["train"],
        }
        assert run.status == JobStatus.DONE
        finding = team.project.findings.get()
        assert finding.score == 0.7 and finding.job == run

    def test_without_htmx_it_redirects_and_the_page_shows_the_last_run(
        self, team, client_for, probe
    ):
        client = client_for(team.lead)
        response = client.post(
            url("quality_run", team),
            {"kind": PROBE, f"{PROBE}-min_length": 3, f"{PROBE}-threshold": 0.5},
        )
        assert response.status_code == 302
        assert response["Location"] == url("quality", team)
        run = team.project.job_runs.get(kind=PROBE)
        html = client.get(url("quality", team)).content.decode()
        assert f'id="job-{run.pk}"' in html and 'hx-trigger="every 1s"' in html

    def test_a_bad_parameter_is_shown_on_its_field(self, team, client_for, probe):
        data = {"kind": PROBE, f"{PROBE}-min_length": "many", f"{PROBE}-threshold": "0.5"}
        client = client_for(team.lead)
        fragment = client.post(url("quality_run", team), data, **HTMX)
        assert fragment.status_code == 200
        assert "Enter a whole number." in fragment.content.decode()
        page = client.post(url("quality_run", team), data)
        assert page.status_code == 400
        assert "Enter a whole number." in page.content.decode()
        assert not team.project.job_runs.exists()

    def test_service_errors_land_on_the_field_they_name(self, probe):
        form = QualityParamsForm(probe, {f"{PROBE}-min_length": "3", f"{PROBE}-threshold": "1"})
        assert form.is_valid()
        form.add_service_errors(
            ValidationError({"params.word": ["must be str"], "kind": ["unknown"]})
        )
        assert form.errors["word"] == ["must be str"]
        assert form.non_field_errors() == ["unknown"]

    def test_unknown_kind_is_400(self, team, client_for, probe):
        response = client_for(team.lead).post(url("quality_run", team), {"kind": "nope"})
        assert response.status_code == 400
        assert not team.project.job_runs.exists()

    def test_reviewer_cannot_run(self, team, client_for, probe):
        response = client_for(team.reviewer).post(url("quality_run", team), {"kind": PROBE})
        assert response.status_code == 403
        assert not team.project.job_runs.exists()

    def test_job_that_does_not_apply_has_no_run_button(self, team, client_for):
        with probe_job(schema_kinds=("ranking",)):
            html = client_for(team.lead).get(url("quality", team)).content.decode()
        assert "For projects labelled with: ranking." in html
        assert f'name="kind" value="{PROBE}"' not in html


# --- resolving --------------------------------------------------------------------------------


@pytest.mark.django_db
class TestResolve:
    def test_lead_resolves_from_the_list_and_gets_the_row(self, team, client_for):
        finding = make_finding(team.project, item=team.project.items.first())
        response = client_for(team.lead).post(
            url("finding_resolve", team, finding_id=finding.pk),
            {"status": "not_a_problem", "note": "Intended."},
            **HTMX,
        )
        html = response.content.decode()
        assert html.lstrip().startswith(f'<li id="finding-{finding.pk}"')
        assert "Not a problem" in html and "by lena_lead" in html
        assert 'value="open"' in html  # the row now offers to reopen
        finding.refresh_from_db()
        assert finding.status == FindingStatus.NOT_A_PROBLEM
        assert finding.resolved_by == team.lead and finding.resolution_note == "Intended."

    def test_without_htmx_it_goes_to_the_finding_page_with_its_history(self, team, client_for):
        finding = make_finding(team.project, item=team.project.items.first())
        client = client_for(team.lead)
        address = url("finding", team, finding_id=finding.pk)
        response = client.post(
            url("finding_resolve", team, finding_id=finding.pk), {"status": "fixed", "note": "ok"}
        )
        assert response.status_code == 302 and response["Location"] == address
        html = client.get(address).content.decode()
        assert "Marked <strong>fixed</strong> by" in html and "lena_lead" in html
        client.post(url("finding_resolve", team, finding_id=finding.pk), {"status": "open"})
        finding.refresh_from_db()
        assert finding.status == FindingStatus.OPEN and finding.resolved_by is None

    def test_unknown_status_is_refused(self, team, client_for):
        finding = make_finding(team.project, item=team.project.items.first())
        address = url("finding_resolve", team, finding_id=finding.pk)
        response = client_for(team.lead).post(address, {"status": "deleted"})
        assert response.status_code == 400
        finding.refresh_from_db()
        assert finding.status == FindingStatus.OPEN

    def test_reviewer_gets_403_and_other_lead_404(self, team, client_for):
        finding = make_finding(team.project, item=team.project.items.first())
        address = url("finding_resolve", team, finding_id=finding.pk)
        assert client_for(team.reviewer).post(address, {"status": "fixed"}).status_code == 403
        assert client_for(team.other_lead).post(address, {"status": "fixed"}).status_code == 404
        finding.refresh_from_db()
        assert finding.status == FindingStatus.OPEN

    def test_finding_of_another_project_is_404(self, team, client_for):
        foreign = make_finding(team.other_project)
        client = client_for(team.lead)
        assert client.get(url("finding", team, finding_id=foreign.pk)).status_code == 404
        response = client.post(
            url("finding_resolve", team, finding_id=foreign.pk), {"status": "fixed"}
        )
        assert response.status_code == 404


# --- a finding's page and its actions ---------------------------------------------------------


@pytest.mark.django_db
class TestNearDuplicates:
    @pytest.fixture
    def cluster(self, team):
        a = item(team, "Where is my parcel now", split=Split.TRAIN)
        b = item(team, "Where is my parcel today", split=Split.TEST)
        c = item(team, "Where is the parcel now")
        finding = make_finding(
            team.project, FindingKind.NEAR_DUPLICATE, item=a, items=[b.pk, c.pk], score=0.8
        )
        return finding, (a, b, c)

    def test_page_shows_the_texts_side_by_side_with_differences(self, team, client_for, cluster):
        finding, (a, b, c) = cluster
        html = client_for(team.reviewer).get(url("finding", team, finding_id=finding.pk))
        html = html.content.decode()
        assert html.count('<article class="item-pane') == 3
        assert "<del>now</del><ins>today</ins>" in html
        assert "<del>my </del><ins>the </ins>" in html
        for member in (a, b, c):
            assert member.external_id in html
        assert "Train" in html and "Test" in html
        assert "Keep this one" not in html  # reviewers read only

    def test_keep_one_drops_the_others_and_resolves(self, team, client_for, cluster):
        finding, (a, b, c) = cluster
        client = client_for(team.lead)
        page = client.get(url("finding", team, finding_id=finding.pk)).content.decode()
        assert page.count("Keep this one, drop the rest") == 3 and "Not duplicates" in page
        response = client.post(
            url("finding_action", team, finding_id=finding.pk), {"action": "keep", "keep": b.pk}
        )
        assert response.status_code == 302
        for member in (a, b, c):
            member.refresh_from_db()
        assert b.dropped_at is None
        assert a.dropped_at is not None and c.dropped_at is not None
        finding.refresh_from_db()
        assert finding.status == FindingStatus.FIXED and finding.resolved_by == team.lead

    def test_keep_an_item_outside_the_cluster_is_refused(self, team, client_for, cluster):
        finding, (a, b, c) = cluster
        stranger = team.project.items.exclude(pk__in=[a.pk, b.pk, c.pk]).first()
        response = client_for(team.lead).post(
            url("finding_action", team, finding_id=finding.pk),
            {"action": "keep", "keep": stranger.pk},
        )
        assert response.status_code == 400
        assert "Keep one of the cluster" in response.content.decode()
        assert not team.project.items.filter(dropped_at__isnull=False).exists()

    def test_a_foreign_item_in_the_cluster_refuses_the_whole_request(
        self, team, client_for, cluster
    ):
        finding, (a, b, c) = cluster
        foreign = team.other_project.items.first()
        finding.items = [b.pk, foreign.pk]
        finding.save()
        response = client_for(team.lead).post(
            url("finding_action", team, finding_id=finding.pk), {"action": "keep", "keep": a.pk}
        )
        assert response.status_code == 400
        assert not team.project.items.filter(dropped_at__isnull=False).exists()
        foreign.refresh_from_db()
        assert foreign.dropped_at is None
        finding.refresh_from_db()
        assert finding.status == FindingStatus.OPEN

    def test_not_duplicates_resolves_as_not_a_problem(self, team, client_for, cluster):
        finding, _ = cluster
        client_for(team.lead).post(
            url("finding_resolve", team, finding_id=finding.pk),
            {"status": "not_a_problem", "note": "Not duplicates."},
        )
        finding.refresh_from_db()
        assert finding.status == FindingStatus.NOT_A_PROBLEM
        assert not team.project.items.filter(dropped_at__isnull=False).exists()


@pytest.mark.django_db
class TestLeakage:
    @pytest.fixture
    def leak(self, team):
        leaked = item(team, "Reset my password please", split=Split.TEST)
        twin = item(team, "Please reset my password please", split=Split.TRAIN)
        finding = make_finding(
            team.project,
            FindingKind.LEAKAGE,
            item=leaked,
            items=[twin.pk],
            score=0.75,
            detail={
                "pair": ["train", "test"],
                "exact": [],
                "ngrams": 3,
                "ngram": [{"item": twin.pk, "shared": 2}],
                "covered_token_share": 0.75,
            },
        )
        return finding, leaked, twin

    def test_page_shows_the_leaked_item_beside_its_twin_with_coverage(self, team, client_for, leak):
        finding, leaked, twin = leak
        html = client_for(team.lead).get(url("finding", team, finding_id=finding.pk))
        html = html.content.decode()
        assert "75% of the leaked item" in html
        assert "<mark>Reset my password please</mark>" in html
        assert "Please <mark>reset my password please</mark>" in html
        assert leaked.external_id in html and twin.external_id in html
        assert "Move to train" in html and ">Drop</button>" in html
        assert "Shares 2 n-grams" in html
        assert "<dt>Ngrams</dt><dd>3</dd>" in html
        assert "<dt>Covered token share</dt><dd>0.75</dd>" in html

    def test_move_to_train(self, team, client_for, leak):
        finding, leaked, _ = leak
        response = client_for(team.lead).post(
            url("finding_action", team, finding_id=finding.pk), {"action": "move"}
        )
        assert response.status_code == 302
        leaked.refresh_from_db()
        finding.refresh_from_db()
        assert leaked.split == Split.TRAIN and leaked.dropped_at is None
        assert finding.status == FindingStatus.FIXED

    def test_drop(self, team, client_for, leak):
        finding, leaked, _ = leak
        client_for(team.lead).post(
            url("finding_action", team, finding_id=finding.pk), {"action": "drop"}
        )
        leaked.refresh_from_db()
        finding.refresh_from_db()
        assert leaked.dropped_at is not None and leaked.split == Split.TEST
        assert finding.status == FindingStatus.FIXED

    def test_unknown_action_is_400(self, team, client_for, leak):
        finding, leaked, _ = leak
        response = client_for(team.lead).post(
            url("finding_action", team, finding_id=finding.pk), {"action": "delete"}
        )
        assert response.status_code == 400
        leaked.refresh_from_db()
        assert leaked.dropped_at is None and leaked.split == Split.TEST

    def test_reviewer_cannot_act(self, team, client_for, leak):
        finding, leaked, _ = leak
        response = client_for(team.reviewer).post(
            url("finding_action", team, finding_id=finding.pk), {"action": "drop"}
        )
        assert response.status_code == 403
        leaked.refresh_from_db()
        assert leaked.dropped_at is None


@pytest.mark.django_db
class TestOtherKinds:
    def test_item_check_shows_text_rule_and_message(self, team, client_for):
        target = item(team, "Short")
        finding = make_finding(
            team.project,
            item=target,
            rule="too_short",
            message="Text has 5 characters; the minimum is 10.",
        )
        html = client_for(team.reviewer).get(url("finding", team, finding_id=finding.pk))
        html = html.content.decode()
        assert '<div class="item-text" hx-disable>Short</div>' in html
        assert "too_short" in html and "the minimum is 10" in html

    def test_wrong_label_shows_labels_and_links_to_review(self, team, client_for):
        target = item(team, "My card was charged twice")
        finding = make_finding(
            team.project,
            FindingKind.WRONG_LABEL,
            item=target,
            score=0.91,
            detail={"given": {"label": "shipping"}, "suggested": "billing", "confidence": 0.91},
        )
        html = client_for(team.reviewer).get(url("finding", team, finding_id=finding.pk))
        html = html.content.decode()
        assert "<dd>shipping</dd>" in html and "<dd>billing</dd>" in html and "91%" in html
        review = reverse("adjudication:review_item", args=[team.project.slug, target.pk])
        assert f'href="{review}"' in html

    def test_annotator_finding_shows_message_and_detail(self, team, client_for):
        finding = make_finding(
            team.project,
            FindingKind.ANNOTATOR,
            message="anna_2 agrees with the team on 41% of items.",
            detail={
                "annotator": "anna_2",
                "measures": [{"measure": "agreement", "z": -4.25, "value": 0.41}],
            },
        )
        html = client_for(team.reviewer).get(url("finding", team, finding_id=finding.pk))
        html = html.content.decode()
        assert "agrees with the team on 41%" in html
        assert "<dt>Annotator</dt><dd>anna_2</dd>" in html
        assert re.search(r"<th scope=\"col\">z</th>.*<td>-4.25</td>", html, re.S)


def test_word_diff_marks_words_added_and_missing():
    assert word_diff("a b c", "a x c") == [
        ("equal", "a "),
        ("delete", "b "),
        ("insert", "x "),
        ("equal", "c"),
    ]
    assert word_diff("same text", "same text") == [("equal", "same text")]
    assert word_diff("x", "  indented\nlines ") == [
        ("delete", "x"),
        ("insert", "  indented\nlines "),
    ]
    assert word_diff("word " * 3000, "word") is None


# --- user data stays text ---------------------------------------------------------------------


@pytest.mark.django_db
def test_item_text_and_messages_are_escaped_inside_hx_disable(team, client_for):
    hostile = item(team, f'{SCRIPT}<div hx-get="/api/users/" hx-trigger="load">x</div>')
    twin = item(team, f"{SCRIPT} twin")
    finding = make_finding(
        team.project,
        FindingKind.NEAR_DUPLICATE,
        item=hostile,
        items=[twin.pk],
        message=f"Message {SCRIPT}",
        detail={"note": SCRIPT},
    )
    client = client_for(team.lead)
    for address in (url("quality", team), url("finding", team, finding_id=finding.pk)):
        html = client.get(address).content.decode()
        assert "<script>alert" not in html
        assert '<div hx-get="/api/users/"' not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert re.search(
        r'<div class="finding-main" hx-disable>\s*<p class="finding-head">',
        client.get(url("quality", team)).content.decode(),
    )
    page = client.get(url("finding", team, finding_id=finding.pk)).content.decode()
    assert '<div class="item-text" hx-disable>&lt;script&gt;' in page
    assert '<p class="card finding-message" hx-disable>Message &lt;script&gt;' in page


# --- cancelling a job -------------------------------------------------------------------------


@pytest.mark.django_db
class TestCancel:
    def queued(self, team):
        return JobRun.objects.create(project=team.project, kind="project_stats")

    def test_lead_cancels_a_queued_job(self, team, client_for):
        run = self.queued(team)
        response = client_for(team.lead).post(url("job_cancel", team, job_id=run.pk))
        assert response.status_code == 302
        assert response["Location"] == url("job_status", team, job_id=run.pk)
        run.refresh_from_db()
        assert run.status == JobStatus.CANCELLED

    def test_running_job_is_asked_to_stop_and_htmx_gets_the_report(self, team, client_for):
        run = self.queued(team)
        JobRun.objects.filter(pk=run.pk).update(status=JobStatus.RUNNING, started_at=timezone.now())
        response = client_for(team.lead).post(url("job_cancel", team, job_id=run.pk), **HTMX)
        html = response.content.decode()
        assert html.lstrip().startswith('<section id="job-report"')
        assert "Stopping after the current step" in html
        run.refresh_from_db()
        assert run.status == JobStatus.RUNNING and run.cancel_requested

    def test_job_page_offers_cancel_to_the_lead_while_active(self, team, client_for):
        run = self.queued(team)
        address = url("job_status", team, job_id=run.pk)
        assert "Cancel the job" in client_for(team.lead).get(address).content.decode()
        assert "Cancel the job" not in client_for(team.reviewer).get(address).content.decode()
        JobRun.objects.filter(pk=run.pk).update(status=JobStatus.DONE)
        assert "Cancel the job" not in client_for(team.lead).get(address).content.decode()

    def test_only_the_lead_of_the_project_cancels(self, team, client_for):
        run = self.queued(team)
        address = url("job_cancel", team, job_id=run.pk)
        assert client_for(team.reviewer).post(address).status_code == 403
        assert client_for(team.other_lead).post(address).status_code == 404
        assert client_for(team.lead).get(address).status_code == 405
        foreign = JobRun.objects.create(project=team.other_project, kind="project_stats")
        assert (
            client_for(team.lead).post(url("job_cancel", team, job_id=foreign.pk)).status_code
            == 404
        )
        run.refresh_from_db()
        foreign.refresh_from_db()
        assert run.status == foreign.status == JobStatus.QUEUED
