"""A thread-safe token bucket, :class:`RateLimiter`, and the :func:`rate_limit` wrapper.

One limiter can pace many concurrent streams (or batch workers): each takes what it needs
with :meth:`RateLimiter.acquire`, which sleeps until the bucket holds enough. Amounts
larger than the burst are allowed (the bucket goes into debt and later callers wait it
out), so a big request never blocks forever. ``clock`` and ``sleep`` are injectable for
deterministic tests.

:func:`rate_limit` paces a chunk stream to a number of tokens per second (counted through
the token-counter seam, like the buffers, or a chunk's ``token_count``); a text chunk larger than the burst is split into
pieces the bucket can hold, so it is released gradually rather than blocking forever.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from ..errors import ConfigurationError
from ..models import StreamChunk, make_chunk
from ..tokens import TokenCounter, get_counter
from .chain import close_source, link
from .tokengroups import split_by_tokens

__all__ = ["RateLimiter", "rate_limit"]


class RateLimiter:
    """Token bucket refilled at ``tokens_per_second`` units per second, holding at most ``burst``.

    Parameters:
        tokens_per_second: units (tokens, requests...) per second; must be > 0.
            ``float("inf")`` means no limit (acquire never waits). ``rate=`` is an alias.
        burst: bucket size; default one second's worth (at least 1).
        clock: a monotonic clock in seconds (default ``time.monotonic``).
        sleep: how to wait (default ``time.sleep``).
    """

    def __init__(self, tokens_per_second: float | None = None, *, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 rate: float | None = None) -> None:
        if (tokens_per_second is None) == (rate is None):
            raise ConfigurationError("RateLimiter needs tokens_per_second (or its alias rate), exactly once")
        rate = tokens_per_second if tokens_per_second is not None else rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
            raise ConfigurationError(f"rate must be a positive number per second, got {rate!r}")
        if burst is None:
            burst = max(1.0, float(rate)) if rate != float("inf") else float("inf")
        if isinstance(burst, bool) or not isinstance(burst, (int, float)) or not burst > 0:
            raise ConfigurationError(f"burst must be a positive number, got {burst!r}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._unlimited = self.rate == float("inf")
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # The bucket is refilled lazily: ``_level`` is what it held at ``_stamp`` (the last
        # clock reading), ``_spent`` what was taken since. A take that still fits needs no
        # clock; one that doesn't reads the clock and refills. The refill counts what was
        # taken since the stamp as taken *now*, so the bucket never holds more than an
        # eagerly refilled one would: never more permissive, and stricter only after the
        # bucket was near full, by at most one burst (tests/streaming/test_toolkit_ratelimit.py).
        # A pause empties the bucket and moves the stamp to its end: nothing refills before
        # then, and the callers queued during it are released at the rate after it.
        self._level = self.burst
        self._spent = 0.0
        self._stamp = clock()

    @property
    def tokens_per_second(self) -> float:
        """The refill rate (the same as ``rate``)."""
        return self.rate

    @property
    def unlimited(self) -> bool:
        """True when the rate is infinite (nothing ever waits)."""
        return self._unlimited

    def _settle(self) -> float:
        """Read the clock, refill the bucket up to now, and return now (lock held)."""
        now = self._clock()
        if now > self._stamp:
            self._level = min(self.burst, self._level + (now - self._stamp) * self.rate)
            self._stamp = now
        self._level -= self._spent
        self._spent = 0.0
        return now

    def reserve(self, amount: float = 1.0) -> float:
        """Take ``amount`` now and return how many seconds the caller must wait before
        using it (0 when the bucket held enough). Never blocks."""
        if self._unlimited or amount <= 0:
            return 0.0
        with self._lock:
            return self._take(amount)

    def _take(self, amount: float) -> float:
        """:meth:`reserve` for an ``amount`` > 0, without the lock: the caller holds it, or
        is the only user of this limiter (the one :func:`rate_limit` makes for itself)."""
        spent = self._spent + amount
        if spent <= self._level:  # (a paused bucket holds nothing)
            self._spent = spent
            return 0.0
        now = self._settle()
        level = self._level = self._level - amount  # taken at the stamp: nothing spent since
        wait = 0.0 if level >= 0 else -level / self.rate
        return wait + (self._stamp - now if self._stamp > now else 0.0)  # after a pause ends

    def acquire(self, amount: float = 1.0) -> float:
        """Take ``amount``, sleeping as long as needed; return the seconds waited."""
        wait = self.reserve(amount)
        if wait > 0:
            self._sleep(wait)
        return wait

    def try_acquire(self, amount: float = 1.0) -> bool:
        """Take ``amount`` only if available right now; never waits."""
        if self.unlimited or amount <= 0:
            return True
        with self._lock:
            self._settle()
            if self._level >= amount:  # (a paused bucket holds nothing)
                self._level -= amount
                return True
            return False

    def adjust(self, amount: float) -> None:
        """Reconcile an estimate: take ``amount`` more (positive) or give it back (negative)."""
        if self.unlimited or amount == 0:
            return
        with self._lock:
            now = self._settle()
            self._level = min(self.burst if now >= self._stamp else 0.0, self._level - amount)

    def pause(self, seconds: float) -> None:
        """Make every caller wait at least ``seconds`` from now (e.g. after a 429): the
        bucket is emptied and refills only from the end of the pause, so the callers that
        queue meanwhile are released at the rate after it, not all at once."""
        if seconds <= 0:
            return
        with self._lock:
            now = self._settle()
            self._level = min(self._level, 0.0)
            self._stamp = max(self._stamp, now + seconds)

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate:g}/s, burst={self.burst:g})"


def _limited(chunks: Iterable[StreamChunk], limiter: RateLimiter, count: Callable[[str], int],
             private: bool) -> Iterator[StreamChunk]:
    acquire, sleep, burst = limiter.acquire, limiter._sleep, limiter.burst
    reserve = limiter._take if private else limiter.reserve  # a private bucket needs no lock
    try:
        for chunk in chunks:
            text = chunk.content
            # a chunk's token_count (the pipeline's counting stage, or a buffer) saves a count
            text_tokens = tokens = (chunk.token_count or count(text)) if text else 0
            if chunk.reasoning:
                tokens += count(chunk.reasoning)
            if tokens <= burst or not text:
                if tokens:
                    spent = limiter._spent + tokens
                    if private and spent <= limiter._level:
                        limiter._spent = spent  # _take()'s no-clock case
                    else:
                        wait = reserve(tokens)  # acquire(), without one call per chunk
                        if wait > 0:
                            sleep(wait)
                yield chunk
                continue
            # a chunk bigger than the burst: its pieces share the chunk's tokens (counting each
            # piece on its own would add up to more: every cut costs the estimate a token)
            pieces = split_by_tokens(text, burst, count)
            counts = [count(piece) for piece in pieces]
            share = text_tokens / sum(counts)
            for piece, tokens in zip(pieces[:-1], counts):
                acquire(tokens * share)
                yield make_chunk(piece, None, None, None, chunk.index, None, (), "", tokens, {})
            acquire(counts[-1] * share + (count(chunk.reasoning) if chunk.reasoning else 0))
            yield dataclasses.replace(chunk, content=pieces[-1], token_count=counts[-1])
    finally:
        close_source(chunks)


def _unlimited(chunks: Iterable[StreamChunk]) -> Iterator[StreamChunk]:
    try:
        yield from chunks
    finally:
        close_source(chunks)


def rate_limit(chunks: Iterable[StreamChunk], *, tokens_per_second: float | None = None,
               limiter: RateLimiter | None = None, burst: float | None = None, model: str | None = None,
               counter: TokenCounter | None = None, clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> Iterator[StreamChunk]:
    """Release the chunks of a stream at no more than ``tokens_per_second`` tokens a second.

    Pass a shared ``limiter`` instead to pace several streams (threads) together. The
    default burst here is a tenth of a second's worth (at least 1 token), so pacing starts
    at once: 100 tokens at 50 tokens/s take about 2 s. Non-text chunks pass freely;
    ``float("inf")`` passes everything through untouched.

    >>> from llm_connectivity.streaming import replay
    >>> waits = []
    >>> out = rate_limit(replay("aaa bbb ccc"), tokens_per_second=2, burst=1, clock=lambda: 0.0,
    ...                  sleep=waits.append)
    >>> [c.content for c in out if c.content], waits   # the clock is frozen: waits add up
    (['aaa', ' bbb', ' ccc'], [0.5, 1.0])
    """
    if (tokens_per_second is None) == (limiter is None):
        raise ConfigurationError("rate_limit needs tokens_per_second=... or limiter=RateLimiter(...), exactly one")
    private = limiter is None
    if limiter is None:
        default_burst = max(1.0, tokens_per_second / 10) if isinstance(tokens_per_second, (int, float)) else None
        limiter = RateLimiter(tokens_per_second, burst=burst if burst is not None else default_burst,
                              clock=clock, sleep=sleep)
    elif burst is not None:
        raise ConfigurationError("pass burst= to the RateLimiter you share, not to rate_limit")
    gen = _unlimited(chunks) if limiter.unlimited else \
        _limited(chunks, limiter, (counter or get_counter(model)).count, private)
    link(gen, chunks)
    return gen
