"""The Chat Completions driver (providers/openai.py), used by OpenAI and every
OpenAI-compatible row of the catalog: recorded streams, request translation, the
``stream_options`` recovery, the row-based Responses flavour, and odd stream shapes. No network."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from fixture_support import Fixture, check_response, fold, load_fixtures, split_randomly
from llm_connectivity.errors import (
    APIStatusError,
    BadRequestError,
    ConfigurationError,
    LLMError,
    ProtocolError,
    RateLimitError,
    StreamInterruptedError,
)
from llm_connectivity.models import ChatResponse, StreamChunk
from llm_connectivity.providers.catalog import OPENAI_COMPATIBLE, CompatibleProvider, compatible_driver
from llm_connectivity.providers.openai import OpenAIDriver
from llm_connectivity.providers.openai_responses import OpenAIResponsesDriver
from llm_connectivity.request import RequestSpec
from llm_connectivity.sse import SSEEvent

ROWS = {row.name: row for row in OPENAI_COMPATIBLE}
DRIVER = compatible_driver(ROWS["openai"])
SPEC = RequestSpec("gpt-test", [{"role": "user", "content": "hi"}], api_key="sk-test", base_url="https://h/v1")
FIXTURES = load_fixtures("openai-chat-completions")
_PROVIDER = {"zai": "openai-compatible", "huggingface": "openai-compatible", "snowflake": "openai-compatible"}
_ERRORS: dict[str, type[LLMError]] = {
    "groq/gpt-oss-tool-use-failed-event-error": BadRequestError,
    "openrouter/minimax-processing-comments-length-error": BadRequestError,
}


def chunks(*objects: Any, driver: OpenAIDriver | None = None, events: Iterable[SSEEvent] = ()) -> list[StreamChunk]:
    """The driver's chunks for JSON ``objects`` (one data event each), then ``events``."""
    stream = [SSEEvent(data=json.dumps(o)) for o in objects] + list(events)
    return list((driver or DRIVER).iter_chunks(stream, SPEC))


def delta(content: Any = None, finish: Any = None, **extra: Any) -> dict[str, Any]:
    d = {} if content is None else ({"content": content} if isinstance(content, str) else content)
    return {"choices": [{"index": 0, "delta": d, "finish_reason": finish}], **extra}


# -- recorded streams ------------------------------------------------------------------------------
@pytest.mark.parametrize("split", [1, 2, 3, 0])
@pytest.mark.parametrize("fx", FIXTURES, ids=lambda fx: fx.id)
def test_recorded_stream(fx: Fixture, split: int) -> None:
    driver = compatible_driver(ROWS[_PROVIDER.get(fx.provider, fx.provider)])
    pieces: Iterable[bytes] = split_randomly(fx.body, split) if split else (fx.body[i:i + 1]
                                                                            for i in range(len(fx.body)))
    acc, got, error = fold(driver, pieces, SPEC)
    expected_error = _ERRORS.get(fx.id)
    if expected_error is not None:
        assert type(error) is expected_error
    else:
        assert error is None, error
        check_response(fx, acc.build())
    assert sum(1 for c in got if c.content) == fx.expected["content_deltas"]
    assert [c.index for c in got] == list(range(len(got)))
    assert all(c.token_count == 0 for c in got)  # counted once, by the engine's counter stage


def test_recorded_fixture_count() -> None:
    assert len(FIXTURES) == 27


# -- request ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "field"), [("openai", "max_completion_tokens"), ("groq", "max_tokens"),
                                             ("mistral", "max_tokens")])
def test_request_body_headers_and_max_tokens_field(name: str, field: str) -> None:
    spec = RequestSpec("m", [{"role": "user", "content": "hi"}], {"max_tokens": 5, "temperature": 0.2},
                       api_key="k", base_url="https://h/v1")
    request = compatible_driver(ROWS[name]).build_request(spec)
    assert (request.method, request.url) == ("POST", "https://h/v1/chat/completions")
    assert request.headers == {"Content-Type": "application/json", "Accept": "text/event-stream",
                               "Authorization": "Bearer k"}
    assert json.loads(request.body) == {"model": "m", "messages": [{"role": "user", "content": "hi"}], field: 5,
                                        "temperature": 0.2, "stream": True,
                                        "stream_options": {"include_usage": True}}


def test_request_without_key_non_streaming_and_extra_headers() -> None:
    row = CompatibleProvider("acme", "https://acme/v1", ("ACME_KEY",), extra_headers=(("X-Org", "7"),))
    spec = RequestSpec("m", [], {"stream_options": None}, stream=False, base_url="https://acme/v1")
    request = compatible_driver(row).build_request(spec)
    assert request.headers == {"Content-Type": "application/json", "X-Org": "7"}
    assert json.loads(request.body) == {"model": "m", "messages": []}


@pytest.mark.parametrize(("base", "url"), [
    ("https://h/openai/deployments/x?api-version=2024-10-21",
     "https://h/openai/deployments/x/chat/completions?api-version=2024-10-21"),
    ("https://h/v1/?a=1&b=2", "https://h/v1/chat/completions?a=1&b=2"),
    ("https://h/v1#frag", "https://h/v1/chat/completions"),
])
def test_base_url_query_string_stays_after_the_path(base: str, url: str) -> None:
    spec = RequestSpec("m", [], base_url=base)
    assert DRIVER.build_request(spec).url == url
    assert compatible_driver(ROWS["openai"], "responses").build_request(spec).url == url.replace(
        "chat/completions", "responses")


def test_keyword_constructor_and_row_agree() -> None:
    by_keywords = OpenAIDriver("acme", default_base_url="https://acme/v1", api_key_env=("ACME_KEY",),
                               base_url_env="ACME_URL", requires_api_key=False, prefix_field="prefix")
    assert by_keywords.row == CompatibleProvider("acme", "https://acme/v1", ("ACME_KEY",), False, "max_tokens",
                                                 "ACME_URL", "prefix")
    assert (by_keywords.name, by_keywords.default_base_url, by_keywords.api_key_env, by_keywords.base_url_env,
            by_keywords.requires_api_key) == ("acme", "https://acme/v1", ("ACME_KEY",), "ACME_URL", False)
    assert compatible_driver(ROWS["vllm"]).base_url_env == "VLLM_BASE_URL"
    assert compatible_driver(ROWS["openai-compatible"]).base_url_env == "OPENAI_COMPATIBLE_BASE_URL"


def test_responses_flavour_is_built_from_the_same_row() -> None:
    row = CompatibleProvider("acme", "https://acme/v1", ("ACME_KEY",), extra_headers=(("X-Org", "7"),))
    chat = compatible_driver(row)
    responses = chat.for_api("responses")
    assert type(responses) is OpenAIResponsesDriver and not isinstance(responses, OpenAIDriver)
    assert (responses.name, responses.default_base_url, responses.api_key_env, responses.base_url_env) == (
        "acme", "https://acme/v1", ("ACME_KEY",), "ACME_BASE_URL")
    spec = RequestSpec("m", [], api_key="k", base_url="https://acme/v1")
    assert responses.build_request(spec).headers == chat.build_request(spec).headers
    back = responses.for_api("chat")
    assert type(back) is OpenAIDriver and back.row is row
    assert responses.for_api("responses") is responses and chat.for_api(None) is chat
    with pytest.raises(ConfigurationError, match="has no 'assistants' API"):
        chat.for_api("assistants")


def test_continuation_only_with_a_prefix_field() -> None:
    messages = [{"role": "user", "content": "count"}]
    mistral = compatible_driver(ROWS["mistral"])
    assert mistral.continuation_messages(messages, "1, 2") == [
        *messages, {"role": "assistant", "content": "1, 2", "prefix": True}]
    assert mistral.continuation_messages(messages, "") is None
    assert DRIVER.continuation_messages(messages, "1, 2") is None


# -- stream_options recovery (the engine asks the driver) -------------------------------------------
_REJECTED = "Unrecognized request argument supplied: stream_options"


@pytest.mark.parametrize(("error", "stream", "params", "expected"), [
    (BadRequestError(_REJECTED, status_code=400), True, {}, {"stream_options": None}),
    (APIStatusError(_REJECTED, status_code=422), True, {"stream_options": {"x": 1}}, {"stream_options": None}),
    (BadRequestError(_REJECTED, status_code=400), False, {}, None),  # nothing was sent
    (BadRequestError(_REJECTED, status_code=400), True, {"stream_options": None}, None),  # already dropped
    (BadRequestError("max_tokens is too large", status_code=400), True, {}, None),
    (RateLimitError(_REJECTED, status_code=429), True, {}, None),
    (StreamInterruptedError(_REJECTED), True, {}, None),
])
def test_recover_params(error: LLMError, stream: bool, params: dict[str, Any], expected: Any) -> None:
    spec = RequestSpec("m", [], dict(params), stream=stream)
    assert DRIVER.recover_params(spec, error) == expected
    assert spec.params == params  # never modified
    assert compatible_driver(ROWS["openai"], "responses").recover_params(spec, error) is None


# -- streams: quirks and odd shapes ----------------------------------------------------------------
def test_refusal_deltas_go_to_metadata_not_content() -> None:
    got = chunks(delta({"role": "assistant", "content": None, "refusal": ""}),
                 delta({"refusal": "I'm sorry, "}), delta({"refusal": "I can't help with that."}),
                 delta({}, "stop"))
    assert [c.metadata.get("refusal") for c in got] == [None, "I'm sorry, ", "I can't help with that.", None]
    assert "".join(c.content for c in got) == ""
    assert (got[-1].finish_reason, got[-1].raw_finish_reason) == ("stop", "stop")


def test_reasoning_fields_and_content_parts() -> None:
    got = chunks(delta({"reasoning_content": "think "}), delta({"reasoning": "more"}),
                 delta({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "deep"}]},
                                    {"type": "text", "text": "Hi"}]}), delta({}, "stop"))
    assert [(c.content, c.reasoning) for c in got] == [("", "think "), ("", "more"), ("Hi", "deep"), ("", "")]


def test_only_choice_zero_is_read() -> None:
    other = {"choices": [{"index": 1, "delta": {"content": "B"}, "finish_reason": None}]}
    both = {"choices": [{"index": 1, "delta": {"content": "b"}}, {"index": 0, "delta": {"content": "a"}}]}
    got = chunks(other, both, delta({}, "stop"))
    assert [c.content for c in got] == ["", "a", ""]


def test_groq_usage_and_usage_after_the_finish_chunk() -> None:
    got = chunks(delta("a"), delta({}, "stop", x_groq={"usage": {"prompt_tokens": 3, "completion_tokens": 1}}),
                 {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 6}})
    usages = [(c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.total_tokens) for c in got if c.usage]
    assert usages == [(3, 1, 4), (3, 2, 6)]


def test_done_without_finish_reason_completes_and_end_without_either_is_interrupted() -> None:
    done = chunks(delta("a"), events=[SSEEvent(data="[DONE]")])
    assert [(c.content, c.finish_reason) for c in done] == [("a", None)]
    with pytest.raises(StreamInterruptedError, match="ended before \\[DONE\\] or a finish reason"):
        chunks(delta("a"))


def test_break_after_the_finish_reason_is_quiet_and_before_it_raises() -> None:
    def broken(*objects: Any) -> Iterator[SSEEvent]:
        for obj in objects:
            yield SSEEvent(data=json.dumps(obj))
        raise StreamInterruptedError("lost", provider="openai")

    done = list(DRIVER.iter_chunks(broken(delta("a"), delta({}, "stop")), SPEC))
    assert [c.finish_reason for c in done] == [None, "stop"]
    with pytest.raises(StreamInterruptedError, match="lost"):
        list(DRIVER.iter_chunks(broken(delta("a")), SPEC))


def test_inband_error_chunk_and_error_frame() -> None:
    rate = {"error": {"type": "tokens", "code": "rate_limit_exceeded", "message": "slow down"}}
    with pytest.raises(RateLimitError, match="slow down"):
        chunks(delta("a"), rate)
    with pytest.raises(BadRequestError, match="tool_use_failed"):
        chunks(delta("a"), events=[SSEEvent(event="error", data='{"error": {"code": "tool_use_failed"}}')])


def test_a_delta_that_is_a_string_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="delta that is not an object"):
        chunks({"choices": [{"index": 0, "delta": "hello"}]})


def test_tool_calls_with_null_entries_and_odd_fields() -> None:
    calls = [None, {"index": "0", "id": 7, "function": "oops"}, {"index": 1, "function": {"arguments": {"a": 1}}}]
    got = chunks(delta({"tool_calls": calls}), delta({}, "tool_calls"))
    assert [(d.index, d.id, d.name, d.arguments) for d in got[0].tool_calls] == [
        (1, "7", None, ""), (1, None, None, '{"a": 1}')]
    with pytest.raises(ProtocolError, match="tool_calls that are not a list"):
        chunks(delta({"tool_calls": {"index": 0}}))


def test_usage_and_finish_reason_of_the_wrong_type() -> None:
    usage = {"prompt_tokens": "n/a", "completion_tokens": 2.0, "total_tokens": None,
             "prompt_tokens_details": "x", "completion_tokens_details": [1]}
    got = chunks(delta("a", 7, usage=usage, x_groq="y"))
    assert got[0].usage is not None
    assert (got[0].usage.prompt_tokens, got[0].usage.completion_tokens, got[0].usage.total_tokens) == (0, 2, 2)
    assert (got[0].finish_reason, got[0].raw_finish_reason) == ("stop", "7")
    assert chunks(delta({}, "stop", x_groq="y"), driver=compatible_driver(ROWS["groq"]))[0].usage is None


# -- non-streaming ---------------------------------------------------------------------------------
def test_parse_response_full() -> None:
    payload = {"model": "gpt-4o-2024", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "ok", "reasoning_content": "because",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}]}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8,
                  "prompt_tokens_details": {"cached_tokens": 2},
                  "completion_tokens_details": {"reasoning_tokens": 1}}}
    response = DRIVER.parse_response(payload, SPEC)
    assert (response.content, response.reasoning, response.finish_reason, response.model) == (
        "ok", "because", "tool_calls", "gpt-4o-2024")
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [("c1", "f", '{"x":1}')]
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.cached_tokens,
            usage.reasoning_tokens, usage.is_estimated) == (5, 3, 8, 2, 1, False)


def test_parse_response_with_odd_shapes() -> None:
    payload = {"choices": [{"index": 0, "message": {"content": "hi", "tool_calls": [None, {"id": "c"}]},
                            "finish_reason": "abort"}], "usage": {"prompt_tokens": "n/a"}, "model": 5}
    response = DRIVER.parse_response(payload, SPEC)
    assert (response.content, response.finish_reason, response.usage.prompt_tokens) == ("hi", "error", 0)
    assert [(c.id, c.name) for c in response.tool_calls] == [("c", "")]
    assert response.model == "5"
    assert DRIVER.parse_response({"choices": [{"message": "oops"}]}, SPEC).content == ""
    assert DRIVER.parse_response({"choices": "oops"}, SPEC) == ChatResponse(
        model="gpt-test", provider="openai", raw={"choices": "oops"},
        usage=DRIVER.parse_response({}, SPEC).usage)
    with pytest.raises(ProtocolError, match="tool_calls that are not a list"):
        DRIVER.parse_response({"choices": [{"message": {"tool_calls": "f"}}]}, SPEC)
    with pytest.raises(RateLimitError):
        DRIVER.parse_response({"error": {"type": "rate_limit_error", "message": "x"}}, SPEC)
