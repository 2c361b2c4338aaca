"""The HTTP/1.1 layer under our own ``requests.Session`` (no urllib3 import here: the
pools and connections in :mod:`.requests_transport` plug these in).

- :class:`FinalResponse` (the ``http.client`` response class of our connections) skips
  every interim ``1xx`` response (``102 Processing``, ``103 Early Hints``..., with their
  headers), not only ``100 Continue``, so the final status is what the caller sees and the
  real answer never stays unread on a pooled connection. It keeps the socket it reads from
  (``llm_sock``): for responses that end the connection, ``http.client`` detaches the
  socket from the connection, so limits and aborts must go through the response.
- our urllib3 pools call :func:`checked_out`, which records, per thread, the connection
  the current request checked out and whether it was an idle
  pooled one (``reused``); :class:`FinalResponse` records whether any byte of the response
  arrived (``started``). Together they tell the transport when a request is safe to send
  once more: the server closed an idle keep-alive connection before reading our request.
"""

from __future__ import annotations

import http.client
import socket
import threading
from typing import Any

__all__ = ["FinalResponse", "MAX_INTERIM", "RequestState", "checked_out", "current", "set_current",
           "shutdown_sockets"]

#: Interim responses skipped before the final one; more is a broken or hostile server.
MAX_INTERIM = 32


class RequestState:
    """What the current thread's request did on the wire (see the module docstring)."""

    __slots__ = ("connections", "reused", "started", "fresh")

    def __init__(self, *, fresh: bool = False) -> None:
        self.connections: list[Any] = []  # urllib3 connections checked out (a watchdog may abort them)
        self.reused = False  # the last checked-out connection had carried an earlier request
        self.started = False  # a byte of the response arrived
        self.fresh = fresh  # discard idle pooled connections: this request needs a new one


_local = threading.local()


def current() -> RequestState | None:
    """The state of the request the current thread is sending, if any."""
    return getattr(_local, "state", None)


def set_current(state: RequestState | None) -> None:
    """Start (or, with None, end) tracking the current thread's request."""
    _local.state = state


def shutdown_sockets(connections: list[Any]) -> None:
    """Shut down the sockets of urllib3 connections (unblocks a read in another thread)."""
    for conn in list(connections):
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FinalResponse(http.client.HTTPResponse):
    """``http.client`` response that skips interim 1xx responses (see the module docstring)."""

    def __init__(self, sock: socket.socket, debuglevel: int = 0, method: str | None = None,
                 url: str | None = None) -> None:
        super().__init__(sock, debuglevel, method, url)
        self.llm_sock = sock

    def _read_status(self) -> tuple[str, int, str]:
        state = current()
        if state is not None and not state.started:
            try:
                first = self.fp.peek(1)  # a BufferedReader
            except ConnectionResetError as exc:
                raise http.client.RemoteDisconnected("the server reset the connection before answering") from exc
            state.started = bool(first)
        for _ in range(MAX_INTERIM + 1):
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 100 <= status < 200 or status == 101:
                return version, status, reason
            _skip_headers(self.fp)
        raise http.client.HTTPException(f"the server sent more than {MAX_INTERIM} interim (1xx) responses")


def _skip_headers(fp: Any) -> None:
    """Read and drop the header block of an interim response (same limits as http.client)."""
    for _ in range(http.client._MAXHEADERS + 1):  # type: ignore[attr-defined]
        line = fp.readline(http.client._MAXLINE + 1)  # type: ignore[attr-defined]
        if len(line) > http.client._MAXLINE:  # type: ignore[attr-defined]
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return
    raise http.client.HTTPException(f"got more than {http.client._MAXHEADERS} headers")  # type: ignore[attr-defined]


def checked_out(conn: Any) -> Any:
    """Record ``conn`` as checked out by the current thread's request (our pools call this);
    an idle one is closed first when the request needs a fresh connection."""
    state = current()
    if state is not None:
        idle = conn.sock is not None  # a connection that already carried a request
        if idle and state.fresh:
            conn.close()  # the server may have closed it as well: connect anew
            idle = False
        state.reused = idle
        state.connections.append(conn)
    return conn
