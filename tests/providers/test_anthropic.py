"""Tests of the Anthropic Messages driver: recorded streams, request translation, edge cases."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest

from fixture_support import Fixture, check_response, fold, load_fixtures, split_randomly
from llm_connectivity.aggregate import ResponseAccumulator
from llm_connectivity.errors import (
    BadRequestError,
    InvalidRequestError,
    LLMError,
    OverloadedError,
    ProtocolError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from llm_connectivity.models import StreamChunk
from llm_connectivity.providers.anthropic import AnthropicDriver, anthropic_usage
from llm_connectivity.request import RequestSpec
from llm_connectivity.sse import SSEEvent

DRIVER = AnthropicDriver()
SPEC = RequestSpec(model="claude-test", messages=[{"role": "user", "content": "hi"}])
FIXTURES = load_fixtures("anthropic-messages")
SPLITS = ["seed-1", "seed-2", "seed-3", "byte-by-byte"]


# -- helpers -------------------------------------------------------------------------------
def _pieces(body: bytes, split: str) -> Iterable[bytes]:
    if split == "byte-by-byte":
        return (body[i : i + 1] for i in range(len(body)))
    return split_randomly(body, int(split.split("-")[1]))


def _fold(pieces: Iterable[bytes]) -> tuple[ResponseAccumulator, list[StreamChunk], LLMError | None]:
    return fold(DRIVER, pieces, SPEC)


def _sse(*events: dict[str, Any], name: str | None = None) -> bytes:
    """An event stream with one event per dict, named by its ``type`` unless ``name`` is given."""
    return b"".join(
        f"event: {name or e.get('type')}\ndata: {json.dumps(e)}\n\n".encode() for e in events
    )


def _start(input_tokens: int = 10, **usage: int) -> dict[str, Any]:
    return {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": [],
        "stop_reason": None, "usage": {"input_tokens": input_tokens, "output_tokens": 1, **usage}}}


def _block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def _text(index: int, text: str) -> dict[str, Any]:
    return _delta(index, {"type": "text_delta", "text": text})


def _stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def _end(reason: str = "end_turn", **usage: int) -> list[dict[str, Any]]:
    return [{"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None},
             "usage": {"output_tokens": 7, **usage}}, {"type": "message_stop"}]


def _run(*events: dict[str, Any]) -> tuple[ResponseAccumulator, list[StreamChunk], LLMError | None]:
    return _fold([_sse(*events)])


def _body(messages: list[dict[str, Any]] | None = None, **params: Any) -> dict[str, Any]:
    spec = RequestSpec(model="claude-x", messages=messages or [{"role": "user", "content": "hi"}],
                       params=params, api_key="sk-test", base_url="https://api.anthropic.com")
    body: dict[str, Any] = json.loads(DRIVER.build_request(spec).body)
    return body


# -- (1) recorded streams ------------------------------------------------------------------
def test_fixtures_present() -> None:
    assert len(FIXTURES) == 18


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("fx", FIXTURES, ids=lambda fx: fx.name)
def test_recorded_stream(fx: Fixture, split: str) -> None:
    acc, chunks, error = _fold(_pieces(fx.body, split))
    if fx.expected.get("error"):
        assert isinstance(error, OverloadedError), error
        assert error.status_code == 529
        assert acc.content == fx.expected["text"]
    else:
        assert error is None, error
        check_response(fx, acc.build())
    assert sum(1 for c in chunks if c.content) == fx.expected["content_deltas"]
    assert [c.index for c in chunks] == list(range(len(chunks)))


@pytest.mark.parametrize("fx", [f for f in FIXTURES if not f.expected.get("error")], ids=lambda fx: fx.name)
def test_recorded_stream_details(fx: Fixture) -> None:
    acc, chunks, _ = _fold([fx.body])
    response = acc.build()
    assert response.model.startswith("claude-")
    stop_sequences = [c.metadata["stop_sequence"] for c in chunks if "stop_sequence" in c.metadata]
    assert stop_sequences == ([fx.expected["stop_sequence"]] if fx.expected["stop_sequence"] else [])
    assert response.usage.raw.get("output_tokens") == fx.expected["usage"]["output_tokens"]
    for call in response.tool_calls:
        json.loads(call.arguments)  # always valid JSON, "{}" for parameterless tools
    redacted = [c.metadata["redacted_thinking"] for c in chunks if "redacted_thinking" in c.metadata]
    assert len(redacted) == sum(1 for b in fx.expected["blocks"] if b["type"] == "redacted_thinking")


def test_recorded_refusal_maps_to_content_filter() -> None:
    fx = next(f for f in FIXTURES if f.name == "fable51-refusal-stop-details")
    acc, chunks, _ = _fold([fx.body])
    assert acc.build().finish_reason == "content_filter"
    assert chunks[-1].metadata["stop_details"]["type"] == "refusal"


def test_recorded_server_tools_do_not_become_tool_calls() -> None:
    for name in ("opus41-web-search-server-tool", "sonnet46-code-execution-server-tool"):
        fx = next(f for f in FIXTURES if f.name == name)
        acc, chunks, _ = _fold([fx.body])
        assert acc.build().tool_calls == []
        assert not any(c.tool_calls for c in chunks)


# -- (2) request building ------------------------------------------------------------------
def test_request_url_headers_and_defaults() -> None:
    spec = RequestSpec(model="claude-x", messages=[{"role": "user", "content": "hi"}], api_key="sk-1",
                       base_url="https://api.anthropic.com/")
    request = DRIVER.build_request(spec)
    assert (request.method, request.url, request.stream) == ("POST", "https://api.anthropic.com/v1/messages", True)
    assert request.headers == {"x-api-key": "sk-1", "anthropic-version": "2023-06-01",
                               "content-type": "application/json", "accept": "text/event-stream"}
    body = json.loads(request.body)
    assert body == {"model": "claude-x", "messages": [{"role": "user", "content": "hi"}],
                    "max_tokens": 4096, "stream": True}


def test_request_without_key_or_stream() -> None:
    spec = RequestSpec(model="m", messages=[{"role": "user", "content": "hi"}], stream=False)
    request = DRIVER.build_request(spec)
    assert "x-api-key" not in request.headers and "accept" not in request.headers
    assert request.url == "https://api.anthropic.com/v1/messages"
    assert "stream" not in json.loads(request.body)


@pytest.mark.parametrize(("base", "url"), [
    ("https://proxy.example/v1", "https://proxy.example/v1/messages"),
    ("https://proxy.example/v1/", "https://proxy.example/v1/messages"),
    ("https://proxy.example/anthropic", "https://proxy.example/anthropic/v1/messages"),
    ("https://proxy.example/v1?api-version=3", "https://proxy.example/v1/messages?api-version=3"),
    ("https://proxy.example/?key=a&b=c", "https://proxy.example/v1/messages?key=a&b=c"),
    ("", "https://api.anthropic.com/v1/messages"),
])
def test_request_url(base: str, url: str) -> None:
    assert DRIVER.build_request(RequestSpec("m", [], base_url=base)).url == url


def test_max_tokens_given() -> None:
    assert _body(max_tokens=99)["max_tokens"] == 99
    assert _body(max_completion_tokens=77)["max_tokens"] == 77


def test_system_messages_joined() -> None:
    body = _body([{"role": "system", "content": "A"}, {"role": "user", "content": "hi"},
                  {"role": "developer", "content": "B"}])
    assert body["system"] == "A\n\nB"
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_system_blocks_when_list_or_cache_control() -> None:
    cache = {"type": "ephemeral"}
    body = _body([{"role": "system", "content": "A", "cache_control": cache},
                  {"role": "system", "content": [{"type": "text", "text": "B", "cache_control": cache}]},
                  {"role": "user", "content": "hi"}])
    assert body["system"] == [{"type": "text", "text": "A", "cache_control": cache},
                              {"type": "text", "text": "B", "cache_control": cache}]


def test_stop_sequences() -> None:
    assert _body(stop="END")["stop_sequences"] == ["END"]
    assert _body(stop=["a", "b"])["stop_sequences"] == ["a", "b"]
    assert "stop" not in _body(stop="END")


def test_sampling_and_unknown_params_pass() -> None:
    body = _body(temperature=0.2, top_p=0.9, top_k=5, metadata={"user_id": "u"}, stream_options=None)
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.2, 0.9, 5)
    assert body["metadata"] == {"user_id": "u"}
    assert "stream_options" not in body


def test_tools_translated_and_native_pass() -> None:
    openai_tool = {"type": "function", "function": {"name": "get", "description": "Get it",
                                                    "parameters": {"type": "object", "properties": {"q": {}}}}}
    bare = {"type": "function", "function": {"name": "ping"}}
    native = {"name": "native", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}
    server = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
    assert _body(tools=[openai_tool, bare, native, server])["tools"] == [
        {"name": "get", "description": "Get it", "input_schema": {"type": "object", "properties": {"q": {}}}},
        {"name": "ping", "input_schema": {"type": "object", "properties": {}}},
        native,
        server,
    ]


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", {"type": "auto"}),
    ("required", {"type": "any"}),
    ("none", {"type": "none"}),
    ({"type": "function", "function": {"name": "get"}}, {"type": "tool", "name": "get"}),
    ({"type": "tool", "name": "get"}, {"type": "tool", "name": "get"}),
    ({"type": "any", "disable_parallel_tool_use": True}, {"type": "any", "disable_parallel_tool_use": True}),
])
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    assert _body(tool_choice=choice)["tool_choice"] == expected


def test_tool_choice_invalid_and_parallel_flag() -> None:
    with pytest.raises(InvalidRequestError):
        _body(tool_choice="sometimes")
    assert _body(parallel_tool_calls=False)["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert _body(tool_choice="required", parallel_tool_calls=False)["tool_choice"] == {
        "type": "any", "disable_parallel_tool_use": True}
    assert "parallel_tool_calls" not in _body(parallel_tool_calls=True)


def test_response_format_becomes_system_instruction() -> None:
    body = _body([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
                 response_format={"type": "json_object"})
    assert body["system"].startswith("Be brief.\n\n") and "JSON object" in body["system"]
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = _body(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})
    assert json.dumps(schema) in body["system"]
    assert "response_format" not in body
    assert "system" not in _body(response_format={"type": "text"})


def test_assistant_tool_calls_and_tool_results() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "get", "arguments": '{"city": "Paris"}'}},
            {"id": "t2", "type": "function", "function": {"name": "now", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "20C"},
        {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "noon"}]},
        {"role": "user", "content": "thanks"},
    ]
    assert _body(messages)["messages"] == [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "t1", "name": "get", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "t2", "name": "now", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "20C"},
            {"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "text", "text": "noon"}]}]},
        {"role": "user", "content": "thanks"},
    ]


def test_assistant_tool_call_without_text_and_bad_arguments() -> None:
    call = {"id": "t1", "type": "function", "function": {"name": "get", "arguments": "{}"}}
    body = _body([{"role": "user", "content": "x"}, {"role": "assistant", "content": None, "tool_calls": [call]}])
    assert body["messages"][1]["content"] == [{"type": "tool_use", "id": "t1", "name": "get", "input": {}}]
    bad = {"id": "t1", "type": "function", "function": {"name": "get", "arguments": "{oops"}}
    with pytest.raises(InvalidRequestError):
        _body([{"role": "assistant", "content": None, "tool_calls": [bad]}])


def test_images_translated() -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "R0lG"}},
    ]
    assert _body([{"role": "user", "content": content}])["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        content[3],
    ]


def test_cache_control_passes_through() -> None:
    cache = {"type": "ephemeral", "ttl": "1h"}
    block = {"type": "text", "text": "long doc", "cache_control": cache}
    image = {"type": "image_url", "image_url": {"url": "https://e.x/a.png"}, "cache_control": cache}
    messages: list[dict[str, Any]] = [{"role": "user", "content": [block, image]},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "again", "cache_control": cache},
                {"role": "tool", "tool_call_id": "t", "content": "r", "cache_control": cache}]
    out = _body(messages)["messages"]
    assert out[0]["content"][0] == block
    assert out[0]["content"][1]["cache_control"] == cache
    # message-level cache_control (rejected by the API) moves onto the last content block
    assert out[2] == {"role": "user", "content": [{"type": "text", "text": "again", "cache_control": cache}]}
    assert out[3]["content"][0]["cache_control"] == cache


# -- (3) hand-written streams ----------------------------------------------------------------
def test_basic_stream_usage_and_model() -> None:
    acc, chunks, error = _run(_start(10, cache_read_input_tokens=5, cache_creation_input_tokens=3),
                              _block_start(0, {"type": "text", "text": "He"}), _text(0, "llo"), _stop(0),
                              *_end(output_tokens=12))
    assert error is None
    response = acc.build()
    assert (response.content, response.finish_reason, response.model) == ("Hello", "stop", "claude-x")
    usage = response.usage
    assert (usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens, usage.total_tokens) == (18, 5, 12, 30)
    assert usage.raw["cache_creation_input_tokens"] == 3
    assert chunks[0].usage is not None and chunks[0].usage.completion_tokens == 1
    assert chunks[0].metadata == {"model": "claude-x", "message_id": "msg_1"}


def test_message_delta_input_usage_wins() -> None:
    acc, _, _ = _run(_start(10), *_end(input_tokens=50, output_tokens=4))
    assert (acc.build().usage.prompt_tokens, acc.build().usage.completion_tokens) == (50, 4)


def test_unknown_event_and_ping_ignored() -> None:
    acc, chunks, error = _run(_start(), {"type": "ping"}, {"type": "future_event", "x": 1},
                              _block_start(0, {"type": "text", "text": ""}), _text(0, "ok"), *_end())
    assert error is None and acc.content == "ok"
    assert not any(c.raw_chunk.get("type") in ("ping", "future_event") for c in chunks)


def test_type_field_wins_over_event_name() -> None:
    body = _sse(_start(), _text(0, "x"), *_end(), name="message")
    acc, _, error = _fold([body])
    assert error is None and acc.content == "x"


def test_unknown_block_type_ignored() -> None:
    acc, _, error = _run(_start(), _block_start(0, {"type": "mystery_block", "payload": 1}),
                         _delta(0, {"type": "mystery_delta", "v": 2}), _stop(0),
                         _block_start(1, {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {}}),
                         _delta(1, {"type": "input_json_delta", "partial_json": '{"q": 1}'}), _stop(1),
                         _block_start(2, {"type": "text", "text": ""}), _text(2, "after"),
                         _delta(2, {"type": "citations_delta", "citation": {"cited_text": "x"}}), *_end())
    assert error is None
    assert (acc.content, acc.tool_calls()) == ("after", [])


def test_truncated_stream_raises() -> None:
    acc, _, error = _run(_start(), _block_start(0, {"type": "text", "text": ""}), _text(0, "partial"))
    assert isinstance(error, StreamInterruptedError) and "message_stop" in str(error)
    assert acc.content == "partial"
    _, _, error = _fold([_sse(_start(), *_end())[:-30]])
    assert isinstance(error, StreamInterruptedError)
    _, _, error = _fold([])
    assert isinstance(error, StreamInterruptedError)


@pytest.mark.parametrize(("kind", "cls", "status"), [
    ("rate_limit_error", RateLimitError, 429),
    ("api_error", ServerError, 500),
    ("invalid_request_error", BadRequestError, 400),
    ("overloaded_error", OverloadedError, 529),
])
def test_in_band_errors(kind: str, cls: type[Exception], status: int) -> None:
    error_event = {"type": "error", "error": {"type": kind, "message": "nope"}}
    acc, _, error = _run(_start(), _block_start(0, {"type": "text", "text": ""}), _text(0, "so far"), error_event)
    assert type(error) is cls and error.status_code == status  # type: ignore[attr-defined]
    assert acc.content == "so far"


def test_error_event_with_non_json_data_and_bad_json() -> None:
    _, _, error = _fold([b"event: error\ndata: upstream exploded\n\n"])
    assert isinstance(error, ServerError) and "upstream exploded" in str(error)
    _, _, error = _fold([b"event: error\ndata:\n\n"])
    assert isinstance(error, ServerError)
    _, _, error = _fold([_sse(_start())[:-2] + b"{\n\n"])
    assert isinstance(error, ProtocolError)


def test_tool_use_dense_index_and_empty_arguments() -> None:
    acc, chunks, error = _run(
        _start(), _block_start(0, {"type": "text", "text": ""}), _text(0, "Calling."), _stop(0),
        _block_start(1, {"type": "tool_use", "id": "t1", "name": "noargs", "input": {}}),
        _delta(1, {"type": "input_json_delta", "partial_json": ""}), _stop(1),
        _block_start(2, {"type": "tool_use", "id": "t2", "name": "get", "input": {}}),
        _delta(2, {"type": "input_json_delta", "partial_json": '{"a":'}),
        _delta(2, {"type": "input_json_delta", "partial_json": " 1}"}), _stop(2), *_end("tool_use"))
    assert error is None
    calls = acc.tool_calls()
    assert [(c.id, c.name, c.arguments) for c in calls] == [("t1", "noargs", "{}"), ("t2", "get", '{"a": 1}')]
    assert {d.index for c in chunks for d in c.tool_calls} == {0, 1}
    assert acc.build().finish_reason == "tool_calls"


def test_thinking_never_in_content() -> None:
    acc, chunks, _ = _run(_start(), _block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
                          _delta(0, {"type": "thinking_delta", "thinking": "Let me think."}),
                          _delta(0, {"type": "signature_delta", "signature": "sig=="}), _stop(0),
                          _block_start(1, {"type": "text", "text": ""}), _text(1, "Answer."), *_end())
    response = acc.build()
    assert (response.content, response.reasoning) == ("Answer.", "Let me think.")
    assert [c.metadata["signature"] for c in chunks if "signature" in c.metadata] == ["sig=="]
    assert all("think" not in c.content for c in chunks)


def test_citations_deltas_go_to_metadata_in_order() -> None:
    """The documented citations stream: a text block opened with ``citations: []``, then a
    ``citations_delta`` before the text it supports."""
    first = {"type": "char_location", "cited_text": "The grass is green. ", "document_index": 0,
             "document_title": "Example Document", "start_char_index": 0, "end_char_index": 20}
    second = {**first, "cited_text": "The sky is blue.", "start_char_index": 20, "end_char_index": 36}
    acc, chunks, error = _run(_start(), _block_start(0, {"type": "text", "text": "", "citations": []}),
                              _delta(0, {"type": "citations_delta", "citation": first}), _text(0, "the grass is green"),
                              _delta(0, {"type": "citations_delta", "citation": second}), _text(0, "; the sky is blue"),
                              _stop(0), *_end())
    assert error is None
    assert [c.metadata["citation"] for c in chunks if "citation" in c.metadata] == [first, second]
    assert [c.content for c in chunks if c.content] == ["the grass is green", "; the sky is blue"]
    assert acc.build().content == "the grass is green; the sky is blue"


def test_redacted_thinking_in_metadata_only() -> None:
    acc, chunks, _ = _run(_start(), _block_start(0, {"type": "redacted_thinking", "data": "EqkE=="}), _stop(0),
                          _block_start(1, {"type": "text", "text": ""}), _text(1, "Hi"), *_end())
    response = acc.build()
    assert (response.content, response.reasoning) == ("Hi", "")
    assert [c.metadata["redacted_thinking"] for c in chunks if "redacted_thinking" in c.metadata] == ["EqkE=="]


# -- (4) non-streaming -----------------------------------------------------------------------
def test_parse_response_text_thinking_and_tool_use() -> None:
    payload = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-y",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "text", "text": "Let me check "},
            {"type": "text", "text": "that."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 2, "output_tokens": 5},
    }
    response = DRIVER.parse_response(payload, SPEC)
    assert (response.content, response.reasoning, response.model) == ("Let me check that.", "hmm", "claude-y")
    assert (response.finish_reason, response.raw_finish_reason) == ("tool_calls", "tool_use")
    assert [(c.id, c.name, json.loads(c.arguments)) for c in response.tool_calls] == [
        ("toolu_1", "get_weather", {"city": "Paris"})]
    assert (response.usage.prompt_tokens, response.usage.total_tokens, response.usage.cached_tokens) == (12, 17, 2)


def test_parse_response_error() -> None:
    with pytest.raises(OverloadedError):
        DRIVER.parse_response({"type": "error", "error": {"type": "overloaded_error", "message": "x"}}, SPEC)


def test_anthropic_usage_reasoning_tokens() -> None:
    usage = anthropic_usage({"input_tokens": 1, "output_tokens": 9, "output_tokens_details": {"thinking_tokens": 4}})
    assert (usage.reasoning_tokens, usage.total_tokens) == (4, 10)


# -- malformed but valid JSON shapes ---------------------------------------------------------
def _objects(*events: dict[str, Any]) -> list[StreamChunk]:
    return list(DRIVER.iter_chunks([SSEEvent(data=json.dumps(e)) for e in events], SPEC))


@pytest.mark.parametrize("event", [
    {"type": "content_block_delta", "index": 0, "delta": ["text_delta", "x"]},
    {"type": "message_delta", "delta": "end_turn"},
    {"type": "content_block_start", "index": 0, "content_block": "text"},
    {"type": "message_start", "message": ["m"]},
])
def test_anthropic_wrong_container_types_are_protocol_errors(event: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError, match="not an object"):
        _objects(event, {"type": "message_stop"})


def test_anthropic_odd_index_usage_and_stop_reason() -> None:
    got = _objects(
        {"type": "message_start", "message": {"usage": {"input_tokens": "n/a", "output_tokens": "3"}}},
        {"type": "content_block_start", "index": [0], "content_block": {"type": "tool_use", "id": 5, "name": "f"}},
        {"type": "content_block_delta", "index": [0], "delta": {"type": "input_json_delta", "partial_json": "{}"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 5}},
        {"type": "message_delta", "delta": {"stop_reason": ["x"]}, "usage": {"output_tokens": None}},
        {"type": "message_stop"},
    )
    assert got[0].usage is not None and (got[0].usage.prompt_tokens, got[0].usage.completion_tokens) == (0, 3)
    assert [(d.id, d.name, d.arguments) for c in got for d in c.tool_calls] == [("5", "f", ""), (None, None, "{}")]
    assert got[3].content == "5"
    assert (got[-1].finish_reason, got[-1].raw_finish_reason) == ("stop", "['x']")
