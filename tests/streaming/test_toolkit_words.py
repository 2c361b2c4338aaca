"""buffer_words around CJK text (marks stay with their character, the ideographic space is
whitespace, the pieces never depend on how the text was chunked), and a chunk that is one
released piece passed on as that very chunk."""

from __future__ import annotations

import pytest
from toolkit_support import contents, split_every, text_chunks

from llm_connectivity.streaming import buffer_words

CASES = [
    ("〽\ufe0f ok", ["〽\ufe0f", " ok"]),  # an emoji-style variation selector
    ("か\u3099き", ["か\u3099", "き"]),  # a combining voicing mark
    ("葛\U000e0100城", ["葛\U000e0100", "城"]),  # an ideographic variation selector
    ("はい。\u3000 次", ["は", "い", "。", "\u3000 次"]),  # U+3000 is whitespace before a word
    ("word\u3000\tテ", ["word", "\u3000\tテ"]),
]


@pytest.mark.parametrize("text, expected", CASES)
@pytest.mark.parametrize("size", [1, 2, 3, 1000])
def test_pieces_keep_marks_and_do_not_depend_on_chunking(text: str, expected: list[str], size: int) -> None:
    assert contents(buffer_words(text_chunks(split_every(text, size)))) == expected


def test_a_chunk_that_is_exactly_one_released_piece_is_passed_on_as_that_chunk() -> None:
    from llm_connectivity.streaming import buffer_tokens

    chunks = text_chunks(["Hi. ", "a", "b", " c"])
    out = list(buffer_tokens(chunks, n=1))  # each of "a", "b", " c" is one group of one token
    assert [c.content for c in out][-3:] == ["a", "b", " c"]
    assert all(o is c for o, c in zip(out[-3:], chunks[1:]))  # the chunks themselves, not copies
