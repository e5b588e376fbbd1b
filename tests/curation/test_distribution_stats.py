"""The distribution statistics (curation.distribution) against scipy and published figures:
Pearson's chi-square test of independence, the Jensen–Shannon divergence, and the flags of
over- and under-represented categories."""

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency

from curation.distribution import (
    OTHER,
    capped_counts,
    chi_square_independence,
    compare_distributions,
    crosstab,
    jensen_shannon,
)

TABLES = [
    [[10, 20], [30, 40]],
    [[762, 327, 468], [484, 239, 477]],
    [[5, 0, 12, 3], [8, 9, 2, 1], [1, 4, 6, 20]],  # rectangular, with a zero cell
    [[120, 90], [40, 60], [30, 75], [12, 3]],
    [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]],
]


@pytest.mark.parametrize("table", TABLES)
def test_chi_square_equals_scipy_without_yates(table):
    """Statistic, degrees of freedom, p-value and expected counts are scipy's
    chi2_contingency(correction=False), 2×2 tables included (no Yates correction)."""
    ours = chi_square_independence(table)
    theirs = chi2_contingency(np.array(table), correction=False)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.dof == theirs.dof
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-300)
    assert np.allclose(ours.expected, theirs.expected_freq)


def test_all_zero_rows_and_columns_are_dropped_and_reported():
    """A label or value with no items is dropped before the test: the figures are those of
    the table without it, and the dropped indices are listed."""
    table = [[10, 0, 20, 30], [0, 0, 0, 0], [15, 0, 5, 25]]
    ours = chi_square_independence(table)
    theirs = chi2_contingency(np.array([[10, 20, 30], [15, 5, 25]]), correction=False)
    assert ours.dropped_rows == [1]
    assert ours.dropped_cols == [1]
    assert ours.rows == [0, 2] and ours.cols == [0, 2, 3]
    assert ours.statistic == pytest.approx(theirs.statistic)
    assert ours.dof == theirs.dof == 2
    assert ours.p_value == pytest.approx(theirs.pvalue)


def test_agresti_gender_and_party_identification():
    """Agresti, An Introduction to Categorical Data Analysis (2nd ed., tables 2.5 and 2.6):
    X² = 30.1 with 2 df, and adjusted residuals 4.50, 0.70, -5.32 for females."""
    result = chi_square_independence([[762, 327, 468], [484, 239, 477]])
    assert round(result.statistic, 1) == 30.1
    assert result.dof == 2
    assert result.p_value < 0.001
    assert [round(r, 2) for r in result.residuals[0]] == [4.50, 0.70, -5.32]
    assert [round(r, 2) for r in result.residuals[1]] == [-4.50, -0.70, 5.32]
    assert result.independent is False
    assert result.cochran_warning is False


def test_cramers_v_is_the_square_root_of_chi_square_over_n_times_smaller_side():
    table = [[30, 10, 5], [10, 30, 5], [5, 5, 40]]
    result = chi_square_independence(table)
    expected = math.sqrt(chi2_contingency(np.array(table), correction=False).statistic / (140 * 2))
    assert result.cramers_v == pytest.approx(expected)
    assert chi_square_independence([[10, 0], [0, 10]]).cramers_v == pytest.approx(1.0)


def test_cochran_warning_when_more_than_a_fifth_of_expected_counts_are_below_five():
    small = chi_square_independence([[3, 1], [1, 3]])
    assert small.cochran_warning is True
    assert small.low_expected_share == 1.0
    assert chi_square_independence([[30, 10], [10, 30]]).cochran_warning is False


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        ([], "no counts"),
        ([[0, 0], [0, 0]], "no counts"),
        ([[5, 7, 9]], "one row"),
        ([[5], [7]], "one column"),
        ([[5, 0], [7, 0]], "one column"),
    ],
)
def test_undefined_tests_are_none_with_a_reason(table, reason):
    """An empty table, a single row or a single column gives None figures, never NaN."""
    result = chi_square_independence(np.array(table).reshape(len(table), -1) if table else [[]])
    assert result.statistic is None and result.p_value is None and result.cramers_v is None
    assert result.independent is None
    assert reason in result.reason.lower()


PAIRS = [
    ({"a": 1, "b": 3}, {"a": 2, "c": 5}),
    ({"en": 600, "de": 300, "fr": 100}, {"en": 500, "de": 300, "fr": 200}),
    ({"x": 1}, {"x": 1, "y": 1}),
    ({"p": 10, "q": 0, "r": 5}, {"p": 1, "q": 9, "r": 5}),
]


@pytest.mark.parametrize(("p", "q"), PAIRS)
def test_jensen_shannon_equals_scipys_squared_distance(p, q):
    """scipy returns the distance (the square root); the divergence is its square, in bits."""
    keys = sorted(set(p) | set(q))
    expected = jensenshannon([p.get(k, 0) for k in keys], [q.get(k, 0) for k in keys], base=2) ** 2
    assert jensen_shannon(p, q).value == pytest.approx(expected, abs=1e-12)


def test_jensen_shannon_is_one_bit_for_disjoint_and_zero_for_identical_shares():
    assert jensen_shannon({"a": 3, "b": 1}, {"c": 7}).value == pytest.approx(1.0)
    assert jensen_shannon({"a": 3, "b": 1}, {"a": 30, "b": 10}).value == pytest.approx(0.0)


def test_jensen_shannon_in_nats_tops_out_at_log_two():
    value = jensen_shannon({"a": 1}, {"b": 1}, base=math.e).value
    assert value == pytest.approx(math.log(2))
    assert value == pytest.approx(jensenshannon([1, 0], [0, 1]) ** 2)


def test_jensen_shannon_with_an_empty_side_is_none():
    result = jensen_shannon({}, {"a": 3})
    assert result.value is None
    assert "dataset" in result.reason


def test_over_and_under_represented_flags():
    """Flagged: at least 2 points apart and |z| ≥ 1.96, on 1,000 rows a side. "es" is 3 points
    below (z ≈ -2.7): under; "it" is 1 point above: not flagged; "pt" appears only in the
    dataset (19%): over; "ja" only in the reference: under. One-sided categories are rows."""
    dataset = {"en": 500, "de": 200, "es": 50, "it": 60, "pt": 190}
    reference = {"en": 550, "de": 210, "es": 80, "it": 50, "ja": 110}
    result = compare_distributions(dataset, reference)
    rows = {row.category: row for row in result.rows}
    assert set(rows) == {"en", "de", "es", "it", "pt", "ja"}
    assert rows["pt"].flag == "over" and rows["pt"].reference_count == 0
    assert rows["pt"].ratio is None
    assert rows["ja"].flag == "under" and rows["ja"].dataset_count == 0
    assert rows["es"].flag == "under"
    assert rows["es"].z == pytest.approx(-2.7, abs=0.1)
    assert rows["en"].flag == "under"  # 5 points, z ≈ -2.2
    assert rows["it"].flag == "" and rows["de"].flag == ""
    assert rows["es"].difference == pytest.approx(-0.03)
    assert rows["es"].ratio == pytest.approx(50 / 80)
    # Sorted by the size of the difference, largest first.
    differences = [abs(row.difference) for row in result.rows]
    assert differences == sorted(differences, reverse=True)
    assert [row.category for row in result.over] == ["pt"]


def test_a_large_gap_on_few_rows_is_not_flagged():
    """10 points apart, but on 20 rows each the z-test cannot tell (|z| < 1.96)."""
    result = compare_distributions({"a": 12, "b": 8}, {"a": 10, "b": 10})
    assert {row.flag for row in result.rows} == {""}


def test_a_tiny_gap_on_a_huge_sample_is_not_flagged():
    """1 point apart on a million rows each: |z| is large, the difference is not."""
    result = compare_distributions({"a": 510_000, "b": 490_000}, {"a": 500_000, "b": 500_000})
    assert all(abs(row.z) > 10 for row in result.rows)
    assert {row.flag for row in result.rows} == {""}


def test_comparison_with_an_empty_dataset_has_a_reason():
    result = compare_distributions({}, {"a": 3})
    assert result.rows == [] and result.divergence.value is None
    assert "no items" in result.reason


def test_crosstab_caps_rare_values_as_other():
    pairs = [("pos", "en")] * 5 + [("neg", "en")] * 3 + [("pos", "de")] * 2 + [("neg", "xx")]
    table = crosstab(pairs, limit=2)
    assert table.rows == ["pos", "neg"]
    assert table.cols == ["en", "de", OTHER]
    assert table.table == [[5, 2, 0], [3, 0, 1]]
    assert table.capped_cols == 1 and table.capped_rows == 0
    assert capped_counts({"a": 5, "b": 3, "c": 1, "d": 1}, 2) == {"a": 5, "b": 3, OTHER: 2}
