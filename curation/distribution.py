"""Statistics of a dataset's distribution (pure: plain data in, plain data out, no ORM).

- `chi_square_independence`: Pearson's chi-square test of independence of a contingency table
  (for example final label × language), with Cramér's V, adjusted residuals per cell and
  Cochran's rule of thumb on small expected counts. No Yates continuity correction is applied,
  even to 2×2 tables: the figures are those of `scipy.stats.chi2_contingency(correction=False)`.
- `jensen_shannon`: the Jensen–Shannon divergence of two count distributions over the union of
  their categories, in bits by default (0 for identical distributions, 1 for disjoint ones).
- `compare_distributions`: the dataset's shares against a reference sample's, category by
  category, with the categories under- or over-represented in the dataset flagged.

A figure that is undefined (an empty table, a single row or column, an empty side) is None with
a reason in words, never NaN, so that templates and JSON show it plainly.
"""

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import chi2

# Cochran (1954): the chi-square approximation is doubtful when more than 20% of the expected
# counts are below 5 (or any is below 1).
COCHRAN_MIN_EXPECTED = 5.0
COCHRAN_MAX_SHARE = 0.2
# A cell whose adjusted residual is beyond ±1.96 differs from independence at about the 5% level.
RESIDUAL_NOTABLE = 1.96
SIGNIFICANCE = 0.05
# Flag rule of `compare_distributions`: a category is over- or under-represented when its share
# differs by at least 2 percentage points AND a two-proportion z-test gives |z| >= 1.96.
FLAG_MIN_DIFFERENCE = 0.02
FLAG_MIN_Z = 1.96
OVER, UNDER = "over", "under"
OTHER = "(other)"


# --- chi-square test of independence ---------------------------------------------------------


@dataclass
class ChiSquare:
    """The test's figures. `rows`/`cols` are the indices of the input's rows and columns that
    were kept (all-zero ones are dropped first and listed in `dropped_rows`/`dropped_cols`);
    `expected` and `residuals` are over the kept rows and columns."""

    statistic: float | None
    dof: int | None
    p_value: float | None
    cramers_v: float | None
    n: int
    expected: list[list[float]] = field(default_factory=list)
    residuals: list[list[float]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    cols: list[int] = field(default_factory=list)
    dropped_rows: list[int] = field(default_factory=list)
    dropped_cols: list[int] = field(default_factory=list)
    low_expected_share: float | None = None  # share of expected counts below 5
    cochran_warning: bool = False
    reason: str = ""  # why the figures are None, when they are

    @property
    def independent(self) -> bool | None:
        """Whether independence is not rejected at the 5% level; None when undefined."""
        return None if self.p_value is None else self.p_value >= SIGNIFICANCE


def chi_square_independence(table) -> ChiSquare:
    """Pearson's chi-square test of independence on a 2-D table of counts (no Yates
    correction). Rows and columns that are all zero are dropped first; with fewer than two
    rows or columns left, or no counts, the figures are None with a reason."""
    counts = np.asarray(table, dtype=float)
    if counts.ndim != 2:
        raise ValueError("the table must be two-dimensional")
    if counts.size and (counts < 0).any():
        raise ValueError("counts cannot be negative")
    n = int(round(counts.sum())) if counts.size else 0
    row_keep = [i for i in range(counts.shape[0]) if counts[i].sum() > 0]
    col_keep = [j for j in range(counts.shape[1]) if counts[:, j].sum() > 0]
    dropped_rows = [i for i in range(counts.shape[0]) if i not in row_keep]
    dropped_cols = [j for j in range(counts.shape[1]) if j not in col_keep]
    kept = {"rows": row_keep, "cols": col_keep}
    kept |= {"dropped_rows": dropped_rows, "dropped_cols": dropped_cols}
    if n == 0:
        return ChiSquare(None, None, None, None, 0, reason="The table has no counts.", **kept)
    if len(row_keep) < 2 or len(col_keep) < 2:
        reason = (
            "Only one row has counts: there is nothing to compare."
            if len(row_keep) < 2
            else "Only one column has counts: there is nothing to compare."
        )
        return ChiSquare(None, None, None, None, n, reason=reason, **kept)
    observed = counts[np.ix_(row_keep, col_keep)]
    row_totals = observed.sum(axis=1, keepdims=True)
    col_totals = observed.sum(axis=0, keepdims=True)
    total = observed.sum()
    expected = row_totals @ col_totals / total
    statistic = float(((observed - expected) ** 2 / expected).sum())
    dof = (len(row_keep) - 1) * (len(col_keep) - 1)
    p_value = float(chi2.sf(statistic, dof))
    smaller = min(len(row_keep), len(col_keep)) - 1
    cramers_v = math.sqrt(statistic / (total * smaller))
    # Adjusted (standardised) residuals (Agresti 2007, 2.4.5): about N(0, 1) under independence.
    spread = np.sqrt(expected * (1 - row_totals / total) * (1 - col_totals / total))
    residuals = (observed - expected) / spread
    low_share = float((expected < COCHRAN_MIN_EXPECTED).mean())
    warning = low_share > COCHRAN_MAX_SHARE or bool((expected < 1).any())
    return ChiSquare(
        statistic=statistic,
        dof=dof,
        p_value=p_value,
        cramers_v=min(cramers_v, 1.0),
        n=n,
        expected=expected.tolist(),
        residuals=residuals.tolist(),
        low_expected_share=low_share,
        cochran_warning=warning,
        **kept,
    )


# --- Jensen-Shannon divergence ---------------------------------------------------------------


@dataclass
class Divergence:
    value: float | None
    reason: str = ""


def jensen_shannon(
    p_counts: Mapping[str, float], q_counts: Mapping[str, float], base: float = 2
) -> Divergence:
    """The Jensen–Shannon divergence of two count distributions over the union of their
    categories (a category missing on one side counts 0 there): in bits with base 2, so from 0
    (identical shares) to 1 (no category in common). None when a side has no counts."""
    if base <= 1:
        raise ValueError("the logarithm's base must be greater than 1")
    categories = sorted(set(p_counts) | set(q_counts))
    p = np.array([float(p_counts.get(c, 0)) for c in categories])
    q = np.array([float(q_counts.get(c, 0)) for c in categories])
    if (p < 0).any() or (q < 0).any():
        raise ValueError("counts cannot be negative")
    if p.sum() <= 0 or q.sum() <= 0:
        side = "dataset" if p.sum() <= 0 else "reference"
        return Divergence(None, f"The {side} side has no counts.")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    value = (_kl(p, m) + _kl(q, m)) / 2 / math.log(base)
    return Divergence(min(max(value, 0.0), math.log(2) / math.log(base)))


def _kl(p: np.ndarray, m: np.ndarray) -> float:
    """Kullback–Leibler divergence in nats, with 0·log 0 = 0 (m > 0 wherever p > 0)."""
    mask = p > 0
    return float((p[mask] * np.log(p[mask] / m[mask])).sum())


# --- dataset against reference ---------------------------------------------------------------


@dataclass
class CategoryRow:
    category: str
    dataset_count: int
    reference_count: int
    dataset_share: float
    reference_share: float
    difference: float  # dataset share - reference share
    ratio: float | None  # dataset share / reference share; None when the reference has none
    z: float | None  # two-proportion z statistic; None when it is undefined
    flag: str  # "over", "under" or ""


@dataclass
class Comparison:
    rows: list[CategoryRow]
    divergence: Divergence
    dataset_total: int
    reference_total: int
    reason: str = ""

    @property
    def over(self) -> list[CategoryRow]:
        return [row for row in self.rows if row.flag == OVER]

    @property
    def under(self) -> list[CategoryRow]:
        return [row for row in self.rows if row.flag == UNDER]


def compare_distributions(
    dataset_counts: Mapping[str, int], reference_counts: Mapping[str, int]
) -> Comparison:
    """Per category (the union of both sides): counts, shares, the share difference, the ratio
    and a flag, sorted by the size of the difference (largest first, then by name).

    The flag rule: "over" (or "under") when the dataset's share is at least 2 percentage points
    above (below) the reference's AND a two-proportion z-test with the pooled proportion gives
    |z| >= 1.96 (about the 5% level), so that neither a tiny gap on a huge sample nor a large
    gap on a handful of items is flagged alone."""
    n1, n2 = int(sum(dataset_counts.values())), int(sum(reference_counts.values()))
    divergence = jensen_shannon(dataset_counts, reference_counts)
    if n1 == 0 or n2 == 0:
        reason = "The dataset has no items here." if n1 == 0 else "The reference has no counts."
        return Comparison([], divergence, n1, n2, reason=reason)
    rows = []
    for category in set(dataset_counts) | set(reference_counts):
        x1, x2 = int(dataset_counts.get(category, 0)), int(reference_counts.get(category, 0))
        share1, share2 = x1 / n1, x2 / n2
        z = _two_proportion_z(x1, n1, x2, n2)
        difference = share1 - share2
        flag = ""
        if (
            abs(difference) >= FLAG_MIN_DIFFERENCE - 1e-12
            and z is not None
            and abs(z) >= FLAG_MIN_Z
        ):
            flag = OVER if difference > 0 else UNDER
        ratio = share1 / share2 if x2 else None
        rows.append(CategoryRow(category, x1, x2, share1, share2, difference, ratio, z, flag))
    rows.sort(key=lambda row: (-abs(row.difference), row.category))
    return Comparison(rows, divergence, n1, n2)


def _two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> float | None:
    pooled = (x1 + x2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return None
    return (x1 / n1 - x2 / n2) / spread


# --- counting --------------------------------------------------------------------------------


def top_categories(counts: Mapping[str, int], limit: int) -> list[str]:
    """The `limit` most frequent categories (ties by name); the rest would go to "(other)"."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [category for category, _ in ranked[:limit]]


def capped_counts(counts: Mapping[str, int], limit: int) -> dict[str, int]:
    """`counts` with all but the `limit` most frequent categories summed under "(other)"."""
    keep = set(top_categories(counts, limit))
    capped: dict[str, int] = {}
    for category, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        key = category if category in keep else OTHER
        capped[key] = capped.get(key, 0) + count
    return capped


@dataclass
class Crosstab:
    """Counts of (row category, column category) pairs, each axis capped to its most frequent
    categories with the rest as "(other)"; `capped_rows`/`capped_cols` say how many distinct
    categories went into "(other)"."""

    rows: list[str]
    cols: list[str]
    table: list[list[int]]
    capped_rows: int = 0
    capped_cols: int = 0

    @property
    def row_totals(self) -> list[int]:
        return [sum(row) for row in self.table]

    @property
    def col_totals(self) -> list[int]:
        return [sum(col) for col in zip(*self.table, strict=True)] if self.table else []


def crosstab(pairs: Iterable[tuple[str, str]], limit: int = 50) -> Crosstab:
    """The contingency table of (row, column) pairs, most frequent categories first."""
    counts = Counter(pairs)
    row_counts: Counter = Counter()
    col_counts: Counter = Counter()
    for (row, col), n in counts.items():
        row_counts[row] += n
        col_counts[col] += n
    rows, cols = top_categories(row_counts, limit), top_categories(col_counts, limit)
    capped_rows, capped_cols = len(row_counts) - len(rows), len(col_counts) - len(cols)
    if capped_rows:
        rows.append(OTHER)
    if capped_cols:
        cols.append(OTHER)
    row_index = {r: i for i, r in enumerate(rows)}
    col_index = {c: j for j, c in enumerate(cols)}
    table = [[0] * len(cols) for _ in rows]
    for (row, col), n in counts.items():
        i = row_index.get(row, row_index.get(OTHER))
        j = col_index.get(col, col_index.get(OTHER))
        table[i][j] += n
    return Crosstab(rows, cols, table, capped_rows, capped_cols)
