"""``buffer_tokens``: groups of about ``n`` tokens.

Tokens are counted through the token-counter seam (:func:`llm_connectivity.tokens.get_counter`):
the exact tokenizer for the model when one is installed, the estimator otherwise. Text is
held until it counts at least ``n`` tokens; a chunk much larger than ``n`` is cut into
groups of about ``n`` tokens, preferably after whitespace, never inside a grapheme cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from ..models import StreamChunk
from ..tokens import TokenCounter, get_counter
from .buffering import TextHolder, check_positive, run_segmenter, wrap
from .graphemes import safe_cut

__all__ = ["TokenBuffer", "buffer_tokens", "split_by_tokens"]


def _cut_near(text: str, limit: int) -> int:
    """An offset ``<= limit`` after whitespace if there is one in the second half, else a
    grapheme boundary at ``limit``."""
    space = max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit))
    if space >= limit // 2:
        return space + 1
    return safe_cut(text, limit) or limit


def split_by_tokens(text: str, n: float, count: Callable[[str], int]) -> list[str]:
    """Cut ``text`` into pieces of about ``n`` tokens each (the last may be smaller)."""
    pieces: list[str] = []
    total = count(text)
    while total > n and len(text) > 1:
        limit = max(1, int(len(text) * n / total))
        cut = _cut_near(text, limit)
        pieces.append(text[:cut])
        text = text[cut:]
        total = count(text)
    if text:
        pieces.append(text)
    return pieces


class TokenBuffer(TextHolder):
    """The ``feed()/flush()`` state of :func:`buffer_tokens`.

    >>> groups = TokenBuffer(2)          # the estimator counts about a token per English word
    >>> groups.feed("one"), groups.feed(" two three"), groups.flush()
    ([], ['one two three'], [])
    """

    __slots__ = ("n", "_count")

    def __init__(self, n: int, *, counter: TokenCounter | None = None) -> None:
        check_positive("n", n, allow_none=False, integer=True)
        self.n = n
        self._count = (counter or get_counter()).count
        super().__init__()

    def feed(self, text: str) -> list[str]:
        """Add ``text``; return the groups now complete."""
        held = self.held_text + text
        tokens = self._count(held)
        if tokens < self.n:
            self.held_text = held
            return []
        self.held_text = ""
        if tokens < 2 * self.n:
            return [held]
        pieces = split_by_tokens(held, self.n, self._count)
        if self._count(pieces[-1]) < self.n:
            self.held_text = pieces.pop()
        return pieces


def buffer_tokens(chunks: Iterable[StreamChunk], *, n: int = 16, model: str | None = None,
                  counter: TokenCounter | None = None, max_delay: float | None = None,
                  clock: Callable[[], float] = time.monotonic) -> Iterator[StreamChunk]:
    """Re-chunk a stream into groups of about ``n`` tokens (counted for ``model``, or
    with ``counter``); exact concatenation.

    >>> from llm_connectivity.streaming import replay
    >>> [c.content for c in buffer_tokens(replay("aaaa bbbb cccc dddd"), n=2) if c.content]
    ['aaaa bbbb', ' cccc dddd']
    """
    check_positive("max_delay", max_delay)
    counter = counter or get_counter(model)
    segmenter = TokenBuffer(n, counter=counter)
    return wrap(chunks, run_segmenter(chunks, segmenter, max_delay=max_delay, clock=clock, counter=counter))
