"""Regression tests for the client-side findings of the code review: connection reuse,
unexpected shapes, secrets, drain budget, status errors with stalled bodies, redirects,
cross-thread close, request ids, continuation usage, usage estimates."""

from __future__ import annotations

import json
import threading
import time

import pytest

from llm_connectivity import LLMClient, StreamingOptions
from llm_connectivity.engine import Target
from llm_connectivity.errors import (
    APIStatusError,
    BadRequestError,
    ConfigurationError,
    InvalidRequestError,
    OverloadedError,
    ProtocolError,
    RateLimitError,
    StreamInterruptedError,
)
from llm_connectivity.providers.openai import OpenAIDriver
from llm_connectivity.registry import register_provider
from llm_connectivity.request import RequestSpec
from llm_connectivity.testing import Action, FakeLLMServer, Reply, faults

KEY = "sk-review-secret-0123456789"


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        yield srv


def _anthropic(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n".encode()


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "xai"])
def test_sequential_streams_reuse_one_connection(server: FakeLLMServer, provider: str) -> None:
    with LLMClient(f"{provider}/m", base_url=server.base_url_for(provider), api_key=KEY) as client:
        for i in range(5):
            assert client.chat_stream(f"prompt {i}").text()
    assert {r.connection for r in server.requests} == {server.requests[0].connection}


class _ShapeBreakingDriver(OpenAIDriver):
    """Yields its first chunk, then trips over an event of unexpected shape."""

    def iter_chunks(self, events, spec):
        chunks = super().iter_chunks(events, spec)
        yield next(chunks)
        yield next(chunks)
        raise AttributeError("'str' object has no attribute 'get'")


def test_unexpected_shapes_become_protocol_errors_with_partial_text(server: FakeLLMServer) -> None:
    register_provider("shapebreak", _ShapeBreakingDriver("shapebreak", default_base_url=""), replace=True)
    server.add_reply(Reply(chunks=["Hello", " world"]))
    with LLMClient("shapebreak/m", base_url=server.base_url, api_key=KEY) as client:
        with pytest.raises(ProtocolError, match="unexpected shape") as info:
            client.chat_stream("hi").text()
    assert info.value.partial_response.content == "Hello"


def test_api_key_is_not_in_reprs() -> None:
    spec = RequestSpec("m", [], api_key=KEY)
    target = Target("openai", "m", OpenAIDriver(), "https://x", KEY)
    assert KEY not in repr(spec) and KEY not in repr(target)
    assert KEY not in repr(LLMClient("openai/m", api_key=KEY))


@pytest.mark.parametrize("name", ["api_key", "base_url", "session", "streaming_options"])
def test_client_settings_are_refused_per_call(server: FakeLLMServer, name: str) -> None:
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY) as client:
        with pytest.raises(InvalidRequestError, match=name):
            client.chat("hi", **{name: "sk-per-call-secret-000000"})
    assert server.requests == []


def test_non_ascii_key_is_refused_before_sending() -> None:
    with pytest.raises(ConfigurationError, match="non-ASCII") as info:
        LLMClient("openai/m", api_key="sk-abc\u200bdef1234567890")
    assert "def1234567890" not in str(info.value)


def test_drain_after_the_terminal_event_is_bounded(server: FakeLLMServer) -> None:
    body = (_anthropic("message_start", {"message": {"id": "m", "model": "c", "usage": {"input_tokens": 1}}})
            + _anthropic("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            + _anthropic("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hi"}})
            + _anthropic("message_stop", {}))
    pings = [a for _ in range(100) for a in (Action("send", _anthropic("ping", {})), Action("sleep", seconds=0.02))]
    server.add_reply(Reply(actions=[Action("send", body), *pings]))
    with LLMClient("anthropic/c", base_url=server.url, api_key=KEY) as client:
        started = time.monotonic()
        assert client.chat_stream("hi").text() == "Hi"
        assert time.monotonic() - started < 0.5  # not the 2 s of trailing pings


def test_error_status_with_a_stalled_body_keeps_its_status(server: FakeLLMServer) -> None:
    server.add_reply(Reply(status=429, headers={"Retry-After": "30", "x-request-id": "req_42",
                                                 "Content-Type": "application/json"},
                           actions=[Action("send", b'{"error": {"mess'), Action("hang")], framing="chunked"))
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, timeout=0.3, max_retries=0) as client:
        with pytest.raises(RateLimitError) as info:
            client.chat("hi")
    assert info.value.retry_after == 30 and info.value.request_id == "req_42"


def test_redirect_is_reported_with_its_location(server: FakeLLMServer) -> None:
    server.add_reply(Reply(status=308, headers={"Location": "https://api.example.com/v2/chat/completions"},
                           body=b"<html>Permanent Redirect</html>", content_type="text/html", framing="length"))
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY) as client:
        with pytest.raises(APIStatusError, match="api.example.com/v2") as info:
            client.chat_stream("hi").text()
    assert info.value.status_code == 308


def test_close_from_another_thread_unblocks_the_reader(server: FakeLLMServer) -> None:
    server.add_reply(faults.stall_after(2, text="Hello there friend"))
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, timeout=30) as client:
        stream = client.chat_stream("hi")
        assert next(c for c in stream if c.content).content == "Hello"
        threading.Timer(0.2, stream.close).start()
        started = time.monotonic()
        with pytest.raises(StreamInterruptedError, match="closed by the caller") as info:
            for _ in stream:
                pass
        assert time.monotonic() - started < 2
    assert info.value.partial_response.content == "Hello there"


def test_inband_error_carries_the_responses_request_id(server: FakeLLMServer) -> None:
    reply = faults.inband_error("overloaded_error", after_text="Half")
    reply.headers["x-request-id"] = "req_inband_7"
    server.add_reply(reply)
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY) as client:
        with pytest.raises(OverloadedError) as info:
            client.chat_stream("hi").text()
    assert info.value.request_id == "req_inband_7"


def _cut_anthropic(text: str, input_tokens: int) -> Reply:
    body = (_anthropic("message_start", {"message": {"id": "m", "model": "c",
                                                     "usage": {"input_tokens": input_tokens, "output_tokens": 1}}})
            + _anthropic("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            + _anthropic("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}}))
    return Reply(actions=[Action("send", body), Action("close")])


def test_failed_continuation_keeps_the_partial_response(server: FakeLLMServer) -> None:
    server.add_replies([_cut_anthropic("Hello there", 10), Reply(status=400)])
    options = StreamingOptions(retry_on_connection_error=True, reconnect_delay=0.01)
    with LLMClient("anthropic/c", base_url=server.url, api_key=KEY, streaming_options=options) as client:
        with pytest.raises(BadRequestError) as info:
            client.chat_stream("hi").text()
    assert info.value.partial_response.content == "Hello there"


def test_continued_stream_counts_the_usage_of_both_requests(server: FakeLLMServer) -> None:
    words = " ".join(["word"] * 300)
    server.add_replies([_cut_anthropic(words, 1000), Reply(chunks=[" the end."])])
    options = StreamingOptions(retry_on_connection_error=True, reconnect_delay=0.01)
    with LLMClient("anthropic/c", base_url=server.url, api_key=KEY, streaming_options=options) as client:
        stream = client.chat_stream("hi")
        stream.text()
    usage = stream.response.usage
    assert usage.prompt_tokens >= 1000  # the first request's input is counted
    assert usage.completion_tokens >= 300  # and the text it produced before the break
    assert usage.is_estimated  # the break lost the first request's final report


def test_estimated_usage_counts_tool_call_arguments(server: FakeLLMServer) -> None:
    args = {"city": "Paris", "notes": "x" * 400}
    server.add_reply(Reply(tool_calls=[{"name": "get_weather", "arguments": args}], usage=False))
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY) as client:
        stream = client.chat_stream("hi")
        stream.text()
    usage = stream.response.usage
    assert usage.is_estimated and usage.completion_tokens >= 100


def test_total_timeout_bounds_a_server_that_trickles_its_headers(server: FakeLLMServer) -> None:
    from llm_connectivity.errors import TotalTimeoutError

    drip = [a for i in range(60) for a in (Action("raw", f"X-Slow-{i}: x\r\n".encode()),
                                           Action("sleep", seconds=0.1))]
    server.add_reply(Reply(framing="none", actions=[Action("raw", b"HTTP/1.1 200 OK\r\n"), *drip]))
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, max_retries=0,
                   timeout={"read_timeout": 1.0, "total_timeout": 0.5}) as client:
        started = time.monotonic()
        with pytest.raises(TotalTimeoutError):
            client.chat_stream("hi").text()
        assert time.monotonic() - started < 1.5  # not the 6 s the server would take


def test_total_timeout_starts_when_the_stream_is_first_read(server: FakeLLMServer) -> None:
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, timeout={"total_timeout": 0.5}) as client:
        stream = client.chat_stream("hi")
        time.sleep(0.7)  # created now, read later (a job queue, a web framework)
        assert stream.text().startswith("Hello from FakeLLMServer")


def test_close_from_another_thread_while_the_reader_is_busy_elsewhere(server: FakeLLMServer) -> None:
    server.add_reply(Reply(text=" ".join(["word"] * 2000)))
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY) as client:
        stream = client.chat_stream("hi")
        received = []
        with pytest.raises(StreamInterruptedError, match="closed by the caller") as info:
            for chunk in stream:
                received.append(chunk.content)
                if len(received) == 10:
                    closer = threading.Thread(target=stream.close)
                    closer.start()
                    closer.join()  # closed while this thread is outside the generator
        assert len(received) == 10
    assert info.value.partial_response.content == "".join(received)


def test_close_from_another_thread_while_waiting_for_headers(server: FakeLLMServer) -> None:
    server.add_reply(faults.hang_before_headers())
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, timeout=30) as client:
        stream = client.chat_stream("hi")
        threading.Timer(0.3, stream.close).start()
        started = time.monotonic()
        with pytest.raises(StreamInterruptedError, match="closed by the caller"):
            stream.text()
        assert time.monotonic() - started < 3


def test_close_from_another_thread_during_a_retry_backoff(server: FakeLLMServer) -> None:
    from llm_connectivity import RetryPolicy

    server.add_replies([faults.status(503, headers={"Retry-After": "5"}), Reply(text="too late")])
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY,
                   max_retries=RetryPolicy(max_retries=1)) as client:
        stream = client.chat_stream("hi")
        threading.Timer(0.3, stream.close).start()
        started = time.monotonic()
        with pytest.raises(StreamInterruptedError, match="closed by the caller"):
            stream.text()
        assert time.monotonic() - started < 2
    assert len(server.requests) == 1
