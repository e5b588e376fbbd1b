"""Dawid-Skene EM: the 1979 paper's own example, planted noisy and adversarial annotators, and the
edges (no records, one class, classes fixed in advance)."""

import random
from collections import Counter

import numpy as np
import pytest

from adjudication.dawid_skene import dawid_skene

# Dawid, A. P. & Skene, A. M. (1979), "Maximum Likelihood Estimation of Observer Error-Rates Using
# the EM Algorithm", Applied Statistics 28(1), Table 1: 45 patients rated 1-4 by five
# anaesthetists; the first rated every patient three times. One string per patient: the first
# anaesthetist's three ratings, then anaesthetists 2, 3, 4 and 5. The same table is shipped by open
# implementations (Dallas Card's dawid_skene, MIT; the R package rater's `anesthesia`).
DAWID_SKENE_1979 = [
    "1111111", "3334334", "1122122", "2223121", "2223222", "2223322", "1222111", "3333433",
    "2222223", "2322223", "4444444", "2223343", "1111111", "2223212", "1211111", "1112111",
    "1111111", "1111111", "2222221", "2221322", "2222222", "2222221", "2223222", "2212222",
    "1111111", "1111111", "2322222", "1111111", "1111111", "1121121", "1111111", "3333233",
    "1111111", "2222222", "2223232", "4334343", "2212232", "2323233", "3333432", "1111111",
    "1111111", "1212111", "2322222", "1211111", "2222222",
]  # fmt: skip
CLASSES = ["a", "b", "c"]


def anaesthetist_records() -> list:
    return [
        (patient, 1 if position < 3 else position - 1, int(rating))
        for patient, row in enumerate(DAWID_SKENE_1979, start=1)
        for position, rating in enumerate(row)
    ]


def crowd(annotators: dict, n: int = 500, seed: int = 3):
    """Records of ``n`` items with true classes drawn uniformly; each annotator is a function
    (rng, true class) -> answer."""
    rng = random.Random(seed)
    truth = {item: rng.choice(CLASSES) for item in range(n)}
    records = [
        (item, who, answer(rng, true))
        for item, true in truth.items()
        for who, answer in annotators.items()
    ]
    return truth, records


def accurate(p: float):
    def answer(rng, true):
        return true if rng.random() < p else rng.choice([c for c in CLASSES if c != true])

    return answer


def diagonal(result, who) -> float:
    return float(np.mean(np.diag(result.confusion[who])))


def majority(records) -> dict:
    votes: dict = {}
    for item, _, label in records:
        votes.setdefault(item, Counter())[label] += 1
    return {item: min(c, key=lambda label: (-c[label], label)) for item, c in votes.items()}


def test_the_papers_example_recovers_its_class_priors():
    """315 ratings (45 patients x 7). The estimated prevalences of the four classes are 0.40,
    0.42, 0.11 and 0.07, the figures quoted for the paper's estimates; no copy of the paper was
    at hand to check them against, so they also stand as a regression check. They are reached
    from the paper's starting point (vote shares) with and without smoothing."""
    records = anaesthetist_records()
    assert len(records) == 315
    for smoothing in (0.0, 0.01):
        result = dawid_skene(records, smoothing=smoothing)
        assert result.converged
        assert [round(result.priors[c], 2) for c in (1, 2, 3, 4)] == [0.40, 0.42, 0.11, 0.07]
        assert len(result.posteriors) == 45
        assert result.confusion[1][0] == pytest.approx([0.89, 0.11, 0, 0], abs=0.005)


def test_the_papers_example_labels_patients_with_unanimous_ratings_as_rated():
    result = dawid_skene(anaesthetist_records())
    for patient, row in enumerate(DAWID_SKENE_1979, start=1):
        if len(set(row)) == 1:
            assert result.labels[patient] == int(row[0])
            assert result.posteriors[patient][int(row[0])] > 0.99


def test_a_random_annotator_has_a_low_diagonal_and_good_ones_a_high_one():
    annotators = {f"good{n}": accurate(0.9) for n in range(4)}
    annotators["random"] = lambda rng, true: rng.choice(CLASSES)
    truth, records = crowd(annotators)
    result = dawid_skene(records)
    assert all(diagonal(result, f"good{n}") > 0.85 for n in range(4))
    assert diagonal(result, "random") < 0.45
    assert np.mean([result.labels[i] == truth[i] for i in truth]) > 0.97


def test_an_annotator_who_always_gives_the_same_label_is_found_out():
    annotators = {f"good{n}": accurate(0.9) for n in range(4)}
    annotators["lazy"] = lambda rng, true: "a"
    _, records = crowd(annotators)
    result = dawid_skene(records)
    lazy = np.array(result.confusion["lazy"])
    assert lazy[:, 0] == pytest.approx([1, 1, 1], abs=0.01)  # says "a" whatever the truth
    assert diagonal(result, "lazy") < 0.4
    assert all(diagonal(result, f"good{n}") > 0.85 for n in range(4))


def test_beats_majority_vote_when_two_annotators_are_adversarial():
    """Three annotators right 70 % of the time and two who always answer the next class: the
    majority is often the adversaries' answer, but their answers are a perfect code for the
    truth once their confusion matrices are learnt."""
    annotators = {f"good{n}": accurate(0.7) for n in range(3)}
    for n in range(2):
        annotators[f"adversary{n}"] = lambda rng, true: CLASSES[(CLASSES.index(true) + 1) % 3]
    truth, records = crowd(annotators)
    result = dawid_skene(records)
    voted = majority(records)
    ds_accuracy = np.mean([result.labels[i] == truth[i] for i in truth])
    vote_accuracy = np.mean([voted[i] == truth[i] for i in truth])
    assert vote_accuracy < 0.6
    assert ds_accuracy > 0.95
    assert diagonal(result, "adversary0") < 0.05


def test_posteriors_and_confusion_rows_are_distributions_and_likelihood_rises():
    annotators = {f"good{n}": accurate(0.8) for n in range(3)}
    _, records = crowd(annotators, n=200)
    one_step = dawid_skene(records, max_iter=1)
    result = dawid_skene(records)
    assert not one_step.converged and one_step.iterations == 1
    assert result.converged and result.log_likelihood >= one_step.log_likelihood
    assert sum(result.priors.values()) == pytest.approx(1)
    assert all(sum(p.values()) == pytest.approx(1) for p in result.posteriors.values())
    assert all(sum(row) == pytest.approx(1) for m in result.confusion.values() for row in m)
    assert result.classes == CLASSES


def test_a_random_start_repeats_and_may_find_the_same_fit_with_classes_renamed():
    """The likelihood does not change when the classes are permuted everywhere, so EM from a
    random start can settle on a renamed copy of the answer; the majority start is the default
    for that reason."""
    annotators = {f"good{n}": accurate(0.85) for n in range(4)}
    _, records = crowd(annotators, n=200)
    first = dawid_skene(records, init="random", seed=5)
    assert first.posteriors == dawid_skene(records, init="random", seed=5).posteriors
    fit = dawid_skene(records)
    assert first.log_likelihood == pytest.approx(fit.log_likelihood, abs=1e-3)
    renaming = {(fit.labels[i], first.labels[i]) for i in fit.labels}
    assert sorted(a for a, _ in renaming) == sorted(b for _, b in renaming) == CLASSES


def test_fixed_classes_keep_their_order_and_an_unused_class_gets_a_small_prior():
    records = [(1, "x", "b"), (1, "y", "b"), (2, "x", "a"), (2, "y", "a")]
    result = dawid_skene(records, classes=["b", "a", "unused"])
    assert result.classes == ["b", "a", "unused"]
    assert result.labels == {1: "b", 2: "a"}
    assert result.priors["unused"] < 0.01


def test_a_label_outside_fixed_classes_and_bad_arguments_raise():
    with pytest.raises(ValueError, match="not among the classes"):
        dawid_skene([(1, "x", "spam")], classes=["a", "b"])
    with pytest.raises(ValueError, match="init"):
        dawid_skene([(1, "x", "a")], init="oracle")
    with pytest.raises(ValueError):
        dawid_skene([(1, "x", "a")], max_iter=0)


def test_no_records_and_one_class():
    empty = dawid_skene([])
    assert (empty.posteriors, empty.labels, empty.iterations) == ({}, {}, 0)
    single = dawid_skene(iter([(1, "x", "a"), (2, "y", "a")]))
    assert single.labels == {1: "a", 2: "a"}
    assert single.priors == {"a": 1.0}
    assert single.confusion == {"x": [[1.0]], "y": [[1.0]]}
