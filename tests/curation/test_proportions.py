"""The error-rate statistics of sample audits: Wilson's score interval against Newcombe's
published values and scipy, the per-label error rates, and the seeded, stratified draw."""

import random

import pytest
from scipy.stats import binomtest

from curation.proportions import (
    Z95,
    draw_sample,
    error_rates,
    stratified_allocation,
    wilson_interval,
)

# Newcombe (1998), "Two-sided confidence intervals for the single proportion: comparison of
# seven methods", Statistics in Medicine 17:857-872, Table I, method 3 (score, no continuity
# correction), to 4 decimals.
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("errors", "n", "low", "high"), NEWCOMBE)
def test_wilson_interval_matches_newcombes_table(errors, n, low, high):
    """The interval reproduces the published score intervals to four decimals."""
    found_low, found_high = wilson_interval(errors, n)
    assert round(found_low, 4) == low
    assert round(found_high, 4) == high


def test_wilson_interval_at_the_edges_has_the_closed_form():
    """0 errors: [0, z²/(n+z²)]; n errors: [n/(n+z²), 1], exactly at the bound."""
    z2 = Z95**2
    for n in (1, 7, 50, 1000):
        low, high = wilson_interval(0, n)
        assert low == 0.0
        assert high == pytest.approx(z2 / (n + z2), rel=1e-12)
        low, high = wilson_interval(n, n)
        assert high == 1.0
        assert low == pytest.approx(n / (n + z2), rel=1e-12)


def test_wilson_interval_agrees_with_scipy():
    """Against scipy's binomtest(...).proportion_ci(method="wilson") over many counts."""
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(1, 2000)
        errors = rng.randint(0, n)
        expected = binomtest(errors, n).proportion_ci(0.95, method="wilson")
        low, high = wilson_interval(errors, n)
        assert low == pytest.approx(expected.low, abs=1e-12)
        assert high == pytest.approx(expected.high, abs=1e-12)


def test_wilson_interval_of_nothing_is_none_and_bad_counts_are_refused():
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_error_rates_overall_and_per_label():
    """Pending samples count as sampled, not judged; each label gets its own rate."""
    samples = [("pos", "correct")] * 8 + [("pos", "incorrect")] * 2 + [("neg", "incorrect")]
    samples += [("neg", "correct")] * 3 + [("neg", "")] * 2
    overall, per_label = error_rates(samples)
    assert (overall.sampled, overall.judged, overall.incorrect) == (16, 14, 3)
    assert overall.remaining == 2
    assert overall.rate == pytest.approx(3 / 14)
    neg, pos = per_label
    assert (neg.label, neg.sampled, neg.judged, neg.incorrect) == ("neg", 6, 4, 1)
    assert (pos.label, pos.judged, pos.incorrect, pos.rate) == ("pos", 10, 2, 0.2)
    assert pos.interval == wilson_interval(2, 10)
    assert error_rates([("a", "")])[0].rate is None


def test_stratified_allocation_is_proportional_with_largest_remainders():
    """Exact counts for known populations: 60/30/10 of 1,000 give 60/30/10 of 100; three equal
    strata give 4/3/3 of 10 (equal remainders: by name); quotas 5.83/2.92/1.25 of 10 give
    floors 5/2/1 and the two spare samples go to the largest remainders (.92, then .83)."""
    assert stratified_allocation({"a": 600, "b": 300, "c": 100}, 100) == {"a": 60, "b": 30, "c": 10}
    assert stratified_allocation({"a": 50, "b": 50, "c": 50}, 10) == {"a": 4, "b": 3, "c": 3}
    assert stratified_allocation({"x": 700, "y": 350, "z": 150}, 10) == {"x": 6, "y": 3, "z": 1}
    assert sum(stratified_allocation({"a": 3, "b": 2}, 50).values()) == 5  # capped


def test_stratified_allocation_gives_every_label_one_when_size_allows():
    """Quotas 6.67/2.86/0.48 round to 7/3/0; the rare label still gets one, taken from the
    largest stratum. With fewer samples than labels, some label must go without."""
    assert stratified_allocation({"x": 700, "y": 300, "z": 50}, 10) == {"x": 6, "y": 3, "z": 1}
    assert stratified_allocation({"big": 990, "r1": 5, "r2": 5}, 10) == {"big": 8, "r1": 1, "r2": 1}
    assert sum(stratified_allocation({"a": 1, "b": 1, "c": 1}, 2).values()) == 2


def test_draw_is_reproducible_by_seed_and_samples_without_replacement():
    labels = ["pos"] * 70 + ["neg"] * 30
    first = draw_sample(labels, 20, seed=42)
    assert first == draw_sample(labels, 20, seed=42)
    assert first != draw_sample(labels, 20, seed=43)
    assert len(set(first)) == 20
    assert len(draw_sample(labels, 500, seed=1, stratified=True)) == 100  # capped


def test_stratified_draw_takes_each_labels_share():
    labels = ["a"] * 600 + ["b"] * 300 + ["c"] * 100
    chosen = draw_sample(labels, 100, seed=3, stratified=True)
    counts = {name: sum(labels[i] == name for i in chosen) for name in "abc"}
    assert counts == {"a": 60, "b": 30, "c": 10}
    assert chosen == draw_sample(labels, 100, seed=3, stratified=True)
    assert chosen != sorted(chosen)  # shuffled: labels do not come in runs
