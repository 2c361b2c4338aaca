"""Tests of the Gemini driver: recorded streams, JSON-array parsing, request building, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fixture_support import check_response, load_fixtures, split_randomly

from llm_connectivity.aggregate import ResponseAccumulator
from llm_connectivity.errors import (
    BadRequestError,
    InvalidRequestError,
    ProtocolError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from llm_connectivity.providers.gemini import GeminiDriver, JSONArrayDecoder
from llm_connectivity.models import StreamChunk
from llm_connectivity.request import RequestSpec
from llm_connectivity.sse import SSEEvent

FIXTURES = load_fixtures("gemini-sse", "gemini-json-array")
SPEC = RequestSpec(model="gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}])
DRIVER = GeminiDriver("gemini")


def run(driver: GeminiDriver, pieces: Any, content_type: str = "text/event-stream") -> tuple[list[Any], Any]:
    acc = ResponseAccumulator(provider=driver.name)
    chunks = []
    for chunk in driver.iter_chunks(driver.iter_events(pieces, content_type), SPEC):
        chunks.append(chunk)
        acc.add(chunk)
    return chunks, acc.build()


def sse(*objects: Any) -> list[bytes]:
    return [f"data: {json.dumps(o)}\r\n\r\n".encode() for o in objects]


def body(**kwargs: Any) -> dict[str, Any]:
    spec = RequestSpec(**{"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}], **kwargs})
    decoded: dict[str, Any] = json.loads(DRIVER.build_request(spec).body)
    return decoded


# -- recorded fixtures -----------------------------------------------------------------------------
def test_fixtures_are_present() -> None:
    assert len(FIXTURES) == 12
    assert {fx.wire_format for fx in FIXTURES} == {"gemini-sse", "gemini-json-array"}


@pytest.mark.parametrize("fx", FIXTURES, ids=lambda fx: fx.id)
@pytest.mark.parametrize("split", ["seed1", "seed2", "seed3", "bytes"])
def test_recorded_stream(fx: Any, split: str) -> None:
    if split == "bytes":
        pieces: Iterator[bytes] = (fx.body[i : i + 1] for i in range(len(fx.body)))
    else:
        pieces = split_randomly(fx.body, int(split[-1]))
    chunks, response = run(GeminiDriver("google"), pieces, fx.content_type)
    check_response(fx, response)
    assert sum(1 for c in chunks if c.content) == fx.expected["content_deltas"]
    assert len(chunks) == fx.expected["chunks"]
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert all(isinstance(c.raw_chunk, dict) for c in chunks)
    assert response.usage.total_tokens == fx.expected["usage"]["total_tokens"]
    assert response.usage.reasoning_tokens == (fx.expected["usage"]["raw"].get("thoughtsTokenCount") or 0)
    assert response.model
    expected_finish = "tool_calls" if fx.expected.get("tool_calls") else "stop"
    assert response.finish_reason == expected_finish
    if not fx.expected.get("reasoning_text"):
        assert response.reasoning == ""


def test_thought_signature_in_metadata() -> None:
    fx = next(f for f in FIXTURES if f.name == "pro3-tool-call-thought-signature")
    chunks, response = run(DRIVER, [fx.body])
    assert chunks[0].metadata["thought_signature"].startswith("EpwI")
    assert chunks[0].metadata["tool_thought_signatures"] == {0: chunks[0].metadata["thought_signature"]}
    assert response.tool_calls[0].id == "call_0"
    assert response.tool_calls[0].arguments == "{}"


def test_usage_last_wins_and_no_token_count_from_the_driver() -> None:
    fx = next(f for f in FIXTURES if f.name == "flash20-text-crlf")
    chunks, response = run(DRIVER, [fx.body])
    assert [c.usage.prompt_tokens for c in chunks] == [15, 15, 13]
    assert response.usage.prompt_tokens == 13
    assert [c.token_count for c in chunks] == [0, 0, 0]  # counted once, by the engine's counter stage


# -- incremental JSON array ------------------------------------------------------------------------
def test_json_array_first_element_before_rest_is_read() -> None:
    first = b'[{"candidates": [{"content": {"parts": [{"text": "a}]\\"{["}]}}]}\n,'
    state = {"read": 0}

    def pieces() -> Iterator[bytes]:
        state["read"] = 1
        yield first
        raise AssertionError("read past the first element")

    events = DRIVER.iter_events(pieces(), "application/json; charset=UTF-8")
    event = next(events)
    assert json.loads(event.data)["candidates"][0]["content"]["parts"][0]["text"] == 'a}]"{['
    chunks = DRIVER.iter_chunks(DRIVER.iter_events(pieces(), "application/json"), SPEC)
    assert next(chunks).content == 'a}]"{['


def test_json_array_strings_escapes_split_anywhere() -> None:
    elements = [
        {"a": "brace } and { and ] [", "b": [1, {"c": "\\"}]},
        {"q": 'quote " backslash \\ end\\', "u": "é\u2028😀"},
        {"empty": {}, "list": [[], [{}]], "s": "\\\""},
    ]
    raw = ("[" + "\n,\r\n".join(json.dumps(e, ensure_ascii=False, indent=2) for e in elements) + "]").encode()
    for size in (1, 2, 3, 7, len(raw)):
        decoder = JSONArrayDecoder()
        out: list[str] = []
        for i in range(0, len(raw), size):
            out.extend(decoder.feed(raw[i : i + size]))
        assert [json.loads(t) for t in out] == elements, size


def test_json_array_bare_object_and_garbage() -> None:
    assert [json.loads(t) for t in JSONArrayDecoder().feed(b' {"a": "}"} ')] == [{"a": "}"}]
    assert JSONArrayDecoder().feed(b"[]") == []
    with pytest.raises(ProtocolError):
        JSONArrayDecoder().feed(b"[1, 2]")
    with pytest.raises(ProtocolError):
        JSONArrayDecoder().feed(b"<html>")


def test_json_array_truncated_is_interrupted() -> None:
    fx = next(f for f in FIXTURES if f.name == "jsonarray-flash-hi")
    with pytest.raises(StreamInterruptedError):
        run(DRIVER, [fx.body[: len(fx.body) - 40]], "application/json")


def test_other_bodies_are_sniffed() -> None:
    with pytest.raises(ProtocolError, match="answered 200 with text/html where an event stream"):
        DRIVER.iter_events([b"<html>nope</html>"], "text/html")
    with pytest.raises(RateLimitError):
        run(DRIVER, [b'{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}'], "text/plain")
    sse_body = b'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP"}]}\r\n\r\n'
    for content_type in ("", "text/plain", "application/octet-stream"):
        chunks, response = run(DRIVER, [sse_body[:3], sse_body[3:]], content_type)
        assert (response.content, response.finish_reason) == ("Hi", "stop"), content_type


# -- request building -------------------------------------------------------------------------------
def test_url_headers_and_key_not_in_url() -> None:
    spec = RequestSpec(model="gemini-2.5-flash", messages=[], api_key="SECRET")
    request = DRIVER.build_request(spec)
    assert request.method == "POST"
    assert request.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert request.headers == {"content-type": "application/json", "x-goog-api-key": "SECRET"}
    assert "SECRET" not in request.url and b"SECRET" not in request.body
    plain = DRIVER.build_request(RequestSpec(model="models/gemini-pro", messages=[], stream=False))
    assert plain.url == "https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent"
    assert not plain.stream


def test_api_version_override_and_base_with_version() -> None:
    driver = GeminiDriver("google", api_version="v1")
    assert driver.api_version == "v1" and GeminiDriver().api_version == "v1beta"
    assert "/v1/models/m:" in driver.build_request(RequestSpec(model="m", messages=[])).url
    spec = RequestSpec(model="m", messages=[], params={"api_version": "v1alpha", "temperature": 0})
    request = DRIVER.build_request(spec)
    assert "/v1alpha/models/m:" in request.url
    assert "api_version" not in json.loads(request.body)
    for base in ("https://proxy.example/gemini/v1beta", "https://proxy.example/v1/", "https://x/v1beta1"):
        url = DRIVER.build_request(RequestSpec(model="m", messages=[], base_url=base)).url
        assert url == base.rstrip("/") + "/models/m:streamGenerateContent?alt=sse"
    url = DRIVER.build_request(RequestSpec(model="m", messages=[], base_url="http://localhost:8080/")).url
    assert url == "http://localhost:8080/v1beta/models/m:streamGenerateContent?alt=sse"


@pytest.mark.parametrize(("base", "stream", "url"), [
    ("https://gw.example/google?api-version=2", True,
     "https://gw.example/google/v1beta/models/m:streamGenerateContent?api-version=2&alt=sse"),
    ("https://gw.example/v1?api-version=2", True, "https://gw.example/v1/models/m:streamGenerateContent?api-version=2&alt=sse"),
    ("https://gw.example/v1beta/?a=1&b=2", False, "https://gw.example/v1beta/models/m:generateContent?a=1&b=2"),
])
def test_base_url_query_string_is_kept_after_the_path(base: str, stream: bool, url: str) -> None:
    assert DRIVER.build_request(RequestSpec(model="m", messages=[], base_url=base, stream=stream)).url == url


def test_roles_system_and_content_parts() -> None:
    got = body(messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
            {"type": "image_url", "image_url": {"url": "https://x.test/cat.png?s=1"}},
        ]},
        {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "Thanks"},
        {"role": "user", "content": "Again"},
    ])
    assert got["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert got["contents"] == [
        {"role": "user", "parts": [
            {"text": "What is this?"},
            {"inlineData": {"mimeType": "image/jpeg", "data": "QUJD"}},
            {"fileData": {"fileUri": "https://x.test/cat.png?s=1", "mimeType": "image/png"}},
        ]},
        {"role": "model", "parts": [{"text": "A cat."}]},
        {"role": "user", "parts": [{"text": "Thanks"}]},
        {"role": "user", "parts": [{"text": "Again"}]},
    ]
    with pytest.raises(InvalidRequestError):
        body(messages=[{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}])


def test_generation_config() -> None:
    got = body(params={"max_tokens": 50, "temperature": 0.2, "top_p": 0.9, "top_k": 40, "stop": "END"})
    assert got["generationConfig"] == {
        "maxOutputTokens": 50, "temperature": 0.2, "topP": 0.9, "topK": 40, "stopSequences": ["END"],
    }
    assert body(params={"stop": ["a", "b"]})["generationConfig"] == {"stopSequences": ["a", "b"]}
    assert "generationConfig" not in body()


def test_json_mode() -> None:
    got = body(params={"response_format": {"type": "json_object"}})
    assert got["generationConfig"] == {"responseMimeType": "application/json"}
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    got = body(params={"response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}})
    assert got["generationConfig"] == {"responseMimeType": "application/json", "responseJsonSchema": schema}
    assert "generationConfig" not in body(params={"response_format": {"type": "text"}})


def test_tools_and_tool_choice() -> None:
    params = {"type": "object", "properties": {"city": {"type": "string"}}}
    tools = [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather.", "parameters": params}},
        {"type": "function", "function": {"name": "now"}},
        {"googleSearch": {}},
    ]
    got = body(params={"tools": tools, "tool_choice": "auto"})
    assert got["tools"] == [
        {"functionDeclarations": [
            {"name": "get_weather", "description": "Weather.", "parameters": params},
            {"name": "now"},
        ]},
        {"googleSearch": {}},
    ]
    assert got["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    for choice, mode in (("required", "ANY"), ("none", "NONE")):
        assert body(params={"tool_choice": choice})["toolConfig"]["functionCallingConfig"] == {"mode": mode}
    named = body(params={"tool_choice": {"type": "function", "function": {"name": "now"}}})
    assert named["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["now"]}}
    for key in ("tools", "tool_choice"):
        assert key not in named


def test_tool_call_round_trip() -> None:
    got = body(messages=[
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": ""},
             "extra_content": {"google": {"thought_signature": "SIG"}}},
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 30}'},
        {"role": "tool", "tool_call_id": "c2", "content": "noon"},
        {"role": "tool", "tool_call_id": "zz", "name": "other", "content": "[1, 2]"},
    ])
    assert got["contents"][1:] == [
        {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_time", "args": {}}, "thoughtSignature": "SIG"},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 30}}},
            {"functionResponse": {"name": "get_time", "response": {"result": "noon"}}},
            {"functionResponse": {"name": "other", "response": {"result": "[1, 2]"}}},
        ]},
    ]
    with pytest.raises(InvalidRequestError):
        body(messages=[{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{"}}]}])


def test_native_keys_pass_through_and_merge() -> None:
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    native_turn = {"role": "model", "parts": [{"text": "earlier"}]}
    got = body(params={
        "safetySettings": safety,
        "contents": [{"role": "user", "parts": [{"text": "more"}]}],
        "thinkingConfig": {"thinkingBudget": 0},
        "generationConfig": {"temperature": 1.0, "candidateCount": 1},
        "temperature": 0.5,
        "max_tokens": 9,
        "toolConfig": {"retrievalConfig": {"languageCode": "en"}},
        "tool_choice": "none",
        "stream_options": {"include_usage": True},
    }, messages=[{"role": "user", "content": "hi"}, native_turn])
    assert got["safetySettings"] == safety
    assert got["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]}, native_turn, {"role": "user", "parts": [{"text": "more"}]},
    ]
    assert got["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 0}, "temperature": 1.0, "candidateCount": 1, "maxOutputTokens": 9,
    }
    assert got["toolConfig"] == {"retrievalConfig": {"languageCode": "en"}, "functionCallingConfig": {"mode": "NONE"}}
    assert set(got) == {"contents", "safetySettings", "generationConfig", "toolConfig"}


# -- finish reasons, errors, non-streaming ---------------------------------------------------------
def test_stop_after_function_call_is_tool_calls() -> None:
    chunks, response = run(DRIVER, sse(
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {"b": 1, "a": 2}, "id": "x"}}]}}]},
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": "g"}}]}}]},
        {"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"}]},
    ))
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("x", "f", '{"a":2,"b":1}'), ("call_1", "g", "{}"),
    ]
    assert (response.finish_reason, response.raw_finish_reason) == ("tool_calls", "STOP")
    assert chunks[-1].finish_reason == "tool_calls"


def test_max_tokens_stream() -> None:
    _, response = run(DRIVER, sse(
        {"candidates": [{"content": {"parts": [{"text": "thinking", "thought": True}, {"text": "Hel"}]}}]},
        {"candidates": [{"content": {"parts": [{"text": "lo"}]}, "finishReason": "MAX_TOKENS"}],
         "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "cachedContentTokenCount": 1},
         "modelVersion": "gemini-x"},
    ))
    assert (response.content, response.reasoning) == ("Hello", "thinking")
    assert response.finish_reason == "length"
    assert response.model == "gemini-x"
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.cached_tokens) == (3, 2, 5, 1)
    assert usage.raw["cachedContentTokenCount"] == 1


def test_prompt_blocked_raises() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}
    with pytest.raises(BadRequestError, match="SAFETY") as info:
        run(DRIVER, sse(blocked))
    assert info.value.status_code == 400
    with pytest.raises(BadRequestError, match="PROHIBITED_CONTENT"):
        DRIVER.parse_response({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}, SPEC)


@pytest.mark.parametrize(("status", "cls"), [
    ("RESOURCE_EXHAUSTED", RateLimitError), ("INVALID_ARGUMENT", BadRequestError), ("UNAVAILABLE", ServerError),
])
def test_in_band_error_object(status: str, cls: type[Exception]) -> None:
    error = {"error": {"code": 999, "message": "bad things", "status": status}}
    ok = {"candidates": [{"content": {"parts": [{"text": "a"}]}}]}
    with pytest.raises(cls, match="bad things"):
        run(DRIVER, sse(ok, error))
    array = ("[" + json.dumps(ok) + ",\r\n" + json.dumps(error) + "]").encode()
    with pytest.raises(cls):
        run(DRIVER, [array], "application/json")
    with pytest.raises(cls):
        DRIVER.parse_response(error, SPEC)


def test_truncated_stream_is_interrupted() -> None:
    fx = next(f for f in FIXTURES if f.name == "flash20-text-crlf")
    with pytest.raises(StreamInterruptedError):
        run(DRIVER, [fx.body[: fx.body.rindex(b"data:")]])
    with pytest.raises(StreamInterruptedError):
        list(DRIVER.iter_chunks(iter([]), SPEC))
    with pytest.raises(ProtocolError):
        list(DRIVER.iter_chunks([SSEEvent(data="{not json")], SPEC))


def test_parse_response_single_and_list() -> None:
    payload = {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "plan", "thought": True},
            {"text": "Hi "}, {"text": "there"},
            {"functionCall": {"name": "f", "args": {"x": 1}}},
        ]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "thoughtsTokenCount": 7,
                          "totalTokenCount": 15},
        "modelVersion": "gemini-2.5-flash-001",
    }
    response = DRIVER.parse_response(payload, SPEC)
    assert (response.content, response.reasoning) == ("Hi there", "plan")
    assert [(c.name, json.loads(c.arguments)) for c in response.tool_calls] == [("f", {"x": 1})]
    assert (response.finish_reason, response.raw_finish_reason) == ("tool_calls", "STOP")
    assert (response.usage.completion_tokens, response.usage.reasoning_tokens, response.usage.total_tokens) == (3, 7, 15)
    assert (response.model, response.provider, response.raw) == ("gemini-2.5-flash-001", "gemini", payload)
    fx = next(f for f in FIXTURES if f.name == "jsonarray-flash-thinking-text")
    merged = DRIVER.parse_response(json.loads(fx.body), SPEC)
    check_response(fx, merged)
    empty = DRIVER.parse_response({"candidates": []}, SPEC)
    assert empty.content == "" and empty.usage.is_estimated and empty.model == SPEC.model


def test_catalog_builds_gemini_drivers() -> None:
    from llm_connectivity.providers.catalog import BUILTIN_FACTORIES

    for name in ("google", "gemini"):
        driver = BUILTIN_FACTORIES[name]()
        assert isinstance(driver, GeminiDriver) and driver.name == name


# -- malformed but valid JSON shapes, usage reuse -----------------------------------------------
def _objects(*objects: Any) -> list[StreamChunk]:
    return list(DRIVER.iter_chunks([SSEEvent(data=json.dumps(o)) for o in objects], SPEC))


@pytest.mark.parametrize("candidates", [["oops"], [7], [{"content": "text"}], [{"content": {"parts": "x"}}]])
def test_gemini_wrong_candidate_shapes_are_protocol_errors(candidates: Any) -> None:
    with pytest.raises(ProtocolError):
        _objects({"candidates": candidates})


def test_gemini_odd_but_harmless_shapes() -> None:
    got = _objects(
        {"candidates": [None], "promptFeedback": "fine", "usageMetadata": {"promptTokenCount": "n/a"}},
        {"candidates": {"content": {"parts": [None, {"functionCall": {"name": 5, "args": {"a": 1}}}]}}},
        {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": 1}]},
    )
    assert got[0].usage is not None and got[0].usage.prompt_tokens == 0
    assert [(d.name, d.arguments) for d in got[1].tool_calls] == [("5", '{"a":1}')]
    assert (got[2].finish_reason, got[2].raw_finish_reason) == ("tool_calls", "1")  # unknown: stop, after calls


def test_gemini_usage_rebuilt_only_when_usage_metadata_changes() -> None:
    same = {"promptTokenCount": 2, "candidatesTokenCount": 1, "totalTokenCount": 3}
    changed = {**same, "candidatesTokenCount": 2, "totalTokenCount": 4}
    parts = {"content": {"parts": [{"text": "a"}]}}
    got = _objects({"candidates": [parts], "usageMetadata": dict(same)},
                 {"candidates": [parts], "usageMetadata": dict(same)},
                 {"candidates": [{**parts, "finishReason": "STOP"}], "usageMetadata": changed})
    assert got[0].usage is got[1].usage
    assert got[2].usage is not got[1].usage
    assert (got[1].usage.completion_tokens, got[2].usage.completion_tokens) == (1, 2)  # type: ignore[union-attr]


def test_several_candidates_only_candidate_zero_is_the_answer() -> None:
    """``candidateCount: 2``: chunks may carry both candidates, or only the other one."""
    def cand(index: int, text: str, finish: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"index": index, "content": {"role": "model", "parts": [{"text": text}]}}
        return {**out, "finishReason": finish} if finish else out

    chunks, response = run(DRIVER, sse(
        {"candidates": [cand(0, "Red"), cand(1, "Blue")]},
        {"candidates": [cand(1, " sky", "STOP")]},
        {"candidates": [cand(1, ""), cand(0, " rose", "STOP")],
         "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 6, "totalTokenCount": 10}},
    ))
    assert [c.content for c in chunks] == ["Red", "", " rose"]
    assert [c.finish_reason for c in chunks] == [None, None, "stop"]
    assert (response.content, response.finish_reason, response.usage.total_tokens) == ("Red rose", "stop", 10)
    assert chunks[1].raw_chunk["candidates"][0]["index"] == 1  # the other candidate stays in raw_chunk

