"""The import's fast path for common rows gives exactly what the general path gives, for any
row, and the compact structures behind the checks across rows remember what they must."""

import hashlib
import io
import sys
import unicodedata

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation.hashing import ASCII_BREAKS, content_hash, text_hash
from curation.importing import readers
from curation.importing.rows import Mapping, _plain_row, build_row, plain_rows
from curation.importing.seen import SeenKeys, hex_prefix_keys, repeats

EXTENSIONS = {"annotations": None}
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False),
    st.text(max_size=40), st.sampled_from(["", " ", "train", "TEST", "x" * 33, "y" * 256]),
)  # fmt: skip
values = st.one_of(scalars, st.dictionaries(st.text(max_size=5), scalars, max_size=3),
                   st.lists(scalars, max_size=3))  # fmt: skip
keys = st.sampled_from(["text", "id", "metadata", "source", "split", "prediction", "annotations",
                        "data", "final", "lang", "body", "ref"])  # fmt: skip


def both(fields: dict, mapping: Mapping):
    general = Mapping(**{name: getattr(mapping, name) for name in Mapping.__dataclass_fields__})
    general.plain = False
    return (build_row("line 3", 3, fields, mapping, EXTENSIONS),
            build_row("line 3", 3, fields, general, EXTENSIONS))  # fmt: skip


@given(st.dictionaries(keys, values, max_size=8))
def test_the_fast_path_gives_what_the_general_path_gives(fields):
    fast, general = both(fields, Mapping())
    assert fast == general


@given(st.dictionaries(keys, values, max_size=6), st.sampled_from(["body", "text"]))
def test_the_same_holds_with_another_text_and_id_field(fields, text):
    mapping = Mapping.from_dict({"text": text, "id": "ref", "default_source": "vendor"})
    fast, general = both(fields, mapping)
    assert fast == general


def test_common_rows_take_the_fast_path():
    fields = {"id": 7, "text": "Hi", "metadata": {"a": 1}, "lang": "en"}
    row = _plain_row("line 1", 1, fields, Mapping(), EXTENSIONS)
    assert row == build_row("line 1", 1, fields, Mapping(), EXTENSIONS)
    assert (row.external_id, row.data) == ("7", {"text": "Hi"})
    assert row.metadata == {"a": 1, "lang": "en"}
    assert row.content_hash == content_hash({"text": "Hi"})


@given(st.text())
def test_text_hash_is_the_content_hash_of_the_text(text):
    reference = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    try:
        expected = hashlib.sha256(reference.encode("utf-8")).hexdigest()
    except UnicodeEncodeError:  # lone surrogates: both refuse them
        return
    assert text_hash(text) == content_hash({"text": text}) == expected


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_text_hash_of_ascii_text_is_the_content_hash(text):
    """ASCII texts take a shortcut past the split and join; spaces, tabs, newlines and the
    other control characters must still collapse as the general rule says."""
    reference = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    assert text_hash(text) == hashlib.sha256(reference.encode()).hexdigest()


ASCII_EDGES = ["Hello World", " Hello", "Hello ", "Hello  World", "Hello\tWorld",
               "Hello\x1fWorld", "HELLO\x7f", "", " "]  # fmt: skip


def test_the_only_printable_whitespace_is_the_space():
    """text_hash skips the whitespace collapse for printable texts with single inner spaces,
    which is right only while this holds."""
    assert [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() and c.isprintable()] == [
        " "
    ]


def test_the_ascii_breaks_are_the_whitespace_split_breaks_on_besides_the_space():
    """ASCII text without these (and with single inner spaces) is hashed as it stands."""
    breaks = [c for c in map(chr, range(128)) if c.isspace() and c != " "]
    assert breaks == list(ASCII_BREAKS.decode())
    assert all(f"a{c}b".split() == ["a", "b"] for c in breaks)


@given(st.text(alphabet=st.sampled_from("aÄß ̈¨ﬁ\u00a0\u3000 \t\nxY€")))
def test_text_hash_of_text_rich_in_spaces_and_compatibility_characters(text):
    """NFKC can bring spaces (¨ becomes a space and a combining mark): the check for single
    spaces must look at the normalised text."""
    reference = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    assert text_hash(text) == hashlib.sha256(reference.encode()).hexdigest()


@pytest.mark.parametrize("text", ASCII_EDGES)
def test_text_hash_ascii_edges(text):
    reference = " ".join(text.casefold().split())
    assert text_hash(text) == hashlib.sha256(reference.encode()).hexdigest()


def test_text_hash_known_value():
    """Stored hashes depend on this exact value: NFKC, case-folded, whitespace collapsed."""
    assert text_hash("  Straße\u00a0ＦＯＯ \n") == hashlib.sha256(b"strasse foo").hexdigest()


def test_seen_keys_find_the_first_place_across_many_chunks():
    seen, rng = SeenKeys(), np.random.default_rng(3)
    keys = rng.integers(-(2**63), 2**63 - 1, size=20_000, dtype=np.int64).tolist()
    for start in range(0, 20_000, 700):
        chunk = keys[start : start + 700]
        assert seen.find(chunk) == {}
        seen.add(chunk, list(range(start, start + len(chunk))))
    assert len(seen) == 20_000
    probe = [keys[5], keys[19_999], 12345, keys[7_000]]
    assert seen.find(probe) == {keys[5]: 5, keys[19_999]: 19_999, keys[7_000]: 7_000}


def test_repeats_counts_rows_whose_hash_came_before():
    digests = [hashlib.sha256(str(i % 7).encode()).hexdigest() for i in range(20)]
    chunks = [hex_prefix_keys(digests[:9]), hex_prefix_keys(digests[9:]), hex_prefix_keys([])]
    assert repeats(chunks) == 20 - 7
    assert repeats([]) == 0


# --- whole blocks of JSON Lines ----------------------------------------------------------------

line_values = st.dictionaries(keys, values, max_size=6).map(lambda d: orjson.dumps(d))
odd_lines = st.sampled_from([b"", b"  ", b"[1]", b"{bad", b'{"text": "a\\u0000b"}', None,
                             b'{"text": "x", "a": 1, "b": 2, "c": 3}'])  # fmt: skip


def records_of(lines: list) -> list:
    """The reader's records for the lines (a line over the limit written as 99 bytes, the
    limit 98; blank lines give none)."""
    content = b"\n".join(b"x" * 99 if line is None else line for line in lines) + b"\n"
    return [r for chunk in readers._jsonl(io.BytesIO(content), 98, 3, 10_000) for r in chunk]


@given(st.lists(st.one_of(line_values, line_values, odd_lines), min_size=1, max_size=8))
def test_a_block_is_built_whole_only_when_every_line_is_a_plain_row(lines):
    """`plain_rows` takes a block exactly when each of its lines is a record without a problem
    that `_plain_row` takes, and builds the rows the general path builds from those records."""
    mapping = Mapping.from_dict({}, cells=False)
    rows = plain_rows(1, lines, mapping, EXTENSIONS, max_fields=3)
    records = records_of(lines)
    every_plain = len(records) == len(lines) and all(
        r.problem is None and _plain_row(r.where, r.line, r.fields, mapping, EXTENSIONS)
        for r in records
    )
    assert (rows is not None) == every_plain
    for row, record in zip(rows or [], records, strict=False):
        expected = build_row(record.where, record.line, record.fields, mapping, EXTENSIONS)
        expected.where = None  # rows built a block at a time are named by their line
        assert row == expected


def test_rows_of_a_block_are_numbered_from_its_first_line():
    lines = [b'{"text": "a", "id": "x"}', b'{"text": "b"}']
    rows = plain_rows(41, lines, Mapping(), EXTENSIONS)
    assert [row.line for row in rows] == [41, 42]
    assert rows[1].external_id == f"{text_hash('b')[:16]}-42"


def test_a_block_with_a_mapping_that_is_not_plain_is_left_to_the_records():
    mapping = Mapping.from_dict({"data_fields": ["text", "lang"]})
    assert plain_rows(1, [b'{"text": "a", "lang": "en"}'], mapping, EXTENSIONS) is None
