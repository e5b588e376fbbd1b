"""Agreement statistics at size: 100,000 items x 5 annotators with about 20 % of ratings missing.

    python benchmarks/agreement_bench.py
    python benchmarks/agreement_bench.py --items 20000 --boot 200 --repeat 1

Times each statistic from a list of (item, annotator, value) tuples to its Stat, as the best of
--repeat runs (other work on the machine only ever adds time), then runs it once more under
tracemalloc for the peak of the memory it allocated; the records, built beforehand, are not
counted. Alpha is also timed from integer-coded numpy columns (``alpha_arrays``), which shows how
much of alpha's time goes to reading the Python tuples. No database is needed.
"""

import argparse
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adjudication import agreement  # noqa: E402

LABELS = ["billing", "technical", "account", "shipping", "feedback"]


def ratings(items: int, annotators: int, categories: int, seed: int):
    """Integer columns of a labeling run: each item has a true category (skewed prevalence),
    each annotator gives it with probability 0.7, else a random category; 20 % are missing."""
    rng = np.random.default_rng(seed)
    prevalence = 1 / np.arange(1, categories + 1)
    truth = rng.choice(categories, items, p=prevalence / prevalence.sum())
    guess = rng.integers(0, categories, (items, annotators))
    value = np.where(rng.random((items, annotators)) < 0.7, truth[:, None], guess)
    item, annotator = np.nonzero(rng.random((items, annotators)) >= 0.2)
    return item, annotator, value[item, annotator]


def records(item, annotator, value, name: Callable) -> list:
    """(item, annotator, value) tuples from integer columns, each value passed through ``name``."""
    columns = zip(item.tolist(), annotator.tolist(), value.tolist(), strict=True)
    return [(f"item-{i}", f"annotator-{a}", name(v)) for i, a, v in columns]


def best_seconds(call: Callable, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(label: str, call: Callable, repeat: int) -> float:
    """Prints the best time of ``repeat`` calls, one call's peak traced memory and the value."""
    seconds = best_seconds(call, repeat)
    tracemalloc.start()
    result = call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    value = getattr(result, "value", None)
    shown = f"{value:.4f}" if isinstance(value, float) else "-"
    print(f"{label:<46} {seconds:7.3f} s {peak / 2**20:8.1f} MiB   value {shown}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=5)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    repeat, boot = args.repeat, args.boot

    print(f"processor: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"python {platform.python_version()}, numpy {np.__version__}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    item, annotator, value = ratings(args.items, args.annotators, len(LABELS), args.seed)
    nominal = records(item, annotator, value, LABELS.__getitem__)
    interval = records(item, annotator, value, lambda v: v + 1.0)
    print(f"{len(nominal):,} records: {args.items:,} items x {args.annotators} annotators\n")
    print(f"{'statistic':<46} {'best time':>9} {'peak':>12}")

    tuples = measure("alpha, nominal", lambda: agreement.alpha(nominal), repeat)
    measure("alpha, interval", lambda: agreement.alpha(interval, level="interval"), repeat)
    measure("alpha, ordinal", lambda: agreement.alpha(interval, level="ordinal"), repeat)
    columns = measure(
        "alpha_arrays, nominal (integer columns)",
        lambda: agreement.alpha_arrays(item, annotator, value),
        repeat,
    )
    measure(
        "alpha_arrays, interval (integer columns)",
        lambda: agreement.alpha_arrays(item, annotator, value + 1.0, level="interval"),
        repeat,
    )
    measure(
        f"alpha_ci, nominal, {boot} draws",
        lambda: agreement.alpha_ci(nominal, n_boot=boot),
        repeat,
    )
    measure(
        f"alpha_ci, interval, {boot} draws",
        lambda: agreement.alpha_ci(interval, level="interval", n_boot=boot),
        repeat,
    )
    measure("fleiss_kappa", lambda: agreement.fleiss_kappa(nominal), repeat)
    measure("gwet_ac1", lambda: agreement.gwet_ac1(nominal), repeat)
    measure("percent_agreement", lambda: agreement.percent_agreement(nominal), repeat)
    measure("per_label (5 labels)", lambda: agreement.per_label(nominal), repeat)
    measure("per_annotator", lambda: agreement.per_annotator(nominal), repeat)
    measure("pairwise_kappa (10 pairs)", lambda: agreement.pairwise_kappa(nominal), repeat)
    print(
        f"\nReading the tuples (coding items, annotators and values as integers) takes "
        f"{tuples - columns:.2f} s of nominal alpha's {tuples:.2f} s; callers that already hold "
        f"integer columns can call alpha_arrays."
    )

    item, annotator, value = ratings(args.items, args.annotators, 500, args.seed + 1)
    many = records(item, annotator, value, int)
    print(f"\n500 categories, {len(many):,} records")
    measure("alpha, nominal, 500 categories", lambda: agreement.alpha(many), repeat)
    measure(
        "alpha, ordinal, 500 categories",
        lambda: agreement.alpha(many, level="ordinal"),
        repeat,
    )
    measure(
        f"alpha_ci, nominal, 500 categories, {boot // 5} draws",
        lambda: agreement.alpha_ci(many, n_boot=boot // 5),
        repeat,
    )


if __name__ == "__main__":
    main()
