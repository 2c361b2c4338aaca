"""The streaming toolkit, one section per wrapper (docs/streaming-toolkit.md), run in order.

Streams from the bundled FakeLLMServer on 127.0.0.1 (no API key needed) unless
OPENAI_API_KEY is set. The progress bar writes to stderr, so stdout holds only the text.

    python examples/toolkit.py
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from functools import partial

from llm_connectivity import LLMClient
from llm_connectivity.streaming import (
    ProgressTracker,
    RateLimiter,
    StreamProgress,
    aggregate,
    buffer_characters,
    buffer_sentences,
    buffer_tokens,
    buffer_words,
    pipe,
    progress_bar,
    rate_limit,
    replay,
    to_sse,
    track_progress,
)
from llm_connectivity.testing import FakeLLMServer, Reply

MODEL = "openai/gpt-4o-mini"
PROMPT = "Explain streaming in three short sentences."
LOCAL_ANSWER = ("Streaming sends the answer piece by piece. Dr. Lee measured 3.14x faster first words, e.g. "
                "in chat UIs. Users can stop early... and save tokens!\n\n日本語も大丈夫です。👩‍💻 done.")


def heading(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def words(client: LLMClient) -> None:
    heading("buffer_words: whole words, never half a word on screen")
    with client.chat_stream(PROMPT, max_tokens=100) as stream:
        pieces = [chunk.content for chunk in buffer_words(stream) if chunk.content]
    print(" | ".join(repr(p) for p in pieces[:8]), "...")


def sentences(client: LLMClient) -> None:
    heading("buffer_sentences: one sentence at a time (text-to-speech, subtitles)")
    with client.chat_stream(PROMPT, max_tokens=100) as stream:
        for chunk in buffer_sentences(stream, max_delay=2.0):
            if chunk.content:
                print(f"  sentence: {chunk.content!r}")


def characters() -> None:
    heading("buffer_characters: a typewriter that never splits an emoji")
    for chunk in buffer_characters(replay("Hi 👍🏽 ok", chunk_size=2)):  # the emoji arrives in halves
        if chunk.content:
            print(chunk.content, end="|", flush=True)
            time.sleep(0.01)
    print()


def tokens(client: LLMClient) -> None:
    heading("buffer_tokens: groups of about 8 tokens")
    with client.chat_stream(PROMPT, max_tokens=100) as stream:
        for chunk in buffer_tokens(stream, n=8):
            if chunk.content:
                print(f"  group: {chunk.content!r}")


def progress(client: LLMClient) -> None:
    heading("track_progress: callbacks (and a tracker another thread can read)")
    tracker = ProgressTracker()
    last: list[StreamProgress] = []
    with client.chat_stream(PROMPT, max_tokens=60) as stream:
        for _ in track_progress(stream, estimated_tokens=60, on_progress=last.append, interval=0.05,
                                tracker=tracker):
            pass
    final = last[-1]
    print(f"{len(last)} callbacks; final: {final.tokens_received} tokens, {final.percentage:.0f}%, "
          f"{final.tokens_per_sec:.0f} tok/s; from the tracker: {tracker.get_progress().finished=}")


def combined(client: LLMClient) -> None:
    heading("pipe: words + progress bar (stderr) + rate limit (30 tokens/s)")
    with client.chat_stream(PROMPT, max_tokens=100) as stream:
        started = time.monotonic()
        for chunk in pipe(stream, buffer_words, progress_bar, partial(rate_limit, tokens_per_second=30)):
            print(chunk.content, end="", flush=True)
    print(f"\n(took {time.monotonic() - started:.1f}s)")


def shared_limiter(client: LLMClient) -> None:
    heading("one RateLimiter shared by three threads")
    limiter = RateLimiter(tokens_per_second=200)
    totals: dict[int, int] = {}

    def worker(n: int) -> None:
        with client.chat_stream(PROMPT, max_tokens=50) as stream:
            totals[n] = sum(len(c.content) for c in rate_limit(stream, limiter=limiter))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    print("characters per thread:", dict(sorted(totals.items())))


def sse_and_replay() -> None:
    heading("to_sse and replay: a cached answer re-served as Server-Sent Events")
    for frame in to_sse(replay("Cached\nanswer", chunk_size=4)):
        print(frame.decode(), end="")
    print("(see examples/sse_server.py for the Flask relay a browser can open)")


def aggregated(client: LLMClient) -> None:
    heading("aggregate: a ChatResponse from any chunk stream")
    with client.chat_stream(PROMPT, max_tokens=100) as stream:
        response = aggregate(buffer_sentences(stream))
    print(f"{len(response.content)} characters, finish_reason={response.finish_reason}, "
          f"total_tokens={response.usage['total_tokens']}, provider={response.provider}")


def main() -> int:
    with contextlib.ExitStack() as stack:
        if os.environ.get("OPENAI_API_KEY"):
            client = LLMClient(model=MODEL)
        else:
            server = stack.enter_context(FakeLLMServer(default_reply=Reply(LOCAL_ANSWER, delay=0.005)))
            print(f"(no OPENAI_API_KEY: streaming from the local FakeLLMServer at {server.base_url})")
            client = LLMClient(model=MODEL, base_url=server.base_url, api_key="sk-local-demo")
        stack.enter_context(client)
        words(client)
        sentences(client)
        characters()
        tokens(client)
        progress(client)
        combined(client)
        shared_limiter(client)
        sse_and_replay()
        aggregated(client)
    return 0


if __name__ == "__main__":
    sys.exit(main())
