"""Recording: send through the real transport and note every piece, its time, and errors.

:func:`record_send` wraps ``transport.send``; the :class:`RecordingResponse` it returns
wraps the response's reads (``iter_bytes``, ``read_body``, ``drain``) and appends each body
piece with its arrival time (seconds after the request was sent) to the
:class:`~.storage.Interaction`, and the error, if one is raised, at its point. The bytes a
drain reads after the terminal event are recorded too, so the stored body is complete.

Only what the server and the network did is recorded: an error that the caller caused (the
stream closed or cancelled from another thread) marks the body unfinished instead, and a
:class:`~llm_connectivity.errors.ConfigurationError` raised before any I/O leaves nothing
to record (a cassette must not keep replaying a mistake the user has since fixed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping

from ...deadline import Deadline
from ...errors import ConfigurationError, LLMError
from ...request import HTTPRequest
from ...transport import Cancellation, Response, Transport
from .redaction import response_headers, scrub
from .storage import Interaction, Piece, RecordedError

__all__ = ["RecordingResponse", "record_send"]

DRAIN_SECONDS = 0.05
DRAIN_BYTES = 65536


def _read_capped(pieces: Iterable[bytes], limit: int) -> bytes:
    """The pieces joined, stopping once ``limit`` bytes are reached (``Response.read_body``)."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        if len(buffer) >= limit:
            break
    return bytes(buffer)


def _recorded_error(exc: LLMError, after_piece: int | None, at: float, secrets: list[str]) -> RecordedError:
    return RecordedError(type(exc).__name__, scrub(exc.message, secrets), after_piece, at,
                         getattr(exc, "seconds", None))


class RecordingResponse:
    """A :class:`~llm_connectivity.transport.Response` that records what it reads."""

    def __init__(self, inner: Response, item: Interaction, started: float, secrets: list[str],
                 cancel: Cancellation | None = None) -> None:
        self._inner = inner
        self._cancel = cancel
        self._aborted = False
        self.status_code: int = inner.status_code
        self.headers: Mapping[str, str] = inner.headers
        self._item = item
        self._started = started
        self._secrets = secrets
        self._iter: Iterator[bytes] | None = None
        self._ended = False
        self._lock = threading.Lock()

    @property
    def content_type(self) -> str:
        """The Content-Type header, or ""."""
        return self._inner.content_type

    def _source(self, deadline: Deadline) -> Iterator[bytes]:
        if self._iter is None:
            self._iter = self._inner.iter_bytes(deadline)
        return self._iter

    def _next(self, source: Iterator[bytes]) -> bytes | None:
        """The next piece (recorded), or None at the end of the body; errors are recorded."""
        try:
            piece = next(source)
        except StopIteration:
            self._finish(complete=True)
            return None
        except LLMError as exc:
            if self._caller_stopped():  # the caller's doing, not the server's: the body is unfinished
                self._finish(complete=False)
                raise
            with self._lock:
                self._item.error = _recorded_error(exc, len(self._item.pieces), time.monotonic() - self._started,
                                                   self._secrets)
            self._finish(complete=True)
            raise
        with self._lock:
            self._item.pieces.append(Piece(piece, time.monotonic() - self._started))
        return piece

    def _caller_stopped(self) -> bool:
        return self._aborted or (self._cancel is not None and self._cancel.cancelled)

    def iter_bytes(self, deadline: Deadline) -> Iterator[bytes]:
        """The inner response's pieces, each recorded as it passes."""
        source = self._source(deadline)
        while not self._ended:
            piece = self._next(source)
            if piece is None:
                return
            yield piece

    def read_body(self, deadline: Deadline, limit: int = 1 << 20) -> bytes:
        """Read the whole body (capped at ``limit`` bytes), recording it, and close."""
        body = _read_capped(self.iter_bytes(deadline), limit)
        self.close()
        return body

    def drain(self, deadline: Deadline | None = None) -> None:
        """Record what is left of the body, briefly (like the real drain: a watchdog aborts
        the read after ``DRAIN_SECONDS``), then close."""
        if not self._ended and (self._iter is not None or deadline is not None):
            source = self._source(deadline or Deadline(read_timeout=DRAIN_SECONDS))
            watchdog = threading.Timer(DRAIN_SECONDS, self._inner.abort)
            watchdog.daemon = True
            watchdog.start()
            size = 0
            try:
                while size < DRAIN_BYTES:
                    piece = self._next(source)
                    if piece is None:
                        break
                    size += len(piece)
            except LLMError:  # cut by the watchdog, or broken: the real drain closes it too
                with self._lock:
                    self._item.error = None
            finally:
                watchdog.cancel()
        self.close()

    def abort(self) -> None:
        """Unblock a read in progress (forwarded to the real response)."""
        self._aborted = True
        self._inner.abort()

    def close(self) -> None:
        """Close the real response; a body not read to its end is marked incomplete."""
        self._finish(complete=False)
        self._inner.close()

    def _finish(self, *, complete: bool) -> None:
        with self._lock:
            if not self._ended:
                self._ended = True
                self._item.complete = complete


def record_send(transport: Transport, request: HTTPRequest, item: Interaction, secrets: list[str], *,
                deadline: Deadline, connect_timeout: float | None, provider: str | None,
                cancel: Cancellation | None) -> Response:
    """Send ``request`` through ``transport``, filling ``item`` with what comes back."""
    started = time.monotonic()
    item.provider = provider
    try:
        inner = transport.send(request, deadline=deadline, connect_timeout=connect_timeout, provider=provider,
                               cancel=cancel)
    except LLMError as exc:
        item.status = None  # with no error either, the interaction is not written
        if not isinstance(exc, ConfigurationError) and not (cancel is not None and cancel.cancelled):
            item.error = _recorded_error(exc, None, time.monotonic() - started, secrets)
        raise
    item.headers_at = time.monotonic() - started
    item.complete = False  # until the body has been read to its end (a cassette may end first)
    item.status = inner.status_code
    item.headers = response_headers(inner.headers)
    return RecordingResponse(inner, item, started, secrets, cancel)
