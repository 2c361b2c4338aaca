"""Composition and acceptance through the public API over a loopback server: every buffer
over every provider's wire format, progress over a real stream, pipe/aggregate/replay,
and the public surface of llm_connectivity.streaming."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from functools import partial

import pytest
from toolkit_support import FakeClock, socket_fds, split_every, wait_for_sockets

import llm_connectivity.streaming as streaming
from llm_connectivity import LLMClient
from llm_connectivity.errors import ConfigurationError
from llm_connectivity.models import ChatResponse, ToolCall, Usage
from llm_connectivity.streaming import (
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
    track_progress,
)
from llm_connectivity.testing import Action, FakeLLMServer, Reply, faults

ADVERSARIAL = ("Dr. Smith paid $3.14 for v1.2.3 (see https://ex.com/a.b?x=1).  Tabs\there,\r\nCRLF and 👍🏽 👩‍💻 🇫🇷 "
               "e\u0301! 你好世界。没有空格！ ภาษาไทยไม่มีการเว้นวรรค\n\n```py\nx = 1. Y = 2.\n```\nlast word")
DESIGN_NAMES = {"buffer_words", "buffer_sentences", "buffer_characters", "buffer_tokens", "track_progress",
                "ProgressTracker", "StreamProgress", "progress_bar", "rate_limit", "RateLimiter", "to_sse",
                "sse_headers", "pipe", "aggregate", "replay"}
WRAPPERS = {"words": buffer_words, "sentences": buffer_sentences, "characters": buffer_characters,
            "tokens": partial(buffer_tokens, n=5)}


@pytest.fixture(scope="module")
def server() -> FakeLLMServer:
    with FakeLLMServer() as fake:
        yield fake  # type: ignore[misc]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_every_buffer_over_every_wire_format(server: FakeLLMServer, provider: str, name: str) -> None:
    server.add_reply(Reply(chunks=split_every(ADVERSARIAL, 3)))
    with LLMClient(f"{provider}/m", base_url=server.base_url_for(provider), api_key="k-test") as client:
        stream = client.chat_stream("hi", max_tokens=50)
        out = list(WRAPPERS[name](stream))
    assert "".join(c.content for c in out) == ADVERSARIAL
    assert stream.response.content == ADVERSARIAL
    finals = [c for c in out if c.finish_reason is not None]
    assert finals and finals[-1].finish_reason == "stop"
    assert out[-1].is_complete and out[-1].usage is not None


SENTENCES = "Hello there my friend. How are you today? I am fine, thanks."


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_sentences_are_sentences_on_every_wire_format(server: FakeLLMServer, provider: str) -> None:
    # Gemini reports usage on every chunk: that must not release each chunk on its own
    server.add_reply(Reply(text=SENTENCES))
    with LLMClient(f"{provider}/m", base_url=server.base_url_for(provider), api_key="k-test") as client:
        stream = client.chat_stream("hi")
        out = list(buffer_sentences(stream))
    assert [c.content for c in out if c.content] == [
        "Hello there my friend. ", "How are you today? ", "I am fine, thanks."]
    assert aggregate(out).usage == stream.response.usage  # the provider's usage still arrives


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_max_delay_releases_text_while_a_slow_model_is_silent(server: FakeLLMServer, name: str) -> None:
    # the model sends "An unfinished", then nothing for 1.5 s: with max_delay=0.1 the held
    # text is on screen long before the next chunk, so it arrives as a piece of its own
    wrapper = partial(buffer_tokens, n=50) if name == "tokens" else WRAPPERS[name]
    events = [faults.chat_chunk({"content": "An unfinished"}), faults.chat_chunk({"content": " sentence."}, "stop"),
              b"data: [DONE]\n\n"]
    server.add_reply(Reply(actions=[Action("send", events[0]), Action("sleep", seconds=1.5),
                                    *(Action("send", e) for e in events[1:])], headers=dict(faults.SSE_HEADERS)))
    seen: list[tuple[str, float]] = []
    with LLMClient("openai/m", base_url=server.base_url, api_key="k-test") as client:
        for chunk in wrapper(client.chat_stream("hi"), max_delay=0.1):
            if chunk.content:
                seen.append((chunk.content, time.monotonic()))
    assert "".join(text for text, _ in seen) == "An unfinished sentence."
    shown = ""
    for text, at in seen:  # when the last character of the first chunk was shown
        shown += text
        if len(shown) >= len("An unfinished"):
            break
    assert shown == "An unfinished" and seen[-1][1] - at > 0.7  # well before the next chunk came


def test_the_peer_harness_chain_over_loopback(server: FakeLLMServer) -> None:
    # exactly as ../shared/bench/contenders.py builds it (a finite 1e12 rate, a no-op callback)
    def noop(*_args: object, **_kwargs: object) -> None:
        return None

    server.add_reply(Reply(chunks=split_every(ADVERSARIAL, 4)))
    with LLMClient("openai/m", base_url=server.base_url, api_key="k-test") as client:
        stream = client.chat_stream("hi")
        chain = pipe(stream, buffer_words,
                     lambda s: track_progress(s, estimated_tokens=4096, on_progress=noop),
                     lambda s: rate_limit(s, tokens_per_second=1e12))
        started = time.monotonic()
        text = "".join(c if isinstance(c, str) else c.content for c in chain)
        elapsed = time.monotonic() - started
        chain.close()  # type: ignore[attr-defined]
        stream.close()
    assert text == ADVERSARIAL and elapsed < 5


def test_progress_over_a_loopback_stream(server: FakeLLMServer) -> None:
    server.add_reply(Reply(chunks=["abcd"] * 40, delay=0.005))
    seen: list[StreamProgress] = []
    with LLMClient("openai/m", base_url=server.base_url, api_key="k-test") as client:
        text = "".join(c.content for c in track_progress(client.chat_stream("hi"), estimated_tokens=30,
                                                        on_progress=seen.append, interval=0.02))
    assert text == "abcd" * 40
    assert [p.tokens_received for p in seen] == sorted(p.tokens_received for p in seen)
    assert all(p.percentage is not None and 0 <= p.percentage <= 100 for p in seen)
    assert seen[-1].finished and seen[-1].percentage == 100.0 and seen[-1].tokens_received == 40
    assert len(seen) >= 2


def test_aggregate_takes_model_and_provider_from_the_stream(server: FakeLLMServer) -> None:
    server.add_reply(Reply(text="Hello there. General Kenobi."))
    with LLMClient("anthropic/claude-x", base_url=server.url, api_key="k-test") as client:
        response = aggregate(pipe(client.chat_stream("hi"), buffer_sentences,
                                  partial(rate_limit, tokens_per_second=float("inf"))))
    assert (response.content, response.finish_reason, response.provider) == (
        "Hello there. General Kenobi.", "stop", "anthropic")
    assert not response.usage.is_estimated and response.usage.completion_tokens > 0


def test_replay_round_trips_a_response() -> None:
    original = ChatResponse(content="Answer with 👍🏽 here.", finish_reason="tool_calls",
                            raw_finish_reason="tool_use", reasoning="Let me think.",
                            tool_calls=[ToolCall("c1", "lookup", '{"q": "x"}')],
                            usage=Usage(prompt_tokens=5, completion_tokens=9, total_tokens=14))
    chunks = list(replay(original, chunk_size=3))
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[-1].is_complete and chunks[-1].usage == original.usage
    again = aggregate(chunks)
    assert (again.content, again.reasoning, again.tool_calls, again.finish_reason, again.raw_finish_reason,
            again.usage) == (original.content, original.reasoning, original.tool_calls, "tool_calls", "tool_use",
                             original.usage)
    assert all(not c.content.startswith("\U0001F3FD") for c in chunks)  # chunk_size never cuts a cluster


def test_replay_text_pieces_and_delay() -> None:
    clock = FakeClock(0.0)
    chunks = list(replay("One two  three", delay=0.25, sleep=clock.sleep))
    assert [c.content for c in chunks] == ["One", " two", "  three", ""]
    assert clock.sleeps == [0.25, 0.25] and chunks[-1].finish_reason == "stop"
    assert aggregate(replay("abc")).usage.is_estimated
    with pytest.raises(ConfigurationError, match="delay"):
        replay("x", delay=-1)
    with pytest.raises(ConfigurationError, match="str or a ChatResponse"):
        replay(b"bytes")  # type: ignore[arg-type]


def test_pipe_applies_stages_in_order_and_rejects_non_callables() -> None:
    out = pipe(replay("Hi there. Bye now."), buffer_sentences, buffer_characters)
    assert [c.content for c in out if c.content][:3] == ["H", "i", " "]
    assert list(pipe(replay("x"))) == list(replay("x"))
    with pytest.raises(ConfigurationError, match="functools.partial"):
        pipe(replay("x"), buffer_words, 5)  # type: ignore[arg-type]


def test_public_surface() -> None:
    names = streaming.__all__
    assert names == sorted(names) and DESIGN_NAMES <= set(names)
    for name in names:
        assert getattr(streaming, name, None) is not None, name


def test_importing_the_toolkit_loads_no_optional_or_http_modules() -> None:
    code = ("import sys, llm_connectivity.streaming; "
            "print(sorted(m for m in ('requests', 'tqdm', 'flask') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


CLOSERS = {**WRAPPERS, "progress": track_progress, "rate": partial(rate_limit, tokens_per_second=1e6),
           "bar": partial(progress_bar, file=io.StringIO()), "piped": lambda s: pipe(s, buffer_words, track_progress),
           "sentences-max_delay": partial(buffer_sentences, max_delay=0.01)}  # reads in a helper thread


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts sockets in /proc/self/fd (Linux)")
@pytest.mark.parametrize("name", sorted(CLOSERS))
def test_closing_a_wrapper_frees_the_connection(name: str) -> None:
    with FakeLLMServer() as fake:
        client = LLMClient("openai/m", base_url=fake.base_url, api_key="k-test", max_retries=0)
        baseline = socket_fds()
        fake.add_reply(Reply(chunks=[f" w{i}." for i in range(300)], delay=0.02))  # 6 s if read to the end
        stream = client.chat_stream("hi")
        wrapped = CLOSERS[name](stream)
        next(iter(wrapped))
        wrapped.close()  # type: ignore[attr-defined]
        assert not stream.is_complete
        assert wait_for_sockets(baseline, within=5) == baseline
        assert not [t for t in threading.enumerate() if t.name == "llm-connectivity-ticker"]
        client.close()
