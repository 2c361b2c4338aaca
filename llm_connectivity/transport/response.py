"""A response whose body is read piece by piece, and the connection's way back to the pool.

:class:`PooledResponse` works on a ``requests.Response`` whose ``raw`` is urllib3's
response: it reads the body straight from the socket file (:mod:`.body`) when it can, else
through urllib3's ``read1``; it sets the socket timeout before each read from the
:class:`~llm_connectivity.deadline.Deadline`, on the socket the *response* reads from; it
gives the connection back to the pool itself, only after the body was read to its end, and
closes it in every other case (early stop, error, drain limit, abort). The transport
subclasses it to map its library's exceptions (this module imports neither requests nor
urllib3).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from ..deadline import Deadline
from ..errors import LLMError, ProtocolError, StreamInterruptedError
from .body import READ_SIZE, BodyCut, BodyReader, ChunkedError, direct_reader

__all__ = ["PooledResponse"]


def _socket_of(original: Any) -> socket.socket | None:
    """The socket an ``http.client`` response reads from (its own, even when the response
    ended the connection and the pooled connection no longer holds it)."""
    sock = getattr(original, "llm_sock", None)
    if sock is None:  # a plain http.client response (a user's Session): through its file
        sock = getattr(getattr(getattr(original, "fp", None), "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


class PooledResponse:
    """A response whose body is read incrementally. Close it (or exhaust it) to release it.

    The connection goes back to the pool only after the body was read to its end (and no
    stray bytes followed it); on an early stop, an error or :meth:`abort` it is closed.
    """

    __slots__ = ("_response", "_raw", "status_code", "headers", "provider", "_closed", "_sock", "_reader",
                 "_pool", "_lock", "_released")

    #: What the network stack may raise while reading (the transport adds its library's errors).
    network_errors: ClassVar[tuple[type[BaseException], ...]] = (OSError, http.client.HTTPException)

    def __init__(self, response: Any, provider: str | None) -> None:
        self._response = response
        self._raw = raw = response.raw
        self.status_code: int = response.status_code
        self.headers: Mapping[str, str] = response.headers
        self.provider = provider
        self._closed = self._released = False
        self._lock = threading.Lock()
        original = getattr(raw, "_original_response", None)
        self._sock = _socket_of(original)
        self._pool: Any = None
        self._reader: BodyReader | None = None
        if getattr(raw, "_pool", None) is not None and hasattr(raw, "_connection"):  # urllib3's response
            # We give the connection back ourselves (under _lock, so that abort() from another
            # thread can never shut down a socket that already serves the next request).
            self._pool, raw._pool = raw._pool, None
            self._reader = direct_reader(original, raw)

    @property
    def content_type(self) -> str:
        """The Content-Type header, or ""."""
        return self.headers.get("content-type", "")

    def _read_errors(self) -> tuple[type[BaseException], ...]:
        return (*self.network_errors, BodyCut, ChunkedError)

    def _read(self) -> bytes:
        reader = self._reader
        if reader is not None:
            return reader.read()
        return self._raw.read1(READ_SIZE, decode_content=True)  # type: ignore[no-any-return]

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
        reader, raw = self._reader, self._raw
        original = getattr(raw, "_original_response", None)
        if reader is not None:
            if not reader.reusable or original is None:
                self.close()
                return
            original.close()  # http.client refuses the next request until its response is closed
        elif original is not None and not original.isclosed():
            self.close()
            return
        with self._lock:
            if self._released:
                return
            self._released = True
            conn, raw._connection = raw._connection, None
        if self._pool is not None and conn is not None:
            self._pool._put_conn(conn)
        self.close()

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
            self._closed = True
            released, self._released = self._released, True
        raw = self._raw
        conn = None if released else getattr(raw, "_connection", None)
        self._response.close()  # closes the connection, if the response still holds it
        if conn is not None and self._pool is not None:
            self._pool._put_conn(conn)  # closed: the pool's next checkout connects anew

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass
