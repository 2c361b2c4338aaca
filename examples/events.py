"""Events: typed callbacks, async callbacks, event processors and JSON-mode streaming.

Runs against the bundled FakeLLMServer on 127.0.0.1 (no key, no network); every pattern
of docs/events.md, in order.

    python examples/events.py
"""

from __future__ import annotations

import asyncio
import json

from llm_connectivity import LLMClient, StreamingOptions
from llm_connectivity.events import (
    EventTransformer,
    PredicateFilter,
    StreamCompleteEvent,
    StreamDeltaEvent,
    StreamErrorEvent,
    StreamStartEvent,
    StreamUsageEvent,
    create_event_processor,
)
from llm_connectivity.json_stream import JSONStreamError
from llm_connectivity.options import JSON_MODE_OPTIONS
from llm_connectivity.testing import FakeLLMServer, Reply, faults

ANSWER = "Streaming shows the first words within milliseconds."


def heading(title: str) -> None:
    print(f"\n== {title} ==")


def callbacks(client: LLMClient, server: FakeLLMServer) -> None:
    heading("typed callbacks")
    server.add_reply(Reply(ANSWER, delay=0.01))

    def on_start(event: StreamStartEvent) -> None:
        print(f"[start] {event.provider}/{event.model} stream {event.stream_id[:8]}")

    def on_delta(event: StreamDeltaEvent) -> None:
        print(event.get_text(), end="", flush=True)

    def on_usage(event: StreamUsageEvent) -> None:
        print(f"\n[usage] {event.usage.total_tokens} tokens, estimated={event.is_estimated}, "
              f"cost ${event.cost_usd:.8f}")

    def on_complete(event: StreamCompleteEvent) -> None:
        print(f"[complete] {event.total_chunks} chunks in {event.duration_ms:.0f} ms")

    result = client.stream_with_usage("Why stream?", on_start=on_start, on_delta=on_delta, on_usage=on_usage,
                                      on_complete=on_complete)
    print(f"events: {[event.kind for event in result.events][:4]}... ({len(result.events)} in all)")


def failures(client: LLMClient, server: FakeLLMServer) -> None:
    heading("on_error: a dropped connection")
    server.add_reply(faults.drop_after(3))

    def on_error(event: StreamErrorEvent) -> None:
        print(f"[error] {event.error_type}, retryable={event.is_retryable}")

    try:
        client.stream_with_usage("Why stream?", on_error=on_error)
    except Exception as error:  # noqa: BLE001 - the example shows what reaches the caller
        partial = error.partial_response  # type: ignore[attr-defined]
        print(f"caught {type(error).__name__}; kept {partial.content!r} ({partial.usage.completion_tokens} tokens, "
              f"estimated={partial.usage.is_estimated})")


def async_and_legacy(client: LLMClient, server: FakeLLMServer) -> None:
    heading("async def and legacy text callbacks")
    pieces: list[str] = []

    async def on_delta(event: StreamDeltaEvent) -> None:  # written for an async SDK: runs as is
        await asyncio.sleep(0)
        pieces.append(event.delta)

    server.add_reply(Reply(ANSWER))
    client.stream_with_usage("Why stream?", on_delta=on_delta)
    print("async callback saw:", "".join(pieces))

    def print_text(text):  # type: ignore[no-untyped-def]  # an old untyped callback gets the text
        print(text, end="")

    server.add_reply(Reply(ANSWER))
    client.stream_with_usage("Why stream?", on_delta=print_text)
    print()


def processors(client: LLMClient, server: FakeLLMServer) -> None:
    heading("event processors")
    batches: list[list[str]] = []
    processor = create_event_processor(event_types=["delta", "complete"], add_correlation=True, add_metrics=True,
                                       batch_size=4, batch_handler=lambda b: batches.append([e.kind for e in b]))
    processor.add_filter(PredicateFilter(lambda e: not isinstance(e, StreamDeltaEvent) or bool(e.delta.strip()),
                                         name="skip blank deltas"))
    processor.add_transformer(EventTransformer(lambda e: e.replace(metadata={**e.metadata, "app": "demo"})))
    seen: list[StreamCompleteEvent] = []
    processor.add_handler(lambda e: seen.append(e) if isinstance(e, StreamCompleteEvent) else None)
    server.add_reply(Reply(ANSWER, delay=0.005))
    client.stream_with_usage("Why stream?", streaming_options=StreamingOptions(event_processor=processor))
    metrics = seen[0].metadata["metrics"]
    print(f"batches: {batches}")
    print(f"metrics: first token after {metrics['time_to_first_token_ms']:.1f} ms, "
          f"{metrics['chunk_count']} chunks, {metrics['tokens_per_second']:.0f} tokens/s; "
          f"metadata keys {sorted(seen[0].metadata)}")


def json_mode(client: LLMClient, server: FakeLLMServer) -> None:
    heading("JSON mode")
    answer = json.dumps({"city": "Paris", "days": [{"temp": 21}, {"temp": 23}]})
    server.add_reply(Reply(chunks=[answer[i:i + 9] for i in range(0, len(answer), 9)]))
    schema = {"type": "object", "required": ["city", "days"]}
    result = client.stream_with_usage(
        "Weather in Paris as JSON", streaming_options=JSON_MODE_OPTIONS,
        response_format={"type": "json_schema", "json_schema": {"name": "weather", "schema": schema}},
        on_delta=lambda e: print("partial:", json.dumps(e.partial_json)))
    print("get_json():", result.get_json())
    server.add_reply(Reply(chunks=['{"city": "Par', "is"], finish_reason="length"))
    cut = client.stream_with_usage("Weather in Paris as JSON", streaming_options=JSON_MODE_OPTIONS)
    try:
        cut.get_json()
    except JSONStreamError as error:
        print(f"truncated: {error} -- text {error.text!r}")


def main() -> None:
    with FakeLLMServer() as server, LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="local",
                                              max_retries=0) as client:
        callbacks(client, server)
        failures(client, server)
        async_and_legacy(client, server)
        processors(client, server)
        json_mode(client, server)


if __name__ == "__main__":
    main()
