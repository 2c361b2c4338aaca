"""What every driver shares (providers/base.py and the seam the engine calls): valid JSON of
any unexpected shape raises a typed LLMError from the driver itself, never AttributeError /
TypeError / KeyError / IndexError / ValueError (the engine no longer converts those), and the
streaming hot paths build chunks without the dataclass ``__init__``. No network."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fixture_support import WIRE_DRIVERS
from llm_connectivity.errors import LLMError
from llm_connectivity.models import StreamChunk
from llm_connectivity.request import RequestSpec
from llm_connectivity.sse import SSEEvent
from llm_connectivity.testing import Reply

SPEC = RequestSpec("m", [{"role": "user", "content": "hi"}])
DRIVERS = WIRE_DRIVERS
STREAMS: dict[str, list[dict[str, Any]]] = {
    "openai": [
        {"id": "c", "model": "gpt", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"},
                                                   "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"reasoning_content": "r", "refusal": "no", "tool_calls": [
            {"index": 0, "id": "t", "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": [{"type": "thinking", "thinking": [{"text": "x"}]},
                                                        {"type": "text", "text": "!"}]}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 1, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 0},
                   "completion_tokens_details": {"reasoning_tokens": 0}}, "x_groq": {"usage": {"prompt_tokens": 1}}},
    ],
    "anthropic": [
        {"type": "message_start", "message": {"id": "m1", "model": "claude", "usage": {"input_tokens": 3}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation": {"a": 1}}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "f",
                                                                       "input": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{}"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
         "usage": {"output_tokens": 2, "output_tokens_details": {"thinking_tokens": 1}}},
        {"type": "message_stop"},
    ],
    "gemini": [
        {"candidates": [{"index": 0, "content": {"parts": [{"text": "Hi"}, {"text": "t", "thought": True}]}}],
         "usageMetadata": {"promptTokenCount": 2}, "modelVersion": "g", "promptFeedback": {"blockReason": None}},
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {"a": 1}},
                                                "thoughtSignature": "s"}]},
                         "finishReason": "STOP", "groundingMetadata": {"x": 1}}],
         "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 2, "totalTokenCount": 4}},
    ],
    "responses": [
        {"type": "response.created", "response": {"model": "gpt"}},
        {"type": "response.output_text.delta", "delta": "Hi", "output_index": 0},
        {"type": "response.reasoning_summary_text.delta", "delta": "r", "output_index": 1, "summary_index": 1},
        {"type": "response.refusal.delta", "delta": "no"},
        {"type": "response.output_item.added", "output_index": 2,
         "item": {"type": "function_call", "call_id": "c", "name": "f", "arguments": ""}},
        {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": "{}"},
        {"type": "response.function_call_arguments.done", "output_index": 2, "arguments": "{}"},
        {"type": "response.output_item.done", "output_index": 2,
         "item": {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}},
        {"type": "response.completed", "response": {"status": "completed", "model": "gpt",
                                                    "incomplete_details": None,
                                                    "usage": {"input_tokens": 1, "output_tokens": 2,
                                                              "input_tokens_details": {"cached_tokens": 0},
                                                              "output_tokens_details": {"reasoning_tokens": 0}}}},
    ],
}
BODIES: dict[str, Any] = {
    "openai": {"model": "gpt", "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "content": "Hi", "reasoning_content": "r",
        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
    "anthropic": {"type": "message", "model": "claude", "stop_reason": "end_turn", "usage": {"input_tokens": 1},
                  "content": [{"type": "text", "text": "Hi"}, {"type": "thinking", "thinking": "r"},
                              {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}]},
    "gemini": STREAMS["gemini"],
    "responses": {"status": "incomplete", "model": "gpt", "incomplete_details": {"reason": "max_output_tokens"},
                  "usage": {"input_tokens": 1},
                  "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hi"}]},
                             {"type": "reasoning", "summary": [{"text": "s"}], "content": [{"text": "r"}]},
                             {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]},
}
ODD_VALUES: list[Any] = [None, True, 0, 1.5, "x", [], [None], ["x"], [1], {}, {"x": 1}]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into ``obj`` (dict keys and list positions), the root included."""
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for position, value in enumerate(obj):
            yield from _paths(value, (*prefix, position))


def _replaced(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    out = copy.deepcopy(obj)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def _mutations(obj: Any) -> Iterator[tuple[str, Any]]:
    """(label, obj with one value anywhere in it replaced by a value of another shape)."""
    for path in _paths(obj):
        for value in ODD_VALUES:
            yield f"{'/'.join(map(str, path)) or '<root>'}={value!r}", _replaced(obj, path, value)


def _escapes(run: Callable[[], object]) -> str | None:
    """The exception that is not an LLMError, if ``run`` raised one."""
    try:
        run()
    except LLMError:
        return None
    except Exception as exc:  # noqa: BLE001 - the point of the test
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_streams_of_any_shape_raise_only_typed_errors(name: str) -> None:
    driver = DRIVERS[name]()
    stream = STREAMS[name]
    escaped = []
    for position, event in enumerate(stream):
        for label, odd in _mutations(event):
            events = [SSEEvent(data=json.dumps(odd if i == position else e)) for i, e in enumerate(stream)]
            problem = _escapes(lambda: list(driver.iter_chunks(events, SPEC)))
            if problem:
                escaped.append(f"event {position} {label}: {problem}")
    assert escaped == []


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_bodies_of_any_shape_raise_only_typed_errors(name: str) -> None:
    driver = DRIVERS[name]()
    escaped = []
    for label, odd in _mutations(BODIES[name]):
        problem = _escapes(lambda: driver.parse_response(odd, SPEC))
        if problem:
            escaped.append(f"{label}: {problem}")
    assert escaped == []


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_the_sample_streams_and_bodies_translate(name: str) -> None:
    chunks = list(DRIVERS[name]().iter_chunks([SSEEvent(data=json.dumps(e)) for e in STREAMS[name]], SPEC))
    assert "".join(c.content for c in chunks) == ("Hi!" if name == "openai" else "Hi")
    response = DRIVERS[name]().parse_response(BODIES[name], SPEC)
    assert response.content == "Hi"


def _no_init(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("StreamChunk.__init__ used on a streaming hot path")


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_streaming_hot_paths_use_make_chunk(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    events = [SSEEvent(data=json.dumps(e)) for e in STREAMS[name]]
    expected = list(DRIVERS[name]().iter_chunks(events, SPEC))
    monkeypatch.setattr(StreamChunk, "__init__", _no_init)
    got = list(DRIVERS[name]().iter_chunks(events, SPEC))
    assert got == expected
    assert all(type(c) is StreamChunk and not c.is_complete for c in got)


@pytest.mark.parametrize(("url", "shown"), [
    ("http://user:s3cret-pass@gw.example:8080/v1?a=1", "http://user:***@gw.example:8080/v1?a=1"),
    ("https://gw.example/v1", "https://gw.example/v1"),
    ("https://tok3n@gw.example/v1", "https://***@gw.example/v1"),
])
def test_http_request_repr_hides_url_userinfo_and_headers(url: str, shown: str) -> None:
    from llm_connectivity.request import HTTPRequest

    request = HTTPRequest("POST", url, {"Authorization": "Bearer sk-secret-123"}, b"{}")
    assert repr(request) == f"HTTPRequest(POST {shown}, 2 bytes)"


def test_a_bug_in_a_driver_raises_unchanged() -> None:
    """Valid data never makes a driver raise AttributeError & co (the tests above); when a
    driver has a bug, it surfaces as itself, not as "the provider sent data of an
    unexpected shape"."""
    from llm_connectivity import LLMClient, register_provider
    from llm_connectivity.providers.openai import OpenAIDriver
    from llm_connectivity.testing import FakeLLMServer

    class BuggyDriver(OpenAIDriver):
        def translate_events(self, events: Any, spec: RequestSpec) -> Iterator[StreamChunk]:
            chunks = super().translate_events(events, spec)
            yield next(chunks)
            raise AttributeError("'NoneType' object has no attribute 'get'")

    with FakeLLMServer() as server:
        register_provider("buggy-ut", BuggyDriver("buggy-ut", default_base_url=server.base_url, api_key_env=(),
                                                  base_url_env=None, requires_api_key=False), replace=True)
        server.add_reply(Reply(chunks=["Hello", " world"]))
        received = []
        with LLMClient("buggy-ut/m") as client, client.chat_stream("hi") as stream:
            with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'get'"):
                for chunk in stream:
                    received.append(chunk)
        assert len(received) == 1
