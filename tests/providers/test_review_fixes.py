"""Code-review fixes in the provider drivers: in-band error classification, one decoder for
``event: error`` frames, finish-reason tables, the cheap chunk constructor on the hot paths,
and malformed-but-valid JSON shapes that must not escape as AttributeError/TypeError/ValueError.
No network."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from llm_connectivity.errors import (
    APIStatusError,
    BadRequestError,
    ConflictError,
    ProtocolError,
    RateLimitError,
    ServerError,
)
from llm_connectivity.models import StreamChunk
from llm_connectivity.providers import base
from llm_connectivity.providers.anthropic import AnthropicDriver, normalize_stop_reason
from llm_connectivity.providers.base import ProviderDriver, error_from_payload
from llm_connectivity.providers.gemini import GeminiDriver
from llm_connectivity.providers.gemini import normalize_finish_reason as gemini_finish
from llm_connectivity.providers.openai import OpenAIDriver, normalize_finish_reason
from llm_connectivity.providers.openai_responses import OpenAIResponsesDriver
from llm_connectivity.request import RequestSpec
from llm_connectivity.sse import SSEEvent

SPEC = RequestSpec("m", [{"role": "user", "content": "hi"}])
DRIVERS: dict[str, Callable[[], ProviderDriver]] = {
    "openai": lambda: OpenAIDriver("openai"),
    "anthropic": AnthropicDriver,
    "gemini": GeminiDriver,
    "responses": lambda: OpenAIResponsesDriver.from_chat_driver(OpenAIDriver("openai")),
}
RATE_LIMIT = {"error": {"type": "tokens", "code": "rate_limit_exceeded", "message": "Rate limit reached"}}


def chunks(driver: ProviderDriver, *objects: Any, events: Iterable[SSEEvent] = ()) -> list[StreamChunk]:
    """Run ``driver.iter_chunks`` over JSON ``objects`` (one data event each), then ``events``."""
    stream = [SSEEvent(data=json.dumps(o)) for o in objects] + list(events)
    return list(driver.iter_chunks(stream, SPEC))


def openai_chunk(delta: Any = None, finish: Any = None, **extra: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {} if delta is None else delta, "finish_reason": finish}], **extra}


# -- 1. in-band error classification ---------------------------------------------------------
def test_openai_inband_rate_limit_with_type_tokens_is_rate_limit_error() -> None:
    err = error_from_payload(RATE_LIMIT, provider="openai")
    assert isinstance(err, RateLimitError)
    assert err.status_code == 429
    assert err.error_type == "rate_limit_exceeded"
    assert "rate_limit_exceeded/tokens: Rate limit reached" in str(err)


def test_first_known_kind_decides_and_explicit_status_wins() -> None:
    payload = {"error": {"type": "weird", "code": "insufficient_quota", "status": "UNAVAILABLE"}}
    assert error_from_payload(payload, provider="p").status_code == 429
    assert error_from_payload(payload, provider="p", status_code=503).status_code == 503


def test_numeric_code_then_status_code_then_500() -> None:
    assert error_from_payload({"error": {"code": 429, "status": "SOMETHING_NEW"}}, provider="g").status_code == 429
    assert error_from_payload({"error": {"code": "weird", "status_code": 404}}, provider="p").status_code == 404
    assert error_from_payload({"error": {"code": True, "message": "x"}}, provider="p").status_code == 500


def test_error_object_shapes() -> None:
    top_level = {"type": "error", "error": None, "code": "rate_limit_exceeded", "message": "slow down"}
    err = error_from_payload(top_level, provider="openai")
    assert isinstance(err, RateLimitError) and "slow down" in str(err)
    as_text = error_from_payload({"error": "upstream exploded"}, provider="p")
    assert type(as_text) is ServerError and "upstream exploded" in str(as_text)
    assert "oops" in str(error_from_payload(["oops"], provider="p"))


@pytest.mark.parametrize(("status", "cls", "code"), [
    ("ABORTED", ConflictError, 409),
    ("ALREADY_EXISTS", ConflictError, 409),
    ("OUT_OF_RANGE", BadRequestError, 400),
    ("UNIMPLEMENTED", ServerError, 501),
    ("CANCELLED", ServerError, 500),
])
def test_google_rpc_statuses(status: str, cls: type[APIStatusError], code: int) -> None:
    err = error_from_payload({"error": {"status": status, "message": "m"}}, provider="gemini")
    assert type(err) is cls
    assert err.status_code == code
    assert err.error_type == status


def test_retry_after_still_read_from_headers_without_the_wrapper() -> None:
    assert not hasattr(base, "parse_retry_after_headers")
    err = error_from_payload(RATE_LIMIT, provider="openai", status_code=429, headers={"retry-after": "2"})
    assert err.retry_after == 2.0


# -- 2. one decoder for event: error frames --------------------------------------------------
@pytest.mark.parametrize("data", ["upstream overloaded", "", "  ", "[1, 2]", '"just a string"', "{not json"])
def test_error_from_event_without_an_error_object_is_server_error(data: str) -> None:
    err = base.error_from_event(SSEEvent(event="error", data=data), "p")
    assert type(err) is ServerError
    assert err.error_type == "api_error"
    if data.strip():
        assert data.strip() in str(err)


def test_error_from_event_decodes_json_and_lists() -> None:
    event = SSEEvent(event="error", data=json.dumps(RATE_LIMIT))
    assert isinstance(base.error_from_event(event, "p"), RateLimitError)
    listed = SSEEvent(event="error", data=json.dumps([{"error": {"code": 503, "status": "UNAVAILABLE"}}]))
    assert base.error_from_event(listed, "g").status_code == 503


@pytest.mark.parametrize("name", sorted(DRIVERS))
@pytest.mark.parametrize(("data", "cls"), [("boom: not json", ServerError), ("", ServerError),
                                           (json.dumps(RATE_LIMIT), RateLimitError)])
def test_every_driver_raises_the_same_error_for_an_error_frame(name: str, data: str, cls: type[Exception]) -> None:
    driver = DRIVERS[name]()
    with pytest.raises(cls) as info:
        chunks(driver, events=[SSEEvent(event="error", data=data)])
    expected = base.error_from_event(SSEEvent(event="error", data=data), driver.name)
    assert (type(info.value), str(info.value)) == (type(expected), str(expected))


# -- 3. finish reasons -----------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [
    ("stop", "stop"), ("length", "length"), ("tool_calls", "tool_calls"), ("function_call", "tool_calls"),
    ("content_filter", "content_filter"), ("eos", "stop"), ("model_length", "length"), ("error", "error"),
    ("abort", "error"), ("insufficient_system_resource", "error"), ("something_new", "stop"), (None, None),
])
def test_openai_finish_reasons(raw: str | None, expected: str | None) -> None:
    assert normalize_finish_reason(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("pause_turn", "stop"), ("max_tokens", "length"),
    ("model_context_window_exceeded", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter"),
    ("something_new", "stop"),
])
def test_anthropic_stop_reasons(raw: str, expected: str) -> None:
    assert normalize_stop_reason(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"),
    ("LANGUAGE", "content_filter"), ("BLOCKLIST", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"),
    ("SPII", "content_filter"), ("IMAGE_SAFETY", "content_filter"), ("OTHER", "error"),
    ("MALFORMED_FUNCTION_CALL", "error"), ("UNEXPECTED_TOOL_CALL", "error"), ("TOO_MANY_TOOL_CALLS", "error"),
    ("FINISH_REASON_UNSPECIFIED", "error"), ("SOMETHING_NEW", "error"),
])
def test_gemini_finish_reasons(raw: str, expected: str) -> None:
    assert gemini_finish(raw) == expected


def test_every_driver_module_documents_its_unknown_finish_reason() -> None:
    from llm_connectivity.providers import anthropic, gemini, openai, openai_responses

    for module, value in ((openai, '"stop"'), (anthropic, '"stop"'), (gemini, '"error"'),
                          (openai_responses, '"error"')):
        assert f"unknown raw value normalises to ``{value}``" in " ".join((module.__doc__ or "").split())


# -- 4. the cheap chunk constructor and Gemini's usage reuse ----------------------------------
def _raise(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("StreamChunk.__init__ used on a streaming hot path")


ANTHROPIC_STREAM = [
    {"type": "message_start", "message": {"id": "m1", "model": "claude", "usage": {"input_tokens": 3}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "f"}},
    {"type": "content_block_stop", "index": 1},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 2}},
    {"type": "message_stop"},
]
GEMINI_STREAM = [
    {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}], "usageMetadata": {"promptTokenCount": 2}},
    {"candidates": [{"content": {"parts": [{"text": "!"}]}, "finishReason": "STOP"}],
     "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 2}},
]
RESPONSES_STREAM = [
    {"type": "response.created", "response": {"model": "gpt"}},
    {"type": "response.output_text.delta", "delta": "Hi"},
    {"type": "response.completed", "response": {"status": "completed", "usage": {"input_tokens": 1}}},
]


@pytest.mark.parametrize(("name", "stream"), [("anthropic", ANTHROPIC_STREAM), ("gemini", GEMINI_STREAM),
                                              ("responses", RESPONSES_STREAM)])
def test_streaming_hot_paths_use_make_chunk(monkeypatch: pytest.MonkeyPatch, name: str,
                                            stream: list[dict[str, Any]]) -> None:
    expected = chunks(DRIVERS[name](), *stream)
    monkeypatch.setattr(StreamChunk, "__init__", _raise)
    got = chunks(DRIVERS[name](), *stream)
    assert got == expected
    assert "".join(c.content for c in got) in ("Hi", "Hi!")
    assert all(type(c) is StreamChunk and not c.is_complete and isinstance(c.metadata, dict) for c in got)


def test_gemini_usage_rebuilt_only_when_usage_metadata_changes() -> None:
    same = {"promptTokenCount": 2, "candidatesTokenCount": 1, "totalTokenCount": 3}
    changed = {**same, "candidatesTokenCount": 2, "totalTokenCount": 4}
    parts = {"content": {"parts": [{"text": "a"}]}}
    got = chunks(GeminiDriver(), {"candidates": [parts], "usageMetadata": dict(same)},
                 {"candidates": [parts], "usageMetadata": dict(same)},
                 {"candidates": [{**parts, "finishReason": "STOP"}], "usageMetadata": changed})
    assert got[0].usage is got[1].usage
    assert got[2].usage is not got[1].usage
    assert (got[1].usage.completion_tokens, got[2].usage.completion_tokens) == (1, 2)  # type: ignore[union-attr]


def test_openai_break_after_finish_is_quiet_and_before_finish_raises() -> None:
    from llm_connectivity.errors import StreamInterruptedError

    def broken(*objects: Any) -> Iterable[SSEEvent]:
        for obj in objects:
            yield SSEEvent(data=json.dumps(obj))
        raise StreamInterruptedError("lost", provider="openai")

    done = list(OpenAIDriver().iter_chunks(broken(openai_chunk({"content": "a"}), openai_chunk({}, "stop")), SPEC))
    assert [c.finish_reason for c in done] == [None, "stop"]
    with pytest.raises(StreamInterruptedError):
        list(OpenAIDriver().iter_chunks(broken(openai_chunk({"content": "a"})), SPEC))


# -- 5. malformed but valid JSON shapes --------------------------------------------------------
def test_openai_delta_that_is_a_string_is_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="delta"):
        chunks(OpenAIDriver(), openai_chunk("hello"))


def test_openai_tool_calls_with_null_entries_and_odd_fields() -> None:
    calls = [None, {"index": "0", "id": 7, "function": "oops"}, {"index": 1, "function": {"arguments": {"a": 1}}}]
    got = chunks(OpenAIDriver(), openai_chunk({"tool_calls": calls}), openai_chunk({}, "tool_calls"))
    deltas = got[0].tool_calls
    assert [(d.index, d.id, d.name, d.arguments) for d in deltas] == [(1, "7", None, ""), (1, None, None, '{"a": 1}')]
    with pytest.raises(ProtocolError, match="tool_calls"):
        chunks(OpenAIDriver(), openai_chunk({"tool_calls": {"index": 0}}))


def test_openai_usage_and_finish_reason_of_the_wrong_type() -> None:
    usage = {"prompt_tokens": "n/a", "completion_tokens": 2.0, "total_tokens": None,
             "prompt_tokens_details": "x", "completion_tokens_details": [1]}
    got = chunks(OpenAIDriver(), openai_chunk({"content": "a"}, 7, usage=usage, x_groq="y"))
    assert got[0].usage is not None
    assert (got[0].usage.prompt_tokens, got[0].usage.completion_tokens, got[0].usage.total_tokens) == (0, 2, 2)
    assert (got[0].finish_reason, got[0].raw_finish_reason) == ("stop", "7")
    groq = chunks(OpenAIDriver("groq"), openai_chunk({}, "stop", x_groq="y"))
    assert groq[0].usage is None


def test_openai_parse_response_with_odd_shapes() -> None:
    payload = {"choices": [{"index": 0, "message": {"content": "hi", "tool_calls": [None, {"id": "c"}]},
                            "finish_reason": "abort"}], "usage": {"prompt_tokens": "n/a"}}
    response = OpenAIDriver().parse_response(payload, SPEC)
    assert (response.content, response.finish_reason, response.usage.prompt_tokens) == ("hi", "error", 0)
    assert [(c.id, c.name) for c in response.tool_calls] == [("c", "")]
    assert OpenAIDriver().parse_response({"choices": [{"message": "oops"}]}, SPEC).content == ""


@pytest.mark.parametrize("event", [
    {"type": "content_block_delta", "index": 0, "delta": ["text_delta", "x"]},
    {"type": "message_delta", "delta": "end_turn"},
    {"type": "content_block_start", "index": 0, "content_block": "text"},
    {"type": "message_start", "message": ["m"]},
])
def test_anthropic_wrong_container_types_are_protocol_errors(event: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError, match="not an object"):
        chunks(AnthropicDriver(), event, {"type": "message_stop"})


def test_anthropic_odd_index_usage_and_stop_reason() -> None:
    got = chunks(
        AnthropicDriver(),
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


@pytest.mark.parametrize("candidates", [["oops"], [7], [{"content": "text"}], [{"content": {"parts": "x"}}]])
def test_gemini_wrong_candidate_shapes_are_protocol_errors(candidates: Any) -> None:
    with pytest.raises(ProtocolError):
        chunks(GeminiDriver(), {"candidates": candidates})


def test_gemini_odd_but_harmless_shapes() -> None:
    got = chunks(
        GeminiDriver(),
        {"candidates": [None], "promptFeedback": "fine", "usageMetadata": {"promptTokenCount": "n/a"}},
        {"candidates": {"content": {"parts": [None, {"functionCall": {"name": 5, "args": {"a": 1}}}]}}},
        {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": 1}]},
    )
    assert got[0].usage is not None and got[0].usage.prompt_tokens == 0
    assert [(d.name, d.arguments) for d in got[1].tool_calls] == [("5", '{"a":1}')]
    assert (got[2].finish_reason, got[2].raw_finish_reason) == ("error", "1")


def test_responses_odd_shapes() -> None:
    got = chunks(
        DRIVERS["responses"](),
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
