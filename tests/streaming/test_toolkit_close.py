"""Closing a chain whose reading happens in the ticker's thread (``to_sse(keepalive=)``,
``max_delay=``) while the model is silent: the close is immediate, raises nothing, stops the
reader thread and releases the connection, however many wrappers sit in between."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator

import pytest
from socket_support import socket_fds, wait_for_sockets

from llm_connectivity import LLMClient
from llm_connectivity.models import StreamChunk
from llm_connectivity.streaming import buffer_sentences, buffer_words, to_sse, track_progress
from llm_connectivity.testing import FakeLLMServer, faults

Chain = Callable[[Iterable[StreamChunk]], Iterator[object]]
# each chain, and how many items it yields before it waits on the stalled server
CHAINS: dict[str, tuple[Chain, int]] = {
    "to_sse over buffer_words (the documented relay)": (lambda s: to_sse(buffer_words(s), keepalive=0.2), 3),
    "buffer_sentences(max_delay) over track_progress": (
        lambda s: buffer_sentences(track_progress(s), max_delay=0.2), 1),  # "Hello there." released by max_delay
    "to_sse directly on the stream": (lambda s: to_sse(s, keepalive=0.2), 3),
}


def _tickers() -> int:
    return sum(t.name == "llm-connectivity-ticker" for t in threading.enumerate())


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_closing_while_the_model_is_silent_is_immediate_and_frees_the_connection(name: str) -> None:
    make_chain, ready = CHAINS[name]
    with FakeLLMServer() as server, LLMClient("openai/gpt-4o-mini", base_url=server.base_url, timeout=10,
                                              api_key="sk-test-close-123") as client:
        server.add_reply(faults.stall_after(2, text="Hello there. Friend"))
        baseline, tickers = socket_fds(), _tickers()
        stream = client.chat_stream("hi")
        chain = make_chain(stream)
        for _ in range(ready):  # the first events, then keep-alives or a release while the server stalls
            next(chain)
        assert socket_fds() >= baseline + 1  # the stream's connection is open
        started = time.monotonic()
        chain.close()  # type: ignore[attr-defined]
        assert time.monotonic() - started < 1.0  # not the reader's 2 s join timeout
        assert _tickers() == tickers  # the reader thread stopped
        # the client's socket is closed; the stalled server side may still hold its own
        assert wait_for_sockets(baseline + 1, within=2.0) <= baseline + 1
        with pytest.raises(StopIteration):
            next(stream)


def test_huge_or_infinite_waits_mean_never_rather_than_a_crash() -> None:
    from toolkit_support import contents, text_chunks

    text = ["Hel", "lo wor", "ld"]

    def slow() -> Iterator[StreamChunk]:  # the consumer waits on the reader each time
        for chunk in text_chunks(text):
            time.sleep(0.05)
            yield chunk

    assert contents(buffer_words(slow(), max_delay=float("inf"))) == ["Hello", " world"]
    frames = b"".join(to_sse(slow(), keepalive=1e10))
    assert b"event: error" not in frames and frames.count(b"event: chunk") == 3
