"""Settling complete items by the project's rule, the review queue's claims and decisions,
sending items back, and gold items in annotators' streams (adjudication.services,
annotation.gold, annotation.services)."""

import random
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from adjudication import services
from adjudication.jobs import agreement_refresh_if_stale
from adjudication.models import Review, ReviewAction, ReviewPolicy, ReviewStatus
from annotation import services as labeling
from annotation.gold import gold_clear, gold_set
from annotation.models import Annotation, LabelSchema
from annotation.services import Conflict, annotation_submit, assignment_next
from curation.exporting.records import export_records
from curation.models import AuditEvent, AuditKind, Item, QueueRank, Role
from tests.conftest import jobs_in_process
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

LABELS = {"labels": [{"value": "billing"}, {"value": "refund"}, {"value": "other"}]}


@pytest.fixture
def schema(team):
    return LabelSchema.objects.create(project=team.project, config=LABELS)


def label(item, annotators, labels):
    for annotator, value in zip(annotators, labels, strict=True):
        annotation_submit(item=item, annotator=annotator, value={"label": value})


def review_of(item) -> Review | None:
    return Review.objects.filter(item=item).first()


# --- settling -------------------------------------------------------------------------------


def test_an_item_is_settled_or_queued_when_its_last_annotation_arrives(team, schema):
    agree, differ = team.project.items.all()[:2]
    label(agree, team.annotators[:2], ["billing", "billing"])
    assert review_of(agree) is None  # two of three: not complete yet
    label(agree, team.annotators[2:], ["billing"])
    settled = review_of(agree)
    assert (settled.status, settled.value, settled.rule) == ("auto", {"label": "billing"},
                                                             "unanimous")  # fmt: skip
    label(differ, team.annotators, ["billing", "refund", "billing"])
    waiting = review_of(differ)
    assert (waiting.status, waiting.value, waiting.waiting_since is not None) == (
        "waiting", None, True)  # fmt: skip
    assert [e.action for e in waiting.events.all()] == [ReviewAction.QUEUED]


@pytest.mark.parametrize("rule", ["any_disagreement", "no_majority", "below_threshold"])
@pytest.mark.parametrize("labels", [["billing"] * 3, ["refund", "billing", "refund"],
                                    ["refund", "billing", "other"]])  # fmt: skip
def test_a_submit_that_completes_an_item_settles_it_as_a_full_refresh_would(
    team, schema, rule, labels
):
    """On PostgreSQL the submit that completes an item writes its review in two statements;
    the review and its event must be the ones the general refresh writes."""
    ReviewPolicy.objects.create(project=team.project, rule=rule, item_threshold=0.3)
    item = team.project.items.first()
    label(item, team.annotators, labels)
    fields = ("status", "value", "rule", "agreement", "version", "requeued", "rationale")

    def written():
        review = review_of(item)
        events = [(e.action, e.before, e.after, e.actor_id, e.note) for e in review.events.all()]
        return [getattr(review, f) for f in fields], review.waiting_since is None, events

    by_submit = written()
    Review.objects.filter(item=item).delete()
    services.reviews_refresh(project=team.project, item_ids=[item.pk])
    assert written() == by_submit
    # A second refresh of a complete item that has its review: nothing new is written.
    services.reviews_refresh(project=team.project, item_ids=[item.pk], complete=True)
    assert written() == by_submit


def test_the_project_rule_decides_what_waits(team, schema):
    ReviewPolicy.objects.create(project=team.project, rule="no_majority")
    majority, split = team.project.items.all()[:2]
    label(majority, team.annotators, ["refund", "billing", "refund"])
    label(split, team.annotators, ["refund", "billing", "other"])
    assert (review_of(majority).status, review_of(majority).rule) == ("auto", "majority")
    assert review_of(majority).value == {"label": "refund"}
    assert review_of(split).status == "waiting"


def test_an_annotator_changing_their_label_reopens_a_settled_item(team, schema):
    item = team.project.items.first()
    label(item, team.annotators, ["billing"] * 3)
    assert review_of(item).status == "auto"
    annotation_submit(item=item, annotator=team.annotators[0], value={"label": "refund"})
    reopened = review_of(item)
    assert reopened.status == "waiting" and reopened.value is None
    assert reopened.events.last().action == ReviewAction.REOPENED
    assert reopened.events.last().before["status"] == "auto"


def test_refreshing_twice_changes_nothing(team, schema):
    item = team.project.items.first()
    label(item, team.annotators, ["billing", "refund", "other"])
    before = list(Review.objects.values_list("pk", "status", "version", "updated_at"))
    services.reviews_refresh(project=team.project, item_ids=[item.pk])
    services.reviews_sync(project=team.project)
    assert list(Review.objects.values_list("pk", "status", "version", "updated_at")) == before
    assert review_of(item).events.count() == 1


# --- deciding -------------------------------------------------------------------------------


@pytest.fixture
def waiting(team, schema) -> Review:
    item = team.project.items.first()
    label(item, team.annotators, ["billing", "refund", "other"])
    return review_of(item)


def test_a_decision_becomes_the_final_label_and_keeps_the_annotations(team, waiting):
    originals = list(Annotation.objects.values_list("pk", "value", "version", "updated_at"))
    assert services.review_claim(review=waiting, reviewer=team.reviewer)
    decided = services.review_decide(review=waiting, reviewer=team.reviewer,
                                     value={"label": "refund"}, rationale="Asks for money back",
                                     version=waiting.version)  # fmt: skip
    assert (decided.status, decided.rule, decided.value) == ("decided", "adjudicated",
                                                             {"label": "refund"})  # fmt: skip
    assert decided.decided_by == team.reviewer and decided.claimed_by is None
    assert list(Annotation.objects.values_list("pk", "value", "version", "updated_at")) == originals
    event = decided.events.last()
    assert (event.action, event.actor, event.before["status"], event.after["value"]) == (
        "decided", team.reviewer, "waiting", {"label": "refund"})  # fmt: skip
    assert AuditEvent.objects.filter(kind=AuditKind.ITEM_ADJUDICATED, actor=team.reviewer).exists()
    records = {r["id"]: r for chunk in export_records(team.project, "final") for r in chunk}
    assert records[waiting.item.external_id]["final"] == {"value": {"label": "refund"},
                                                          "rule": "adjudicated"}  # fmt: skip


def test_a_decided_item_is_closed_to_its_annotators(team, waiting):
    services.review_decide(review=waiting, reviewer=team.reviewer, value={"label": "refund"})
    with pytest.raises(Conflict, match="already decided"):
        annotation_submit(item=waiting.item, annotator=team.annotators[0],
                          value={"label": "refund"})  # fmt: skip


def test_a_value_outside_the_schema_is_refused_with_its_field(team, waiting):
    with pytest.raises(ValidationError) as refused:
        services.review_decide(review=waiting, reviewer=team.reviewer, value={"label": "nope"})
    assert "value.label" in refused.value.message_dict
    assert review_of(waiting.item).status == "waiting"


def test_a_stale_version_is_refused(team, waiting):
    services.review_decide(review=waiting, reviewer=team.reviewer, value={"label": "refund"},
                           version=waiting.version)  # fmt: skip
    with pytest.raises(Conflict, match="changed since you opened it"):
        services.review_decide(review=waiting, reviewer=team.lead, value={"label": "other"},
                               version=waiting.version)  # fmt: skip
    assert review_of(waiting.item).value == {"label": "refund"}


def test_a_claim_keeps_other_reviewers_out_until_it_ends(team, waiting):
    now = timezone.now()
    assert services.review_claim(review=waiting, reviewer=team.reviewer, now=now)
    assert not services.review_claim(review=waiting, reviewer=team.lead, now=now)
    with pytest.raises(Conflict, match="rita_reviewer is reviewing"):
        services.review_decide(review=waiting, reviewer=team.lead, value={"label": "other"},
                               now=now)  # fmt: skip
    later = now + services.claim_duration() + timedelta(seconds=1)
    assert services.review_claim(review=waiting, reviewer=team.lead, now=later)


def test_next_hands_each_reviewer_a_different_item_in_the_chosen_order(team, schema):
    first, second = team.project.items.all()[:2]
    label(first, team.annotators, ["billing", "billing", "refund"])  # agreement 1/3
    label(second, team.annotators, ["billing", "refund", "other"])  # agreement 0
    oldest = services.review_next(project=team.project, reviewer=team.reviewer)
    assert oldest.item == first
    assert services.review_next(project=team.project, reviewer=team.reviewer) == oldest  # held
    other = services.review_next(project=team.project, reviewer=team.lead, order="disagreement")
    assert other.item == second
    assert services.review_next(project=team.project, reviewer=UserFactory()) is None


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_claiming_at_once_never_both_win(team, schema):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL")
    item = team.project.items.first()
    label(item, team.annotators, ["billing", "refund", "other"])
    review = review_of(item)
    reviewers = [UserFactory() for _ in range(8)]
    barrier, wins = threading.Barrier(len(reviewers)), []

    def claim(user):
        try:
            barrier.wait()
            wins.append(services.review_claim(review=Review.objects.get(pk=review.pk),
                                              reviewer=user))  # fmt: skip
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(user,)) for user in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_a_lead_sends_a_decided_item_back_and_the_rule_leaves_it_waiting(team, waiting):
    services.review_decide(review=waiting, reviewer=team.reviewer, value={"label": "refund"})
    back = services.review_requeue(item=waiting.item, lead=team.lead, note="Second look")
    assert (back.status, back.value, back.requeued) == ("waiting", None, True)
    services.reviews_refresh(project=team.project, item_ids=[waiting.item_id])
    assert review_of(waiting.item).status == "waiting"
    assert [e.action for e in back.events.all()][-2:] == ["decided", "requeued"]
    assert back.events.last().before["value"] == {"label": "refund"}
    assert AuditEvent.objects.filter(kind=AuditKind.ITEM_REQUEUED).count() == 1


def test_any_item_can_be_sent_back_even_before_it_is_complete(team, schema):
    item = team.project.items.last()
    review = services.review_requeue(item=item, lead=team.lead)
    assert review.status == "waiting" and review.events.count() == 1


def test_guideline_issues_are_kept_until_resolved(team, waiting):
    decided = services.review_decide(review=waiting, reviewer=team.reviewer,
                                     value={"label": "other"}, guidelines_unclear=True,
                                     guideline_comment="Refund vs billing is unclear")  # fmt: skip
    assert decided.guideline_comment == "Refund vs billing is unclear"
    services.guideline_issue_resolve(review=decided)
    assert Review.objects.get(pk=decided.pk).guideline_resolved


# --- gold items -------------------------------------------------------------------------------


def test_gold_items_leave_the_overlap_queue_and_every_annotator_may_answer(team, schema):
    team.project.annotators_per_item = 1
    team.project.gold_rate = 0.5
    team.project.save()
    item = gold_set(item=team.project.items.first(), value={"label": "billing"}, user=team.lead)
    assert item.queue_rank == QueueRank.FULL
    for annotator in team.annotators:
        annotation_submit(item=item, annotator=annotator, value={"label": "billing"})
    assert Annotation.objects.filter(item=item).count() == 3  # more than the overlap of 1
    assert review_of(item) is None  # gold items need no review
    assert AuditEvent.objects.filter(kind=AuditKind.GOLD_CHANGED).count() == 1
    cleared = gold_clear(item=item, user=team.lead)
    assert cleared.gold is None and cleared.queue_rank == QueueRank.FULL  # it has 3 of 1


def test_gold_answers_are_checked_against_the_schema(team, schema):
    with pytest.raises(ValidationError) as refused:
        gold_set(item=team.project.items.first(), value={"label": "nope"}, user=team.lead)
    assert "value.label" in refused.value.message_dict


def test_gold_items_are_mixed_in_at_the_project_rate(team, schema, monkeypatch):
    project = ProjectFactory(annotators_per_item=1, gold_rate=0.2)
    LabelSchema.objects.create(project=project, config=LABELS)
    annotator = UserFactory()
    MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    gold = [ItemFactory(project=project) for _ in range(60)]
    for item in gold:
        gold_set(item=item, value={"label": "billing"}, user=team.lead)
    ItemFactory.create_batch(150, project=project)
    monkeypatch.setattr(labeling, "random", random.Random(7))
    given = []
    for _ in range(150):
        lease = assignment_next(project=project, annotator=annotator)
        given.append(lease.item.gold is not None)
        annotation_submit(item=lease.item, annotator=annotator, value={"label": "refund"})
    # 150 draws at 0.2: 30 expected, standard deviation 4.9.
    assert 20 <= sum(given) <= 40
    given_items = Annotation.objects.filter(annotator=annotator).values_list("item_id", flat=True)
    assert len(set(given_items)) == 150  # never the same item twice


def test_a_project_without_gold_rate_never_hands_out_gold(team, schema):
    gold_set(item=team.project.items.first(), value={"label": "billing"}, user=team.lead)
    for _ in range(4):
        lease = assignment_next(project=team.project, annotator=team.annotator)
        assert lease.item.gold is None
        annotation_submit(item=lease.item, annotator=team.annotator, value={"label": "refund"})
    assert assignment_next(project=team.project, annotator=team.annotator) is None
    assert Item.objects.filter(project=team.project, gold__isnull=False).count() == 1


def test_promoting_a_decided_item_makes_it_gold(team, waiting):
    decided = services.review_decide(review=waiting, reviewer=team.reviewer,
                                     value={"label": "refund"})  # fmt: skip
    item = services.gold_promote(review=decided, lead=team.lead)
    assert item.gold == {"label": "refund"}
    with pytest.raises(Conflict):
        services.gold_promote(review=Review(item=item, status=ReviewStatus.WAITING), lead=team.lead)


# --- the policy ---------------------------------------------------------------------------------


def test_a_new_rule_settles_again_the_items_not_yet_decided(
    team, schema, django_capture_on_commit_callbacks
):
    majority, decided = team.project.items.all()[:2]
    label(majority, team.annotators, ["refund", "billing", "refund"])
    label(decided, team.annotators, ["refund", "billing", "refund"])
    services.review_decide(review=review_of(decided), reviewer=team.reviewer,
                           value={"label": "billing"})  # fmt: skip
    assert review_of(majority).status == "waiting"
    with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
        services.policy_update(project=team.project, user=team.lead, rule="no_majority",
                               gold_rate=0.1)  # fmt: skip
    settled = review_of(majority)
    assert (settled.status, settled.rule, settled.value) == ("auto", "majority",
                                                             {"label": "refund"})  # fmt: skip
    assert settled.events.last().action == ReviewAction.RESETTLED
    assert review_of(decided).value == {"label": "billing"}  # a decision stays
    team.project.refresh_from_db()
    assert team.project.gold_rate == 0.1


def test_the_policy_refuses_unknown_and_out_of_range_settings(team):
    with pytest.raises(ValidationError) as unknown:
        services.policy_update(project=team.project, colour="red")
    assert "colour" in unknown.value.message_dict
    with pytest.raises(ValidationError) as crossed:
        services.policy_update(project=team.project, agreement_threshold=0.5,
                               tentative_threshold=0.7)  # fmt: skip
    assert crossed.value.messages
    with pytest.raises(ValidationError):
        services.policy_update(project=team.project, gold_rate=0.9)
    assert ReviewPolicy.objects.filter(project=team.project).count() == 0


def test_a_rule_changed_while_a_run_was_under_way_is_applied_by_the_next_run(
    team, schema, django_capture_on_commit_callbacks
):
    """The run started before the change did not settle again; the next one sees that its
    figures were settled under an older policy and does."""
    item = team.project.items.first()
    label(item, team.annotators, ["refund", "billing", "refund"])
    with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
        agreement_refresh_if_stale(project=team.project, force=True)  # under any_disagreement
    assert review_of(item).status == "waiting"
    # The lead's change lands while a run is active, so no resettling run is started for it.
    ReviewPolicy.objects.filter(project=team.project).update(
        rule="no_majority", updated_at=timezone.now()
    )
    with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
        agreement_refresh_if_stale(project=team.project, force=True)
    assert (review_of(item).status, review_of(item).rule) == ("auto", "majority")
