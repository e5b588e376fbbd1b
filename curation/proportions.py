"""Error rates estimated from a sample audit, and the draw of the sample (pure: no ORM).

The interval is Wilson's score interval without continuity correction (Newcombe 1998, method
3): unlike the normal ("Wald") interval it stays inside [0, 1] and does not collapse to a point
when a sample holds no error at all, which is the usual case for a good dataset. The draw is
a seeded `numpy` generator, so the same population, size and seed give the same sample.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal
CORRECT = "correct"
INCORRECT = "incorrect"


def wilson_interval(errors: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for `errors` out of `n` (None when n is 0). At the edges the
    closed forms are used, so 0 errors gives exactly 0 as the lower bound and n errors exactly
    1 as the upper one."""
    if n <= 0:
        return None
    if not 0 <= errors <= n:
        raise ValueError(f"errors must lie between 0 and n ({errors} of {n})")
    p = errors / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    low = 0.0 if errors == 0 else max(0.0, centre - half)
    high = 1.0 if errors == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class ErrorRate:
    """The error rate of one label's samples (or of all of them, `label` None)."""

    label: str | None
    sampled: int
    judged: int
    incorrect: int

    @property
    def remaining(self) -> int:
        return self.sampled - self.judged

    @property
    def rate(self) -> float | None:
        """The point estimate: incorrect among judged (None before any judgement)."""
        return self.incorrect / self.judged if self.judged else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.incorrect, self.judged)


def error_rates(samples: Iterable[tuple[str, str]]) -> tuple[ErrorRate, list[ErrorRate]]:
    """(overall, per label sorted by label) from (label as audited, verdict) pairs; a verdict
    is "correct", "incorrect" or "" for not judged yet."""
    sampled: Counter = Counter()
    judged: Counter = Counter()
    incorrect: Counter = Counter()
    for label, verdict in samples:
        sampled[label] += 1
        if verdict in (CORRECT, INCORRECT):
            judged[label] += 1
        if verdict == INCORRECT:
            incorrect[label] += 1
    per_label = [
        ErrorRate(label, sampled[label], judged[label], incorrect[label])
        for label in sorted(sampled)
    ]
    overall = ErrorRate(None, sum(sampled.values()), sum(judged.values()), sum(incorrect.values()))
    return overall, per_label


# --- the draw ---------------------------------------------------------------------------------


def stratified_allocation(counts: dict[str, int], size: int) -> dict[str, int]:
    """How many of `size` samples each stratum gets: proportional to its count, rounded by
    largest remainder (ties to the larger stratum, then by name), then at least one for every
    stratum when `size` allows, taken from the stratum with the most samples. `size` is capped
    at the population."""
    strata = {name: count for name, count in counts.items() if count > 0}
    total = sum(strata.values())
    size = min(size, total)
    if size <= 0:
        return dict.fromkeys(strata, 0)
    quotas = {name: size * count / total for name, count in strata.items()}
    allocation = {name: math.floor(quota) for name, quota in quotas.items()}
    left = size - sum(allocation.values())
    by_remainder = sorted(strata, key=lambda n: (-(quotas[n] - allocation[n]), -strata[n], n))
    for name in by_remainder[:left]:
        allocation[name] += 1
    if size >= len(strata):
        for name in sorted(strata, key=lambda n: (strata[n], n)):
            if allocation[name] == 0:
                donor = max(allocation, key=lambda n: (allocation[n], -strata[n], n))
                allocation[donor] -= 1
                allocation[name] = 1
    return allocation


def draw_sample(
    labels: Sequence[str], size: int, seed: int, *, stratified: bool = False
) -> list[int]:
    """Indexes into `labels` (the population, in a fixed order) of a simple random sample of
    `size` without replacement, or, stratified, of each label's allocated share; in the order
    to judge them (random, so that a reviewer does not see one label in a run)."""
    rng = np.random.default_rng(seed)
    size = min(size, len(labels))
    if size <= 0:
        return []
    if not stratified:
        return [int(i) for i in rng.choice(len(labels), size=size, replace=False)]
    members: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(label, []).append(index)
    allocation = stratified_allocation({k: len(v) for k, v in members.items()}, size)
    chosen: list[int] = []
    for label in sorted(members):
        if allocation[label]:
            picked = rng.choice(len(members[label]), size=allocation[label], replace=False)
            chosen.extend(members[label][int(i)] for i in picked)
    return [chosen[int(i)] for i in rng.permutation(len(chosen))]
