"""Agreement statistics over annotation records.

Records are ``(item, annotator, value)`` tuples. Items and annotators are any hashables; a missing
rating is simply absent; when the same (item, annotator) pair appears twice, the later record
wins. A value is a hashable category (str, int, tuple, frozenset, ...) or, for interval and ratio
alpha, a number.

Every statistic returns a :class:`Stat`. One that is undefined for the data (a single category,
no item with two annotations, no shared items, no expected disagreement) has ``value=None`` and a
plain-English ``reason``: undefined is not zero. Nothing here returns NaN or infinity, and nothing
raises on valid records; invalid arguments (an unknown level, a category missing from ``order``,
text where numbers are needed) raise ValueError.

The module is pure Python and numpy, with no Django import, so tasks, views and commands can all
use it. The formulas and their sources are given beside each function.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from numbers import Real

import numpy as np

LEVELS = ("nominal", "ordinal", "interval", "ratio")
NO_PAIRS = "no item has two or more annotations"
ONE_CATEGORY = "only one category was used"
ONE_VALUE = "only one value was used"
NO_SHARED = "the two annotators share no item"
NO_EXPECTED = "expected disagreement is zero"
_CELLS = 1_000_000  # numbers in one bootstrap chunk: 8 MB of float64, small enough for cache


@dataclass(frozen=True)
class Stat:
    """One statistic: its value (None when undefined, with the reason) and the units it used."""

    value: float | None
    n: int
    reason: str = ""
    ci: tuple[float, float] | None = None
    detail: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.value is not None and not np.isfinite(self.value):
            raise ValueError("a statistic is a finite number or None")

    @property
    def defined(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict:
        """A JSON-safe dict: value, n, reason, ci (a list or None) and the detail's keys."""
        ci = [self.ci[0], self.ci[1]] if self.ci else None
        return {"value": self.value, "n": self.n, "reason": self.reason, "ci": ci, **self.detail}


def _stat(value, n, **detail) -> Stat:
    return Stat(value=float(value), n=int(n), detail=detail)


def _undefined(reason: str, n=0, **detail) -> Stat:
    return Stat(value=None, n=int(n), reason=reason, detail=detail)


def category_key(value) -> tuple:
    """Sort key for any mix of categories that never raises: numbers by value, then the rest by
    type name and text."""
    if isinstance(value, Real):
        return (0, "", value)
    return (1, type(value).__name__, str(value))


# Encoding records as integer arrays -------------------------------------------------------------


def _codes(column: list) -> tuple[np.ndarray, list]:
    """Dense integer codes for a column of hashables, numbered in order of first appearance."""
    distinct = list(dict.fromkeys(column))
    index = {value: code for code, value in enumerate(distinct)}
    return np.fromiter(map(index.__getitem__, column), np.int64, len(column)), distinct


def _columns(records: Iterable) -> tuple[np.ndarray, np.ndarray, np.ndarray, list, list, list]:
    """Item, annotator and value codes of every record, and the items, annotators and values."""
    rows = records if isinstance(records, list | tuple) else list(records)
    items, item_list = _codes([row[0] for row in rows])
    annotators, annotator_list = _codes([row[1] for row in rows])
    values, categories = _codes([row[2] for row in rows])
    return items, annotators, values, item_list, annotator_list, categories


def _last_rows(items: np.ndarray, annotators: np.ndarray) -> np.ndarray:
    """Indices of the last record of each (item, annotator) pair, sorted by item then annotator."""
    if not len(items):
        return np.zeros(0, np.int64)
    key = items * (int(annotators.max()) + 1) + annotators
    _, first_from_end = np.unique(key[::-1], return_index=True)
    return len(key) - 1 - first_from_end


@dataclass(frozen=True)
class _Table:
    """Records as one row per (item, annotator), sorted by item then annotator."""

    item: np.ndarray
    annotator: np.ndarray
    value: np.ndarray
    items: list
    annotators: list
    categories: list  # only the values that survived "last one wins"


def _table(records: Iterable) -> _Table:
    items, annotators, values, item_list, annotator_list, categories = _columns(records)
    rows = _last_rows(items, annotators)
    used, value = np.unique(values[rows], return_inverse=True)
    return _Table(
        item=items[rows],
        annotator=annotators[rows],
        value=value.reshape(-1),
        items=item_list,
        annotators=annotator_list,
        categories=[categories[code] for code in used],
    )


def _expand(groups: np.ndarray, starts: np.ndarray, sizes: np.ndarray):
    """Pairs each element i with every index of its group's run, starts[g] to starts[g] + sizes[g]
    where g = groups[i]. Returns the (left, right) index arrays."""
    counts = sizes[groups]
    left = np.repeat(np.arange(len(groups)), counts)
    offsets = np.arange(len(left)) - np.repeat(np.cumsum(counts) - counts, counts)
    return left, np.repeat(starts[groups], counts) + offsets


def _positions(categories: list, order, purpose: str) -> np.ndarray:
    """Each category's position: its index in ``order``, or its rank among the categories when
    they are all numbers and no order is given."""
    if order is None:
        if not all(isinstance(c, Real) for c in categories):
            raise ValueError(f"{purpose} needs order= when the categories are not numbers")
        ranks = {c: rank for rank, c in enumerate(sorted(set(categories)))}
        return np.array([ranks[c] for c in categories], float)
    index = {c: position for position, c in enumerate(order)}
    missing = [c for c in categories if c not in index]
    if missing:
        raise ValueError(f"categories missing from order: {sorted(missing, key=category_key)!r}")
    return np.array([index[c] for c in categories], float)


# Krippendorff's alpha ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Units:
    """The pairable units of one alpha, reduced to what alpha and its bootstrap need.

    Entries are the distinct (unit, value) pairs with how many of the unit's values they hold.
    ``observed`` is each unit's share of sum_c sum_k o_ck delta_ck, where o is the coincidence
    matrix: the unit's pairs of values, each weighted 1 / (m_u - 1).
    """

    unit: np.ndarray
    code: np.ndarray
    count: np.ndarray
    size: np.ndarray
    observed: np.ndarray
    metric: tuple


def _delta(metric: tuple, i: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The difference function delta^2 between value codes i and k (Krippendorff 2011)."""
    kind, x = metric
    if kind == "nominal":
        return (i != k).astype(float)
    if kind == "squared":  # interval on the values, or ordinal on their mid-ranks
        return (x[i] - x[k]) ** 2
    if kind == "ratio":
        total = x[i] + x[k]
        out = np.zeros(np.broadcast(i, k).shape)
        return np.divide((x[i] - x[k]) ** 2, total * total, out=out, where=total > 0)
    return x[i, k]  # a table of a caller's distances


def _expected(metric: tuple, nc: np.ndarray) -> np.ndarray:
    """sum_c sum_k n_c n_k delta_ck for each row of value counts ``nc`` (draws x values)."""
    kind, x = metric
    n = nc.sum(axis=1)
    if kind == "nominal":
        return n * n - (nc * nc).sum(axis=1)
    if kind == "squared":
        s1, s2 = nc @ x, nc @ (x * x)
        return 2 * (n * s2 - s1 * s1)
    # Other metrics have no short form: sum the delta table a block of columns at a time.
    codes = np.arange(nc.shape[1])
    step = max(1, 2**20 // len(codes))
    total = np.zeros(len(nc))
    for lo in range(0, len(codes), step):
        block = codes[lo : lo + step]
        total += ((nc @ _delta(metric, codes[:, None], block[None, :])) * nc[:, block]).sum(axis=1)
    return total


def _metric(level: str, numbers: np.ndarray, counts: np.ndarray, distance) -> tuple:
    """How to compare the distinct values ``numbers`` (sorted), found ``counts`` times."""
    if distance is not None:
        table = np.zeros((len(numbers), len(numbers)))
        for i in range(len(numbers)):
            for k in range(i + 1, len(numbers)):
                table[i, k] = table[k, i] = float(distance(numbers[i], numbers[k]))
        if not (np.isfinite(table).all() and (table >= 0).all()):
            raise ValueError("distance must return finite numbers of at least zero")
        return ("table", table)
    if level == "nominal":
        return ("nominal", None)
    if level == "ratio":
        if numbers[0] < 0:
            raise ValueError("ratio values must not be negative")
        return ("ratio", numbers)
    # Krippendorff's ordinal delta_ck = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2 is the squared
    # difference of mid-ranks r_c = n_1 + ... + n_{c-1} + n_c / 2, so it shares interval's form.
    x = numbers if level == "interval" else np.cumsum(counts) - counts / 2
    return ("squared", x - (x @ counts) / counts.sum())  # centred for numerical stability


def _prepare(units: np.ndarray, values: np.ndarray, level: str, distance) -> "_Units | Stat":
    """Reduces rows (grouped by unit) to their pairable units, or says why alpha is undefined."""
    starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1]]) if len(units) else units
    sizes = np.diff(np.r_[starts, len(units)])
    pairable = sizes >= 2
    if not pairable.any():
        return _undefined(NO_PAIRS)
    numbers, code = np.unique(values[np.repeat(pairable, sizes)], return_inverse=True)
    sizes = sizes[pairable]
    if len(numbers) == 1:
        numeric = level in ("interval", "ratio") and distance is None
        reason = ONE_VALUE if numeric else ONE_CATEGORY
        return _undefined(reason, len(sizes))
    unit = np.repeat(np.arange(len(sizes)), sizes)
    key, count = np.unique(unit * len(numbers) + code.reshape(-1), return_counts=True)
    entry_unit, entry_code = key // len(numbers), key % len(numbers)
    metric = _metric(level, numbers, np.bincount(entry_code, count), distance)
    # Each unit's off-diagonal coincidences: its pairs of distinct values, counted in both orders.
    per_unit = np.bincount(entry_unit, minlength=len(sizes))
    left, right = _expand(entry_unit, np.cumsum(per_unit) - per_unit, per_unit)
    left, right = left[right > left], right[right > left]
    weight = 2.0 * count[left] * count[right] / (sizes[entry_unit[left]] - 1)
    pair_delta = _delta(metric, entry_code[left], entry_code[right])
    observed = np.bincount(entry_unit[left], weight * pair_delta, minlength=len(sizes))
    return _Units(entry_unit, entry_code, count, sizes, observed, metric)


def _alpha_of(units: _Units) -> Stat:
    """alpha = 1 - (n - 1) * sum o_ck delta_ck / sum n_c n_k delta_ck (Krippendorff 2011)."""
    expected = _expected(units.metric, np.bincount(units.code, units.count)[None, :])[0]
    if not expected > 0:
        return _undefined(NO_EXPECTED, len(units.size))
    n = units.size.sum()
    return _stat(1 - (n - 1) * units.observed.sum() / expected, len(units.size))


def _prepare_arrays(items, annotators, values, level: str, distance) -> "_Units | Stat":
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    items, annotators = np.asarray(items), np.asarray(annotators)
    values = np.asarray(values, float)
    if not (items.ndim == annotators.ndim == values.ndim == 1):
        raise ValueError("items, annotators and values must be one-dimensional")
    if not (len(items) == len(annotators) == len(values)):
        raise ValueError("items, annotators and values must have the same length")
    if len(items) and not (
        np.issubdtype(items.dtype, np.integer) and np.issubdtype(annotators.dtype, np.integer)
    ):
        raise ValueError("items and annotators must be integer codes")
    if len(items) and (items.min() < 0 or annotators.min() < 0):
        raise ValueError("item and annotator codes must not be negative")
    if not np.isfinite(values).all():
        raise ValueError("values must be finite numbers")
    items, annotators = items.astype(np.int64), annotators.astype(np.int64)
    if len(items) and (int(items.max()) + 1) * (int(annotators.max()) + 1) >= 2**62:
        items = np.unique(items, return_inverse=True)[1].reshape(-1)
        annotators = np.unique(annotators, return_inverse=True)[1].reshape(-1)
    rows = _last_rows(items, annotators)
    return _prepare(items[rows], values[rows], level, distance)


def _prepare_records(records, level: str, order, distance) -> "_Units | Stat":
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    items, annotators, values, _, _, categories = _columns(records)
    if distance is not None or level == "nominal":
        numbers = np.arange(len(categories), dtype=float)
    elif level == "ordinal":
        numbers = _positions(categories, order, "ordinal alpha")
    else:
        if not all(isinstance(c, Real) for c in categories):
            raise ValueError(f"{level} alpha needs numbers as values")
        numbers = np.array(categories, float)

    def between_categories(a: float, b: float) -> float:
        return distance(categories[int(a)], categories[int(b)])

    wrapped = between_categories if distance is not None else None
    return _prepare_arrays(items, annotators, numbers[values], level, wrapped)


def alpha(records: Iterable, *, level="nominal", order=None, distance=None) -> Stat:
    """Krippendorff's alpha over records, for any number of annotators and missing ratings.

    ``level`` is "nominal", "ordinal", "interval" or "ratio" (Krippendorff 2011, "Computing
    Krippendorff's Alpha-Reliability"). Ordinal uses each category's position: its
    index in ``order`` (the schema's order; required unless the categories are numbers) and
    Krippendorff's ordinal metric, built on the marginal frequencies of those positions.
    ``distance(a, b)``, when given, is the difference function delta^2 between two values (for
    example MASI for sets): it overrides ``level``, is called once per unordered pair of distinct
    values, and is taken to be symmetric and zero between a value and itself.

    Items with fewer than two values are not pairable and are left out; ``n`` counts the pairable
    items. Memory grows with the records, not with items x categories: the coincidence matrix is
    summed from each item's pairs of values with ``np.bincount``.
    """
    prepared = _prepare_records(records, level, order, distance)
    return prepared if isinstance(prepared, Stat) else _alpha_of(prepared)


def alpha_arrays(items, annotators, values, *, level="nominal", distance=None) -> Stat:
    """Krippendorff's alpha over columns: the entry point :func:`alpha` uses after encoding.

    ``items`` and ``annotators`` are non-negative integer codes (for example database ids), and
    ``values`` numbers: category codes for nominal, anything whose numeric order is the scale's
    order for ordinal, the measurements for interval and ratio. ``distance`` is called with two
    of these numbers. As in :func:`alpha`, the last row of an (item, annotator) pair wins.
    """
    prepared = _prepare_arrays(items, annotators, values, level, distance)
    return prepared if isinstance(prepared, Stat) else _alpha_of(prepared)


def alpha_ci(
    records: Iterable,
    *,
    level="nominal",
    order=None,
    distance=None,
    n_boot=1000,
    seed=0,
    confidence=0.95,
) -> Stat:
    """Krippendorff's alpha as :func:`alpha` computes it, with a percentile bootstrap interval.

    Each of the ``n_boot`` draws resamples the pairable items with replacement, as many as there
    are, from ``numpy.random.default_rng(seed)``, so the same data and seed give the same
    interval. A draw's alpha reuses each item's observed disagreement and value counts, weighted
    by how often the draw took the item; only the expected disagreement is recomputed, from the
    draw's value counts. The difference function stays the one of the full data (for ordinal,
    the mid-ranks of its marginal frequencies). Draws in which alpha is undefined (a single value
    drawn) are left out and counted in ``detail["undefined_draws"]``; ``ci`` is the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the others.
    """
    if int(n_boot) < 1 or not 0 < confidence < 1:
        raise ValueError("n_boot must be at least 1 and confidence between 0 and 1")
    prepared = _prepare_records(records, level, order, distance)
    if isinstance(prepared, Stat):
        return prepared
    point = _alpha_of(prepared)
    if not point.defined:
        return point
    draws = _bootstrap(prepared, int(n_boot), np.random.default_rng(seed))
    detail = {"n_boot": int(n_boot), "undefined_draws": int(n_boot) - len(draws)}
    if not len(draws):
        return Stat(point.value, point.n, detail=detail)
    low, high = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Stat(point.value, point.n, ci=(float(low), float(high)), detail=detail)


def _draw_weights(rng: np.random.Generator, draws: int, n_units: int) -> np.ndarray:
    """How many times each of ``draws`` resamples (rows) takes each unit (columns)."""
    picked = rng.integers(0, n_units, size=(draws, n_units))
    picked += n_units * np.arange(draws)[:, None]
    counts = np.bincount(picked.ravel(), minlength=draws * n_units)
    return counts.reshape(draws, n_units).astype(float)


def _bootstrap(units: _Units, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha of each bootstrap draw of units; undefined draws are left out."""
    n_units, n_codes = len(units.size), int(units.code.max()) + 1
    dense = n_codes <= 16  # a units x values matrix then stays within 16 numbers per unit
    if dense:  # one matrix product per chunk gives each draw's totals and value counts
        counts = np.zeros((n_units, n_codes))
        counts[units.unit, units.code] = units.count
        per_unit = np.column_stack([units.size, units.observed, counts])
    else:  # many values: gather each value's units instead of a units x values matrix
        per_unit = np.column_stack([units.size, units.observed])
        by_code = np.argsort(units.code, kind="stable")
        column_unit, column_count = units.unit[by_code], units.count[by_code]
        column_starts = np.flatnonzero(np.r_[True, np.diff(units.code[by_code]) != 0])
    chunk = max(1, min(n_boot, _CELLS // max(n_units, 1 if dense else len(units.unit))))
    found = []
    for done in range(0, n_boot, chunk):
        size = min(chunk, n_boot - done)
        weight = _draw_weights(rng, size, n_units)
        sums = weight @ per_unit
        if dense:
            nc = sums[:, 2:]
        else:
            gathered = np.ascontiguousarray(weight.T)[column_unit] * column_count[:, None]
            nc = np.add.reduceat(gathered, column_starts, axis=0).T
        expected = _expected(units.metric, nc)
        ok = ((nc > 0).sum(axis=1) >= 2) & (expected > 0)
        n, observed = sums[ok, 0], sums[ok, 1]
        found.append(1 - (n - 1) * observed / expected[ok])
    return np.concatenate(found)


# Two annotators ---------------------------------------------------------------------------------


def _by_annotator(table: _Table) -> dict:
    """{annotator: (item codes, value codes)}, each sorted by item."""
    order = np.argsort(table.annotator, kind="stable")
    bounds = np.searchsorted(table.annotator[order], np.arange(len(table.annotators) + 1))
    return {
        annotator: (table.item[order[lo:hi]], table.value[order[lo:hi]])
        for annotator, lo, hi in zip(table.annotators, bounds[:-1], bounds[1:], strict=True)
    }


def _shared(rows: dict, a, b) -> tuple[np.ndarray, np.ndarray]:
    """Value codes of annotators a and b on the items both labeled, aligned by item."""
    nothing = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    items_a, values_a = rows.get(a, nothing)
    items_b, values_b = rows.get(b, nothing)
    _, in_a, in_b = np.intersect1d(items_a, items_b, assume_unique=True, return_indices=True)
    return values_a[in_a], values_b[in_b]


def _kappa(x: np.ndarray, y: np.ndarray, n_categories: int, distances=None) -> Stat:
    """Cohen's kappa of aligned value codes, written as 1 - observed / expected disagreement.

    Unweighted (Cohen 1960): 1 - N * disagreements / (N^2 - sum_c a_c b_c), with a and b the two
    annotators' category counts. Weighted (Cohen 1968): the same with a disagreement weight per
    pair of categories, ``distances``; it equals the agreement-weight form with w = 1 - d / max d.
    """
    n = len(x)
    if not n:
        return _undefined(NO_SHARED)
    a = np.bincount(x, minlength=n_categories)
    b = np.bincount(y, minlength=n_categories)
    if distances is None:
        expected, observed = float(n * n - a @ b), float((x != y).sum())
    else:
        expected, observed = float(a @ distances @ b), float(distances[x, y].sum())
    if expected == 0:
        return _undefined(ONE_CATEGORY, n)
    return _stat(1 - n * observed / expected, n)


def _weights(categories: list, weights, order) -> np.ndarray | None:
    """Disagreement weights |i - j| or (i - j)^2 between category positions, or None."""
    if weights is None:
        return None
    powers = {"linear": 1, "quadratic": 2}
    if weights not in powers:
        raise ValueError('weights must be None, "linear" or "quadratic"')
    position = _positions(categories, order, "weighted kappa")
    return np.abs(position[:, None] - position[None, :]) ** powers[weights]


def cohen_kappa(records: Iterable, a, b, *, weights=None, order=None) -> Stat:
    """Cohen's kappa of annotators ``a`` and ``b`` over the items both labeled.

    ``weights`` is None (Cohen 1960), "linear" or "quadratic" (Cohen 1968). Weights come from each
    category's position in ``order`` (the schema's order), never from its numeric value, so a
    scale 1, 2, 5, 10 gives the same kappa as 1, 2, 3, 4; categories absent from ``order`` raise
    ValueError. Without ``order``, numeric categories found in the records are ranked.
    """
    table = _table(records)
    distances = _weights(table.categories, weights, order)
    x, y = _shared(_by_annotator(table), a, b)
    return _kappa(x, y, len(table.categories), distances)


def pairwise_kappa(records: Iterable, *, weights=None, order=None) -> list[dict]:
    """Cohen's kappa for every pair of annotators sharing at least one item.

    Returns ``{"a", "b", "shared", "kappa", "scott_pi"}`` dicts sorted by (str(a), str(b)), with
    a before b; Scott's pi (unweighted) comes from the same shared items.
    """
    table = _table(records)
    distances = _weights(table.categories, weights, order)
    rows = _by_annotator(table)
    annotators = sorted(table.annotators, key=lambda x: (str(x), type(x).__name__))
    pairs = []
    for i, a in enumerate(annotators):
        for b in annotators[i + 1 :]:
            x, y = _shared(rows, a, b)
            if len(x):
                kappa = _kappa(x, y, len(table.categories), distances)
                pi = _scott(x, y, len(table.categories))
                pairs.append({"a": a, "b": b, "shared": len(x), "kappa": kappa, "scott_pi": pi})
    return pairs


def scott_pi(records: Iterable, a, b) -> Stat:
    """Scott's (1955) pi of annotators ``a`` and ``b``: kappa with chance agreement from the two
    annotators' pooled category proportions, 1 - 4N * disagreements / (4N^2 - sum_c (a_c + b_c)^2).
    """
    table = _table(records)
    x, y = _shared(_by_annotator(table), a, b)
    return _scott(x, y, len(table.categories))


def _scott(x: np.ndarray, y: np.ndarray, n_categories: int) -> Stat:
    n = len(x)
    if not n:
        return _undefined(NO_SHARED)
    pooled = np.bincount(x, minlength=n_categories) + np.bincount(y, minlength=n_categories)
    expected = float(4 * n * n - pooled @ pooled)
    if expected == 0:
        return _undefined(ONE_CATEGORY, n)
    return _stat(1 - 4 * n * float((x != y).sum()) / expected, n)


def confusion_matrix(records: Iterable, a, b) -> dict:
    """Counts of (a's value, b's value) over the items both labeled: rows are a, columns b.

    ``labels`` are the values either used on those items, sorted by :func:`category_key`.
    """
    table = _table(records)
    x, y = _shared(_by_annotator(table), a, b)
    used = sorted(
        set(x.tolist()) | set(y.tolist()), key=lambda c: category_key(table.categories[c])
    )
    index = np.zeros(len(table.categories), np.int64)
    index[used] = np.arange(len(used))
    cells = np.bincount(index[x] * len(used) + index[y], minlength=len(used) ** 2)
    return {
        "labels": [table.categories[c] for c in used],
        "matrix": cells.reshape(len(used), len(used)).tolist(),
        "n": len(x),
    }


# Many annotators --------------------------------------------------------------------------------


def _item_counts(table: _Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per (item, category) entry its item, category and count; and each item's number of values."""
    n_categories = max(len(table.categories), 1)
    key, count = np.unique(table.item * n_categories + table.value, return_counts=True)
    return key // n_categories, key % n_categories, count, np.bincount(table.item)


def percent_agreement(records: Iterable) -> Stat:
    """Mean over items with two or more values of the share of agreeing annotator pairs,
    sum_c n_ic (n_ic - 1) / (m_i (m_i - 1)) (Fleiss 1971's P-bar; Gwet 2014's p_a)."""
    entry_item, _, count, size = _item_counts(_table(records))
    paired = size >= 2
    if not paired.any():
        return _undefined(NO_PAIRS)
    agreeing = np.bincount(entry_item, count * (count - 1), minlength=len(size))
    shares = agreeing[paired] / (size[paired] * (size[paired] - 1))
    return _stat(shares.mean(), paired.sum())


def gwet_ac1(records: Iterable) -> Stat:
    """Gwet's AC1 for any number of annotators, with missing ratings (Gwet 2008; Gwet 2014,
    Handbook of Inter-Rater Reliability, 4th ed.; as the irrCAC package computes it).

    AC1 = (p_a - p_e) / (1 - p_e): p_a is :func:`percent_agreement`; p_e = sum_k pi_k (1 - pi_k)
    / (q - 1), where q is the number of categories used and pi_k the mean over all items (those
    with a single value too) of the share of the item's values in category k.
    """
    table = _table(records)
    entry_item, entry_code, count, size = _item_counts(table)
    paired = size >= 2
    if not paired.any():
        return _undefined(NO_PAIRS)
    q = len(table.categories)
    if q == 1:
        return _undefined(ONE_CATEGORY, paired.sum())
    agreeing = np.bincount(entry_item, count * (count - 1), minlength=len(size))
    observed = (agreeing[paired] / (size[paired] * (size[paired] - 1))).mean()
    pi = np.bincount(entry_code, count / size[entry_item], minlength=q) / len(size)
    chance = (pi * (1 - pi)).sum() / (q - 1)
    return _stat((observed - chance) / (1 - chance), paired.sum())


def fleiss_kappa(records: Iterable, *, raters=None) -> Stat:
    """Fleiss' (1971) kappa over the items with exactly ``raters`` values.

    ``raters`` defaults to the most common number of values per item among items with two or more
    (the larger on a tie). Items with another number are left out; ``detail`` gives
    ``{"excluded": k, "raters": r}``.
    """
    entry_item, entry_code, count, size = _item_counts(_table(records))
    if raters is None:
        counts, often = np.unique(size[size >= 2], return_counts=True)
        if not len(counts):
            return _undefined(NO_PAIRS, excluded=len(size), raters=None)
        raters = int(counts[often == often.max()].max())
    elif int(raters) < 2:
        raise ValueError("raters must be at least 2")
    r = int(raters)
    included = size == r
    detail = {"excluded": int(len(size) - included.sum()), "raters": r}
    if not included.any():
        return _undefined(f"no item has exactly {r} annotations", **detail)
    keep = included[entry_item]
    n_items = int(included.sum())
    totals = np.bincount(entry_code[keep], count[keep])
    expected = float((n_items * r) ** 2 - totals @ totals)  # (N r)^2 (1 - P_e)
    if expected == 0:
        return _undefined(ONE_CATEGORY, n_items, **detail)
    p_bar = (float(count[keep] @ count[keep]) - n_items * r) / (n_items * r * (r - 1))
    p_e = float(totals @ totals) / (n_items * r) ** 2
    return _stat((p_bar - p_e) / (1 - p_e), n_items, **detail)


def _members(category) -> tuple:
    return tuple(category) if isinstance(category, frozenset) else (category,)


def per_label(records: Iterable, *, labels=None) -> dict:
    """Nominal alpha of each label against the rest: {label: Stat}.

    Each annotation becomes "has this label" or not, and alpha is taken over those binary values
    (Krippendorff 2011, binary data), for every label at once. A frozenset value is a multi-label
    annotation: each of its members is present. ``labels`` defaults to every label found, sorted;
    a label asked for but never used is undefined.
    """
    table = _table(records)
    members = [_members(c) for c in table.categories]
    found = list(dict.fromkeys(label for group in members for label in group))
    wanted = sorted(found, key=category_key) if labels is None else list(labels)
    size = np.bincount(table.item)
    paired = size >= 2
    if not paired.any():
        return {label: _undefined(NO_PAIRS) for label in wanted}
    n_labels = max(len(found), 1)
    index = {label: code for code, label in enumerate(found)}
    flat = np.array([index[label] for group in members for label in group], np.int64)
    lengths = np.array([len(group) for group in members], np.int64)
    row, at = _expand(table.value, np.cumsum(lengths) - lengths, lengths)
    key, having = np.unique(table.item[row] * n_labels + flat[at], return_counts=True)
    item, label = key // n_labels, key % n_labels
    keep = paired[item]
    item, label, having = item[keep], label[keep], having[keep]
    m = size[item]
    n, units = int(size[paired].sum()), int(paired.sum())
    with_label = np.bincount(label, having, minlength=n_labels)
    observed = np.bincount(label, 2.0 * having * (m - having) / (m - 1), minlength=n_labels)
    result = {}
    for wanted_label in wanted:
        code = index.get(wanted_label)
        n_label = int(with_label[code]) if code is not None else 0
        if n_label == 0:
            result[wanted_label] = _undefined("no item with two annotations has the label", units)
        elif n_label == n:
            result[wanted_label] = _undefined("every annotation has the label", units)
        else:
            expected = 2.0 * n_label * (n - n_label)
            result[wanted_label] = _stat(1 - (n - 1) * observed[code] / expected, units)
    return result


def _pooled_kappa(total: float, agreeing: float, first, second, units: int) -> Stat:
    """Kappa from a contingency table's total, its diagonal and its two margins."""
    expected = float(total * total - first @ second)
    if expected == 0:
        return _undefined(ONE_CATEGORY, units)
    return _stat(1 - total * (total - agreeing) / expected, units)


def per_annotator(records: Iterable, *, gold=None) -> dict:
    """Each annotator's agreement with the others and, given ``gold`` ({item: value}), with gold.

    Returns {annotator: {"items", "agreement", "kappa", "gold_accuracy", "gold_kappa"}}:

    - ``items``: how many items the annotator labeled.
    - ``agreement``: the share of agreeing pairs (this annotator's value, another annotator's
      value) over the items they share with others; ``n`` counts those items.
    - ``kappa``: Cohen's kappa of the same pairs, pooled in one contingency table: rows are this
      annotator's values, columns the others'. Pairs, not a majority vote, so that no tie needs
      breaking and the kappa's observed agreement is exactly ``agreement``.
    - ``gold_accuracy`` and ``gold_kappa``: share equal to gold, and Cohen's kappa against gold,
      over the gold items the annotator labeled.
    """
    table = _table(records)
    n_annotators, n_categories = len(table.annotators), max(len(table.categories), 1)
    entry_item, entry_code, count, size = _item_counts(table)
    row_key = table.annotator * n_categories + table.value
    cells = n_annotators * n_categories
    same = count[
        np.searchsorted(
            entry_item * n_categories + entry_code, table.item * n_categories + table.value
        )
    ]
    others = size[table.item] - 1
    pairs = np.bincount(table.annotator, others, minlength=n_annotators)
    agreeing = np.bincount(table.annotator, same - 1, minlength=n_annotators)
    shared = np.bincount(table.annotator, others > 0, minlength=n_annotators)
    own = np.bincount(row_key, others, minlength=cells).reshape(n_annotators, n_categories)
    # What the others said on an annotator's items: all values there, less the annotator's own.
    per_item = np.bincount(entry_item, minlength=len(size))
    row, entry = _expand(table.item, np.cumsum(per_item) - per_item, per_item)
    seen = np.bincount(
        table.annotator[row] * n_categories + entry_code[entry], count[entry], minlength=cells
    )
    other = (seen - np.bincount(row_key, minlength=cells)).reshape(n_annotators, n_categories)
    items = np.bincount(table.annotator, minlength=n_annotators)
    gold_stats = _gold_by_annotator(table, gold)
    result = {}
    for code in sorted(range(n_annotators), key=lambda c: category_key(table.annotators[c])):
        if shared[code]:
            agreement = _stat(agreeing[code] / pairs[code], shared[code])
            kappa = _pooled_kappa(pairs[code], agreeing[code], own[code], other[code], shared[code])
        else:
            agreement = kappa = _undefined("no item shared with another annotator")
        result[table.annotators[code]] = {
            "items": int(items[code]),
            "agreement": agreement,
            "kappa": kappa,
            **gold_stats[code],
        }
    return result


def _gold_by_annotator(table: _Table, gold) -> list[dict]:
    """gold_accuracy and gold_kappa of each annotator, by annotator code."""
    if not gold:
        missing = _undefined("no gold labels were given")
        return [{"gold_accuracy": missing, "gold_kappa": missing}] * len(table.annotators)
    item_code = {item: code for code, item in enumerate(table.items)}
    value_code = {value: code for code, value in enumerate(table.categories)}
    for value in gold.values():
        value_code.setdefault(value, len(value_code))
    gold_of_item = np.full(len(table.items), -1)
    for item, value in gold.items():
        if item in item_code:
            gold_of_item[item_code[item]] = value_code[value]
    truth = gold_of_item[table.item]
    has = truth >= 0
    annotator, value, truth = table.annotator[has], table.value[has], truth[has]
    n_annotators, k = len(table.annotators), len(value_code)
    labeled = np.bincount(annotator, minlength=n_annotators)
    correct = np.bincount(annotator, value == truth, minlength=n_annotators)
    said = np.bincount(annotator * k + value, minlength=n_annotators * k).reshape(-1, k)
    right = np.bincount(annotator * k + truth, minlength=n_annotators * k).reshape(-1, k)
    result = []
    for code in range(n_annotators):
        n = int(labeled[code])
        if n:
            accuracy = _stat(correct[code] / n, n)
            kappa = _pooled_kappa(n, correct[code], said[code], right[code], n)
        else:
            accuracy = kappa = _undefined("no gold item was labeled by this annotator")
        result.append({"gold_accuracy": accuracy, "gold_kappa": kappa})
    return result
