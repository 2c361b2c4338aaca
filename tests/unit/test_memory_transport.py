"""MemoryTransport and FakeClock: scripted exchanges that stream, retry and fail as over
sockets, honour every Deadline limit, wake on close, and open no socket."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from llm_connectivity import LLMClient, RetryPolicy, StreamingOptions
from llm_connectivity.deadline import Deadline
from llm_connectivity.errors import (
    ConnectError,
    ContentIdleTimeoutError,
    RateLimitError,
    ReadTimeoutError,
    StreamInterruptedError,
    TotalTimeoutError,
)
from llm_connectivity.request import HTTPRequest
from llm_connectivity.testing import (
    FakeClock,
    MemoryResponse,
    MemoryTransport,
    Reply,
    ScriptExhaustedError,
)

KEY = "sk-memory-test-0123456789"


def event(text: str = "", finish: str | None = None) -> bytes:
    delta = {"content": text} if text else {}
    return f"data: {json.dumps({'choices': [{'index': 0, 'delta': delta, 'finish_reason': finish}]})}\n\n".encode()


DONE = b"data: [DONE]\n\n"


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to open a socket fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


def client_for(transport: MemoryTransport, clock: FakeClock | None = None, **kwargs: object) -> LLMClient:
    if clock is not None:
        kwargs["clock"] = clock
    return LLMClient("openai/m", api_key=KEY, transport=transport, **kwargs)  # type: ignore[arg-type]


def test_streams_retries_and_records_without_a_socket(no_sockets: None) -> None:
    clock = FakeClock()
    transport = MemoryTransport([
        MemoryResponse(503, b'{"error": {"message": "busy"}}'),
        ConnectError("refused"),
        MemoryResponse(body=[event("Hel"), event("lo"), event(finish="stop"), DONE]),
    ])
    client = client_for(transport, clock, max_retries=RetryPolicy(max_retries=2, jitter=0))
    stream = client.chat_stream("hi", max_tokens=5)
    assert [c.content for c in stream if c.content] == ["Hel", "lo"]
    assert stream.response.finish_reason == "stop"
    assert clock.sleeps == [0.5, 1.0]  # the backoff, on virtual time
    assert [r.url for r in transport.requests] == ["https://api.openai.com/v1/chat/completions"] * 3
    assert transport.requests[0].json["messages"] == [{"role": "user", "content": "hi"}]
    assert transport.requests[0].json["max_completion_tokens"] == 5
    assert transport.requests[0].headers["Authorization"] == f"Bearer {KEY}"
    assert transport.open_responses == 0


@pytest.mark.parametrize("model", ["openai/m", "anthropic/claude", "gemini/flash"])
def test_reply_is_rendered_in_the_wire_format_of_the_request(model: str, no_sockets: None) -> None:
    transport = MemoryTransport([Reply(chunks=["a", "b"]), Reply(text="whole")])
    client = LLMClient(model, api_key=KEY, transport=transport)
    assert client.chat_stream("hi").text() == "ab"
    assert client.chat("hi").content == "whole"


def test_status_error_is_typed_with_headers() -> None:
    transport = MemoryTransport([MemoryResponse(429, b'{"error": {"message": "slow down"}}',
                                                headers={"Retry-After": "7", "X-Request-ID": "req_1"})])
    with pytest.raises(RateLimitError) as info:
        client_for(transport, max_retries=0).chat("hi")
    assert (info.value.retry_after, info.value.request_id) == (7.0, "req_1")


def test_a_delay_longer_than_the_read_limit_raises_the_read_timeout() -> None:
    clock = FakeClock()
    transport = MemoryTransport([MemoryResponse(body=[event("Hel"), event("lo")], delays=[0.0, 31.0])])
    stream = client_for(transport, clock, timeout=30).chat_stream("hi")
    with pytest.raises(ReadTimeoutError, match="read_timeout") as info:
        stream.text()
    assert info.value.partial_response.content == "Hel"
    assert clock.sleeps == [30.0]  # waited exactly the read limit, virtually
    assert transport.open_responses == 0


def test_total_and_content_idle_limits_fire_on_virtual_time() -> None:
    clock = FakeClock()
    keepalives = [b": ping\n\n"] * 5
    transport = MemoryTransport([
        MemoryResponse(body=[event("a"), *keepalives], delays=[0, 1, 1, 1, 1, 1]),
        MemoryResponse(body=[event("a")] * 10, delays=[1.0] * 10),
    ])
    client = client_for(transport, clock, max_retries=0)
    with pytest.raises(ContentIdleTimeoutError):
        client.chat_stream("hi", timeout={"content_idle_timeout": 2.5}).text()
    with pytest.raises(TotalTimeoutError):
        client.chat_stream("hi", timeout={"total_timeout": 4.5}).text()
    assert sum(clock.sleeps) == pytest.approx(2.5 + 4.5)


def test_close_from_another_thread_wakes_a_real_delay() -> None:
    transport = MemoryTransport([MemoryResponse(body=[event("Hel"), event("lo")], delays=[0.0, 30.0])])
    stream = client_for(transport).chat_stream("hi")
    assert next(stream).content == "Hel"
    threading.Timer(0.2, stream.close).start()
    started = time.monotonic()
    with pytest.raises(StreamInterruptedError, match="closed by the caller") as info:
        next(stream)
    assert time.monotonic() - started < 5
    assert info.value.partial_response.content == "Hel"
    assert transport.open_responses == 0


def test_close_scheduled_on_the_fake_clock_interrupts_a_virtual_delay() -> None:
    clock = FakeClock()
    transport = MemoryTransport([MemoryResponse(body=[event("Hel"), event("lo")], delays=[0.0, 20.0])])
    stream = client_for(transport, clock).chat_stream("hi")
    assert next(stream).content == "Hel"
    clock.call_later(5.0, stream.close)
    with pytest.raises(StreamInterruptedError, match="closed by the caller"):
        next(stream)


def test_raised_piece_breaks_the_body() -> None:
    transport = MemoryTransport([MemoryResponse(body=[event("Hel"), StreamInterruptedError("connection reset")])])
    with pytest.raises(StreamInterruptedError, match="connection reset") as info:
        client_for(transport).chat_stream("hi").text()
    assert info.value.partial_response.content == "Hel"


def test_handler_answers_after_the_script() -> None:
    transport = MemoryTransport([Reply(text="first")],
                                handler=lambda request: Reply(text=f"echo {len(request.body)}"))
    client = client_for(transport)
    assert client.chat("hi").content == "first"
    assert client.chat("hi").content.startswith("echo ")


def test_exhausted_script_says_so() -> None:
    transport = MemoryTransport()
    with pytest.raises(ScriptExhaustedError, match="no scripted answer left for POST"):
        client_for(transport).chat("hi")


def test_infinite_delay_without_limit_on_a_fake_clock_is_refused() -> None:
    transport = MemoryTransport([MemoryResponse(body=[event("a")], delays=[math.inf])])
    with pytest.raises(ScriptExhaustedError, match="waits forever"):
        client_for(transport, FakeClock(), timeout={"connection_timeout": None, "read_timeout": None,
                                                    "content_idle_timeout": None}).chat_stream("hi").text()


def test_transport_alone_honours_the_deadline() -> None:
    clock = FakeClock()
    transport = MemoryTransport([MemoryResponse(body=[b"x", b"y"], delays=[0.0, 3.0], headers_delay=1.0)])
    deadline = Deadline(read_timeout=10.0, total_timeout=3.5, clock=clock)
    response = transport.send(HTTPRequest("POST", "http://h/v1/chat/completions", {}, b"{}"), deadline=deadline,
                              connect_timeout=1.0)
    assert response.status_code == 200 and response.headers["CONTENT-TYPE"] == "text/event-stream"
    pieces = response.iter_bytes(deadline)
    assert next(pieces) == b"x"
    with pytest.raises(TotalTimeoutError):
        next(pieces)
    assert clock.monotonic() == pytest.approx(1000.0 + 3.5)


def test_fake_clock_runs_callbacks_in_order() -> None:
    clock = FakeClock(start=0.0)
    seen: list[tuple[str, float]] = []
    clock.call_later(2.0, lambda: seen.append(("b", clock.monotonic())))
    clock.call_later(1.0, lambda: seen.append(("a", clock.monotonic())))
    clock.sleep(1.5)
    assert seen == [("a", 1.0)]
    clock.advance(1.0)
    assert seen == [("a", 1.0), ("b", 2.0)] and clock.monotonic() == 2.5
    assert clock.sleeps == [1.5]


def test_continuation_runs_on_virtual_time() -> None:
    clock = FakeClock()
    cut = MemoryResponse(body=[
        b'event: message_start\ndata: {"type": "message_start", "message": {"id": "m", "model": "c", '
        b'"usage": {"input_tokens": 3}}}\n\n',
        b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, '
        b'"delta": {"type": "text_delta", "text": "Hello"}}\n\n',
        StreamInterruptedError("connection lost while reading the response body"),
    ])
    transport = MemoryTransport([cut, Reply(chunks=[" world"])])
    options = StreamingOptions(retry_on_connection_error=True, reconnect_delay=3.0)
    client = LLMClient("anthropic/c", api_key=KEY, transport=transport, clock=clock, streaming_options=options)
    assert client.chat_stream("hi").text() == "Hello world"
    assert clock.sleeps == [3.0]
    assert transport.requests[1].json["messages"][-1] == {"role": "assistant", "content": "Hello"}
