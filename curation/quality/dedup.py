"""Near-duplicate texts: MinHash signatures, banded LSH, exact verification, clusters (no ORM).

The pipeline, in the order the job calls it:

1. `shingles`: the set of 64-bit xxh3 hashes of a text's word or character n-grams, after
   `normalise`. Two texts are near-duplicates when the Jaccard similarity of these sets is at
   least `threshold`.
2. `signatures`: one MinHash row of `num_perm` uint32 minima per text. The permutations are
   multiply-add-shift hashes over the 64-bit shingle hashes, with multipliers derived from the
   seed by xxh3, so a signature depends on nothing but the text and `DedupParams.key()`: stored
   rows are comparable with rows computed later, in another process or after a numpy upgrade.
3. `band_keys`: one 64-bit key per band of `rows` minima. Two texts with Jaccard j share a band
   with probability j ** rows, so they become a candidate pair with probability
   `candidate_probability(j, bands, rows)`.
4. `candidate_pairs`: id pairs that share at least one band key (only pairs with a new id in an
   incremental run), found by sorting the keys.
5. `verify`: exact Jaccard of the shingle sets; only pairs at or above the threshold are kept, so
   a reported pair is never an estimate.
6. `clusters`: connected components of the verified pairs (union-find).

An empty text (nothing left after `normalise`) has no shingles: its signature is all 0xFFFFFFFF,
its band keys are 0, which `candidate_pairs` skips, and its Jaccard with anything is 0.0, so it
matches nothing, not even another empty text. Empty items are the item checks' business.
"""

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import xxhash

from curation.hashing import normalise_text

# Bump when shingling, permutations or band hashing change: stored keys then no longer match and
# every item is signed again.
ALGORITHM = 1
EMPTY = 0xFFFFFFFF  # every minimum of a text without shingles
# Shingles per block while signing: num_perm x 8,192 x 8 bytes = 7.5 MiB at 120 perms, which
# stays in cache; 32,768 ran at 60 % of the speed.
_CHUNK = 1 << 13
_U64 = np.uint64
_M1, _M2 = _U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB93FE53EC5E3)
_GOLDEN = _U64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class DedupParams:
    """What near-duplicate means and how hard the search looks for it.

    `shingle` is "word" (the normalised text split at spaces) or "char"; `n` is the n-gram
    length. Texts in scripts written without spaces (Chinese, Japanese, Thai) need "char": their
    word shingles are whole phrases. `bands * rows` must equal `num_perm`. `max_bucket` bounds
    the pairs drawn from one band key (see `candidate_pairs`); it does not change signatures.

    The defaults were chosen by measurement (benchmarks/dedup_bench.py, one core; figures in
    docs/benchmarks.md, "Near-duplicates"):

    - Word 3-grams. Of support messages of about 30 words with one word replaced, 63 % keep
      Jaccard >= 0.8 with word 3-grams, 22 % with word 5-grams, 91 % with character 5-grams.
      But character 5-grams ran the Debian descriptions at 20,500 items/s and the messages at
      2,100, against 67,300 and 12,000 for word 3-grams (word 5-grams: 91,600 and 15,700).
    - 120 permutations in 20 bands of 6 rows: a pair at exactly 0.8 becomes a candidate with
      probability 0.998; 16 bands of 8 (128 permutations) give 0.947 and found 34,563 of the
      34,786 Debian pairs at exact Jaccard >= 0.8, where 20 x 6 found 34,785. 32 x 4 found all
      34,786 but drew 3.3 times as many candidates and ran a third slower.
    """

    shingle: str = "word"
    n: int = 3
    num_perm: int = 120
    bands: int = 20
    rows: int = 6
    threshold: float = 0.8
    seed: int = 1
    max_bucket: int = 500

    def __post_init__(self):
        if self.shingle not in ("word", "char"):
            raise ValueError('shingle must be "word" or "char".')
        if self.n < 1 or self.num_perm < 1 or self.bands < 1 or self.rows < 1:
            raise ValueError("n, num_perm, bands and rows must be at least 1.")
        if self.bands * self.rows != self.num_perm:
            raise ValueError("bands * rows must equal num_perm.")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1].")
        if self.max_bucket < 2:
            raise ValueError("max_bucket must be at least 2.")
        if not 0 <= self.seed < 2**64:
            raise ValueError("seed must be a non-negative 64-bit integer.")

    def key(self) -> str:
        """Names everything stored signatures and band keys depend on; threshold and max_bucket
        are left out because they change neither."""
        return (
            f"mh{ALGORITHM}-{self.shingle}{self.n}-p{self.num_perm}"
            f"-b{self.bands}x{self.rows}-s{self.seed}"
        )


def normalise(text: str) -> str:
    """NFKC, case-folded, runs of whitespace made one space, trimmed."""
    return normalise_text(text)


def shingles(text: str, params: DedupParams) -> set[int]:
    """xxh3_64 hashes of the UTF-8 n-grams of the normalised text: n tokens joined by one space,
    or n characters. A text shorter than n gives one shingle, the whole text; an empty one none."""
    norm = normalise(text)
    if not norm:
        return set()
    digest = xxhash.xxh3_64_intdigest
    n = params.n
    if params.shingle == "char":
        if len(norm) <= n:
            return {digest(norm.encode())}
        return {digest(norm[i : i + n].encode()) for i in range(len(norm) - n + 1)}
    # A space is one byte in UTF-8 and never inside a character's bytes, so splitting the
    # encoded text gives the words' bytes. The map chain runs in C: twice as fast as a
    # comprehension over byte offsets.
    words = norm.encode().split(b" ")
    if len(words) <= n:
        return {digest(b" ".join(words))}
    return set(map(digest, map(b" ".join, zip(*(words[i:] for i in range(n)), strict=False))))


def _mix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, in place (a bijection on uint64)."""
    x ^= x >> _U64(33)
    x *= _M1
    x ^= x >> _U64(33)
    x *= _M2
    x ^= x >> _U64(33)
    return x


def _permutations(params: DedupParams) -> tuple[np.ndarray, np.ndarray]:
    """Odd multipliers a and offsets b of the num_perm hash functions, from xxh3 of the seed."""
    digest = xxhash.xxh3_64_intdigest
    a = [digest(f"a{k}".encode(), seed=params.seed) | 1 for k in range(params.num_perm)]
    b = [digest(f"b{k}".encode(), seed=params.seed) for k in range(params.num_perm)]
    return np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64)


def sign_shingles(shingle_sets: Sequence[Iterable[int]], params: DedupParams) -> np.ndarray:
    """MinHash rows (len, num_perm) uint32 of precomputed shingle sets; see `signatures`.

    Permutation k maps a shingle hash x to the high 32 bits of a_k * x + b_k mod 2**64
    (multiply-add-shift). The shingles are read in blocks of `_CHUNK`, a text's minima being
    carried across blocks, so memory is bounded whatever the lengths of the texts."""
    lengths = np.fromiter(map(len, shingle_sets), dtype=np.int64, count=len(shingle_sets))
    flat = np.fromiter(chain.from_iterable(shingle_sets), dtype=np.uint64, count=lengths.sum())
    owner = np.repeat(np.arange(len(shingle_sets)), lengths)
    out = np.full((len(shingle_sets), params.num_perm), EMPTY, dtype=np.uint32)
    a, b = _permutations(params)
    high = 1 if sys.byteorder == "little" else 0
    for start in range(0, flat.size, _CHUNK):
        block, own = flat[start : start + _CHUNK], owner[start : start + _CHUNK]
        cuts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
        values = np.multiply.outer(a, block)
        values += b[:, None]
        # (num_perm, block) layout: each text's shingles are contiguous along axis 1, where
        # reduceat is about twenty times faster than along axis 0.
        minima = np.minimum.reduceat(values.view(np.uint32)[:, high::2], cuts, axis=1)
        rows = own[cuts]
        out[rows] = np.minimum(out[rows], minima.T)
    return out


def signatures(texts: list[str], params: DedupParams) -> np.ndarray:
    """MinHash signatures (len(texts), num_perm) uint32, deterministic for `params.key()`.

    numpy over the xxh3 shingle hashes, chosen by measurement on the Debian package descriptions
    (63,666 texts, one core, shingles and signatures): numpy 130,000 items/s, rensa 67,000 (its
    digests come back as lists of Python ints, and turning them into an array costs more than
    the hashing), datasketch 31,000; for the whole pipeline 62,800, 45,700 and 26,200. Its
    output is also defined here rather than by a library's version, which matters for stored
    signatures."""
    return sign_shingles([shingles(text, params) for text in texts], params)


def signature_bytes(row: np.ndarray) -> bytes:
    """A signature row (or a row of band keys) as little-endian bytes of its own dtype."""
    row = np.asarray(row)
    return row.astype(row.dtype.newbyteorder("<"), copy=False).tobytes()


def signature_from_bytes(data: bytes, params: DedupParams) -> np.ndarray:
    """The uint32 signature row stored by `signature_bytes`."""
    return _from_bytes(data, "<u4", params.num_perm, np.uint32)


def band_keys_from_bytes(data: bytes, params: DedupParams) -> np.ndarray:
    """The uint64 band keys row stored by `signature_bytes(band_keys(...)[i])`."""
    return _from_bytes(data, "<u8", params.bands, np.uint64)


def _from_bytes(data: bytes, dtype: str, count: int, native) -> np.ndarray:
    row = np.frombuffer(data, dtype=dtype)
    if row.size != count:
        raise ValueError(f"Expected {count} values, got {row.size}: stored with other params?")
    return row.astype(native)


def band_keys(sigs: np.ndarray, params: DedupParams) -> np.ndarray:
    """One uint64 key per band (len, bands): a hash of the band's index and its `rows` minima,
    odd for every text with shingles and 0 for an empty text (all minima EMPTY)."""
    sigs = np.asarray(sigs, dtype=np.uint32).reshape(-1, params.bands, params.rows)
    keys = np.broadcast_to(np.arange(params.bands, dtype=np.uint64), sigs.shape[:2]).copy()
    _mix64(keys)
    for r in range(params.rows):
        keys *= _GOLDEN
        keys += sigs[:, :, r]
        _mix64(keys)
    keys |= _U64(1)
    keys[(sigs == EMPTY).all(axis=(1, 2))] = 0
    return keys


def candidate_pairs(
    ids: np.ndarray,
    band_keys: np.ndarray,
    *,
    new: np.ndarray | None = None,
    max_bucket: int = 500,
) -> np.ndarray:
    """Pairs (k, 2) int64 of distinct ids sharing at least one band key, i < j, each pair once,
    in sorted order.

    A bucket (the ids sharing one key) of up to `max_bucket` ids gives all its pairs. A larger
    one, boilerplate copied into thousands of items, gives only each member with the next once
    ordered by whole signature and id: copies with equal signatures are neighbours, so after
    `clusters` they are still one cluster, and the bucket yields size - 1 pairs instead of about
    size**2 / 2. Pairs between texts that differ inside such a bucket are then found only
    through another band they share.

    `new` (a boolean mask over `ids`) keeps only pairs with at least one new id: an incremental
    run passes the stored keys of old items and the keys of new ones, and merges the result with
    the pairs or clusters it stored before."""
    ids = np.asarray(ids, dtype=np.int64)
    band_keys = np.asarray(band_keys, dtype=np.uint64)
    # Items in id order, so that a pair's positions are in the order of its ids and encode as
    # one integer.
    by_id = np.argsort(ids, kind="stable")
    ids, band_keys = ids[by_id], band_keys[by_id]
    n_items, n_bands = band_keys.shape
    keys = band_keys.ravel()
    member = np.repeat(np.arange(n_items), n_bands)
    keep = keys != 0
    keys, member = keys[keep], member[keep]
    order = np.argsort(keys)
    keys, member = keys[order], member[order]
    first, second = _bucket_pairs(keys, member, band_keys, max_bucket)
    if new is not None:
        new = np.asarray(new, dtype=bool)[by_id]
        wanted = new[first] | new[second]
        first, second = first[wanted], second[wanted]
    low, high = np.minimum(first, second), np.maximum(first, second)
    distinct = low != high
    # Sort and drop repeats: np.unique was a hundred times slower here (numpy 2.4).
    codes = np.sort(low[distinct] * n_items + high[distinct])
    codes = codes[np.r_[True, codes[1:] != codes[:-1]]] if codes.size else codes
    return np.stack([ids[codes // n_items], ids[codes % n_items]], axis=1)


def _bucket_pairs(keys, member, band_keys, max_bucket):
    """Item positions (first, second) of the pairs drawn from the runs of equal sorted keys:
    every pair of a run of up to max_bucket items; in a longer run, each item and the next once
    the run is ordered by whole signature (a hash of all the item's band keys) and position."""
    if keys.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, keys.size])
    size = np.repeat(sizes, sizes)
    large = size > max_bucket
    if large.any():
        run = np.repeat(np.arange(sizes.size), sizes)[large]
        whole = np.bitwise_xor.reduce(band_keys, axis=1)[member[large]]
        member = member.copy()
        member[large] = member[large][np.lexsort((member[large], whole, run))]
    rank = np.arange(keys.size) - np.repeat(starts, sizes)
    later = size - 1 - rank  # members after this one in its run
    count = np.where(large, np.minimum(later, 1), later)
    first = np.repeat(np.arange(keys.size), count)
    step = np.arange(first.size) - np.repeat(np.cumsum(count) - count, count)
    return member[first], member[first + 1 + step]


def new_vs_all_pairs(
    ids: np.ndarray, band_keys: np.ndarray, new_ids, *, max_bucket: int = 500
) -> np.ndarray:
    """`candidate_pairs` of old and new items together, keeping only pairs with a new id."""
    ids = np.asarray(ids, dtype=np.int64)
    new = np.isin(ids, np.fromiter(new_ids, dtype=np.int64))
    return candidate_pairs(ids, band_keys, new=new, max_bucket=max_bucket)


def jaccard(a: set, b: set) -> float:
    """|a & b| / |a | b|; 0.0 when either set is empty, so an empty text matches nothing."""
    if not a or not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def verify(
    pairs, shingle_sets: dict, threshold: float, *, spanning: bool = False
) -> list[tuple[int, int, float]]:
    """(i, j, jaccard) for the pairs whose exact Jaccard is at least `threshold`, in the order
    given. A pair whose set sizes alone rule it out (smaller < threshold * larger) is skipped
    without intersecting; a pair with an empty set never passes.

    With `spanning`, a pair whose ids are already joined by pairs found so far is not checked:
    `clusters` of the result are the same, and a group of s copies costs s - 1 intersections
    instead of s**2 / 2 (450 copies of a notice: 0.06 s instead of 0.16 s). It saves nothing
    where most candidates fail, as in templated messages."""
    if isinstance(pairs, np.ndarray):
        pairs = pairs.tolist()
    joined = _UnionFind() if spanning else None
    found = []
    for i, j in pairs:
        if joined is not None and joined.find(i) == joined.find(j):
            continue
        a, b = shingle_sets[i], shingle_sets[j]
        if len(a) > len(b):
            a, b = b, a
        if not a or len(a) < threshold * len(b):
            continue
        common = len(a & b)
        score = common / (len(a) + len(b) - common)
        if score >= threshold:
            found.append((i, j, score))
            if joined is not None:
                joined.union(i, j)
    return found


class _UnionFind:
    """Disjoint sets over hashable ids, with path halving; a root is its set's smallest id."""

    def __init__(self):
        self.parent: dict = {}

    def find(self, x):
        parent = self.parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, x, y) -> None:
        x, y = self.find(x), self.find(y)
        if x != y:
            self.parent[max(x, y)] = min(x, y)


def clusters(pairs: Iterable[Sequence]) -> list[list]:
    """Connected components of the pairs (i, j[, score]), merged transitively by union-find:
    each cluster sorted, clusters sorted by their first id. Ids in no pair are in no cluster."""
    if isinstance(pairs, np.ndarray):
        pairs = pairs.tolist()
    sets = _UnionFind()
    for pair in pairs:
        sets.union(pair[0], pair[1])
    groups: dict = {}
    for x in list(sets.parent):
        groups.setdefault(sets.find(x), []).append(x)
    return sorted((sorted(group) for group in groups.values()), key=lambda group: group[0])


def candidate_probability(j: float, bands: int, rows: int) -> float:
    """Probability that two texts with Jaccard j share at least one band: 1 - (1 - j**r)**b."""
    return 1.0 - (1.0 - j**rows) ** bands


def banding_for(threshold: float, num_perm: int, recall: float = 0.99) -> tuple[int, int]:
    """The (bands, rows) with bands * rows == num_perm and the most rows (fewest candidates
    below the threshold) that still makes a pair at exactly `threshold` a candidate with at
    least probability `recall`; ValueError when none does."""
    options = [(num_perm // r, r) for r in range(1, num_perm + 1) if num_perm % r == 0]
    good = [(b, r) for b, r in options if candidate_probability(threshold, b, r) >= recall]
    return max(good, key=lambda option: option[1])
