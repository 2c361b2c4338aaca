"""The observable pipeline: notices in order, stages that change chunks and the final
response, and stages or observers that raise without leaking the connection."""

from __future__ import annotations

import dataclasses
import json

import pytest

from llm_connectivity import LLMClient, RetryPolicy
from llm_connectivity.errors import (
    BadRequestError,
    ConfigurationError,
    LLMError,
    ServerError,
    StreamInterruptedError,
)
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
CHAT_OK = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello world"}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}


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


@pytest.mark.parametrize("stream", [True, False])
def test_no_notice_carries_the_key_or_the_url_password(stream: bool) -> None:
    """An error body that echoes the key (and a base_url password) must not reach
    observers, in the retry notices as in the final error and complete ones."""
    echo = json.dumps({"error": {"message": f"bad key {KEY}, url http://alice:pw-0123secret@host"}})
    recorder = Recorder()
    transport = MemoryTransport([MemoryResponse(500, echo, content_type="application/json"),
                                 StreamInterruptedError(f"lost while sending {KEY}"), Reply(text="Hello")])
    client = LLMClient("anthropic/m", api_key=KEY, base_url="http://alice:pw-0123secret@127.0.0.1:9",
                       transport=transport, clock=FakeClock(), observers=[recorder])
    result = client.chat_stream("Hi").text() if stream else client.chat("Hi").content
    assert result == "Hello"
    assert [n.kind for n in recorder.notices if n.kind != "chunk"][:3] == ["start", "retry", "retry"]
    for notice in recorder.notices:
        error = notice.error
        shown = repr(notice) + repr(getattr(error, "body", None)) + repr(getattr(error, "args", None))
        assert KEY not in shown and "pw-0123secret" not in shown, notice.kind


def test_a_stream_the_caller_stops_early_ends_with_an_error_notice() -> None:
    """break / close() in the reading thread ends the call as close() from another thread
    does: an ``error`` notice (StreamInterruptedError "closed by the caller", with the
    partial response), so an observer never waits forever for the end of a call."""
    recorder = Recorder()
    client, transport = make_client(MemoryResponse(200, BODY), MemoryResponse(200, BODY), observers=[recorder])
    for chunk in client.chat_stream("Hi"):
        if chunk.content:
            break
    assert recorder.kinds() == ["start", "first_byte", "chunk", "error"]
    error = recorder.notices[-1].error
    assert isinstance(error, StreamInterruptedError) and str(error) == "the stream was closed by the caller"
    assert error.partial_response.content == "Hello"
    recorder.notices.clear()
    stream = client.chat_stream("Hi")
    assert stream.text() == "Hello world"
    stream.close()  # after the end: nothing more to say
    assert recorder.kinds()[-2:] == ["chunk", "complete"] and transport.open_responses == 0


@pytest.mark.parametrize("stream", [True, False])
def test_a_foreign_exception_from_a_stage_ends_with_an_error_notice(stream: bool) -> None:
    """A stage raising ValueError (a bug in it) reaches the caller unchanged, and the
    observers get the ``error`` notice, from chat() as from a stream."""

    class Broken(Stage):
        def on_response(self, response: ChatResponse, context: StreamContext) -> ChatResponse:
            raise ValueError("bug in the stage")

    recorder = Recorder()
    client, transport = make_client(MemoryResponse(200, BODY if stream else json.dumps(CHAT_OK)),
                                    stages=[Broken()], observers=[recorder])
    with pytest.raises(ValueError, match="bug in the stage"):
        client.chat_stream("Hi").text() if stream else client.chat("Hi")
    assert recorder.kinds()[0] == "start" and recorder.kinds()[-1] == "error"
    assert isinstance(recorder.notices[-1].error, ValueError)
    assert len(transport.requests) == 1 and transport.open_responses == 0


def test_the_parameter_recovery_is_a_retry_notice_too() -> None:
    """A server that refuses stream_options gets the request again at once without them:
    observers see that second request as a ``retry`` (delay 0), like any repeat."""
    recorder = Recorder()
    refusal = MemoryResponse(400, b'{"error": {"message": "Unrecognized request argument: stream_options"}}')
    client, transport = make_client(refusal, MemoryResponse(200, BODY), observers=[recorder])
    assert client.chat_stream("Hi").text() == "Hello world"
    assert len(transport.requests) == 2
    retry = next(n for n in recorder.notices if n.kind == "retry")
    assert (retry.attempt, retry.delay) == (1, 0.0)
    assert retry.reason == "the server refused the request as sent; sending it again with stream_options=None"
    assert isinstance(retry.error, BadRequestError)


def test_a_stage_that_returns_nothing_is_named() -> None:
    """A stage that forgets ``return chunk`` (or ``return response``) stops the call with
    a TypeError naming the method, instead of handing the caller None chunks or failing
    deep inside the engine."""

    class ForgotChunk(Stage):
        def on_chunk(self, chunk: StreamChunk, context: StreamContext) -> StreamChunk:
            return None  # type: ignore[return-value]

    class ForgotResponse(Stage):
        def on_response(self, response: ChatResponse, context: StreamContext) -> ChatResponse:
            return None  # type: ignore[return-value]

    for stage, method in ((ForgotChunk(), "ForgotChunk.on_chunk"), (ForgotResponse(), "ForgotResponse.on_response")):
        client, transport = make_client(MemoryResponse(200, BODY), stages=[stage])
        with pytest.raises(TypeError) as info:
            client.chat_stream("Hi").text()
        assert str(info.value).startswith(f"{method} returned None; return the ")
        assert transport.open_responses == 0
    client, _ = make_client(MemoryResponse(200, json.dumps(CHAT_OK)), stages=[ForgotResponse()])
    with pytest.raises(TypeError, match=r"^ForgotResponse.on_response returned None; return the response"):
        client.chat("Hi")
