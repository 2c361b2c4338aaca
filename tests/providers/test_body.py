"""Bodies not labelled ``text/event-stream`` (providers/body.py): an event stream with no or
the wrong content type is streamed from its first bytes, a JSON completion from a server that
ignored ``stream: true`` becomes a one-chunk stream, anything else is a ProtocolError.
Unit tests first, then the same over real loopback sockets through LLMClient."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.errors import ProtocolError, RateLimitError
from llm_connectivity.providers.anthropic import AnthropicDriver
from llm_connectivity.providers.base import ProviderDriver
from llm_connectivity.providers.body import sniff
from llm_connectivity.providers.catalog import OPENAI_COMPATIBLE, compatible_driver
from llm_connectivity.providers.gemini import GeminiDriver
from llm_connectivity.request import RequestSpec
from llm_connectivity.testing import Action, FakeLLMServer, Reply

SPEC = RequestSpec("m", [{"role": "user", "content": "hi"}])
OPENAI = compatible_driver(OPENAI_COMPATIBLE[0])
HOLD = 1.5
BOUND = 0.5  # far below HOLD, far above a loopback round trip


@pytest.mark.parametrize(("head", "kind"), [
    (b"data: {}", "sse"), (b"data:x", "sse"), (b"event: message", "sse"), (b"id: 1", "sse"), (b"retry: 10", "sse"),
    (b": keep-alive", "sse"), (b"\r\n\r\ndata: x", "sse"), (b"\xef\xbb\xbfdata: x", "sse"),
    (b'{"choices": []}', "json"), (b"  \n[{", "json"), (b"<html>", "other"), (b"HTTP/1.1", "other"),
    (b"datum", "other"), (b"", None), (b"\r\n", None), (b"da", None), (b"retr", None), (b"\xef\xbb", None),
])
def test_sniff(head: bytes, kind: str | None) -> None:
    assert sniff(head) == kind


def _events_then_fail(*pieces: bytes) -> Iterator[bytes]:
    yield from pieces
    raise AssertionError("read past the pieces the first event needs")


@pytest.mark.parametrize("content_type", ["", "text/plain", "text/plain; charset=utf-8", "application/octet-stream"])
@pytest.mark.parametrize("driver", [OPENAI, AnthropicDriver(), GeminiDriver()], ids=lambda d: d.name)
def test_an_unlabelled_event_stream_yields_its_first_event_without_reading_further(
        driver: ProviderDriver, content_type: str) -> None:
    events = driver.iter_events(_events_then_fail(b"da", b"ta: {\"a\": 1}\n\n"), content_type)
    assert json.loads(next(events).data) == {"a": 1}


@pytest.mark.parametrize(("body", "content_type", "error", "message"), [
    (b"<html><body>Gateway</body></html>", "text/html", ProtocolError,
     "openai answered 200 with text/html where an event stream (text/event-stream) was expected; "
     "received: '<html><body>Gateway</body></html>'"),
    (b"", "", ProtocolError, "openai answered 200 with no content type where an event stream "
                             "(text/event-stream) was expected; received: 'an empty body'"),
    (b"\r\n\r\n", "text/plain", ProtocolError, "received: 'an empty body'"),
    (b'{"error": {"type": "rate_limit_error", "message": "slow"}}', "application/json", RateLimitError,
     "openai error 429: rate_limit_error: slow"),
    (b'{"choices": [', "application/json", ProtocolError, "openai sent a response body that is not valid JSON"),
])
def test_other_bodies_raise(body: bytes, content_type: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        list(OPENAI.iter_chunks(OPENAI.iter_events([body], content_type), SPEC))
    assert message in str(info.value)


# -- a server that ignored stream: true ----------------------------------------------------------
COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Checking.",
        "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
}
MESSAGE = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
    "content": [{"type": "thinking", "thinking": "Weather: use the tool."}, {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}],
    "stop_reason": "tool_use", "usage": {"input_tokens": 12, "output_tokens": 7},
}
RESPONSE = {
    "id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4.1",
    "output": [{"type": "message", "content": [{"type": "output_text", "text": "Checking."}]},
               {"type": "function_call", "call_id": "call_1", "name": "get_weather",
                "arguments": "{\"city\":\"Paris\"}"}],
    "usage": {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19},
}
GENERATE = {
    "candidates": [{"content": {"role": "model", "parts": [
        {"text": "Checking."}, {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 7, "totalTokenCount": 19},
    "modelVersion": "gemini-2.5-flash",
}
WHOLE = [("openai/gpt-4o", None, COMPLETION, "call_1", "gpt-4o-2024-08-06", ""),
         ("anthropic/claude-sonnet-4-5", None, MESSAGE, "toolu_1", "claude-sonnet-4-5", "Weather: use the tool."),
         ("openai/gpt-4.1", "responses", RESPONSE, "call_1", "gpt-4.1", ""),
         ("gemini/gemini-2.5-flash", None, GENERATE, "call_0", "gemini-2.5-flash", "")]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as srv:
        yield srv


def _client(server: FakeLLMServer, model: str, api: str | None = None) -> LLMClient:
    provider = model.split("/")[0]
    return LLMClient(model, base_url=server.base_url_for(provider), api_key="sk-test-body-00000000", api=api,
                     max_retries=0)


@pytest.mark.parametrize(("model", "api", "payload", "call_id", "model_name", "reasoning"), WHOLE,
                         ids=[w[0] + (f"-{w[1]}" if w[1] else "") for w in WHOLE])
@pytest.mark.parametrize("content_type", ["application/json", ""])
def test_a_json_completion_instead_of_a_stream_is_a_one_chunk_stream(
        server: FakeLLMServer, model: str, api: str | None, payload: dict[str, Any], call_id: str,
        model_name: str, reasoning: str, content_type: str) -> None:
    server.add_reply(Reply(body=json.dumps(payload).encode(), headers={"Content-Type": content_type},
                           pieces=[5, 40]))
    with _client(server, model, api) as client, client.chat_stream("weather?") as stream:
        chunks = list(stream)
    assert [(c.content, c.is_complete) for c in chunks] == [("Checking.", False), ("", True)]
    first = chunks[0]
    assert (first.finish_reason, first.reasoning) == ("tool_calls", reasoning)
    # Gemini's JSON bodies are read element by element (a JSON-array stream): no whole-body marker
    assert first.metadata.get("whole_response") is (None if model.startswith("gemini/") else True)
    assert [(d.index, d.id, d.name, json.loads(d.arguments)) for d in first.tool_calls] == [
        (0, call_id, "get_weather", {"city": "Paris"})]
    response = stream.response
    assert (response.content, response.finish_reason, response.model) == ("Checking.", "tool_calls", model_name)
    assert [(c.id, c.name) for c in response.tool_calls] == [(call_id, "get_weather")]
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.is_estimated) == (12, 7, 19, False)


# -- no hold-back over real sockets --------------------------------------------------------------------
def _event(content: str | None = None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


_HEAD_WITHOUT_CONTENT_TYPE = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
_HOLDING = [
    ("no content type, close-delimited", Reply(framing="none", actions=[
        Action("raw", _HEAD_WITHOUT_CONTENT_TYPE + _event("Hello")), Action("sleep", seconds=HOLD),
        Action("raw", _event(" world", "stop") + b"data: [DONE]\n\n")])),
    ("text/plain, chunked", Reply(headers={"Content-Type": "text/plain"}, actions=[
        Action("send", _event("Hello")), Action("sleep", seconds=HOLD),
        Action("send", _event(" world", "stop") + b"data: [DONE]\n\n")])),
    ("application/octet-stream, close", Reply(framing="close", headers={"Content-Type": "application/octet-stream"},
                                               actions=[Action("send", b": hi\n\n" + _event("Hello")),
                                                        Action("sleep", seconds=HOLD),
                                                        Action("send", _event(" world", "stop"))])),
]


@pytest.mark.parametrize("reply", [r for _, r in _HOLDING], ids=[name for name, _ in _HOLDING])
def test_unlabelled_stream_first_chunk_arrives_while_the_server_holds_the_rest(
        server: FakeLLMServer, reply: Reply) -> None:
    server.add_reply(reply)
    with _client(server, "openai/gpt-4o") as client:
        started = time.perf_counter()
        with client.chat_stream("hi") as stream:
            first = next(c for c in stream if c.content)
            first_at = time.perf_counter() - started
            rest = "".join(c.content for c in stream)
    assert (first.content, rest) == ("Hello", " world")
    assert first_at < BOUND, f"first chunk took {first_at:.3f}s with the server holding the rest"
    assert stream.response.finish_reason == "stop"
