"""Overhead of typed events, callbacks and event processors, per event, as ratios.

    .venv/bin/python benchmarks/bench_events.py [--chunks 20000] [--repeat 5]

A stream of N realistic chunks (one word each, usage on the last) is consumed in memory,
with no sockets, so only the per-chunk work of the layers is measured:

- floor: iterate the chunks and fold them into the accumulator (what ``stream.text()`` does);
- stream_with_usage: the same plus usage tracking (character estimator), typed events;
- + callbacks: an ``on_delta`` and the other four callbacks (plain functions);
- + processor: ``create_event_processor`` with a type filter, correlation, metrics and
  batches of 100;
- + JSON handler: the answer is a JSON document parsed incrementally.

Medians of ``--repeat`` runs; each row is microseconds per chunk, the ratio to the floor,
and the work added over the floor as a share of what decoding the chunk from SSE bytes
costs (the OpenAI driver over in-memory bytes, measured in the same run): the cost of a
layer relative to the cost every real stream pays anyway.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from llm_connectivity.aggregate import ResponseAccumulator
from llm_connectivity.events import create_event_processor
from llm_connectivity.models import ChatResponse, StreamChunk, Usage
from llm_connectivity.options import StreamingOptions
from llm_connectivity.registry import resolve_driver
from llm_connectivity.request import RequestSpec
from llm_connectivity.streaming_response import consume_stream


class MemoryStream:
    """A ChatStream stand-in over prepared chunks (the parts consume_stream uses)."""

    def __init__(self, chunks: list[StreamChunk]) -> None:
        self._chunks = chunks
        self._acc = ResponseAccumulator(model="gpt-4o-mini", provider="openai")
        self.is_complete = False

    def __iter__(self) -> Iterator[StreamChunk]:
        for chunk in self._chunks:
            self._acc.add(chunk)
            yield chunk
        self.is_complete = True

    @property
    def response(self) -> ChatResponse:
        return self._acc.build()

    def close(self) -> None:
        pass


def make_chunks(n: int, *, as_json: bool) -> list[StreamChunk]:
    if as_json:
        text = json.dumps({"items": [{"id": i, "name": f"item {i}"} for i in range(n // 8 + 1)]})
        pieces = [text[i:i + 4] for i in range(0, len(text), 4)][:n]
    else:
        pieces = [f" word{i % 50}" for i in range(n)]
    chunks = [StreamChunk(content=p, index=i) for i, p in enumerate(pieces)]
    usage = Usage(prompt_tokens=10, completion_tokens=len(chunks), total_tokens=10 + len(chunks))
    chunks.append(StreamChunk(usage=usage, finish_reason="stop", index=len(chunks)))
    return chunks


def sse_body(n: int) -> list[bytes]:
    """An OpenAI stream of ``n`` one-word chunks, one network read per event."""
    events = []
    for i in range(n):
        obj = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
               "choices": [{"index": 0, "delta": {"content": f" word{i % 50}"}, "finish_reason": None}]}
        events.append(b"data: " + json.dumps(obj).encode() + b"\n\n")
    events.append(b'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n')
    events.append(b"data: [DONE]\n\n")
    return events


def run_driver(body: list[bytes]) -> None:
    driver = resolve_driver("openai")
    spec = RequestSpec("gpt-4o-mini", [{"role": "user", "content": "Hi"}])
    for _ in driver.iter_chunks(driver.iter_events(iter(body), "text/event-stream"), spec):
        pass


def run_floor(chunks: list[StreamChunk]) -> None:
    stream = MemoryStream(chunks)
    for _ in stream:
        pass
    stream.response.content  # noqa: B018 - build the response, as the others do


def run_consume(chunks: list[StreamChunk], options: StreamingOptions, callbacks: dict[str, Any]) -> None:
    consume_stream(MemoryStream(chunks), messages="Hi", params={}, model="openai/gpt-4o-mini", provider="openai",
                   options=options, callbacks=callbacks)


def timed(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    words = make_chunks(args.chunks, as_json=False)
    json_chunks = make_chunks(args.chunks, as_json=True)
    sink: list[Any] = []
    callbacks = {"on_start": sink.append, "on_delta": lambda e: None, "on_usage": sink.append,
                 "on_complete": sink.append, "on_error": sink.append}
    processor = create_event_processor(event_types=["delta", "complete"], add_correlation=True, add_metrics=True,
                                       batch_size=100, batch_handler=lambda batch: None)
    plain = StreamingOptions(aggregator_type="character")
    body = sse_body(args.chunks)
    rows = [
        ("floor (iterate + accumulate)", lambda: run_floor(words)),
        ("reference: SSE bytes -> chunks", lambda: run_driver(body)),
        ("stream_with_usage, no callbacks", lambda: run_consume(words, plain, {})),
        ("+ five callbacks", lambda: run_consume(words, plain, callbacks)),
        ("+ callbacks + processor", lambda: run_consume(words, plain.replace(event_processor=processor), callbacks)),
        ("+ JSON handler (JSON answer)", lambda: run_consume(json_chunks, plain.replace(enable_json_handler=True),
                                                             callbacks)),
    ]
    results = [(name, timed(fn, args.repeat) / (args.chunks + 1) * 1e6) for name, fn in rows]
    floor, decode = results[0][1], results[1][1]
    print(f"{'layer':<36} {'us/chunk':>9} {'x floor':>8} {'added, % of decoding':>21}")
    for name, per_chunk in results:
        added = "" if per_chunk is floor or per_chunk is decode else f"{(per_chunk - floor) / decode:>20.0%}"
        print(f"{name:<36} {per_chunk:>9.2f} {per_chunk / floor:>8.1f} {added:>21}")


if __name__ == "__main__":
    main()
