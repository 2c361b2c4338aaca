"""Per-chunk cost of the toolkit chain words + progress + unlimited rate limit, as a ratio
to the bare stream measured in the same run (target <= 1.25x).

    python benchmarks/bench_toolkit.py [--events N] [--repeat R] [--quick]

1. In memory: Chat Completions SSE bytes (one event per read) decoded by ``iter_sse`` and
   the OpenAI driver, i.e. the per-chunk work of a real stream without the socket; bare
   vs. wrapped by ``pipe(chunks, buffer_words, track_progress, rate_limit(inf))``.
2. Loopback: ``LLMClient.chat_stream`` from a FakeLLMServer in another process
   (benchmarks/_server.py, realistic chunked framing), bare vs. wrapped.
Also printed: the chain alone over a list of ready chunks (its absolute cost per chunk),
and the sentence buffer in place of the word buffer. CPU time of this process, best of
R alternating runs (the least disturbed by other processes).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _server import events  # noqa: E402
from run import server  # noqa: E402

from llm_connectivity import LLMClient  # noqa: E402
from llm_connectivity.models import StreamChunk  # noqa: E402
from llm_connectivity.providers.openai import OpenAIDriver  # noqa: E402
from llm_connectivity.request import RequestSpec  # noqa: E402
from llm_connectivity.sse import iter_sse  # noqa: E402
from llm_connectivity.streaming import (  # noqa: E402
    buffer_sentences,
    buffer_words,
    pipe,
    rate_limit,
    track_progress,
)


def words_chain(chunks: Iterable[StreamChunk]) -> Iterator[StreamChunk]:
    """The acceptance chain: words + progress + unlimited rate limit."""
    return pipe(chunks, buffer_words, track_progress, partial(rate_limit, tokens_per_second=float("inf")))


def sentences_chain(chunks: Iterable[StreamChunk]) -> Iterator[StreamChunk]:
    """The same with sentences instead of words."""
    return pipe(chunks, buffer_sentences, track_progress, partial(rate_limit, tokens_per_second=float("inf")))


def _noop(_progress: object) -> None:
    return None


def harness_chain(chunks: Iterable[StreamChunk]) -> Iterator[StreamChunk]:
    """The chain exactly as the shared peer harness (../shared/bench) builds it: a progress
    callback, and a huge but finite rate rather than ``inf``."""
    return pipe(chunks, buffer_words, lambda s: track_progress(s, estimated_tokens=4096, on_progress=_noop),
                lambda s: rate_limit(s, tokens_per_second=1e12))


def _drain(chunks: Iterable[StreamChunk]) -> int:
    n = 0
    for _ in chunks:
        n += 1
    return n


def _cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def in_memory(n: int, repeat: int) -> dict[str, float]:
    """CPU seconds per run (median) for the bare decoded stream and the wrapped one."""
    pieces = events(n)  # one read per event, as over a realistic connection
    driver = OpenAIDriver()
    spec = RequestSpec(model="bench", messages=[])

    def bare() -> Iterator[StreamChunk]:
        return driver.iter_chunks(iter_sse(pieces), spec)

    ready = list(bare())
    runs: dict[str, list[float]] = {"bare": [], "words": [], "sentences": [], "harness": [], "chain only": [],
                                    "list": []}
    for _ in range(repeat):
        runs["bare"].append(_cpu(lambda: _drain(bare())))
        runs["words"].append(_cpu(lambda: _drain(words_chain(bare()))))
        runs["sentences"].append(_cpu(lambda: _drain(sentences_chain(bare()))))
        runs["harness"].append(_cpu(lambda: _drain(harness_chain(bare()))))
        runs["list"].append(_cpu(lambda: _drain(iter(ready))))
        runs["chain only"].append(_cpu(lambda: _drain(words_chain(ready))))
    return {name: min(values) for name, values in runs.items()}


def loopback(n: int, repeat: int) -> dict[str, float]:
    """CPU seconds per stream (best run) over a real socket, bare and wrapped."""
    runs: dict[str, list[float]] = {"bare": [], "words": [], "harness": []}
    with server("chunked", n) as port, LLMClient("openai/gpt-4o-mini", base_url=f"http://127.0.0.1:{port}/v1",
                                                  api_key="sk-bench-000000000000", max_retries=0) as client:
        _drain(client.chat_stream("hi"))  # warm the connection pool
        for _ in range(repeat):
            runs["bare"].append(_cpu(lambda: _drain(client.chat_stream("hi"))))
            runs["words"].append(_cpu(lambda: _drain(words_chain(client.chat_stream("hi")))))
            runs["harness"].append(_cpu(lambda: _drain(harness_chain(client.chat_stream("hi")))))
    return {name: min(values) for name, values in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="1000 chunks, 3 runs (for make bench's extras)")
    args = parser.parse_args()
    if args.quick:
        args.events, args.repeat = 1000, 3
    n = args.events
    mem = in_memory(n, args.repeat)
    net = loopback(n, args.repeat)
    us = 1e6 / n
    print(f"streaming toolkit chain cost, {n} chunks, best of {args.repeat} (CPU us per chunk)")
    print(f"  in memory   bare {mem['bare'] * us:6.2f}   words+progress+rate {mem['words'] * us:6.2f}"
          f"   ratio {mem['words'] / mem['bare']:.2f}x (target <= 1.25x)")
    print(f"  in memory   bare {mem['bare'] * us:6.2f}   sentences+progress+rate {mem['sentences'] * us:6.2f}"
          f"   ratio {mem['sentences'] / mem['bare']:.2f}x")
    print(f"  in memory   bare {mem['bare'] * us:6.2f}   as the peer harness {mem['harness'] * us:6.2f}"
          f"   ratio {mem['harness'] / mem['bare']:.2f}x (target <= 1.25x)")
    print(f"  loopback    bare {net['bare'] * us:6.2f}   words+progress+rate {net['words'] * us:6.2f}"
          f"   ratio {net['words'] / net['bare']:.2f}x (target <= 1.25x)")
    print(f"  loopback    bare {net['bare'] * us:6.2f}   as the peer harness {net['harness'] * us:6.2f}"
          f"   ratio {net['harness'] / net['bare']:.2f}x (target <= 1.25x)")
    print(f"  the chain alone over ready chunks: {(mem['chain only'] - mem['list']) * us:.2f} us per chunk")


if __name__ == "__main__":
    main()
