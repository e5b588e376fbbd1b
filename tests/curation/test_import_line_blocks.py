"""JSON Lines is split into lines a block at a time: every line, with its number, must come out
as reading line by line would give it, wherever the block boundaries fall, and a line over the
limit must come out as one `None` in its place however many blocks it spans."""

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation.importing.readers import _line_blocks, _rechunked

BOM = b"\xef\xbb\xbf"


def by_line(content: bytes, limit: int) -> list[tuple[int, bytes | None]]:
    """What reading line by line gives: each physical line without its end, the BOM off the
    first, None for a line longer than `limit`; a last line without an end counts."""
    content = content.removeprefix(BOM)
    lines = content.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return [(n, None if len(line) > limit else line) for n, line in enumerate(lines, 1)]


def by_block(content: bytes, limit: int, block: int) -> list[tuple[int, bytes | None]]:
    out = []
    for first, lines in _line_blocks(io.BytesIO(content), limit, block_bytes=block):
        out.extend(enumerate(lines, first))
    return out


lines = st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"x")), max_size=30)


@given(lines=lines, end=st.booleans(), bom=st.booleans(), limit=st.integers(0, 10),
       block=st.integers(1, 16))  # fmt: skip
def test_blocks_give_the_lines_reading_line_by_line_gives(lines, end, bom, limit, block):
    content = (BOM if bom else b"") + b"\n".join(lines) + (b"\n" if end and lines else b"")
    assert by_block(content, limit, block) == by_line(content, limit)


def test_a_line_over_the_limit_spanning_blocks_is_one_none_and_numbering_goes_on():
    content = b'{"a":1}\n' + b"x" * 100 + b'\n{"b":2}\n' + b"y" * 50
    assert by_block(content, 20, 7) == [(1, b'{"a":1}'), (2, None), (3, b'{"b":2}'), (4, None)]


def test_a_line_of_exactly_the_limit_is_kept():
    assert by_block(b"abcde\nabcdef\n", 5, 4) == [(1, b"abcde"), (2, None)]


@given(parts=st.lists(st.lists(st.integers(), max_size=7), max_size=8), size=st.integers(1, 5))
def test_blocks_of_any_length_are_regrouped_into_chunks_of_the_size(parts, size):
    chunks = list(_rechunked(iter(parts), size))
    assert [item for chunk in chunks for item in chunk] == [item for part in parts for item in part]
    assert all(len(chunk) == size for chunk in chunks[:-1])
    assert all(0 < len(chunk) <= size for chunk in chunks)


def test_an_error_comes_after_the_items_read_before_it():
    def parts():
        yield [1, 2, 3]
        raise EOFError

    chunks = _rechunked(parts(), 2)
    assert next(chunks) == [1, 2]
    assert next(chunks) == [3]
    with pytest.raises(EOFError):
        next(chunks)
