"""The observable pipeline: notices in order, stages that change chunks and the final
response, and stages or observers that raise without leaking the connection."""

from __future__ import annotations

import dataclasses
import json

import pytest

from llm_connectivity import LLMClient, RetryPolicy
from llm_connectivity.errors import ConfigurationError, LLMError, ServerError, StreamInterruptedError
from llm_connectivity.models import ChatResponse, StreamChunk
from llm_connectivity.pipeline import Notice, Stage, StreamContext
from llm_connectivity.testing import FakeClock, MemoryResponse, MemoryTransport, Reply

KEY = "sk-pipeline-test-0123456789"


def event(text: str = "", finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    obj: dict[str, object] = {"choices": [{"index": 0, "delta": {"content": text} if text else {},
                                           "finish_reason": finish}]}
    if usage is not None:
        obj = {"choices": [], "usage": usage}
    return f"data: {json.dumps(obj)}\n\n".encode()


BODY = [event("Hello"), event(" world"), event(finish="stop"),
        event(usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}), b"data: [DONE]\n\n"]


class Recorder:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def __call__(self, notice: Notice) -> None:
        self.notices.append(notice)

    def kinds(self) -> list[str]:
        return [n.kind for n in self.notices]


def make_client(*items: object, clock: FakeClock | None = None, **kwargs: object) -> tuple[LLMClient, MemoryTransport]:
    transport = MemoryTransport(list(items))  # type: ignore[arg-type]
    client = LLMClient("openai/m", api_key=KEY, transport=transport, clock=clock or FakeClock(),
                       max_retries=RetryPolicy(max_retries=2, jitter=0), **kwargs)  # type: ignore[arg-type]
    return client, transport


def test_stream_notices_in_order() -> None:
    recorder = Recorder()
    client, _ = make_client(MemoryResponse(500, b"{}"), MemoryResponse(body=BODY, headers={"x-request-id": "req_9"}),
                            observers=[recorder])
    stream = client.chat_stream("hi")
    chunks = list(stream)
    assert recorder.kinds() == ["start", "retry", "first_byte", "chunk", "chunk", "chunk", "chunk", "usage",
                                "chunk", "complete"]
    start, retry, first, *_, complete = recorder.notices
    assert (start.call.provider, start.call.model, start.call.stream) == ("openai", "m", True)
    assert {n.call.stream_id for n in recorder.notices} == {start.call.stream_id}
    assert (retry.attempt, retry.delay, type(retry.error)) == (1, 0.5, ServerError)
    assert first.request_id == "req_9"
    assert [n.chunk for n in recorder.notices if n.kind == "chunk"] == chunks
    assert recorder.notices[7].usage is not None and recorder.notices[7].usage.total_tokens == 5
    assert (complete.chunk_count, complete.request_id, complete.response) == (4, "req_9", stream.response)
    assert complete.usage is not None and complete.usage.total_tokens == 5


def test_chat_notices_and_error_notice() -> None:
    recorder = Recorder()
    client, _ = make_client(Reply(text="Hi there"), MemoryResponse(400, b'{"error": {"message": "bad"}}'),
                            observers=[recorder])
    assert client.chat("hi").content == "Hi there"
    assert recorder.kinds() == ["start", "usage", "complete"]
    assert recorder.notices[-1].response is not None and recorder.notices[-1].response.content == "Hi there"
    recorder.notices.clear()
    with pytest.raises(LLMError) as info:
        client.chat("hi")
    assert recorder.kinds() == ["start", "error"]
    assert recorder.notices[-1].error is info.value and recorder.notices[-1].is_retryable is False


def test_per_call_observers_add_to_the_clients() -> None:
    on_client, on_call = Recorder(), Recorder()
    client, _ = make_client(Reply(text="a"), Reply(text="b"), observers=[on_client])
    client.chat_stream("hi", observers=[on_call]).text()
    client.chat_stream("hi").text()
    assert on_client.kinds().count("complete") == 2 and on_call.kinds().count("complete") == 1


class Shout(Stage):
    def on_chunk(self, chunk: StreamChunk, context: StreamContext) -> StreamChunk:
        return dataclasses.replace(chunk, content=chunk.content.upper())


class Cost(Stage):
    def on_response(self, response: ChatResponse, context: StreamContext) -> ChatResponse:
        return dataclasses.replace(response, cost_usd=response.usage.total_tokens * 0.5)


def test_stages_change_chunks_and_set_cost_on_stream_and_chat() -> None:
    client, _ = make_client(MemoryResponse(body=BODY), Reply(text="x"), stages=[Cost()])
    stream = client.chat_stream("hi", stages=[Shout()])
    assert [c.content for c in stream if c.content] == ["HELLO", " WORLD"]
    assert stream.response.content == "Hello world"  # the accumulator ran before the user stage
    assert stream.response.cost_usd == 2.5
    assert client.chat("hi").cost_usd is not None


def test_token_count_is_set_by_the_counting_stage() -> None:
    client, _ = make_client(MemoryResponse(body=BODY))
    chunks = list(client.chat_stream("hi"))
    assert [(c.content, c.token_count) for c in chunks] == [("Hello", 1), (" world", 1), ("", 0), ("", 0), ("", 0)]


class Budget(Stage):
    def on_chunk(self, chunk: StreamChunk, context: StreamContext) -> StreamChunk:
        seen = context.state.get(self, 0) + len(chunk.content)
        context.state[self] = seen
        if seen > 6:
            raise ServerError("budget exceeded", status_code=599)  # a typed error, retryable by status
        return chunk


def test_a_stage_raising_stops_the_stream_with_the_partial_response_and_no_retry() -> None:
    recorder = Recorder()
    client, transport = make_client(MemoryResponse(body=BODY), Reply(text="never"), stages=[Budget()],
                                    observers=[recorder])
    stream = client.chat_stream("hi")
    with pytest.raises(ServerError, match="budget exceeded") as info:
        stream.text()
    assert info.value.partial_response.content == "Hello world"
    assert len(transport.requests) == 1 and transport.open_responses == 0
    assert recorder.kinds()[-1] == "error"
    assert list(stream) == []  # the stream is over, not corrupted


def test_a_stage_raising_before_any_content_is_not_retried() -> None:
    class Refuse(Stage):
        def on_chunk(self, chunk: StreamChunk, context: StreamContext) -> StreamChunk:
            raise StreamInterruptedError("refused by a stage")

    client, transport = make_client(MemoryResponse(body=BODY), Reply(text="never"), stages=[Refuse()])
    with pytest.raises(StreamInterruptedError, match="refused by a stage"):
        client.chat_stream("hi").text()
    assert len(transport.requests) == 1 and transport.open_responses == 0


def test_an_observer_raising_propagates_unchanged_and_releases_the_connection() -> None:
    class Boom(RuntimeError):
        pass

    def observer(notice: Notice) -> None:
        if notice.kind == "chunk":
            raise Boom("observer failed")

    client, transport = make_client(MemoryResponse(body=BODY), observers=[observer])
    with pytest.raises(Boom):
        client.chat_stream("hi").text()
    assert transport.open_responses == 0 and len(transport.requests) == 1


def test_an_observer_raising_on_the_error_notice_does_not_hide_the_error() -> None:
    def observer(notice: Notice) -> None:
        if notice.kind == "error":
            raise RuntimeError("observer failed")

    client, _ = make_client(MemoryResponse(404, b"{}"), observers=[observer])
    with pytest.raises(LLMError, match="404"):
        client.chat("hi")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"stages": [object()]}, "stages must be llm_connectivity.pipeline.Stage"),
    ({"observers": ["not callable"]}, "observers must be callables"),
])
def test_bad_stages_or_observers_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make_client(**kwargs)
