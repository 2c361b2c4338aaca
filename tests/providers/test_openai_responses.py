"""OpenAIResponsesDriver: recorded Responses streams, request translation, hand-written
edge-case streams and non-streaming responses. No network."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fixture_support import Fixture, check_response, load_fixtures, split_randomly
from llm_connectivity.aggregate import ResponseAccumulator
from llm_connectivity.errors import (
    BadRequestError,
    ProtocolError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from llm_connectivity.models import ChatResponse, StreamChunk
from llm_connectivity.providers.catalog import OPENAI_COMPATIBLE, CompatibleProvider, compatible_driver
from llm_connectivity.providers.openai_responses import OpenAIResponsesDriver, responses_usage
from llm_connectivity.request import RequestSpec
from llm_connectivity.sse import SSEEvent, iter_sse

FIXTURES = load_fixtures("openai-responses")
SPLITS = ["seed0", "seed1", "seed2", "bytewise"]
SPEC = RequestSpec("gpt-test", [{"role": "user", "content": "hi"}])


ROWS = {row.name: row for row in OPENAI_COMPATIBLE}


def driver(name: str = "openai") -> OpenAIResponsesDriver:
    drv = compatible_driver(ROWS[name], "responses")
    assert isinstance(drv, OpenAIResponsesDriver)
    return drv


def pieces(body: bytes, split: str) -> Any:
    if split == "bytewise":
        return (body[i : i + 1] for i in range(len(body)))
    return split_randomly(body, int(split[-1]))


def run(body: bytes, drv: OpenAIResponsesDriver | None = None, split: str = "seed0") -> tuple[list[StreamChunk], ChatResponse]:
    drv = drv or driver()
    acc = ResponseAccumulator(provider=drv.name)
    chunks = []
    for chunk in drv.iter_chunks(iter_sse(pieces(body, split)), SPEC):
        chunks.append(chunk)
        acc.add(chunk)
    return chunks, acc.build()


def sse(*events: dict[str, Any], event_lines: bool = True, tail: str = "") -> bytes:
    out = []
    for i, ev in enumerate(events):
        ev = {**ev, "sequence_number": i}
        head = f"event: {ev['type']}\n" if event_lines else ""
        out.append(f"{head}data: {json.dumps(ev)}\n\n")
    return ("".join(out) + tail).encode()


def created(model: str = "gpt-test-2025") -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress", "model": model}}


def completed(usage: dict[str, Any] | None = None, status: str = "completed", **extra: Any) -> dict[str, Any]:
    usage = usage or {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                      "input_tokens_details": {"cached_tokens": 4},
                      "output_tokens_details": {"reasoning_tokens": 2}}
    kind = "response.completed" if status == "completed" else f"response.{status}"
    return {"type": kind, "response": {"id": "resp_1", "status": status, "model": "gpt-test-2025",
                                       "usage": usage, **extra}}


def text(delta: str, output_index: int = 0) -> dict[str, Any]:
    return {"type": "response.output_text.delta", "output_index": output_index, "content_index": 0, "delta": delta}


def fc_added(output_index: int, call_id: str, name: str, arguments: str = "") -> dict[str, Any]:
    item = {"type": "function_call", "id": f"fc_{output_index}", "call_id": call_id, "name": name,
            "arguments": arguments, "status": "in_progress"}
    return {"type": "response.output_item.added", "output_index": output_index, "item": item}


def fc_done_item(output_index: int, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    item = {"type": "function_call", "id": f"fc_{output_index}", "call_id": call_id, "name": name,
            "arguments": arguments, "status": "completed"}
    return {"type": "response.output_item.done", "output_index": output_index, "item": item}


def args_delta(output_index: int, delta: str) -> dict[str, Any]:
    return {"type": "response.function_call_arguments.delta", "output_index": output_index,
            "item_id": f"fc_{output_index}", "delta": delta}


def args_done(output_index: int, arguments: str) -> dict[str, Any]:
    return {"type": "response.function_call_arguments.done", "output_index": output_index,
            "item_id": f"fc_{output_index}", "arguments": arguments}


# -- (1) recorded streams ------------------------------------------------------------------------
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("fx", FIXTURES, ids=[f.id for f in FIXTURES])
def test_recorded_stream(fx: Fixture, split: str) -> None:
    drv = driver(fx.provider)
    chunks, response = run(fx.body, drv, split)
    check_response(fx, response)
    exp = fx.expected
    assert sum(1 for c in chunks if c.content) == exp["content_deltas"], fx.id
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert all(c.token_count == 0 for c in chunks)  # counted once, by the engine's counter stage
    assert response.finish_reason == ("tool_calls" if exp["tool_calls"] else "stop")
    assert response.provider == fx.provider
    raw = exp["usage"]["raw"]
    assert response.usage.cached_tokens == raw["input_tokens_details"]["cached_tokens"]
    assert response.usage.reasoning_tokens == raw["output_tokens_details"]["reasoning_tokens"]
    assert response.usage.raw == raw
    assert chunks[-1].raw_chunk["type"] == "response.completed"
    assert response.model and response.model == chunks[-1].raw_chunk["response"]["model"]


def test_recorded_fixture_set_is_complete() -> None:
    assert len(FIXTURES) == 5
    assert any("no-event-field" in f.meta["edge_cases"] for f in FIXTURES)


def test_recorded_tool_call_deltas_are_not_duplicated() -> None:
    fx = next(f for f in FIXTURES if f.name == "responses-gpt4o-tool-call")
    chunks, _ = run(fx.body, driver(fx.provider))
    deltas = [d for c in chunks for d in c.tool_calls]
    assert deltas[0].id == "call_kL0PCQV7M2WMoVX8V8OtYSAL" and deltas[0].name == "get_capital"
    assert "".join(d.arguments for d in deltas) == '{"country":"France"}'
    assert {d.index for d in deltas} == {0}


def test_recorded_reasoning_item_before_call_gets_tool_index_zero() -> None:
    fx = next(f for f in FIXTURES if f.name == "responses-gpt5-reasoning-usage")
    chunks, _ = run(fx.body, driver(fx.provider))
    assert {d.index for c in chunks for d in c.tool_calls} == {0}


# -- (2) request building ------------------------------------------------------------------------
def body_of(params: dict[str, Any] | None = None, messages: list[dict[str, Any]] | None = None,
            stream: bool = True) -> dict[str, Any]:
    spec = RequestSpec("gpt-test", messages or [{"role": "user", "content": "hi"}], params or {},
                       stream=stream, api_key="sk-x", base_url="https://api.example.com/v1/")
    row = CompatibleProvider("openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",),
                             extra_headers=(("X-Extra", "1"),))
    req = OpenAIResponsesDriver(row).build_request(spec)
    assert req.method == "POST" and req.url == "https://api.example.com/v1/responses"
    assert req.headers["Authorization"] == "Bearer sk-x" and req.headers["X-Extra"] == "1"
    assert req.stream is stream
    assert ("Accept" in req.headers) is stream
    result: dict[str, Any] = json.loads(req.body)
    return result


def test_request_minimal_streaming_body() -> None:
    assert body_of() == {"model": "gpt-test", "input": [{"role": "user", "content": "hi"}], "stream": True}


def test_request_non_streaming_has_no_stream_field() -> None:
    assert "stream" not in body_of(stream=False)


def test_request_system_and_developer_become_instructions() -> None:
    body = body_of(messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
        {"role": "user", "content": "hi"},
    ])
    assert body["instructions"] == "Be brief.\n\nUse French."
    assert body["input"] == [{"role": "user", "content": "hi"}]


def test_request_content_parts() -> None:
    body = body_of(messages=[
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
            {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
        ]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
    ])
    assert body["input"] == [
        {"role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": "https://x/cat.png", "detail": "low"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
        ]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "A cat."}]},
    ]


def test_request_tool_call_round_trip() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_w", "arguments": '{"c":"Paris"}'}}
    body = body_of(messages=[
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "assistant", "content": "Checking again.", "tool_calls": [{**call, "id": "call_2"}]},
        {"type": "function_call_output", "call_id": "call_2", "output": "rainy"},
    ])
    assert body["input"] == [
        {"role": "user", "content": "weather?"},
        {"type": "function_call", "call_id": "call_1", "name": "get_w", "arguments": '{"c":"Paris"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"role": "assistant", "content": "Checking again."},
        {"type": "function_call", "call_id": "call_2", "name": "get_w", "arguments": '{"c":"Paris"}'},
        {"type": "function_call_output", "call_id": "call_2", "output": "rainy"},
    ]


def test_request_tool_message_with_content_parts() -> None:
    body = body_of(messages=[{"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": "ok"}]}])
    assert body["input"] == [{"type": "function_call_output", "call_id": "c", "output": "ok"}]


def test_request_generation_params() -> None:
    body = body_of({"max_tokens": 50, "temperature": 0.2, "top_p": 0.9, "stop": ["\n"],
                    "stream_options": {"include_usage": True}, "parallel_tool_calls": False,
                    "metadata": {"k": "v"}})
    assert body["max_output_tokens"] == 50 and "max_tokens" not in body
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9
    assert "stop" not in body and "stream_options" not in body
    assert body["parallel_tool_calls"] is False and body["metadata"] == {"k": "v"}


def test_request_max_completion_tokens_and_explicit_max_output_tokens() -> None:
    assert body_of({"max_completion_tokens": 7})["max_output_tokens"] == 7
    assert body_of({"max_tokens": 7, "max_output_tokens": 9})["max_output_tokens"] == 9


def test_request_tools_are_flattened() -> None:
    params = {"tools": [
        {"type": "function", "function": {"name": "a", "description": "A", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "b", "strict": True,
                                          "parameters": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "c"}},
        {"type": "web_search"},
    ]}
    assert body_of(params)["tools"] == [
        {"type": "function", "name": "a", "description": "A", "parameters": {"type": "object"}, "strict": False},
        {"type": "function", "name": "b", "parameters": {"type": "object", "properties": {}}, "strict": True},
        {"type": "function", "name": "c", "parameters": {"type": "object", "properties": {}}, "strict": False},
        {"type": "web_search"},
    ]


@pytest.mark.parametrize("choice", ["auto", "required", "none"])
def test_request_tool_choice_strings_pass(choice: str) -> None:
    assert body_of({"tool_choice": choice})["tool_choice"] == choice


def test_request_tool_choice_function() -> None:
    body = body_of({"tool_choice": {"type": "function", "function": {"name": "get_w"}}})
    assert body["tool_choice"] == {"type": "function", "name": "get_w"}


def test_request_response_format_json_object() -> None:
    body = body_of({"response_format": {"type": "json_object"}})
    assert body["text"] == {"format": {"type": "json_object"}} and "response_format" not in body


def test_request_response_format_json_schema() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}
    body = body_of({"response_format": fmt, "text": {"verbosity": "low"}})
    assert body["text"] == {"verbosity": "low",
                            "format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}}


def test_request_reasoning_effort() -> None:
    body = body_of({"reasoning_effort": "low", "reasoning": {"summary": "auto"}})
    assert body["reasoning"] == {"summary": "auto", "effort": "low"} and "reasoning_effort" not in body


# -- (3) hand-written streams --------------------------------------------------------------------
def test_stream_text_without_event_lines_and_trailing_done() -> None:
    body = sse(created(), text("Hel"), text("lo"), completed(), event_lines=False, tail="data: [DONE]\n\n")
    chunks, response = run(body)
    assert response.content == "Hello" and response.finish_reason == "stop"
    assert response.raw_finish_reason == "completed" and response.model == "gpt-test-2025"
    assert chunks[0].metadata["model"] == "gpt-test-2025"
    assert response.usage.prompt_tokens == 10 and response.usage.cached_tokens == 4
    assert response.usage.reasoning_tokens == 2 and response.usage.total_tokens == 15


def test_stream_type_falls_back_to_event_name() -> None:
    body = (b"event: response.output_text.delta\ndata: {\"delta\":\"x\"}\n\n"
            b"event: response.completed\ndata: {\"response\":{\"status\":\"completed\"}}\n\n")
    chunks, response = run(body)
    assert response.content == "x" and response.raw_finish_reason == "completed"


def test_stream_lifecycle_and_unknown_events_yield_nothing() -> None:
    body = sse(created(), {"type": "response.in_progress", "response": {"model": "m2"}},
               {"type": "response.content_part.added", "part": {"type": "output_text", "text": ""}},
               {"type": "response.future_thing", "x": 1}, text(""), completed())
    chunks, response = run(body)
    assert len(chunks) == 1 and chunks[0].finish_reason == "stop" and response.model == "gpt-test-2025"


@pytest.mark.parametrize(("reason", "finish"), [("max_output_tokens", "length"),
                                                ("content_filter", "content_filter")])
def test_stream_incomplete(reason: str, finish: str) -> None:
    body = sse(created(), text("partial"),
               completed(status="incomplete", incomplete_details={"reason": reason}),
               text("ignored after the terminal event"))
    chunks, response = run(body)
    assert response.content == "partial"
    assert response.finish_reason == finish and response.raw_finish_reason == "incomplete"
    assert response.usage.completion_tokens == 5 and not response.usage.is_estimated


def test_stream_failed_raises_typed_error() -> None:
    failed = {"type": "response.failed", "response": {"status": "failed", "error": {
        "code": "rate_limit_exceeded", "message": "slow down"}}}
    with pytest.raises(RateLimitError) as info:
        run(sse(created(), text("a"), failed), driver("xai"))
    assert info.value.provider == "xai" and "slow down" in str(info.value)
    assert info.value.error_type == "rate_limit_exceeded"


@pytest.mark.parametrize(("code", "cls", "message"), [
    ("server_error", ServerError, "openai error 500: server_error: The model failed to generate a response."),
    ("rate_limit_exceeded", RateLimitError,
     "openai error 429: rate_limit_exceeded: The model failed to generate a response."),
    ("invalid_prompt", ServerError, "openai error 500: invalid_prompt: The model failed to generate a response."),
])
def test_stream_failed_codes(code: str, cls: type[Exception], message: str) -> None:
    """The documented ``response.failed`` event: the response object with status ``failed``
    and its ``error`` {code, message}; the partial text was already delivered."""
    failed = {"type": "response.failed", "response": {
        "id": "resp_1", "object": "response", "status": "failed", "output": [], "usage": None,
        "error": {"code": code, "message": "The model failed to generate a response."}}}
    delivered = []
    with pytest.raises(cls) as info:
        for chunk in driver().iter_chunks(iter_sse([sse(created(), text("par"), text("tial"), failed)]), SPEC):
            delivered.append(chunk.content)
    assert (type(info.value), str(info.value)) == (cls, message)
    assert "".join(delivered) == "partial"


def test_stream_failed_without_error_object_is_server_error() -> None:
    with pytest.raises(ServerError):
        run(sse({"type": "response.failed", "response": {"status": "failed", "error": None}}))


def test_stream_error_event_flat() -> None:
    err = {"type": "error", "code": "invalid_request_error", "message": "bad input", "param": "input"}
    with pytest.raises(BadRequestError) as info:
        run(sse(created(), err))
    assert "bad input" in str(info.value) and info.value.provider == "openai"


def test_stream_error_event_nested_and_codeless() -> None:
    nested = {"type": "error", "error": {"type": "rate_limit_error", "message": "busy"}}
    with pytest.raises(RateLimitError):
        run(sse(nested))
    with pytest.raises(ServerError):
        run(sse({"type": "error", "code": None, "message": "boom"}))


def test_stream_truncated_raises_interrupted() -> None:
    body = sse(created(), text("par"))
    with pytest.raises(StreamInterruptedError):
        run(body)
    cut = sse(created(), text("a"), completed())[:-40]  # the terminal event loses its end
    with pytest.raises(StreamInterruptedError):
        run(cut)


def test_stream_done_marker_without_terminal_event_is_interrupted() -> None:
    with pytest.raises(StreamInterruptedError):
        run(sse(created(), text("a"), event_lines=False, tail="data: [DONE]\n\n"))


def test_stream_empty_body_raises_interrupted() -> None:
    with pytest.raises(StreamInterruptedError):
        run(b"")


def test_stream_invalid_json_is_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        run(b"data: {not json\n\n")


def test_stream_arguments_only_in_done() -> None:
    body = sse(created(), fc_added(0, "call_a", "f"), args_done(0, '{"x":1}'),
               fc_done_item(0, "call_a", "f", '{"x":1}'), completed())
    chunks, response = run(body)
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [("call_a", "f", '{"x":1}')]
    assert response.finish_reason == "tool_calls" and response.raw_finish_reason == "completed"
    assert sum(1 for c in chunks if c.tool_calls) == 2


def test_stream_arguments_in_added_item_not_repeated() -> None:
    body = sse(fc_added(0, "call_a", "f", '{"x":1}'), args_done(0, '{"x":1}'),
               fc_done_item(0, "call_a", "f", '{"x":1}'), completed())
    _, response = run(body)
    assert response.tool_calls[0].arguments == '{"x":1}'


def test_stream_arguments_only_in_done_item() -> None:
    body = sse(fc_done_item(2, "call_z", "g", '{"y":2}'), completed())
    _, response = run(body)
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [("call_z", "g", '{"y":2}')]


def test_stream_parallel_calls_dense_indices_and_interleaving() -> None:
    body = sse(created(), {"type": "response.output_item.added", "output_index": 0,
                           "item": {"type": "reasoning", "summary": []}},
               fc_added(1, "call_a", "f"), fc_added(3, "call_b", "g"),
               args_delta(1, '{"a":'), args_delta(3, '{"b":'), args_delta(1, "1}"), args_delta(3, "2}"),
               args_done(1, '{"a":1}'), args_done(3, '{"b":2}'), completed())
    chunks, response = run(body)
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_a", "f", '{"a":1}'), ("call_b", "g", '{"b":2}')]
    assert sorted({d.index for c in chunks for d in c.tool_calls}) == [0, 1]


def test_stream_refusal_in_metadata() -> None:
    body = sse(created(), {"type": "response.refusal.delta", "output_index": 0, "delta": "I can't"},
               {"type": "response.refusal.done", "refusal": "I can't"}, completed())
    chunks, response = run(body)
    refusals = [c.metadata["refusal"] for c in chunks if "refusal" in c.metadata]
    assert refusals == ["I can't"] and response.content == ""


def test_stream_reasoning_summary_parts_are_separated() -> None:
    def summary(index: int, delta: str) -> dict[str, Any]:
        return {"type": "response.reasoning_summary_text.delta", "output_index": 0,
                "summary_index": index, "delta": delta}

    body = sse(summary(0, "First "), summary(0, "part."), summary(1, "Second."), text("ok"), completed())
    _, response = run(body)
    assert response.reasoning == "First part.\n\nSecond." and response.content == "ok"


def test_stream_completed_without_usage() -> None:
    body = sse({"type": "response.completed", "response": {"status": "completed"}})
    chunks, response = run(body)
    assert chunks[-1].usage is None and response.usage.is_estimated


def test_json_error_body_instead_of_a_stream_raises_the_typed_error() -> None:
    with pytest.raises(BadRequestError, match="invalid_request_error: x"):
        driver().iter_events([b'{"error":{"type":"invalid_request_error","message":"x"}}'], "application/json")


# -- (4) non-streaming -----------------------------------------------------------------------------
def test_parse_response_full() -> None:
    payload = {
        "id": "resp_1", "object": "response", "status": "completed", "model": "gpt-5-2025", "error": None,
        "output": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "A"},
                                              {"type": "summary_text", "text": "B"}]},
            {"type": "message", "role": "assistant", "content": [
                {"type": "output_text", "text": "Hello ", "annotations": []},
                {"type": "refusal", "refusal": "nope"},
                {"type": "output_text", "text": "world"}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": '{"a":1}'},
        ],
        "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7,
                  "input_tokens_details": {"cached_tokens": 1}, "output_tokens_details": {"reasoning_tokens": 2}},
    }
    response = driver("openrouter").parse_response(payload, SPEC)
    assert response.content == "Hello world" and response.reasoning == "A\n\nB"
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [("call_1", "f", '{"a":1}')]
    assert response.finish_reason == "tool_calls" and response.raw_finish_reason == "completed"
    assert response.usage.total_tokens == 7 and response.usage.cached_tokens == 1
    assert response.usage.reasoning_tokens == 2
    assert response.model == "gpt-5-2025" and response.provider == "openrouter" and response.raw is payload


def test_parse_response_reasoning_text_and_incomplete() -> None:
    payload = {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
               "output": [{"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "hmm"}]},
                          {"type": "message", "content": [{"type": "output_text", "text": "cut"}]}]}
    response = driver().parse_response(payload, SPEC)
    assert response.reasoning == "hmm" and response.content == "cut"
    assert response.finish_reason == "length" and response.raw_finish_reason == "incomplete"
    assert response.usage.is_estimated and response.model == "gpt-test"


def test_parse_response_plain_text_stop() -> None:
    payload = {"status": "completed", "output": [{"type": "message", "content": [{"type": "output_text", "text": "hi"}]}],
               "usage": {"input_tokens": 1, "output_tokens": 1}}
    response = driver().parse_response(payload, SPEC)
    assert response.finish_reason == "stop" and response.usage.total_tokens == 2


def test_parse_response_errors() -> None:
    with pytest.raises(RateLimitError):
        driver().parse_response({"status": "failed", "error": {"code": "rate_limit_exceeded", "message": "m"}}, SPEC)
    with pytest.raises(BadRequestError):
        driver().parse_response({"error": {"type": "invalid_request_error", "message": "bad", "code": None}}, SPEC)
    with pytest.raises(ServerError):
        driver().parse_response(["not", "an", "object"], SPEC)


def test_responses_usage_defaults() -> None:
    usage = responses_usage({"input_tokens": 2, "output_tokens": 3, "input_tokens_details": None})
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.cached_tokens) == (2, 3, 5, 0)


# -- malformed but valid JSON shapes -------------------------------------------------------------
def _objects(*objects: Any) -> list[StreamChunk]:
    return list(driver().iter_chunks([SSEEvent(data=json.dumps(o)) for o in objects], SPEC))


def test_responses_odd_shapes() -> None:
    got = _objects(
        {"type": "response.reasoning_summary_text.delta", "output_index": [0], "summary_index": {"a": 1},
         "delta": "think"},
        {"type": "response.output_item.added", "output_index": 1,
         "item": {"type": "function_call", "call_id": 9, "name": "f"}},
        {"type": "response.completed", "response": {"status": "completed",
                                                    "usage": {"input_tokens": "n/a", "input_tokens_details": "x",
                                                              "output_tokens_details": [1]}}},
    )
    assert got[0].reasoning == "\n\nthink"
    assert [(d.id, d.name) for d in got[1].tool_calls] == [("9", "f")]
    assert got[-1].usage is not None and got[-1].usage.prompt_tokens == 0
    assert got[-1].finish_reason == "tool_calls"
