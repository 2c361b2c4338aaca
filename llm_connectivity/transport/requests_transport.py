"""HTTP transport: the only module that imports ``requests``.

It sends an :class:`~llm_connectivity.request.HTTPRequest` through a pooled
``requests.Session`` and reads the body with ``raw.read1(65536, decode_content=True)``, so
each piece is handed on the moment its bytes arrive, on chunked and on connection-close
bodies alike, with gzip decoded. Every ``requests`` / ``urllib3`` / socket failure is mapped
to the library's own errors, during ``send`` and during the body read. Time limits are
enforced per read against :class:`Deadline`: the socket timeout is set to the nearest of
the read limit, the whole-request deadline and the content-idle deadline. While the status
line and headers arrive (read by http.client, one recv at a time), a watchdog timer aborts
the connection when the total deadline passes, so a server that trickles header bytes
cannot hold a request past ``total_timeout`` either (with our own Session).
"""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import requests.utils
import urllib3.connectionpool
import urllib3.exceptions

from ..deadline import Deadline
from ..errors import (
    ConfigurationError,
    ConnectError,
    ConnectTimeoutError,
    LLMError,
    ProtocolError,
    ReadTimeoutError,
    StreamInterruptedError,
)
from ..request import HTTPRequest
from . import Cancellation

__all__ = ["Deadline", "HTTPResponse", "RequestsTransport", "map_exception"]

READ_SIZE = 65536

#: What the network stack may raise; anything else is a bug and propagates unchanged.
NETWORK_ERRORS = (OSError, requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                  http.client.HTTPException)


def _root_cause(exc: BaseException) -> BaseException:
    seen = 0
    while seen < 10:
        nxt = getattr(exc, "reason", None) or exc.__cause__ or exc.__context__
        if not isinstance(nxt, BaseException) or nxt is exc:
            return exc
        exc, seen = nxt, seen + 1
    return exc


def map_exception(exc: BaseException, *, deadline: Deadline | None, limit: str, provider: str | None,
                  during_body: bool) -> LLMError:
    """Translate a requests / urllib3 / socket exception into the most specific LLMError."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ConnectTimeoutError(f"could not connect within connection_timeout: {_root_cause(exc)}",
                                   provider=provider, seconds=None)
    if isinstance(exc, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, socket.timeout)):
        if deadline is not None:
            return deadline.timeout_error(limit)
        return ReadTimeoutError(f"read timed out: {exc}", provider=provider)
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.URLRequired,
                        requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)):
        return ConfigurationError(f"invalid request URL or header: {exc}", provider=provider)
    if isinstance(exc, (urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError)):
        return ProtocolError(f"could not decode the response body (Content-Encoding): {exc}", provider=provider)
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return ProtocolError(f"too many redirects: {exc}", provider=provider)
    root = _root_cause(exc)
    if not during_body and isinstance(root, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError,
                                             urllib3.exceptions.NameResolutionError, socket.gaierror,
                                             requests.exceptions.SSLError, urllib3.exceptions.SSLError,
                                             urllib3.exceptions.ProxyError)):
        return ConnectError(f"could not connect: {root}", provider=provider)
    if isinstance(exc, (requests.exceptions.SSLError, requests.exceptions.ProxyError)) and not during_body:
        return ConnectError(f"could not connect: {root}", provider=provider)
    where = "while reading the response body" if during_body else "before the response arrived"
    detail = str(root) if isinstance(root, OSError) and str(root) else type(root).__name__
    return StreamInterruptedError(f"connection lost {where} (the server closed or broke it: {detail})",
                                  provider=provider)


class HTTPResponse:
    """A response whose body is read incrementally. Close it (or exhaust it) to release it."""

    __slots__ = ("_response", "status_code", "headers", "provider", "_closed")

    def __init__(self, response: requests.Response, provider: str | None) -> None:
        self._response = response
        self.status_code: int = response.status_code
        self.headers: Mapping[str, str] = response.headers
        self.provider = provider
        self._closed = False

    @property
    def content_type(self) -> str:
        """The Content-Type header, or ""."""
        return self.headers.get("content-type", "")

    def _socket(self) -> socket.socket | None:
        conn = getattr(self._response.raw, "_connection", None)
        return getattr(conn, "sock", None)

    def iter_bytes(self, deadline: Deadline) -> Iterator[bytes]:
        """Yield body pieces as they arrive; map every network failure to our errors.

        The response is closed at the end of the body and on errors. When the consumer
        stops early (``close()``/collection of this generator) the response is left to its
        owner, which drains it (connection reuse) or closes it.
        """
        raw = self._response.raw
        current: float | None | str = "unset"  # the socket timeout last set
        while True:
            timeout, limit = deadline.next_timeout()
            if timeout != current:
                sock = self._socket()
                if sock is not None:
                    sock.settimeout(timeout)
                current = timeout
            try:
                piece = raw.read1(READ_SIZE, decode_content=True)
            except NETWORK_ERRORS as exc:
                self.close()
                raise map_exception(exc, deadline=deadline, limit=limit, provider=self.provider,
                                    during_body=True) from exc
            if not piece:
                self.close()
                return
            yield piece

    def drain(self, deadline: Deadline | None = None, *, max_wait: float = 0.05, max_bytes: int = 65536) -> None:
        """After the terminal event: read what is left of the body, within ``max_wait``
        seconds in all (and the total deadline), so the connection goes back to the pool
        instead of being closed; then close."""
        end = time.monotonic() + max_wait
        if deadline is not None and deadline.total_at is not None:
            end = min(end, deadline.total_at)
        sock = self._socket()
        try:
            left = max_bytes
            while left > 0:
                wait = end - time.monotonic()
                if wait <= 0:
                    break
                if sock is not None:
                    sock.settimeout(wait)
                piece = self._response.raw.read1(READ_SIZE, decode_content=True)
                if not piece:
                    break
                left -= len(piece)
        except NETWORK_ERRORS:  # a connection we fail to drain is simply closed
            pass
        finally:
            self.close()

    def abort(self) -> None:
        """Unblock a read in progress in another thread (shut the socket down), then close."""
        sock = self._socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
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
        """Release the connection (returned to the pool only if the body was fully read)."""
        if not self._closed:
            self._closed = True
            self._response.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass


_current = threading.local()  # the connections the current thread's request checked out


def shutdown_connections(connections: list[Any]) -> None:
    """Shut down the sockets of urllib3 connections (unblocks a read in another thread)."""
    for conn in list(connections):
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Watchdog:
    """Shuts down ``connections`` (those the current request checked out) if ``seconds``
    pass before it is cancelled."""

    def __init__(self, seconds: float, connections: list[Any]) -> None:
        self.fired = False
        self._connections = connections
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        shutdown_connections(self._connections)

    def cancel(self) -> None:
        """The headers arrived (or the request failed): stop watching."""
        self._timer.cancel()


def _track(conn: Any) -> Any:
    connections = getattr(_current, "connections", None)
    if connections is not None:
        connections.append(conn)
    return conn


class _TrackingHTTPConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    """Records the connection a request checks out, so a watchdog can abort it."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _track(super()._get_conn(timeout))


class _TrackingHTTPSConnectionPool(urllib3.connectionpool.HTTPSConnectionPool):
    """HTTPS twin of :class:`_TrackingHTTPConnectionPool`."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _track(super()._get_conn(timeout))


class RequestsTransport:
    """Sends requests through one pooled ``requests.Session`` (thread-safe for this use).

    ``session``: a user's own Session (proxies, CA bundle, ``responses`` mocks); it is used
    as given and never closed by us. Otherwise a Session is created with a connection pool
    of ``pool_size`` connections per host, and closed by :meth:`close`. Its environment
    settings (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``...) are read once per
    origin and reused: requests would re-read them on every call (about 1 ms each).
    """

    def __init__(self, session: requests.Session | None = None, *, pool_size: int = 16) -> None:
        self._own = session is None
        self._env: dict[str, dict[str, Any]] = {}
        if session is None:
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
            adapter.poolmanager.pool_classes_by_scheme = {
                "http": _TrackingHTTPConnectionPool, "https": _TrackingHTTPSConnectionPool}
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.trust_env = False  # the environment is read once per origin in _settings
        self.session = session

    def _request(self, request: HTTPRequest, timeout: tuple[float | None, float | None]) -> requests.Response:
        if not self._own:  # the user's Session: its hooks, auth, cookies and redirects apply
            return self.session.request(request.method, request.url, headers=request.headers,
                                        data=request.body, stream=True, timeout=timeout)
        # Our own Session has no cookies, auth or hooks to merge: prepare and send directly
        # (LLM endpoints answer POSTs without redirects).
        prepared = requests.PreparedRequest()
        prepared.prepare(method=request.method, url=request.url, headers=request.headers, data=request.body)
        adapter = self.session.get_adapter(request.url)
        return adapter.send(prepared, stream=True, timeout=timeout,  # type: ignore[arg-type]  # None = no limit
                            **self._settings(request.url))

    def _settings(self, url: str) -> dict[str, Any]:
        """Proxy / CA settings for ``url`` from the environment, read once per origin."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        settings = self._env.get(origin)
        if settings is None:
            ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            settings = {"proxies": requests.utils.get_environ_proxies(origin), "verify": ca_bundle or True}
            self._env[origin] = settings
        return settings

    def send(self, request: HTTPRequest, *, deadline: Deadline, connect_timeout: float | None,
             provider: str | None = None, cancel: Cancellation | None = None) -> HTTPResponse:
        """Send ``request``; return as soon as the status line and headers arrived.

        The connect limit is ``connect_timeout`` capped by what is left of the total deadline.
        While the headers are awaited, ``cancel`` (our own Session only) can shut down the
        connection the request checked out, from another thread.
        """
        read_timeout, limit = deadline.next_timeout()
        connect_limited_by_total = False
        if deadline.total_at is not None:
            left = max(0.001, deadline.total_at - time.monotonic())
            if connect_timeout is None or left < connect_timeout:
                connect_timeout, connect_limited_by_total = left, True
        connections: list[Any] = []
        abort = None
        if cancel is not None:
            def abort() -> None:
                shutdown_connections(connections)
            cancel.add_callback(abort)
        watchdog = None
        try:
            _current.connections = connections
            watchdog = self._watchdog(deadline, connections)
            response = self._request(request, (connect_timeout, read_timeout))
        except requests.exceptions.ConnectTimeout as exc:
            if connect_limited_by_total:
                raise deadline.timeout_error("total_timeout") from exc
            raise map_exception(exc, deadline=deadline, limit=limit, provider=provider, during_body=False) from exc
        except NETWORK_ERRORS as exc:
            if watchdog is not None and watchdog.fired:
                raise deadline.timeout_error("total_timeout") from exc
            raise map_exception(exc, deadline=deadline, limit=limit, provider=provider, during_body=False) from exc
        finally:
            _current.connections = None
            if watchdog is not None:
                watchdog.cancel()
            if cancel is not None and abort is not None:
                cancel.remove_callback(abort)
        return HTTPResponse(response, provider)

    def _watchdog(self, deadline: Deadline, connections: list[Any]) -> _Watchdog | None:
        """With a total deadline, a timer that aborts the connection if the status line and
        headers are still arriving when it passes (a per-read timeout alone would let a
        server that trickles header bytes run past it). Only for our own Session's pools."""
        if deadline.total_at is None or not self._own:
            return None
        return _Watchdog(deadline.total_at - time.monotonic(), connections)

    def close(self) -> None:
        """Close the Session, and every pooled connection, if this transport created it."""
        if not self._own:
            return
        for adapter in self.session.adapters.values():
            manager = getattr(adapter, "poolmanager", None)
            if manager is None:
                continue
            pools = manager.pools  # urllib3 2 no longer closes pools when it forgets them
            for key in list(pools.keys()):
                pool = pools.get(key)
                if pool is not None:
                    pool.close()
            manager.clear()
        self.session.close()
