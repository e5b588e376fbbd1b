"""The labeling page and "My work": one item at a time, submitted through htmx or a plain form;
retries store one annotation; skips; going back to change one's own answer; conflicts keep the
answer on screen; nobody sees another annotator's labels; item text stays text."""

import json
import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation import labeling_views, selectors
from annotation.labeling_views import value_summary
from annotation.models import Annotation, LabelSchema, Lease, Skip
from annotation.services import annotation_submit, assignment_next
from tests.factories import ItemFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
SINGLE = {
    "labels": [
        {"value": "pos", "text": "Positive", "hotkey": "p", "color": "#1a7f37"},
        {"value": "neg", "text": "Negative", "hotkey": "n"},
    ]
}
PREFERENCE = {"allow_tie": True, "reason": "optional"}
SPANS = {"labels": [{"value": "PER", "text": "Person"}, {"value": "LOC", "text": "Place"}]}


def schema_of(project, kind="single_choice", config=SINGLE):
    return LabelSchema.objects.create(project=project, kind=kind, config=config)


def label_url(project):
    return reverse("annotation:label", kwargs={"slug": project.slug})


def item_url(project, item):
    return reverse("annotation:label_item", kwargs={"slug": project.slug, "item_id": item.pk})


def skip_url(project, item):
    return reverse("annotation:label_skip", kwargs={"slug": project.slug, "item_id": item.pk})


def work_url(project):
    return reverse("annotation:my_work", kwargs={"slug": project.slug})


def answer(value, key="key-1", seconds="7.5", **extra):
    return {"value": json.dumps(value), "submission_key": key, "seconds_spent": seconds, **extra}


def words(response) -> str:
    """The page's text without tags, spaces evened out."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def leased_item(project, user):
    return Lease.objects.get(project=project, annotator=user).item


@pytest.fixture
def single(team):
    return schema_of(team.project)


@pytest.fixture
def annotator(team, client_for):
    return client_for(team.annotator)


# --- the page and its fragment ----------------------------------------------------------------


def test_full_page_shows_the_leased_item_its_labels_and_the_progress(team, single, annotator):
    response = annotator.get(label_url(team.project))
    assert response.status_code == 200
    item = leased_item(team.project, team.annotator)
    page = response.content.decode()
    assert "<html" in page and 'id="label-card"' in page
    assert item.text in page and "Positive" in page and "Negative" in page
    assert "0 done today, 5 left for you" in words(response)
    assert 'data-hotkey="p"' in page and 'data-color="#1a7f37"' in page
    assert "js/label.js" in page and "css/label.css" in page
    assert response["Vary"].count("HX-Request") == 1


def test_htmx_gets_only_the_card_and_the_same_item(team, single, annotator):
    first = annotator.get(label_url(team.project))
    again = annotator.get(label_url(team.project), **HTMX)
    page = again.content.decode()
    assert again.status_code == 200
    assert page.lstrip().startswith('<section id="label-card"') and "<html" not in page
    assert Lease.objects.filter(annotator=team.annotator).count() == 1  # idempotent
    assert leased_item(team.project, team.annotator).text in first.content.decode()


def test_a_long_queue_is_counted_up_to_a_cap(team, single, annotator, monkeypatch):
    monkeypatch.setattr(labeling_views, "LEFT_CAP", 3)  # 4 open items beside the one held
    assert "0 done today, 4+ left for you" in words(annotator.get(label_url(team.project)))


def test_history_restore_gets_the_whole_page(team, single, annotator):
    restore = {**HTMX, "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}
    assert "<html" in annotator.get(label_url(team.project), **restore).content.decode()


def test_a_project_without_labels_hands_out_nothing(team, annotator):
    response = annotator.get(label_url(team.project))
    assert "Nothing to label yet" in words(response)
    assert not Lease.objects.exists()


# --- submitting -------------------------------------------------------------------------------


def test_submit_stores_the_value_the_seconds_and_how_the_pair_was_shown(team, annotator):
    schema_of(team.project, "preference", PREFERENCE)
    pair = {"prompt": "Hi?", "response_a": "A!", "response_b": "B!"}
    ItemFactory(project=team.project, data=pair, priority=10)
    annotator.get(label_url(team.project))
    lease = Lease.objects.get(annotator=team.annotator)
    response = annotator.post(item_url(team.project, lease.item), answer({"choice": "A"}))
    assert response.status_code == 302 and response["Location"] == label_url(team.project)
    stored = Annotation.objects.get(annotator=team.annotator)
    assert stored.value == {"choice": "A"}
    assert stored.seconds_spent == 7.5
    assert stored.presentation == lease.presentation and lease.presentation["order"] in {"AB", "BA"}
    assert not Lease.objects.filter(pk=lease.pk).exists()


def test_htmx_submit_answers_with_the_next_items_card(team, single, annotator):
    annotator.get(label_url(team.project))
    first = leased_item(team.project, team.annotator)
    response = annotator.post(item_url(team.project, first), answer({"label": "pos"}), **HTMX)
    assert response.status_code == 200
    assert response["HX-Replace-Url"] == label_url(team.project)
    second = leased_item(team.project, team.annotator)
    assert second != first and second.text in response.content.decode()
    text = words(response)
    assert f"Saved your answer for {first.external_id}" in text
    assert "1 done today, 4 left for you" in text
    assert "<html" not in response.content.decode()


def test_a_double_submit_with_one_key_stores_one_annotation(team, single, annotator):
    annotator.get(label_url(team.project))
    item = leased_item(team.project, team.annotator)
    for _ in range(2):
        assert (
            annotator.post(item_url(team.project, item), answer({"label": "pos"})).status_code
            == 302
        )
    stored = Annotation.objects.get(annotator=team.annotator)
    assert (stored.version, stored.item) == (1, item)


def test_without_javascript_the_forms_own_fields_carry_the_answer(team, single, annotator):
    annotator.get(label_url(team.project))
    item = leased_item(team.project, team.annotator)
    annotator.post(item_url(team.project, item), {"label": "neg", "submission_key": "k"})
    assert Annotation.objects.get(annotator=team.annotator).value == {"label": "neg"}


def test_an_invalid_value_comes_back_with_the_message_and_the_choice(team, single, annotator):
    annotator.get(label_url(team.project))
    item = leased_item(team.project, team.annotator)
    response = annotator.post(item_url(team.project, item), answer({"label": "nope"}), **HTMX)
    assert response.status_code == 200  # htmx swaps nothing on 4xx
    assert "is not a label of this project" in words(response)
    assert "not saved" in words(response)
    plain = annotator.post(item_url(team.project, item), answer({"label": "nope"}, key="k2"))
    assert plain.status_code == 400 and "<html" in plain.content.decode()
    broken = annotator.post(item_url(team.project, item), {"value": "{oops", "submission_key": "3"})
    assert "could not be read" in words(broken)
    assert not Annotation.objects.exists()


def test_an_unreadable_time_is_dropped_not_refused(team, single, annotator):
    annotator.get(label_url(team.project))
    item = leased_item(team.project, team.annotator)
    annotator.post(item_url(team.project, item), answer({"label": "pos"}, seconds="NaN"))
    assert Annotation.objects.get(annotator=team.annotator).seconds_spent is None


def test_skip_records_it_and_shows_the_next_item(team, single, annotator):
    annotator.get(label_url(team.project))
    item = leased_item(team.project, team.annotator)
    response = annotator.post(skip_url(team.project, item), {"reason": "not English"}, **HTMX)
    assert response.status_code == 200 and f"Skipped {item.external_id}" in words(response)
    assert Skip.objects.get(annotator=team.annotator).reason == "not English"
    assert leased_item(team.project, team.annotator) != item
    assert annotator.post(skip_url(team.project, item)).status_code == 302  # idempotent


# --- going back to change one's own answer ------------------------------------------------------


def test_going_back_shows_ones_own_value_and_saves_a_change(team, single, annotator):
    annotator.get(label_url(team.project))
    item = leased_item(team.project, team.annotator)
    annotator.post(item_url(team.project, item), answer({"label": "pos"}))
    page = annotator.get(label_url(team.project)).content.decode()
    assert f'href="{item_url(team.project, item)}" data-label-back' in page

    back = annotator.get(item_url(team.project, item), **HTMX)
    assert back.status_code == 200 and "Change your answer" in words(back)
    assert re.search(r'value="pos"[^>]*checked', back.content.decode())
    assert not re.search(r'value="neg"[^>]*checked', back.content.decode())
    assert 'name="version" value="1"' in back.content.decode()

    change = answer({"label": "neg"}, key="key-2", seconds="2", version="1")
    response = annotator.post(item_url(team.project, item), change, **HTMX)
    stored = Annotation.objects.get(annotator=team.annotator)
    assert (stored.value, stored.version, stored.seconds_spent) == ({"label": "neg"}, 2, 9.5)
    # The card is the item they still hold, and the address is the queue's again.
    assert response["HX-Replace-Url"] == label_url(team.project)
    assert leased_item(team.project, team.annotator).text in response.content.decode()


def test_a_stale_change_is_refused_and_the_answer_stays_on_screen(team, single, annotator):
    item = team.project.items.first()
    annotation, _ = annotation_submit(item=item, annotator=team.annotator, value={"label": "pos"})
    annotation_submit(item=item, annotator=team.annotator, value={"label": "pos"}, version=1)
    stale = answer({"label": "neg"}, key="old-page", version="1")
    response = annotator.post(item_url(team.project, item), stale, **HTMX)
    assert response.status_code == 200
    text = words(response)
    assert "changed elsewhere" in text and "Your answer was not saved" in text
    assert re.search(r'value="neg"[^>]*checked', response.content.decode())
    assert 'name="version" value="1"' in response.content.decode()  # a resubmit stays refused
    assert Annotation.objects.get(pk=annotation.pk).value == {"label": "pos"}


def test_an_item_filled_after_the_lease_expired_says_the_answer_was_not_saved(
    team, single, annotator
):
    project = team.project
    project.annotators_per_item = 1
    project.save()
    annotator.get(label_url(project))
    item = leased_item(project, team.annotator)
    Lease.objects.filter(annotator=team.annotator).update(expires_at=timezone.now())
    other = team.annotators[1]
    taken = assignment_next(project=project, annotator=other)  # reclaims the expired lease
    assert taken.item == item
    annotation_submit(item=item, annotator=other, value={"label": "pos"})

    response = annotator.post(item_url(project, item), answer({"label": "neg"}), **HTMX)
    text = words(response)
    assert "already has all the annotations it needs" in text and "not saved" in text
    assert re.search(r'value="neg"[^>]*checked', response.content.decode())
    assert not Annotation.objects.filter(annotator=team.annotator).exists()


def test_adjudicated_items_can_no_longer_change(team, single, annotator, monkeypatch):
    item = team.project.items.first()
    annotation_submit(item=item, annotator=team.annotator, value={"label": "pos"})
    monkeypatch.setattr(selectors, "ADJUDICATED_ITEMS", [lambda ids: {item.pk} & set(ids)])
    work = annotator.get(work_url(team.project))
    assert (
        "Adjudicated" in words(work) and item_url(team.project, item) not in work.content.decode()
    )
    page = annotator.get(item_url(team.project, item))
    assert "can no longer change" in words(page) and "Save change" not in words(page)
    response = annotator.post(item_url(team.project, item), answer({"label": "neg"}, version="1"))
    assert response.status_code == 400 and "adjudicated" in words(response)
    assert Annotation.objects.get(annotator=team.annotator).value == {"label": "pos"}


# --- who sees what ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["label", "work"])
def test_outsiders_get_404(team, single, client_for, route):
    url = label_url(team.project) if route == "label" else work_url(team.project)
    assert client_for(team.outsider).get(url).status_code == 404
    assert client_for(team.other_lead).get(url).status_code == 404


def test_another_annotators_item_page_is_404(team, single, client_for):
    item = team.project.items.first()
    annotation_submit(item=item, annotator=team.annotators[1], value={"label": "pos"})
    assert client_for(team.annotator).get(item_url(team.project, item)).status_code == 404
    other_project_item = team.other_project.items.first()
    response = client_for(team.annotator).post(item_url(team.project, other_project_item), {})
    assert response.status_code == 404


def test_an_annotator_never_sees_another_annotators_answer(team, client_for):
    schema_of(team.project, "preference", PREFERENCE)
    pair = {"prompt": "Which?", "response_a": "one", "response_b": "two"}
    item = ItemFactory(project=team.project, data=pair, priority=10)
    other = team.annotators[1]
    annotation_submit(item=item, annotator=other, value={"choice": "B", "reason": "zebra-secret-b"})
    annotator = client_for(team.annotator)

    page = annotator.get(label_url(team.project)).content.decode()
    assert leased_item(team.project, team.annotator) == item
    assert "zebra-secret-b" not in page and other.username not in page
    assert " checked" not in page
    annotator.post(item_url(team.project, item), answer({"choice": "A", "reason": "mine-only"}))
    for url in (work_url(team.project), item_url(team.project, item)):
        shown = annotator.get(url).content.decode()
        assert "mine-only" in shown
        assert "zebra-secret-b" not in shown and other.username not in shown


def test_my_work_lists_only_ones_own_annotations(team, single, client_for):
    first, second = team.project.items.all()[:2]
    annotation_submit(item=first, annotator=team.annotator, value={"label": "pos"})
    annotation_submit(item=first, annotator=team.annotators[1], value={"label": "neg"})
    annotation_submit(item=second, annotator=team.annotators[1], value={"label": "neg"})
    response = client_for(team.annotator).get(work_url(team.project))
    text = words(response)
    assert "1 annotation" in text and "Positive" in text and "Negative" not in text
    assert second.external_id not in text
    assert item_url(team.project, first) in response.content.decode()


def test_my_work_searches_item_text(team, single, annotator):
    hello = ItemFactory(project=team.project, data={"text": "Hello there, Zanzibar"})
    other = team.project.items.exclude(pk=hello.pk).first()
    for item in (hello, other):
        annotation_submit(item=item, annotator=team.annotator, value={"label": "pos"})
    found = annotator.get(work_url(team.project), {"q": "zanzibar"}, **HTMX)
    assert found.content.decode().lstrip().startswith('<section id="my-work-results"')
    assert hello.external_id in words(found) and other.external_id not in words(found)
    long = annotator.get(work_url(team.project), {"q": "x" * 5000})
    assert long.status_code == 200 and "was shortened" in words(long)


def test_my_work_shows_and_searches_a_pairs_prompt_and_responses(team, annotator):
    schema_of(team.project, "preference", PREFERENCE)
    pair = ItemFactory(project=team.project, data={"prompt": "Where is my parcel, Quokka?",
                                                   "response_a": "In Wombat depot",
                                                   "response_b": "Ask later"})  # fmt: skip
    other = ItemFactory(project=team.project, data={"prompt": "p", "response_a": "a",
                                                    "response_b": "b"})  # fmt: skip
    for item in (pair, other):
        annotation_submit(item=item, annotator=team.annotator, value={"choice": "A"})
    listed = words(annotator.get(work_url(team.project)))
    assert "Where is my parcel, Quokka?" in listed and "In Wombat depot" in listed
    for term in ("quokka", "wombat"):
        found = words(annotator.get(work_url(team.project), {"q": term}))
        assert pair.external_id in found and other.external_id not in found


def test_queue_empty_says_when_work_held_by_others_may_return(team, single, client_for):
    project = team.project
    project.annotators_per_item = 1
    project.save()
    holders = [team.annotators[1], team.annotators[2], team.reviewer, team.lead]
    for holder in holders:
        assignment_next(project=project, annotator=holder)
    item = project.items.exclude(leases__isnull=False).get()
    annotation_submit(item=item, annotator=team.annotator, value={"label": "pos"})
    soonest = Lease.objects.order_by("expires_at").first().expires_at

    text = words(client_for(team.annotator).get(label_url(project)))
    assert "Nothing left for you right now" in text
    assert "4 items still need labels, but other annotators are working on them" in text
    assert timezone.localtime(soonest).strftime("%H:%M") in text
    assert "1 done today, 0 left for you" in text

    Lease.objects.all().delete()
    Annotation.objects.bulk_create(
        Annotation(item=i, annotator=team.annotators[1], value={"label": "neg"})
        for i in project.items.exclude(pk=item.pk)
    )
    project.items.update(annotation_count=1, queue_rank=0)
    text = words(client_for(team.annotator).get(label_url(project)))
    assert "You have labeled or skipped every item that still needs labels" in text


# --- item text is text --------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script><img src=x onerror=alert(1)>"
HTMX_BAIT = '<div hx-get="/api/projects/" hx-trigger="load">bait</div>'


class TextParents(HTMLParser):
    """Records, for each text node containing `needle`, whether an ancestor has hx-disable."""

    def __init__(self, needle):
        super().__init__()
        self.needle, self.stack, self.found = needle, [], []

    def handle_starttag(self, tag, attrs):
        if tag not in {"input", "br", "img", "meta", "link", "hr"}:
            self.stack.append(dict(attrs))

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if self.needle in data:
            self.found.append(any("hx-disable" in attrs for attrs in self.stack))


def assert_inert(page: str, payload: str) -> None:
    assert payload not in page  # never raw
    parser = TextParents(payload)
    parser.feed(page)
    assert parser.found and all(parser.found), "the text shows, inside an hx-disable container"


@pytest.mark.parametrize("payload", [SCRIPT, HTMX_BAIT])
@pytest.mark.parametrize("kind", ["single_choice", "spans"])
def test_item_text_with_html_shows_as_text_inside_hx_disable(team, client_for, payload, kind):
    schema_of(team.project, kind, SINGLE if kind == "single_choice" else SPANS)
    item = ItemFactory(project=team.project, data={"text": payload, "note": payload}, priority=9)
    annotator = client_for(team.annotator)
    page = annotator.get(label_url(team.project)).content.decode()
    assert leased_item(team.project, team.annotator) == item
    assert_inert(page, payload)
    assert (
        "<script>alert" not in page and "<img src=x" not in page and 'hx-trigger="load"' not in page
    )
    value = {"label": "pos"} if kind == "single_choice" else {"spans": []}
    annotation_submit(item=item, annotator=team.annotator, value=value)
    work = annotator.get(work_url(team.project)).content.decode()
    assert "<script>alert" not in work and 'hx-trigger="load"' not in work


def test_a_pair_with_html_shows_as_text(team, client_for):
    schema_of(team.project, "preference", PREFERENCE)
    data = {"prompt": SCRIPT, "response_a": HTMX_BAIT, "response_b": SCRIPT}
    ItemFactory(project=team.project, data=data, priority=9)
    page = client_for(team.annotator).get(label_url(team.project)).content.decode()
    assert_inert(page, SCRIPT)
    assert "<script>alert" not in page and 'hx-trigger="load"' not in page


# --- cost -------------------------------------------------------------------------------------


def test_the_label_page_costs_the_same_queries_for_few_or_many_items(
    team, single, annotator, django_assert_max_num_queries
):
    annotator.get(label_url(team.project))  # takes the lease
    with CaptureQueriesContext(connection) as few:
        annotator.get(label_url(team.project))
    ItemFactory.create_batch(40, project=team.project)
    for item in team.project.items.all()[:10]:
        annotation_submit(item=item, annotator=team.annotators[1], value={"label": "neg"})
    with CaptureQueriesContext(connection) as many:
        annotator.get(label_url(team.project))
    assert len(few) == len(many)
    # Session, user, project, schema, "next item" (its reclaim and lock), back, three counts.
    with django_assert_max_num_queries(14):
        annotator.get(label_url(team.project), **HTMX)


def test_my_work_costs_the_same_queries_for_few_or_many_annotations(team, single, annotator):
    items = list(team.project.items.all())
    annotation_submit(item=items[0], annotator=team.annotator, value={"label": "pos"})
    with CaptureQueriesContext(connection) as few:
        annotator.get(work_url(team.project))
    for item in items[1:]:
        annotation_submit(item=item, annotator=team.annotator, value={"label": "neg"})
    with CaptureQueriesContext(connection) as many:
        annotator.get(work_url(team.project))
    assert len(few) == len(many)


# --- summaries --------------------------------------------------------------------------------


def test_span_summaries_slice_by_code_points():
    schema = LabelSchema(kind="spans", config=SPANS)
    text = "😀 Ada met 🙂 Bob in Paris"
    value = {
        "spans": [{"start": 2, "end": 5, "label": "PER"}, {"start": 19, "end": 24, "label": "LOC"}]
    }
    assert value_summary(schema, value, text) == "Person: “Ada”; Place: “Paris”"


def test_preference_and_rating_summaries():
    pref = LabelSchema(kind="preference", config=PREFERENCE)
    assert value_summary(pref, {"choice": "B", "reason": "shorter"}, "") == (
        "Response B is better: shorter"
    )
    scale = [{"value": 1, "text": "Poor"}, {"value": 2, "text": "Good"}]
    rating = LabelSchema(kind="rating", config={"scale": scale})
    assert value_summary(rating, {"rating": 2}, "") == "Good"


def test_changing_an_old_answer_still_counts_the_item_one_holds_as_left(team, single, client_for):
    """Leads label too. 5 items: one held, one labeled, so 3 open plus the held one are left."""
    lead = client_for(team.lead)
    lead.get(label_url(team.project))
    item = team.project.items.exclude(leases__annotator=team.lead).first()
    annotation_submit(item=item, annotator=team.lead, value={"label": "pos"})
    assert "1 done today, 4 left for you" in words(lead.get(item_url(team.project, item)))
