"""Near-duplicate texts: MinHash signatures, banded LSH, exact verification, clusters (no ORM).

The pipeline, in the order the job calls it:

1. `shingle_hashes` (`shingles` for one text, as a set): 64-bit hashes of a text's word or
   character n-grams after `normalise`, built in numpy from one hash per word or character.
   Two texts are near-duplicates when the Jaccard similarity of these sets is at least
   `threshold`.
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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import xxhash

from curation.hashing import normalise_text

# Bump when shingling, permutations or band hashing change: stored keys then no longer match and
# every item is signed again.
ALGORITHM = 2
EMPTY = 0xFFFFFFFF  # every minimum of a text without shingles
# Shingles per block while signing: num_perm x 8,192 x 8 bytes = 7.5 MiB at 120 perms, which
# stays in cache; 32,768 ran at 60 % of the speed.
_CHUNK = 1 << 13
_U64 = np.uint64
_M1, _M2 = _U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB93FE53EC5E3)
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_ALL = _U64(0xFFFFFFFFFFFFFFFF)
_CHAR_SALT = _U64(0x243F6A8885A308D3)  # keeps code point 0 from hashing to 0


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
      But character 5-grams ran the Debian descriptions at 32,400 items/s and the messages at
      1,700, against 111,800 and 16,300 for word 3-grams (word 5-grams: 131,700 and 23,000).
    - 120 permutations in 20 bands of 6 rows: a pair at exactly 0.8 becomes a candidate with
      probability 0.998; 16 bands of 8 (128 permutations) give 0.947 and found 34,738 of the
      34,786 Debian pairs at exact Jaccard >= 0.8, where 20 x 6 found 34,784 (with the hashes
      before ALGORITHM 2: 34,563 and 34,785). 32 x 4 found all 34,786 but drew 2.2 times as
      many candidates and ran a third slower.
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


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: what np.unique gives, by a sort and a comparison of
    neighbours. np.unique took 0.92 s for a million int64 here, against 0.016 s (numpy 2.4)."""
    values = np.sort(np.asarray(values).ravel())
    return values[np.r_[True, values[1:] != values[:-1]]] if values.size else values


def normalise(text: str) -> str:
    """NFKC, case-folded, runs of whitespace made one space, trimmed."""
    return normalise_text(text)


def shingles(text: str, params: DedupParams) -> set[int]:
    """The set of the text's 64-bit shingle hashes (see `shingle_hashes`); empty for a text with
    nothing left after `normalise`."""
    return set(shingle_hashes([text], params)[0].tolist())


def shingle_hashes(texts: Sequence[str], params: DedupParams) -> tuple[np.ndarray, np.ndarray]:
    """The shingle hashes of every text, one text after the other, repeats kept (uint64), and
    how many each text has (int64).

    Each unit (a word of the normalised text, or a character) is hashed once per occurrence,
    a word by `_byte_hashes` of its UTF-8 and a character by a mix of its code point, both in
    numpy over the whole chunk. An n-gram of units with hashes u1..un hashes to h = u1, then
    h = mix(h * golden + uk) for each next unit, mix being MurmurHash3's finaliser (`_ngrams`).
    A text of fewer than n units has one shingle, all its units. On 90-word texts this takes
    about 7 µs a text, against 40 µs for one xxh3 call per joined n-gram; xxh3 once per word
    from Python, with or without a cache of distinct words, still took 15 to 25 µs.

    Every step of both hashes is a bijection of the next block or unit for a given state, so
    two different words of up to 8 bytes and the same length never collide, and other pairs of
    different n-grams collide with probability about 2**-64. The Jaccard of two texts' hash sets
    therefore differs from that of their n-gram sets only when two of their 2s shingles collide,
    with probability about (2s)**2 / 2**65 (1e-15 for 90-word texts): verification on the hash
    sets is exact for all practical purposes."""
    if params.shingle == "word":
        units, lengths = _word_hashes(texts)
    else:
        units, lengths = _char_hashes([normalise(text) for text in texts])
    return _ngrams(units, lengths, params.n)


def _word_hashes(
    texts: Sequence[str], blanks: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The hash of every word of the normalised texts (`_byte_hashes` of its UTF-8), and each
    text's word count. `blanks` (256 booleans) names the bytes that separate words, when not
    ASCII whitespace.

    An ASCII text is its own NFKC and its casefold is `lower`, so it is only lowered (a chunk
    of ASCII texts in one call: 0.5 s less per 200,000 texts); any other is normalised. The
    words are then found in numpy over all the texts' bytes at once: runs of bytes that
    str.split() does not take for ASCII whitespace, within a text. (A normalised text's only
    whitespace is a space, and no byte of a multibyte UTF-8 character is ASCII.)"""
    joined = "".join(texts)
    if joined.isascii():  # the common case: one call each for the whole chunk
        parts, joined = texts, joined.lower()
    else:
        parts = [text.lower() if text.isascii() else normalise(text) for text in texts]
        joined = "".join(parts)
    data = joined.encode()
    sizes = map(len, parts) if len(data) == len(joined) else (len(p.encode()) for p in parts)
    lengths = np.fromiter(sizes, np.int64, count=len(parts))
    starts = np.cumsum(lengths) - lengths
    buffer = np.frombuffer(data + bytes(8), dtype=np.uint8)
    if blanks is not None:
        blank = blanks[buffer]
    else:  # tab to carriage return, 28 to 31 and space, in three comparisons (not a table)
        blank = buffer == 32
        blank |= (buffer - np.uint8(9)) <= 4
        blank |= (buffer - np.uint8(28)) <= 3
    blank[-8:] = True
    # A word starts after a blank or at a text's start and ends before a blank or a text's end.
    after = np.r_[True, blank[:-1]]
    before = np.r_[blank[1:], True]
    inside = starts[starts < len(data)]
    after[inside] = True
    before[inside - 1] = True
    first = np.flatnonzero(~blank & after)
    last = np.flatnonzero(~blank & before)
    # Words per text: where each text's start falls among the word starts.
    lengths = np.diff(np.searchsorted(first, np.r_[starts, buffer.size])).astype(np.int64)
    return _byte_hashes(buffer, first, last + 1 - first), lengths


def _byte_hashes(buffer: np.ndarray, first: np.ndarray, size: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each byte string buffer[first:first + size] (size >= 1, buffer padded
    with 8 bytes): h = golden * (size + 1), then h = mix((h ^ block) * golden) for each 8-byte
    little-endian block, the last zero-padded. For a fixed size and h each step is a bijection
    of the block, so words of up to 8 bytes never collide with each other."""
    # Every byte offset read as the start of a little-endian uint64 (unaligned, strided view).
    words64 = np.ndarray((buffer.size - 7,), dtype="<u8", buffer=buffer, strides=(1,))
    hashes = (size.astype(np.uint64) + _U64(1)) * _GOLDEN
    active = None  # all words in the first round, then those longer than the blocks so far
    for offset in range(0, int(size.max(initial=0)), 8):
        if offset:
            active = (
                np.flatnonzero(size > offset) if active is None else active[size[active] > offset]
            )
        at = first + offset if active is None else first[active] + offset
        left = np.minimum(size if active is None else size[active], offset + 8) - offset
        # The block's first `left` bytes: all ones shifted right by the bits of the others.
        block = words64[at] & (_ALL >> ((_U64(8) - left.astype(np.uint64)) * _U64(8)))
        block ^= hashes if active is None else hashes[active]
        block *= _GOLDEN
        if active is None:
            hashes = _mix64(block)
        else:
            hashes[active] = _mix64(block)
    return hashes


def _char_hashes(norms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A mix of every character's code point (UTF-32 of the joined texts), and each text's
    length in characters."""
    lengths = np.fromiter(map(len, norms), np.int64, count=len(norms))
    points = np.frombuffer("".join(norms).encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    points ^= _CHAR_SALT
    return _mix64(points), lengths


def word_ngrams(
    texts: Sequence[str], n: int, blanks: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The hash of every window of n words of each text, in order (repeats kept), and how many
    each text has: none for a text of fewer than n words (unlike `shingle_hashes`). Words are
    hashed and combined as in `shingle_hashes`; `blanks` as in `_word_hashes`."""
    units, lengths = _word_hashes(texts, blanks)
    return _ngrams(units, lengths, n, whole_short=False)


def _ngrams(
    units: np.ndarray, lengths: np.ndarray, n: int, *, whole_short: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The n-gram hashes of consecutive units within each text (a shorter text: one hash of
    all its units, or none without `whole_short`), and how many each text has."""
    short = np.minimum(lengths, 1) if whole_short else 0
    counts = np.where(lengths >= n, lengths - n + 1, short)
    total = int(counts.sum())
    # Unit index of each shingle's first unit: its text's first unit plus its rank in the text.
    skip = np.repeat(np.cumsum(lengths) - lengths - (np.cumsum(counts) - counts), counts)
    first = skip + np.arange(total)
    span = np.repeat(np.minimum(lengths, n), counts)
    hashes = units[first]
    for k in range(1, n):
        more = span > k
        if more.all():
            hashes *= _GOLDEN
            hashes += units[first + k]
            _mix64(hashes)
        elif more.any():
            mixed = hashes[more] * _GOLDEN + units[first[more] + k]
            hashes[more] = _mix64(mixed)
    return hashes, counts


def distinct_counts(hashes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """How many distinct hashes each text of `shingle_hashes` has. Counted by one sort of keys
    holding the text's number in the high bits and the hash's top 40 or more bits below it
    (texts taken 2**24 at a time): two shingles of a text of s that agree on those bits, which
    happens with probability under s**2 / 2**41, count once."""
    counts = np.asarray(counts, dtype=np.int64)
    ends = np.cumsum(counts)
    out = np.zeros(counts.size, np.int64)
    for lo in range(0, counts.size, 1 << 24):
        part = counts[lo : lo + (1 << 24)]
        start = int(ends[lo] - counts[lo])
        block = hashes[start : start + int(part.sum())]
        bits = max(1, (part.size - 1).bit_length())
        owner = np.repeat(np.arange(part.size, dtype=np.uint64), part)
        keys = np.sort((owner << _U64(64 - bits)) | (block >> _U64(bits)))
        firsts = keys[np.r_[True, keys[1:] != keys[:-1]]] if keys.size else keys
        out[lo : lo + part.size] = np.bincount(
            (firsts >> _U64(64 - bits)).astype(np.int64), minlength=part.size
        )
    return out


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
    """MinHash rows (len, num_perm) uint32 of precomputed shingle sets; see `sign_hashes`."""
    counts = np.fromiter(map(len, shingle_sets), dtype=np.int64, count=len(shingle_sets))
    flat = np.fromiter(chain.from_iterable(shingle_sets), dtype=np.uint64, count=counts.sum())
    return sign_hashes(flat, counts, params)


def sign_hashes(hashes: np.ndarray, counts: np.ndarray, params: DedupParams) -> np.ndarray:
    """MinHash rows (len(counts), num_perm) uint32 of texts whose shingle hashes are `hashes`,
    `counts[i]` of them for text i, one text after the other (repeats change nothing).

    Permutation k maps a shingle hash x to the high 32 bits of a_k * x + b_k mod 2**64
    (multiply-add-shift). The shingles are read in blocks of `_CHUNK`, a text's minima being
    carried across blocks, so memory is bounded whatever the lengths of the texts."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(counts.size), counts)
    out = np.full((counts.size, params.num_perm), EMPTY, dtype=np.uint32)
    a, b = _permutations(params)
    buffer = np.empty((params.num_perm, min(_CHUNK, hashes.size)), dtype=np.uint64)
    for start in range(0, hashes.size, _CHUNK):
        block, own = hashes[start : start + _CHUNK], owner[start : start + _CHUNK]
        cuts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
        values = buffer[:, : block.size]
        np.multiply(a[:, None], block, out=values)
        values += b[:, None]
        # (num_perm, block) layout: each text's shingles are contiguous along axis 1, where
        # reduceat is about twenty times faster than along axis 0. The least 64-bit value has
        # the least high half, so the minima are taken whole and shifted once.
        minima = np.minimum.reduceat(values, cuts, axis=1) >> _U64(32)
        rows = own[cuts]
        out[rows] = np.minimum(out[rows], minima.T)
    return out


def signatures(texts: list[str], params: DedupParams) -> np.ndarray:
    """MinHash signatures (len(texts), num_perm) uint32, deterministic for `params.key()`.

    numpy over the shingle hashes, chosen by measurement on the Debian package descriptions
    (63,666 texts, one core, shingles and signatures): numpy 276,700 items/s, rensa 97,200 over
    the same hashes (its digests come back as lists of Python ints, and turning them into an
    array costs more than the hashing), datasketch 30,500; for the whole pipeline 109,200,
    62,900 and 26,500. Its output is also defined here rather than by a library's version,
    which matters for stored signatures."""
    return sign_hashes(*shingle_hashes(texts, params), params)


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
    if ids.size > 1 and not (ids[1:] > ids[:-1]).all():
        by_id = np.argsort(ids, kind="stable")
        ids, band_keys = ids[by_id], band_keys[by_id]
        new = None if new is None else np.asarray(new, dtype=bool)[by_id]
    elif new is not None:
        new = np.asarray(new, dtype=bool)
    n_items, n_bands = band_keys.shape
    whole = _Whole(band_keys)
    codes = []
    # One band at a time: keys of different bands never match, and sorting n keys twenty times
    # holds a twentieth of the memory of sorting them all at once, and is faster.
    for band in range(n_bands):
        column = band_keys[:, band]
        member = np.flatnonzero(column != 0)
        keys = column[member]
        order = np.argsort(keys)
        first, second = _bucket_pairs(keys[order], member[order], whole, max_bucket)
        if new is not None:
            wanted = new[first] | new[second]
            first, second = first[wanted], second[wanted]
        low, high = np.minimum(first, second), np.maximum(first, second)
        distinct = low != high
        codes.append(low[distinct] * n_items + high[distinct])
    # Sort and drop repeats: np.unique was a hundred times slower here (numpy 2.4).
    codes = np.sort(np.concatenate(codes)) if codes else np.empty(0, np.int64)
    codes = codes[np.r_[True, codes[1:] != codes[:-1]]] if codes.size else codes
    return np.stack([ids[codes // n_items], ids[codes % n_items]], axis=1)


class _Whole:
    """A hash of all of an item's band keys (its whole signature), computed when first asked."""

    def __init__(self, band_keys: np.ndarray):
        self.band_keys, self.values = band_keys, None

    def __getitem__(self, positions):
        if self.values is None:
            self.values = np.bitwise_xor.reduce(self.band_keys, axis=1)
        return self.values[positions]


def _bucket_pairs(keys, member, whole, max_bucket):
    """Item positions (first, second) of the pairs drawn from the runs of equal sorted keys:
    every pair of a run of up to max_bucket items; in a longer run, each item and the next once
    the run is ordered by whole signature (`whole[positions]`, a hash of all the item's band
    keys) and position."""
    if keys.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, keys.size])
    if sizes.max() == 1:  # no key shared: the common case for a band
        return np.empty(0, np.int64), np.empty(0, np.int64)
    # Only the runs of two or more items matter: drop the singletons first.
    shared = sizes > 1
    starts, sizes = starts[shared], sizes[shared]
    keep = np.repeat(starts, sizes) + (np.arange(int(sizes.sum())) -
                                       np.repeat(np.cumsum(sizes) - sizes, sizes))  # fmt: skip
    member = member[keep]
    starts = np.cumsum(sizes) - sizes
    total = member.size
    size = np.repeat(sizes, sizes)
    large = size > max_bucket
    if large.any():
        run = np.repeat(np.arange(sizes.size), sizes)[large]
        member = member.copy()
        member[large] = member[large][np.lexsort((member[large], whole[member[large]], run))]
    rank = np.arange(total) - np.repeat(starts, sizes)
    later = size - 1 - rank  # members after this one in its run
    count = np.where(large, np.minimum(later, 1), later)
    first = np.repeat(np.arange(total), count)
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


def verify_hashes(
    pairs: np.ndarray,
    ids: np.ndarray,
    hashes: np.ndarray,
    counts: np.ndarray,
    threshold: float,
    *,
    spanning: bool = False,
) -> list[tuple[int, int, float]]:
    """`verify` in numpy: the same result for pairs (k, 2) of `ids` (sorted, distinct), whose
    shingle hashes are `hashes`, `counts[i]` of them for ids[i], as `shingle_hashes` gives them.

    Every hash is replaced by its rank among the distinct hashes, an exact renaming. A pair's
    two sets then fit in one sorted int64 array as (pair number, rank), and the shingles they
    share are the equal neighbours in it. At 17,000 candidate pairs this took a fifth of the time
    of building Python sets and intersecting them."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    ids, counts = np.asarray(ids, dtype=np.int64), np.asarray(counts, dtype=np.int64)
    if not len(pairs) or not hashes.size:
        return []
    # Sorts, not np.unique, which took 2.9 s here against 0.2 s (numpy 2.4).
    order = np.argsort(hashes)
    ordered = hashes[order]
    rank = np.empty(hashes.size, dtype=np.int64)
    rank[order] = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1
    bits = max(1, int(rank.max() + 1).bit_length())
    owner = np.repeat(np.arange(ids.size, dtype=np.int64), counts)
    # Each text's distinct shingles once, ordered by text then rank.
    keys = np.sort((owner << bits) | rank)
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
    ranks = keys & ((1 << bits) - 1)
    sizes = np.bincount(keys >> bits, minlength=ids.size)
    starts = np.cumsum(sizes) - sizes
    a, b = np.searchsorted(ids, pairs[:, 0]), np.searchsorted(ids, pairs[:, 1])
    small, large = np.minimum(sizes[a], sizes[b]), np.maximum(sizes[a], sizes[b])
    scores = np.zeros(len(pairs))
    # Pairs whose sizes alone rule them out are never intersected (as in `verify`).
    todo = np.flatnonzero((small > 0) & (small >= threshold * large))
    step = max(1, min(1 << (62 - bits), 4_000_000) // max(1, int(2 * large.max())))
    for start in range(0, todo.size, step):
        batch = todo[start : start + step]
        scores[batch] = _jaccards(a[batch], b[batch], sizes, starts, ranks, bits)
    found = []
    joined = _UnionFind() if spanning else None
    for n in np.flatnonzero(scores >= threshold).tolist():
        i, j = int(pairs[n, 0]), int(pairs[n, 1])
        if joined is not None:
            if joined.find(i) == joined.find(j):
                continue
            joined.union(i, j)
        found.append((i, j, float(scores[n])))
    return found


def _jaccards(a, b, sizes, starts, ranks, bits) -> np.ndarray:
    """Exact Jaccard of the rank sets of texts a[k] and b[k], for each k."""
    seg_starts = np.stack([starts[a], starts[b]], axis=1).ravel()
    seg_sizes = np.stack([sizes[a], sizes[b]], axis=1).ravel()
    total = int(seg_sizes.sum())
    at = np.repeat(seg_starts - (np.cumsum(seg_sizes) - seg_sizes), seg_sizes) + np.arange(total)
    number = np.repeat(np.arange(a.size, dtype=np.int64), sizes[a] + sizes[b])
    combined = np.sort((number << bits) | ranks[at])
    same = combined[1:] == combined[:-1]
    common = np.bincount(combined[1:][same] >> bits, minlength=a.size)
    return common / (sizes[a] + sizes[b] - common)


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
