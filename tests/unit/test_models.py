"""Record types (Usage mapping, frozen slotted dataclasses) and ResponseAccumulator."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.aggregate import ResponseAccumulator
from llm_connectivity.models import ChatResponse, StreamChunk, ToolCall, ToolCallDelta, Usage, estimate_tokens
from llm_connectivity.tokens import count_tokens
from llm_connectivity.testing import FakeLLMServer

USAGE_KEYS = ["prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens",
              "is_estimated", "confidence"]

# -- Usage ----------------------------------------------------------------------------------------------


def test_usage_is_a_mapping() -> None:
    usage = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15, cached_tokens=2, raw={"x": 1})
    assert isinstance(usage, Mapping)
    assert usage["total_tokens"] == 15
    assert usage["prompt_tokens"] == 10
    assert usage["is_estimated"] is False
    assert list(usage) == USAGE_KEYS
    assert list(usage.keys()) == USAGE_KEYS
    assert len(usage) == 7
    assert dict(usage) == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cached_tokens": 2,
                           "reasoning_tokens": 0, "is_estimated": False, "confidence": 1.0}
    assert usage.get("completion_tokens") == 5
    assert usage.get("nope", "dflt") == "dflt"
    assert "total_tokens" in usage
    assert usage["raw"] == {"x": 1}  # reachable by name, not listed


@pytest.mark.parametrize("key", ["nope", "raw_tokens", "", "__class__", "replace"])
def test_usage_unknown_key_raises_key_error(key: str) -> None:
    with pytest.raises(KeyError):
        Usage()[key]


def test_usage_frozen_slotted_and_replace() -> None:
    usage = Usage(prompt_tokens=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        usage.prompt_tokens = 2  # type: ignore[misc]
    assert not hasattr(usage, "__dict__")
    other = usage.replace(completion_tokens=4, total_tokens=5)
    assert (other.prompt_tokens, other.completion_tokens, other.total_tokens) == (1, 4, 5)
    assert usage.completion_tokens == 0


def test_usage_equality_ignores_raw() -> None:
    assert Usage(total_tokens=3, raw={"a": 1}) == Usage(total_tokens=3, raw={"b": 2})
    assert Usage(total_tokens=3) != Usage(total_tokens=4)
    assert hash(Usage(total_tokens=3, raw={"a": 1})) == hash(Usage(total_tokens=3))


def test_usage_defaults() -> None:
    usage = Usage()
    assert dict(usage) == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cached_tokens": 0,
                           "reasoning_tokens": 0, "is_estimated": False, "confidence": 1.0}
    assert usage.raw == {}
    assert Usage().raw is not Usage().raw


# -- other records ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("obj", [
    Usage(),
    ToolCall(id="c", name="n", arguments="{}"),
    ToolCallDelta(index=0),
    StreamChunk(),
    ChatResponse(),
])
def test_records_frozen_and_slotted(obj: object) -> None:
    assert dataclasses.is_dataclass(obj)
    assert not hasattr(obj, "__dict__")
    assert "__slots__" in type(obj).__dict__
    field = dataclasses.fields(obj)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, field, getattr(obj, field))


def test_stream_chunk_defaults() -> None:
    chunk = StreamChunk()
    assert chunk.content == ""
    assert chunk.finish_reason is None and chunk.raw_finish_reason is None
    assert chunk.raw_chunk is None
    assert chunk.index == 0
    assert chunk.usage is None
    assert chunk.tool_calls == ()
    assert chunk.reasoning == ""
    assert chunk.token_count == 0
    assert chunk.is_complete is False
    assert chunk.metadata == {}
    assert StreamChunk().metadata is not chunk.metadata


def test_tool_call_and_delta_defaults() -> None:
    assert ToolCall(id="a", name="b", arguments="{}").type == "function"
    delta = ToolCallDelta(index=2)
    assert (delta.id, delta.name, delta.arguments) == (None, None, "")


def test_chat_response_defaults_and_str() -> None:
    response = ChatResponse(content="hello")
    assert str(response) == "hello"
    assert response.usage == Usage()
    assert response.tool_calls == [] and response.cost_usd is None
    assert ChatResponse().tool_calls is not ChatResponse().tool_calls


@pytest.mark.parametrize(("text", "expected"), [("", 0), ("a", 1), ("abcd", 1), ("abcdefgh", 2), ("x" * 400, 100)])
def test_estimate_tokens(text: str, expected: int) -> None:
    assert estimate_tokens(text) == expected


# -- ResponseAccumulator ----------------------------------------------------------------------------------


def test_accumulates_text_and_reasoning() -> None:
    acc = ResponseAccumulator(model="m", provider="p")
    assert not acc.has_output
    acc.add(StreamChunk(content="Hel", reasoning="think "))
    acc.add(StreamChunk(content=""))
    acc.add(StreamChunk(content="lo", reasoning="more"))
    assert acc.has_output
    assert acc.content == "Hello"
    assert acc.chunk_count == 3
    response = acc.build()
    assert (response.content, response.reasoning, response.model, response.provider) == ("Hello", "think more",
                                                                                          "m", "p")


def test_reasoning_only_counts_as_output() -> None:
    acc = ResponseAccumulator()
    acc.add(StreamChunk(reasoning="hmm"))
    assert acc.has_output and acc.content == ""


def test_tool_deltas_assembled_by_index() -> None:
    acc = ResponseAccumulator()
    acc.add(StreamChunk(tool_calls=(ToolCallDelta(1, id="call_b", name="lookup", arguments='{"q"'),)))
    acc.add(StreamChunk(tool_calls=(ToolCallDelta(0, id="call_a", name="weather", arguments='{"city":'),)))
    acc.add(StreamChunk(tool_calls=(ToolCallDelta(0, arguments=' "Paris"}'), ToolCallDelta(1, arguments=': "x"}'))))
    # id/name are given once; a repeated name must not be appended or replace the first.
    acc.add(StreamChunk(tool_calls=(ToolCallDelta(0, name="other"),)))
    assert acc.has_output
    assert acc.tool_calls() == [
        ToolCall(id="call_a", name="weather", arguments='{"city": "Paris"}'),
        ToolCall(id="call_b", name="lookup", arguments='{"q": "x"}'),
    ]
    assert acc.build().tool_calls == acc.tool_calls()


def test_tool_call_without_id_gets_placeholder() -> None:
    acc = ResponseAccumulator()
    acc.add(StreamChunk(tool_calls=(ToolCallDelta(3, name="f"),)))
    assert acc.tool_calls() == [ToolCall(id="call_3", name="f", arguments="")]


def test_last_usage_wins() -> None:
    acc = ResponseAccumulator(prompt_estimate=100)
    acc.add(StreamChunk(content="x", usage=Usage(prompt_tokens=5, total_tokens=5)))
    acc.add(StreamChunk(content="y"))
    acc.add(StreamChunk(usage=Usage(prompt_tokens=5, completion_tokens=2, total_tokens=7)))
    acc.add(StreamChunk())
    usage = acc.final_usage()
    assert usage.total_tokens == 7 and not usage.is_estimated
    assert acc.build().usage is usage


def test_estimated_usage_when_none_reported() -> None:
    acc = ResponseAccumulator(prompt_estimate=12)
    acc.add(StreamChunk(content="a" * 40))
    usage = acc.final_usage()
    assert usage.is_estimated is True
    assert usage.confidence < 1.0
    assert usage.prompt_tokens == 12
    assert usage.completion_tokens == count_tokens("a" * 40)  # the library's estimator (tokens.py)
    assert usage.total_tokens == 12 + usage.completion_tokens


def test_last_non_null_finish_reason_wins() -> None:
    acc = ResponseAccumulator()
    acc.add(StreamChunk(content="a", finish_reason="length", raw_finish_reason="max_tokens"))
    acc.add(StreamChunk(content="b"))
    assert (acc.finish_reason, acc.raw_finish_reason) == ("length", "max_tokens")
    acc.add(StreamChunk(finish_reason="stop", raw_finish_reason="end_turn"))
    assert acc.build().finish_reason == "stop"


def test_metadata_model_and_raw() -> None:
    acc = ResponseAccumulator(model="requested")
    acc.add(StreamChunk(raw_chunk={"n": 1}, metadata={"model": "served-2024"}))
    acc.add(StreamChunk(raw_chunk={"n": 2}))
    response = acc.build()
    assert response.model == "served-2024"
    assert response.raw == {"n": 2}
    assert acc.build(raw="explicit").raw == "explicit"


def test_build_mid_stream_is_a_snapshot() -> None:
    acc = ResponseAccumulator()
    acc.add(StreamChunk(content="part"))
    partial = acc.build()
    acc.add(StreamChunk(content=" more"))
    assert partial.content == "part"
    assert acc.build().content == "part more"
    assert acc.complete is False


# -- to_dict: plain JSON ----------------------------------------------------------------------------------

_USAGE = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15, cached_tokens=2, reasoning_tokens=1,
               raw={"input_tokens": 10, "cache_read_input_tokens": 2})
_USAGE_DICT = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cached_tokens": 2,
               "reasoning_tokens": 1, "is_estimated": False, "confidence": 1.0,
               "raw": {"input_tokens": 10, "cache_read_input_tokens": 2}}


def test_usage_to_dict() -> None:
    assert _USAGE.to_dict() == _USAGE_DICT
    assert _USAGE.to_dict(include_raw=False) == dict(_USAGE)
    estimated = Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7, is_estimated=True, confidence=0.5)
    assert json.loads(json.dumps(estimated.to_dict())) == {
        "prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7, "cached_tokens": 0, "reasoning_tokens": 0,
        "is_estimated": True, "confidence": 0.5, "raw": {}}


def test_tool_call_to_dict() -> None:
    assert ToolCall(id="c1", name="f", arguments='{"a": 1}').to_dict() == {
        "id": "c1", "name": "f", "arguments": '{"a": 1}', "type": "function"}
    assert ToolCallDelta(0, name="f").to_dict() == {"index": 0, "id": None, "name": "f", "arguments": ""}


def test_chat_response_to_dict() -> None:
    response = ChatResponse(content="Hi", finish_reason="tool_calls", raw_finish_reason="tool_use", usage=_USAGE,
                            cost_usd=0.0012, tool_calls=[ToolCall(id="c1", name="f", arguments="{}")],
                            reasoning="hmm", model="claude-x", provider="anthropic", raw={"id": "msg_1"})
    expected = {"content": "Hi", "finish_reason": "tool_calls", "raw_finish_reason": "tool_use",
                "usage": _USAGE_DICT, "cost_usd": 0.0012,
                "tool_calls": [{"id": "c1", "name": "f", "arguments": "{}", "type": "function"}],
                "reasoning": "hmm", "model": "claude-x", "provider": "anthropic", "raw": {"id": "msg_1"}}
    assert response.to_dict() == expected
    assert json.loads(json.dumps(response.to_dict())) == expected
    without = response.to_dict(include_raw=False)
    assert "raw" not in without and "raw" not in without["usage"]


def test_stream_chunk_to_dict() -> None:
    chunk = StreamChunk(content="Hel", finish_reason=None, raw_chunk={"choices": []}, index=3, usage=_USAGE,
                        tool_calls=(ToolCallDelta(0, id="c1", name="f", arguments="{"),), reasoning="r",
                        token_count=1, metadata={"continuation": 1, "note": None})
    expected = {"content": "Hel", "finish_reason": None, "raw_finish_reason": None, "index": 3,
                "usage": _USAGE_DICT, "tool_calls": [{"index": 0, "id": "c1", "name": "f", "arguments": "{"}],
                "reasoning": "r", "token_count": 1, "is_complete": False,
                "metadata": {"continuation": 1, "note": None}, "raw_chunk": {"choices": []}}
    assert chunk.to_dict() == expected
    assert json.loads(json.dumps(chunk.to_dict())) == expected
    final = StreamChunk(index=4, usage=Usage(total_tokens=2), is_complete=True).to_dict(include_raw=False)
    assert "raw_chunk" not in final and final["is_complete"] is True and final["usage"]["total_tokens"] == 2


class _Opaque:
    pass


@pytest.mark.parametrize("raw", [_Opaque(), {"x": {1, 2}}, {"n": float("nan")}, b"bytes"])
def test_raw_that_json_cannot_carry_becomes_none(raw: object) -> None:
    """The documented rule: ``raw`` / ``raw_chunk`` are kept only when JSON can carry them."""
    assert ChatResponse(content="x", raw=raw).to_dict()["raw"] is None
    chunk = StreamChunk(content="x", raw_chunk=raw, metadata={"ok": 1, "bad": raw},
                        usage=Usage(raw={"odd": raw}))  # type: ignore[dict-item]
    out = chunk.to_dict()
    assert (out["raw_chunk"], out["metadata"], out["usage"]["raw"]) == (None, {"ok": 1}, None)
    json.dumps(out)
    json.dumps(ChatResponse(raw=raw, usage=Usage(raw={"odd": raw})).to_dict())  # type: ignore[dict-item]


@pytest.mark.parametrize("model", ["openai/gpt-x", "anthropic/claude-x", "gemini/gemini-x"])
def test_to_dict_of_real_answers_is_json(model: str) -> None:
    """Every chunk of a real stream and every response json.dumps as is."""
    provider = model.split("/")[0]
    with FakeLLMServer() as server, LLMClient(model, base_url=server.base_url_for(provider),
                                              api_key="sk-test-0000000000") as client:
        server.add_reply("Hello there", usage=True)
        server.add_reply("Hi", tool_calls=[{"name": "f", "arguments": {"a": 1}}])
        stream = client.chat_stream("hi")
        dumped = [json.loads(json.dumps(chunk.to_dict())) for chunk in stream]
        assert "".join(d["content"] for d in dumped) == "Hello there"
        assert dumped[-1]["is_complete"] is True
        whole = json.loads(json.dumps(stream.response.to_dict()))
        assert (whole["content"], whole["finish_reason"]) == ("Hello there", "stop")
        assert whole["usage"]["is_estimated"] is False
        response = json.loads(json.dumps(client.chat("hi").to_dict()))
        assert [(c["name"], json.loads(c["arguments"])) for c in response["tool_calls"]] == [("f", {"a": 1})]
