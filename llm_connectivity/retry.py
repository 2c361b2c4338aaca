"""Retry policy: pure computation, no sleeping (the client sleeps).

:class:`RetryPolicy` is an immutable value. :meth:`RetryPolicy.decide` looks at one failed
attempt and returns a :class:`RetryDecision` (retry or not, after how long, and why).
Only failures that happen before the caller received any content are ever retried.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .errors import DEFAULT_MAX_RETRY_AFTER, RETRY_STATUSES, APIStatusError, LLMError, retry_verdict

__all__ = ["RETRY_STATUSES", "RetryDecision", "RetryPolicy", "parse_retry_after"]



def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait according to ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    if not headers:
        return None
    headers = _lowered(headers)
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """The outcome of :meth:`RetryPolicy.decide`."""

    retry: bool
    delay: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how long to wait before repeating a failed request.

    Defaults: 2 retries; backoff 0.5 s doubling to 8 s with jitter; retry on connect errors
    and connect timeouts, a connection lost before the response arrived, 408/409/429/5xx
    (not 501)/529 and in-band overload or rate-limit errors that arrive before any content;
    never on other 4xx. Read and content-idle timeouts are retried only with
    ``retry_read_errors=True``: the server already has the request and may still be
    working on it (and billing it). ``Retry-After`` /
    ``retry-after-ms`` are honoured up to ``max_retry_after`` seconds; a longer wait
    raises instead of sleeping. ``x-should-retry: true|false`` overrides the status rule.
    Which errors are retryable is decided by :func:`~llm_connectivity.errors.retry_verdict`,
    the table ``error.is_retryable`` reads too.
    """

    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    retry_read_errors: bool = False

    def replace(self, **changes: Any) -> RetryPolicy:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)

    @classmethod
    def from_value(cls, value: int | RetryPolicy | None) -> RetryPolicy:
        """Accept ``max_retries=`` shorthands: an int, None (no retries) or a policy."""
        if isinstance(value, RetryPolicy):
            return value
        if value is None:
            return cls(max_retries=0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            from .errors import ConfigurationError

            raise ConfigurationError(f"max_retries must be an int >= 0, got {value!r}")
        return cls(max_retries=value)

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry number ``attempt`` (1-based), jittered by +-``jitter``."""
        delay = float(min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1)))
        if self.jitter:
            spread: float = (rng or random).uniform(-self.jitter, self.jitter)
            delay = max(0.0, delay * (1.0 + spread))
        return min(delay, self.backoff_max)

    def decide(self, error: LLMError, attempt: int, headers: Mapping[str, str] | None = None) -> RetryDecision:
        """Should the request that failed with ``error`` on try ``attempt`` (1-based) be repeated?"""
        if attempt > self.max_retries:
            return RetryDecision(False, reason=f"no retries left ({self.max_retries} allowed)")
        retryable, reason = retry_verdict(error, headers=headers, retry_read_errors=self.retry_read_errors,
                                          max_retry_after=self.max_retry_after)
        if not retryable:
            return RetryDecision(False, reason=reason)
        wait = error.retry_after if isinstance(error, APIStatusError) else None
        if wait is not None:
            return RetryDecision(True, wait, f"{reason}; server asked to wait {wait:.2f}s")
        return RetryDecision(True, self.backoff(attempt), reason)


def _lowered(headers: Mapping[str, str]) -> Mapping[str, str]:
    """Headers with lower-case names (requests' CaseInsensitiveDict is used as is)."""
    if hasattr(headers, "lower_items"):
        return headers
    return {k.lower(): v for k, v in headers.items()}
