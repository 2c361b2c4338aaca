"""Progress of a stream: :class:`ProgressTracker`, :class:`StreamProgress`, :func:`track_progress`.

Tokens are counted through the token-counter seam (content, reasoning and tool-call
arguments are all output; a chunk's ``token_count``, set by the pipeline's counting stage
or a buffer, is used when present). A usage report from the provider (``completion_tokens``,
at the end, or with every chunk as Gemini sends it) replaces the running estimate of the
text it covers; the count shown never goes down. The total is the caller's estimate, or
the request's ``max_tokens`` when the wrapped stream knows it; without either, the
percentage and ETA are None.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ..models import StreamChunk
from ..tokens import TokenCounter, get_counter
from .buffering import check_positive
from .chain import close_source, find_attr, link

__all__ = ["ProgressTracker", "StreamProgress", "track_progress"]


@dataclass(frozen=True, slots=True)
class StreamProgress:
    """A snapshot of a stream's progress.

    ``percentage`` is clamped to [0, 100] and is 100 once the stream finished;
    ``eta`` is the estimated seconds left (0 when finished); both are None when no total
    is known. ``tokens_per_sec`` is the tokens received over the time since the start.
    """

    tokens_received: int
    total_tokens: int | None
    percentage: float | None
    elapsed: float
    eta: float | None
    tokens_per_sec: float
    finished: bool = False


class ProgressTracker:
    """Counts the tokens of a stream. One thread updates it; any thread may read
    :meth:`get_progress` at any time (the running count is a single int, written with one
    store, so a reader never sees a torn value).

    >>> tracker = ProgressTracker(100, clock=iter([0.0, 2.0]).__next__)
    >>> tracker.start(); tracker.update(25)
    >>> p = tracker.get_progress()
    >>> (p.tokens_received, p.percentage, p.tokens_per_sec, p.eta)
    (25, 25.0, 12.5, 6.0)
    """

    def __init__(self, estimated_tokens: int | None = None, *, model: str | None = None,
                 counter: TokenCounter | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        check_positive("estimated_tokens", estimated_tokens, integer=True)
        self.estimated_tokens = estimated_tokens
        self._count = (counter or get_counter(model)).count
        self._clock = clock
        self._lock = threading.Lock()
        self._started: float | None = None
        self._ended = 0.0  # when finish() was called (the clock stops there)
        self._received = 0  # the count shown: never goes down
        self._counted = 0  # the last usage report plus the estimate of the text since
        self._finished = False

    def start(self) -> None:
        """Start the clock (called by :func:`track_progress` when the stream is first read;
        otherwise by the first :meth:`update`)."""
        with self._lock:
            if self._started is None:
                self._started = self._clock()

    def update(self, chunk_or_tokens: StreamChunk | int) -> None:
        """Add a chunk's tokens (or a number of tokens). The provider's usage on a chunk
        (not an estimate) replaces the running count with its ``completion_tokens``, which
        cover the text so far; the count shown never goes down."""
        if self._started is None:
            self.start()
        if isinstance(chunk_or_tokens, int):
            counted = self._counted + max(0, chunk_or_tokens)
        else:
            usage = chunk_or_tokens.usage
            if usage is not None and not usage.is_estimated:
                counted = usage.completion_tokens
            else:
                counted = self._counted + self._chunk_tokens(chunk_or_tokens)
        self._counted = counted
        if counted > self._received:
            self._received = counted

    def _chunk_tokens(self, chunk: StreamChunk) -> int:
        count = self._count
        tokens = (chunk.token_count or count(chunk.content)) if chunk.content else 0
        if chunk.reasoning:
            tokens += count(chunk.reasoning)
        for delta in chunk.tool_calls:
            tokens += count((delta.name or "") + delta.arguments)
        return tokens

    def finish(self) -> None:
        """Mark the stream finished: percentage 100, ETA 0."""
        with self._lock:
            self._finished = True
            self._ended = self._clock()

    def get_progress(self) -> StreamProgress:
        """The current progress (safe to call from any thread)."""
        with self._lock:
            started, finished, ended = self._started, self._finished, self._ended
        received = self._received
        now = ended if finished else self._clock()
        elapsed = 0.0 if started is None else max(0.0, now - started)
        rate = received / elapsed if elapsed > 0 else 0.0
        total = self.estimated_tokens
        if finished:
            return StreamProgress(received, received if total is None else max(total, received), 100.0,
                                  elapsed, 0.0, rate, True)
        if total is None:
            return StreamProgress(received, None, None, elapsed, None, rate)
        percentage = min(100.0, max(0.0, 100.0 * received / total))
        left = max(0, total - received)
        eta = 0.0 if left == 0 else (left / rate if rate > 0 else None)
        return StreamProgress(received, total, percentage, elapsed, eta, rate)


def _estimate_from(chunks: object) -> int | None:
    """The request's ``max_tokens``, if the stream at the start of the chain exposes it."""
    value = find_attr(chunks, "max_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def track_progress(chunks: Iterable[StreamChunk], *, estimated_tokens: int | None = None,
                   on_progress: Callable[[StreamProgress], object] | None = None, interval: float = 0.1,
                   tracker: ProgressTracker | None = None, model: str | None = None,
                   counter: TokenCounter | None = None,
                   clock: Callable[[], float] = time.monotonic) -> Iterator[StreamChunk]:
    """Pass ``chunks`` through unchanged while tracking progress.

    ``on_progress(StreamProgress)`` is called at most once per ``interval`` seconds while
    tokens arrive, and once more at the end (with ``finished=True`` and 100%) or, if the
    source raises, with the progress so far before the error propagates. Pass your own
    ``tracker`` to read the progress from another thread. ``estimated_tokens`` defaults to
    the request's ``max_tokens`` when the wrapped stream exposes it.
    """
    check_positive("interval", interval, allow_none=False)
    if tracker is None:
        tracker = ProgressTracker(estimated_tokens, model=model, counter=counter, clock=clock)
    elif estimated_tokens is not None:
        tracker.estimated_tokens = estimated_tokens
    gen = _track(chunks, tracker, on_progress, interval, clock)
    link(gen, chunks)
    return gen


def _track(chunks: Iterable[StreamChunk], tracker: ProgressTracker,
           on_progress: Callable[[StreamProgress], object] | None, interval: float,
           clock: Callable[[], float]) -> Iterator[StreamChunk]:
    if tracker.estimated_tokens is None:
        tracker.estimated_tokens = _estimate_from(chunks)
    tracker.start()
    try:
        try:
            yield from _counted(chunks, tracker, on_progress, interval, clock)
        except Exception:
            if on_progress is not None:
                on_progress(tracker.get_progress())
            raise
        tracker.finish()
        if on_progress is not None:
            on_progress(tracker.get_progress())
    finally:
        close_source(chunks)


def _counted(chunks: Iterable[StreamChunk], tracker: ProgressTracker,
             on_progress: Callable[[StreamProgress], object] | None, interval: float,
             clock: Callable[[], float]) -> Iterator[StreamChunk]:
    """Count each chunk into ``tracker`` (the per-chunk path: one count, one store) and
    call ``on_progress`` at most once per ``interval``."""
    count, update = tracker._count, tracker.update
    counted, received = tracker._counted, tracker._received
    next_call = clock() + interval if on_progress is not None else float("inf")
    for chunk in chunks:
        if chunk.reasoning or chunk.tool_calls or chunk.usage is not None:
            tracker._counted = counted
            update(chunk)
            counted, received = tracker._counted, tracker._received
        elif chunk.content:
            counted += chunk.token_count or count(chunk.content)
            if counted > received:
                received = tracker._received = counted
        if on_progress is not None and clock() >= next_call:
            on_progress(tracker.get_progress())
            next_call = clock() + interval
        yield chunk
