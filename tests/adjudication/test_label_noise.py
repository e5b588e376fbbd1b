"""Wrong-label detection: confident learning on hand-computed probabilities and on a small
separable text set with planted flips, imported predictions, and robust z-scores of annotators."""

import logging
import random

import numpy as np
import pytest

from adjudication.label_noise import (
    Suspect,
    annotator_outliers,
    confident_joint,
    find_label_issues,
    label_issues,
    out_of_fold_probabilities,
    per_class_thresholds,
    robust_z_scores,
)

CLASSES = ["billing", "outage", "praise"]
VOCABULARY = {
    "billing": "invoice refund charge card payment price plan receipt tax subscription",
    "outage": "server down error timeout crash offline latency restart broken unreachable",
    "praise": "thanks great love wonderful helpful amazing friendly superb happy delighted",
}
SHARED = "the a please today my our you we it this"


def separable_set(n: int = 300, flips: int = 15, seed: int = 7):
    """Texts of eight words from their class's own vocabulary and two shared words, labels, and
    a copy of the labels with ``flips`` of them moved to another class (indices returned)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = CLASSES[i % 3]
        words = rng.choices(VOCABULARY[label].split(), k=8) + rng.choices(SHARED.split(), k=2)
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    flipped = sorted(rng.sample(range(n), flips))
    noisy = list(labels)
    for i in flipped:
        noisy[i] = rng.choice([c for c in CLASSES if c != labels[i]])
    return texts, labels, noisy, flipped


# A tiny probability matrix, worked by hand. Given labels 0, 0, 0, 1, 1, 2, 2.
#   t0 = (0.8 + 0.6 + 0.2) / 3 = 0.5333, t1 = (0.8 + 0.6) / 2 = 0.7, t2 = (0.7 + 0.8) / 2 = 0.75.
#   item 0: p0 0.8 >= t0 only -> (0, 0); item 1: p0 0.6 >= t0 -> (0, 0);
#   item 2: p1 0.7 >= t1 (exactly at it: >= counts) -> (0, 1);
#   item 3: p1 0.8 -> (1, 1); item 4: 0.2 < t0, 0.6 < t1, 0.2 < t2 -> not counted;
#   item 5: 0.7 < t2 -> not counted; item 6: p2 0.8 -> (2, 2).
#   Raw C = [[2, 1, 0], [0, 1, 0], [0, 0, 1]]. Calibrated (Eq. 3), each row rescaled to the number
#   of items given that class (3, 2, 2): [[2, 1, 0], [0, 2, 0], [0, 0, 2]], total 7 = n, so
#   n * Q[0, 1] = 1: prune the one item given 0 with the largest p1 - p0, item 2 (0.5).
HAND_PROBS = [
    [0.8, 0.1, 0.1],
    [0.6, 0.3, 0.1],
    [0.2, 0.7, 0.1],
    [0.1, 0.8, 0.1],
    [0.2, 0.6, 0.2],
    [0.1, 0.2, 0.7],
    [0.1, 0.1, 0.8],
]
HAND_LABELS = [0, 0, 0, 1, 1, 2, 2]


def test_thresholds_are_mean_self_confidence_per_given_class():
    assert per_class_thresholds(HAND_PROBS, HAND_LABELS, 3) == pytest.approx([1.6 / 3, 0.7, 0.75])


def test_a_class_nobody_was_given_has_an_infinite_threshold():
    thresholds = per_class_thresholds([[0.9, 0.1], [0.8, 0.2]], [0, 0])
    assert thresholds[0] == pytest.approx(0.85)
    assert thresholds[1] == np.inf


def test_confident_joint_raw_and_calibrated_by_hand():
    thresholds = per_class_thresholds(HAND_PROBS, HAND_LABELS, 3)
    raw = confident_joint(HAND_PROBS, HAND_LABELS, thresholds, calibrate=False)
    assert raw.tolist() == [[2, 1, 0], [0, 1, 0], [0, 0, 1]]
    calibrated = confident_joint(HAND_PROBS, HAND_LABELS, thresholds)
    assert calibrated == pytest.approx(np.array([[2, 1, 0], [0, 2, 0], [0, 0, 2]]))


def test_an_item_above_two_thresholds_counts_once_under_the_more_probable_class():
    """Given 0: [0.3, 0.7], [0.45, 0.55]; given 1: [0.45, 0.55], [0.65, 0.35].
    t0 = (0.3 + 0.45) / 2 = 0.375, t1 = (0.55 + 0.35) / 2 = 0.45. Both [0.45, 0.55] rows are
    above both thresholds and count under class 1 (0.55 > 0.45); [0.3, 0.7] -> (0, 1);
    [0.65, 0.35] -> (1, 0). Raw C = [[0, 2], [1, 1]]."""
    probs = [[0.3, 0.7], [0.45, 0.55], [0.45, 0.55], [0.65, 0.35]]
    labels = [0, 0, 1, 1]
    thresholds = per_class_thresholds(probs, labels)
    assert thresholds == pytest.approx([0.375, 0.45])
    raw = confident_joint(probs, labels, thresholds, calibrate=False)
    assert raw.tolist() == [[0, 2], [1, 1]]


def test_prune_by_noise_rate_flags_the_hand_computed_item():
    suspects = label_issues(HAND_PROBS, HAND_LABELS, classes=["a", "b", "c"])
    assert suspects == [
        Suspect(index=2, given="a", suggested="b", confidence=0.7, self_confidence=0.2, rank=1)
    ]


def test_confident_joint_method_flags_the_off_diagonal_items():
    suspects = label_issues(HAND_PROBS, HAND_LABELS, method="confident_joint")
    assert [(s.index, s.given, s.suggested) for s in suspects] == [(2, "0", "1")]


def test_an_item_whose_given_label_is_its_most_probable_class_is_never_flagged():
    """Item 0 is counted off the diagonal (p1 0.45 >= t1 0.4; p0 0.5 < t0 0.7), but its most
    probable class is its given one, so there is nothing to suggest."""
    probs = [[0.5, 0.45, 0.05], [0.9, 0.05, 0.05], [0.1, 0.4, 0.5], [0.05, 0.05, 0.9]]
    labels = [0, 0, 1, 2]
    raw = confident_joint(probs, labels, per_class_thresholds(probs, labels), calibrate=False)
    assert raw[0, 1] == 1
    assert label_issues(probs, labels, method="confident_joint") == []


def test_unknown_method_and_bad_shapes_raise():
    with pytest.raises(ValueError, match="method"):
        label_issues(HAND_PROBS, HAND_LABELS, method="prune_by_vibes")
    with pytest.raises(ValueError):
        label_issues(HAND_PROBS, HAND_LABELS[:3])
    with pytest.raises(ValueError):
        label_issues(HAND_PROBS, [0, 0, 0, 1, 1, 2, 3])


@pytest.mark.parametrize("method", ["prune_by_noise_rate", "confident_joint"])
def test_finds_flipped_labels_on_a_separable_set(method):
    texts, _, noisy, flipped = separable_set()
    suspects = find_label_issues(texts, noisy, CLASSES, method=method)
    top = [s.index for s in suspects[:15]]
    assert len(set(top) & set(flipped)) >= 12
    assert [s.rank for s in suspects] == list(range(1, len(suspects) + 1))
    assert all(s.suggested != s.given for s in suspects)
    confidences = [s.self_confidence for s in suspects]
    assert confidences == sorted(confidences)


def test_suggests_the_true_label_for_flipped_items():
    texts, labels, noisy, flipped = separable_set()
    suspects = {s.index: s for s in find_label_issues(texts, noisy, CLASSES)}
    found = [i for i in flipped if i in suspects]
    assert len(found) >= 12
    assert all(suspects[i].suggested == labels[i] for i in found)
    assert all(suspects[i].given == noisy[i] for i in found)


def test_clean_set_has_few_or_no_suspects():
    texts, labels, _, _ = separable_set()
    assert len(find_label_issues(texts, labels, CLASSES)) <= 1


def test_out_of_fold_rows_are_probabilities_and_the_seed_repeats_them():
    texts, _, noisy, _ = separable_set()
    probs = out_of_fold_probabilities(texts, noisy, classes=CLASSES)
    assert probs.shape == (300, 3)
    assert probs.sum(axis=1) == pytest.approx(np.ones(300))
    again = out_of_fold_probabilities(texts, noisy, classes=CLASSES)
    assert np.array_equal(probs, again)
    balanced = out_of_fold_probabilities(texts, noisy, classes=CLASSES, balanced=True)
    assert balanced.shape == (300, 3)


def test_imported_predictions_replace_the_model():
    """With a prediction for every item, no model is fitted: these texts have no terms at all,
    so a model could only give uniform rows. Scores are normalised over the classes; other keys
    are ignored."""
    predictions = [
        {"scores": {"billing": 2, "outage": 1, "praise": 1, "spam": 50}},
        {"scores": {"billing": 0.1, "outage": 0.8, "praise": 0.1}},
        {"scores": {"billing": 0.0, "outage": 0.2, "praise": 0.6}},
    ]
    probs = out_of_fold_probabilities(
        ["", "", ""], ["billing", "billing", "praise"], classes=CLASSES, predictions=predictions
    )
    expected = [[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0, 0.25, 0.75]]
    assert probs == pytest.approx(np.array(expected))


def test_imported_predictions_mix_with_the_model_and_can_flag_an_item():
    """Item 0 is a clear billing text labelled billing; its imported scores say outage. The
    imported row is used as given, so item 0 becomes a suspect the model alone would never
    raise. (It must reach the outage threshold, the mean self-confidence of outage items, about
    0.98 on this easy set.) A prediction missing a class, or with a bad value, falls back to the
    model."""
    texts, labels, _, _ = separable_set(flips=0)
    predictions = [None] * len(texts)
    predictions[0] = {"scores": {"billing": 0.001, "outage": 0.998, "praise": 0.001}}
    predictions[1] = {"scores": {"billing": 0.9, "outage": 0.1}}  # no "praise": ignored
    predictions[2] = {"scores": {"billing": -1, "outage": 2, "praise": 0}}  # negative: ignored
    probs = out_of_fold_probabilities(texts, labels, classes=CLASSES, predictions=predictions)
    model_only = out_of_fold_probabilities(texts, labels, classes=CLASSES)
    assert probs[0].tolist() == pytest.approx([0.001, 0.998, 0.001])
    assert np.array_equal(probs[1:], model_only[1:])
    suspects = find_label_issues(texts, labels, CLASSES, predictions=predictions)
    assert suspects[0].index == 0
    assert (suspects[0].given, suspects[0].suggested) == ("billing", "outage")
    assert suspects[0].confidence == pytest.approx(0.998)


def test_a_single_member_class_gets_a_uniform_row_and_is_never_flagged(caplog):
    """A class with two members also forces two folds instead of five."""
    texts, labels, _, _ = separable_set(n=60, flips=0)
    texts += ["refund invoice charge", "invoice payment receipt", "server crash error"]
    labels += ["lonely", "pair", "pair"]
    classes = CLASSES + ["lonely", "pair"]
    with caplog.at_level(logging.WARNING, logger="adjudication.label_noise"):
        probs = out_of_fold_probabilities(texts, labels, classes=classes)
    assert "single item" in caplog.text
    assert probs[60].tolist() == pytest.approx([0.2] * 5)
    assert probs[61].sum() == pytest.approx(1.0)
    assert 60 not in [s.index for s in find_label_issues(texts, labels, classes)]


def test_labels_outside_the_classes_and_length_mismatch_raise():
    with pytest.raises(ValueError, match="not among the classes"):
        out_of_fold_probabilities(["x", "y"], ["billing", "spam"], classes=CLASSES)
    with pytest.raises(ValueError, match="same length"):
        out_of_fold_probabilities(["x"], ["billing", "outage"], classes=CLASSES)


def test_one_class_only_gives_uniform_rows():
    probs = out_of_fold_probabilities(["a b", "a c", "b c"], ["outage"] * 3, classes=CLASSES)
    assert probs == pytest.approx(np.full((3, 3), 1 / 3))


# Robust z-scores (Iglewicz & Hoaglin 1993) ----------------------------------------------------


def test_flags_an_annotator_far_below_the_team_and_not_one_within_the_spread():
    """Median of the six = (0.88 + 0.90) / 2 = 0.89. Absolute deviations 0.02, 0.01, 0.04, 0.01,
    0.03, 0.49: MAD = (0.02 + 0.03) / 2 = 0.025. f: 0.6745 * (0.40 - 0.89) / 0.025 = -13.22;
    e: 0.6745 * (0.86 - 0.89) / 0.025 = -0.81, within the spread."""
    scores = {"a": 0.91, "b": 0.88, "c": 0.93, "d": 0.90, "e": 0.86, "f": 0.40}
    assert robust_z_scores(scores)["e"] == pytest.approx(-0.8094)
    assert annotator_outliers(scores) == {"f": pytest.approx(-13.2202)}


def test_mad_zero_falls_back_to_the_mean_absolute_deviation():
    """Four of five at 0.9: median 0.9, MAD 0. MeanAD = 0.6 / 5 = 0.12, so
    z = (0.3 - 0.9) / (1.253314 * 0.12) = -3.989."""
    scores = {"a": 0.9, "b": 0.9, "c": 0.9, "d": 0.9, "e": 0.3}
    assert annotator_outliers(scores) == {"e": pytest.approx(-3.9894, abs=1e-4)}


def test_all_equal_flags_no_one():
    assert annotator_outliers({"a": 0.8, "b": 0.8, "c": 0.8}) == {}
    assert robust_z_scores({"a": 0.8, "b": 0.8, "c": 0.8}) == {"a": 0, "b": 0, "c": 0}


def test_fewer_than_three_known_scores_flag_no_one():
    assert annotator_outliers({"a": 0.95, "b": 0.1}) == {}
    assert annotator_outliers({"a": 0.95, "b": 0.94, "c": None, "d": float("nan")}) == {}


def test_only_far_below_counts_and_the_cutoff_is_adjustable():
    scores = {"a": 0.70, "b": 0.72, "c": 0.74, "d": 0.76, "e": 0.99}
    assert annotator_outliers(scores) == {}  # e is far above, not below
    assert set(annotator_outliers({**scores, "e": 0.60}, cutoff=-2.0)) == {"e"}
