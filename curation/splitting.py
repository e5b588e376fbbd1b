"""Split assignment: which items go to train, dev and test (pure: numpy and scipy, no ORM).

Input is plain arrays, one entry per item: a label as a small int (-1 for none), a group index
(from `merge_groups`), and for the time method a sortable time (NaN when the item has none).
Every method keeps a group whole: all its members land in one split.

- **random**: groups in a random order (`numpy.random.default_rng(seed)`), laid end to end;
  a group goes to the split its midpoint falls in, so with single items the counts are the
  ideal ones rounded, and a group can shift a boundary by at most half its size.
- **stratified**: each label on its own. Without multi-item groups, each split gets
  round(ratio x count) of every label by largest remainders, so every split is within one item
  of its ideal per label. Groups count towards their majority label (ties: the smaller label);
  they are placed first, largest first, each into the split with the largest deficit of that
  label, and the single items of the label then fill what the groups left as evenly as
  possible. The guarantee with groups: a group is never separated, and per-label counts are as
  close to the ideal as the greedy placement of the groups allows (not provably optimal).
- **time**: a group takes the time of its newest member, so nothing newer than a training item
  ever sits in a group that goes to train; groups are laid oldest first (ties in a random
  order), older to train, then dev, newest to test, by the same midpoint rule. Items whose
  whole group has no usable time go to train and are counted in `undated`.

The result is deterministic for a given input and seed.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

TRAIN, DEV, TEST = 0, 1, 2
SPLITS = ("train", "dev", "test")
METHODS = ("random", "stratified", "time")


@dataclass(frozen=True)
class Ratios:
    """Fractions of the items for train, dev and test: each at least 0, summing to 1."""

    train: float
    dev: float
    test: float

    def __post_init__(self):
        values = self.as_array()
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError("Each ratio must be a number of at least 0.")
        if abs(values.sum() - 1.0) > 1e-6:
            raise ValueError("The ratios must add up to 1.")

    def as_array(self) -> np.ndarray:
        return np.array([self.train, self.dev, self.test], dtype=np.float64)


@dataclass
class Assignment:
    """A split per item (TRAIN, DEV, TEST) and the figures a preview shows."""

    split: np.ndarray  # int8, one per item
    counts: list[int]  # items per split
    label_counts: dict[int, list[int]]  # label -> items per split (-1: no label)
    groups: int  # multi-item groups
    grouped_items: int  # items in those groups
    largest_group: int  # size of the largest group (1 when there is none)
    undated: int = 0  # items whose group has no usable time (time method), all in train
    extra: dict = field(default_factory=dict)


def merge_groups(n: int, keys=(), pairs=None) -> np.ndarray:
    """A group index per item (0 .. groups-1): items sharing a value of any array in `keys`
    (an int per item, -1 for none) or joined by a row of `pairs` (item indexes, shape (m, 2))
    are in one group, transitively (connected components of the union of both)."""
    rows, cols = [], []
    for key in keys:
        key = np.asarray(key, dtype=np.int64)
        has = np.flatnonzero(key >= 0)
        order = has[np.argsort(key[has], kind="stable")]
        same = key[order[1:]] == key[order[:-1]]
        rows.append(order[:-1][same])
        cols.append(order[1:][same])
    if pairs is not None and len(pairs):
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        rows.append(pairs[:, 0])
        cols.append(pairs[:, 1])
    edges = sum(len(r) for r in rows)
    if not edges:
        return np.arange(n, dtype=np.int64)
    row, col = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(edges, dtype=np.int8), (row, col)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def assign(
    *,
    method: str,
    ratios: Ratios,
    seed: int,
    labels,
    groups=None,
    times=None,
) -> Assignment:
    """Splits the items; see the module docstring for each method."""
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; use one of: {', '.join(METHODS)}.")
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    groups = np.arange(n, dtype=np.int64) if groups is None else _compact(groups)
    rng = np.random.default_rng(seed)
    sizes = np.bincount(groups, minlength=int(groups.max()) + 1 if n else 0)
    undated = 0
    if method == "random":
        split = _random(groups, sizes, ratios, rng)
    elif method == "stratified":
        split = _stratified(labels, groups, sizes, ratios, rng)
    else:
        if times is None:
            raise ValueError("The time method needs a time per item.")
        split, undated = _by_time(np.asarray(times, dtype=np.float64), groups, sizes, ratios, rng)
    return _summary(split, labels, sizes, undated)


def _compact(groups) -> np.ndarray:
    """Group ids renumbered 0 .. g-1; a negative id means an item alone (a group of its own)."""
    groups = np.asarray(groups, dtype=np.int64).copy()
    alone = groups < 0
    if alone.any():
        start = groups.max() + 1 if (~alone).any() else 0
        groups[alone] = start + np.arange(int(alone.sum()))
    return np.unique(groups, return_inverse=True)[1].astype(np.int64).reshape(-1)


def _fill(sizes: np.ndarray, ratios: Ratios, total: int, offset: int = 0) -> np.ndarray:
    """Split per group for groups laid end to end in this order after `offset` items: the
    split whose share of `total` holds the group's midpoint."""
    ends = offset + np.cumsum(sizes)
    middles = ends - sizes / 2.0
    r = ratios.as_array()
    bounds = np.array([r[0] * total, (r[0] + r[1]) * total])
    # A split with ratio 0 has an empty range, so no midpoint falls in it.
    return np.searchsorted(bounds, middles, side="right").astype(np.int8)


def _random(groups, sizes, ratios, rng) -> np.ndarray:
    order = rng.permutation(len(sizes))
    group_split = np.empty(len(sizes), dtype=np.int8)
    group_split[order] = _fill(sizes[order], ratios, int(sizes.sum()))
    return group_split[groups]


def _majority(labels, groups, sizes) -> np.ndarray:
    """The most common label of each multi-item group (ties: the smaller label); -1 for the
    others. One sort of (group, label) pairs packed into an int64."""
    best = np.full(len(sizes), -1, dtype=np.int64)
    inside = sizes[groups] > 1
    if not inside.any():
        return best
    low = int(labels.min())
    width = int(labels.max()) - low + 1
    packed, counts = np.unique(groups[inside] * width + (labels[inside] - low), return_counts=True)
    group, label = packed // width, packed % width + low
    # Per group: the largest count first, then the smaller label.
    order = np.lexsort((label, -counts, group))
    first = np.ones(len(order), dtype=bool)
    first[1:] = group[order][1:] != group[order][:-1]
    best[group[order][first]] = label[order][first]
    return best


def _stratified(labels, groups, sizes, ratios, rng) -> np.ndarray:
    r = ratios.as_array()
    split = np.empty(len(labels), dtype=np.int8)
    majority = _majority(labels, groups, sizes)
    multi = sizes > 1
    single_item = ~multi[groups]
    group_split = np.full(len(sizes), -1, dtype=np.int8)
    for label in np.unique(labels):
        singles = np.flatnonzero(single_item & (labels == label))
        multis = np.flatnonzero(multi & (majority == label))
        total = len(singles) + int(sizes[multis].sum())
        order = multis[rng.permutation(len(multis))]
        order = order[np.argsort(-sizes[order], kind="stable")]
        chosen, deficit = _greedy(sizes[order].tolist(), (r * total).tolist(), r > 0)
        group_split[order] = chosen
        counts = _even_counts(np.array(deficit), len(singles), r)
        shuffled = singles[rng.permutation(len(singles))]
        split[shuffled] = np.repeat(np.arange(3, dtype=np.int8), counts)
    grouped = ~single_item
    split[grouped] = group_split[groups[grouped]]
    return split


def _greedy(sizes: list[int], deficit: list[float], allowed) -> tuple[list[int], list[float]]:
    """Each group, in order, into the allowed split with the largest deficit (plain Python: a
    loop over multi-item groups, about a microsecond each)."""
    splits = [k for k in range(3) if allowed[k]]
    chosen = []
    for size in sizes:
        k = max(splits, key=deficit.__getitem__)
        chosen.append(k)
        deficit[k] -= size
    return chosen, deficit


def _even_counts(ideal: np.ndarray, n: int, r: np.ndarray) -> np.ndarray:
    """Whole counts summing to `n`, as close to `ideal` as counts of at least 0 can be: water
    filling (splits a group overfilled get nothing, the others share the shortfall), then
    largest remainders. Splits with ratio 0 get nothing."""
    if n == 0:
        return np.zeros(3, dtype=np.int64)
    allowed = r > 0
    level = 0.0
    for _ in range(3):
        active = allowed & (ideal - level > 0)
        level = (ideal[active].sum() - n) / active.sum()
    share = np.where(allowed, np.maximum(ideal - level, 0.0), 0.0)
    share *= n / share.sum()
    counts = np.floor(share + 1e-9).astype(np.int64)
    remainder = np.where(allowed, share - counts, -1.0)
    for k in np.argsort(-remainder, kind="stable")[: n - int(counts.sum())]:
        counts[k] += 1
    return counts


def _by_time(times, groups, sizes, ratios, rng) -> tuple[np.ndarray, int]:
    newest = np.full(len(sizes), -np.inf)
    dated = np.isfinite(times)
    np.maximum.at(newest, groups[dated], times[dated])
    group_split = np.full(len(sizes), TRAIN, dtype=np.int8)
    known = np.flatnonzero(np.isfinite(newest))
    undated_items = int(sizes.sum() - sizes[known].sum())
    tiebreak = rng.permutation(len(known))
    order = known[np.lexsort((tiebreak, newest[known]))]
    group_split[order] = _fill(sizes[order], ratios, int(sizes.sum()), offset=undated_items)
    return group_split[groups], undated_items


def _summary(split, labels, sizes, undated) -> Assignment:
    counts = np.bincount(split, minlength=3).tolist() if len(split) else [0, 0, 0]
    label_counts: dict[int, list[int]] = {}
    if len(labels):
        low = int(labels.min())
        table = np.bincount((labels - low) * 3 + split, minlength=3 * (int(labels.max()) - low + 1))
        for row, per_split in enumerate(table.reshape(-1, 3).tolist()):
            if any(per_split):
                label_counts[row + low] = per_split
    multi = sizes[sizes > 1]
    return Assignment(
        split=split.astype(np.int8),
        counts=[int(c) for c in counts],
        label_counts=label_counts,
        groups=int(len(multi)),
        grouped_items=int(multi.sum()),
        largest_group=int(multi.max()) if len(multi) else 1,
        undated=undated,
    )
