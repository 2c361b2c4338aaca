"""Replaying: a :class:`~llm_connectivity.transport.Response` fed from a recording.

:func:`replay_send` waits as long as the recorded headers took (scaled by ``speed``) and
returns a :class:`ReplayResponse`, or raises the recorded ``send`` error. The response
yields the recorded pieces on the recorded schedule (piece *i* becomes readable
``(at_i - headers_at) / speed`` seconds after the headers), so a slow reader finds pieces
already waiting, as on a socket. Every wait honours the :class:`Deadline` (a gap longer
than the read limit raises the same ``ReadTimeoutError`` a socket would) and wakes at once
on :meth:`ReplayResponse.abort` or the call's cancellation. A recorded error is raised again
as the same typed error after the same piece.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping

from ... import errors as error_classes
from ...deadline import Deadline
from ...errors import LLMError, StreamInterruptedError
from ...transport import Cancellation
from .errors import CassetteError
from .storage import Interaction, RecordedError, read_capped

__all__ = ["ReplayResponse", "rebuild_error", "replay_send"]


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive response headers."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._items = {name.lower(): (name, value) for name, value in headers.items()}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items


def rebuild_error(error: RecordedError, provider: str | None) -> LLMError:
    """The recorded error as the same typed :class:`LLMError`."""
    cls = getattr(error_classes, error.type, None)
    if not (isinstance(cls, type) and issubclass(cls, LLMError)):
        return StreamInterruptedError(f"{error.type}: {error.message}", provider=provider)
    if issubclass(cls, error_classes.TimeoutError):
        return cls(error.message, provider=provider, seconds=error.seconds)
    try:
        return cls(error.message, provider=provider)
    except TypeError:  # a class that needs more than a message (not raised by transports)
        return StreamInterruptedError(f"{error.type}: {error.message}", provider=provider)


def wait_until(due: float, deadline: Deadline, wake: threading.Event) -> bool:
    """Sleep until ``due`` (monotonic) unless ``wake`` is set first (then return True).

    Raises the deadline's TimeoutError if a limit passes first, as a blocked read would."""
    while True:
        timeout, limit = deadline.next_timeout()
        left = due - time.monotonic()
        if left <= 0:
            return wake.is_set()
        if timeout is not None and timeout < left:
            if wake.wait(timeout):
                return True
            raise deadline.timeout_error(limit)
        if wake.wait(left):
            return True


class ReplayResponse:
    """A response that feeds a recorded body (see the module docstring)."""

    def __init__(self, item: Interaction, *, speed: float, provider: str | None) -> None:
        self.status_code: int = int(item.status or 0)
        self.headers: Mapping[str, str] = Headers(item.headers)
        self.provider = provider
        self._item = item
        self._scale = 1.0 / speed if speed > 0 else 0.0
        self._start = time.monotonic()
        self._next = 0
        self._aborted = threading.Event()
        self._closed = False

    @property
    def content_type(self) -> str:
        """The Content-Type header, or ""."""
        return self.headers.get("content-type", "")

    def _wait(self, at: float, deadline: Deadline) -> None:
        due = self._start + (at - self._item.headers_at) * self._scale
        if wait_until(due, deadline, self._aborted):
            raise StreamInterruptedError("connection lost while reading the response body (the server closed "
                                         "or broke it: the read was aborted)", provider=self.provider)

    def iter_bytes(self, deadline: Deadline) -> Iterator[bytes]:
        """Yield the recorded pieces on the recorded schedule; raise the recorded error."""
        item = self._item
        while True:
            index = self._next
            error = item.error
            if error is not None and error.after_piece is not None and index >= error.after_piece:
                self._wait(error.at, deadline)
                self._closed = True
                raise rebuild_error(error, self.provider)
            if index >= len(item.pieces):
                if not item.complete:
                    raise CassetteError(
                        f"the cassette recording of interaction {item.name} stops after {index} body pieces: "
                        "the code that recorded it stopped reading there, this code reads on. Re-record it "
                        "(mode='all') if the code changed.")
                self._closed = True
                return
            piece = item.pieces[index]
            self._wait(piece.at, deadline)
            self._next = index + 1
            yield piece.data

    def read_body(self, deadline: Deadline, limit: int = 1 << 20) -> bytes:
        """Read the whole recorded body (capped at ``limit`` bytes) and close."""
        body = read_capped(self.iter_bytes(deadline), limit)
        self.close()
        return body

    def drain(self, deadline: Deadline | None = None) -> None:
        """Nothing to drain on a recording: close."""
        self.close()

    def abort(self) -> None:
        """From any thread: wake a wait in progress; the reader raises StreamInterruptedError."""
        self._aborted.set()

    def close(self) -> None:
        """Idempotent."""
        self._closed = True


def replay_send(item: Interaction, *, speed: float, deadline: Deadline, provider: str | None,
                cancel: Cancellation | None) -> ReplayResponse:
    """Wait as the recorded headers did, then return the replayed response (or raise the
    recorded error if the recorded ``send`` failed)."""
    error = item.error if item.error is not None and item.error.after_piece is None else None
    at = error.at if error is not None else item.headers_at
    due = time.monotonic() + (at / speed if speed > 0 else 0.0)
    woken = threading.Event()
    if cancel is not None:
        cancel.add_callback(woken.set)
    try:
        if wait_until(due, deadline, woken):
            raise StreamInterruptedError("connection lost before the response arrived (the server closed or "
                                         "broke it: the request was cancelled)", provider=provider)
    finally:
        if cancel is not None:
            cancel.remove_callback(woken.set)
    if error is not None or item.status is None:
        raise rebuild_error(error or RecordedError("StreamInterruptedError", "no response was recorded", None, 0.0),
                            provider)
    return ReplayResponse(item, speed=speed, provider=provider)
