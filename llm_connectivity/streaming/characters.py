"""``buffer_characters``: one user-perceived character (grapheme cluster) per chunk.

Emoji with skin-tone modifiers, ZWJ sequences (``👩‍💻``), flags and letters with combining
marks stay whole, even when a model's chunk boundary falls inside them: the last cluster
of the text so far is held until the next character shows it is complete (or the stream
ends, or ``max_delay`` passes). See :mod:`~llm_connectivity.streaming.graphemes`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from ..models import StreamChunk
from ..tokens import TokenCounter
from .buffering import TextHolder, check_positive, run_segmenter, wrap
from .graphemes import split_graphemes, stable_end

__all__ = ["CharacterBuffer", "buffer_characters"]


class CharacterBuffer(TextHolder):
    """The ``feed()/flush()`` state of :func:`buffer_characters`.

    >>> chars = CharacterBuffer()
    >>> chars.feed("ab👍"), chars.feed("🏽c"), chars.flush()
    (['a', 'b'], ['👍🏽'], ['c'])
    """

    __slots__ = ()

    def feed(self, text: str) -> list[str]:
        """Add ``text``; return the characters now complete."""
        held = self.held_text + text
        end = stable_end(held)
        self.held_text = held[end:]
        return split_graphemes(held[:end])

    def flush(self) -> list[str]:
        """Return the held characters and start afresh."""
        return [cluster for held in super().flush() for cluster in split_graphemes(held)]


def buffer_characters(chunks: Iterable[StreamChunk], *, max_delay: float | None = None,
                      clock: Callable[[], float] = time.monotonic,
                      counter: TokenCounter | None = None) -> Iterator[StreamChunk]:
    """Re-chunk a stream into single grapheme clusters (a typewriter effect).

    >>> from llm_connectivity.streaming import replay
    >>> [c.content for c in buffer_characters(replay("héllo")) if c.content]
    ['h', 'é', 'l', 'l', 'o']
    """
    check_positive("max_delay", max_delay)
    return wrap(chunks, run_segmenter(chunks, CharacterBuffer(), max_delay=max_delay, clock=clock,
                                      counter=counter))
