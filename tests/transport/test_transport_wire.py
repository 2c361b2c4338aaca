"""The transport against exact bytes on real loopback sockets: interim 1xx responses,
header floods, cut chunked bodies, stale keep-alive connections, redirects, URL userinfo
and the User-Agent. Every server answers from a script (rawserver.py)."""

from __future__ import annotations

import base64
import logging
import socket
import sys
import threading
import time
from typing import Any

import pytest
import requests
from rawserver import CLOSE, HANG, RawServer, sse_response

from llm_connectivity import LLMClient
from llm_connectivity.errors import APIStatusError, BadRequestError, ConfigurationError, ProtocolError, StreamInterruptedError

KEY = "sk-test-transport-wire-SECRET-0000"


def _client(base_url: str, **options: Any) -> LLMClient:
    options.setdefault("max_retries", 0)
    options.setdefault("timeout", 5.0)
    return LLMClient("openai/gpt-4o-mini", base_url=base_url, api_key=options.pop("api_key", KEY), **options)


def _stream_text(client: LLMClient) -> str:
    with client.chat_stream("hi") as stream:
        return stream.text()


# -- interim 1xx responses -------------------------------------------------------------------------
INTERIMS = {
    "102": b"HTTP/1.1 102 Processing\r\n\r\n",
    "103 with headers": b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nX-Hint: 1\r\n\r\n",
    "100, 103, 102": (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                      b"HTTP/1.1 102 Processing\r\n\r\n"),
}


@pytest.mark.parametrize("own_session", [True, False], ids=["own session", "user session"])
@pytest.mark.parametrize("interim", list(INTERIMS), ids=list(INTERIMS))
def test_interim_responses_are_skipped_and_the_connection_stays_in_step(interim: str, own_session: bool) -> None:
    session = None if own_session else requests.Session()  # its adapter skips only 100 Continue: we do the rest
    with RawServer() as server:
        server.queue([INTERIMS[interim], 0.02, sse_response("first answer")],
                     [INTERIMS[interim] + sse_response("second answer")],
                     [sse_response("third answer")])
        with _client(server.base_url, session=session) as client:
            answers = [_stream_text(client) for _ in range(3)]
    if session is not None:
        session.close()
    assert answers == ["first answer", "second answer", "third answer"]
    assert [s.connection for s in server.seen[:3]] == [1, 1, 1]  # reused: each answer read to its end


@pytest.mark.parametrize("own_session", [True, False], ids=["own session", "user session"])
def test_interim_responses_split_across_writes(own_session: bool) -> None:
    session = None if own_session else requests.Session()
    final = sse_response("first answer")
    with RawServer() as server:
        server.queue([b"HTTP/1.1 10", 0.02, b"3 Early Hints\r\nLink: </a>\r", 0.02, b"\n\r\nHTTP/1.1 102 Proce", 0.02,
                      b"ssing\r\n\r\n" + final[:20], 0.02, final[20:]],
                     [sse_response("second answer")])
        with _client(server.base_url, session=session) as client:
            answers = [_stream_text(client) for _ in range(2)]
    if session is not None:
        session.close()
    assert answers == ["first answer", "second answer"]
    assert [s.connection for s in server.seen] == [1, 1]


def test_endless_interim_responses_are_a_protocol_error() -> None:
    with RawServer() as server:
        server.queue([b"HTTP/1.1 103 Early Hints\r\n\r\n" * 40 + sse_response("never")])
        with _client(server.base_url, max_retries=2) as client, pytest.raises(ProtocolError) as info:
            _stream_text(client)
    assert "more than 32 interim (1xx) responses" in str(info.value)
    assert len(server.seen) == 1


# -- header floods: a ProtocolError naming the problem, not retried ----------------------------------
HEADER_FLOODS = {
    "long line": (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",
                  "the server sent a header line longer than 65536 bytes"),
    "10,000 headers": (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(10000)) + b"\r\n",
                       "the server sent more than 100 headers in one response"),
    "long status line": (b"HTTP/1.1 200 " + b"O" * 70000 + b"\r\n\r\n",
                         "the server sent a status line longer than 65536 bytes"),
}


@pytest.mark.parametrize("own_session", [True, False], ids=["own session", "user session"])
@pytest.mark.parametrize("flood", list(HEADER_FLOODS), ids=list(HEADER_FLOODS))
def test_header_floods_are_protocol_errors_and_not_retried(flood: str, own_session: bool) -> None:
    data, message = HEADER_FLOODS[flood]
    session = None if own_session else requests.Session()
    with RawServer(default=[data, CLOSE]) as server:
        with _client(server.base_url, max_retries=3, session=session) as client, pytest.raises(ProtocolError) as info:
            _stream_text(client)
    if session is not None:
        session.close()
    assert str(info.value) == message
    assert len(server.seen) == 1


# -- cut and broken chunked bodies ---------------------------------------------------------------------
def _head(extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n{extra}\r\n".encode()


EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}\n\n'
GZIP = "Content-Encoding: gzip\r\n"


@pytest.mark.parametrize("cut, error, words", [
    (b"%x\r\n%s\r\n40\r\ndata: {\"cho" % (len(EVENT), EVENT), StreamInterruptedError,
     "the chunked body ended mid-chunk (53 bytes of the chunk never arrived)"),
    (b"%x\r\n%s\r\n" % (len(EVENT), EVENT), StreamInterruptedError,
     "the chunked body ended before its last (zero-size) chunk"),
    (b"%x\r\n%s\r\nzz-not-hex\r\nbroken\r\n" % (len(EVENT), EVENT), ProtocolError,
     "the chunked body is malformed: invalid chunk size 'zz-not-hex'"),
    (b"%x\r\n%sXX" % (len(EVENT), EVENT), ProtocolError,
     "the chunked body is malformed: a chunk is longer than its declared size"),
], ids=["mid-chunk", "before the last chunk", "invalid size", "overlong chunk"])
def test_cut_or_broken_chunked_body_names_the_problem(cut: bytes, error: type[Exception], words: str) -> None:
    with RawServer(default=[_head(), cut, CLOSE]) as server:
        with _client(server.base_url) as client, pytest.raises(error) as info:
            _stream_text(client)
    assert words in str(info.value)
    assert info.value.partial_response.content == "Hello"  # type: ignore[attr-defined]


@pytest.mark.parametrize("own_session", [True, False], ids=["own session", "user session (urllib3 path)"])
def test_invalid_chunk_size_under_gzip_names_the_problem(own_session: bool) -> None:
    session = None if own_session else requests.Session()
    with RawServer(default=[_head(GZIP), b"zz\r\nbroken\r\n", CLOSE]) as server:
        with _client(server.base_url, session=session) as client, pytest.raises(ProtocolError) as info:
            _stream_text(client)
    if session is not None:
        session.close()
    assert str(info.value).startswith("the chunked body is malformed: invalid chunk size ")
    assert "zz" in str(info.value)


# -- a stale keep-alive connection: the request is sent once more, at once ------------------------------
def test_request_lost_on_a_reused_connection_is_resent_once_on_a_fresh_one() -> None:
    with RawServer() as server:
        server.queue([sse_response("one")], [CLOSE], [sse_response("two")])
        with _client(server.base_url, max_retries=0) as client:
            assert _stream_text(client) == "one"
            started = time.monotonic()
            assert _stream_text(client) == "two"
            elapsed = time.monotonic() - started
    assert [s.connection for s in server.seen] == [1, 1, 2]
    assert elapsed < 0.5  # no backoff sleep


@pytest.mark.parametrize("script, why", [
    ([CLOSE], "a fresh connection"),
    ([b"HTTP/1.1 2", CLOSE], "a byte of the answer arrived"),
], ids=["fresh connection", "partial status line"])
def test_request_is_not_resent_when_that_would_not_be_safe(script: list[Any], why: str) -> None:
    with RawServer() as server:
        if why == "a fresh connection":
            server.queue(script)
        else:
            server.queue([sse_response("one")], script)
        with _client(server.base_url, max_retries=0) as client:
            if why != "a fresh connection":
                assert _stream_text(client) == "one"
            with pytest.raises(StreamInterruptedError):
                _stream_text(client)
    assert len(server.seen) == (1 if why == "a fresh connection" else 2)


# -- redirects never carry credentials ---------------------------------------------------------------
@pytest.mark.parametrize("provider, header", [
    ("openai", "authorization"), ("anthropic", "x-api-key"), ("gemini", "x-goog-api-key")])
@pytest.mark.parametrize("own_session", [True, False], ids=["own session", "user session"])
def test_redirect_to_another_port_is_not_followed(provider: str, header: str, own_session: bool) -> None:
    with RawServer(default=[sse_response("elsewhere")]) as other, RawServer() as origin:
        location = f"http://127.0.0.1:{other.port}/v1/chat/completions"
        origin.queue([f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
                      .encode()])
        base = origin.base_url if provider == "openai" else origin.base_url[:-3]
        session = None if own_session else requests.Session()
        model = {"openai": "openai/gpt-4o-mini", "anthropic": "anthropic/claude-haiku-4-5",
                 "gemini": "gemini/gemini-2.5-flash"}[provider]
        with LLMClient(model, base_url=base, api_key=KEY, max_retries=0, session=session) as client:
            with pytest.raises(APIStatusError) as info:
                _stream_text(client)
        if session is not None:
            session.close()
    assert info.value.status_code == 307
    assert KEY in origin.seen[0].headers[header]  # the key went where it was meant to go
    assert other.seen == []


# -- URL userinfo -----------------------------------------------------------------------------------
def test_userinfo_becomes_basic_auth_and_leaves_the_url() -> None:
    with RawServer(default=[sse_response("ok")]) as server:
        url = server.base_url.replace("http://", "http://alice:s%40cret@")
        with LLMClient("ollama/llama3", base_url=url, max_retries=0) as client:
            assert _stream_text(client) == "ok"
    seen = server.seen[0]
    assert seen.headers["authorization"] == "Basic " + base64.b64encode(b"alice:s@cret").decode()
    assert seen.path == "/v1/chat/completions"


@pytest.mark.parametrize("path", ["own session", "user session", "proxy"])
def test_userinfo_never_reaches_logs_or_errors(path: str, caplog: pytest.LogCaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3's connection log and ours
    password = "pw-NEVER-LOGGED-9f2e"
    session = requests.Session() if path == "user session" else None
    texts = []
    with RawServer() as server:
        server.queue([sse_response("ok")], *[[b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\noops"]] * 2)
        base = server.base_url
        if path == "proxy":
            for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
                monkeypatch.delenv(name, raising=False)
            monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
            base = "http://127.0.0.1:9/v1"
        for url in (base.replace("http://", f"http://alice:{password}@"),
                    f"http://alice:{password}@127.0.0.1:1/v1"):  # nothing listens on port 1
            with LLMClient("ollama/llama3", base_url=url, max_retries=1, session=session) as client:
                texts.append(repr(client))
                for _ in range(2):
                    try:
                        texts.append(_stream_text(client))
                    except Exception as exc:  # noqa: BLE001 - every error's text is checked
                        texts += [repr(exc), str(exc), repr(exc.__cause__), repr(getattr(exc, "body", None))]
    if session is not None:
        session.close()
    assert texts.count("ok") == 1 and any("oops" in t for t in texts)
    logged = [record.getMessage() for record in caplog.records]
    assert logged and not [t for t in texts + logged if password in t]
    assert server.seen[0].headers["authorization"] == "Basic " + base64.b64encode(f"alice:{password}".encode()).decode()


def test_userinfo_and_an_api_key_conflict_before_any_io() -> None:
    with RawServer(default=[sse_response("ok")]) as server:
        url = server.base_url.replace("http://", "http://alice:hunter2@")
        with _client(url) as client, pytest.raises(ConfigurationError) as info:
            _stream_text(client)
    assert "carries credentials (user:password@) and the request also has an Authorization header" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert server.seen == []


def test_session_auth_and_an_api_key_conflict_before_any_io() -> None:
    session = requests.Session()
    session.auth = ("alice", "hunter2")  # requests would replace the Bearer key with Basic credentials
    with RawServer(default=[sse_response("ok")]) as server:
        with _client(server.base_url, session=session) as client, pytest.raises(ConfigurationError) as info:
            _stream_text(client)
    session.close()
    assert str(info.value).startswith("the requests.Session passed as session= has auth set")
    assert "hunter2" not in str(info.value)
    assert server.seen == []


# -- User-Agent ------------------------------------------------------------------------------------
def test_user_agent_names_the_library_unless_the_caller_set_one() -> None:
    expected = f"llm-connectivity/0.1.0 python/{sys.version_info[0]}.{sys.version_info[1]}"
    with RawServer(default=[sse_response("ok")]) as server:
        mine = requests.Session()
        mine.headers["User-Agent"] = "my-app/2.0"
        for session in (None, requests.Session(), mine):
            with _client(server.base_url, session=session) as client:
                _stream_text(client)
            if session is not None:
                session.close()
    assert [s.headers["user-agent"] for s in server.seen] == [expected, expected, "my-app/2.0"]


# -- a connection whose response was not read to its end is never reused ------------------------------
def _long_stream() -> list[Any]:
    return [_head(), b"".join(b"%x\r\n%s\r\n" % (len(EVENT), EVENT) for _ in range(50)), HANG]


@pytest.mark.parametrize("how", ["early break", "closed from another thread", "error mid-body", "drain limit",
                                 "complete"])
def test_only_fully_read_connections_are_reused(how: str) -> None:
    with RawServer() as server:
        if how in ("early break", "closed from another thread"):
            server.queue(_long_stream())
        elif how == "error mid-body":
            server.queue([_head(), b"%x\r\n%s\r\nzz\r\n" % (len(EVENT), EVENT), HANG])
        elif how == "drain limit":  # the terminal event arrives, the body never ends
            server.queue([sse_response("done")[:-len(b"0\r\n\r\n")], HANG])
        else:
            server.queue([sse_response("full")])
        server.queue([sse_response("next")])
        with _client(server.base_url) as client:
            stream = client.chat_stream("hi")
            if how == "closed from another thread":
                next(iter(stream))
                closer = threading.Thread(target=stream.close)  # while this thread reads on
                closer.start()
                try:  # the rest never comes (HANG): only the close can end this loop
                    for _ in stream:
                        pass
                except StreamInterruptedError as exc:  # closed while blocked in a read (else: between reads)
                    assert "closed by the caller" in str(exc)
                closer.join(5)
            try:
                for _ in stream:
                    if how == "early break":
                        break
            except ProtocolError:
                assert how == "error mid-body"
            stream.close()
            assert _stream_text(client) == "next"
    assert [s.connection for s in server.seen] == ([1, 1] if how == "complete" else [1, 2])


# -- through a proxy (the requests path with our pools) ------------------------------------------------
def test_through_an_http_proxy_interim_responses_are_skipped_and_the_connection_reused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with RawServer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        proxy.queue([INTERIMS["103 with headers"] + sse_response("via proxy 1")],
                    [INTERIMS["102"] + sse_response("via proxy 2")])
        with _client("http://127.0.0.1:9/v1") as client:  # port 9: only the proxy can answer
            answers = [_stream_text(client) for _ in range(2)]
    assert answers == ["via proxy 1", "via proxy 2"]
    assert [(s.path, s.connection) for s in proxy.seen] == [("http://127.0.0.1:9/v1/chat/completions", 1)] * 2


# -- an answer sent before the request body was read ------------------------------------------------
TOO_LARGE = b'{"error":{"message":"request too large for this deployment","type":"invalid_request_error"}}'


def _early_answer_server(how: str, listener: socket.socket, done: threading.Event) -> None:
    """First connection: answer 413 after the request's headers, without reading its body,
    then close (``how``); second connection: read the whole request, answer normally."""
    conn, _ = listener.accept()
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(TOO_LARGE), TOO_LARGE))
        if how == "half-close":
            conn.shutdown(socket.SHUT_WR)
        if how != "close at once":
            done.wait(0.3)  # a lingering close: the client is still sending, then the socket goes
    try:
        conn, _ = listener.accept()
    except OSError:  # the test ended without a second request
        return
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += conn.recv(65536)
        conn.sendall(sse_response("the next answer"))
        done.wait(5)


@pytest.mark.parametrize("how", ["close at once", "half-close", "lingering close"])
def test_an_answer_sent_before_the_body_was_read_is_the_answer(how: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(5)
    done = threading.Event()
    thread = threading.Thread(target=_early_answer_server, args=(how, listener, done))
    thread.start()
    try:
        with _client(f"http://127.0.0.1:{listener.getsockname()[1]}/v1") as client:
            with pytest.raises(BadRequestError) as info:
                client.chat("x" * 8_000_000)  # far more than the socket buffers hold
            assert info.value.status_code == 413
            assert "request too large for this deployment" in str(info.value)
            assert _stream_text(client) == "the next answer"
    finally:
        done.set()
        thread.join(10)
        listener.close()


# -- unusual framings: one rule on every path ------------------------------------------------------
def _unchunked(response: bytes) -> bytes:
    """The payload of a chunked response from sse_response."""
    rest, payload = response.partition(b"\r\n\r\n")[2], b""
    while True:
        size, _, rest = rest.partition(b"\r\n")
        if not int(size, 16):
            return payload
        payload, rest = payload + rest[:int(size, 16)], rest[int(size, 16) + 2:]


PAYLOAD = _unchunked(sse_response("first"))
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
# name -> (script, first outcome: the answer or the exact error, connection of the second request)
FRAMINGS: dict[str, tuple[list[Any], str, int]] = {
    "Transfer-Encoding: gzip, chunked": (
        [SSE_HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + b"%x\r\n%s\r\n0\r\n\r\n" % (3, b"abc")],
        "ProtocolError: the server sent Transfer-Encoding 'gzip, chunked', which this client does not decode", 2),
    "conflicting Content-Length": (
        [SSE_HEAD + b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n%s" % (len(PAYLOAD), PAYLOAD)],
        f"ProtocolError: the server sent an invalid Content-Length '{len(PAYLOAD)}, 3'", 2),
    "Transfer-Encoding: identity, close-delimited": (
        [SSE_HEAD + b"Transfer-Encoding: identity\r\n\r\n" + PAYLOAD, CLOSE], "first", 2),
    "chunked and Content-Length: never reused": (
        [SSE_HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
         % (len(PAYLOAD), PAYLOAD)], "first", 2),
    "bytes after a Content-Length body: never reused": (
        [SSE_HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(PAYLOAD), PAYLOAD) + sse_response("pipelined garbage")],
        "first", 2),
    "chunk extensions and trailers": (
        [SSE_HEAD + b"Transfer-Encoding: chunked\r\n\r\n%x;foo=bar\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n"
         % (len(PAYLOAD), PAYLOAD)], "first", 1),
}


@pytest.mark.parametrize("own_session", [True, False], ids=["own session", "user session"])
@pytest.mark.parametrize("case", list(FRAMINGS), ids=list(FRAMINGS))
def test_unusual_framings_follow_one_rule_on_every_path(case: str, own_session: bool) -> None:
    script, first, connection = FRAMINGS[case]
    session = None if own_session else requests.Session()
    with RawServer() as server:
        server.queue(script, [sse_response("second")])
        with _client(server.base_url, max_retries=2, session=session) as client:
            try:
                outcome = _stream_text(client)
            except Exception as exc:  # noqa: BLE001 - compared below
                outcome = f"{type(exc).__name__}: {exc}"
            assert (outcome, _stream_text(client)) == (first, "second")
    if session is not None:
        session.close()
    assert [s.connection for s in server.seen] == [1, connection]  # errors are not retried


# -- a caller's Session whose response hook read the body ----------------------------------------------
def test_a_session_hook_that_read_the_body_does_not_lose_the_answer() -> None:
    session = requests.Session()
    logged: list[int] = []
    session.hooks["response"].append(lambda response, *args, **kwargs: logged.append(len(response.content)))
    with RawServer() as server:
        server.queue([sse_response("first")], [sse_response("second")])
        with _client(server.base_url, session=session) as client:
            answers = [_stream_text(client) for _ in range(2)]
    session.close()
    assert answers == ["first", "second"]
    assert logged == [len(_unchunked(sse_response("first"))), len(_unchunked(sse_response("second")))]


def test_a_closed_transport_opens_new_connections_when_used_again() -> None:
    """The transport itself reopens after close() (as a requests.Session does); the client
    above it refuses calls after close() with a ConfigurationError (tests/unit)."""
    with RawServer() as server:
        server.queue([sse_response("first")], [sse_response("second")])
        client = _client(server.base_url)
        assert _stream_text(client) == "first"
        client._transport.close()  # closes the pooled connection: the server sees it go
        assert _stream_text(client) == "second"  # not "ClosedPoolError"
        client.close()
    assert [s.connection for s in server.seen] == [1, 2]
