"""Every scripted fault, over real loopback sockets, through ``LLMClient``.

Each test checks the error class, a (generous) time bound, the partial text preserved on
the error, and how many requests the server saw (the retry count). Every test runs under
a watchdog, so a hang fails the test instead of the suite.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import gc
import gzip
import json
import logging
import resource
import socket
import threading
import time
import tracemalloc
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectError,
    ConnectTimeoutError,
    ContentIdleTimeoutError,
    InvalidRequestError,
    LLMError,
    OverloadedError,
    ProtocolError,
    RateLimitError,
    ReadTimeoutError,
    ServerError,
    StreamInterruptedError,
    TotalTimeoutError,
)
from llm_connectivity.retry import RetryPolicy
from llm_connectivity.security import InsecureTransportWarning
from llm_connectivity.sse import iter_sse
from llm_connectivity.testing import Action, FakeLLMServer, Reply, faults
from llm_connectivity.testing.scripts import split_tokens

KEY = "sk-test-FAULTS-SECRET-0000000000abcd"
REDACTED = "sk-...abcd"
FAST = RetryPolicy(max_retries=1, backoff_base=0.01, jitter=0.0)
WATCHDOG_SECONDS = 20.0


# -- harness ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def _shared_server() -> Iterator[list[FakeLLMServer]]:
    """One server per module (stopping one takes ~0.2 s); replaced if a test leaves replies queued."""
    holder = [FakeLLMServer().start()]
    try:
        yield holder
    finally:
        holder[0].stop()


@pytest.fixture
def server(_shared_server: list[FakeLLMServer]) -> Iterator[FakeLLMServer]:
    srv = _shared_server[0]
    srv.requests.clear()
    srv.default_reply = None
    yield srv
    srv.default_reply = None
    if srv.pending():  # a failed test left replies behind: do not let them leak into the next one
        srv.stop()
        _shared_server[0] = FakeLLMServer().start()


def client_for(url: str, **options: Any) -> LLMClient:
    options.setdefault("api_key", KEY)
    options.setdefault("max_retries", FAST)
    return LLMClient("openai/gpt-4o-mini", base_url=url, **options)


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box: list[float] = []
    start = time.monotonic()
    try:
        yield box
    finally:
        box.append(time.monotonic() - start)


def drain(client: LLMClient, prompt: str = "hi", **params: Any) -> tuple[list[Any], LLMError | None]:
    """Iterate a stream; return the chunks received and the error raised (or None)."""
    chunks: list[Any] = []
    stream = client.chat_stream(prompt, **params)
    try:
        for chunk in stream:
            chunks.append(chunk)
    except LLMError as exc:
        return chunks, exc
    return chunks, None


def first_words(text: str, n: int) -> str:
    return "".join(split_tokens(text)[:n])


class RawListener:
    """A loopback listener that accepts and then says nothing (``hang``) or closes (``close``)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.accepted = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.accepted += 1
            if self.mode == "close":
                conn.settimeout(1.0)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                conn.close()
            else:
                self._conns.append(conn)

    def __enter__(self) -> RawListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._conns:
            conn.close()
        self._sock.close()


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


# -- iterating -------------------------------------------------------------------------------
def test_for_loop_over_a_temporary_chat_stream_yields_every_chunk(server: FakeLLMServer) -> None:
    # Regression: ChatStream.__del__ used to close the generator the for-loop was iterating.
    server.add_reply("Hello from a temporary stream")
    client = client_for(server.base_url)
    text = "".join(chunk.content for chunk in client.chat_stream("hi"))
    client.close()
    assert text == "Hello from a temporary stream"
    assert len(server.requests) == 1


# -- connecting ------------------------------------------------------------------------------
def test_refused_connection_is_connect_error_retried_max_retries_times(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llm_connectivity")
    client = client_for(f"http://127.0.0.1:{closed_port()}/v1")
    with timed() as t:
        chunks, exc = drain(client)
    assert isinstance(exc, ConnectError) and not chunks
    assert t[0] < 3
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(retries) == 1  # max_retries=1
    client.close()


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full, so a new connect hangs in SYN_SENT (Linux)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):
            sock = socket.socket()
            sock.settimeout(0.2)
            fillers.append(sock)
            try:
                sock.connect(("127.0.0.1", port))
            except OSError:
                break
        else:
            pytest.skip("could not fill the accept queue on this platform")
        yield port
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


def test_connect_timeout_with_full_backlog() -> None:
    with full_backlog() as port:
        client = client_for(f"http://127.0.0.1:{port}/v1", timeout={"connection_timeout": 0.3})
        with timed() as t:
            _, exc = drain(client)
        client.close()
    assert isinstance(exc, ConnectTimeoutError)
    assert 0.5 <= t[0] < 4  # two attempts of 0.3 s
    assert exc.seconds == 0.3
    assert "could not connect within connection_timeout (0.3s; " in str(exc)
    assert "s elapsed)" in str(exc)


def test_total_timeout_bounds_the_connect() -> None:
    with full_backlog() as port:
        client = client_for(f"http://127.0.0.1:{port}/v1", timeout={"connection_timeout": 1.5, "total_timeout": 0.4})
        with timed() as t:
            _, exc = drain(client)
        client.close()
    assert isinstance(exc, TotalTimeoutError)
    assert t[0] < 1.2


def test_hang_before_headers_is_read_timeout_not_retried_by_default() -> None:
    with RawListener("hang") as listener:
        client = client_for(listener.base_url, timeout=0.3)
        with timed() as t:
            chunks, exc = drain(client)
        client.close()
        assert isinstance(exc, ReadTimeoutError) and exc.limit == "read_timeout"
        assert 0.25 <= t[0] < 3  # one attempt: the server has the request and may be billing it
        assert listener.accepted == 1
        assert not chunks


def test_hang_before_headers_is_retried_when_read_errors_are_opted_in() -> None:
    with RawListener("hang") as listener:
        client = client_for(listener.base_url, timeout=0.3,
                            max_retries=RetryPolicy(max_retries=1, backoff_base=0.01, retry_read_errors=True))
        with timed() as t:
            chunks, exc = drain(client)
        client.close()
        assert isinstance(exc, ReadTimeoutError)
        assert 0.5 <= t[0] < 4  # two attempts
        assert listener.accepted == 2
        assert not chunks


def test_total_timeout_while_waiting_for_headers_is_not_retried() -> None:
    with RawListener("hang") as listener:
        client = client_for(listener.base_url, timeout={"read_timeout": 5.0, "total_timeout": 0.4})
        with timed() as t:
            _, exc = drain(client)
        client.close()
        assert isinstance(exc, TotalTimeoutError)
        assert 0.35 <= t[0] < 3
        assert listener.accepted == 1


def test_hang_before_headers_fault(server: FakeLLMServer) -> None:
    server.default_reply = faults.hang_before_headers()
    client = client_for(server.base_url, timeout=0.3)
    with timed() as t:
        _, exc = drain(client)
    client.close()
    assert isinstance(exc, ReadTimeoutError)
    assert 0.25 <= t[0] < 3
    assert len(server.requests) == 1  # read timeouts are not retried by default


def test_accept_then_close_without_response_is_stream_interrupted_and_retried() -> None:
    with RawListener("close") as listener:
        client = client_for(listener.base_url)
        with timed() as t:
            _, exc = drain(client)
        client.close()
        assert isinstance(exc, StreamInterruptedError)
        assert "before the response arrived" in str(exc)
        assert t[0] < 3
        assert listener.accepted == 2


def test_refuse_fault(server: FakeLLMServer) -> None:
    server.default_reply = faults.refuse()
    client = client_for(server.base_url)
    _, exc = drain(client)
    client.close()
    assert isinstance(exc, StreamInterruptedError)
    assert "before the response arrived" in str(exc)
    assert len(server.requests) == 2  # retried: nothing was received


def _raw_exchange(server: FakeLLMServer, wait: float) -> bytes:
    """Send one streaming request by hand; return what the server wrote within ``wait`` s."""
    body = b'{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        sock.settimeout(wait)
        try:
            return sock.recv(65536)
        except socket.timeout:
            return b"<silent>"


def test_refuse_writes_no_status_line(server: FakeLLMServer) -> None:
    server.add_reply(faults.refuse())
    assert _raw_exchange(server, 1.0) == b""


def test_hang_before_headers_writes_nothing(server: FakeLLMServer) -> None:
    server.add_reply(faults.hang_before_headers())
    assert _raw_exchange(server, 0.3) == b"<silent>"


# -- time limits mid-stream ------------------------------------------------------------------
def test_stall_after_events_is_read_timeout_with_partial_and_no_retry(server: FakeLLMServer) -> None:
    text = "Hello there, this stream stalls midway"
    server.default_reply = faults.stall_after(3, text=text)
    client = client_for(server.base_url, timeout=0.3)
    with timed() as t:
        chunks, exc = drain(client)
    client.close()
    assert isinstance(exc, ReadTimeoutError)
    assert 0.25 <= t[0] < 3
    assert exc.partial_response.content == first_words(text, 3) == "".join(c.content for c in chunks)
    assert len(server.requests) == 1


def test_total_timeout_with_slow_drip(server: FakeLLMServer) -> None:
    text = "Hello, this answer arrives a few bytes at a time and takes far too long"
    server.add_reply(faults.drip(bytes_per_write=4, delay=0.02, text=text))
    client = client_for(server.base_url, timeout={"read_timeout": 5.0, "total_timeout": 0.5})
    with timed() as t:
        chunks, exc = drain(client)
    client.close()
    assert isinstance(exc, TotalTimeoutError) and exc.seconds == 0.5
    assert 0.45 <= t[0] < 3
    assert text.startswith(exc.partial_response.content)
    assert exc.partial_response.content == "".join(c.content for c in chunks)
    assert len(server.requests) == 1


def test_slow_drip_within_read_timeout_succeeds(server: FakeLLMServer) -> None:
    text = "Slow but steady wins the race"
    server.add_reply(faults.drip(bytes_per_write=64, delay=0.05, text=text))
    client = client_for(server.base_url, timeout=0.3)  # each write arrives well within 0.3 s
    with timed() as t:
        assert client.chat_stream("hi").text() == text
    client.close()
    assert t[0] > 0.3  # the whole body took longer than read_timeout: the limit is per read


def test_content_idle_timeout_with_keepalive_comments(server: FakeLLMServer) -> None:
    server.default_reply = faults.keepalive_only(seconds=10, interval=0.05)
    client = client_for(server.base_url, timeout={"read_timeout": 2.0, "content_idle_timeout": 0.4}, max_retries=0)
    with timed() as t:
        chunks, exc = drain(client)
    client.close()
    assert isinstance(exc, ContentIdleTimeoutError)
    assert 0.35 <= t[0] < 3
    assert not chunks
    assert len(server.requests) == 1


def test_content_idle_timeout_retry_is_real_or_skipped(server: FakeLLMServer) -> None:
    server.default_reply = faults.keepalive_only(seconds=10, interval=0.05)
    policy = RetryPolicy(max_retries=1, backoff_base=0.3, jitter=0.0)
    client = client_for(server.base_url, timeout={"read_timeout": 2.0, "content_idle_timeout": 0.4},
                        max_retries=policy)
    with timed() as t:
        _, exc = drain(client)
    client.close()
    assert isinstance(exc, ContentIdleTimeoutError)
    # Either the retry is really sent (2 requests), or it is not attempted (no 0.3 s sleep).
    assert len(server.requests) == 2 or t[0] < 0.6
    assert exc.partial_response is not None


def test_content_idle_clock_restarts_on_content(server: FakeLLMServer) -> None:
    actions: list[Action] = []
    for word in ("A", " B", " C"):  # 0.3 s of keep-alives before each word: under the 0.5 s limit
        for _ in range(6):
            actions += [Action("send", b": keep-alive\n\n"), Action("sleep", seconds=0.05)]
        actions.append(Action("send", faults.chat_chunk({"content": word})))
    actions += [Action("send", event) for event in faults.chat_events("")]
    server.add_reply(Reply(actions=actions, headers=dict(faults.SSE_HEADERS)))
    client = client_for(server.base_url, timeout={"read_timeout": 2.0, "content_idle_timeout": 0.5})
    with timed() as t:
        assert client.chat_stream("hi").text() == "A B C"
    client.close()
    assert t[0] > 0.5  # longer than the idle limit in total: the clock restarted on content
    assert len(server.requests) == 1


# -- broken bodies ---------------------------------------------------------------------------
@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_drop_mid_stream_keeps_partial(server: FakeLLMServer, framing: str) -> None:
    text = "Hello there, this stream is cut off"
    server.add_reply(dataclasses.replace(faults.drop_after(4, text=text), framing=framing))
    client = client_for(server.base_url)
    with timed() as t:
        chunks, exc = drain(client)
    client.close()
    assert isinstance(exc, StreamInterruptedError)
    assert t[0] < 3
    assert exc.partial_response.content == first_words(text, 4)
    assert "".join(c.content for c in chunks) == first_words(text, 4)
    assert len(server.requests) == 1


def test_broken_chunked_framing(server: FakeLLMServer) -> None:
    server.add_reply(faults.broken_chunked_framing(text="Hello world", n_events=1))
    client = client_for(server.base_url)
    _, exc = drain(client)
    client.close()
    assert isinstance(exc, (StreamInterruptedError, ProtocolError))
    assert exc.partial_response.content == "Hello"
    assert len(server.requests) == 1


def test_malformed_json_is_protocol_error_with_partial(server: FakeLLMServer) -> None:
    server.add_reply(faults.malformed_json(text="Hello there"))
    client = client_for(server.base_url)
    _, exc = drain(client)
    client.close()
    assert isinstance(exc, ProtocolError)
    assert "not valid JSON" in str(exc) and "{not json" in str(exc)
    assert exc.partial_response.content == "Hello there"
    assert len(server.requests) == 1


def test_html_page_with_200_is_protocol_error_naming_the_type(server: FakeLLMServer) -> None:
    server.add_reply(faults.html_error_page(200))
    client = client_for(server.base_url)
    chunks, exc = drain(client)
    client.close()
    assert isinstance(exc, ProtocolError)
    assert "text/html" in str(exc)
    assert chunks == []
    assert len(server.requests) == 1


def test_html_page_with_502_is_server_error_retried(server: FakeLLMServer) -> None:
    server.default_reply = faults.html_error_page(502)
    client = client_for(server.base_url)
    chunks, exc = drain(client)
    client.close()
    assert isinstance(exc, ServerError) and exc.status_code == 502
    assert "Bad Gateway" in str(exc)
    assert chunks == []
    assert len(server.requests) == 2


def test_json_error_body_with_200_is_typed_and_retried(server: FakeLLMServer) -> None:
    body = b'{"error":{"message":"busy","type":"overloaded_error"}}'
    server.add_raw(body, content_type="application/json", framing="length")
    server.add_reply("Fine now")
    client = client_for(server.base_url)
    assert client.chat_stream("hi").text() == "Fine now"
    client.close()
    assert len(server.requests) == 2


@pytest.mark.parametrize("framing", ["close", "chunked"])
def test_abrupt_close_after_the_finish_reason_is_complete(server: FakeLLMServer, framing: str) -> None:
    events = faults.chat_events("Done already", finish=False) + [faults.chat_chunk({}, "stop")]
    actions = [Action("send", e) for e in events] + [Action("close")]
    server.add_reply(Reply(actions=actions, framing=framing, headers=dict(faults.SSE_HEADERS)))
    client = client_for(server.base_url)
    stream = client.chat_stream("hi")
    assert stream.text() == "Done already"
    assert stream.is_complete and stream.response.finish_reason == "stop"
    client.close()
    assert len(server.requests) == 1


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_abrupt_close_after_done_is_complete(server: FakeLLMServer, framing: str) -> None:
    actions = [Action("send", e) for e in faults.chat_events("All there")] + [Action("close")]
    server.add_reply(Reply(actions=actions, framing=framing, headers=dict(faults.SSE_HEADERS)))
    client = client_for(server.base_url)
    stream = client.chat_stream("hi")
    assert stream.text() == "All there" and stream.is_complete
    client.close()


def test_empty_200_event_stream_is_stream_interrupted(server: FakeLLMServer) -> None:
    server.default_reply = faults.drip(b"")
    client = client_for(server.base_url)
    chunks, exc = drain(client)
    client.close()
    assert isinstance(exc, StreamInterruptedError)
    assert chunks == []
    assert len(server.requests) == 2  # a network-class failure before content: retried


# -- statuses and retries --------------------------------------------------------------------
def test_429_retry_after_then_success(server: FakeLLMServer) -> None:
    server.add_replies(faults.failures_then_success(1, lambda: faults.status(429, {"Retry-After": "1"}), "Made it"))
    client = client_for(server.base_url, max_retries=2)
    with timed() as t:
        text = client.chat_stream("hi").text()
    client.close()
    assert text == "Made it"
    assert 0.9 <= t[0] < 3
    assert len(server.requests) == 2


def test_retry_after_ms_wins_over_retry_after(server: FakeLLMServer) -> None:
    headers = {"retry-after-ms": "250", "Retry-After": "30"}
    server.add_replies(faults.failures_then_success(1, lambda: faults.status(429, headers), "Made it"))
    client = client_for(server.base_url, max_retries=2)
    with timed() as t:
        text = client.chat_stream("hi").text()
    client.close()
    assert text == "Made it"
    assert 0.2 <= t[0] < 2.5
    assert len(server.requests) == 2


def test_retry_after_above_cap_raises_at_once(server: FakeLLMServer) -> None:
    server.default_reply = faults.status(429, {"Retry-After": "30"})
    client = client_for(server.base_url, max_retries=RetryPolicy(max_retries=3, max_retry_after=5.0))
    with timed() as t:
        _, exc = drain(client)
    client.close()
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after == 30.0
    assert t[0] < 0.5
    assert len(server.requests) == 1


def test_retry_after_http_date_above_cap_raises_at_once(server: FakeLLMServer) -> None:
    when = email.utils.formatdate(time.time() + 3600, usegmt=True)
    server.default_reply = faults.status(429, {"Retry-After": when})
    client = client_for(server.base_url, max_retries=3)
    with timed() as t:
        _, exc = drain(client)
    client.close()
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after is not None and 3500 < exc.retry_after <= 3600
    assert t[0] < 0.5
    assert len(server.requests) == 1


def test_retry_after_beyond_total_timeout_raises_at_once(server: FakeLLMServer) -> None:
    server.default_reply = faults.status(429, {"Retry-After": "1"})
    client = client_for(server.base_url, max_retries=3, timeout={"total_timeout": 0.5})
    with timed() as t:
        _, exc = drain(client)
    client.close()
    assert isinstance(exc, RateLimitError) and exc.retry_after == 1.0
    assert t[0] < 0.4  # no pointless sleep into the deadline
    assert len(server.requests) == 1


@pytest.mark.parametrize(("code", "cls"), [(400, BadRequestError), (401, AuthenticationError)])
@pytest.mark.parametrize("streaming", [True, False])
def test_client_errors_are_not_retried(server: FakeLLMServer, code: int, cls: type[LLMError], streaming: bool) -> None:
    server.default_reply = faults.status(code)
    client = client_for(server.base_url, max_retries=RetryPolicy(max_retries=3, backoff_base=0.01))
    with pytest.raises(cls) as info:
        if streaming:
            client.chat_stream("hi").text()
        else:
            client.chat("hi")
    client.close()
    assert info.value.status_code == code  # type: ignore[attr-defined]
    assert len(server.requests) == 1


@pytest.mark.parametrize("streaming", [True, False])
def test_500_then_success_is_retried(server: FakeLLMServer, streaming: bool) -> None:
    server.add_replies(faults.failures_then_success(1, lambda: faults.status(500), "Recovered"))
    client = client_for(server.base_url)
    result = client.chat_stream("hi").text() if streaming else client.chat("hi").content
    client.close()
    assert result == "Recovered"
    assert len(server.requests) == 2


def test_529_is_overloaded_error(server: FakeLLMServer) -> None:
    server.default_reply = faults.status(529)
    client = client_for(server.base_url)
    _, exc = drain(client)
    client.close()
    assert isinstance(exc, OverloadedError) and exc.status_code == 529
    assert len(server.requests) == 2  # retried once (max_retries=1)


def test_x_should_retry_false_is_honoured(server: FakeLLMServer) -> None:
    server.default_reply = faults.status(500, {"x-should-retry": "false"})
    client = client_for(server.base_url, max_retries=RetryPolicy(max_retries=3, backoff_base=0.01))
    _, exc = drain(client)
    client.close()
    assert isinstance(exc, ServerError)
    assert len(server.requests) == 1


def test_x_should_retry_true_is_honoured(server: FakeLLMServer) -> None:
    server.add_replies(faults.failures_then_success(1, lambda: faults.status(400, {"x-should-retry": "true"}), "Yes"))
    client = client_for(server.base_url)
    assert client.chat_stream("hi").text() == "Yes"
    client.close()
    assert len(server.requests) == 2


@pytest.mark.parametrize("as_event", [False, True])
def test_inband_overloaded_before_content_is_retried(server: FakeLLMServer, as_event: bool) -> None:
    server.add_replies(faults.failures_then_success(1, lambda: faults.inband_error(as_event=as_event), "Second try"))
    client = client_for(server.base_url)
    assert client.chat_stream("hi").text() == "Second try"
    client.close()
    assert len(server.requests) == 2


@pytest.mark.parametrize("as_event", [False, True])
def test_inband_error_after_content_is_typed_with_partial_and_not_retried(server: FakeLLMServer, as_event: bool) -> None:
    server.default_reply = faults.inband_error("overloaded_error", after_text="Half an", as_event=as_event)
    client = client_for(server.base_url, max_retries=3)
    _, exc = drain(client)
    client.close()
    assert isinstance(exc, OverloadedError)
    assert exc.partial_response.content == "Half an"
    assert len(server.requests) == 1


def test_non_streaming_chat_read_timeout_mid_body(server: FakeLLMServer) -> None:
    half = b'{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}'  # then silence
    server.default_reply = Reply(actions=[Action("send", half), Action("hang")],
                                 headers={"Content-Type": "application/json"})
    client = client_for(server.base_url, timeout=0.3)
    with timed() as t, pytest.raises(ReadTimeoutError):
        client.chat("hi")
    client.close()
    assert 0.25 <= t[0] < 3  # not retried: the server may still be working on (and billing) it
    assert len(server.requests) == 1


# -- encodings and sizes ---------------------------------------------------------------------
@pytest.mark.parametrize("framing", ["chunked", "close", "length"])
def test_gzip_encoded_event_stream(server: FakeLLMServer, framing: str) -> None:
    text = "Compressed answers stream too, piece by piece"
    body = gzip.compress(b"".join(faults.chat_events(text)))
    server.add_raw(body, headers={"Content-Encoding": "gzip"}, framing=framing,
                   pieces=[5] * (len(body) // 5 + 1), delay=0.002)
    client = client_for(server.base_url)
    stream = client.chat_stream("hi")
    assert stream.text() == text and stream.is_complete
    client.close()


def test_invalid_utf8_becomes_replacement_character(server: FakeLLMServer) -> None:
    event = b'data: {"choices":[{"index":0,"delta":{"content":"a\xff\xfeb caf\xc3\xa9"}}]}\n\n'
    body = event + b"".join(faults.chat_events(""))
    cut = event.index(b"\xa9")  # split the valid two-byte sequence across two writes
    server.add_raw(body, pieces=[cut, 1, len(body)], delay=0.01)
    client = client_for(server.base_url)
    assert client.chat_stream("hi").text() == "a\ufffd\ufffdb caf\u00e9"
    client.close()


def test_sse_line_cap_is_a_protocol_error_with_bounded_memory() -> None:
    # The client does not expose the decoder's max_line_bytes, so the cap is tested on iter_sse.
    consumed = 0

    def endless() -> Iterator[bytes]:
        nonlocal consumed
        while consumed < 100_000:
            consumed += 1
            yield b"x" * 1024

    with pytest.raises(ProtocolError, match="exceeds 65536 bytes"):
        for _ in iter_sse(endless(), max_line_bytes=64 * 1024):
            pass
    assert consumed <= 66  # stopped reading as soon as the cap was passed


def test_20mb_line_through_the_client_is_a_protocol_error(server: FakeLLMServer) -> None:
    body = b"data: " + b"x" * (20 * 1024 * 1024) + b"\n\n"
    server.add_raw(body, pieces=[1 << 16] * (len(body) // (1 << 16) + 1))
    client = client_for(server.base_url, max_retries=0)
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tracemalloc.start()
    try:
        with timed() as t:
            _, exc = drain(client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    client.close()
    del body
    rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert isinstance(exc, ProtocolError) and "exceeds" in str(exc)
    assert peak < 200 * 1024 * 1024
    assert rss_growth_mb < 200
    assert t[0] < 10
    assert len(server.requests) == 1


# -- secrets ---------------------------------------------------------------------------------
def _assert_no_key(exc: BaseException) -> None:
    texts = [str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    for name in ("message", "body", "headers"):
        texts.append(repr(getattr(exc, name, None)))
    for text in texts:
        assert KEY not in text


def test_api_key_never_appears_in_errors_or_logs(server: FakeLLMServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error",
                      "code": "invalid_api_key"}}
    server.add_reply(faults.status(401, headers={"x-echo-key": KEY}, body=json.dumps(echo)))
    server.add_reply(faults.status(401, headers={"x-echo-key": KEY}, body=json.dumps(echo)))
    server.add_reply(faults.inband_error("overloaded_error", after_text="Some text", message=f"bad key {KEY}"))
    server.add_reply(Reply(actions=[Action("send", f"data: {{broken {KEY}\n\n".encode())],
                           headers=dict(faults.SSE_HEADERS)))
    server.add_raw(f"<html>key={KEY}</html>".encode(), content_type="text/html", framing="length")
    client = client_for(server.base_url, max_retries=0)
    errors: list[LLMError] = []
    for call in (lambda: client.chat_stream("hi").text(), lambda: client.chat("hi"),
                 lambda: client.chat_stream("hi").text(), lambda: client.chat_stream("hi").text(),
                 lambda: client.chat_stream("hi").text()):
        with pytest.raises(LLMError) as info:
            call()
        errors.append(info.value)
    client.close()
    assert [type(e) for e in errors] == [AuthenticationError, AuthenticationError, OverloadedError,
                                         ProtocolError, ProtocolError]
    for exc in errors:
        _assert_no_key(exc)
    assert REDACTED in str(errors[0]) and errors[0].headers["x-echo-key"] == REDACTED  # type: ignore[attr-defined]
    assert REDACTED in str(errors[2])
    assert KEY not in repr(client) and REDACTED in repr(client)
    assert caplog.records
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in repr(record.args)
        assert KEY not in (record.exc_text or "")


# -- invalid input fails before any request --------------------------------------------------
_BAD_MESSAGES = {
    "missing-role": [{"content": "hi"}],
    "unknown-role": [{"role": "wizard", "content": "hi"}],
    "content-int": [{"role": "user", "content": 42}],
    "dict-not-list": {"role": "user", "content": "hi"},
    "empty-list": [],
    "not-a-dict": ["hi"],
}


@pytest.mark.parametrize("messages", list(_BAD_MESSAGES.values()), ids=list(_BAD_MESSAGES))
@pytest.mark.parametrize("streaming", [True, False])
def test_invalid_messages_fail_before_any_request(server: FakeLLMServer, messages: Any, streaming: bool) -> None:
    client = client_for(server.base_url)
    with pytest.raises(InvalidRequestError):
        if streaming:
            client.chat_stream(messages)  # raises at the call, before iteration
        else:
            client.chat(messages)
    client.close()
    assert server.requests == []


@pytest.mark.parametrize("params", [{"temperature": "hot"}, {"max_tokens": "10"}, {"max_tokens": 0},
                                    {"max_tokens": True}, {"top_p": [1]}, {"tools": "all"}])
def test_invalid_params_fail_before_any_request(server: FakeLLMServer, params: dict[str, Any]) -> None:
    client = client_for(server.base_url)
    with pytest.raises(InvalidRequestError):
        client.chat_stream("hi", **params)
    with pytest.raises(InvalidRequestError):
        client.chat("hi", **params)
    with pytest.raises(InvalidRequestError):
        client_for(server.base_url, **params)
    client.close()
    assert server.requests == []


@pytest.mark.parametrize("model", ["gpt-4o", "/gpt-4o", "openai/", "no-such-provider/x"])
def test_bad_model_strings_fail_before_any_request(server: FakeLLMServer, model: str) -> None:
    with pytest.raises(ConfigurationError):
        LLMClient(model, base_url=server.base_url, api_key=KEY)
    client = client_for(server.base_url)
    with pytest.raises(ConfigurationError):
        client.chat_stream("hi", model=model)
    with pytest.raises(ConfigurationError):
        client.chat("hi", model=model)
    client.close()
    assert server.requests == []


def test_insecure_transport_warning_for_plain_http_to_a_remote_host() -> None:
    with pytest.warns(InsecureTransportWarning, match="plain HTTP"):
        LLMClient("openai/gpt-4o-mini", base_url="http://example.invalid/v1", api_key=KEY).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LLMClient("openai/gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key=KEY).close()
        LLMClient("openai/gpt-4o-mini", base_url="http://localhost:9/v1", api_key=KEY).close()
        LLMClient("openai/gpt-4o-mini", base_url="https://example.invalid/v1", api_key=KEY).close()
