"""The direct exchange's request head and response framing, as exact tables."""

from __future__ import annotations

import io

import pytest

from llm_connectivity.errors import ConfigurationError
from llm_connectivity.transport.body import BodyError
from llm_connectivity.transport.direct import Headers, framing, read_head, request_head
from llm_connectivity.transport.http11 import RequestState


def test_request_head_exact_bytes() -> None:
    head = request_head("POST", "/v1/chat/completions?x=1", "127.0.0.1:8080",
                        {"Authorization": "Bearer k", "Content-Type": "application/json"}, b"{}", "ua/1")
    assert head == (b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                    b"Authorization: Bearer k\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                    b"User-Agent: ua/1\r\nAccept-Encoding: identity\r\n\r\n")


def test_caller_headers_win_over_defaults() -> None:
    head = request_head("POST", "/", "h", {"user-agent": "mine", "HOST": "other", "Accept-Encoding": "gzip"},
                        b"", "ua/1")
    assert head == b"POST / HTTP/1.1\r\nHost: other\r\nuser-agent: mine\r\nAccept-Encoding: gzip\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize("headers", [{"X-A": "v\r\nInjected: 1"}, {"X\nB": "v"}, {"X-A": "snow ☃"}])
def test_unsendable_headers_are_configuration_errors(headers: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        request_head("POST", "/", "h", headers, b"", "ua/1")


H = Headers
FRAMINGS = [
    # method, version, status, headers -> (chunked, length, keep-alive)
    ("POST", "HTTP/1.1", 200, H({"transfer-encoding": "chunked"}), (True, None, True)),
    ("POST", "HTTP/1.1", 200, H({"transfer-encoding": "Chunked", "connection": "close"}), (True, None, False)),
    ("POST", "HTTP/1.1", 200, H({"transfer-encoding": "chunked", "content-length": "5"}), (True, None, False)),
    ("POST", "HTTP/1.1", 200, H({"content-length": "12"}), (False, 12, True)),
    ("POST", "HTTP/1.1", 200, H({"content-length": "12, 12"}), (False, 12, True)),
    ("POST", "HTTP/1.1", 200, H({}), (False, None, False)),
    ("POST", "HTTP/1.0", 200, H({"content-length": "3"}), (False, 3, False)),
    ("POST", "HTTP/1.0", 200, H({"content-length": "3", "connection": "keep-alive"}), (False, 3, True)),
    ("POST", "HTTP/1.1", 204, H({}), (False, 0, True)),
    ("HEAD", "HTTP/1.1", 200, H({"content-length": "99"}), (False, 0, True)),
    # after 101 the connection speaks another protocol: never reused for HTTP
    ("POST", "HTTP/1.1", 101, H({"upgrade": "websocket", "connection": "Upgrade"}), (False, 0, False)),
    ("POST", "HTTP/1.1", 200, H({"transfer-encoding": "identity"}), (False, None, False)),
    ("POST", "HTTP/1.1", 200, H({"transfer-encoding": "identity", "content-length": "4"}), (False, 4, True)),
    ("POST", "HTTP/1.1", 200, H({"transfer-encoding": "identity, chunked"}), (True, None, True)),
]


@pytest.mark.parametrize("method, version, status, headers, expected", FRAMINGS)
def test_framing_table(method: str, version: str, status: int, headers: Headers,
                       expected: tuple[bool, int | None, bool]) -> None:
    assert framing(method, version, status, headers) == expected


@pytest.mark.parametrize("headers, words", [
    (H({"transfer-encoding": "gzip, chunked"}), "Transfer-Encoding 'gzip, chunked'"),
    (H({"content-length": "12, 13"}), "invalid Content-Length '12, 13'"),
    (H({"content-length": "-1"}), "invalid Content-Length '-1'"),
])
def test_framing_the_client_cannot_read_is_named(headers: Headers, words: str) -> None:
    with pytest.raises(BodyError, match=words):
        framing("POST", "HTTP/1.1", 200, headers)


def test_read_head_skips_interim_responses_and_folds_headers() -> None:
    raw = (b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
           b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Long: a\r\n  b\r\nSet-X: 1\r\nset-x: 2\r\n\r\nbody")
    fp = io.BufferedReader(io.BytesIO(raw))  # type: ignore[arg-type]
    state = RequestState()
    version, status, headers = read_head(fp, state)
    assert (version, status, state.started) == ("HTTP/1.1", 200, True)
    assert dict(headers) == {"content-type": "text/event-stream", "x-long": "a b", "set-x": "1, 2"}
    assert headers.get("Content-Type") == headers["CONTENT-TYPE"] == "text/event-stream"
    assert "X-Long" in headers
    assert fp.read() == b"body"


def test_responses_mocks_apply_without_a_session() -> None:
    """``responses`` patches requests' adapter: the transport then sends through requests."""
    responses = pytest.importorskip("responses")
    from llm_connectivity import LLMClient

    body = {"id": "x", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "mocked"}, "finish_reason": "stop"}]}
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "http://127.0.0.1:9/v1/chat/completions", json=body)
        with LLMClient("openai/gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="sk-test-mock-0000",
                       max_retries=0) as client:
            assert client.chat("hi").content == "mocked"


@pytest.mark.parametrize("line, expected", [
    (b"HTTP/1.1 200 OK\r\n", ("HTTP/1.1", 200)),
    (b"HTTP/1.1 200\r\n", ("HTTP/1.1", 200)),
    (b"HTTP/1.0 404 Not Found\n", ("HTTP/1.0", 404)),
])
def test_status_lines(line: bytes, expected: tuple[str, int]) -> None:
    fp = io.BufferedReader(io.BytesIO(line + b"\r\n"))  # type: ignore[arg-type]
    assert read_head(fp, RequestState())[:2] == expected


@pytest.mark.parametrize("line", [b"HTTP/2 200 OK\r\n", b"ICY 200 OK\r\n", b"HTTP/1.1 2000 OK\r\n", b"HTTP/1.1 20\r\n"])
def test_bad_status_lines(line: bytes) -> None:
    import http.client
    fp = io.BufferedReader(io.BytesIO(line + b"\r\n"))  # type: ignore[arg-type]
    with pytest.raises(http.client.BadStatusLine):
        read_head(fp, RequestState())
