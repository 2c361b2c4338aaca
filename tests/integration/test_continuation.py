"""Opt-in continuation: a stream that breaks after content is re-requested with the
partial answer as an assistant prefix (where the provider supports one) and stitched."""

from __future__ import annotations

import json

import pytest

from llm_connectivity import LLMClient, StreamingOptions
from llm_connectivity.errors import StreamInterruptedError
from llm_connectivity.testing import Action, FakeLLMServer, Reply

CONTINUE = StreamingOptions(retry_on_connection_error=True, reconnect_delay=0.01, max_reconnect_attempts=1)


def _anthropic(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n".encode()


def _anthropic_cut(*texts: str) -> Reply:
    """An Anthropic stream that sends ``texts`` then drops the connection."""
    body = _anthropic("message_start", {"message": {"id": "m", "model": "c", "usage": {"input_tokens": 5}}})
    body += _anthropic("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
    for text in texts:
        body += _anthropic("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}})
    return Reply(actions=[Action("send", body), Action("close")])


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        yield srv


def test_broken_stream_is_continued_and_stitched(server: FakeLLMServer) -> None:
    server.add_reply(_anthropic_cut("Hello ", "wor"))
    server.add_reply(Reply(chunks=["ld", ", again."]))
    with LLMClient("anthropic/claude-x", base_url=server.url, api_key="sk-ant-test-000000",
                   streaming_options=CONTINUE) as client:
        stream = client.chat_stream("hi")
        chunks = list(stream)
    assert stream.response.content == "Hello world, again."
    assert stream.is_complete
    assert [c.metadata.get("continuation") for c in chunks if c.content] == [None, None, 1, 1]
    resent = server.requests[1].json["messages"]
    assert resent[-1] == {"role": "assistant", "content": "Hello wor"}


def test_trailing_whitespace_is_not_delivered_twice(server: FakeLLMServer) -> None:
    server.add_reply(_anthropic_cut("Hello "))
    server.add_reply(Reply(chunks=[" world"]))
    with LLMClient("anthropic/claude-x", base_url=server.url, api_key="sk-ant-test-000000",
                   streaming_options=CONTINUE) as client:
        text = "".join(client.stream("hi"))
    assert text == "Hello world"
    assert server.requests[1].json["messages"][-1]["content"] == "Hello"  # Anthropic rejects trailing spaces


def test_off_by_default_the_partial_text_is_preserved(server: FakeLLMServer) -> None:
    server.add_reply(_anthropic_cut("Hello ", "wor"))
    with LLMClient("anthropic/claude-x", base_url=server.url, api_key="sk-ant-test-000000") as client:
        with pytest.raises(StreamInterruptedError) as info:
            list(client.chat_stream("hi"))
    assert info.value.partial_response.content == "Hello wor"
    assert len(server.requests) == 1


def test_providers_without_prefill_do_not_continue(server: FakeLLMServer) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]}
    server.add_reply(Reply(actions=[Action("send", b"data: " + json.dumps(chunk).encode() + b"\n\n"), Action("close")]))
    with LLMClient("openai/gpt-x", base_url=server.base_url, api_key="sk-test-0000000000",
                   streaming_options=CONTINUE) as client:
        with pytest.raises(StreamInterruptedError) as info:
            list(client.chat_stream("hi"))
    assert info.value.partial_response.content == "Hel"
    assert len(server.requests) == 1


def test_reconnect_attempts_are_bounded(server: FakeLLMServer) -> None:
    server.add_replies([_anthropic_cut("a"), _anthropic_cut("b"), Reply(text="never")])
    with LLMClient("anthropic/claude-x", base_url=server.url, api_key="sk-ant-test-000000",
                   streaming_options=CONTINUE) as client:
        with pytest.raises(StreamInterruptedError) as info:
            list(client.chat_stream("hi"))
    assert info.value.partial_response.content == "ab"
    assert len(server.requests) == 2


def test_mistral_uses_its_prefix_flag(server: FakeLLMServer) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "Bon"}, "finish_reason": None}]}
    server.add_reply(Reply(actions=[Action("send", b"data: " + json.dumps(chunk).encode() + b"\n\n"), Action("close")]))
    server.add_reply(Reply(chunks=["jour"]))
    with LLMClient("mistral/small", base_url=server.base_url, api_key="sk-test-0000000000",
                   streaming_options=CONTINUE) as client:
        assert "".join(client.stream("hi")) == "Bonjour"
    assert server.requests[1].json["messages"][-1] == {"role": "assistant", "content": "Bon", "prefix": True}
