"""Leakage between splits: exact hashes, 13-gram overlap, boilerplate left out, coverage."""

import numpy as np
import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from curation.quality import leakage
from curation.quality.leakage import (
    SPLIT_PAIRS,
    coverage,
    covered_token_share,
    exact_hash,
    frequent_ngrams,
    matched_ngrams,
    ngram_hashes,
    normalise_exact,
    tokens,
)


def words(prefix: str, count: int) -> str:
    """`count` distinct tokens, so every window of them is a distinct n-gram."""
    return " ".join(f"{prefix}{i}" for i in range(count))


PASSAGE = words("passage", 20)
LICENCE = (
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this "
    "software and associated documentation files, to deal in the Software without restriction."
)


def test_split_pairs_compare_each_later_split_with_every_earlier_one():
    assert SPLIT_PAIRS == [("train", "dev"), ("train", "test"), ("dev", "test")]


def test_exact_hash_ignores_case_width_spacing_and_surrounding_punctuation():
    planted = exact_hash("What is the capital of France?")
    assert exact_hash("  what IS the\tcapital   of\nfrance  ") == planted
    assert exact_hash("«What is the capital of France»") == planted
    assert exact_hash("Ｗｈａｔ ｉｓ ｔｈｅ ｃａｐｉｔａｌ ｏｆ Ｆｒａｎｃｅ") == planted
    assert normalise_exact(" ¿Qué tal? ") == "qué tal"


def test_exact_hash_keeps_words_inner_punctuation_and_symbols():
    assert exact_hash("The capital of Spain?") != exact_hash("The capital of France?")
    assert exact_hash("2+2=4") != exact_hash("2 2 4")
    assert exact_hash("$5") != exact_hash("5")


def test_exact_hash_is_xxh3_as_a_signed_64_bit_integer():
    unsigned = xxhash.xxh3_64_intdigest(b"leak")
    assert unsigned >= 2**63  # a value with the high bit set, so the sign flip is exercised
    assert exact_hash("Leak.") == unsigned - 2**64
    assert exact_hash("b") == xxhash.xxh3_64_intdigest(b"b")
    assert all(-(2**63) <= exact_hash(text) < 2**63 for text in ["", "a", "c", "hello world"])


def test_empty_and_punctuation_only_texts_share_one_hash():
    assert exact_hash("") == exact_hash("   ") == exact_hash("?!…")
    assert normalise_exact("?!…") == ""


def test_tokens_are_case_folded_words_without_punctuation():
    assert tokens("Don't STOP—the Straße, my_var: 2+2=4!") == [
        "don", "t", "stop", "the", "strasse", "my", "var", "2", "2", "4",
    ]  # fmt: skip


def test_tokens_keep_combining_marks_inside_words():
    assert tokens("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]
    assert tokens("ٱلْعَرَبِيَّة") == ["ٱلْعَرَبِيَّة"]
    assert tokens("Cafe\u0301 crème") == ["café", "crème"]  # NFKC composes the accent


def test_each_chinese_or_japanese_character_is_a_token():
    assert tokens("東京は日本abc") == ["東", "京", "は", "日", "本", "abc"]


def test_ngram_hash_is_xxh3_of_the_tokens_joined_by_one_space():
    text = "Alpha, beta; GAMMA delta."
    unsigned = xxhash.xxh3_64_intdigest(b"alpha beta gamma")
    got = ngram_hashes(text, n=3)
    assert got.dtype == np.int64
    assert (unsigned - 2**64 if unsigned >= 2**63 else unsigned) in got.tolist()
    assert len(got) == 2


def test_ngram_hashes_are_distinct_and_sorted():
    got = ngram_hashes(" ".join([PASSAGE] * 3))
    assert got.tolist() == sorted(set(got.tolist()))
    # 60 tokens, 48 windows, but the text repeats every 20 tokens: 20 distinct 13-grams.
    assert len(got) == 20


def test_text_shorter_than_n_tokens_has_no_ngrams():
    assert ngram_hashes(words("w", 12)).size == 0
    assert ngram_hashes(words("w", 12)).dtype == np.int64
    assert ngram_hashes(words("w", 13)).size == 1
    assert ngram_hashes("").size == 0


def test_short_items_are_caught_by_the_exact_hash_only():
    train, test = "Is the sky blue?", "is the SKY blue"
    assert exact_hash(train) == exact_hash(test)
    assert coverage(ngram_hashes(test), ngram_hashes(train)) == 0.0
    assert covered_token_share(test, ngram_hashes(train)) == 0.0


def test_n_must_be_positive():
    with pytest.raises(ValueError):
        ngram_hashes("a b c", n=0)


def test_a_copied_20_token_passage_is_found_and_scored():
    train = f"{words('train', 30)} {PASSAGE} {words('more', 10)}"
    test = f"{words('own', 10)} {PASSAGE.upper().replace(' ', ',  ')} {words('end', 10)}"
    test_ngrams = ngram_hashes(test)
    assert len(test_ngrams) == 40 - 13 + 1

    found = matched_ngrams(test_ngrams, ngram_hashes(train))

    assert len(found) == 20 - 13 + 1  # the 8 windows inside the passage
    assert coverage(test_ngrams, found) == pytest.approx(8 / 28)
    assert coverage(test_ngrams, set(found.tolist())) == pytest.approx(8 / 28)
    assert covered_token_share(test, found) == pytest.approx(20 / 40)


def test_a_passage_shorter_than_13_tokens_is_not_a_match():
    train = f"{words('train', 30)} {words('passage', 12)}"
    test = f"{words('passage', 12)} {words('own', 20)}"
    assert matched_ngrams(ngram_hashes(test), ngram_hashes(train)).size == 0


def test_a_clean_split_finds_nothing():
    train = [words(f"train{d}x", 40) for d in range(5)]
    test = [words(f"test{d}x", 40) for d in range(5)]
    train_ngrams = np.concatenate([ngram_hashes(text) for text in train])
    for text in test:
        found = matched_ngrams(ngram_hashes(text), train_ngrams)
        assert found.size == 0
        assert coverage(ngram_hashes(text), found) == 0.0
        assert covered_token_share(text, found) == 0.0
    assert not {exact_hash(text) for text in train} & {exact_hash(text) for text in test}


def test_a_shared_licence_paragraph_is_left_out_as_boilerplate():
    train = [f"{words(f'train{d}x', 30)} {LICENCE}" for d in range(10)]
    test = f"{words('test', 30)} {LICENCE}"
    documents = [ngram_hashes(text) for text in [*train, test]]
    train_ngrams = np.concatenate(documents[:-1])
    assert matched_ngrams(documents[-1], train_ngrams).size > 0  # found without the filter

    frequent = frequent_ngrams(documents, max_df=0.5)
    found = matched_ngrams(documents[-1], train_ngrams, exclude=frequent)

    assert found.size == 0
    assert coverage(documents[-1], found) == 0.0


def test_a_leak_that_also_contains_boilerplate_keeps_only_the_leaked_part():
    train = [f"{words(f'train{d}x', 30)} {LICENCE}" for d in range(10)]
    train[0] = f"{PASSAGE} {train[0]}"
    test = f"{LICENCE} {PASSAGE}"
    documents = [ngram_hashes(text) for text in [*train, test]]
    frequent = frequent_ngrams(documents, max_df=3)
    found = matched_ngrams(documents[-1], np.concatenate(documents[:-1]), exclude=frequent)
    assert set(found.tolist()) == set(ngram_hashes(PASSAGE).tolist())
    assert covered_token_share(test, found) == pytest.approx(20 / len(tokens(test)))


def test_frequent_means_more_than_max_df_documents():
    documents = [np.array([1, 2, 3]), np.array([1, 2]), np.array([1]), np.array([4])]
    assert frequent_ngrams(documents, max_df=2) == {1}  # 2 is in exactly 2 documents: kept
    assert frequent_ngrams(documents, max_df=1) == {1, 2}
    assert frequent_ngrams(documents, max_df=0.5) == {1}  # more than 2 of 4 documents
    assert frequent_ngrams(documents, max_df=0.3) == {1, 2}  # more than 1.2 documents
    assert frequent_ngrams([], max_df=1) == set()


def test_a_hash_repeated_in_one_document_counts_once():
    documents = [np.array([7, 7, 7, 7]), np.array([8])]
    assert frequent_ngrams(documents, max_df=1) == set()


def test_frequent_ngrams_reads_a_generator_once_and_counts_across_chunks(monkeypatch):
    rng = np.random.default_rng(0)
    documents = [rng.integers(0, 50, size=20, dtype=np.int64) for _ in range(40)]
    expected = frequent_ngrams(documents, max_df=0.3)
    monkeypatch.setattr(leakage, "_FOLD_SIZE", 7)
    assert frequent_ngrams((doc for doc in documents), max_df=0.3) == expected
    assert expected  # the draw is dense enough that some values are frequent


def test_candidates_limit_what_is_counted():
    documents = [np.array([1, 2]), np.array([1, 2]), np.array([1, 2])]
    assert frequent_ngrams(documents, max_df=1, candidates=np.array([2, 9])) == {2}


def test_negative_hashes_are_counted_like_any_other():
    low = -(2**63)
    documents = [np.array([low, -1]), np.array([low]), np.array([-1, 5])]
    assert frequent_ngrams(documents, max_df=1) == {low, -1}


@pytest.mark.parametrize("max_df", [0.0, 1.0, 1.5, 0, -2, True, "0.5", None])
def test_max_df_must_be_a_share_or_a_count(max_df):
    with pytest.raises((TypeError, ValueError)):
        frequent_ngrams([np.array([1])], max_df=max_df)


def test_coverage_of_an_item_without_ngrams_is_zero():
    assert coverage(np.empty(0, dtype=np.int64), {1, 2}) == 0.0
    assert coverage(np.array([1, 2, 3, 4]), set()) == 0.0
    assert coverage(np.array([1, 2, 3, 4]), {2, 4, 99}) == 0.5


def test_covered_token_share_counts_overlapping_windows_once():
    text = words("t", 30)
    windows = leakage._window_hashes(tokens(text), 13)
    # Windows 0 and 5 cover tokens 0-17; window 17 covers tokens 17-29: every token.
    assert covered_token_share(text, windows[[0, 5]]) == pytest.approx(18 / 30)
    assert covered_token_share(text, windows[[0, 5, 17]]) == 1.0


def test_a_copied_chinese_passage_is_found():
    passage = "机器学习是人工智能的一个分支它使计算机能够从数据中学习"
    train = f"这是训练集的第一段文字。{passage}。后面还有更多内容"
    test = f"问题：{passage}？"
    found = matched_ngrams(ngram_hashes(test), ngram_hashes(train))
    assert found.size == len(passage) - 13 + 1
    assert covered_token_share(test, found) == pytest.approx(len(passage) / (len(passage) + 2))


def test_full_width_and_accented_text_matches_its_plain_form():
    plain = "Ｃａｆｅ\u0301 " + words("w", 15)
    assert ngram_hashes(plain).tolist() == ngram_hashes("CAFÉ " + words("W", 15)).tolist()
    assert exact_hash(plain) == exact_hash("café " + words("w", 15))


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_the_ascii_way_to_the_exact_hash_gives_the_same_hash(text):
    expected = xxhash.xxh3_64_intdigest(normalise_exact(text).encode())
    assert exact_hash(text) % 2**64 == expected


def test_window_hashes_follow_the_tokens_whatever_the_script_around_them():
    """The split job's n-gram hashes: the same 13 tokens hash alike in an ASCII text and in one
    that needs Unicode tokenising, and a text of fewer than 13 tokens has none."""
    ascii_text = f"Intro, words! {PASSAGE} -- the end"
    other = f"Voilà «{PASSAGE.upper()}» fin"
    hashes, counts = leakage.window_hashes([ascii_text, other, words("short", 12)])
    assert counts.tolist() == [len(tokens(ascii_text)) - 12, len(tokens(other)) - 12, 0]
    first, second = hashes[: counts[0]], hashes[counts[0] :]
    assert len(set(first.tolist()) & set(second.tolist())) == 20 - 12  # the passage's windows
    share = leakage.window_coverage(second, first, 13)
    assert share == pytest.approx(20 / len(tokens(other)))
    values, sizes = leakage.distinct_per_text(*leakage.window_hashes([PASSAGE + " " + PASSAGE]))
    assert sizes.tolist() == [len(set(values.tolist()))] and len(values) < 40 - 12
