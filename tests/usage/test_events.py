"""Typed events and callbacks through stream_with_usage over a loopback server: order,
failures, callbacks that raise, async and legacy callbacks, processors, metrics, batching."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llm_connectivity import StreamingOptions
from llm_connectivity.errors import LLMError, RateLimitError, StreamInterruptedError
from llm_connectivity.events import (
    EventProcessor,
    EventTransformer,
    PredicateFilter,
    StreamCompleteEvent,
    StreamDeltaEvent,
    StreamErrorEvent,
    StreamStartEvent,
    StreamUsageEvent,
    create_event_processor,
)
from llm_connectivity.testing import FakeLLMServer, Reply, faults


def recorder() -> tuple[list[str], dict[str, Any]]:
    log: list[str] = []
    callbacks = {name: (lambda event, name=name: log.append(f"{name}:{event.kind}"))
                 for name in ("on_start", "on_delta", "on_usage", "on_complete", "on_error")}
    return log, callbacks


def test_callback_order_and_fields(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(Reply(chunks=["Hello", " there"]))
    log, callbacks = recorder()
    result = make_client().stream_with_usage("Hi", **callbacks)
    assert log == ["on_start:start", "on_delta:delta", "on_delta:delta", "on_usage:usage", "on_complete:complete"]
    start, first, second, usage, complete = result.events
    assert isinstance(start, StreamStartEvent) and start.provider == "openai" and start.model == "gpt-4o-mini"
    assert len({e.stream_id for e in result.events}) == 1 and start.stream_id
    assert isinstance(first, StreamDeltaEvent) and (first.get_text(), second.get_text()) == ("Hello", " there")
    assert first.chunk_index < second.chunk_index and first.is_json is False
    assert isinstance(usage, StreamUsageEvent) and usage.is_estimated is False and usage.confidence == 1.0
    assert isinstance(complete, StreamCompleteEvent) and complete.final_usage == result.usage
    assert complete.total_chunks == len(result.chunks) and complete.duration_ms > 0
    assert result.get_text() == "Hello there" and result.response.content == "Hello there"
    assert all(a.timestamp <= b.timestamp for a, b in zip(result.events, result.events[1:]))


def test_failure_sends_usage_then_one_error(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(faults.drop_after(2))
    log, callbacks = recorder()
    errors: list[StreamErrorEvent] = []
    callbacks["on_error"] = lambda event: (log.append("on_error:error"), errors.append(event))
    with pytest.raises(StreamInterruptedError) as info:
        make_client().stream_with_usage("Hi", **callbacks)
    assert log[0] == "on_start:start" and log[-2:] == ["on_usage:usage", "on_error:error"]
    assert set(log[1:-2]) == {"on_delta:delta"}
    (event,) = errors
    assert event.error is info.value and event.error_type == "StreamInterruptedError"
    assert isinstance(event.is_retryable, bool) and event.is_retryable is True
    partial = info.value.partial_response
    assert partial.content and partial.usage.is_estimated and partial.usage.completion_tokens > 0


def test_error_before_any_content(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(faults.status(429, headers={"retry-after": "0"}))
    errors: list[StreamErrorEvent] = []
    with pytest.raises(RateLimitError):
        make_client().stream_with_usage("Hi", on_error=errors.append)
    assert len(errors) == 1 and errors[0].is_retryable is True and errors[0].error_type == "RateLimitError"


class Boom(Exception):
    pass


@pytest.mark.parametrize("failing", ["on_start", "on_delta", "on_usage", "on_complete"])
def test_a_raising_callback_stops_the_stream_cleanly(server: FakeLLMServer, make_client: Any, failing: str) -> None:
    server.add_reply(Reply(" ".join(["word"] * 200), delay=0.001))
    errors: list[StreamErrorEvent] = []

    def boom(event: Any) -> None:
        raise Boom(failing)

    client = make_client()
    with pytest.raises(Boom, match=failing):
        client.stream_with_usage("Hi", on_error=errors.append, **{failing: boom})
    assert len(errors) == 1 and isinstance(errors[0].error, Boom) and errors[0].is_retryable is False
    if failing == "on_start":  # raised before the request: nothing was sent
        assert server.requests == []
        return
    server.add_reply(Reply("next"))
    assert client.stream_with_usage("Hi").get_text() == "next"
    if failing == "on_delta":  # stopped mid-stream: that connection was closed, not reused
        assert [r.connection for r in server.requests] == [1, 2]


def test_on_error_that_raises_does_not_hide_the_error(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(faults.drop_after(1))

    def bad(event: Any) -> None:
        raise Boom("in on_error")

    with pytest.raises(StreamInterruptedError):
        make_client().stream_with_usage("Hi", on_error=bad)


def test_async_and_legacy_callbacks(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(Reply(chunks=["a", "b", "c"]))
    seen: list[Any] = []

    async def on_delta(event: StreamDeltaEvent) -> None:
        await asyncio.sleep(0)
        seen.append(("async", event.delta))

    def legacy(text):  # type: ignore[no-untyped-def]  # untyped, as old code is
        seen.append(("legacy", text))

    def typed(piece: str) -> None:
        seen.append(("typed", piece))

    client = make_client()
    client.stream_with_usage("Hi", on_delta=on_delta, on_complete=legacy)
    assert seen[:3] == [("async", "a"), ("async", "b"), ("async", "c")]
    assert seen[3][0] == "legacy" and isinstance(seen[3][1], StreamCompleteEvent)  # only deltas become text
    server.add_reply(Reply(chunks=["x", "y"]))
    seen.clear()
    client.stream_with_usage("Hi", on_delta=legacy)
    server.add_reply(Reply(chunks=["z"]))
    client.stream_with_usage("Hi", on_delta=typed)
    assert seen == [("legacy", "x"), ("legacy", "y"), ("typed", "z")]


def test_async_callback_inside_a_running_loop(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(Reply(chunks=["a", "b"]))
    seen: list[str] = []

    async def on_delta(event: StreamDeltaEvent) -> None:
        seen.append(event.delta)

    async def main() -> str:
        return make_client().stream_with_usage("Hi", on_delta=on_delta).get_text()

    assert asyncio.run(main()) == "ab" and seen == ["a", "b"]


def test_callbacks_on_options_and_per_call_precedence(server: FakeLLMServer, make_client: Any) -> None:
    seen: list[str] = []
    options = StreamingOptions(on_delta=lambda e: seen.append("options"), on_complete=lambda e: seen.append("done"))
    client = make_client(streaming_options=options)
    server.add_reply(Reply(chunks=["a"]))
    client.stream_with_usage("Hi")
    server.add_reply(Reply(chunks=["a"]))
    client.stream_with_usage("Hi", on_delta=lambda e: seen.append("call"))
    assert seen == ["options", "done", "call", "done"]


def test_processor_filter_and_transformer(server: FakeLLMServer, make_client: Any) -> None:
    kept: list[Any] = []
    processor = EventProcessor()
    processor.add_filter(PredicateFilter(lambda e: not isinstance(e, StreamDeltaEvent), name="no deltas"))
    processor.add_transformer(EventTransformer(lambda e: e.replace(metadata={**e.metadata, "team": "search"})))
    processor.add_handler(kept.append)
    server.add_reply(Reply(chunks=["a", "b", "c"]))
    result = make_client(streaming_options=StreamingOptions(event_processor=processor)).stream_with_usage("Hi")
    assert [e.kind for e in kept] == ["start", "usage", "complete"]
    assert all(e.metadata == {"team": "search"} for e in kept)
    assert [e.kind for e in result.events].count("delta") == 3 and result.events[0].metadata == {}
    assert processor.metrics == {}  # per-stream metrics are dropped when the stream completes


def test_create_event_processor_options() -> None:
    batches: list[list[str]] = []
    processor = create_event_processor(event_types=["delta", StreamCompleteEvent], providers=["openai"],
                                       add_correlation=True, add_timestamp=True, add_metrics=True, batch_size=2,
                                       batch_handler=lambda batch: batches.append([e.kind for e in batch]))
    events = [StreamStartEvent(provider="openai", stream_id="s"),
              StreamDeltaEvent(provider="openai", stream_id="s", delta="hi", token_count=1),
              StreamDeltaEvent(provider="anthropic", stream_id="t", delta="no"),
              StreamDeltaEvent(provider="openai", stream_id="s", delta=" there", token_count=1),
              StreamDeltaEvent(provider="openai", stream_id="s", delta="!", token_count=1),
              StreamCompleteEvent(provider="openai", stream_id="s")]
    out = list(processor.process(events))
    assert [getattr(e, "delta", e.kind) for e in out] == ["hi", " there", "!", "complete"]
    assert len({e.metadata["correlation_id"] for e in out}) == 1
    assert all(isinstance(e.metadata["processed_at"], float) for e in out)
    last_metrics = out[-1].metadata["metrics"]
    assert last_metrics["chunk_count"] == 3 and last_metrics["time_to_first_token_ms"] is not None
    assert batches == [["delta", "delta"], ["delta", "complete"]]
    with pytest.raises(LLMError, match="unknown event type"):
        create_event_processor(event_types=["deltas"])


def test_batch_timeout_flushes_on_the_next_event() -> None:
    now = [0.0]
    batches: list[int] = []
    processor = EventProcessor(clock=lambda: now[0])
    processor.set_batching(100, 50.0, lambda batch: batches.append(len(batch)))
    for step in (0.0, 0.01, 0.02, 0.1):  # the fourth event comes 100 ms after the first
        now[0] = step
        processor.handle(StreamDeltaEvent(stream_id="s", delta="x"))
    assert batches == [3]
    processor.flush()
    assert batches == [3, 1]


def test_metrics_tokens_per_second() -> None:
    now = [10.0]
    processor = EventProcessor(clock=lambda: now[0])
    processor.handle(StreamStartEvent(stream_id="s"))
    for step in (10.5, 11.0, 11.5):
        now[0] = step
        processor.handle(StreamDeltaEvent(stream_id="s", delta="x", token_count=10))
    metrics = processor.metrics_for("s")
    assert metrics is not None
    assert metrics.as_dict() == {"time_to_first_token_ms": 500.0, "tokens_per_second": 30.0, "chunk_count": 3,
                                 "duration_ms": 1500.0}


def test_retry_event_and_request_id(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(faults.status(503, headers={"retry-after": "0"}))
    server.add_reply(Reply("fine now", headers={"x-request-id": "req_123"}))
    retries: list[Any] = []
    result = make_client(max_retries=2).stream_with_usage("Hi", on_retry=retries.append)
    (retry,) = retries
    assert retry.kind == "retry" and retry.attempt == 1 and retry.delay == 0.0
    assert "503" in retry.reason or "Service" in retry.reason or retry.error is not None
    assert [e.kind for e in result.events] == ["start", "retry", "delta", "delta", "usage", "complete"]
    assert result.events[0].request_id is None and result.events[-1].request_id == "req_123"
    assert len(server.requests) == 2


def test_on_retry_that_raises_stops_before_the_retry(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(faults.status(503, headers={"retry-after": "0"}))
    errors: list[Any] = []

    def stop(event: Any) -> None:
        raise Boom("no retries please")

    with pytest.raises(Boom):
        make_client(max_retries=2).stream_with_usage("Hi", on_retry=stop, on_error=errors.append)
    assert len(server.requests) == 1 and len(errors) == 1
