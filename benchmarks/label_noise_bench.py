"""Wrong-label detection on real text: Debian package descriptions labelled by their section.

    python benchmarks/label_noise_bench.py
    python benchmarks/label_noise_bench.py --items 50000     # timing at 50,000 (see below)

Reads ``apt-cache dumpavail`` (the package lists the machine has), keeps the packages of the five
most common sections, and uses each package's one-line description as the text and its section
as the label. The package name is left out: it gives the section away (``lib*-dev``, ``*-doc``,
``python3-*``). It flips ``--noise`` of the labels to another of the five at random (seeded), runs
``find_label_issues`` and prints its wall time and how many of the suspects are flipped ones: the
precision of the top 100 and top 500, of all suspects, and the recall of the flipped labels.
Times are the best of ``--repeat`` runs.

Debian's own sections are not free of odd choices, so an unflipped item among the suspects is
not always a false alarm: precision against the flips is a lower bound.

``--items N`` above the number of packages draws N items with replacement, to time the pipeline
at that size; precision is then inflated (a flipped copy of a text often has an unflipped twin in
another fold) and is not reported. ``--dawid-skene`` also times Dawid-Skene on 100,000 items x 5
annotators.
"""

import argparse
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import sklearn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adjudication.dawid_skene import dawid_skene  # noqa: E402
from adjudication.label_noise import (  # noqa: E402
    METHODS,
    find_label_issues,
    label_issues,
    out_of_fold_probabilities,
)


def packages() -> list[tuple[str, str]]:
    """(section, one-line description) of every package apt knows."""
    text = subprocess.run(
        ["apt-cache", "dumpavail"], capture_output=True, text=True, check=True
    ).stdout
    rows = []
    for stanza in text.split("\n\n"):
        fields = dict(
            line.split(":", 1) for line in stanza.splitlines() if line and line[0] not in " \t"
        )
        section, description = fields.get("Section"), fields.get("Description")
        if section and description:
            rows.append((section.strip().rsplit("/", 1)[-1], description.strip()))
    return rows


def corpus(classes: int) -> tuple[list[str], list[str], list[str]]:
    rows = packages()
    sections = [name for name, _ in Counter(s for s, _ in rows).most_common(classes)]
    kept = [(s, d) for s, d in rows if s in sections]
    return [d for _, d in kept], [s for s, _ in kept], sections


def flip(labels: list[str], classes: list[str], share: float, seed: int):
    """A copy of the labels with ``share`` of them moved to another class, and the flip mask."""
    rng = np.random.default_rng(seed)
    flipped = rng.random(len(labels)) < share
    noisy = list(labels)
    for i in np.flatnonzero(flipped):
        others = [c for c in classes if c != labels[i]]
        noisy[i] = others[rng.integers(len(others))]
    return noisy, flipped


def best(call, repeat: int):
    """The shortest wall time of ``repeat`` calls (other work on the machine only ever adds
    time), and the last call's result."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return min(times), result


def report_detection(texts, labels, original, classes, flipped, args):
    """Times find_label_issues on the noisy ``labels`` and scores its suspects against the
    flips; ``original`` are the labels before flipping."""
    seconds, suspects = best(
        lambda: find_label_issues(
            texts, labels, classes, folds=args.folds, seed=args.seed, method=args.method
        ),
        args.repeat,
    )
    print(f"find_label_issues ({args.method}): {seconds:.1f} s, {len(suspects):,} suspects")
    order = np.array([s.index for s in suspects], dtype=np.int64)
    for top in (100, 500):
        print(f"  precision, top {top}: {flipped[order[:top]].mean():.3f}")
    hits = flipped[order].sum() if order.size else 0
    print(f"  precision, all suspects: {hits / max(len(order), 1):.3f}")
    print(f"  recall of flipped labels: {hits / flipped.sum():.3f} ({hits} of {flipped.sum()})")
    restored = [s.suggested == original[s.index] for s in suspects if flipped[s.index]]
    print(f"  suggested label is the original one, flipped suspects: {np.mean(restored):.3f}")


def report_parts(texts, labels, classes, folds: int, seed: int, repeat: int) -> None:
    """The two stages timed apart: out-of-fold probabilities, then confident learning."""
    fitting, probs = best(
        lambda: out_of_fold_probabilities(texts, labels, classes=classes, folds=folds, seed=seed),
        repeat,
    )
    codes = [classes.index(label) for label in labels]
    learning, _ = best(lambda: label_issues(probs, codes, classes=classes), repeat)
    print(f"stages timed apart: probabilities {fitting:.1f} s, confident learning {learning:.2f} s")


def time_dawid_skene(repeat: int, items: int = 100_000, annotators: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 5, items)
    right = rng.random((items, annotators)) < 0.8
    answers = np.where(right, truth[:, None], rng.integers(0, 5, (items, annotators)))
    records = [
        (i, a, int(answers[i, a])) for i in range(items) for a in range(annotators)
    ]  # fmt: skip
    seconds, result = best(lambda: dawid_skene(records), repeat)
    accuracy = np.mean([result.labels[i] == truth[i] for i in range(items)])
    print(
        f"dawid_skene, {items:,} items x {annotators} annotators: {seconds:.1f} s, "
        f"{result.iterations} iterations, accuracy {accuracy:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--items", type=int, default=0, help="0: every package of the sections")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", choices=METHODS, default=METHODS[0])
    parser.add_argument("--repeat", type=int, default=3, help="timings are the best of these")
    parser.add_argument("--dawid-skene", action="store_true")
    args = parser.parse_args()

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}, scikit-learn "
          f"{sklearn.__version__}")  # fmt: skip
    texts, labels, classes = corpus(args.classes)
    counts = Counter(labels)
    print(f"{len(texts):,} packages in the {len(classes)} largest sections: "
          + ", ".join(f"{c} {counts[c]:,}" for c in classes))  # fmt: skip
    resampled = args.items > len(texts)
    if resampled:
        print(f"fewer than {args.items:,}: drawing {args.items:,} with replacement, time only")
    if args.items:
        pick = np.random.default_rng(args.seed).choice(len(texts), args.items, replace=resampled)
        texts, labels = [texts[i] for i in pick], [labels[i] for i in pick]
    noisy, flipped = flip(labels, classes, args.noise, args.seed)
    print(f"{len(texts):,} items, {flipped.sum():,} labels flipped ({args.noise:.0%})")
    if resampled:
        seconds, _ = best(
            lambda: find_label_issues(texts, noisy, classes, folds=args.folds, seed=args.seed),
            args.repeat,
        )
        print(f"find_label_issues: {seconds:.1f} s")
    else:
        report_detection(texts, noisy, labels, classes, flipped, args)
    report_parts(texts, noisy, classes, args.folds, args.seed, args.repeat)
    if args.dawid_skene:
        time_dawid_skene(args.repeat)


if __name__ == "__main__":
    main()
