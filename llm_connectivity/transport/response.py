"""A response whose body is read piece by piece, and the connection's way back to the pool.

:class:`PooledResponse` reads through an :class:`Exchange` (how the body is read and how
the connection is returned: the transport provides one per way of sending); it sets the
socket timeout before each read from the :class:`~llm_connectivity.deadline.Deadline`,
on the socket the *response* reads from; it gives the connection back only after the body
was read to its end, and closes it in every other case (early stop, error, drain limit,
abort). The transport subclasses it to map its library's exceptions (this module imports
neither requests nor urllib3).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import ClassVar, Protocol

from ..deadline import Deadline
from ..errors import LLMError, ProtocolError, StreamInterruptedError
from .body import BodyCut, ChunkedError

__all__ = ["Exchange", "PooledResponse"]


class Exchange(Protocol):
    """How a :class:`PooledResponse` reads its body and hands its connection back."""

    def read(self) -> bytes:
        """The next body piece (transfer- and content-decoded); b"" at the end."""

    def clean(self) -> bool:
        """After the end of the body: may the connection carry another request?"""

    def give_back(self) -> None:
        """Return the (clean) connection to its pool."""

    def discard(self) -> None:
        """Close the connection (its framing is in doubt) and free its pool slot."""


class PooledResponse:
    """A response whose body is read incrementally. Close it (or exhaust it) to release it.

    The connection goes back to the pool only after the body was read to its end (and no
    stray bytes followed it); on an early stop, an error or :meth:`abort` it is closed.
    ``sock`` is the socket the body is read from: each read sets its timeout, and
    :meth:`abort` shuts it down (never once the connection went back to the pool).
    """

    __slots__ = ("status_code", "headers", "provider", "_sock", "_exchange", "_read", "_lock", "_closed",
                 "_released")

    #: What the network stack may raise while reading (the transport adds its library's errors).
    network_errors: ClassVar[tuple[type[BaseException], ...]] = (OSError, http.client.HTTPException)

    def __init__(self, status_code: int, headers: Mapping[str, str], provider: str | None, *,
                 sock: socket.socket | None, exchange: Exchange) -> None:
        self.status_code = status_code
        self.headers = headers
        self.provider = provider
        self._sock = sock
        self._exchange = exchange
        self._read = exchange.read
        self._closed = self._released = False
        self._lock = threading.Lock()

    @property
    def content_type(self) -> str:
        """The Content-Type header, or ""."""
        return self.headers.get("content-type", "")

    def _read_errors(self) -> tuple[type[BaseException], ...]:
        return (*self.network_errors, BodyCut, ChunkedError)

    def _fail(self, exc: BaseException, deadline: Deadline | None, limit: str) -> LLMError:
        """Close (the connection is in doubt) and map ``exc``."""
        self.close()
        if isinstance(exc, ChunkedError):
            return ProtocolError(str(exc), provider=self.provider)
        if isinstance(exc, BodyCut):
            return StreamInterruptedError(f"connection lost while reading the response body (the server closed "
                                          f"it: {exc})", provider=self.provider)
        return self._map_error(exc, deadline, limit)

    def _map_error(self, exc: BaseException, deadline: Deadline | None, limit: str) -> LLMError:
        """Map a network failure during the body read (the transport refines this)."""
        if isinstance(exc, socket.timeout) and deadline is not None:
            return deadline.timeout_error(limit)
        return StreamInterruptedError(f"connection lost while reading the response body ({exc})",
                                      provider=self.provider)

    def iter_bytes(self, deadline: Deadline) -> Iterator[bytes]:
        """Yield body pieces as they arrive; map every network failure to our errors.

        The response is released at the end of the body and closed on errors. When the
        consumer stops early the response is left to its owner, which drains or closes it.
        """
        sock = self._sock
        current: float | None | str = "unset"  # the socket timeout last set
        read = self._read
        while True:
            timeout, limit = deadline.next_timeout()
            if timeout != current and sock is not None:
                sock.settimeout(timeout)
                current = timeout
            try:
                piece = read()
            except self._read_errors() as exc:
                raise self._fail(exc, deadline, limit) from exc
            if not piece:
                self._finish()
                return
            yield piece

    def drain(self, deadline: Deadline | None = None, *, max_wait: float = 0.05, max_bytes: int = 65536) -> None:
        """After the terminal event: read what is left of the body, within ``max_wait``
        seconds in all (and the total deadline), so the connection goes back to the pool
        instead of being closed; then close."""
        end = time.monotonic() + max_wait
        if deadline is not None and deadline.total_at is not None:
            end = min(end, deadline.total_at)
        sock = self._sock
        try:
            left = max_bytes
            while left > 0 and not self._closed:
                wait = end - time.monotonic()
                if wait <= 0:
                    break
                if sock is not None:
                    sock.settimeout(wait)
                piece = self._read()
                if not piece:
                    self._finish()
                    break
                left -= len(piece)
        except self._read_errors():  # a connection we fail to drain is simply closed
            pass
        finally:
            self.close()

    def _finish(self) -> None:
        """The body ended: give a clean connection back to the pool, else close it."""
        exchange = self._exchange
        if not exchange.clean():
            self.close()
            return
        with self._lock:  # abort() holds this lock: it can never hit a pooled socket
            if self._released:
                return
            self._released = self._closed = True
        exchange.give_back()

    def abort(self) -> None:
        """Unblock a read in progress in another thread (shut the socket down)."""
        with self._lock:  # never after the connection went back to the pool
            if self._released or self._sock is None:
                return
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def read_body(self, deadline: Deadline, limit: int = 1 << 20) -> bytes:
        """Read the whole body (capped at ``limit`` bytes) and close the response."""
        parts: list[bytes] = []
        size = 0
        for piece in self.iter_bytes(deadline):
            parts.append(piece)
            size += len(piece)
            if size >= limit:
                break
        self.close()
        return b"".join(parts)

    def close(self) -> None:
        """Release the response; a connection not read to the end is closed, not pooled."""
        if self._closed:
            return
        with self._lock:
            if self._closed:
                return
            self._closed = True
            released, self._released = self._released, True
        if not released:
            self._exchange.discard()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass
