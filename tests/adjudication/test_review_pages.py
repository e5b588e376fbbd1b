"""The review pages: the queue and its orders, claiming on sight and the read-only view of an item
someone else holds, deciding (a separate record: annotations stay as they were), stale decisions,
skipping, sending back, guideline issues, gold items and the settings (a new rule settles again
the items not yet decided); item text stays text."""

import json
import re
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from adjudication.models import Review, ReviewAction, ReviewEvent, ReviewPolicy, ReviewStatus
from adjudication.review_desk import Piece, span_pieces
from adjudication.services import review_claim, review_decide, review_requeue
from annotation.models import Annotation, LabelSchema
from annotation.services import annotation_submit
from curation.models import AuditEvent, AuditKind, JobRun, Role
from tests.conftest import jobs_in_process
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
LABELS = {
    "labels": [
        {"value": "pos", "text": "Positive", "hotkey": "p"},
        {"value": "neg", "text": "Negative", "hotkey": "n"},  # "n" is the page's: not used
        {"value": "mixed", "text": "Mixed"},
    ]
}
SPANS = {"labels": [{"value": "PER", "text": "Person"}, {"value": "LOC", "text": "Place"}]}
SCRIPT = "<script>alert(1)</script><img src=x onerror=alert(1)>"
HTMX_BAIT = '<div hx-get="/api/projects/" hx-trigger="load">bait</div>'
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def words(response) -> str:
    """The page's text without tags, spaces evened out."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def queue_url(project, **query):
    url = reverse("adjudication:review_queue", kwargs={"slug": project.slug})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def item_url(project, item, order=None):
    url = reverse("adjudication:review_item", kwargs={"slug": project.slug, "item_id": item.pk})
    return f"{url}?order={order}" if order else url


def route(name, project, item=None):
    kwargs = {"slug": project.slug} | ({"item_id": item.pk} if item is not None else {})
    return reverse(f"adjudication:{name}", kwargs=kwargs)


def labeled(team, item, values, seconds=5.0) -> Review | None:
    """The team's annotators give `values` (labels, or whole values) to `item` through the
    annotation service; the project's rule then settles or queues it."""
    for annotator, value in zip(team.annotators, values, strict=False):
        value = value if isinstance(value, dict) else {"label": value}
        annotation_submit(item=item, annotator=annotator, value=value, seconds_spent=seconds)
    return Review.objects.filter(item=item).first()


def decision(value, version, **extra):
    return {"value": json.dumps(value), "version": str(version), "seconds_spent": "12.5", **extra}


@pytest.fixture
def schema(team):
    return LabelSchema.objects.create(project=team.project, kind="single_choice", config=LABELS)


@pytest.fixture
def items(team, schema):
    """The project's five items, oldest first."""
    return list(team.project.items.order_by("pk"))


@pytest.fixture
def reviewer(team, client_for):
    return client_for(team.reviewer)


@pytest.fixture
def second_reviewer(team):
    user = UserFactory(username="remy_reviewer")
    MembershipFactory(project=team.project, user=user, role=Role.REVIEWER)
    return user


def queue_three(team, items):
    """Three waiting items: the oldest agrees 1/3, the middle 0, the newest 1/3; one item settled
    unanimously."""
    first = labeled(team, items[0], ["pos", "neg", "pos"])
    second = labeled(team, items[1], ["pos", "neg", "mixed"])
    third = labeled(team, items[2], ["neg", "pos", "neg"])
    labeled(team, items[3], ["pos", "pos", "pos"])
    now = timezone.now()
    for age, review in enumerate([third, second, first], start=1):
        Review.objects.filter(pk=review.pk).update(waiting_since=now - timedelta(hours=age))
    return first, second, third


# --- the queue -------------------------------------------------------------------------------


def test_queue_counts_and_lists_the_waiting_items_oldest_first(team, items, reviewer):
    queue_three(team, items)
    response = reviewer.get(queue_url(team.project))
    assert response.status_code == 200
    text = words(response)
    assert "Waiting 3 Being reviewed 0 Decided 0 Settled by rule 1 Guidelines unclear 0" in text
    shown = re.findall(r"<code>(item-\d+)</code>", response.content.decode())
    assert shown == [items[0].external_id, items[1].external_id, items[2].external_id]
    assert "0.33" in text and "Start reviewing" in text


def test_most_disagreement_first_puts_the_lowest_agreement_on_top(team, items, reviewer):
    queue_three(team, items)
    response = reviewer.get(queue_url(team.project, order="disagreement"))
    shown = re.findall(r"<code>(item-\d+)</code>", response.content.decode())
    assert shown == [items[1].external_id, items[0].external_id, items[2].external_id]


@pytest.mark.parametrize("order", ["-agreement", "claimed_by__password", "item__data"])
def test_an_order_outside_the_allowlist_is_a_400_that_says_so(team, items, reviewer, order):
    queue_three(team, items)
    response = reviewer.get(queue_url(team.project, order=order))
    assert response.status_code == 400
    assert "is not a choice here: showing oldest first" in words(response)
    assert reviewer.post(route("review_next", team.project), {"order": order}).status_code == 400


def test_the_queue_fragment_and_its_query_count_do_not_grow_with_rows(team, items, reviewer):
    queue_three(team, items)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = reviewer.get(queue_url(team.project), **HTMX)
        assert response.content.decode().lstrip().startswith('<section id="review-list"')
        return len(captured)

    few = queries()
    for _ in range(6):
        labeled(team, ItemFactory(project=team.project), ["pos", "neg", "mixed"])
    assert queries() == few


def test_someone_elses_claim_is_shown_with_its_end(team, items, reviewer, second_reviewer):
    first, _, _ = queue_three(team, items)
    review_claim(review=first, reviewer=second_reviewer)
    text = words(reviewer.get(queue_url(team.project)))
    assert "Being reviewed 1" in text and "remy_reviewer until" in text


def test_when_others_hold_everything_the_queue_says_when_work_comes_back(
    team, items, reviewer, second_reviewer
):
    """ASG-9: "nothing waits" is accurate when the work is held by someone else."""
    for review in queue_three(team, items):
        review_claim(review=review, reviewer=second_reviewer)
    text = words(reviewer.get(queue_url(team.project)))
    assert "All 3 waiting items are being reviewed right now" in text
    response = reviewer.post(route("review_next", team.project), {}, follow=True)
    assert "someone else is reviewing 3 items" in words(response)


def test_annotators_reach_no_review_page_and_their_page_shows_no_decision(team, items, client_for):
    first, _, _ = queue_three(team, items)
    review_decide(review=first, reviewer=team.reviewer, value={"label": "mixed"},
                  rationale="Secret reasoning", version=1)  # fmt: skip
    annotator = client_for(team.annotator)
    for url in (queue_url(team.project), item_url(team.project, items[0]),
                route("guideline_issues", team.project), route("gold", team.project)):  # fmt: skip
        assert annotator.get(url).status_code == 403
    work = annotator.get(reverse("annotation:my_work", kwargs={"slug": team.project.slug}))
    assert "Secret reasoning" not in work.content.decode() and "Mixed" not in words(work)


def test_recent_decisions_tab_lists_the_decisions(team, items, reviewer):
    first, _, _ = queue_three(team, items)
    review_decide(review=first, reviewer=team.reviewer, value={"label": "mixed"}, version=1)
    response = reviewer.get(queue_url(team.project, show="decided"))
    text = words(response)
    assert items[0].external_id in text and "Mixed" in text and "rita_reviewer" in text


# --- starting and claiming -------------------------------------------------------------------


def test_start_reviewing_claims_the_first_item_in_the_order_and_opens_it(team, items, reviewer):
    first, second, _ = queue_three(team, items)
    response = reviewer.post(route("review_next", team.project), {"order": "disagreement"})
    assert response.status_code == 302
    assert response["Location"] == item_url(team.project, items[1], "disagreement")
    second.refresh_from_db()
    assert second.claimed_by == team.reviewer and second.claim_expires_at > timezone.now()


def test_start_reviewing_with_nothing_waiting_says_so(team, items, reviewer):
    response = reviewer.post(route("review_next", team.project), {}, follow=True)
    assert "Nothing waits for review." in words(response)


def test_opening_a_free_item_claims_it_and_a_second_reviewer_only_reads_it(
    team, items, reviewer, second_reviewer, client_for
):
    first, _, _ = queue_three(team, items)
    page = reviewer.get(item_url(team.project, items[0]))
    assert page.status_code == 200 and "data-review-form" in page.content.decode()
    first.refresh_from_db()
    assert first.claimed_by == team.reviewer

    other = client_for(second_reviewer).get(item_url(team.project, items[0]))
    assert other.status_code == 200
    assert "rita_reviewer is reviewing this item until" in words(other)
    assert "data-review-form" not in other.content.decode()
    first.refresh_from_db()
    assert first.claimed_by == team.reviewer  # reading took nothing away


def test_of_two_reviewers_claiming_the_same_item_exactly_one_wins(team, items, second_reviewer):
    first, _, _ = queue_three(team, items)
    won = [
        review_claim(review=Review.objects.get(pk=first.pk), reviewer=user)
        for user in (team.reviewer, second_reviewer)
    ]
    assert sorted(won) == [False, True]
    assert Review.objects.get(pk=first.pk).claimed_by == team.reviewer


def test_viewing_changes_no_annotation_and_no_review_timestamp(team, items, reviewer):
    """ASG-8: viewing never mutates what was recorded (the claim is its own columns)."""
    first, _, _ = queue_three(team, items)
    before = list(Annotation.objects.filter(item=items[0]).values_list("pk", "updated_at"))
    stamp = Review.objects.get(pk=first.pk).updated_at
    reviewer.get(item_url(team.project, items[0]))
    assert list(Annotation.objects.filter(item=items[0]).values_list("pk", "updated_at")) == before
    assert Review.objects.get(pk=first.pk).updated_at == stamp


# --- the review page -------------------------------------------------------------------------


def test_the_page_shows_every_annotation_with_its_annotator_time_and_keys(team, items, reviewer):
    queue_three(team, items)
    response = reviewer.get(item_url(team.project, items[0]))
    page, text = response.content.decode(), words(response)
    assert "anna_1" in text and "anna_2" in text and "anna_3" in text
    assert "2 of 3: anna_1, anna_3" in text and "1 of 3: anna_2" in text
    assert "Time on the item 5 s" in text
    assert 'data-digit="1" data-hotkey="p"' in page  # the first given value, Positive
    assert 'data-digit="2" data-hotkey=""' in page  # Negative: its "n" is the page's skip key
    assert 'value="{&quot;label&quot;: &quot;mixed&quot;}" data-hotkey=""' in page  # nobody
    assert "js/review.js" in page and "css/review.css" in page
    assert 'id="review-guidelines"' in page and 'id="review-shortcuts"' in page


def test_the_fragment_is_the_card_alone(team, items, reviewer):
    queue_three(team, items)
    response = reviewer.get(item_url(team.project, items[0]), **HTMX)
    assert response.content.decode().lstrip().startswith('<section id="review-card"')
    assert "HX-Request" in response["Vary"]


def test_anonymised_projects_show_annotator_numbers_not_names(team, items, reviewer):
    queue_three(team, items)
    ReviewPolicy.objects.update_or_create(project=team.project, defaults={"anonymize": True})
    text = words(reviewer.get(item_url(team.project, items[0])))
    assert "Annotator 1" in text and "Annotator 3" in text
    assert "2 of 3: Annotator 1, Annotator 3" in text
    assert "anna_" not in text


def test_deciding_records_a_separate_adjudicated_decision_and_its_trail(team, items, reviewer):
    """ASG-8: the annotations stay as they were; the decision, its event and an audit row."""
    first, second, _ = queue_three(team, items)
    originals = list(Annotation.objects.filter(item=items[0]).values("pk", "value", "updated_at"))
    reviewer.get(item_url(team.project, items[0]))
    response = reviewer.post(
        item_url(team.project, items[0]),
        decision(
            {"label": "mixed"}, first.version, rationale="Both tones at once.", order="disagreement"
        ),
    )
    first.refresh_from_db()
    assert first.status == ReviewStatus.DECIDED and first.rule == "adjudicated"
    assert first.value == {"label": "mixed"} and first.rationale == "Both tones at once."
    assert first.decided_by == team.reviewer and first.seconds_spent == 12.5
    assert first.claimed_by is None
    after = list(Annotation.objects.filter(item=items[0]).values("pk", "value", "updated_at"))
    assert after == originals
    event = ReviewEvent.objects.filter(review=first).last()
    assert event.action == ReviewAction.DECIDED and event.actor == team.reviewer
    assert event.before["status"] == "waiting" and event.after["value"] == {"label": "mixed"}
    assert AuditEvent.objects.filter(kind=AuditKind.ITEM_ADJUDICATED, actor=team.reviewer).exists()
    # Straight on to the next item in the chosen order, claimed.
    assert response.status_code == 302
    assert response["Location"] == item_url(team.project, items[1], "disagreement")
    assert Review.objects.get(pk=second.pk).claimed_by == team.reviewer


def test_with_htmx_a_decision_swaps_in_the_next_item_and_the_last_goes_to_the_queue(
    team, items, reviewer
):
    first, second, third = queue_three(team, items)
    for review, following in ((first, items[1]), (second, items[2])):
        response = reviewer.post(
            item_url(team.project, review.item),
            decision({"label": "pos"}, review.version),
            **HTMX,
        )
        page = response.content.decode()
        assert response.status_code == 200 and page.lstrip().startswith('<section id="review-card"')
        assert response["HX-Push-Url"] == item_url(team.project, following)
        assert f"Decided {review.item.external_id}." in words(response)
        assert f'data-item="{following.pk}"' in page
    response = reviewer.post(
        item_url(team.project, items[2]), decision({"label": "neg"}, third.version), **HTMX
    )
    assert response["HX-Redirect"] == queue_url(team.project)
    queue = reviewer.get(queue_url(team.project))
    assert "Decided item" in words(queue) and "Nothing waits for review." in words(queue)
    assert Review.objects.filter(status=ReviewStatus.DECIDED).count() == 3


def test_a_stale_version_is_a_409_that_keeps_the_reviewers_input(team, items, reviewer):
    first, _, _ = queue_three(team, items)
    reviewer.get(item_url(team.project, items[0]))
    review_requeue(item=items[0], lead=team.lead, note="Look at the emoji")  # version 2
    response = reviewer.post(
        item_url(team.project, items[0]),
        decision({"label": "mixed"}, 1, rationale="My careful reasons"),
    )
    assert response.status_code == 409
    page, text = response.content.decode(), words(response)
    assert "This review changed since you opened it" in text and "was not saved" in text
    assert "My careful reasons" in page
    assert re.search(r'value="\{&quot;label&quot;: &quot;mixed&quot;\}"[^>]*checked', page)
    assert 'name="version" value="2"' in page  # deciding again, knowingly, is possible
    assert "Sent back for review: Look at the emoji" in text
    first.refresh_from_db()
    assert first.status == ReviewStatus.WAITING and first.value is None


def test_a_claim_held_by_someone_else_refuses_the_decision(team, items, reviewer, second_reviewer):
    first, _, _ = queue_three(team, items)
    review_claim(review=first, reviewer=second_reviewer)
    response = reviewer.post(item_url(team.project, items[0]), decision({"label": "pos"}, 1))
    assert response.status_code == 409
    assert "remy_reviewer is reviewing this item now" in words(response)
    assert Review.objects.get(pk=first.pk).status == ReviewStatus.WAITING


def test_a_value_outside_the_schema_is_a_field_error(team, items, reviewer):
    first, _, _ = queue_three(team, items)
    response = reviewer.post(item_url(team.project, items[0]), decision({"label": "nope"}, 1))
    assert response.status_code == 400
    assert "not a label" in words(response)
    assert Review.objects.get(pk=first.pk).status == ReviewStatus.WAITING


def test_a_written_value_that_is_not_json_is_an_error_under_the_box(team, items, reviewer):
    queue_three(team, items)
    posted = {"value": "write", "new_value": "{label: pos", "version": "1"}
    response = reviewer.post(item_url(team.project, items[0]), posted)
    assert response.status_code == 400
    assert re.search(
        r'id="id_new_value">\s*\{label: pos</textarea>\s*<div class="help".*?'
        r"This is not valid JSON",
        response.content.decode(),
        re.S,
    )


def test_nothing_chosen_and_an_unexplained_flag_are_field_errors(team, items, reviewer):
    queue_three(team, items)
    posted = {"version": "1", "guidelines_unclear": "on"}
    text = words(reviewer.post(item_url(team.project, items[0]), posted))
    assert "Choose a value first" in text and "Say what is unclear" in text


def test_a_written_value_is_decided_and_a_flag_is_kept(team, items, reviewer):
    first, _, _ = queue_three(team, items)
    posted = {
        "value": "write",
        "new_value": '{"label": "mixed"}',
        "version": "1",
        "guidelines_unclear": "on",
        "guideline_comment": "Sarcasm?",
    }
    reviewer.post(item_url(team.project, items[0]), posted)
    first.refresh_from_db()
    assert first.value == {"label": "mixed"}
    assert first.guidelines_unclear and first.guideline_comment == "Sarcasm?"


def test_a_decided_item_shows_its_decision_and_can_be_changed(team, items, reviewer):
    first, _, _ = queue_three(team, items)
    review_decide(
        review=first, reviewer=team.lead, value={"label": "mixed"}, rationale="Both", version=1
    )
    response = reviewer.get(item_url(team.project, items[0]))
    page, text = response.content.decode(), words(response)
    assert "Decided by lena_lead" in text and "The current final label" in text
    assert re.search(r'value="\{&quot;label&quot;: &quot;mixed&quot;\}"[^>]*checked', page)
    reviewer.post(item_url(team.project, items[0]), decision({"label": "pos"}, 2))
    first.refresh_from_db()
    assert first.value == {"label": "pos"} and first.decided_by == team.reviewer
    assert first.events.filter(action=ReviewAction.DECIDED).count() == 2


def test_an_item_settled_by_rule_is_read_only(team, items, reviewer):
    settled = labeled(team, items[4], ["pos", "pos", "pos"])
    response = reviewer.get(item_url(team.project, items[4]))
    assert "Settled by the project's rule (unanimous)" in words(response)
    assert "data-review-form" not in response.content.decode()
    posted = reviewer.post(item_url(team.project, items[4]), decision({"label": "neg"}, 1))
    assert posted.status_code == 409
    assert Review.objects.get(pk=settled.pk).status == ReviewStatus.AUTO


def test_skipping_gives_the_item_back_and_it_is_not_offered_again(team, items, reviewer):
    first, second, third = queue_three(team, items)
    reviewer.get(item_url(team.project, items[0]))
    response = reviewer.post(route("review_skip", team.project, items[0]), {})
    assert response["Location"] == item_url(team.project, items[1])
    assert Review.objects.get(pk=first.pk).claimed_by is None
    response = reviewer.post(item_url(team.project, items[1]), decision({"label": "pos"}, 1))
    assert response["Location"] == item_url(team.project, items[2])  # not the skipped one
    response = reviewer.post(route("review_skip", team.project, items[2]), {}, follow=True)
    assert "Skipped item" in words(response) and "You skipped 2 items" in words(response)
    # Starting afresh from the queue offers them again.
    response = reviewer.post(route("review_next", team.project), {})
    assert response["Location"] == item_url(team.project, items[0])


def test_spans_are_shown_highlighted_per_annotator(team, reviewer):
    project = ProjectFactory(annotators_per_item=2)
    for user, role in (
        (team.reviewer, Role.REVIEWER),
        *((a, Role.ANNOTATOR) for a in team.annotators),
    ):
        MembershipFactory(project=project, user=user, role=role)
    LabelSchema.objects.create(project=project, kind="spans", config=SPANS)
    item = ItemFactory(project=project, data={"text": "😀 Ada met <b>Bob</b>"})
    labeled(
        team,
        item,
        [
            {"spans": [{"start": 2, "end": 5, "label": "PER"}]},
            {"spans": [{"start": 2, "end": 5, "label": "LOC"}]},
        ],
    )
    page = reviewer.get(item_url(project, item)).content.decode()
    assert '<mark class="span-mark palette-0" title="Person" data-name="Person">Ada</mark>' in page
    assert '<mark class="span-mark palette-1" title="Place" data-name="Place">Ada</mark>' in page
    assert "met &lt;b&gt;Bob&lt;/b&gt;" in page


def test_span_pieces_cut_at_code_points_and_name_where_spans_end():
    looks = {"PER": ("Person", 0, ""), "ORG": ("Org", 1, "#123456")}
    spans = [
        {"start": 1, "end": 4, "label": "PER"},
        {"start": 3, "end": 5, "label": "ORG"},
        {"start": 9, "end": 99, "label": "PER"},
        {"start": "1", "end": 2, "label": "PER"},
    ]
    pieces = span_pieces("😀abcde", spans, looks)  # the bad two are left out
    assert pieces == (
        Piece("😀"),
        Piece("ab", 0, "", "Person"),
        Piece("c", 1, "#123456", "Person, Org", "Person"),
        Piece("d", 1, "#123456", "Org", "Org"),
        Piece("e"),
    )


def test_a_preference_shows_both_responses_and_a_b_tie_keys(team, reviewer):
    LabelSchema.objects.create(project=team.project, kind="preference", config={})
    item = ItemFactory(
        project=team.project, data={"prompt": "Say hi", "response_a": "Hello", "response_b": "Yo"}
    )
    labeled(team, item, [{"choice": "A"}, {"choice": "B"}, {"choice": "tie"}])
    response = reviewer.get(item_url(team.project, item))
    page, text = response.content.decode(), words(response)
    assert "Response A Hello" in text and "Response B Yo" in text and "Say hi" in text
    assert 'value="{&quot;choice&quot;: &quot;A&quot;}" data-digit="1" data-hotkey="a"' in page
    assert 'value="{&quot;choice&quot;: &quot;tie&quot;}" data-digit="3" data-hotkey="t"' in page


# --- sending back ----------------------------------------------------------------------------


def test_a_lead_sends_any_item_back_with_a_note(team, items, client_for):
    settled = labeled(team, items[4], ["pos", "pos", "pos"])
    lead = client_for(team.lead)
    response = lead.post(route("review_requeue", team.project, items[4]), {"note": "Really?"})
    assert response.status_code == 302
    settled.refresh_from_db()
    assert settled.status == ReviewStatus.WAITING and settled.requeued and settled.value is None
    assert settled.events.last().note == "Really?"
    # Also an item that never reached review.
    lead.post(route("review_requeue", team.project, items[0]), {})
    assert Review.objects.get(item=items[0]).status == ReviewStatus.WAITING
    text = words(lead.get(item_url(team.project, items[4])))
    assert "Sent back for review: Really?" in text


def test_reviewers_cannot_send_back_and_items_of_other_projects_are_404(team, items, client_for):
    other_item = team.other_project.items.first()
    assert (
        client_for(team.reviewer).post(route("review_requeue", team.project, items[0])).status_code
        == 403
    )
    url = reverse(
        "adjudication:review_requeue", kwargs={"slug": team.project.slug, "item_id": other_item.pk}
    )
    assert client_for(team.lead).post(url).status_code == 404
    assert not Review.objects.filter(item=other_item).exists()


# --- guideline issues ------------------------------------------------------------------------


def test_guideline_issues_are_listed_and_a_lead_resolves_them(team, items, client_for):
    first, _, _ = queue_three(team, items)
    review_decide(
        review=first,
        reviewer=team.reviewer,
        value={"label": "mixed"},
        rationale="Tone shifts",
        guidelines_unclear=True,
        guideline_comment="Is sarcasm <b>negative</b>?",
        version=1,
    )
    issues_url = route("guideline_issues", team.project)
    as_reviewer = client_for(team.reviewer).get(issues_url)
    assert "Is sarcasm &lt;b&gt;negative&lt;/b&gt;?" in as_reviewer.content.decode()
    assert "Mark resolved" not in words(as_reviewer)  # reviewers only read
    resolve = route("guideline_issue_resolve", team.project, items[0])
    assert client_for(team.reviewer).post(resolve).status_code == 403

    lead = client_for(team.lead)
    page = lead.get(issues_url)
    text = words(page)
    assert "Tone shifts" in text and "Mixed" in text and "rita_reviewer" in text
    assert "Mark resolved" in text
    assert lead.post(resolve).status_code == 302
    assert Review.objects.get(pk=first.pk).guideline_resolved
    assert "No open guideline issues." in words(lead.get(issues_url))
    assert "Tone shifts" in words(lead.get(issues_url + "?show=resolved"))


# --- gold items ------------------------------------------------------------------------------


@pytest.fixture
def lead(team, client_for):
    return client_for(team.lead)


def test_a_lead_makes_an_item_gold_by_its_id(team, items, lead):
    posted = {"external_id": items[4].external_id, "value": '{"label": "neg"}'}
    assert lead.post(route("gold", team.project), posted).status_code == 302
    items[4].refresh_from_db()
    assert items[4].gold == {"label": "neg"}
    text = words(lead.get(route("gold", team.project)))
    assert items[4].external_id in text and "Negative" in text
    assert AuditEvent.objects.filter(kind=AuditKind.GOLD_CHANGED).count() == 1


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({"external_id": "nope", "value": '{"label": "neg"}'}, "No item of this project has"),
        ({"value": "{label}"}, "This is not valid JSON"),
        ({"value": '{"label": "maybe"}'}, "label: "),
        ({"value": '["neg"]'}, "must be a JSON object"),
    ],
)
def test_gold_answers_are_checked_and_errors_shown_by_field(team, items, lead, posted, message):
    posted = {"external_id": items[4].external_id} | posted
    response = lead.post(route("gold", team.project), posted)
    assert response.status_code == 200
    assert message in words(response)
    items[4].refresh_from_db()
    assert items[4].gold is None


def test_the_item_of_another_project_cannot_be_made_gold(team, items, lead):
    other = team.other_project.items.first()
    posted = {"external_id": other.external_id, "value": '{"label": "neg"}'}
    lead.post(route("gold", team.project), posted)
    other.refresh_from_db()
    assert other.gold is None


def test_promote_a_decided_label_to_gold_then_remove_it(team, items, lead):
    first, second, _ = queue_three(team, items)
    review_decide(review=first, reviewer=team.reviewer, value={"label": "mixed"}, version=1)
    assert lead.post(route("gold_promote", team.project, items[0])).status_code == 302
    items[0].refresh_from_db()
    assert items[0].gold == {"label": "mixed"}
    refused = lead.post(route("gold_promote", team.project, items[1]))  # still waiting
    assert refused.status_code == 409
    assert "Only an item with a final label" in words(refused)
    assert lead.post(route("gold_remove", team.project, items[0])).status_code == 302
    items[0].refresh_from_db()
    assert items[0].gold is None


# --- settings --------------------------------------------------------------------------------

SETTINGS = {
    "rule": "below_threshold",
    "item_threshold": "0.5",
    "anonymize": "on",
    "agreement_threshold": "0.75",
    "tentative_threshold": "0.6",
    "rating_level": "interval",
    "gold_rate": "0.05",
}


def test_settings_save_the_policy_and_the_gold_rate(team, lead):
    response = lead.post(route("review_settings", team.project), SETTINGS)
    assert response.status_code == 302
    policy = ReviewPolicy.objects.get(project=team.project)
    assert (policy.rule, policy.item_threshold, policy.anonymize) == ("below_threshold", 0.5, True)
    assert (policy.agreement_threshold, policy.tentative_threshold) == (0.75, 0.6)
    assert policy.rating_level == "interval"
    team.project.refresh_from_db()
    assert team.project.gold_rate == 0.05


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Jobs start when the transaction commits; a test's never does, so the callbacks run when
    the `with` block ends, and the jobs in this process (as in the embedded default)."""

    @contextmanager
    def running():
        with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
            yield

    return running


def test_a_new_rule_settles_again_the_items_not_yet_decided(team, items, lead, run_jobs):
    """Under "any disagreement" a majority item waits; switching to "no majority" on the page
    settles it by its majority (in the agreement job), and a decided item keeps its decision."""
    waiting = labeled(team, items[0], ["pos", "pos", "neg"])
    decided = labeled(team, items[1], ["neg", "neg", "pos"])
    review_decide(review=decided, reviewer=team.reviewer, value={"label": "mixed"}, version=1)
    assert waiting.status == ReviewStatus.WAITING
    with run_jobs():
        response = lead.post(
            route("review_settings", team.project), SETTINGS | {"rule": "no_majority"}
        )
    assert response.status_code == 302
    assert JobRun.objects.get(project=team.project, kind="agreement").status == "done"
    waiting.refresh_from_db()
    assert (waiting.status, waiting.value, waiting.rule) == (
        ReviewStatus.AUTO,
        {"label": "pos"},
        "majority",
    )
    decided.refresh_from_db()
    assert (decided.status, decided.value) == (ReviewStatus.DECIDED, {"label": "mixed"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gold_rate": "0.7"}, "less than or equal to 0.5"),
        ({"item_threshold": "1.5"}, "less than or equal to 1.0"),
        ({"tentative_threshold": "0.9"}, "Must be at most the reliable bar."),
        ({"rule": "coin_flip"}, "Select a valid choice"),
    ],
)
def test_settings_refuse_values_out_of_range_with_field_errors(team, lead, change, message):
    response = lead.post(route("review_settings", team.project), SETTINGS | change)
    assert response.status_code == 200
    assert message in words(response)
    assert not ReviewPolicy.objects.filter(project=team.project, rule="below_threshold").exists()
    team.project.refresh_from_db()
    assert team.project.gold_rate == 0.0


# --- item text stays text --------------------------------------------------------------------


def test_item_text_with_markup_is_escaped_inside_hx_disable(team, schema, reviewer):
    item = ItemFactory(project=team.project, data={"text": SCRIPT + HTMX_BAIT})
    labeled(team, item, ["pos", "neg", "mixed"])
    page = reviewer.get(item_url(team.project, item)).content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert '<div hx-get="/api/projects/"' not in page
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert re.search(
        r'<div class="item-view" hx-disable><div class="item-text" id="review-text">'
        + re.escape(escaped),
        page,
    )
    queue = reviewer.get(queue_url(team.project)).content.decode()
    assert "<tbody hx-disable>" in queue and escaped in queue and "<script>alert" not in queue


# --- PostgreSQL: real threads ------------------------------------------------------------------


@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL for concurrent transactions")
@pytest.mark.django_db(transaction=True)
def test_eight_reviewers_claiming_at_once_leave_exactly_one_winner():
    project = ProjectFactory(annotators_per_item=2)
    item = ItemFactory(project=project)
    review = Review.objects.create(
        item=item, project=project, status=ReviewStatus.WAITING, waiting_since=timezone.now()
    )
    users = UserFactory.create_batch(8)
    barrier = threading.Barrier(len(users))
    results = []

    def claim(user):
        try:
            barrier.wait()
            results.append(review_claim(review=Review.objects.get(pk=review.pk), reviewer=user))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [False] * 7 + [True]
    assert Review.objects.get(pk=review.pk).claimed_by in users
