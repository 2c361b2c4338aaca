"""Per-chunk cost of the stream pipeline, as a ratio against the bare loop it replaced.

    .venv/bin/python benchmarks/bench_pipeline.py [--events N] [--repeat R] [--quick]

Both contenders decode the same in-memory OpenAI stream (one body piece per SSE event,
the realistic framing) through the same driver; no sockets, so only the loop differs:

- ``bare loop``: the engine loop before the pipeline (abort check, content-idle mark,
  ``acc.add``, yield), measured in this same run as the floor;
- ``pipeline``: ``Engine._chunks`` as it is now, with the built-in stages (token counting,
  which the drivers used to do and the bare loop no longer pays for, and the accumulator)
  and no user stages or observers;
- ``pipeline + 1 stage + 1 observer``: for information, what attaching one costs.

Prints CPU microseconds per chunk (this process only, so other processes on a loaded
machine count less) and the ratio to the bare loop, of the best and the median run
(target <= 1.05).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from llm_connectivity.aggregate import ResponseAccumulator
from llm_connectivity.deadline import Deadline
from llm_connectivity.engine import Call, Engine, StreamHandle, Target
from llm_connectivity.models import StreamChunk
from llm_connectivity.options import StreamingOptions
from llm_connectivity.pipeline import CallRun, Notice, Stage, StreamContext
from llm_connectivity.providers.openai import OpenAIDriver
from llm_connectivity.request import RequestSpec
from llm_connectivity.retry import RetryPolicy
from llm_connectivity.testing import MemoryTransport


def make_body(n: int) -> list[bytes]:
    """``n`` content events, the finish event, usage and [DONE], one piece each."""
    words = ["Hello", " world", ",", " how", " are", " you", " today", "?"]
    pieces = []
    for i in range(n):
        delta = {"content": words[i % len(words)]}
        obj = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        pieces.append(f"data: {json.dumps(obj)}\n\n".encode())
    pieces.append(b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n')
    pieces.append(b'data: {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, '
                  b'"total_tokens": 2}}\n\n')
    pieces.append(b"data: [DONE]\n\n")
    return pieces


class _Response:
    """The body pieces behind the transport's Response interface."""

    content_type = "text/event-stream"
    headers: dict[str, str] = {}

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    def iter_bytes(self, deadline: Deadline) -> Iterator[bytes]:
        return iter(self._pieces)


DRIVER = OpenAIDriver()
SPEC = RequestSpec("m", [{"role": "user", "content": "hi"}])


def bare_loop(pieces: list[bytes]) -> int:
    """The engine's per-chunk loop before the pipeline (the floor)."""
    acc = ResponseAccumulator(model="m", provider="openai")
    handle = StreamHandle()
    deadline = Deadline(read_timeout=60.0)

    def chunks() -> Iterator[StreamChunk]:
        stream = DRIVER.iter_chunks(DRIVER.iter_events(iter(pieces), "text/event-stream"), SPEC)
        mark = deadline.mark_content if deadline.idle_timeout is not None else None
        add = acc.add
        aborted = handle._event.is_set
        for chunk in stream:
            if aborted():
                handle.check("openai")
            if mark is not None and (chunk.content or chunk.reasoning or chunk.tool_calls):
                mark()
            add(chunk)
            yield chunk

    return sum(1 for _ in chunks())


class _Upper(Stage):
    def on_chunk(self, chunk: StreamChunk, context: StreamContext) -> StreamChunk:
        return chunk


def _observer(notice: Notice) -> None:
    pass


def pipeline(pieces: list[bytes], stages: tuple[Stage, ...] = (), observers: tuple[Any, ...] = ()) -> int:
    """``Engine._chunks`` with the built-in stages (plus ``stages`` / ``observers``)."""
    engine = Engine(MemoryTransport())
    target = Target("openai", "m", DRIVER, "https://x/v1", None)
    call = Call(target, SPEC, StreamingOptions(), RetryPolicy(), stages, observers)
    acc = ResponseAccumulator(model="m", provider="openai")
    run = CallRun(provider="openai", model="m", spec=SPEC, accumulator=acc, stages=stages, observers=observers,
                  clock=time.monotonic)
    chunks = engine._chunks(call, _Response(pieces), acc, Deadline(read_timeout=60.0), 0,  # type: ignore[arg-type]
                            StreamHandle(), run)
    return sum(1 for _ in chunks)


def measure(fn: Callable[[], int]) -> tuple[float, int]:
    """CPU seconds of one run, and the chunk count."""
    started = time.process_time()
    count = fn()
    return time.process_time() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="2,000 events, 3 runs")
    args = parser.parse_args()
    if args.quick:
        args.events, args.repeat = 2000, 3
    pieces = make_body(args.events)
    contenders: dict[str, Callable[[], int]] = {
        "bare loop (floor)": lambda: bare_loop(pieces),
        "pipeline": lambda: pipeline(pieces),
        "pipeline + 1 stage + 1 observer": lambda: pipeline(pieces, (_Upper(),), (_observer,)),
    }
    results: dict[str, list[float]] = {name: [] for name in contenders}
    count = 0
    for _ in range(args.repeat):  # round-robin, so machine noise hits every contender alike
        for name, fn in contenders.items():
            seconds, count = measure(fn)
            results[name].append(seconds)
    best_floor = min(results["bare loop (floor)"])
    median_floor = statistics.median(results["bare loop (floor)"])
    print(f"== stream pipeline, {count} chunks per run, {args.repeat} runs each (CPU time)")
    for name, values in results.items():
        best, median = min(values), statistics.median(values)
        print(f"  {name:34s} best {best / count * 1e6:6.2f} us/chunk {best / best_floor:6.3f}x   "
              f"median {median / count * 1e6:6.2f} us/chunk {median / median_floor:6.3f}x bare loop")


if __name__ == "__main__":
    main()
