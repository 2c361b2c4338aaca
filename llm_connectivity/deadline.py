"""Per-request clock: read-silence, whole-request and content-idle limits, and the clock.

The transport asks :meth:`Deadline.next_timeout` before every blocking read and waits no
longer than it says, so no read can block past any limit. Time comes from a
:class:`Clock` (``time.monotonic`` / ``time.sleep`` by default); tests inject
``llm_connectivity.testing.FakeClock`` so timeouts and retry backoffs run on virtual time.
A leaf module (no I/O), so the client can use it without importing ``requests``.
"""

from __future__ import annotations

import time
from typing import Protocol

from .errors import ContentIdleTimeoutError, ReadTimeoutError, TimeoutError, TotalTimeoutError

__all__ = ["Clock", "Deadline", "SYSTEM_CLOCK", "SystemClock", "TERMINAL_GRACE"]

#: Longest wait for the terminal event (``[DONE]``, ``message_stop``) once the finish
#: reason arrived (capped by read_timeout); past it the stream completes without it.
TERMINAL_GRACE = 2.0


class Clock(Protocol):
    """Where the engine and :class:`Deadline` read the time and sleep."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""

    def sleep(self, seconds: float) -> None:
        """Block (or, on a fake clock, advance) ``seconds``."""


class SystemClock:
    """The real clock: ``time.monotonic`` and ``time.sleep``."""

    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)


SYSTEM_CLOCK = SystemClock()


class Deadline:
    """Per-request clock: read, total and content-idle limits, checked before every read.

    ``mark_content()`` is called by the engine whenever real content arrives (keep-alive
    comments do not reset the content-idle clock); :meth:`pause` gives back time the
    consumer spent away from the stream, so the content-idle limit measures the server's
    silence, not the caller's. :meth:`start_grace` bounds the wait for the terminal event
    once the finish reason arrived. :attr:`fired` names the last limit that fired.
    """

    __slots__ = ("read_timeout", "total_timeout", "idle_timeout", "started", "total_at", "idle_at", "provider",
                 "clock", "now", "grace_at", "fired")

    def __init__(
        self,
        *,
        read_timeout: float | None,
        total_timeout: float | None = None,
        content_idle_timeout: float | None = None,
        provider: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.clock = clock
        self.now = clock.monotonic
        now = self.now()
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.idle_timeout = content_idle_timeout
        self.started = now
        self.total_at = now + total_timeout if total_timeout is not None else None
        self.idle_at = now + content_idle_timeout if content_idle_timeout is not None else None
        self.grace_at: float | None = None
        self.provider = provider
        self.fired: str | None = None

    def mark_content(self) -> None:
        """Content arrived: restart the content-idle clock."""
        if self.idle_timeout is not None:
            self.idle_at = self.now() + self.idle_timeout

    def pause(self, seconds: float) -> None:
        """The consumer held the stream for ``seconds`` (no read was waiting): move the
        content-idle and terminal-grace limits by as much (not the total limit)."""
        if self.idle_at is not None:
            self.idle_at += seconds
        if self.grace_at is not None:
            self.grace_at += seconds

    def start_grace(self) -> None:
        """The finish reason (or an event after it) arrived: the terminal event is due
        within ``min(read_timeout, TERMINAL_GRACE)`` seconds."""
        grace = TERMINAL_GRACE if self.read_timeout is None else min(self.read_timeout, TERMINAL_GRACE)
        self.grace_at = self.now() + grace

    def remaining(self) -> float | None:
        """Seconds left of the total limit (None: no total limit)."""
        return None if self.total_at is None else self.total_at - self.now()

    def next_timeout(self) -> tuple[float | None, str]:
        """Seconds the next read may block, and which limit that is.

        Raises the matching TimeoutError if a deadline has already passed.
        """
        timeout, limit = self.read_timeout, "read_timeout"
        now = self.now()
        for at, name in ((self.total_at, "total_timeout"), (self.idle_at, "content_idle_timeout"),
                         (self.grace_at, "terminal_grace")):
            if at is None:
                continue
            left = at - now
            if left <= 0:
                raise self.timeout_error(name)
            if timeout is None or left < timeout:
                timeout, limit = left, name
        return timeout, limit

    def timeout_error(self, limit: str) -> TimeoutError:
        """The error for ``limit`` firing, saying which limit and after how long."""
        self.fired = limit
        elapsed = self.now() - self.started
        cls: type[TimeoutError]
        if limit == "total_timeout":
            cls, seconds = TotalTimeoutError, self.total_timeout
            what = "the whole request took longer than total_timeout"
        elif limit == "content_idle_timeout":
            cls, seconds = ContentIdleTimeoutError, self.idle_timeout
            what = "no content arrived (only keep-alives) for longer than content_idle_timeout"
        elif limit == "terminal_grace":
            cls = ReadTimeoutError
            seconds = TERMINAL_GRACE if self.read_timeout is None else min(self.read_timeout, TERMINAL_GRACE)
            what = "the stream's terminal event did not follow its finish reason"
        else:
            cls, seconds = ReadTimeoutError, self.read_timeout
            what = "the server sent nothing for longer than read_timeout"
        limit_text = f"{seconds:g}s" if seconds is not None else "no limit set"
        return cls(
            f"{what} ({limit_text}; {elapsed:.2f}s since the request started)",
            provider=self.provider,
            seconds=seconds,
        )
