"""The transport seam: how the engine sends one HTTP request and reads its body.

:class:`Transport` and :class:`Response` are the protocol the
:class:`~llm_connectivity.engine.Engine` is typed against; any object with these methods
can be passed as ``LLMClient(..., transport=...)``. :class:`RequestsTransport` (in
:mod:`llm_connectivity.transport.requests_transport`, the only module that imports
``requests``) is the default; ``llm_connectivity.testing.MemoryTransport`` scripts
responses with no sockets, and a transport wrapper can record every request, body piece
and error (the cassette recorder is one).

A transport's duties, whatever it sends through:

- ``send`` returns as soon as the status line and headers of the *final* response arrived
  (interim 1xx responses are skipped), or raises an :class:`~llm_connectivity.errors.LLMError`
  (``ConnectError``, ``TimeoutError``, ``StreamInterruptedError``, ``ProtocolError``...);
  an exception it does not know propagates unchanged.
- every read honours the :class:`~llm_connectivity.deadline.Deadline` (ask
  ``deadline.next_timeout()`` before each blocking read);
- :meth:`Cancellation.cancel` from another thread unblocks a request still waiting for its
  headers (the transport registers a callback while it waits); ``Response.abort`` unblocks
  a body read in progress;
- a connection whose framing is in doubt (body not fully read, error mid-exchange) is
  closed, never reused.

This module imports nothing heavy: ``import llm_connectivity`` does not load ``requests``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..deadline import Deadline
from ..request import HTTPRequest

if TYPE_CHECKING:
    from .requests_transport import HTTPResponse, RequestsTransport

__all__ = ["Cancellation", "HTTPResponse", "Interceptor", "RequestsTransport", "Response", "Transport",
           "get_interceptor", "set_interceptor"]


class Cancellation:
    """A per-call flag another thread can set to stop the call.

    The transport registers a callback (:meth:`add_callback`) that unblocks whatever it
    is waiting on (e.g. shuts the socket down) and removes it when the wait is over; a
    callback added after :meth:`cancel` runs at once. :meth:`wait` is an interruptible
    sleep for retry backoffs.
    """

    __slots__ = ("_event", "_callbacks", "_lock")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._event.is_set()

    def add_callback(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on :meth:`cancel` (at once if already cancelled)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def remove_callback(self, callback: Callable[[], None]) -> None:
        """Forget ``callback`` (no error if it is not registered)."""
        with self._lock:
            try:
                self._callbacks.remove(callback)
            except ValueError:
                pass

    def cancel(self) -> None:
        """Set the flag and run every registered callback (each at most once)."""
        with self._lock:
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - one failing callback must not stop the others
                pass

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless cancelled first; return True if cancelled."""
        return self._event.wait(seconds)


@runtime_checkable
class Response(Protocol):
    """A response whose headers arrived and whose body is read incrementally."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive lookups

    @property
    def content_type(self) -> str:
        """The Content-Type header, or ""."""

    def iter_bytes(self, deadline: Deadline) -> Iterator[bytes]:
        """Yield body pieces (transfer-decoded) the moment they arrive; close at the end
        and on errors, which are mapped to LLMError."""

    def read_body(self, deadline: Deadline, limit: int = 1 << 20) -> bytes:
        """Read the whole body (capped at ``limit`` bytes) and close."""

    def drain(self, deadline: Deadline | None = None) -> None:
        """After the terminal event: read the rest briefly so the connection can be
        reused, then close (a connection not fully read is discarded)."""

    def abort(self) -> None:
        """From any thread: unblock a read in progress (the reader then raises)."""

    def close(self) -> None:
        """Release the connection; idempotent."""


@runtime_checkable
class Transport(Protocol):
    """Sends wire-ready requests; see the module docstring for the duties."""

    def send(self, request: HTTPRequest, *, deadline: Deadline, connect_timeout: float | None,
             provider: str | None = None, cancel: Cancellation | None = None) -> Response:
        """Send ``request``; return once the final status line and headers arrived."""

    def close(self) -> None:
        """Release pooled connections the transport owns."""


class Interceptor(Protocol):
    """Process-wide hook around every client's transport (the cassette recorder uses it):
    while one is set, the engine sends each request through ``interceptor.send(transport,
    request, ...)`` instead of ``transport.send(request, ...)``, so clients created before
    it was set are covered too."""

    def send(self, transport: Transport, request: HTTPRequest, *, deadline: Deadline,
             connect_timeout: float | None, provider: str | None = None,
             cancel: Cancellation | None = None) -> Response:
        """Send ``request`` (through ``transport`` or not) and return its response."""


_interceptor: Interceptor | None = None
_interceptor_lock = threading.Lock()


def get_interceptor() -> Interceptor | None:
    """The interceptor in force, or None (one attribute read: free on the request path)."""
    return _interceptor


def set_interceptor(interceptor: Interceptor | None) -> Interceptor | None:
    """Install ``interceptor`` (None removes it) for every client; return the previous one."""
    global _interceptor
    with _interceptor_lock:
        previous, _interceptor = _interceptor, interceptor
    return previous


def __getattr__(name: str) -> Any:  # lazy: importing requests costs ~100 ms
    if name in ("RequestsTransport", "HTTPResponse", "map_exception", "shutdown_connections"):
        from . import requests_transport

        return getattr(requests_transport, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
