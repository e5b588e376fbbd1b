"""Near-duplicate detection: speed, precision and recall of curation.quality.dedup on one core.

    python benchmarks/dedup_bench.py                      # everything, synthetic at 200,000
    python benchmarks/dedup_bench.py --part debian
    python benchmarks/dedup_bench.py --part synthetic --size 1000000

Parts:

- debian: the package descriptions of `apt-cache dumpavail` (the Description field with its
  continuation lines). MinHash by numpy, rensa and datasketch over the same shingles, then the
  whole pipeline as the job runs it (shingle and sign in chunks keeping only band keys, candidate
  pairs, shingles again for the items in a pair, exact verification, clusters). The ground truth
  is every pair with exact Jaccard >= threshold over the whole corpus, found by prefix filtering
  (Bayardo et al. 2007, "Scaling up all pairs similarity search") on sets of shingle *strings*,
  so it shares no code with the hashes it checks.
- shingles: word 3-grams, word 5-grams and character 5-grams compared on the Debian
  descriptions and on 20,000 support messages of about 30 words (benchmarks/_corpus.py): speed
  of the whole pipeline, and how many texts edited by one word (or one character) keep
  Jaccard >= 0.8 with the original.
- synthetic: --size texts of 30 to 150 words drawn from a Zipf vocabulary, plus a copy of one
  text in ten edited word by word until its exact Jaccard with the original falls just under a
  target drawn from [0.6, 1.0). Recall per band of exact Jaccard, precision of the reported pairs.

The process pins itself to one CPU (os.sched_setaffinity) and asks rensa for one thread, so every
items/s figure is one core's. Times are the best of --repeat runs.
"""

import argparse
import math
import os
import platform
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import date
from itertools import chain
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from curation.quality import dedup  # noqa: E402

CHUNK = 50_000  # texts shingled and signed at a time; only their band keys are kept


def debian_descriptions() -> list[str]:
    """Every Description field of `apt-cache dumpavail`, continuation lines included (" ." is an
    empty line)."""
    out = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=True)
    texts, current = [], None
    for line in out.stdout.splitlines():
        if line.startswith("Description:"):
            current = [line.removeprefix("Description:").strip()]
            texts.append(current)
        elif current is not None and line.startswith(" "):
            current.append("" if line.strip() == "." else line[1:])
        else:
            current = None
    return ["\n".join(lines) for lines in texts]


def shingle_strings(text: str, params: dedup.DedupParams) -> frozenset[str]:
    """The shingles as strings, written apart from dedup.shingles, for the ground truth."""
    norm = dedup.normalise(text)
    units = norm.split(" ") if params.shingle == "word" else list(norm)
    glue = " " if params.shingle == "word" else ""
    if not norm:
        return frozenset()
    if len(units) <= params.n:
        return frozenset([norm])
    return frozenset(glue.join(units[i : i + params.n]) for i in range(len(units) - params.n + 1))


def exact_pairs(sets: list[frozenset], threshold: float) -> dict[tuple[int, int], float]:
    """Every pair with Jaccard >= threshold (AllPairs with prefix filtering): two sets that
    reach it share a token among the first |x| - ceil(t |x|) + 1 of each, rarest first."""
    frequency = Counter(chain.from_iterable(sets))
    postings = defaultdict(list)
    for i, tokens in enumerate(sets):
        if tokens:
            ordered = sorted(tokens, key=lambda token: (frequency[token], token))
            prefix = len(ordered) - math.ceil(threshold * len(ordered) - 1e-9) + 1
            for token in ordered[:prefix]:
                postings[token].append(i)
    candidates = set()
    for members in postings.values():
        candidates.update((a, b) for k, a in enumerate(members) for b in members[k + 1 :])
    found = {}
    for a, b in candidates:
        score = dedup.jaccard(sets[a], sets[b])
        if score >= threshold:
            found[(a, b)] = score
    return found


def sign_numpy(texts, params):
    """The job's path: shingle hashes of the whole chunk, then one MinHash pass over them."""
    hashes, counts = dedup.shingle_hashes(texts, params)
    return dedup.sign_hashes(hashes, counts, params), counts


def sign_rensa(texts, params):
    """rensa's RMinHash over the same shingle hashes (its flat-buffer entry point)."""
    import rensa

    flat, counts = dedup.shingle_hashes(texts, params)
    offsets = np.zeros(len(texts) + 1, np.uint64)
    np.cumsum(counts, out=offsets[1:])
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        flat, offsets, params.num_perm, params.seed
    )
    rows = chain.from_iterable(matrix.to_rows())
    return np.fromiter(rows, np.uint32, len(texts) * params.num_perm).reshape(
        len(texts), -1
    ), counts


def sign_datasketch(texts, params):
    """datasketch's MinHash.bulk as documented: UTF-8 shingle strings, its own SHA-1 hashing."""
    from datasketch import MinHash

    strings = [shingle_strings(text, params) for text in texts]
    encoded = [[shingle.encode() for shingle in shingles] for shingles in strings]
    sketches = MinHash.bulk(encoded, num_perm=params.num_perm, seed=params.seed)
    return np.array([sketch.hashvalues for sketch in sketches], dtype=np.uint32), strings


SIGNERS = {"numpy": sign_numpy, "rensa": sign_rensa, "datasketch": sign_datasketch}


def pipeline(texts, params, signer=sign_numpy) -> dict:
    """The job's steps with their times: band keys chunk by chunk, candidate pairs, shingles of
    the items in a pair, verification, clusters."""
    times, ids = {}, np.arange(len(texts))
    started = time.perf_counter()
    keys = np.empty((len(texts), params.bands), np.uint64)
    for start in range(0, len(texts), CHUNK):
        sigs, _ = signer(texts[start : start + CHUNK], params)
        keys[start : start + CHUNK] = dedup.band_keys(sigs, params)
    times["shingle+sign+band"] = time.perf_counter() - started
    step = time.perf_counter()
    pairs = dedup.candidate_pairs(ids, keys, max_bucket=params.max_bucket)
    times["candidates"] = time.perf_counter() - step
    step = time.perf_counter()
    sets = shingle_sets(texts, np.unique(pairs).tolist(), params)
    found = dedup.verify(pairs, sets, params.threshold)
    times["shingles again+verify"] = time.perf_counter() - step
    step = time.perf_counter()
    groups = dedup.clusters(found)
    times["clusters"] = time.perf_counter() - step
    times["total"] = time.perf_counter() - started
    return {
        "times": times, "candidates": len(pairs), "found": found, "clusters": groups, "keys": keys,
    }  # fmt: skip


def shingle_sets(texts, ids: list[int], params) -> dict[int, set]:
    """{i: the shingle set of texts[i]} for `ids`, hashed together as the job does."""
    hashes, counts = dedup.shingle_hashes([texts[i] for i in ids], params)
    values, ends = hashes.tolist(), np.cumsum(counts).tolist()
    return {i: set(values[end - count : end]) for i, end, count in zip(ids, ends, counts.tolist(),
                                                                       strict=True)}  # fmt: skip


def best_of(repeat: int, call):
    runs = [call() for _ in range(repeat)]
    return min(runs, key=lambda run: run["times"]["total"])


def score(found, groups, truth: dict) -> str:
    """Precision of the reported pairs against the exact ones; recall as pairs reported, and as
    pairs whose two items ended in one cluster (what the findings show)."""
    reported = {(i, j) for i, j, _ in found}
    right = len(reported & truth.keys())
    cluster_of = {item: k for k, group in enumerate(groups) for item in group}
    together = sum(1 for i, j in truth if cluster_of.get(i, -1) == cluster_of.get(j, -2))
    return (
        f"precision {right / max(1, len(reported)):.5f} ({right:,} of {len(reported):,})  "
        f"recall {right / max(1, len(truth)):.5f} ({right:,} of {len(truth):,})  "
        f"same cluster {together / max(1, len(truth)):.5f}"
    )


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>9,.0f} items/s"


def report(label: str, run: dict, count: int) -> None:
    times = run["times"]
    stages = "  ".join(f"{name} {seconds:.2f}s" for name, seconds in times.items())
    items = sum(map(len, run["clusters"]))
    print(f"{label:<34} {rate(count, times['total'])}   {stages}")
    print(
        f"{'':<34} {run['candidates']:,} candidate pairs, {len(run['found']):,} verified, "
        f"{len(run['clusters']):,} clusters holding {items:,} items"
    )


def part_debian(args, params) -> None:
    texts = debian_descriptions()
    print(f"\n== Debian package descriptions: {len(texts):,} texts, params {params.key()}")
    print("Shingles and MinHash signatures only:")
    for name, signer in SIGNERS.items():
        seconds = min(_time(lambda s=signer: s(texts, params)) for _ in range(args.repeat))
        print(f"  {name:<12} shingle+sign {rate(len(texts), seconds)}")
    print("Whole pipeline, per MinHash implementation:")
    for name, signer in SIGNERS.items():
        report(
            f"  {name}",
            best_of(args.repeat, lambda s=signer: pipeline(texts, params, s)),
            len(texts),
        )
    started = time.perf_counter()
    strings = [shingle_strings(text, params) for text in texts]
    truth = exact_pairs(strings, params.threshold)
    print(
        f"Ground truth: {len(truth):,} pairs at exact Jaccard >= {params.threshold} "
        f"({time.perf_counter() - started:.1f} s by prefix filtering)"
    )
    for bands, rows, max_bucket in [(16, 8, 500), (20, 6, 500), (20, 6, 100), (32, 4, 500)]:
        trial = dedup.DedupParams(
            shingle=params.shingle, n=params.n, num_perm=bands * rows, bands=bands, rows=rows,
            threshold=params.threshold, seed=params.seed, max_bucket=max_bucket,
        )  # fmt: skip
        run = best_of(args.repeat, lambda p=trial: pipeline(texts, p))
        figures = score(run["found"], run["clusters"], truth)
        report(f"  {bands}x{rows}, max_bucket {max_bucket}", run, len(texts))
        print(f"{'':<34} {figures}")


def _time(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def part_shingles(args, params) -> None:
    import _corpus

    rng = random.Random(args.seed)
    corpora = {
        "debian": debian_descriptions(),
        "messages": [_corpus.message(rng, i)["text"] for i in range(20_000)],
    }
    print(
        "\n== Shingles: whole pipeline, and the share of texts edited by one word / one character"
        " that keep J >= 0.8"
    )
    for shingle, n in [("word", 3), ("word", 5), ("char", 5)]:
        trial = dedup.DedupParams(
            shingle=shingle, n=n, num_perm=params.num_perm, bands=params.bands,
            rows=params.rows, threshold=params.threshold, seed=params.seed,
        )  # fmt: skip
        for name, texts in corpora.items():
            run = best_of(args.repeat, lambda p=trial, t=texts: pipeline(t, p))
            sample = random.Random(args.seed).sample(texts, 2000)
            kept = [_edit_kept(text, trial, random.Random(i)) for i, text in enumerate(sample)]
            word, char = np.mean(kept, axis=0)
            print(
                f"  {shingle} {n}, {name:<9} {rate(len(texts), run['times']['total'])}  "
                f"{len(run['found']):>9,} pairs  word edit {word:.2f}  character edit {char:.2f}"
            )


def _edit_kept(text: str, params, rng) -> tuple[bool, bool]:
    """Whether the text with one word replaced, and with one character replaced, keeps
    Jaccard >= threshold with the original."""
    words = text.split()
    k = rng.randrange(len(words))
    swapped = " ".join([*words[:k], "zq" + words[k][::-1], *words[k + 1 :]])
    c = rng.randrange(len(text))
    typo = text[:c] + "#" + text[c + 1 :]
    original = dedup.shingles(text, params)
    return tuple(
        dedup.jaccard(original, dedup.shingles(edited, params)) >= params.threshold
        for edited in (swapped, typo)
    )


def synthetic(size: int, seed: int, params):
    """size base texts, then one edited copy per ten: (texts, [(base, copy, exact Jaccard)])."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocabulary = ["".join(rng.choice(letters, rng.integers(2, 11))) for _ in range(50_000)]
    weights = 1 / np.arange(1, len(vocabulary) + 1) ** 1.05
    draws = rng.choice(len(vocabulary), size * 90, p=weights / weights.sum())
    lengths = rng.integers(30, 151, size)
    ends = np.cumsum(lengths)
    words = [vocabulary[i] for i in draws[: ends[-1]].tolist()]
    texts = [" ".join(words[end - length : end]) for end, length in zip(ends, lengths, strict=True)]
    planted, edit = [], random.Random(seed)
    for base in edit.sample(range(size), size // 10):
        copy, exact = _edited_to(texts[base], edit.uniform(0.6, 1.0), params, edit, vocabulary)
        planted.append((base, len(texts), exact))
        texts.append(copy)
    return texts, planted


def _edited_to(text, target, params, rng, vocabulary):
    """The text with single words replaced, deleted or inserted until its exact Jaccard with the
    original is below target + 0.02; (copy, Jaccard)."""
    original, words = dedup.shingles(text, params), text.split()
    # Each edit away from the others changes about n shingles: start near the target at once.
    estimate = len(original) * (1 - target) / (params.n * (1 + target))
    edits = max(0, int(estimate) - 1)
    while True:
        for _ in range(edits):
            k, action = rng.randrange(len(words)), rng.random()
            if action < 0.7:
                words[k] = rng.choice(vocabulary)
            elif action < 0.85 and len(words) > params.n + 1:
                del words[k]
            else:
                words.insert(k, rng.choice(vocabulary))
        copy = " ".join(words)
        exact = dedup.jaccard(original, dedup.shingles(copy, params))
        if exact < target + 0.02:
            return copy, exact
        edits = 1


def part_synthetic(args, params) -> None:
    started = time.perf_counter()
    texts, planted = synthetic(args.size, args.seed, params)
    print(
        f"\n== Synthetic: {args.size:,} texts + {len(planted):,} edited copies "
        f"(built in {time.perf_counter() - started:.0f} s), params {params.key()}"
    )
    run = best_of(args.repeat, lambda: pipeline(texts, params))
    report("  numpy pipeline", run, len(texts))
    reported = {(i, j) for i, j, _ in run["found"]}
    keys = run["keys"]  # which planted pairs became candidates, whatever their Jaccard
    candidates = {(b, c) for b, c, _ in planted if np.intersect1d(keys[b], keys[c]).size}
    # "expected" is the chance that a pair at the bucket's lower edge becomes a candidate.
    print(f"  {'exact Jaccard':<14}{'pairs':>8}{'candidate':>11}{'expected':>10}{'reported':>10}")
    edges = [0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0001]
    for low, high in zip(edges, edges[1:], strict=False):
        inside = [(b, c) for b, c, j in planted if low <= j < high]
        if not inside:
            continue
        expected = dedup.candidate_probability(low, params.bands, params.rows)
        share = sum(pair in candidates for pair in inside) / len(inside)
        found = sum(pair in reported for pair in inside) / len(inside)
        label = f"[{low:.2f}, {min(high, 1):.2f})"
        print(f"  {label:<14}{len(inside):>8,}{share:>11.4f}{expected:>10.4f}{found:>10.4f}")
    positives = [(b, c) for b, c, j in planted if j >= params.threshold]
    hits = sum(pair in reported for pair in positives)
    wrong = [
        (i, j)
        for i, j in reported
        if dedup.jaccard(shingle_strings(texts[i], params), shingle_strings(texts[j], params))
        < params.threshold
    ]
    print(
        f"  recall at J >= {params.threshold}: {hits / len(positives):.5f} ({hits:,} of "
        f"{len(positives):,} planted pairs); precision "
        f"{1 - len(wrong) / max(1, len(reported)):.5f} ({len(wrong)} of {len(reported):,} "
        f"reported pairs below the threshold on string shingles; {len(reported) - hits} "
        f"reported pairs not planted)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "debian", "shingles", "synthetic"], default="all")
    parser.add_argument("--size", type=int, default=200_000, help="synthetic base texts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cpu", type=int, default=min(os.sched_getaffinity(0)))
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    params = dedup.DedupParams()
    print(f"date {date.today()}, processor {platform.processor() or platform.machine()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, pinned to CPU {args.cpu}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(f"command: python benchmarks/dedup_bench.py {' '.join(sys.argv[1:])}".rstrip())
    if args.part in ("all", "debian"):
        part_debian(args, params)
    if args.part in ("all", "shingles"):
        part_shingles(args, params)
    if args.part in ("all", "synthetic"):
        part_synthetic(args, params)


if __name__ == "__main__":
    main()
