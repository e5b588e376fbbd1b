"""The rule that decides, once an item has its full overlap, whether its annotations settle it
or a reviewer must (adjudication.rules, pure)."""

import pytest

from adjudication.rules import BELOW_THRESHOLD, NO_MAJORITY, settle
from annotation.exporting import canonical


def keys(*values):
    return [canonical(v) for v in values]


A, B, C = {"label": "a"}, {"label": "b"}, {"label": "c"}


@pytest.mark.parametrize("rule", ["any_disagreement", NO_MAJORITY, BELOW_THRESHOLD])
def test_unanimous_items_settle_under_every_rule(rule):
    outcome = settle(keys(A, A, A), rule=rule)
    assert (outcome.waiting, outcome.index, outcome.rule, outcome.agreement) == (
        False, 0, "unanimous", 1.0)  # fmt: skip


def test_one_annotation_alone_is_unanimous():
    assert settle(keys(A), rule="any_disagreement").rule == "unanimous"


def test_any_disagreement_sends_a_majority_item_to_a_reviewer():
    outcome = settle(keys(A, A, B), rule="any_disagreement")
    assert outcome.waiting and outcome.index is None and outcome.rule == ""
    assert outcome.agreement == pytest.approx(1 / 3)  # one agreeing pair of three


def test_no_majority_settles_a_majority_and_queues_a_three_way_split():
    settled = settle(keys(B, A, B), rule=NO_MAJORITY)
    assert (settled.waiting, settled.index, settled.rule) == (False, 0, "majority")
    assert settle(keys(A, B, C), rule=NO_MAJORITY).waiting
    assert settle(keys(A, A, B, B), rule=NO_MAJORITY).waiting  # a tie is no majority


def test_below_threshold_settles_only_majorities_that_agree_enough():
    # A, A, A, A, B: 6 of the 10 pairs agree (0.6).
    votes = keys(A, A, A, A, B)
    assert not settle(votes, rule=BELOW_THRESHOLD, item_threshold=0.6).waiting
    assert settle(votes, rule=BELOW_THRESHOLD, item_threshold=0.61).waiting
    # Two annotators who differ never settle, whatever the threshold: there is no majority.
    assert settle(keys(A, B), rule=BELOW_THRESHOLD, item_threshold=0.0).waiting


def test_values_compare_by_label_not_by_reason_or_order():
    """A preference's reason, and the order of multiple-choice labels or spans, do not make
    two annotations disagree."""
    first = {"choice": "A", "reason": "clearer"}
    second = {"choice": "A", "reason": "shorter"}
    assert settle(keys(first, second), rule="any_disagreement").rule == "unanimous"
    assert settle(keys({"labels": ["x", "y"]}, {"labels": ["y", "x"]}),
                  rule="any_disagreement").rule == "unanimous"  # fmt: skip
    spans = [{"start": 0, "end": 2, "label": "ORG"}, {"start": 5, "end": 9, "label": "PER"}]
    assert settle(keys({"spans": spans}, {"spans": spans[::-1]}),
                  rule="any_disagreement").rule == "unanimous"  # fmt: skip
