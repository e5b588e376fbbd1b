"""Agreement statistics against published worked examples, the krippendorff package, and every
way a statistic can be undefined. Each published figure is cited beside its test."""

import json
import tracemalloc

import krippendorff
import numpy as np
import pytest

from adjudication import agreement
from adjudication.agreement import (
    Stat,
    alpha,
    alpha_arrays,
    alpha_ci,
    category_key,
    cohen_kappa,
    confusion_matrix,
    fleiss_kappa,
    gwet_ac1,
    pairwise_kappa,
    per_annotator,
    per_label,
    percent_agreement,
    scott_pi,
)

N = None

# Krippendorff, K. (2011). "Computing Krippendorff's Alpha-Reliability", Annenberg School for
# Communication, University of Pennsylvania. Its example with four observers, twelve units,
# values 1-5 and missing values (unit 12 has one value and is not pairable), worked for every level:
# nominal .743, ordinal .815, interval .849, ratio .797. Gwet's Handbook of Inter-Rater
# Reliability (2014, 4th ed.) uses the same data; its irrCAC package ships it as cac.raw4raters.
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    "C": [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
}

# Fleiss, J. L. (1971). "Measuring nominal scale agreement among many raters", Psychological
# Bulletin 76(5), 378-382, worked example: 30 patients, 6 psychiatrists each, 5 diagnoses
# (1 depression, 2 personality disorder, 3 schizophrenia, 4 neurosis, 5 other), kappa = .430.
# Fleiss prints the counts per category; these raw ratings are the R package irr's `diagnoses`.
FLEISS_1971 = [
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]  # fmt: skip

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, counts per category 1-5.
# Published: P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
WIKIPEDIA_FLEISS = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]  # fmt: skip

# Friendly, M. & Meyer, D. (2016). Discrete Data Analysis with R, ch. 4, observer agreement (and
# the vcd package's documented `Kappa(SexualFun)`): husbands' (rows) and wives' (columns) ratings of
# "sex is fun", Never / Fairly often / Very often / Always, from Agresti (1990). Published:
# unweighted kappa 0.1293, equal-spacing (linear) weighted kappa 0.2374.
SEXUAL_FUN = [[7, 7, 2, 3], [2, 8, 3, 7], [1, 5, 4, 9], [2, 8, 9, 14]]
FUN_SCALE = ["never", "fairly often", "very often", "always"]

# Gamer, M. et al., R package irr, data `anxiety` (20 subjects rated 1-6 by 3 raters): raters 2
# and 3, whose ratings use 1, 2, 3, 4 and 6 but never 5. Published `kappa2` values: unweighted
# -0.006289308, "equal" (linear) 0.1459075, "squared" (quadratic) 0.2520325. irr takes weights
# from the positions of the levels used, so 6 sits one step above 4.
ANXIETY_RATER_2 = [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4]
ANXIETY_RATER_3 = [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2]


def records_from_columns(columns: dict) -> list:
    """(unit, observer, value) records from {observer: values per unit}, None meaning missing."""
    return [
        (unit, observer, value)
        for observer, values in columns.items()
        for unit, value in enumerate(values)
        if value is not None
    ]


def records_from_table(table, a="A", b="B", labels=None) -> list:
    """Two annotators' records from a contingency table: rows are a's values, columns b's."""
    labels = labels or list(range(len(table)))
    records, item = [], 0
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            for _ in range(count):
                records += [(item, a, labels[i]), (item, b, labels[j])]
                item += 1
    return records


def records_from_counts(counts) -> list:
    """Records from per-subject category counts, the raters numbered anew for each subject."""
    records = []
    for subject, row in enumerate(counts):
        values = [category for category, count in enumerate(row) for _ in range(count)]
        records += [(subject, rater, value) for rater, value in enumerate(values)]
    return records


def records_from_rows(rows) -> list:
    return [
        (item, rater, value) for item, row in enumerate(rows) for rater, value in enumerate(row)
    ]


def alpha_from_package(records, level: str) -> float:
    """The krippendorff package's alpha of the same records (observers x units, NaN missing)."""
    units = {u: i for i, u in enumerate(sorted({u for u, _, _ in records}))}
    observers = {o: i for i, o in enumerate(sorted({o for _, o, _ in records}))}
    data = np.full((len(observers), len(units)), np.nan)
    for unit, observer, value in records:
        data[observers[observer], units[unit]] = value
    return krippendorff.alpha(reliability_data=data, level_of_measurement=level)


# Krippendorff's alpha ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "level, published",
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_reproduces_krippendorff_2011_example_c(level, published):
    """Krippendorff (2011), four observers with missing data, each level's published alpha."""
    result = alpha(records_from_columns(KRIPPENDORFF_2011), level=level)
    assert round(result.value, 3) == published
    assert result.n == 11  # unit 12 has a single value


def test_ordinal_alpha_uses_positions_in_the_given_order():
    """Krippendorff's example again with text categories: the order makes it ordinal."""
    names = {1: "low", 2: "fair", 3: "good", 4: "high", 5: "top"}
    records = [(u, o, names[v]) for u, o, v in records_from_columns(KRIPPENDORFF_2011)]
    order = ["low", "fair", "good", "high", "top"]
    assert round(alpha(records, level="ordinal", order=order).value, 3) == 0.815
    with pytest.raises(ValueError, match="order"):
        alpha(records, level="ordinal")
    with pytest.raises(ValueError, match="missing from order"):
        alpha(records, level="ordinal", order=order[:4])


def test_alpha_reproduces_krippendorff_2011_example_a_binary_data():
    """Krippendorff (2011), example A: two observers, binary values, ten units; alpha = 0.095."""
    records = records_from_columns(
        {"A": [0, 1, 0, 0, 0, 0, 0, 0, 1, 0], "B": [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]}
    )
    assert round(alpha(records).value, 3) == 0.095


def test_alpha_reproduces_krippendorff_2011_example_b_nominal_data():
    """Krippendorff (2011), example B: two observers, nominal values a-e, 12 units; 0.692."""
    records = records_from_columns({"Ben": list("aabbdcccedda"), "Gerry": list("babbbccceddd")})
    assert round(alpha(records).value, 3) == 0.692


@pytest.mark.parametrize("level", agreement.LEVELS)
@pytest.mark.parametrize("seed", range(6))
def test_alpha_matches_the_krippendorff_package_on_random_data(level, seed):
    """Cross-check, not a published example: random ratings with about 30 % missing."""
    rng = np.random.default_rng(seed)
    observers, units = rng.integers(2, 7), rng.integers(5, 60)
    data = rng.integers(1, rng.integers(3, 9), (observers, units)).astype(float)
    data[rng.random(data.shape) < 0.3] = np.nan
    records = [
        (int(u), int(o), float(data[o, u]))
        for o in range(observers)
        for u in range(units)
        if not np.isnan(data[o, u])
    ]
    expected = alpha_from_package(records, level)
    assert alpha(records, level=level).value == pytest.approx(expected, abs=1e-9)


def test_alpha_matches_the_package_with_continuous_interval_values():
    rng = np.random.default_rng(7)
    truth = rng.normal(50, 10, 40)
    records = [
        (u, o, float(truth[u] + rng.normal(0, 4)))
        for u in range(40)
        for o in range(3)
        if rng.random() > 0.25
    ]
    for level in ("interval", "ratio"):
        expected = alpha_from_package(records, level)
        assert alpha(records, level=level).value == pytest.approx(expected, abs=1e-9)


def coincidence_alpha(records, delta) -> float:
    """Krippendorff (2011) by the book, in plain Python: the coincidence matrix o_ck, its
    marginals n_c, and alpha = 1 - (n - 1) sum o_ck delta_ck / sum n_c n_k delta_ck."""
    units = {}
    for unit, _, value in records:
        units.setdefault(unit, []).append(value)
    o = {}
    for values in units.values():
        if len(values) > 1:
            for i, c in enumerate(values):
                for j, k in enumerate(values):
                    if i != j:
                        o[c, k] = o.get((c, k), 0) + 1 / (len(values) - 1)
    n_c = {}
    for (c, _), weight in o.items():
        n_c[c] = n_c.get(c, 0) + weight
    n = sum(n_c.values())
    observed = sum(weight * delta(c, k) for (c, k), weight in o.items())
    expected = sum(n_c[c] * n_c[k] * delta(c, k) for c in n_c for k in n_c)
    return 1 - (n - 1) * observed / expected


def test_alpha_with_500_categories_stays_small_in_memory():
    """20,000 records over 500 categories. The krippendorff package builds an items x values x
    values array here (10 GB); alpha sums the coincidence matrix from item pairs instead."""
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 500, 5000)
    guesses = rng.integers(0, 500, (5000, 4))
    keep = rng.random((5000, 4)) < 0.6
    records = [
        (item, rater, int(truth[item] if keep[item, rater] else guesses[item, rater]))
        for item in range(5000)
        for rater in range(4)
    ]
    for level in agreement.LEVELS:
        tracemalloc.start()
        result = alpha(records, level=level)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert result.defined and peak < 20_000_000, (level, peak)
    nominal = coincidence_alpha(records, lambda c, k: float(c != k))
    assert alpha(records).value == pytest.approx(nominal, abs=1e-9)


def test_alpha_matches_the_package_with_60_categories():
    rng = np.random.default_rng(8)
    records = [(i, r, int(v)) for i in range(200) for r, v in enumerate(rng.integers(0, 60, 3))]
    for level in agreement.LEVELS:
        expected = alpha_from_package(records, level)
        assert alpha(records, level=level).value == pytest.approx(expected, abs=1e-9)


def test_a_distance_overrides_the_level():
    records = records_from_columns(KRIPPENDORFF_2011)
    nominal = alpha(records, level="interval", distance=lambda a, b: float(a != b))
    interval = alpha(records, distance=lambda a, b: float(a - b) ** 2)
    assert nominal.value == pytest.approx(alpha(records).value)
    assert interval.value == pytest.approx(alpha(records, level="interval").value)


def test_a_distance_over_sets_compares_multi_label_annotations():
    """Jaccard distance between sets of labels (one of the set distances alpha accepts)."""

    def jaccard(a: frozenset, b: frozenset) -> float:
        return 1 - len(a & b) / len(a | b)

    records = [
        (1, "x", frozenset({"bug"})),
        (1, "y", frozenset({"bug", "ui"})),
        (2, "x", frozenset({"ui"})),
        (2, "y", frozenset({"ui"})),
        (3, "x", frozenset({"docs"})),
        (3, "y", frozenset({"bug"})),
    ]
    with_sets = alpha(records, distance=jaccard).value
    assert alpha(records).value < with_sets < 1  # partial credit for the overlap on item 1


def test_alpha_arrays_is_the_columnar_form_of_alpha():
    records = records_from_columns(KRIPPENDORFF_2011)
    items = np.array([u for u, _, _ in records]) * 10**15  # large codes are fine
    annotators = np.array(["ABCD".index(o) for _, o, _ in records])
    values = np.array([v for _, _, v in records], float)
    for level in agreement.LEVELS:
        assert alpha_arrays(items, annotators, values, level=level) == alpha(records, level=level)


def test_the_last_record_of_an_item_and_annotator_wins():
    records = records_from_columns(KRIPPENDORFF_2011)
    overwritten = [(0, "A", 5), (1, "B", 4)] + records
    assert alpha(overwritten) == alpha(records)
    assert cohen_kappa(overwritten, "A", "B") == cohen_kappa(records, "A", "B")
    assert fleiss_kappa(overwritten) == fleiss_kappa(records)
    arrays = alpha_arrays([0, 0, 0], [0, 1, 0], [1.0, 2.0, 2.0])
    assert arrays.value is None and arrays.reason == agreement.ONE_CATEGORY


def test_alpha_accepts_any_mix_of_hashable_categories():
    records = [
        (1, "x", "spam"),
        (1, "y", "spam"),
        (2, "x", 3),
        (2, "y", (1, 2)),
        (3, "x", frozenset({"a"})),
        (3, "y", frozenset({"a"})),
        (4, "x", 3),
        (4, "y", 3.0),
    ]
    assert alpha(records).defined
    assert sorted(["b", 2, (1,), 1.5, "a", frozenset()], key=category_key)[:2] == [1.5, 2]


# alpha's bootstrap interval ----------------------------------------------------------------------


def test_alpha_ci_keeps_alpha_and_brackets_it_reproducibly():
    records = records_from_columns(KRIPPENDORFF_2011)
    result = alpha_ci(records, n_boot=500, seed=4)
    assert result.value == alpha(records).value
    assert result.ci[0] <= result.value <= result.ci[1] <= 1
    assert alpha_ci(records, n_boot=500, seed=4) == result
    assert alpha_ci(records, n_boot=500, seed=5).ci != result.ci
    assert result.detail == {"n_boot": 500, "undefined_draws": 0}


@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_alpha_ci_equals_recomputing_alpha_from_each_resampled_item_set(level):
    """The per-item shortcut gives what resampling the records and recomputing would give."""
    rng = np.random.default_rng(11)
    rows = [[int(v) for v in rng.integers(1, 5, rng.integers(2, 5))] for _ in range(25)]
    records = [(item, rater, v) for item, row in enumerate(rows) for rater, v in enumerate(row)]
    # The same draws the function makes: one chunk of n_boot x items from default_rng(seed).
    draws = np.random.default_rng(2).integers(0, len(rows), size=(200, len(rows)))
    by_hand = [
        alpha(
            [(k, rater, v) for k, item in enumerate(draw) for rater, v in enumerate(rows[item])],
            level=level,
        ).value
        for draw in draws
    ]
    expected = np.quantile([v for v in by_hand if v is not None], [0.05, 0.95])
    result = alpha_ci(records, level=level, n_boot=200, seed=2, confidence=0.9)
    assert result.ci == pytest.approx(tuple(expected), abs=1e-12)


def test_alpha_ci_counts_draws_where_alpha_is_undefined():
    records = [(1, "x", "a"), (1, "y", "a"), (2, "x", "b"), (2, "y", "b")]
    result = alpha_ci(records, n_boot=400, seed=1)
    assert result.value == 1.0
    assert result.ci == (1.0, 1.0)
    assert 0 < result.detail["undefined_draws"] < 400  # draws of one item twice have one value


def test_alpha_ci_of_undefined_alpha_has_no_interval():
    result = alpha_ci([(1, "x", "a"), (1, "y", "a")])
    assert result.value is None and result.ci is None
    assert result.reason == agreement.ONE_CATEGORY


def test_alpha_ci_works_with_many_categories_and_every_level():
    rng = np.random.default_rng(5)
    records = [(i, r, int(v)) for i in range(300) for r, v in enumerate(rng.integers(0, 40, 3))]
    for level in agreement.LEVELS:
        result = alpha_ci(records, level=level, n_boot=50)
        assert result.value == alpha(records, level=level).value
        assert result.ci[0] <= result.ci[1]


# Undefined is not zero ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "records, reason",
    [
        ([], agreement.NO_PAIRS),
        ([(1, "x", "a"), (2, "x", "b")], agreement.NO_PAIRS),
        ([(1, "x", "a"), (1, "y", "a"), (2, "x", "a"), (2, "y", "a")], agreement.ONE_CATEGORY),
    ],
)
def test_alpha_is_undefined_without_pairs_or_with_one_category(records, reason):
    for level in ("nominal", "ordinal"):
        result = alpha(records, level=level, order=["a", "b"])
        assert result.value is None and result.reason == reason


def test_interval_alpha_of_one_value_is_undefined():
    result = alpha([(1, "x", 2.5), (1, "y", 2.5), (2, "x", 7)], level="interval")
    assert result.value is None and result.reason == agreement.ONE_VALUE
    assert result.n == 1


def test_alpha_is_undefined_when_the_distance_sees_no_difference():
    result = alpha([(1, "x", "a"), (1, "y", "b")], distance=lambda a, b: 0.0)
    assert result.value is None and result.reason == agreement.NO_EXPECTED


def test_alpha_rejects_invalid_arguments():
    records = [(1, "x", "a"), (1, "y", "b")]
    with pytest.raises(ValueError, match="level"):
        alpha(records, level="cardinal")
    with pytest.raises(ValueError, match="numbers"):
        alpha(records, level="interval")
    with pytest.raises(ValueError, match="negative"):
        alpha([(1, "x", -1), (1, "y", 2)], level="ratio")
    with pytest.raises(ValueError, match="finite"):
        alpha([(1, "x", float("nan")), (1, "y", 2)], level="interval")
    with pytest.raises(ValueError, match="n_boot"):
        alpha_ci(records, n_boot=0)


# Cohen's kappa, Scott's pi and the confusion matrix -----------------------------------------------


def test_cohen_kappa_reproduces_the_wikipedia_example():
    """Wikipedia, "Cohen's kappa", simple example: 50 grant proposals, yes/no; counts 20 (both
    yes), 5 (A yes, B no), 10 (A no, B yes), 15 (both no). Published: p_o 0.7, p_e 0.5, 0.4."""
    records = records_from_table([[20, 5], [10, 15]], labels=["yes", "no"])
    result = cohen_kappa(records, "A", "B")
    assert result.value == pytest.approx(0.4)
    assert result.n == 50
    matrix = confusion_matrix(records, "A", "B")
    assert matrix == {"labels": ["no", "yes"], "matrix": [[15, 10], [5, 20]], "n": 50}


def test_weighted_kappa_reproduces_friendly_and_meyer_sexual_fun():
    """Friendly & Meyer (2016) / vcd's Kappa(SexualFun): 0.1293 unweighted, 0.2374 linear."""
    records = records_from_table(SEXUAL_FUN, labels=FUN_SCALE)
    assert round(cohen_kappa(records, "A", "B").value, 4) == 0.1293
    linear = cohen_kappa(records, "A", "B", weights="linear", order=FUN_SCALE)
    assert round(linear.value, 4) == 0.2374
    with pytest.raises(ValueError, match="order"):
        cohen_kappa(records, "A", "B", weights="linear")


@pytest.mark.parametrize(
    "weights, published", [(None, -0.006289308), ("linear", 0.1459075), ("quadratic", 0.2520325)]
)
def test_weighted_kappa_reproduces_irr_kappa2_on_anxiety(weights, published):
    """irr::kappa2(anxiety[, 2:3]) with weights unweighted, "equal" and "squared"."""
    records = records_from_columns({"r2": ANXIETY_RATER_2, "r3": ANXIETY_RATER_3})
    assert cohen_kappa(records, "r2", "r3", weights=weights).value == pytest.approx(
        published, abs=1e-7
    )
    used_levels = cohen_kappa(records, "r2", "r3", weights=weights, order=[1, 2, 3, 4, 6])
    assert used_levels.value == pytest.approx(published, abs=1e-7)
    if weights:  # with the unused 5 in the schema, 6 is two steps above 4: another kappa
        full_scale = cohen_kappa(records, "r2", "r3", weights=weights, order=[1, 2, 3, 4, 5, 6])
        assert full_scale.value != pytest.approx(published, abs=1e-3)


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_weights_come_from_positions_not_numeric_values(weights):
    """A scale 1, 2, 5, 10 gives the same weighted kappa as 1, 2, 3, 4."""
    spaced = records_from_table(SEXUAL_FUN, labels=[1, 2, 5, 10])
    even = records_from_table(SEXUAL_FUN, labels=[1, 2, 3, 4])
    assert cohen_kappa(spaced, "A", "B", weights=weights).value == pytest.approx(
        cohen_kappa(even, "A", "B", weights=weights).value
    )
    assert cohen_kappa(spaced, "A", "B", weights=weights, order=[1, 2, 5, 10]) == cohen_kappa(
        even, "A", "B", weights=weights
    )
    with pytest.raises(ValueError, match="missing from order"):
        cohen_kappa(spaced, "A", "B", weights=weights, order=[1, 2, 5])


def test_kappa_and_ac1_reproduce_wongpakaran_2013():
    """Wongpakaran, N., Wongpakaran, T., Wedding, D. & Gwet, K. L. (2013). "A comparison of
    Cohen's Kappa and Gwet's AC1 ...", BMC Medical Research Methodology 13:61: two raters,
    Schizoid personality disorder, no/no 13, no/yes 2, yes/no 1, yes/yes 3. Published: kappa
    .565, AC1 .752 (the exact AC1 is 0.7527; the paper truncates)."""
    records = records_from_table([[13, 2], [1, 3]], labels=["no", "yes"])
    assert round(cohen_kappa(records, "A", "B").value, 3) == 0.565
    assert abs(gwet_ac1(records).value - 0.752) < 0.001


def test_scott_pi_reproduces_the_wikipedia_example():
    """Wikipedia, "Scott's pi", worked example: 45 items, Yes/No/Maybe, confusion matrix
    [[1, 2, 3], [4, 5, 6], [7, 8, 9]]. Published: Pr(a) = 0.333, Pr(e) = 0.369 and a slightly
    negative pi; exactly (1/3 - 0.36889) / (1 - 0.36889) = -0.0563."""
    records = records_from_table([[1, 2, 3], [4, 5, 6], [7, 8, 9]], labels=["yes", "no", "maybe"])
    assert scott_pi(records, "A", "B").value == pytest.approx(-0.056, abs=1e-3)


def test_scott_pi_equals_fleiss_kappa_for_two_raters():
    """Fleiss (1971) generalises Scott's pi: with two raters per item they coincide."""
    records = records_from_table(SEXUAL_FUN)
    assert scott_pi(records, "A", "B").value == pytest.approx(fleiss_kappa(records).value)


@pytest.mark.parametrize("statistic", [cohen_kappa, scott_pi])
def test_two_annotator_statistics_are_undefined_without_shared_items(statistic):
    records = [(1, "x", "a"), (2, "y", "b"), (2, "z", "a")]
    for a, b in [("x", "y"), ("x", "nobody")]:
        result = statistic(records, a, b)
        assert result.value is None and result.reason == agreement.NO_SHARED


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_of_one_shared_category_is_undefined(weights):
    records = [(1, "x", 2), (1, "y", 2), (2, "x", 2), (2, "y", 2), (3, "z", 3)]
    result = cohen_kappa(records, "x", "y", weights=weights)
    assert result.value is None and result.reason == agreement.ONE_CATEGORY
    assert result.n == 2
    assert scott_pi(records, "x", "y").reason == agreement.ONE_CATEGORY


def test_kappa_is_zero_not_undefined_when_each_annotator_uses_a_different_category():
    records = [(1, "x", "a"), (1, "y", "b"), (2, "x", "a"), (2, "y", "b")]
    assert cohen_kappa(records, "x", "y").value == 0.0


def test_pairwise_kappa_lists_pairs_that_share_items_in_order():
    records = records_from_columns(KRIPPENDORFF_2011) + [(99, "E", 1)]
    pairs = pairwise_kappa(records)
    assert [(p["a"], p["b"]) for p in pairs] == [
        ("A", "B"), ("A", "C"), ("A", "D"), ("B", "C"), ("B", "D"), ("C", "D"),
    ]  # fmt: skip
    assert pairs[0]["shared"] == 9
    assert pairs[0]["kappa"] == cohen_kappa(records, "A", "B")


def test_confusion_matrix_without_shared_items_is_empty():
    assert confusion_matrix([(1, "x", "a")], "x", "y") == {"labels": [], "matrix": [], "n": 0}


# Fleiss' kappa, Gwet's AC1 and percent agreement --------------------------------------------------


def test_fleiss_kappa_reproduces_fleiss_1971():
    """Fleiss (1971), 30 patients x 6 raters: kappa = .430 (irr's kappam.fleiss: 0.4302445)."""
    records = records_from_rows(FLEISS_1971)
    result = fleiss_kappa(records)
    assert result.value == pytest.approx(0.4302445, abs=1e-7)
    assert result.n == 30 and result.detail == {"excluded": 0, "raters": 6}


def test_fleiss_kappa_and_percent_agreement_reproduce_the_wikipedia_example():
    """Wikipedia, "Fleiss' kappa", worked example: P-bar = 0.378, kappa = 0.210."""
    records = records_from_counts(WIKIPEDIA_FLEISS)
    assert round(fleiss_kappa(records).value, 3) == 0.210
    assert round(percent_agreement(records).value, 3) == 0.378


def test_fleiss_kappa_leaves_out_items_with_another_number_of_raters():
    records = records_from_rows(FLEISS_1971) + [(100, 0, 1), (100, 1, 2), (101, 0, 3)]
    result = fleiss_kappa(records)
    assert result.value == pytest.approx(0.4302445, abs=1e-7)
    assert result.detail == {"excluded": 2, "raters": 6}
    assert fleiss_kappa(records, raters=2).n == 1


def test_fleiss_kappa_undefined_cases():
    assert fleiss_kappa([(1, "x", "a")]).reason == agreement.NO_PAIRS
    missing = fleiss_kappa([(1, "x", "a"), (1, "y", "b")], raters=3)
    assert missing.value is None and missing.detail == {"excluded": 1, "raters": 3}
    assert "exactly 3" in missing.reason
    one = fleiss_kappa([(1, "x", "a"), (1, "y", "a"), (2, "x", "a"), (2, "y", "a")])
    assert one.value is None and one.reason == agreement.ONE_CATEGORY
    with pytest.raises(ValueError):
        fleiss_kappa([(1, "x", "a")], raters=1)


def test_gwet_ac1_reproduces_the_irrcac_example_with_missing_ratings():
    """Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed.; irrCAC's documented
    gwet.ac1.raw(cac.raw4raters): p_a 0.8181818, p_e 0.1903212, AC1 0.77544."""
    records = records_from_columns(KRIPPENDORFF_2011)
    assert round(gwet_ac1(records).value, 5) == 0.77544
    assert percent_agreement(records).value == pytest.approx(0.8181818, abs=1e-7)
    assert gwet_ac1(records).n == 11


def test_gwet_ac1_and_percent_agreement_undefined_cases():
    single = [(1, "x", "a"), (2, "y", "b")]
    assert gwet_ac1(single).reason == agreement.NO_PAIRS
    assert percent_agreement(single).reason == agreement.NO_PAIRS
    one = [(1, "x", "a"), (1, "y", "a")]
    assert gwet_ac1(one).value is None and gwet_ac1(one).reason == agreement.ONE_CATEGORY
    assert percent_agreement(one).value == 1.0  # agreement needs no chance correction


# Per label and per annotator ----------------------------------------------------------------------


def test_per_label_is_alpha_of_the_binary_is_this_label_data():
    records = records_from_columns(KRIPPENDORFF_2011)
    result = per_label(records)
    assert list(result) == [1, 2, 3, 4, 5]
    for label, stat in result.items():
        binary = [(u, o, v == label) for u, o, v in records]
        assert stat.value == pytest.approx(alpha(binary).value)


def test_per_label_treats_frozensets_as_multi_label_annotations():
    records = [
        (1, "x", frozenset({"bug", "ui"})),
        (1, "y", frozenset({"bug"})),
        (2, "x", frozenset()),
        (2, "y", frozenset({"ui"})),
        (3, "x", frozenset({"docs"})),
        (3, "y", frozenset({"docs", "bug"})),
    ]
    result = per_label(records, labels=["bug", "ui", "docs", "perf"])
    for label in ("bug", "ui", "docs"):
        binary = [(u, o, label in v) for u, o, v in records]
        assert result[label].value == pytest.approx(alpha(binary).value)
    assert result["perf"].value is None and "has the label" in result["perf"].reason


def test_per_label_undefined_cases():
    assert per_label([(1, "x", "a")]) == {"a": Stat(None, 0, agreement.NO_PAIRS)}
    everywhere = per_label([(1, "x", frozenset({"a"})), (1, "y", frozenset({"a", "b"}))])
    assert everywhere["a"].reason == "every annotation has the label"
    assert everywhere["b"].value is not None


def test_per_annotator_agreement_kappa_and_gold():
    records = [
        (1, "ann", "a"), (1, "bob", "a"), (1, "cy", "b"),
        (2, "ann", "b"), (2, "bob", "b"),
        (3, "ann", "a"), (3, "cy", "a"),
        (4, "bob", "b"),
    ]  # fmt: skip
    result = per_annotator(records, gold={1: "a", 2: "a", 4: "b", 9: "c"})
    ann = result["ann"]
    assert ann["items"] == 3
    # ann's pairs: item 1 (a,a) (a,b); item 2 (b,b); item 3 (a,a): 3 of 4 agree.
    assert ann["agreement"] == Stat(0.75, 3)
    # Pooled table, rows ann, columns the others: own a: 3, b: 1; others a: 2, b: 2.
    # p_e = (3 * 2 + 1 * 2) / 16 = 0.5, so kappa = (0.75 - 0.5) / 0.5.
    assert ann["kappa"].value == pytest.approx(0.5)
    assert ann["gold_accuracy"] == Stat(0.5, 2)  # item 1 right, item 2 wrong
    assert result["bob"]["gold_accuracy"] == Stat(2 / 3, 3)
    # bob a, b, b against gold a, a, b: expected disagreement 9 - (1 * 2 + 2 * 1) = 5 pairs.
    assert result["bob"]["gold_kappa"].value == pytest.approx(1 - 3 * 1 / 5)
    assert result["cy"]["gold_kappa"] == Stat(0.0, 1)  # cy b, gold a: no better than chance
    assert list(result) == ["ann", "bob", "cy"]


def test_per_annotator_matches_cohen_kappa_when_there_are_two_annotators():
    records = records_from_table(SEXUAL_FUN)
    result = per_annotator(records)
    assert result["A"]["kappa"].value == pytest.approx(cohen_kappa(records, "A", "B").value)
    assert result["A"]["agreement"].value == pytest.approx((7 + 8 + 4 + 14) / 91)


def test_per_annotator_undefined_cases():
    result = per_annotator([(1, "x", "a"), (2, "y", "b"), (2, "z", "b")], gold={1: "a"})
    x = result["x"]
    assert x["agreement"].value is None and x["kappa"].value is None
    assert x["gold_accuracy"] == Stat(1.0, 1)
    assert result["y"]["gold_accuracy"].reason == "no gold item was labeled by this annotator"
    assert result["y"]["kappa"].reason == agreement.ONE_CATEGORY
    no_gold = per_annotator([(1, "x", "a"), (1, "y", "b")])
    assert no_gold["x"]["gold_kappa"].reason == "no gold labels were given"
    assert per_annotator([]) == {}


# Stat ---------------------------------------------------------------------------------------------


def test_stat_as_dict_is_json_safe_and_never_nan():
    records = records_from_rows(FLEISS_1971)
    for stat in [fleiss_kappa(records), alpha_ci(records, n_boot=20), alpha([])]:
        text = json.dumps(stat.as_dict(), allow_nan=False)
        assert set(json.loads(text)) >= {"value", "n", "reason", "ci"}
    assert fleiss_kappa(records).as_dict()["excluded"] == 0
    assert alpha_ci(records, n_boot=20).as_dict()["ci"][0] <= 1
    with pytest.raises(ValueError):
        Stat(float("nan"), 1)
    assert not alpha([]).defined and alpha(records).defined


def test_nothing_raises_on_empty_records():
    for statistic in (alpha, alpha_ci, percent_agreement, gwet_ac1, fleiss_kappa):
        assert statistic([]).value is None
    assert cohen_kappa([], "x", "y").value is None
    assert scott_pi([], "x", "y").value is None
    assert pairwise_kappa([]) == [] and per_label([]) == {}


def test_pairwise_entries_carry_scotts_pi_of_the_same_items():
    """The dashboard's pair table takes Scott's pi from pairwise_kappa: it must equal
    scott_pi computed on its own for each pair."""
    rng = np.random.default_rng(3)
    records = [(i, a, int(rng.integers(3))) for i in range(60) for a in "pqr" if rng.random() < 0.8]
    for pair in pairwise_kappa(records):
        alone = scott_pi(records, pair["a"], pair["b"])
        assert pair["scott_pi"].value == pytest.approx(alone.value)
        assert pair["scott_pi"].n == alone.n == pair["shared"]
