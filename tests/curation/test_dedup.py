"""Near-duplicates: MinHash signatures, banded candidates, exact verification and clusters."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation.quality.dedup import (
    EMPTY,
    DedupParams,
    band_keys,
    band_keys_from_bytes,
    banding_for,
    candidate_pairs,
    candidate_probability,
    clusters,
    distinct_counts,
    jaccard,
    new_vs_all_pairs,
    normalise,
    shingle_hashes,
    shingles,
    sign_hashes,
    sign_shingles,
    signature_bytes,
    signature_from_bytes,
    signatures,
    verify,
    verify_hashes,
)

PARAMS = DedupParams()
MASK, GOLDEN = 2**64 - 1, 0x9E3779B97F4A7C15


def mix(x: int) -> int:
    """MurmurHash3's 64-bit finaliser, in plain integers."""
    x ^= x >> 33
    x = x * 0xFF51AFD7ED558CCD & MASK
    x ^= x >> 33
    x = x * 0xC4CEB93FE53EC5E3 & MASK
    return x ^ x >> 33


def word_hash(word: str) -> int:
    """The documented hash of a word, one 8-byte little-endian block at a time."""
    data = word.encode()
    h = (len(data) + 1) * GOLDEN & MASK
    for at in range(0, len(data), 8):
        h = mix((h ^ int.from_bytes(data[at : at + 8], "little")) * GOLDEN & MASK)
    return h


def char_hash(char: str) -> int:
    return mix(ord(char) ^ 0x243F6A8885A308D3)


def gram_hash(units: list[int]) -> int:
    h = units[0]
    for unit in units[1:]:
        h = mix((h * GOLDEN + unit) & MASK)
    return h


def words(tag: str, count: int) -> list[str]:
    return [f"{tag}{i}" for i in range(count)]


def edited_pair(shingle_count: int, replaced: int, tag: str) -> tuple[str, str]:
    """Two texts of distinct words, the second with its last `replaced` words new: each has
    shingle_count word n-grams and they share shingle_count - replaced, so their Jaccard is
    (shingle_count - replaced) / (shingle_count + replaced)."""
    original = words(tag, shingle_count + PARAMS.n - 1)
    edited = original[:-replaced] + words(f"{tag}new", replaced)
    return " ".join(original), " ".join(edited)


def near_duplicates(texts: list[str], params: DedupParams = PARAMS) -> list[tuple]:
    """The whole pipeline over texts numbered 0..n-1."""
    keys = band_keys(signatures(texts, params), params)
    pairs = candidate_pairs(np.arange(len(texts)), keys, max_bucket=params.max_bucket)
    sets = {i: shingles(text, params) for i, text in enumerate(texts)}
    return verify(pairs, sets, params.threshold)


UNRELATED = [" ".join(words(f"other{k}x", 30)) for k in range(20)]


@pytest.mark.parametrize(
    ("shingle_count", "replaced", "expected"), [(39, 1, 0.95), (37, 3, 0.85), (36, 4, 0.8)]
)
def test_pair_at_or_above_threshold_is_found(shingle_count, replaced, expected):
    a, b = edited_pair(shingle_count, replaced, "w")
    assert jaccard(shingles(a, PARAMS), shingles(b, PARAMS)) == pytest.approx(expected)
    found = near_duplicates([a, b, *UNRELATED])
    assert [(i, j) for i, j, _ in found] == [(0, 1)]
    assert found[0][2] == pytest.approx(expected)


@pytest.mark.parametrize(("shingle_count", "replaced", "expected"), [(40, 10, 0.6), (17, 3, 0.7)])
def test_pair_below_threshold_is_not_reported(shingle_count, replaced, expected):
    a, b = edited_pair(shingle_count, replaced, "w")
    assert jaccard(shingles(a, PARAMS), shingles(b, PARAMS)) == pytest.approx(expected)
    assert near_duplicates([a, b, *UNRELATED]) == []


def test_clusters_merge_transitively():
    """a ~ b and b ~ c make one cluster though a and c are too far apart to pair."""
    base = words("t", 42)
    a = " ".join(base)
    b = " ".join(base[:-4] + words("end", 4))
    c = " ".join(words("start", 4) + base[4:-4] + words("end", 4))
    found = near_duplicates([a, b, c, *UNRELATED])
    assert [(i, j) for i, j, _ in found] == [(0, 1), (1, 2)]
    assert clusters(found) == [[0, 1, 2]]


def test_clusters_are_sorted_and_disjoint():
    pairs = [(9, 7, 0.9), (3, 1, 0.8), (7, 8, 1.0), (1, 2, 0.85), (20, 5, 0.9)]
    assert clusters(pairs) == [[1, 2, 3], [5, 20], [7, 8, 9]]
    assert clusters([]) == []


def test_signatures_are_deterministic_and_seeded():
    texts = ["The quick brown fox jumps over the lazy dog", "Another text entirely", ""]
    first = signatures(texts, PARAMS)
    assert first.shape == (3, PARAMS.num_perm) and first.dtype == np.uint32
    assert np.array_equal(first, signatures(texts, DedupParams()))
    assert not np.array_equal(first[:2], signatures(texts, DedupParams(seed=2))[:2])


def test_signature_of_a_known_text_never_changes():
    """Stored signatures are compared with new ones: a change here must bump ALGORITHM."""
    row = signatures(["The quick brown fox jumps over the lazy dog"], PARAMS)[0]
    assert PARAMS.key() == "mh2-word3-p120-b20x6-s1"
    assert row[:4].tolist() == [943803074, 131010712, 116071597, 487887104]


def test_signature_bytes_round_trip():
    sigs = signatures(["one text here", "and another one"], PARAMS)
    for row in sigs:
        data = signature_bytes(row)
        assert len(data) == 4 * PARAMS.num_perm
        assert np.array_equal(signature_from_bytes(data, PARAMS), row)
    keys = band_keys(sigs, PARAMS)
    assert np.array_equal(band_keys_from_bytes(signature_bytes(keys[1]), PARAMS), keys[1])
    with pytest.raises(ValueError, match="Expected 120 values, got 119"):
        signature_from_bytes(signature_bytes(sigs[0][:-1]), PARAMS)


def test_boilerplate_bucket_stays_one_cluster_with_bounded_pairs():
    """1,200 copies of a notice share every band key: far over max_bucket, so the bucket is
    chained (1,199 pairs, not 719,400) and the copies are still one cluster."""
    notice = "This message and any attachments are confidential. " * 5
    texts = [notice] * 1200 + UNRELATED
    keys = band_keys(signatures(texts, PARAMS), PARAMS)
    pairs = candidate_pairs(np.arange(len(texts)), keys)
    assert len(pairs) == 1199
    sets = {i: shingles(text, PARAMS) for i, text in enumerate(texts)}
    assert clusters(verify(pairs, sets, PARAMS.threshold)) == [list(range(1200))]


def test_boilerplate_with_small_differences_stays_one_cluster():
    """Copies that differ by a ticket number fill every band's bucket: at most one chain per
    band (here 2,998 pairs, against 1,124,250 for all pairs), and still one cluster."""
    notice = " ".join(words("legal", 60))
    texts = [f"{notice} ticket {k}" for k in range(1500)]
    keys = band_keys(signatures(texts, PARAMS), PARAMS)
    pairs = candidate_pairs(np.arange(len(texts)), keys, max_bucket=100)
    assert len(pairs) <= PARAMS.bands * (len(texts) - 1)
    sets = {i: shingles(text, PARAMS) for i, text in enumerate(texts)}
    assert clusters(verify(pairs, sets, PARAMS.threshold)) == [list(range(1500))]


def test_candidate_pairs_are_ordered_unique_and_use_the_ids():
    texts = ["same words in this text", "same words in this text", "x", "same words in this text"]
    ids = np.array([50, 3, 17, 8])
    pairs = candidate_pairs(ids, band_keys(signatures(texts, PARAMS), PARAMS))
    assert pairs.tolist() == [[3, 8], [3, 50], [8, 50]]
    nothing = candidate_pairs(np.array([], dtype=np.int64), np.empty((0, 20), np.uint64))
    assert nothing.shape == (0, 2)


def test_incremental_run_pairs_only_involve_new_ids():
    old = [" ".join(words(f"doc{k}x", 25)) for k in range(30)]
    old += [old[0], old[1]]  # pairs among old items, found by an earlier run
    new = [old[2], old[3] + " more", " ".join(words("fresh", 25))]
    new += [new[2]]  # a pair of two new items
    texts = old + new
    ids = np.arange(100, 100 + len(texts))
    keys = band_keys(signatures(texts, PARAMS), PARAMS)
    new_ids = ids[len(old) :].tolist()
    pairs = new_vs_all_pairs(ids, keys, new_ids)
    assert all(i in new_ids or j in new_ids for i, j in pairs.tolist())
    every = candidate_pairs(ids, keys).tolist()
    assert pairs.tolist() == [p for p in every if p[0] in new_ids or p[1] in new_ids]
    assert [102, 132] in pairs.tolist() and [134, 135] in pairs.tolist()
    assert [100, 130] not in pairs.tolist()


def test_empty_and_short_texts():
    assert shingles("", PARAMS) == set() and shingles(" \n\t", PARAMS) == set()
    assert shingles("Two words", PARAMS) == {gram_hash([word_hash("two"), word_hash("words")])}
    texts = ["", "   ", "Two words", "two  WORDS", "a"]
    sigs = signatures(texts, PARAMS)
    assert (sigs[:2] == EMPTY).all() and not (sigs[2:] == EMPTY).any()
    keys = band_keys(sigs, PARAMS)
    assert (keys[:2] == 0).all() and (keys[2:] % 2 == 1).all()
    assert near_duplicates(texts) == [(2, 3, 1.0)]
    assert jaccard(set(), set()) == 0.0
    assert signatures([], PARAMS).shape == (0, PARAMS.num_perm)


def test_word_shingles_hash_n_grams_of_word_hashes():
    text = "  Ｔhe  café\tSERVES crème brûlée  "
    assert normalise(text) == "the café serves crème brûlée"
    grams = [["the", "café", "serves"], ["café", "serves", "crème"], ["serves", "crème", "brûlée"]]
    assert shingles(text, PARAMS) == {gram_hash([word_hash(w) for w in g]) for g in grams}


@pytest.mark.parametrize("text", ["abcdef", "naïve été"])
def test_char_shingles_hash_n_grams_of_characters(text):
    params = DedupParams(shingle="char", n=5)
    grams = {text[i : i + 5] for i in range(len(text) - 4)}
    assert shingles(text, params) == {gram_hash([char_hash(c) for c in g]) for g in grams}
    assert shingles("abc", params) == {gram_hash([char_hash(c) for c in "abc"])}


def test_words_of_every_length_hash_as_documented():
    """Blocks of 8 bytes: words of 1 to 8, 9 to 16 and more bytes, and multibyte characters."""
    words_ = ["a", "abcdefgh", "abcdefghi", "abcdefghabcdefgh", "x" * 41, "été", "日本語のテキスト"]
    unigram = DedupParams(n=1, num_perm=1, bands=1, rows=1)
    hashes, counts = shingle_hashes([" ".join(words_)], unigram)
    assert hashes.tolist() == [word_hash(w) for w in words_] and counts.tolist() == [7]


CHUNK_TEXTS = [
    "",
    "   ",
    "one",
    "Two Words",
    "tab\tand\nnewline\x1cfile\x1fseparators  end ",
    "\x00 a b",
    "ÉTÉ  Straße ﬁn de l'été",
    "\u3000ideographic\u2028line\u00a0space x",
    "ΑΣ greek final sigma",
    "ꭰꭱ Cherokee folds to capitals",
    " ".join(words("long", 40)),
]


@pytest.mark.parametrize("shingle", ["word", "char"])
def test_a_chunk_hashes_each_text_as_alone(shingle):
    """Texts hashed together (ASCII ones lowered in bulk, the others normalised one by one) give
    each text's shingles as hashing it alone does, and as `normalise` splits it."""
    params = DedupParams(shingle=shingle)
    for texts in (CHUNK_TEXTS, [t for t in CHUNK_TEXTS if t.isascii()]):
        hashes, counts = shingle_hashes(texts, params)
        ends = np.cumsum(counts)
        for text, end, count in zip(texts, ends, counts, strict=True):
            alone, _ = shingle_hashes([text], params)
            assert hashes[end - count : end].tolist() == alone.tolist()
            units = normalise(text).split(" ") if shingle == "word" else list(normalise(text))
            units = [u for u in units if u]
            assert count == (max(len(units) - params.n + 1, 1) if units else 0)


def test_signing_hashes_equals_signing_sets_and_counts_are_distinct():
    texts = ["a b c a b c a b c", "the same words", "", "x y"]
    hashes, counts = shingle_hashes(texts, PARAMS)
    sets = [shingles(text, PARAMS) for text in texts]
    assert np.array_equal(sign_hashes(hashes, counts, PARAMS), sign_shingles(sets, PARAMS))
    assert counts.tolist() == [7, 1, 0, 1]
    assert distinct_counts(hashes, counts).tolist() == [len(s) for s in sets] == [3, 1, 0, 1]


def test_params_are_checked_and_keyed():
    with pytest.raises(ValueError, match="bands \\* rows"):
        DedupParams(num_perm=128, bands=20, rows=6)
    with pytest.raises(ValueError, match="shingle"):
        DedupParams(shingle="sentence")
    assert DedupParams(threshold=0.9).key() == PARAMS.key()
    assert DedupParams(max_bucket=50).key() == PARAMS.key()
    assert len({DedupParams(n=5).key(), DedupParams(seed=2).key(), PARAMS.key()}) == 3


def test_banding_reaches_the_recall_at_the_threshold():
    assert banding_for(0.8, 120) == (20, 6)
    # With 128 permutations, 16 x 8 makes a pair at 0.8 a candidate only 95 % of the time.
    assert banding_for(0.8, 128) == (32, 4)
    assert candidate_probability(0.8, 20, 6) == pytest.approx(0.9977, abs=1e-4)
    assert candidate_probability(0.8, 16, 8) == pytest.approx(0.9470, abs=1e-4)


small_sets = st.frozensets(st.integers(0, 12), max_size=8)


@given(
    st.lists(small_sets, min_size=2, max_size=12),
    st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=30),
    st.floats(0.05, 1.0),
)
def test_verify_returns_exactly_the_pairs_at_or_above_threshold(sets, pairs, threshold):
    by_id = dict(enumerate(sets))
    pairs = [(i, j) for i, j in pairs if i < j < len(sets)]  # as candidate_pairs gives
    found = verify(pairs, by_id, threshold)
    assert all(score >= threshold for _, _, score in found)
    assert all(score == jaccard(by_id[i], by_id[j]) for i, j, score in found)
    assert [(i, j) for i, j, _ in found] == [
        (i, j) for i, j in pairs if jaccard(by_id[i], by_id[j]) >= threshold
    ]
    assert clusters(verify(pairs, by_id, threshold, spanning=True)) == clusters(found)


@given(
    st.lists(st.lists(st.integers(0, 12), max_size=10), min_size=2, max_size=12),
    st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=30),
    st.floats(0.05, 1.0),
    st.booleans(),
)
def test_verify_hashes_gives_what_verify_gives(texts, pairs, threshold, spanning):
    """The numpy verification of hash lists (repeats kept, as shingle_hashes gives them) finds
    the same pairs with the same scores, in the same order, as `verify` on sets."""
    ids = np.arange(10, 10 + len(texts))
    pairs = [(int(ids[i]), int(ids[j])) for i, j in pairs if i < j < len(texts)]
    hashes = np.array([h for text in texts for h in text], dtype=np.uint64)
    counts = np.array([len(text) for text in texts])
    sets = {int(pk): set(text) for pk, text in zip(ids, texts, strict=True)}
    expected = verify(pairs, sets, threshold, spanning=spanning)
    found = verify_hashes(np.array(pairs, dtype=np.int64), ids, hashes, counts, threshold,
                          spanning=spanning)  # fmt: skip
    assert found == expected


def test_verify_hashes_on_real_shingles_matches_verify():
    """Texts and their near-copies at several Jaccard levels: the same verified pairs."""
    base = [" ".join(words(f"doc{k}y", 40)) for k in range(20)]
    copies = [" ".join(text.split()[: 40 - k] + ["new"] * k) for k, text in enumerate(base)]
    texts = base + copies
    ids = np.arange(len(texts))
    pairs = candidate_pairs(ids, band_keys(signatures(texts, PARAMS), PARAMS))
    pairs = np.vstack([pairs, [[k, 20 + k] for k in range(20)]])
    hashes, counts = shingle_hashes(texts, PARAMS)
    sets = {i: shingles(text, PARAMS) for i, text in enumerate(texts)}
    assert verify_hashes(pairs, ids, hashes, counts, PARAMS.threshold) == verify(
        pairs.tolist(), sets, PARAMS.threshold
    )
    assert verify_hashes(pairs[:0], ids, hashes, counts, 0.8) == []
