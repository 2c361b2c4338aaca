"""Per-request clock: read-silence, whole-request and content-idle limits.

The transport asks :meth:`Deadline.next_timeout` before every socket read and sets the
socket timeout to the nearest limit, so no read can block past any of them. A leaf module
(no I/O), so the client can use it without importing ``requests``.
"""

from __future__ import annotations

import time

from .errors import ContentIdleTimeoutError, ReadTimeoutError, TimeoutError, TotalTimeoutError

__all__ = ["Deadline"]


class Deadline:
    """Per-request clock: read, total and content-idle limits, checked before every read.

    ``mark_content()`` is called by the client whenever real content arrives; keep-alive
    comments do not reset the content-idle clock.
    """

    __slots__ = ("read_timeout", "total_timeout", "idle_timeout", "started", "total_at", "idle_at", "provider")

    def __init__(
        self,
        *,
        read_timeout: float | None,
        total_timeout: float | None = None,
        content_idle_timeout: float | None = None,
        provider: str | None = None,
    ) -> None:
        now = time.monotonic()
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.idle_timeout = content_idle_timeout
        self.started = now
        self.total_at = now + total_timeout if total_timeout is not None else None
        self.idle_at = now + content_idle_timeout if content_idle_timeout is not None else None
        self.provider = provider

    def mark_content(self) -> None:
        """Content arrived: restart the content-idle clock."""
        if self.idle_timeout is not None:
            self.idle_at = time.monotonic() + self.idle_timeout

    def next_timeout(self) -> tuple[float | None, str]:
        """Seconds the next read may block, and which limit that is.

        Raises the matching TimeoutError if a deadline has already passed.
        """
        timeout, limit = self.read_timeout, "read_timeout"
        now = time.monotonic()
        for at, name in ((self.total_at, "total_timeout"), (self.idle_at, "content_idle_timeout")):
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
        elapsed = time.monotonic() - self.started
        cls: type[TimeoutError]
        if limit == "total_timeout":
            cls, seconds = TotalTimeoutError, self.total_timeout
            what = "the whole request took longer than total_timeout"
        elif limit == "content_idle_timeout":
            cls, seconds = ContentIdleTimeoutError, self.idle_timeout
            what = "no content arrived (only keep-alives) for longer than content_idle_timeout"
        else:
            cls, seconds = ReadTimeoutError, self.read_timeout
            what = "the server sent nothing for longer than read_timeout"
        limit_text = f"{seconds:g}s" if seconds is not None else "no limit set"
        return cls(
            f"{what} ({limit_text}; {elapsed:.2f}s since the request started)",
            provider=self.provider,
            seconds=seconds,
        )
