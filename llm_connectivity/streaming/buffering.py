"""The loop every text buffer shares: feed chunk text to a segmenter, emit its pieces.

A *segmenter* is a small object with ``feed(text) -> list[str]`` (the pieces that are now
complete) and ``flush() -> list[str]`` (everything still held), plus a ``held`` flag. It
knows nothing about chunks or generators, so it can be driven from a callback too.
:func:`run_segmenter` turns one into a chunk wrapper with the rules all buffers follow:

* text pieces become new chunks (``content`` = the piece, ``index`` = the index of the
  chunk whose arrival completed it, ``token_count`` from the token-counter seam), except
  that a piece that is exactly the whole text of one chunk is that chunk, passed on as is;
* a chunk that carries anything besides text (finish reason, usage, tool-call deltas,
  reasoning, ``is_complete``) is passed through unchanged, after the text held before it
  has been flushed; if it also carries text, that text is fed first and the chunk passes
  on with ``content=""``. Chunks with nothing at all (e.g. a role-only event) pass through
  as they are, without flushing;
* ``max_delay``: on each incoming chunk, text held for ``max_delay`` seconds or more is
  released (a generator can only act when its source yields, so with a silent source the
  release happens when the next chunk arrives; see ``to_sse(keepalive=...)`` for a timer
  thread);
* at the end of the stream, and before an exception from the source propagates, held
  text is flushed;
* closing the wrapper closes the source (``finally``), freeing a ChatStream's connection.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from ..errors import ConfigurationError
from ..models import StreamChunk, make_chunk
from ..tokens import TokenCounter, get_counter
from .chain import close_source, link

__all__ = ["Segmenter", "TextHolder", "check_positive", "run_segmenter", "wrap"]


class Segmenter(Protocol):
    """Splits streamed text into pieces; see the module docstring."""

    #: the text held back now (a piece that is exactly one chunk's text is that str object)
    held_text: str

    @property
    def held(self) -> bool:
        """True while some text is held back."""

    def feed(self, text: str) -> list[str]:
        """Add ``text``; return the pieces now complete (possibly none)."""

    def flush(self) -> list[str]:
        """Return everything held, as pieces, and start afresh."""


class TextHolder:
    """Base of the segmenters: the held text, :attr:`held`, and a :meth:`flush` that
    returns the held text as one piece."""

    __slots__ = ("held_text",)

    def __init__(self) -> None:
        self.held_text = ""

    @property
    def held(self) -> bool:
        """True while some text is held back."""
        return bool(self.held_text)

    def flush(self) -> list[str]:
        """Return the held text and start afresh."""
        held, self.held_text = self.held_text, ""
        return [held] if held else []


def check_positive(name: str, value: float | None, *, allow_none: bool = True, integer: bool = False) -> None:
    """Raise ConfigurationError unless ``value`` is a positive number (or None when allowed)."""
    if value is None and allow_none:
        return
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
        what = "a positive integer" if integer else "a positive number"
        raise ConfigurationError(f"{name} must be {what}" + (" or None" if allow_none else "") + f", got {value!r}")


class _Emitter:
    """Turns pieces into chunks. A piece that is exactly the text of the one chunk it came
    from (``solo``) is passed on as that chunk (same object: no new allocation, its index
    and raw event kept); other pieces become new chunks."""

    __slots__ = ("count",)

    def __init__(self, counter: TokenCounter | None) -> None:
        self.count = (counter or get_counter()).count

    def chunks(self, pieces: list[str], at: StreamChunk, solo: StreamChunk | None) -> Iterator[StreamChunk]:
        for piece in pieces:
            if solo is not None and piece is solo.content:
                yield solo
            elif piece:
                yield make_chunk(piece, None, None, None, at.index, None, (), "", self.count(piece), {})
            solo = None


def run_segmenter(chunks: Iterable[StreamChunk], seg: Segmenter, *, max_delay: float | None = None,
                  clock: Callable[[], float] = time.monotonic,
                  counter: TokenCounter | None = None) -> Iterator[StreamChunk]:
    """Drive ``seg`` over ``chunks`` (see the module docstring)."""
    emit = _Emitter(counter).chunks
    feed = seg.feed
    held_since: float | None = None
    solo: StreamChunk | None = None  # the chunk whose whole text is the held text
    chunk: StreamChunk = StreamChunk()
    try:
        try:
            for chunk in chunks:
                text = chunk.content
                signal = (chunk.finish_reason is not None or chunk.usage is not None or chunk.tool_calls
                          or chunk.reasoning or chunk.is_complete or chunk.raw_finish_reason is not None)
                if text:
                    pieces = feed(text)
                    if pieces:
                        if solo is not None and len(pieces) == 1 and pieces[0] is solo.content:
                            yield solo  # the common case, without a generator
                        else:
                            yield from emit(pieces, chunk, solo)
                        held_since = None
                    solo = chunk if not signal and seg.held_text is text else None
                    if max_delay is not None and seg.held:
                        now = clock()
                        if held_since is None:
                            held_since = now
                        elif now - held_since >= max_delay:
                            yield from emit(seg.flush(), chunk, solo)
                            held_since = solo = None
                if signal:
                    yield from emit(seg.flush(), chunk, solo)
                    held_since = solo = None
                    yield dataclasses.replace(chunk, content="", token_count=0) if text else chunk
                elif not text:
                    if held_since is not None and clock() - held_since >= max_delay:  # type: ignore[operator]
                        yield from emit(seg.flush(), chunk, solo)
                        held_since = solo = None
                    yield chunk
        except Exception:  # the source failed: deliver what was held, then the error
            yield from emit(seg.flush(), chunk, solo)
            raise
        yield from emit(seg.flush(), chunk, solo)
    finally:
        close_source(chunks)


def wrap(chunks: Iterable[StreamChunk], gen: Iterator[StreamChunk]) -> Iterator[StreamChunk]:
    """Record that ``gen`` wraps ``chunks`` (for :func:`~.chain.find_attr`) and return it."""
    link(gen, chunks)
    return gen
