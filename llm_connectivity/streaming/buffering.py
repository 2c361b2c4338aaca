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
* except usage that rides on a text chunk (Gemini, and vLLM's continuous usage, report a
  running total with every chunk): that is not a reason to release held text. The latest
  such report travels with the next piece released (a chunk passed on as is keeps its
  own), so the usage still arrives, in order, without defeating the buffer;
* ``max_delay``: text held for ``max_delay`` seconds is released, also while the source
  is silent. A generator can only act when its source yields, and a blocking source (a
  ChatStream waiting for the model) yields only when data comes, so with ``max_delay`` the
  source is read in a helper thread (:mod:`~.ticker`) that wakes the buffer when held text
  is due; closing the wrapper stops it. Without ``max_delay`` no thread is involved;
* at the end of the stream, and before an exception from the source propagates, held
  text is flushed;
* closing the wrapper closes the source (``finally``), freeing a ChatStream's connection.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Protocol

from ..errors import ConfigurationError
from ..models import StreamChunk, Usage, make_chunk
from ..tokens import TokenCounter, get_counter
from .chain import close_source, link
from .ticker import with_ticks

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


def _new_chunk(piece: str, index: int, usage: Usage | None, count: Callable[[str], int]) -> StreamChunk:
    """A chunk for a piece of text that no single chunk carried, numbered ``index``."""
    return make_chunk(piece, None, None, None, index, usage, (), "", count(piece), {})


def _chunks_for(pieces: list[str], at: StreamChunk, solo: StreamChunk | None, usage: Usage | None,
                count: Callable[[str], int], whole: StreamChunk | None = None
                ) -> tuple[list[StreamChunk], Usage | None]:
    """The chunks for ``pieces`` (released on the arrival of ``at``), and the usage report
    still not passed on. A piece that is exactly the text of the one chunk it came from is
    that chunk (same object: no new allocation, its index and raw event kept): the first
    piece may be the held chunk ``solo``, the last one the chunk that just arrived
    (``whole``, when it carries nothing but text). Other pieces become new chunks, the last
    of them carrying ``usage``."""
    out = []
    last = len(pieces) - 1
    for i, piece in enumerate(pieces):
        same = solo if i == 0 and solo is not None else whole if i == last else None
        if same is not None and piece == same.content:
            if usage is not None and usage is same.usage:
                usage = None
            out.append(same)
        elif piece:
            carried, usage = (usage, None) if i == last else (None, usage)
            out.append(_new_chunk(piece, at.index, carried, count))
    return out, usage


def run_segmenter(chunks: Iterable[StreamChunk], seg: Segmenter, *, max_delay: float | None = None,
                  clock: Callable[[], float] = time.monotonic,
                  counter: TokenCounter | None = None) -> Iterator[StreamChunk]:
    """Drive ``seg`` over ``chunks`` (see the module docstring)."""
    count = (counter or get_counter()).count
    feed = seg.feed
    held_since: float | None = None
    solo: StreamChunk | None = None  # the chunk whose whole text is the held text
    usage: Usage | None = None  # a usage report that came with text and is not passed on yet
    chunk: StreamChunk = StreamChunk()
    source: Iterable[StreamChunk | None] = chunks
    if max_delay is not None:
        def until_due() -> float | None:
            return None if held_since is None else max(0.0, held_since + max_delay - clock())
        source = with_ticks(chunks, until_due)
    try:
        try:
            for item in source:
                if item is None:  # the source is silent and held text may be due
                    if held_since is not None and clock() - held_since >= max_delay:  # type: ignore[operator]
                        out, usage = _chunks_for(seg.flush(), chunk, solo, usage, count)
                        yield from out
                        held_since = solo = None
                    continue
                chunk = item
                text = chunk.content
                if (text and chunk.finish_reason is None and not chunk.tool_calls and not chunk.reasoning
                        and not chunk.is_complete and chunk.raw_finish_reason is None):
                    # text and nothing else: the per-chunk path, kept short
                    if chunk.usage is not None:
                        usage = chunk.usage  # rides with the text (see the module docstring)
                    pieces = feed(text)
                    if pieces:
                        held_since = None
                        if solo is not None and len(pieces) == 1 and pieces[0] is solo.content:
                            if usage is not None and usage is solo.usage:
                                usage = None
                            yield solo  # the common case, without a generator
                        elif solo is None and usage is None and len(pieces) == 1 and pieces[0] != text:
                            yield _new_chunk(pieces[0], chunk.index, None, count)  # a word made of pieces
                        else:
                            out, usage = _chunks_for(pieces, chunk, solo, usage, count, chunk)
                            yield from out
                    solo = chunk if seg.held_text is text else None
                    if max_delay is not None and seg.held:
                        now = clock()
                        if held_since is None:
                            held_since = now
                        elif now - held_since >= max_delay:
                            out, usage = _chunks_for(seg.flush(), chunk, solo, usage, count)
                            yield from out
                            held_since = solo = None
                    continue
                signal = (chunk.finish_reason is not None or chunk.tool_calls or chunk.reasoning
                          or chunk.is_complete or chunk.raw_finish_reason is not None)
                if text:  # text that comes with a signal: fed, then flushed below
                    pieces = feed(text)
                    if pieces:
                        out, usage = _chunks_for(pieces, chunk, solo, usage, count)
                        yield from out
                    solo = None
                elif chunk.usage is not None:
                    signal = True
                if signal:
                    out, usage = _chunks_for(seg.flush(), chunk, solo, usage, count)
                    yield from out
                    held_since = solo = None
                    if usage is not None:
                        yield _usage_chunk(usage, chunk.index)
                        usage = None
                    yield dataclasses.replace(chunk, content="", token_count=0) if text else chunk
                elif not text:
                    if held_since is not None and clock() - held_since >= max_delay:  # type: ignore[operator]
                        out, usage = _chunks_for(seg.flush(), chunk, solo, usage, count)
                        yield from out
                        held_since = solo = None
                    yield chunk
        except Exception:  # the source failed: deliver what was held, then the error
            out, usage = _chunks_for(seg.flush(), chunk, solo, usage, count)
            yield from out
            if usage is not None:
                yield _usage_chunk(usage, chunk.index)
            raise
        out, usage = _chunks_for(seg.flush(), chunk, solo, usage, count)
        yield from out
        if usage is not None:
            yield _usage_chunk(usage, chunk.index)
    finally:
        if source is not chunks:
            close_source(source)
        close_source(chunks)


def _usage_chunk(usage: Usage, index: int) -> StreamChunk:
    """A usage report that could not travel with a piece of text, on its own."""
    return StreamChunk(usage=usage, index=index)


def wrap(chunks: Iterable[StreamChunk], gen: Iterator[StreamChunk]) -> Iterator[StreamChunk]:
    """Record that ``gen`` wraps ``chunks`` (for :func:`~.chain.find_attr`) and return it."""
    link(gen, chunks)
    return gen
