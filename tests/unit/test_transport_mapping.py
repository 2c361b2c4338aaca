"""map_exception turns every requests / urllib3 / socket failure into an LLMError; Deadline."""

from __future__ import annotations

import http.client
import inspect
import socket
import time
from typing import Any

import pytest
import requests
import requests.exceptions
import urllib3.exceptions

from llm_connectivity.errors import (
    ConfigurationError,
    ConnectError,
    ConnectTimeoutError,
    ContentIdleTimeoutError,
    LLMError,
    NetworkError,
    ProtocolError,
    ReadTimeoutError,
    StreamInterruptedError,
    TotalTimeoutError,
)
from llm_connectivity.request import HTTPRequest
from llm_connectivity.transport.requests_transport import Deadline, RequestsTransport, map_exception

_ARG_CANDIDATES: tuple[tuple[Any, ...], ...] = (
    ("boom",),
    (),
    ("boom", "doc", 0),  # JSONDecodeError
    (None, "boom"),  # PoolError(pool, message), NewConnectionError(conn, message)
    (None, "http://example.invalid/", "boom"),  # RequestError(pool, url, message)
    ("example.invalid", None, OSError("boom")),  # NameResolutionError(host, conn, reason)
    (0, 10),  # IncompleteRead(partial, expected)
)


def _instantiate(cls: type[BaseException]) -> BaseException:
    for args in _ARG_CANDIDATES:
        try:
            return cls(*args)
        except Exception:  # noqa: BLE001 - try the next signature
            continue
    raise AssertionError(f"cannot build {cls!r} for the test; add a constructor signature")


def _exception_classes(module: Any) -> list[type[BaseException]]:
    return [obj for _, obj in inspect.getmembers(module, inspect.isclass) if issubclass(obj, BaseException)]


REQUESTS_CLASSES = _exception_classes(requests.exceptions)
URLLIB3_ESCAPING = [
    urllib3.exceptions.ReadTimeoutError(None, "http://example.invalid/", "Read timed out."),  # type: ignore[arg-type]
    urllib3.exceptions.ProtocolError("Connection broken", ConnectionResetError(104, "reset")),
    urllib3.exceptions.DecodeError("bad gzip", ValueError("x")),
    urllib3.exceptions.SSLError("bad record mac"),
    urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection"),  # type: ignore[arg-type]
    urllib3.exceptions.NameResolutionError("example.invalid", None, socket.gaierror(-2, "Name or service not known")),  # type: ignore[arg-type]
    urllib3.exceptions.IncompleteRead(10, 90),
]
OTHER_ESCAPING = [
    socket.timeout("timed out"),
    ConnectionResetError(104, "Connection reset by peer"),
    ConnectionRefusedError(111, "Connection refused"),
    socket.gaierror(-2, "Name or service not known"),
    http.client.IncompleteRead(b"abc", 10),
    http.client.RemoteDisconnected("Remote end closed connection without response"),
    OSError("generic"),
    ValueError("something odd"),
]


def test_enumeration_found_the_usual_classes() -> None:
    names = {cls.__name__ for cls in REQUESTS_CLASSES}
    assert {"RequestException", "ConnectionError", "ConnectTimeout", "ReadTimeout", "ChunkedEncodingError",
            "ContentDecodingError", "InvalidURL", "MissingSchema", "SSLError", "ProxyError"} <= names


def _deadlines() -> list[Deadline | None]:
    return [None, Deadline(read_timeout=30.0, total_timeout=60.0, content_idle_timeout=45.0, provider="p")]


@pytest.mark.parametrize("cls", REQUESTS_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("during_body", [False, True])
@pytest.mark.parametrize("limit", ["read_timeout", "total_timeout", "content_idle_timeout"])
def test_every_requests_exception_maps_to_llm_error(cls: type[BaseException], during_body: bool, limit: str) -> None:
    exc = _instantiate(cls)
    for deadline in _deadlines():
        mapped = map_exception(exc, deadline=deadline, limit=limit, provider="p", during_body=during_body)
        assert isinstance(mapped, LLMError), (cls, mapped)
        assert mapped.provider in ("p", None)


@pytest.mark.parametrize("exc", URLLIB3_ESCAPING + OTHER_ESCAPING, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("during_body", [False, True])
def test_every_escaping_low_level_exception_maps_to_llm_error(exc: BaseException, during_body: bool) -> None:
    for deadline in _deadlines():
        mapped = map_exception(exc, deadline=deadline, limit="read_timeout", provider="p", during_body=during_body)
        assert isinstance(mapped, LLMError)


def test_llm_error_passes_through() -> None:
    err = ConnectError("already ours")
    assert map_exception(err, deadline=None, limit="read_timeout", provider="p", during_body=False) is err


# -- specific expectations ---------------------------------------------------------------------------


def _raised_by_requests(outer: type[requests.exceptions.RequestException], reason: BaseException) -> BaseException:
    """Build ``outer`` the way requests' adapter does: raised while handling MaxRetryError(reason)."""
    try:
        try:
            raise urllib3.exceptions.MaxRetryError(None, "http://example.invalid/", reason=reason)  # type: ignore[arg-type]
        except urllib3.exceptions.MaxRetryError as inner:
            raise outer(inner)
    except outer as exc:
        return exc
    raise AssertionError("unreachable")


def _map(exc: BaseException, *, during_body: bool = False, deadline: Deadline | None = None,
         limit: str = "read_timeout") -> LLMError:
    return map_exception(exc, deadline=deadline, limit=limit, provider="openai", during_body=during_body)


def test_connect_timeout() -> None:
    exc = _raised_by_requests(requests.exceptions.ConnectTimeout,
                              urllib3.exceptions.ConnectTimeoutError(None, "timed out"))
    mapped = _map(exc, deadline=Deadline(read_timeout=5.0))
    assert type(mapped) is ConnectTimeoutError
    assert mapped.provider == "openai"
    assert "connection_timeout" in str(mapped)
    assert mapped.is_retryable


def test_read_timeout_without_deadline() -> None:
    mapped = _map(requests.exceptions.ReadTimeout("Read timed out."))
    assert type(mapped) is ReadTimeoutError


@pytest.mark.parametrize(("limit", "cls", "seconds"), [
    ("read_timeout", ReadTimeoutError, 7.0),
    ("total_timeout", TotalTimeoutError, 60.0),
    ("content_idle_timeout", ContentIdleTimeoutError, 30.0),
])
@pytest.mark.parametrize("exc", [
    requests.exceptions.ReadTimeout("Read timed out."),
    urllib3.exceptions.ReadTimeoutError(None, "http://example.invalid/", "Read timed out."),  # type: ignore[arg-type]
    socket.timeout("timed out"),
], ids=lambda e: type(e).__name__)
def test_read_timeout_with_deadline_uses_limit(exc: BaseException, limit: str, cls: type[LLMError],
                                               seconds: float) -> None:
    deadline = Deadline(read_timeout=7.0, total_timeout=60.0, content_idle_timeout=30.0, provider="openai")
    mapped = _map(exc, deadline=deadline, limit=limit, during_body=True)
    assert type(mapped) is cls
    assert mapped.seconds == seconds  # type: ignore[attr-defined]
    assert limit in str(mapped)
    assert f"{seconds:g}s" in str(mapped)


def test_read_timeout_with_unlimited_read_never_raises() -> None:
    """Regression: timeout_error formatted None with :g and raised TypeError."""
    mapped = _map(requests.exceptions.ReadTimeout("Read timed out."), deadline=Deadline(read_timeout=None))
    assert isinstance(mapped, ReadTimeoutError)


@pytest.mark.parametrize("reason", [
    urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused"),  # type: ignore[arg-type]
    urllib3.exceptions.NameResolutionError("example.invalid", None, socket.gaierror(-2, "unknown")),  # type: ignore[arg-type]
    urllib3.exceptions.SSLError("certificate verify failed"),
    urllib3.exceptions.ProxyError("proxy down", OSError("x")),
], ids=lambda e: type(e).__name__)
def test_connection_error_before_response_is_connect_error(reason: BaseException) -> None:
    exc = _raised_by_requests(requests.exceptions.ConnectionError, reason)
    mapped = _map(exc)
    assert type(mapped) is ConnectError
    assert isinstance(mapped, ConnectionError)


def test_requests_ssl_error_is_connect_error() -> None:
    exc = _raised_by_requests(requests.exceptions.SSLError, urllib3.exceptions.SSLError("handshake failure"))
    assert type(_map(exc)) is ConnectError


def test_connection_refused_for_real_is_connect_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with requests.Session() as session, pytest.raises(requests.exceptions.ConnectionError) as info:
        session.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=2)
    assert type(_map(info.value)) is ConnectError


def test_transport_send_maps_refused_connection() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    transport = RequestsTransport()
    try:
        request = HTTPRequest("POST", f"http://127.0.0.1:{port}/v1/chat/completions", {}, b"{}")
        with pytest.raises(ConnectError) as info:
            transport.send(request, connect_timeout=2.0, deadline=Deadline(read_timeout=2.0), provider="openai")
        assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)
        assert info.value.provider == "openai"
    finally:
        transport.close()


@pytest.mark.parametrize("exc", [
    requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
    urllib3.exceptions.ProtocolError("Connection broken", ConnectionResetError(104, "reset")),
    urllib3.exceptions.IncompleteRead(10, 90),
    urllib3.exceptions.SSLError("bad record mac"),
    ConnectionResetError(104, "reset"),
    http.client.IncompleteRead(b"", 5),
], ids=lambda e: type(e).__name__)
def test_broken_body_is_stream_interrupted(exc: BaseException) -> None:
    mapped = _map(exc, during_body=True)
    assert type(mapped) is StreamInterruptedError
    assert "while reading the response body" in str(mapped)
    assert isinstance(mapped, NetworkError) and mapped.is_retryable


@pytest.mark.parametrize("exc", [
    requests.exceptions.ContentDecodingError("bad gzip"),
    urllib3.exceptions.DecodeError("bad gzip", ValueError("x")),
], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("during_body", [False, True])
def test_decoding_errors_are_protocol_errors(exc: BaseException, during_body: bool) -> None:
    mapped = _map(exc, during_body=during_body)
    assert type(mapped) is ProtocolError
    assert not mapped.is_retryable


@pytest.mark.parametrize("exc", [
    requests.exceptions.InvalidURL("bad url"),
    requests.exceptions.MissingSchema("no schema"),
    requests.exceptions.InvalidSchema("ftp"),
    requests.exceptions.InvalidHeader("bad header"),
], ids=lambda e: type(e).__name__)
def test_bad_url_or_header_is_configuration_error(exc: BaseException) -> None:
    mapped = _map(exc)
    assert type(mapped) is ConfigurationError
    assert not mapped.is_retryable


def test_too_many_redirects_is_protocol_error() -> None:
    assert type(_map(requests.exceptions.TooManyRedirects("30 redirects"))) is ProtocolError


def test_unknown_failure_before_response_is_stream_interrupted() -> None:
    mapped = _map(requests.exceptions.ConnectionError("Connection aborted."))
    assert type(mapped) is StreamInterruptedError
    assert "before the response arrived" in str(mapped)


# -- Deadline ------------------------------------------------------------------------------------------


def test_next_timeout_read_only() -> None:
    assert Deadline(read_timeout=12.0).next_timeout() == (12.0, "read_timeout")
    assert Deadline(read_timeout=None).next_timeout() == (None, "read_timeout")


def test_next_timeout_picks_total_when_nearer() -> None:
    timeout, limit = Deadline(read_timeout=10.0, total_timeout=0.5).next_timeout()
    assert limit == "total_timeout"
    assert 0 < timeout <= 0.5


def test_next_timeout_picks_read_when_nearer() -> None:
    assert Deadline(read_timeout=0.25, total_timeout=10.0, content_idle_timeout=5.0).next_timeout() == \
        (0.25, "read_timeout")


def test_next_timeout_picks_idle_when_nearest() -> None:
    timeout, limit = Deadline(read_timeout=10.0, total_timeout=5.0, content_idle_timeout=0.5).next_timeout()
    assert limit == "content_idle_timeout"
    assert 0 < timeout <= 0.5


def test_next_timeout_total_with_unlimited_read() -> None:
    timeout, limit = Deadline(read_timeout=None, total_timeout=3.0).next_timeout()
    assert limit == "total_timeout" and 0 < timeout <= 3.0


def test_total_deadline_passed_raises_total_timeout() -> None:
    deadline = Deadline(read_timeout=10.0, total_timeout=0.02, provider="openai")
    time.sleep(0.04)
    with pytest.raises(TotalTimeoutError) as info:
        deadline.next_timeout()
    assert info.value.seconds == 0.02
    assert info.value.provider == "openai"
    assert "total_timeout" in str(info.value)


def test_idle_deadline_passed_raises_content_idle_timeout() -> None:
    deadline = Deadline(read_timeout=10.0, content_idle_timeout=0.02)
    time.sleep(0.04)
    with pytest.raises(ContentIdleTimeoutError) as info:
        deadline.next_timeout()
    assert "content_idle_timeout" in str(info.value)


def test_mark_content_restarts_idle_clock() -> None:
    deadline = Deadline(read_timeout=10.0, content_idle_timeout=0.15)
    time.sleep(0.1)
    deadline.mark_content()
    time.sleep(0.1)  # 0.2 s since start, 0.1 s since content
    timeout, limit = deadline.next_timeout()
    assert limit == "content_idle_timeout" and 0 < timeout <= 0.15


def test_mark_content_does_not_extend_total() -> None:
    deadline = Deadline(read_timeout=10.0, total_timeout=0.05, content_idle_timeout=1.0)
    time.sleep(0.03)
    deadline.mark_content()
    time.sleep(0.04)
    with pytest.raises(TotalTimeoutError):
        deadline.next_timeout()


def test_mark_content_without_idle_limit_is_noop() -> None:
    deadline = Deadline(read_timeout=1.0)
    deadline.mark_content()
    assert deadline.idle_at is None
    assert deadline.next_timeout() == (1.0, "read_timeout")


def test_timeout_error_classes() -> None:
    deadline = Deadline(read_timeout=1.0, total_timeout=2.0, content_idle_timeout=3.0, provider="x")
    assert type(deadline.timeout_error("read_timeout")) is ReadTimeoutError
    assert type(deadline.timeout_error("total_timeout")) is TotalTimeoutError
    assert type(deadline.timeout_error("content_idle_timeout")) is ContentIdleTimeoutError
    assert deadline.timeout_error("content_idle_timeout").seconds == 3.0
