"""Engine behaviour over real loopback sockets (FakeLLMServer): connection reuse, shapes,
drain, status errors, redirects, request ids, continuation usage, time limits, and the
issue-12 regressions: content idleness is the server's, and a finished answer survives a
server that withholds its terminal event."""

from __future__ import annotations

import json
import time

import pytest

from llm_connectivity import LLMClient, StreamingOptions
from llm_connectivity.errors import (
    APIStatusError,
    BadRequestError,
    OverloadedError,
    RateLimitError,
    TotalTimeoutError,
)
from llm_connectivity.testing import Action, FakeLLMServer, Reply, faults
from llm_connectivity.tokens import count_tokens

KEY = "sk-engine-secret-0123456789"


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        yield srv


def _anthropic(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n".encode()


def _openai(text: str = "", finish: str | None = None) -> bytes:
    delta = {"content": text} if text else {}
    return f"data: {json.dumps({'choices': [{'index': 0, 'delta': delta, 'finish_reason': finish}]})}\n\n".encode()


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "xai"])
def test_sequential_streams_reuse_one_connection(server: FakeLLMServer, provider: str) -> None:
    with LLMClient(f"{provider}/m", base_url=server.base_url_for(provider), api_key=KEY) as client:
        for i in range(5):
            assert client.chat_stream(f"prompt {i}").text()
    assert {r.connection for r in server.requests} == {server.requests[0].connection}


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
    assert usage.is_estimated and usage.completion_tokens >= count_tokens(json.dumps(args), "openai/m")


def test_total_timeout_bounds_a_server_that_trickles_its_headers(server: FakeLLMServer) -> None:
    drip = [a for i in range(60) for a in (Action("raw", f"X-Slow-{i}: x\r\n".encode()),
                                           Action("sleep", seconds=0.1))]
    server.add_reply(Reply(framing="none", actions=[Action("raw", b"HTTP/1.1 200 OK\r\n"), *drip]))
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, max_retries=0,
                   timeout={"read_timeout": 1.0, "total_timeout": 0.5}) as client:
        started = time.monotonic()
        with pytest.raises(TotalTimeoutError):
            client.chat_stream("hi").text()
        assert time.monotonic() - started < 1.5  # not the 6 s the server would take


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_content_idle_timeout_measures_the_servers_silence_not_the_consumers(server: FakeLLMServer,
                                                                             framing: str) -> None:
    """The server sends the whole answer in about 0.2 s; the caller spends 0.7 s on each
    content chunk, longer than content_idle_timeout (0.5 s): it still gets everything."""
    server.add_reply(Reply(chunks=["Hello", " slow", " reader"], delay=0.05, framing=framing))
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, max_retries=0,
                   timeout={"content_idle_timeout": 0.5}) as client:
        received = []
        for chunk in client.chat_stream("hi"):
            if chunk.content:
                received.append(chunk.content)
                time.sleep(0.7)  # a slow consumer (not synchronisation)
    assert received == ["Hello", " slow", " reader"]


HELD_OPENAI = (_openai("Done") + _openai(finish="stop")
               + b'data: {"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}}\n\n')
HELD_ANTHROPIC = (
    _anthropic("message_start", {"message": {"id": "m", "model": "c", "usage": {"input_tokens": 4}}})
    + _anthropic("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
    + _anthropic("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Done"}})
    + _anthropic("content_block_stop", {"index": 0})
    + _anthropic("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}))


@pytest.mark.parametrize(("model", "body"), [("openai/m", HELD_OPENAI), ("anthropic/c", HELD_ANTHROPIC)])
def test_a_finished_answer_survives_a_server_that_withholds_the_terminal_event(server: FakeLLMServer, model: str,
                                                                               body: bytes) -> None:
    server.add_reply(Reply(actions=[Action("send", body), Action("hang")]))
    base_url = server.base_url if model.startswith("openai") else server.url
    with LLMClient(model, base_url=base_url, api_key=KEY, timeout={"read_timeout": 1.0}) as client:
        started = time.monotonic()
        stream = client.chat_stream("hi")
        chunks = list(stream)
        elapsed = time.monotonic() - started
    assert stream.response.content == "Done" and stream.response.finish_reason == "stop"
    assert stream.response.usage.completion_tokens == 1 and not stream.response.usage.is_estimated
    assert chunks[-1].is_complete and chunks[-1].metadata == {"terminal_event": False}
    assert stream.terminal_event is False
    assert 0.9 < elapsed < 5  # the grace: min(read_timeout, 2 s)
