"""HTTP transport: the only module that imports ``requests`` and ``urllib3``.

It sends an :class:`~llm_connectivity.request.HTTPRequest` through a pooled
``requests.Session``. With our own Session and no proxy for the origin, urllib3 opens the
connection and :mod:`.direct` writes the request and parses the answer itself (the cheap
path); a caller's Session and proxied origins go through requests. Either way the body is
read piece by piece as its bytes arrive (:mod:`.response`, :mod:`.body`). Every
``requests`` / ``urllib3`` / socket failure is mapped to the library's own errors, during
``send`` and during the body read. Time limits are enforced per read against
:class:`Deadline` on the socket the *response* reads from, and a watchdog bounds the status
line and headers by the total deadline. Interim ``1xx`` responses are skipped
(:mod:`.direct`, :mod:`.http11`, :mod:`.adapted`); a connection goes back to the pool only when its
response was read to the end, and after ``os.fork()`` the child starts with a fresh pool.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import threading
import time
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import requests.adapters
import requests.utils
import urllib3.connection
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
    TLSCertificateError,
)
from ..request import HTTPRequest
from . import Cancellation
from .adapted import RequestsExchange
from .body import BodyError
from .causes import chain, invalid_header_words, root_cause
from .direct import request_head, start
from .http11 import FinalResponse, RequestState, checked_out, set_current, shutdown_sockets
from .prepare import USER_AGENT, apply_userinfo, has_header
from .response import PooledResponse
from .tracking import track_session
from .watchdog import Watchdog

__all__ = ["Deadline", "HTTPResponse", "RequestsTransport", "map_exception", "shutdown_connections"]

#: What the network stack may raise; anything else is a bug and propagates unchanged.
NETWORK_ERRORS = (OSError, requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                  http.client.HTTPException)

shutdown_connections = shutdown_sockets  # the name this module exported before


def _protocol_problem(exc: BaseException) -> str | None:
    """Words for a response the server framed wrongly (not a lost connection), or None."""
    for cause in chain(exc):
        if isinstance(cause, http.client.LineTooLong):  # "got more than 65536 bytes when reading header line"
            what = str(cause).rpartition("when reading ")[2] or "line"
            return f"the server sent a {what} longer than 65536 bytes"
        if isinstance(cause, urllib3.exceptions.InvalidChunkLength) and cause.length:
            return f"the chunked body is malformed: invalid chunk size {cause.length[:40]!r}"
        if isinstance(cause, ValueError) and "with base 16" in str(cause):  # http.client's chunk-size parse
            return f"the chunked body is malformed: invalid chunk size {str(cause).rpartition(': ')[2][:40]}"
        if type(cause) is http.client.HTTPException and cause.args and "more than" in str(cause.args[0]):
            text = str(cause.args[0]).replace("got more than", "the server sent more than")
            return f"{text} in one response" if text.endswith("headers") else text
        if (isinstance(cause, http.client.BadStatusLine) and not isinstance(cause, http.client.RemoteDisconnected)
                and str(cause.args[0] if cause.args else "").endswith("\n")):  # a whole line, not a cut one
            return f"the server did not answer with an HTTP/1.x status line ({str(cause)[:60]!r})"
    return None


def _is_connect_timeout(exc: BaseException) -> bool:
    """requests' or urllib3's connect timeout (urllib3's NewConnectionError, a refusal,
    subclasses its ConnectTimeoutError)."""
    return isinstance(exc, requests.exceptions.ConnectTimeout) or (
        isinstance(exc, urllib3.exceptions.ConnectTimeoutError)
        and not isinstance(exc, urllib3.exceptions.NewConnectionError))


def map_exception(exc: BaseException, *, deadline: Deadline | None, limit: str, provider: str | None,
                  during_body: bool, connect_timeout: float | None = None) -> LLMError:
    """Translate a requests / urllib3 / socket exception into the most specific LLMError."""
    if isinstance(exc, LLMError):
        return exc
    root = root_cause(exc)
    if _is_connect_timeout(exc):
        elapsed = f"{time.monotonic() - deadline.started:.2f}s elapsed" if deadline is not None else "timed out"
        limit_text = f"{connect_timeout:g}s" if connect_timeout is not None else "the operating system's limit"
        return ConnectTimeoutError(f"could not connect within connection_timeout ({limit_text}; {elapsed}): {root}",
                                   provider=provider, seconds=connect_timeout)
    if isinstance(exc, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, socket.timeout)):
        if deadline is not None:
            return deadline.timeout_error(limit)
        return ReadTimeoutError(f"read timed out: {exc}", provider=provider)
    bad_header = next((c for c in chain(exc) if isinstance(c, urllib3.exceptions.InvalidHeader)), None)
    if bad_header is not None:  # urllib3 raises it for response headers only (requests' own: request headers)
        return ProtocolError(invalid_header_words(str(bad_header)), provider=provider)
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.URLRequired,
                        requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)):
        return ConfigurationError(f"invalid request URL or header: {exc}", provider=provider)
    if isinstance(exc, (urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError)):
        return ProtocolError(f"could not decode the response body (Content-Encoding): {exc}", provider=provider)
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return ProtocolError(f"too many redirects: {exc}", provider=provider)
    if isinstance(root, ssl.SSLCertVerificationError) and not during_body:
        return TLSCertificateError(f"the server's TLS certificate could not be verified ({root.verify_message}); "
                                   "if it is signed by your own CA, point SSL_CERT_FILE or REQUESTS_CA_BUNDLE at "
                                   "that CA's certificate", provider=provider)
    problem = _protocol_problem(exc)
    if problem is not None:
        return ProtocolError(problem, provider=provider)
    if not during_body and isinstance(root, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError,
                                             urllib3.exceptions.NameResolutionError, socket.gaierror,
                                             requests.exceptions.SSLError, urllib3.exceptions.SSLError, ssl.SSLError,
                                             urllib3.exceptions.ProxyError)):
        return ConnectError(f"could not connect: {root}", provider=provider)
    if isinstance(exc, (requests.exceptions.SSLError, requests.exceptions.ProxyError)) and not during_body:
        return ConnectError(f"could not connect: {root}", provider=provider)
    where = "while reading the response body" if during_body else "before the response arrived"
    if isinstance(root, http.client.IncompleteRead):
        detail = (f"the body ended {root.expected} bytes early" if root.expected
                  else "the chunked body ended before its last chunk")
    else:
        detail = str(root) if isinstance(root, OSError) and str(root) else type(root).__name__
    return StreamInterruptedError(f"connection lost {where} (the server closed or broke it: {detail})",
                                  provider=provider)


class HTTPResponse(PooledResponse):
    """A response from :class:`RequestsTransport`, its failures mapped by :func:`map_exception`."""

    __slots__ = ()
    network_errors = NETWORK_ERRORS

    def _map_error(self, exc: BaseException, deadline: Deadline | None, limit: str) -> LLMError:
        return map_exception(exc, deadline=deadline, limit=limit, provider=self.provider, during_body=True)


class _TrackingHTTPConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    """Connections that skip interim 1xx responses; each checkout is recorded (http11)."""

    ConnectionCls = type("HTTPConnection", (urllib3.connection.HTTPConnection,), {"response_class": FinalResponse})

    def _get_conn(self, timeout: float | None = None) -> Any:
        return checked_out(super()._get_conn(timeout))


class _TrackingHTTPSConnectionPool(urllib3.connectionpool.HTTPSConnectionPool):
    """HTTPS twin of :class:`_TrackingHTTPConnectionPool`."""

    ConnectionCls = type("HTTPSConnection", (urllib3.connection.HTTPSConnection,), {"response_class": FinalResponse})

    def _get_conn(self, timeout: float | None = None) -> Any:
        return checked_out(super()._get_conn(timeout))


_POOL_CLASSES = {"http": _TrackingHTTPConnectionPool, "https": _TrackingHTTPSConnectionPool}


class _Adapter(requests.adapters.HTTPAdapter):
    """Our pools (interim 1xx skipped, checkouts tracked) directly and through proxies."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager


def _own_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    adapter = _Adapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False  # the environment is read once per origin in _settings
    return session


class RequestsTransport:
    """Sends requests through one pooled ``requests.Session`` (thread-safe for this use).

    ``session``: a user's own Session (proxies, CA bundle, ``responses`` mocks); it is used
    as given (redirects are never followed: they could carry the API key to another
    origin) and never closed by us. Otherwise a Session is created with a connection pool
    of ``pool_size`` connections per host, and closed by :meth:`close`. Its environment
    settings (``HTTPS_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``,
    ``CURL_CA_BUNDLE``) are read once per origin and reused: requests would re-read them
    on every call (about 1 ms each). After ``os.fork()`` the child process gets a fresh
    pool of its own (the parent's sockets are left untouched).
    """

    def __init__(self, session: requests.Session | None = None, *, pool_size: int = 16) -> None:
        self._own = session is None
        self._env: dict[str, dict[str, Any]] = {}
        self._pool_size = pool_size
        self._pid = os.getpid()
        self._fork_lock = threading.Lock()
        self._abandoned: list[Any] = []  # sessions and pools inherited through fork(): never touched
        self._pools: list[Any] = []  # the direct exchange's pools (closed by close())
        self.session = session if session is not None else _own_session(pool_size)

    def _check_fork(self) -> None:
        """In a child process after fork(): drop the inherited pool without closing it (its
        sockets are shared with the parent, which may be using them)."""
        with self._fork_lock:
            if self._pid != os.getpid():
                self._abandoned.append((self.session, self._pools))
                self.session = _own_session(self._pool_size)
                self._env, self._pools = {}, []
                self._pid = os.getpid()

    def _request(self, request: HTTPRequest, url: str, headers: dict[str, str],
                 timeout: tuple[float | None, float | None], provider: str | None,
                 state: RequestState) -> HTTPResponse:
        if not self._own:  # the user's Session: its hooks, auth and cookies apply; redirects never
            track_session(self.session)  # so that cancel() and the header watchdog reach its sockets
            if self.session.auth is not None and has_header(headers, "authorization"):
                raise ConfigurationError(
                    "the requests.Session passed as session= has auth set, which would replace the Authorization "
                    "header carrying the API key: clear session.auth, or pass no api_key", provider=provider)
            if not has_header(headers, "user-agent") and self.session.headers.get(
                    "User-Agent") in (None, requests.utils.default_user_agent()):
                headers = {**headers, "User-Agent": USER_AGENT}
            response = self.session.request(request.method, url, headers=headers, data=request.body, stream=True,
                                            timeout=timeout, allow_redirects=False)
            return self._wrap(response, provider, request.method)
        settings = self._settings(url)
        if settings["pool"] is not None and not _adapter_patched():  # no proxy, no mock: the direct exchange
            parts = urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            if not target.isascii() or " " in target:  # as requests would: percent-encode what HTTP cannot carry
                target = quote(target, safe="/:@!$&'()*+,;=-._~%?")
            head = request_head(request.method, target, parts.netloc, headers, request.body, USER_AGENT)
            status, response_headers, sock, exchange = start(settings["pool"], request.method, head, request.body,
                                                             timeout[0], timeout[1], state)
            return HTTPResponse(status, response_headers, provider, sock=sock, exchange=exchange)
        # Through a proxy: requests' adapter (our own Session has no cookies, auth or hooks).
        prepared = requests.PreparedRequest()
        prepared.prepare(method=request.method, url=url, headers=headers, data=request.body)
        if "User-Agent" not in prepared.headers:
            prepared.headers["User-Agent"] = USER_AGENT
        adapter = self.session.get_adapter(url)
        response = adapter.send(prepared, stream=True, timeout=timeout,  # type: ignore[arg-type]  # None = no limit
                                proxies=settings["proxies"], verify=settings["verify"])
        return self._wrap(response, provider, request.method)

    @staticmethod
    def _wrap(response: requests.Response, provider: str | None, method: str) -> HTTPResponse:
        exchange = RequestsExchange(response)
        status, headers = response.status_code, response.headers
        try:
            if 100 <= status < 200 and status != 101:  # the adapter passed an interim response on
                final = exchange.skip_interim(method)
                if final is not None:
                    return HTTPResponse(*final, provider, sock=exchange.sock, exchange=exchange)
            exchange.check_framing(method)
        except BaseException:
            exchange.discard()
            raise
        return HTTPResponse(status, headers, provider, sock=exchange.sock, exchange=exchange)

    def _settings(self, url: str) -> dict[str, Any]:
        """Proxy / CA settings for ``url`` from the environment, read once per origin, and
        the connection pool for the direct exchange (None when a proxy applies)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        settings = self._env.get(origin)
        if settings is None:
            ca_bundle = next((os.environ[name] for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
                              if os.environ.get(name)), None)
            settings = {"proxies": requests.utils.get_environ_proxies(origin), "verify": ca_bundle or True,
                        "pool": None}
            if not settings["proxies"] and parts.scheme in ("http", "https"):
                stub = requests.PreparedRequest()
                stub.prepare(method="GET", url=origin + "/")
                adapter: Any = self.session.get_adapter(origin)  # our own HTTPAdapter
                settings["pool"] = adapter.get_connection_with_tls_context(stub, settings["verify"])
                self._pools.append(settings["pool"])
            self._env[origin] = settings
        return settings

    def send(self, request: HTTPRequest, *, deadline: Deadline, connect_timeout: float | None,
             provider: str | None = None, cancel: Cancellation | None = None) -> HTTPResponse:
        """Send ``request``; return as soon as the final status line and headers arrived.

        The connect limit is ``connect_timeout`` capped by what is left of the total deadline.
        While the headers are awaited, ``cancel`` (our own Session only) can shut down the
        connection the request checked out, from another thread. A request that got no
        byte of answer on a reused keep-alive connection (the server had closed it) is sent
        once more, at once, on a fresh connection.
        """
        url, headers = apply_userinfo(request.url, request.headers, provider)
        if self._own and self._pid != os.getpid():
            self._check_fork()
        state = RequestState()
        while True:
            try:
                response = self._send_once(request, url, headers, deadline, connect_timeout, provider, cancel, state)
            except _Resend:
                state = RequestState(fresh=True)
                continue
            if 100 <= response.status_code < 200:  # a user Session's adapter passed an interim response on
                response.close()
                raise ProtocolError(f"the server answered with an interim status {response.status_code} that this "
                                    "Session's adapter did not skip", provider=provider)
            return response

    def _send_once(self, request: HTTPRequest, url: str, headers: dict[str, str], deadline: Deadline,
                   connect_timeout: float | None, provider: str | None, cancel: Cancellation | None,
                   state: RequestState) -> HTTPResponse:
        read_timeout, limit = deadline.next_timeout()
        connect_limited_by_total = False
        if deadline.total_at is not None:
            left = max(0.001, deadline.total_at - time.monotonic())
            if connect_timeout is None or left < connect_timeout:
                connect_timeout, connect_limited_by_total = left, True
        connections = state.connections
        abort = None
        if cancel is not None:
            def abort() -> None:
                shutdown_sockets(connections)
            cancel.add_callback(abort)
        watchdog = None
        try:
            set_current(state)
            watchdog = self._watchdog(deadline, connections)
            response = self._request(request, url, headers, (connect_timeout, read_timeout), provider, state)
        except BodyError as exc:
            raise ProtocolError(str(exc), provider=provider) from exc
        except NETWORK_ERRORS as exc:
            if _is_connect_timeout(exc):
                if connect_limited_by_total:
                    raise deadline.timeout_error("total_timeout") from exc
                raise map_exception(exc, deadline=deadline, limit=limit, provider=provider, during_body=False,
                                    connect_timeout=connect_timeout) from exc
            if watchdog is not None and watchdog.fired:
                raise deadline.timeout_error("total_timeout") from exc
            if (state.reused and not state.started and not state.fresh and isinstance(root_cause(exc), ConnectionError)
                    and not (cancel is not None and cancel.cancelled)):
                raise _Resend() from exc
            raise map_exception(exc, deadline=deadline, limit=limit, provider=provider, during_body=False) from exc
        finally:
            set_current(None)
            if watchdog is not None:
                watchdog.cancel()
            if cancel is not None and abort is not None:
                cancel.remove_callback(abort)
        return response

    def _watchdog(self, deadline: Deadline, connections: list[Any]) -> Watchdog | None:
        """With a total deadline, a timer that aborts the connection if the status line and
        headers are still arriving when it passes."""
        if deadline.total_at is None:
            return None
        return Watchdog(deadline.total_at - time.monotonic(), connections)

    def close(self) -> None:
        """Close the Session, and every pooled connection, if this transport created it."""
        if not self._own or self._pid != os.getpid():
            return  # a forked child never closes what it shares with its parent
        pools, self._pools, self._env = self._pools, [], {}  # a later request opens new pools, as requests would
        for pool in pools:
            pool.close()
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


def _adapter_patched() -> bool:
    """True while something (``responses``, a test double) replaced requests' adapter
    ``send``: then requests must carry the request, or the patch would be bypassed."""
    return getattr(requests.adapters.HTTPAdapter.send, "__module__", None) != "requests.adapters"


class _Resend(Exception):
    """Internal: the request may be sent once more on a fresh connection."""
