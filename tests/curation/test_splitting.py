"""The split assignment (curation.splitting) on plain arrays: groups are never separated,
stratification is within one item of the ideal per label, the same seed gives the same split,
and the time-based split keeps the future out of train."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.splitting import DEV, TEST, TRAIN, Ratios, assign, merge_groups

RATIOS = Ratios(0.7, 0.15, 0.15)


@st.composite
def ratios(draw):
    """Ratios on a 1% grid that add up to 1, dev sometimes 0."""
    train = draw(st.integers(1, 98))
    dev = draw(st.integers(0, 99 - train))
    return Ratios(train / 100, dev / 100, (100 - train - dev) / 100)


@st.composite
def grouped_items(draw):
    """Labels, a metadata key per item (-1: none) and near-duplicate pairs."""
    n = draw(st.integers(1, 120))
    labels = draw(st.lists(st.integers(-1, 3), min_size=n, max_size=n))
    keys = draw(st.lists(st.integers(-1, 15), min_size=n, max_size=n))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=n))
    return np.array(labels), np.array(keys), np.array(pairs, dtype=np.int64).reshape(-1, 2)


def components(n, keys, pairs) -> list[set[int]]:
    """Connected components by a plain breadth-first search: the reference for merge_groups."""
    neighbours = [set() for _ in range(n)]
    by_key: dict[int, list[int]] = {}
    for item, key in enumerate(keys):
        if key >= 0:
            by_key.setdefault(key, []).append(item)
    for members in by_key.values():
        for a, b in zip(members, members[1:], strict=False):
            neighbours[a].add(b)
            neighbours[b].add(a)
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    seen, found = set(), []
    for start in range(n):
        if start in seen:
            continue
        todo, part = [start], set()
        while todo:
            item = todo.pop()
            if item not in part:
                part.add(item)
                todo.extend(neighbours[item] - part)
        seen |= part
        found.append(part)
    return found


@settings(max_examples=150, deadline=None)
@given(data=grouped_items(), ratio=ratios(), seed=st.integers(0, 2**32),
       method=st.sampled_from(["random", "stratified", "time"]))  # fmt: skip
def test_group_aware_splits_never_separate_a_cluster_or_a_group_key(data, ratio, seed, method):
    """Items sharing a metadata key, or joined by near-duplicate pairs, or linked through a
    chain of both (a key to a pair to another key), all land in one split, whatever the method."""
    labels, keys, pairs = data
    n = len(labels)
    groups = merge_groups(n, keys=[keys], pairs=pairs)
    times = np.arange(n, dtype=np.float64)[::-1]
    result = assign(method=method, ratios=ratio, seed=seed, labels=labels, groups=groups,
                    times=times)  # fmt: skip
    for part in components(n, keys, pairs):
        assert len({int(result.split[i]) for i in part}) == 1
    assert len(set(groups.tolist())) == len(components(n, keys, pairs))
    assert sum(result.counts) == n


def test_groups_form_transitively_through_both_keys():
    """Item 0 shares a customer with 1, 1 is a near-duplicate of 2, 2 shares a customer with 3:
    all four are one group; item 4 stays alone."""
    keys = np.array([5, 5, 9, 9, -1])
    groups = merge_groups(5, keys=[keys], pairs=np.array([[1, 2]]))
    assert len(set(groups[:4].tolist())) == 1
    assert groups[4] != groups[0]


@settings(max_examples=150, deadline=None)
@given(labels=st.lists(st.integers(-1, 5), min_size=0, max_size=400), ratio=ratios(),
       seed=st.integers(0, 2**32))  # fmt: skip
def test_stratified_is_within_one_item_of_the_ideal_per_label(labels, ratio, seed):
    """Without groups, every split holds ratio x count of every label, give or take one item,
    and a split with ratio 0 gets nothing."""
    labels = np.array(labels, dtype=np.int64)
    result = assign(method="stratified", ratios=ratio, seed=seed, labels=labels)
    r = ratio.as_array()
    for label in set(labels.tolist()):
        total = int((labels == label).sum())
        for k in (TRAIN, DEV, TEST):
            got = int(((labels == label) & (result.split == k)).sum())
            assert abs(got - r[k] * total) < 1 + 1e-9
            if r[k] == 0:
                assert got == 0
        assert result.label_counts[label] == [
            int(((labels == label) & (result.split == k)).sum()) for k in (TRAIN, DEV, TEST)
        ]


def test_stratified_keeps_a_rare_label_in_every_split():
    """Ten items of a rare label among a thousand: 7, 1.5 and 1.5 are ideal for 70/15/15, so
    train gets 7 and dev and test one or two each, where a random split often leaves one empty."""
    labels = np.array([0] * 990 + [1] * 10)
    result = assign(method="stratified", ratios=RATIOS, seed=3, labels=labels)
    rare = result.label_counts[1]
    assert rare[0] == 7 and sorted(rare[1:]) == [1, 2]


@settings(max_examples=60, deadline=None)
@given(data=grouped_items(), seed=st.integers(0, 2**32))
def test_stratified_with_groups_keeps_totals_within_the_largest_group(data, seed):
    """With groups, each split's total is off its ideal by less than the largest group plus
    one item per label."""
    labels, keys, pairs = data
    groups = merge_groups(len(labels), keys=[keys], pairs=pairs)
    result = assign(method="stratified", ratios=RATIOS, seed=seed, labels=labels, groups=groups)
    slack = result.largest_group * len(set(labels.tolist())) + len(set(labels.tolist()))
    for k, ratio in enumerate(RATIOS.as_array()):
        assert abs(result.counts[k] - ratio * len(labels)) <= slack


@pytest.mark.parametrize("method", ["random", "stratified", "time"])
def test_the_same_seed_gives_the_same_split_and_another_seed_another(method):
    """Deterministic for a seed; two seeds give different splits of 1,000 items (ties in time
    broken by the seed)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 1000)
    groups = merge_groups(1000, keys=[rng.integers(-1, 300, 1000)])
    times = rng.integers(0, 20, 1000).astype(np.float64)  # many ties
    run = lambda seed: assign(method=method, ratios=RATIOS, seed=seed, labels=labels,  # noqa: E731
                              groups=groups, times=times).split  # fmt: skip
    assert np.array_equal(run(11), run(11))
    assert not np.array_equal(run(11), run(12))


def test_random_hits_the_ratios_exactly_without_groups():
    """1,000 single items at 70/15/15: 700, 150 and 150."""
    result = assign(method="random", ratios=RATIOS, seed=1, labels=np.zeros(1000, dtype=int))
    assert result.counts == [700, 150, 150]
    assert result.groups == 0 and result.largest_group == 1


def test_a_zero_dev_ratio_leaves_dev_empty():
    """dev = 0: every item goes to train or test, whatever the groups."""
    groups = np.repeat(np.arange(50), 4)
    for method in ("random", "stratified", "time"):
        result = assign(method=method, ratios=Ratios(0.8, 0.0, 0.2), seed=5,
                        labels=np.zeros(200, dtype=int), groups=groups,
                        times=np.arange(200, dtype=np.float64))  # fmt: skip
        assert result.counts[DEV] == 0
        assert result.counts == [160, 0, 40]


def test_time_puts_older_items_in_train_and_newer_in_test():
    """100 items dated 0..99 at 70/15/15: the 70 oldest in train, the next 15 in dev, the
    15 newest in test."""
    times = np.random.default_rng(2).permutation(100).astype(np.float64)
    result = assign(method="time", ratios=RATIOS, seed=0, labels=np.zeros(100, dtype=int),
                    times=times)  # fmt: skip
    assert set(np.flatnonzero(result.split == TRAIN).tolist()) == set(np.flatnonzero(times < 70))
    assert set(np.flatnonzero(result.split == TEST).tolist()) == set(np.flatnonzero(times >= 85))
    assert result.undated == 0


def test_time_places_a_group_at_its_newest_item_and_undated_items_in_train():
    """A conversation with one old and one new message goes where the new one belongs (test),
    so nothing from the future reaches train; items with no date go to train and are counted."""
    times = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, math.nan, math.nan], dtype=np.float64)
    groups = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11])  # items 0 and 9 together
    result = assign(method="time", ratios=Ratios(0.5, 0.25, 0.25), seed=0,
                    labels=np.zeros(12, dtype=int), groups=groups, times=times)  # fmt: skip
    assert result.split[0] == result.split[9] == TEST
    assert result.split[10] == result.split[11] == TRAIN
    assert result.undated == 2
    # 12 items at 50/25/25: the 2 undated and the 4 oldest alone in train, then 3 in dev.
    assert np.flatnonzero(result.split == TRAIN).tolist() == [1, 2, 3, 4, 10, 11]
    assert np.flatnonzero(result.split == DEV).tolist() == [5, 6, 7]
    assert np.flatnonzero(result.split == TEST).tolist() == [0, 8, 9]


def test_ratios_must_be_non_negative_and_add_up_to_one():
    with pytest.raises(ValueError, match="add up"):
        Ratios(0.5, 0.2, 0.2)
    with pytest.raises(ValueError, match="at least 0"):
        Ratios(1.2, -0.2, 0.0)


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="Unknown method"):
        assign(method="alphabetical", ratios=RATIOS, seed=0, labels=np.zeros(3, dtype=int))


def test_no_items_gives_empty_counts():
    result = assign(method="stratified", ratios=RATIOS, seed=0, labels=np.zeros(0, dtype=int))
    assert result.counts == [0, 0, 0] and result.label_counts == {}
