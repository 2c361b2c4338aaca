"""A thread-safe token bucket: :class:`RateLimiter`.

One limiter can pace many concurrent streams (or batch workers): each takes what it needs
with :meth:`RateLimiter.acquire`, which sleeps until the bucket holds enough. Amounts
larger than the burst are allowed (the bucket goes into debt and later callers wait it
out), so a big request never blocks forever. ``clock`` and ``sleep`` are injectable for
deterministic tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..errors import ConfigurationError

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token bucket refilled at ``rate`` units per second, holding at most ``burst``.

    Parameters:
        rate: units (tokens, requests...) per second; must be > 0. ``float("inf")``
            means no limit (acquire never waits).
        burst: bucket size; default one second's worth (at least 1).
        clock: a monotonic clock in seconds (default ``time.monotonic``).
        sleep: how to wait (default ``time.sleep``).
    """

    def __init__(self, rate: float, *, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
            raise ConfigurationError(f"rate must be a positive number per second, got {rate!r}")
        if burst is None:
            burst = max(1.0, float(rate)) if rate != float("inf") else float("inf")
        if isinstance(burst, bool) or not isinstance(burst, (int, float)) or not burst > 0:
            raise ConfigurationError(f"burst must be a positive number, got {burst!r}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._level = self.burst  # units available now; negative = debt
        self._stamp = clock()
        self._paused_until = 0.0

    @property
    def unlimited(self) -> bool:
        """True when the rate is infinite (nothing ever waits)."""
        return self.rate == float("inf")

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._level = min(self.burst, self._level + (now - self._stamp) * self.rate)
            self._stamp = now

    def reserve(self, amount: float = 1.0) -> float:
        """Take ``amount`` now and return how many seconds the caller must wait before
        using it (0 when the bucket held enough). Never blocks."""
        if self.unlimited or amount <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._level -= amount
            wait = 0.0 if self._level >= 0 else -self._level / self.rate
            return max(wait, self._paused_until - now)

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
            now = self._clock()
            self._refill(now)
            if self._level >= amount and now >= self._paused_until:
                self._level -= amount
                return True
            return False

    def adjust(self, amount: float) -> None:
        """Reconcile an estimate: take ``amount`` more (positive) or give it back (negative)."""
        if self.unlimited or amount == 0:
            return
        with self._lock:
            self._refill(self._clock())
            self._level = min(self.burst, self._level - amount)

    def pause(self, seconds: float) -> None:
        """Make every caller wait at least ``seconds`` from now (e.g. after a 429)."""
        if seconds <= 0:
            return
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate:g}/s, burst={self.burst:g})"
