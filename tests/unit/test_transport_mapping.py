"""map_exception: every requests / urllib3 / socket failure -> the exact LLMError (class and message)."""

from __future__ import annotations

import http.client
import socket

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

def _raised_while_handling(outer: BaseException, inner: BaseException) -> BaseException:
    """``outer`` raised while ``inner`` was being handled (how requests wraps urllib3)."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer
    except BaseException as exc:  # noqa: BLE001 - we want exactly this object back
        return exc


REFUSED = ConnectionRefusedError(111, "Connection refused")
BEFORE = "connection lost before the response arrived"
DURING = "connection lost while reading the response body"

# input exception -> (class before the response arrived, message fragment, class during the body, fragment)
MAPPING_TABLE: list[tuple[BaseException, type[LLMError], str, type[LLMError], str]] = [
    (requests.exceptions.ConnectTimeout("boom"), ConnectTimeoutError, "could not connect within connection_timeout",
     ConnectTimeoutError, "could not connect within connection_timeout"),
    (requests.exceptions.ReadTimeout("boom"), ReadTimeoutError, "longer than read_timeout (30s",
     ReadTimeoutError, "longer than read_timeout (30s"),
    (urllib3.exceptions.ReadTimeoutError(None, "http://x/", "Read timed out."),  # type: ignore[arg-type]
     ReadTimeoutError, "read_timeout (30s", ReadTimeoutError, "read_timeout (30s"),
    (socket.timeout("timed out"), ReadTimeoutError, "read_timeout (30s", ReadTimeoutError, "read_timeout (30s"),
    (requests.exceptions.ConnectionError("boom"), StreamInterruptedError, BEFORE, StreamInterruptedError, DURING),
    (requests.exceptions.ChunkedEncodingError("boom"), StreamInterruptedError, BEFORE, StreamInterruptedError,
     DURING),
    (requests.exceptions.ContentDecodingError("bad gzip"), ProtocolError, "could not decode the response body",
     ProtocolError, "could not decode the response body"),
    (urllib3.exceptions.DecodeError("bad gzip", ValueError("x")), ProtocolError, "(Content-Encoding)",
     ProtocolError, "(Content-Encoding)"),
    (requests.exceptions.TooManyRedirects("30"), ProtocolError, "too many redirects", ProtocolError,
     "too many redirects"),
    (requests.exceptions.InvalidURL("bad url"), ConfigurationError, "invalid request URL or header: bad url",
     ConfigurationError, "invalid request URL or header"),
    (requests.exceptions.MissingSchema("no schema"), ConfigurationError, "invalid request URL or header",
     ConfigurationError, "invalid request URL or header"),
    (requests.exceptions.InvalidSchema("ftp"), ConfigurationError, "invalid request URL or header",
     ConfigurationError, "invalid request URL or header"),
    (requests.exceptions.InvalidHeader("bad"), ConfigurationError, "invalid request URL or header",
     ConfigurationError, "invalid request URL or header"),
    (requests.exceptions.SSLError("handshake failure"), ConnectError, "could not connect: handshake failure",
     StreamInterruptedError, DURING),
    (requests.exceptions.ProxyError("proxy down"), ConnectError, "could not connect: proxy down",
     StreamInterruptedError, DURING),
    (_raised_while_handling(requests.exceptions.ConnectionError("wrapped"), REFUSED), ConnectError,
     "could not connect: [Errno 111] Connection refused", StreamInterruptedError, DURING),
    (REFUSED, ConnectError, "could not connect: [Errno 111]", StreamInterruptedError, "[Errno 111]"),
    (socket.gaierror(-2, "Name or service not known"), ConnectError, "Name or service not known",
     StreamInterruptedError, DURING),
    (urllib3.exceptions.NewConnectionError(None, "Failed to establish"),  # type: ignore[arg-type]
     ConnectError, "Failed to establish", StreamInterruptedError, DURING),
    (urllib3.exceptions.SSLError("bad record mac"), ConnectError, "bad record mac", StreamInterruptedError, DURING),
    (urllib3.exceptions.ProtocolError("Connection broken", ConnectionResetError(104, "reset")),
     StreamInterruptedError, BEFORE, StreamInterruptedError, DURING),
    (urllib3.exceptions.IncompleteRead(10, 90), StreamInterruptedError, BEFORE, StreamInterruptedError, DURING),
    (ConnectionResetError(104, "Connection reset by peer"), StreamInterruptedError,
     "[Errno 104] Connection reset by peer", StreamInterruptedError, "[Errno 104] Connection reset by peer"),
    (http.client.RemoteDisconnected("Remote end closed connection without response"), StreamInterruptedError,
     "Remote end closed connection", StreamInterruptedError, "Remote end closed connection"),
    (http.client.IncompleteRead(b"abc", 10), StreamInterruptedError, BEFORE, StreamInterruptedError, DURING),
]


@pytest.mark.parametrize(("exc", "before_cls", "before_text", "during_cls", "during_text"), MAPPING_TABLE,
                         ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None)
def test_mapping_table(exc: BaseException, before_cls: type[LLMError], before_text: str,
                       during_cls: type[LLMError], during_text: str) -> None:
    deadline = Deadline(read_timeout=30.0, provider="p")
    before = map_exception(exc, deadline=deadline, limit="read_timeout", provider="p", during_body=False)
    during = map_exception(exc, deadline=deadline, limit="read_timeout", provider="p", during_body=True)
    assert (type(before), type(during)) == (before_cls, during_cls)
    assert before_text in str(before) and during_text in str(during)
    assert before.provider == during.provider == "p"


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
        assert isinstance(info.value.__cause__, (requests.exceptions.ConnectionError,
                                                 urllib3.exceptions.NewConnectionError))
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
