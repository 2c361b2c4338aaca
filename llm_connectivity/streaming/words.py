"""``buffer_words``: whole words with the whitespace after them.

A word is complete when the next word begins, so each piece is a word plus all the
whitespace that follows it (``"Hello "``, ``"world!\\n\\n"``); leading whitespace at the
start of a stream is a piece of its own. Joining the pieces gives the input exactly.

Scripts written without spaces are never held to the end: each Chinese or Japanese
character (Han, kana, CJK symbols, full-width forms) is a word of its own, and any run
longer than ``max_chars`` (Thai, a long URL, a wall of digits) is released in pieces of at
most ``max_chars`` characters, cut between grapheme clusters.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator

from ..models import StreamChunk
from ..tokens import TokenCounter
from .buffering import check_positive, run_segmenter, wrap
from .graphemes import safe_cut

__all__ = ["WordBuffer", "buffer_words"]

# Characters that are words on their own (no spaces in these scripts).
CJK = "\u2e80-\u2fdf\u3000-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f"
_PIECE = re.compile(rf"\s+|(?:[{CJK}]|[^\s{CJK}]+)\s*")
_BREAK = re.compile(rf"[\s{CJK}]")


class WordBuffer:
    """The ``feed()/flush()`` state of :func:`buffer_words`; usable without a generator.

    >>> words = WordBuffer()
    >>> words.feed("Hel"), words.feed("lo wor"), words.feed("ld"), words.flush()
    ([], ['Hello '], [], ['world'])
    """

    __slots__ = ("_held", "max_chars")

    def __init__(self, *, max_chars: int = 32) -> None:
        check_positive("max_chars", max_chars, allow_none=False, integer=True)
        self.max_chars = max_chars
        self._held = ""

    @property
    def held(self) -> bool:
        """True while some text is held back."""
        return bool(self._held)

    def feed(self, text: str) -> list[str]:
        """Add ``text``; return the words now complete."""
        before = self._held
        held = before + text
        if _BREAK.search(text) is None and (not before or _BREAK.match(before, len(before) - 1) is None):
            self._held = held
            return self._bound([]) if len(held) > self.max_chars else []
        pieces = _PIECE.findall(held)
        self._held = pieces.pop()
        return self._bound(pieces)

    def _bound(self, pieces: list[str]) -> list[str]:
        held = self._held
        while len(held) > self.max_chars:
            cut = safe_cut(held, self.max_chars)
            pieces.append(held[:cut])
            held = held[cut:]
        self._held = held
        return pieces

    def flush(self) -> list[str]:
        """Return the held text (the last word) and start afresh."""
        held, self._held = self._held, ""
        return [held] if held else []


def buffer_words(chunks: Iterable[StreamChunk], *, max_chars: int = 32, max_delay: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 counter: TokenCounter | None = None) -> Iterator[StreamChunk]:
    """Re-chunk a stream into whole words with their trailing whitespace.

    ``max_chars`` bounds the text held without a word boundary; ``max_delay`` (seconds)
    releases held text that waited that long, checked as each chunk arrives. Non-text
    chunks pass through in order (see :mod:`~llm_connectivity.streaming.buffering`).

    >>> from llm_connectivity.streaming import replay
    >>> [c.content for c in buffer_words(replay("Hello wor", chunk_size=3)) if c.content]
    ['Hello ', 'wor']
    """
    check_positive("max_delay", max_delay)
    segmenter = WordBuffer(max_chars=max_chars)
    return wrap(chunks, run_segmenter(chunks, segmenter, max_delay=max_delay, clock=clock, counter=counter))
