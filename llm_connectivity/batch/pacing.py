"""Shared pacing for batch workers: :class:`BatchLimits`.

Requests-per-minute and tokens-per-minute are two token buckets
(:class:`~llm_connectivity.streaming.RateLimiter`) shared by every worker. A request
takes one request unit and its token estimate (prompt + ``max_tokens``) before it is sent;
:meth:`BatchLimits.reconcile` corrects the estimate with the usage the provider reported.
A 429 pauses every worker (for the server's ``Retry-After``, else a backoff that doubles
with consecutive 429s) and halves the effective rate; each success wins back a little
of it, so the batch settles just under what the provider accepts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..errors import ConfigurationError
from ..streaming.ratelimit import RateLimiter

__all__ = ["BatchLimits"]

_MIN_FACTOR = 1 / 16  # the slowest the adaptive rate gets: 1/16 of the configured rate
_RECOVERY = 0.05  # rate factor won back per success
_MAX_BACKOFF = 60.0


def _per_minute(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{name} must be a positive number (per minute) or None, got {value!r}")
    return float(value)


class BatchLimits:
    """RPM/TPM limits and 429 back-off shared by all the workers of one or more batches.

    Parameters:
        requests_per_minute: requests sent per minute at most (None: no limit); bursts of
            up to one second's worth.
        tokens_per_minute: tokens (estimated ahead, reconciled after) per minute at most.
        clock: a monotonic clock (for tests).
    """

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        rpm = _per_minute(requests_per_minute, "requests_per_minute")
        tpm = _per_minute(tokens_per_minute, "tokens_per_minute")
        self.requests_per_minute = rpm
        self.tokens_per_minute = tpm
        self._requests = RateLimiter(rpm / 60.0, clock=clock) if rpm else None
        self._tokens = RateLimiter(tpm / 60.0, clock=clock) if tpm else None
        self._clock = clock
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._streak = 0  # consecutive 429s
        self.factor = 1.0  # share of the configured rate in use (adaptive)

    def acquire(self, tokens: int, stop: threading.Event) -> bool:
        """Wait for the pause, one request and ``tokens``; False if ``stop`` was set meanwhile."""
        while True:
            if not self._wait_pause(stop):
                return False
            factor = self.factor
            wait = self._requests.reserve(1.0 / factor) if self._requests else 0.0
            if self._tokens is not None and tokens > 0:
                wait = max(wait, self._tokens.reserve(tokens / factor))
            if wait > 0 and stop.wait(wait):
                return False
            with self._lock:
                if self._paused_until <= self._clock():
                    return True

    def _wait_pause(self, stop: threading.Event) -> bool:
        while True:
            with self._lock:
                left = self._paused_until - self._clock()
            if left <= 0:
                return True
            if stop.wait(left):
                return False

    def reconcile(self, estimated: int, actual: int | None) -> None:
        """Correct a token estimate with the actual usage (None: give the estimate back)."""
        if self._tokens is not None:
            self._tokens.adjust((actual if actual is not None else 0) - estimated)

    def rate_limited(self, retry_after: float | None) -> float:
        """Record a 429: pause every worker and slow down; returns the pause in seconds."""
        with self._lock:
            self._streak += 1
            pause = retry_after if retry_after is not None else min(_MAX_BACKOFF, 0.5 * 2.0 ** (self._streak - 1))
            self._paused_until = max(self._paused_until, self._clock() + pause)
            self.factor = max(_MIN_FACTOR, self.factor / 2)
            return pause

    def succeeded(self) -> None:
        """Record a success: the 429 streak ends and the rate recovers a little."""
        with self._lock:
            self._streak = 0
            self.factor = min(1.0, self.factor + _RECOVERY)

    def __repr__(self) -> str:
        return (f"BatchLimits(requests_per_minute={self.requests_per_minute}, "
                f"tokens_per_minute={self.tokens_per_minute}, factor={self.factor:.2f})")
