"""Leakage between splits: the pure parts (hashes, n-grams, coverage), with no ORM.

The leakage job stores two kinds of hashes per item in an indexed bigint column and joins the
splits of each pair in SQL; this module computes them and scores what the join found.

- Exact: `exact_hash` of the normalised text. A dev or test item whose hash equals a train item's
  is the same text up to case, width, spacing and surrounding punctuation.
- Word n-grams: `ngram_hashes`, the distinct 13-grams of an item's tokens, as in the
  decontamination of GPT-3 (Brown et al. 2020, "Language Models are Few-Shot Learners",
  appendix C), which counted a benchmark item as contaminated when it shared a 13-gram with the
  training data. An item with fewer than n tokens has no n-grams: it can only be caught by the
  exact hash and by the near-duplicate job.
- Boilerplate: n-grams found in more than `max_df` documents (a licence paragraph, a prompt
  template, a signature) say nothing about leakage; `frequent_ngrams` finds them so the job
  leaves them out before scoring.
- Scores: `coverage` is the share of a test item's distinct n-grams found in training;
  `covered_token_share` is the share of its tokens inside at least one matched n-gram. The second
  is what a reader means by "how much of this item is in train": one copied 20-token passage in a
  400-token item covers 5% of the tokens, while its 8 matched 13-grams are 2% of the n-grams.

Every hash is xxh3_64 (seed 0) read as a signed 64-bit integer, so it fits PostgreSQL's bigint.

The split leakage job hashes n-grams another way, `window_hashes`: the same tokens, each hashed
once and combined in numpy (curation.quality.dedup), about twenty times faster than a call of
xxh3 per window. Those values are kept in blocks for that job only and never compared with the
xxh3 ones, which reference texts are looked up by.
"""

import functools
import re
import unicodedata
from collections.abc import Iterable

import numpy as np
import xxhash

from curation.hashing import normalise_text
from curation.quality import dedup

NGRAM_SIZE = 13
SPLIT_PAIRS = [("train", "dev"), ("train", "test"), ("dev", "test")]

# Han ideographs, hiragana and katakana are written without spaces: each is one token, so a copied
# Chinese or Japanese passage still shares n-grams. Other scripts without spaces (Thai, Lao, Khmer,
# Burmese) give one token per space-separated run, so their n-gram check is coarse.
_CJK = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_FOLD_SIZE = 4_000_000  # hashes held before counting, in frequent_ngrams (32 MB)
# Bump when `window_hashes` changes: stored blocks then no longer match and are made again.
BLOCK_ALGORITHM = 1
# Bytes that separate tokens for `window_hashes`: every ASCII character but a letter or a digit.
_BLANKS = np.array([b < 128 and not chr(b).isalnum() for b in range(256)])
_P = np.uint64(0x9E3779B97F4A7C15)  # odd, so invertible mod 2**64
_P_INVERSE = np.uint64(pow(int(_P), -1, 1 << 64))
_U0 = np.uint64(0)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _is_trimmed(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


_TRIMMED_ASCII = "".join(char for char in map(chr, range(128)) if _is_trimmed(char))


def normalise_exact(text: str) -> str:
    """The text `exact_hash` hashes: NFKC, case-folded, runs of whitespace made one space, and
    leading and trailing whitespace and punctuation (Unicode categories P*) removed. Punctuation
    inside the text and symbols anywhere ("$", "+", emoji) are kept."""
    normalised = normalise_text(text)
    start, end = 0, len(normalised)
    while start < end and _is_trimmed(normalised[start]):
        start += 1
    while end > start and _is_trimmed(normalised[end - 1]):
        end -= 1
    return normalised[start:end]


def exact_hash(text: str) -> int:
    """Signed 64-bit xxh3 of `normalise_exact(text)`. Empty and punctuation-only texts all hash
    alike (to the hash of ""), so leave out texts whose `normalise_exact` is empty; the item
    checks report them.

    An ASCII text is its own NFKC and its casefold is `lower`, so it takes a shorter way to the
    same string: a quarter of the time, which is most of hashing a million items."""
    if text.isascii():
        normalised = " ".join(text.lower().split()).strip(_TRIMMED_ASCII)
    else:
        normalised = normalise_exact(text)
    return _signed(xxhash.xxh3_64_intdigest(normalised.encode("utf-8")))


@functools.cache
def _token_pattern() -> re.Pattern:
    # Python's \w has no combining marks, so "नमस्ते" or Arabic with vowel signs would break
    # inside words. The marks are read from the Unicode database once, on first use, and written
    # as ranges (a class of single characters outside the BMP is searched one by one). Letters
    # and marks are disjoint, so the pattern cannot backtrack.
    ranges: list[list[int]] = []
    for code in (*range(0x20000), *range(0xE0100, 0xE01F0)):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    marks = "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in ranges)
    word = f"[^\\W_{_CJK}]"
    return re.compile(f"[{_CJK}]|{word}+(?:[{marks}]+{word}*)*")


def tokens(text: str) -> list[str]:
    """Word tokens of the NFKC, case-folded text: runs of letters, digits and combining marks,
    except that each Han, hiragana or katakana character is a token of its own. Punctuation,
    symbols, underscores and whitespace separate tokens and are dropped."""
    return _token_pattern().findall(unicodedata.normalize("NFKC", text).casefold())


def _window_hashes(words: list[str], n: int) -> np.ndarray:
    """The hash of every window of n tokens, in order (repeats kept): xxh3_64 of the tokens
    joined by one space, in UTF-8."""
    if n < 1:
        raise ValueError("n must be at least 1.")
    if len(words) < n:
        return np.empty(0, dtype=np.int64)
    encoded = [word.encode("utf-8") for word in words]
    joined = memoryview(b" ".join(encoded))
    starts = np.cumsum([0] + [len(word) + 1 for word in encoded]).tolist()
    # Window i runs from the start of token i to the end of token i + n - 1 (the space after it
    # is excluded), which is the same bytes as " ".join(words[i:i + n]).
    digest = xxhash.xxh3_64_intdigest
    values = [digest(joined[starts[i] : starts[i + n] - 1]) for i in range(len(words) - n + 1)]
    return np.array(values, dtype=np.uint64).view(np.int64)


def ngram_hashes(text: str, n: int = NGRAM_SIZE) -> np.ndarray:
    """The distinct word n-grams of `text` as sorted signed 64-bit hashes (int64). Empty when the
    text has fewer than n tokens."""
    return np.unique(_window_hashes(tokens(text), n))


def _check_max_df(max_df: float | int) -> None:
    if isinstance(max_df, bool) or not isinstance(max_df, int | float):
        raise TypeError("max_df must be a share (float) or a number of documents (int).")
    if isinstance(max_df, float) and not 0.0 < max_df < 1.0:
        raise ValueError("max_df as a float is a share of documents, between 0 and 1.")
    if isinstance(max_df, int) and max_df < 1:
        raise ValueError("max_df as an int is a number of documents, at least 1.")


def _fold(values: np.ndarray, counts: np.ndarray, pending: list[np.ndarray]):
    """Adds the pending per-document hashes to the running (values, counts)."""
    if not pending:
        return values, counts
    new_values, new_counts = np.unique(np.concatenate(pending), return_counts=True)
    merged = np.concatenate([values, new_values])
    merged_counts = np.concatenate([counts, new_counts])
    order = np.argsort(merged, kind="stable")
    merged, merged_counts = merged[order], merged_counts[order]
    distinct, first = np.unique(merged, return_index=True)
    return distinct, np.add.reduceat(merged_counts, first)


def frequent_ngrams(
    doc_hashes: Iterable[np.ndarray],
    max_df: float | int,
    *,
    candidates: np.ndarray | None = None,
) -> set[int]:
    """The n-gram hashes found in more than `max_df` documents: a share of the documents when a
    float in (0, 1), a number of documents when an int (at least 1).

    `doc_hashes` yields one array per document; a hash repeated within a document counts once.
    Memory grows with the number of distinct hashes; with `candidates` (for instance the n-grams
    of the dev and test items) only those are counted, which bounds it. The documents are read
    once, in chunks."""
    _check_max_df(max_df)
    only = None if candidates is None else np.unique(np.asarray(candidates, dtype=np.int64))
    values = np.empty(0, dtype=np.int64)
    counts = np.empty(0, dtype=np.int64)
    pending: list[np.ndarray] = []
    held = documents = 0
    for hashes in doc_hashes:
        documents += 1
        distinct = np.unique(np.asarray(hashes, dtype=np.int64))
        if only is not None:
            distinct = distinct[np.isin(distinct, only, assume_unique=True)]
        pending.append(distinct)
        held += distinct.size
        if held >= _FOLD_SIZE:
            values, counts = _fold(values, counts, pending)
            pending, held = [], 0
    values, counts = _fold(values, counts, pending)
    limit = max_df * documents if isinstance(max_df, float) else max_df
    return set(values[counts > limit].tolist())


def _as_array(hashes) -> np.ndarray:
    if isinstance(hashes, np.ndarray):
        return hashes.astype(np.int64, copy=False)
    return np.fromiter(hashes, dtype=np.int64, count=len(hashes))


def matched_ngrams(
    test_ngrams: np.ndarray, train_ngrams: np.ndarray, *, exclude=None
) -> np.ndarray:
    """The test item's n-grams also found in training, less those in `exclude` (the frequent
    ones): what the SQL join returns, for use in memory and in tests."""
    found = np.intersect1d(_as_array(test_ngrams), _as_array(train_ngrams))
    if exclude:
        found = found[~np.isin(found, _as_array(exclude))]
    return found


def coverage(test_text_ngrams: np.ndarray, matched) -> float:
    """Share of the test item's distinct n-grams that are in `matched` (a set or an array of
    hashes); 0.0 for an item without n-grams."""
    test = np.unique(_as_array(test_text_ngrams))
    if test.size == 0:
        return 0.0
    return float(np.isin(test, _as_array(matched)).mean())


def covered_token_share(test_text: str, matched_hashes, n: int = NGRAM_SIZE) -> float:
    """Share of the test item's tokens that lie inside at least one n-gram in `matched_hashes`;
    0.0 for an item with fewer than n tokens. Use the same n as the hashes were made with."""
    return window_coverage(_window_hashes(tokens(test_text), n), matched_hashes, n)


def block_key(n: int) -> str:
    """Names what the split job's stored n-gram hashes depend on."""
    return f"ng{BLOCK_ALGORITHM}-n{n}"


def window_hashes(texts: list[str], n: int = NGRAM_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """The hash of every window of n `tokens` of each text, in order (repeats kept, int64), and
    how many each text has (none under n tokens).

    An ASCII text's tokens are its runs of letters and digits, lowered, so ASCII texts are split
    in numpy; any other is tokenised with `tokens` first. Each token is hashed as dedup hashes
    a word (u). A window starting at token i hashes to mix(sum of u[i + k] * P**k, k < n) mod
    2**64, P odd, taken from prefix sums of u[t] * P**t times P**-i (odd numbers are invertible
    mod 2**64): a few passes over the tokens whatever n is, where combining the 13 hashes one by
    one took 20 µs a text."""
    if n < 1:
        raise ValueError("n must be at least 1.")
    if not "".join(texts).isascii():
        texts = [text if text.isascii() else " ".join(tokens(text)) for text in texts]
    units, lengths = dedup._word_hashes(texts, _BLANKS)
    counts = np.maximum(lengths - n + 1, 0)
    total = int(counts.sum())
    if not total:
        return np.empty(0, np.int64), counts
    # First token of each window: its text's first token plus its rank in the text.
    first = np.repeat(np.cumsum(lengths) - lengths - (np.cumsum(counts) - counts), counts)
    first += np.arange(total)
    powers = np.cumprod(np.full(units.size, _P, dtype=np.uint64)) * _P_INVERSE  # P**t
    prefix = np.r_[_U0, np.cumsum(units * powers)]
    inverse = np.cumprod(np.full(units.size, _P_INVERSE, dtype=np.uint64)) * _P  # P**-t
    hashes = (prefix[first + n] - prefix[first]) * inverse[first]
    return dedup._mix64(hashes).view(np.int64), counts


def distinct_per_text(hashes: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each text's distinct hashes (in their first order) and how many, from hashes given one
    text after the other. Only values found twice in the whole chunk are looked at closely:
    a text rarely repeats a 13-gram."""
    counts = np.asarray(counts, dtype=np.int64)
    ordered = np.sort(hashes)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if not repeated.size:
        return hashes, counts
    owner = np.repeat(np.arange(counts.size), counts)
    look = np.flatnonzero(np.isin(hashes, repeated))
    order = look[np.lexsort((look, hashes[look], owner[look]))]
    again = (hashes[order][1:] == hashes[order][:-1]) & (owner[order][1:] == owner[order][:-1])
    keep = np.ones(hashes.size, dtype=bool)
    keep[order[1:][again]] = False
    return hashes[keep], np.bincount(owner[keep], minlength=counts.size)


def window_coverage(windows: np.ndarray, matched, n: int = NGRAM_SIZE) -> float:
    """`covered_token_share` from a text's window hashes in order (`window_hashes` or
    `_window_hashes`): the share of its tokens inside a window whose hash is in `matched`."""
    if windows.size == 0:
        return 0.0
    hits = np.flatnonzero(np.isin(windows, _as_array(matched)))
    covered = np.zeros(windows.size + n - 1, dtype=bool)
    for offset in range(n):
        covered[hits + offset] = True
    return float(covered.mean())
