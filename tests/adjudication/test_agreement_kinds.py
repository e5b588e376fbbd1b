"""Agreement per kind of label, checked against published worked examples where they exist and
small hand-computed cases (arithmetic in the docstring) where they do not."""

import math
from unittest import mock

import krippendorff
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adjudication import agreement_kinds
from adjudication.agreement import NO_PAIRS, ONE_CATEGORY, alpha, pairwise_kappa
from adjudication.agreement_kinds import (
    WHITESPACE,
    kind_records,
    masi_distance,
    multiple_choice_alpha,
    preference_agreement,
    rating_agreement,
    span_f1,
    span_token_alpha,
    whitespace_tokens,
)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the reliability data of
# sections C to F: four observers, twelve units, missing values as None.
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def matrix_records(matrix: dict) -> list[tuple]:
    return [
        (unit, annotator, value)
        for annotator, values in matrix.items()
        for unit, value in enumerate(values, start=1)
        if value is not None
    ]


# --- kind_records --------------------------------------------------------------------------------


def test_kind_records_turns_each_kind_into_hashable_values():
    assert kind_records("single_choice", [(1, "x", {"label": "a"})]).records == [(1, "x", "a")]
    assert kind_records("multiple_choice", [(1, "x", {"labels": ["b", "a"]})]).records == [
        (1, "x", frozenset({"a", "b"}))
    ]
    spans = {"spans": [{"start": 0, "end": 4, "label": "ORG"}]}
    assert kind_records("spans", [(1, "x", spans)]).records == [
        (1, "x", frozenset({(0, 4, "ORG")}))
    ]
    assert kind_records("preference", [(1, "x", {"choice": "tie", "reason": "same"})]).records == [
        (1, "x", "tie")
    ]
    assert kind_records("rating", [(1, "x", {"rating": 4})]).records == [(1, "x", 4)]


def test_kind_records_keeps_empty_answers():
    """An empty list means "none apply" / "no spans": an answer, not a malformed value."""
    rows = [(1, "x", {"labels": []})]
    assert kind_records("multiple_choice", rows).records == [(1, "x", frozenset())]
    assert kind_records("spans", [(1, "x", {"spans": []})]).records == [(1, "x", frozenset())]


@pytest.mark.parametrize(
    "kind, value",
    [
        ("single_choice", {"label": 3}),
        ("single_choice", None),
        ("multiple_choice", {"labels": "a"}),
        ("multiple_choice", {"labels": ["a", 1]}),
        ("spans", {"spans": [{"start": 5, "end": 5, "label": "ORG"}]}),
        ("spans", {"spans": [{"start": "0", "end": 5, "label": "ORG"}]}),
        ("spans", {"spans": ["ORG"]}),
        ("preference", {"choice": "C"}),
        ("rating", {"rating": True}),
        ("rating", {"rating": 4.5}),
        ("rating", {}),
    ],
)
def test_kind_records_skips_and_counts_malformed_values(kind, value):
    result = kind_records(kind, [(1, "x", value), (1, "y", value)])
    assert result.records == []
    assert result.skipped == 2


# --- MASI ----------------------------------------------------------------------------------------


def test_masi_matches_nltks_documented_examples():
    """NLTK's `masi_distance` docstring and metrics howto (Passonneau 2006) give 0.665 for
    {1,2} vs {1,2,3,4} and 0.868 for {1,2,3,4} vs {3,4,5}. NLTK rounds M to 0.67 and 0.33; with
    the paper's 2/3 and 1/3: 1 - (2/4)(2/3) = 2/3 and 1 - (2/5)(1/3) = 13/15."""
    subset = masi_distance(frozenset({1, 2}), frozenset({1, 2, 3, 4}))
    overlap = masi_distance(frozenset({1, 2, 3, 4}), frozenset({3, 4, 5}))
    assert subset == pytest.approx(2 / 3)
    assert overlap == pytest.approx(13 / 15)
    assert subset == pytest.approx(0.665, abs=0.005)
    assert overlap == pytest.approx(0.868, abs=0.005)


def test_masi_monotonicity_steps_from_passonneau_2006():
    """Passonneau (2006), section on MASI: M = 1 for identical sets, 2/3 for subsumption, 1/3 for
    overlap without subsumption, 0 for disjoint sets. {a,b} vs {a}: J = 1/2, so 1 - 1/3;
    {a,b} vs {a,c}: J = 1/3, so 1 - 1/9."""
    a, b, c = "a", "b", "c"
    assert masi_distance(frozenset({a, b}), frozenset({a, b})) == 0
    assert masi_distance(frozenset({a, b}), frozenset({a})) == pytest.approx(2 / 3)
    assert masi_distance(frozenset({a, b}), frozenset({a, c})) == pytest.approx(8 / 9)
    assert masi_distance(frozenset({a}), frozenset({b})) == 1
    assert masi_distance(frozenset(), frozenset()) == 0
    assert masi_distance(frozenset(), frozenset({a})) == 1


@given(st.frozensets(st.integers(0, 5)), st.frozensets(st.integers(0, 5)))
def test_masi_is_symmetric_and_between_zero_and_one(a, b):
    assert masi_distance(a, b) == masi_distance(b, a)
    assert 0 <= masi_distance(a, b) <= 1


# --- multiple choice -----------------------------------------------------------------------------

MULTI = [
    (1, "x", frozenset({"a"})),
    (1, "y", frozenset({"a"})),
    (1, "z", frozenset({"a", "b"})),
    (2, "x", frozenset()),
    (2, "y", frozenset({"b"})),
    (2, "z", frozenset({"b"})),
    (3, "x", frozenset({"a"})),
    (3, "y", frozenset()),
    (4, "x", frozenset({"a", "b"})),  # one annotator: not pairable
]


def test_per_label_alpha_by_hand():
    """Label a: items 1-3 have m = 3, 3, 2 annotators and k = 3, 0, 1 chose it; n = 8, four
    present and four absent. D = sum 2k(m-k)/(m-1) = 0 + 0 + 2 = 2; E = 64 - 16 - 16 = 32;
    alpha = 1 - 7 x 2 / 32 = 9/16. Label b: k = 1, 2, 0; D = 2 + 2 + 0 = 4; three present, five
    absent, E = 64 - 9 - 25 = 30; alpha = 1 - 7 x 4 / 30 = 1/15."""
    result = multiple_choice_alpha(MULTI, ["a", "b", "c"])
    assert result["per_label"]["a"].value == pytest.approx(9 / 16)
    assert result["per_label"]["b"].value == pytest.approx(1 / 15)
    assert result["per_label"]["a"].n == 3  # pairable items, as in alpha
    assert result["per_label"]["c"].value is None
    assert "no annotator chose 'c'" in result["per_label"]["c"].reason


def test_per_label_alpha_matches_alpha_on_present_absent_records():
    for label in ("a", "b"):
        binary = [(item, who, label in value) for item, who, value in MULTI]
        expected = alpha(binary, level="nominal").value
        assert multiple_choice_alpha(MULTI, [label])["per_label"][label].value == pytest.approx(
            expected
        )


def test_labels_outside_the_schema_are_reported_too():
    result = multiple_choice_alpha(MULTI, ["b"])
    assert list(result["per_label"]) == ["b", "a"]


def test_masi_alpha_by_hand():
    """Two annotators: {a}/{a} (distance 0), {a,b}/{a} (2/3), {b}/{c} (1); n = 6 values.
    D_o = (1/6)(2 x 0 + 2 x 2/3 + 2 x 1) = 5/9. Over all 15 pairs of the six values
    ({a} three times, {a,b}, {b}, {c}): 3 x 2/3 + 3 + 3 + 2/3 + 1 + 1 = 32/3, so
    D_e = 2 x (32/3) / 30 = 32/45 and alpha = 1 - (5/9)(45/32) = 7/32."""
    records = [
        (1, "x", frozenset("a")),
        (1, "y", frozenset("a")),
        (2, "x", frozenset("ab")),
        (2, "y", frozenset("a")),
        (3, "x", frozenset("b")),
        (3, "y", frozenset("c")),
    ]
    assert multiple_choice_alpha(records, ["a", "b", "c"])["masi"].value == pytest.approx(7 / 32)


# --- span F1 -------------------------------------------------------------------------------------

SPANS = [
    (1, "x", frozenset({(0, 5, "ORG"), (10, 15, "PER")})),
    (1, "y", frozenset({(0, 5, "ORG"), (10, 14, "PER")})),
    (1, "z", frozenset({(0, 5, "ORG")})),
    (2, "x", frozenset({(3, 8, "LOC")})),
    (2, "y", frozenset()),
]


def test_exact_span_f1_by_hand():
    """x-y over items 1 and 2: one exact match, x has 3 spans and y 2: F1 = 2/5. x-z and y-z on
    item 1: one match, 2 + 1 spans: F1 = 2/3. Mean over the three pairs: (2/5 + 4/3) / 3."""
    stat = span_f1(SPANS)
    assert stat.value == pytest.approx((2 / 5 + 4 / 3) / 3)
    assert stat.n == 3
    first = stat.detail["pairs"][0]
    assert first == {"a": "x", "b": "y", "shared": 2, "matched": 1, "a_spans": 3, "b_spans": 2,
                     "f1": pytest.approx(2 / 5)}  # fmt: skip


def test_overlap_span_f1_by_hand():
    """PER (10, 15) and (10, 14) overlap, so x-y match twice: F1 = 4/5; x-z and y-z stay 2/3."""
    stat = span_f1(SPANS, match="overlap")
    assert stat.value == pytest.approx((4 / 5 + 4 / 3) / 3)


def test_span_f1_is_the_limit_of_kappa_hripcsak_rothschild_2005():
    """Hripcsak & Rothschild (2005), "Agreement, the F-measure, and reliability in information
    retrieval", JAMIA 12(3): with a = both, b and c = one only, d = neither, F = 2a /
    (2a + b + c) and Cohen's kappa tends to F as d grows. For x-y: a = 1, b = 2, c = 1."""
    a, b, c, d = 1, 2, 1, 10**9
    kappa = 2 * (a * d - b * c) / ((a + b) * (b + d) + (a + c) * (c + d))
    f1 = span_f1(SPANS[:2] + SPANS[3:]).value
    assert f1 == pytest.approx(2 * a / (2 * a + b + c))
    assert kappa == pytest.approx(f1, abs=1e-6)


def test_overlap_matches_each_span_once_and_finds_the_best_pairing():
    """x's long span (0, 10) overlaps both of y's; it may match only one. And x (0, 10), (2, 3)
    against y (2, 3), (5, 6): pairing in input order gives 1 match, the best pairing 2."""
    once = [(1, "x", frozenset({(0, 10, "A")})), (1, "y", frozenset({(0, 3, "A"), (5, 8, "A")}))]
    assert span_f1(once, match="overlap").detail["pairs"][0]["matched"] == 1
    best = [
        (1, "x", frozenset({(0, 10, "A"), (2, 3, "A")})),
        (1, "y", frozenset({(2, 3, "A"), (5, 6, "A")})),
    ]
    assert span_f1(best, match="overlap").value == 1


def maximum_matching(a: list, b: list) -> int:
    """Augmenting paths (Kuhn's algorithm), for checking the greedy matching."""
    partner: dict[int, int] = {}

    def augment(i, seen):
        for j, other in enumerate(b):
            overlaps = a[i][2] == other[2] and a[i][0] < other[1] and other[0] < a[i][1]
            if overlaps and j not in seen:
                seen.add(j)
                if j not in partner or augment(partner[j], seen):
                    partner[j] = i
                    return True
        return False

    return sum(augment(i, set()) for i in range(len(a)))


span_sets = st.frozensets(
    st.tuples(st.integers(0, 12), st.integers(1, 6), st.sampled_from("AB")).map(
        lambda t: (t[0], t[0] + t[1], t[2])
    ),
    max_size=6,
)


@given(span_sets, span_sets)
def test_overlap_matching_is_maximum(a, b):
    records = [(1, "x", a), (1, "y", b)]
    pair = span_f1(records, match="overlap").detail["pairs"][0]
    assert pair["matched"] == maximum_matching(sorted(a), sorted(b))


def test_span_f1_is_undefined_without_spans():
    empty = [(1, "x", frozenset()), (1, "y", frozenset()), (2, "x", frozenset())]
    stat = span_f1(empty)
    assert stat.value is None
    assert stat.detail["pairs"][0]["f1"] is None
    assert span_f1(empty[2:]).reason == NO_PAIRS


def test_span_f1_rejects_an_unknown_match():
    with pytest.raises(ValueError):
        span_f1(SPANS, match="fuzzy")


# --- span token alpha ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "   ", "Acme hired Jo", "  two\tspaced \n words ", "a\u3000b\xa0c\x1cd", "🙂 ok 🙂🙂"],
)
def test_whitespace_tokens_are_what_split_gives(text):
    starts, ends = whitespace_tokens(text)
    assert [text[s:e] for s, e in zip(starts, ends, strict=True)] == text.split()


@given(st.text())
def test_whitespace_tokens_are_what_split_gives_for_any_text(text):
    starts, ends = whitespace_tokens(text)
    assert [text[s:e] for s, e in zip(starts, ends, strict=True)] == text.split()


def test_whitespace_table_is_str_isspace():
    assert list(WHITESPACE) == [c for c in range(0x110000) if chr(c).isspace()]


TEXT = "Acme hired Jo Smith today"  # tokens: Acme 0-4, hired 5-10, Jo 11-13, Smith 14-19, today


def test_token_alpha_by_hand():
    """x: ORG O PER PER O; y: ORG O O PER O. Five units of two values, n = 10; only "Jo"
    disagrees, adding (4 - 2)/1 = 2 to D. Totals: ORG 2, PER 3, O 5, so E = 100 - 4 - 9 - 25
    = 62 and alpha = 1 - 9 x 2 / 62 = 22/31."""
    records = [
        (1, "x", frozenset({(0, 4, "ORG"), (11, 19, "PER")})),
        (1, "y", frozenset({(0, 4, "ORG"), (14, 19, "PER")})),
    ]
    stat = span_token_alpha(records, {1: TEXT}, ["ORG", "PER"])
    assert stat.value == pytest.approx(22 / 31)
    assert stat.n == 5
    assert stat.detail["counts"] == [5, 2, 3]


def test_token_alpha_matches_alpha_on_token_records():
    records = [
        (1, "x", frozenset({(0, 4, "ORG"), (11, 19, "PER")})),
        (1, "y", frozenset({(0, 4, "ORG"), (14, 19, "PER")})),
        (1, "z", frozenset({(5, 10, "ORG")})),
        (2, "x", frozenset({(0, 2, "PER")})),
        (2, "y", frozenset()),
        (3, "x", frozenset()),  # one annotator
        (4, "x", frozenset()),  # no text
        (4, "y", frozenset()),
    ]
    texts = {1: TEXT, 2: "Jo said hi", 3: "alone here"}
    token_labels = {
        (1, "x"): "ORG O PER PER O",
        (1, "y"): "ORG O O PER O",
        (1, "z"): "O ORG O O O",
        (2, "x"): "PER O O",
        (2, "y"): "O O O",
    }
    expanded = [
        ((item, i), who, label)
        for (item, who), labels in token_labels.items()
        for i, label in enumerate(labels.split())
    ]
    stat = span_token_alpha(records, texts, ["ORG", "PER"])
    assert stat.value == pytest.approx(alpha(expanded, level="nominal").value)
    assert (stat.detail["items"], stat.detail["skipped_items"]) == (2, 2)


def test_a_span_covers_every_token_it_touches_and_the_first_span_wins():
    """x marks only "cm" inside "Acme", which labels the whole token; y's overlapping spans
    (0, 10, ORG) and (5, 19, PER) give "hired" to ORG, the span starting first."""
    records = [
        (1, "x", frozenset({(1, 3, "ORG"), (5, 10, "ORG")})),
        (1, "y", frozenset({(0, 10, "ORG"), (5, 19, "PER")})),
    ]
    stat = span_token_alpha(records, {1: TEXT}, ["ORG", "PER"])
    # x: ORG ORG O O O; y: ORG ORG PER PER O
    assert stat.detail["counts"] == [4, 4, 2]


def test_spans_past_the_text_or_between_tokens_cover_what_they_touch():
    """(20, 99) runs past the end and covers "today"; (4, 5) is only the space before "hired"."""
    records = [
        (1, "x", frozenset({(20, 99, "ORG"), (4, 5, "PER")})),
        (1, "y", frozenset({(19, 21, "ORG")})),
    ]
    stat = span_token_alpha(records, {1: TEXT}, ["ORG", "PER"])
    assert stat.detail["counts"] == [8, 2, 0]
    assert stat.value == pytest.approx(1.0)


def reference_token_labels(text: str, spans: frozenset, labels: list) -> list[str]:
    """Token labels one character and one span at a time, the slow way."""
    tokens, start = [], None
    for i, char in enumerate(text + " "):
        if not char.isspace() and start is None:
            start = i
        elif char.isspace() and start is not None:
            tokens.append((start, i))
            start = None
    out = []
    for first, last in tokens:
        covering = [s for s in spans if max(s[0], 0) < last and first < min(s[1], len(text))]
        best = min(covering, default=None,
                   key=lambda s: (s[0], -min(s[1], len(text)), labels.index(s[2])))  # fmt: skip
        out.append(best[2] if best else "O")
    return out


token_items = st.dictionaries(
    st.integers(1, 4),
    st.tuples(
        st.text(alphabet="ab \n", max_size=14),
        st.lists(
            st.frozensets(
                st.tuples(st.integers(0, 15), st.integers(1, 5), st.sampled_from("AB")).map(
                    lambda t: (t[0], t[0] + t[1], t[2])
                ),
                max_size=3,
            ),
            min_size=1,
            max_size=3,
        ),
    ),
    max_size=4,
)


@given(token_items)
def test_token_alpha_matches_alpha_on_slowly_built_token_records(items):
    """Chunks of about 6 code points, so items fall into several chunks."""
    texts = {item: text for item, (text, _) in items.items()}
    records, expanded = [], []
    for item, (text, coded) in items.items():
        for who, spans in enumerate(coded):
            records.append((item, who, spans))
            for i, label in enumerate(reference_token_labels(text, spans, ["A", "B"])):
                expanded.append(((item, i), who, label))
    with mock.patch.object(agreement_kinds, "CHUNK_POINTS", 6):
        stat = span_token_alpha(records, texts, ["A", "B"])
    expected = alpha(expanded, level="nominal")
    assert stat.defined == expected.defined
    if expected.defined:
        assert stat.value == pytest.approx(expected.value)
        assert stat.n == expected.n


def test_token_alpha_is_undefined_when_everyone_says_outside():
    records = [(1, "x", frozenset()), (1, "y", frozenset())]
    stat = span_token_alpha(records, {1: TEXT}, ["ORG"])
    assert stat.value is None
    assert stat.reason == ONE_CATEGORY


# --- preference ----------------------------------------------------------------------------------


def test_preference_agreement_by_hand():
    """Item 1: A A A; item 2: A B tie; item 3: B B; item 4: tie tie. n = 10 values.
    Alpha: only item 2 disagrees, D = (9 - 3)/2 = 3; totals A 4, B 3, tie 3, E = 100 - 16 - 9
    - 9 = 66; alpha = 1 - 9 x 3 / 66 = 13/22. Without ties, the share of agreeing pairs is 3/3 on
    item 1, 0/1 on item 2 and 1/1 on item 3: mean 2/3. Ties: 3 of 10 values."""
    choices = {1: "AAA", 2: ["A", "B", "tie"], 3: "BB", 4: ["tie", "tie"]}
    records = [
        (item, who, c) for item, cs in choices.items() for who, c in zip("xyz", cs, strict=False)
    ]
    result = preference_agreement(records)
    assert result["alpha"].value == pytest.approx(13 / 22)
    assert result["ab_agreement"].value == pytest.approx(2 / 3)
    assert result["ties"] == pytest.approx(0.3)


def test_preference_agreement_without_records_is_undefined():
    result = preference_agreement([])
    assert result["alpha"].value is None
    assert result["ab_agreement"].value is None
    assert result["ties"] is None


# --- rating --------------------------------------------------------------------------------------


def test_rating_alpha_matches_krippendorff_2011():
    """Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", sections D and E: the
    four-observer data give ordinal alpha 0.815 and interval alpha 0.849. A point off the scale
    is dropped and counted."""
    records = [*matrix_records(KRIPPENDORFF_2011), (12, "D", 9)]
    ordinal = rating_agreement(records, [1, 2, 3, 4, 5])
    interval = rating_agreement(records, [1, 2, 3, 4, 5], level="interval")
    assert ordinal["alpha"].value == pytest.approx(0.815, abs=5e-4)
    assert interval["alpha"].value == pytest.approx(0.849, abs=5e-4)
    assert ordinal["off_scale"] == 1
    data = [[np.nan if v is None else v for v in row] for row in KRIPPENDORFF_2011.values()]
    reference = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    assert ordinal["alpha"].value == pytest.approx(reference)


def test_rating_kappas_by_hand():
    """Two annotators on a 1-3 scale rate (1,1) (2,2) (3,3) (1,2) (2,3). Marginals: x .4 .4 .2,
    y .2 .4 .4. Linear weights |i-j|/2: observed 1/5, expected .24 + .12 + .08 = .44, kappa
    1 - .2/.44 = 6/11. Quadratic ((i-j)/2)^2: observed .1, expected .2 + .06 + .06 = .32,
    kappa 1 - .1/.32 = 11/16."""
    pairs = [(1, 1), (2, 2), (3, 3), (1, 2), (2, 3)]
    records = [
        (i, who, r) for i, pair in enumerate(pairs) for who, r in zip("xy", pair, strict=True)
    ]
    result = rating_agreement(records, [1, 2, 3])
    assert result["kappa_linear"] == pairwise_kappa(records, weights="linear", order=[1, 2, 3])
    assert result["kappa_linear"][0]["kappa"].value == pytest.approx(6 / 11)
    assert result["kappa_quadratic"][0]["kappa"].value == pytest.approx(11 / 16)


def test_rating_agreement_rejects_a_nominal_level():
    with pytest.raises(ValueError):
        rating_agreement([], [1, 2, 3], level="nominal")


def test_per_label_alpha_agrees_with_the_krippendorff_package():
    """The binary matrix of label a in MULTI (item 4 has a single value and drops out)."""
    data = [[1, 0, 1, 1], [1, 0, 0, np.nan], [1, 0, np.nan, np.nan]]
    reference = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    value = multiple_choice_alpha(MULTI, ["a"])["per_label"]["a"].value
    assert math.isclose(value, reference)
