"""Shared helpers for the streaming-toolkit tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from socket_support import socket_fds, wait_for_sockets  # noqa: F401  (re-exported to the toolkit tests)

from llm_connectivity.models import StreamChunk, ToolCallDelta, Usage


class QuarterCounter:
    """A deterministic four-characters-a-token counter, for tests of the toolkit's own
    arithmetic (the library's estimator is script-aware and fitted; see tokens.py)."""

    kind = "estimate"

    def count(self, text: str) -> int:
        return max(1, (len(text) + 2) // 4) if text else 0


def text_chunks(pieces: Iterable[str]) -> list[StreamChunk]:
    """Chunks carrying ``pieces`` as content, numbered from 0."""
    return [StreamChunk(content=p, index=i) for i, p in enumerate(pieces)]


def split_every(text: str, size: int) -> list[str]:
    """``text`` cut into pieces of ``size`` code points (may cut inside a grapheme cluster)."""
    return [text[i:i + size] for i in range(0, len(text), size)]


def joined(chunks: Iterable[StreamChunk]) -> str:
    return "".join(c.content for c in chunks)


def contents(chunks: Iterable[StreamChunk]) -> list[str]:
    return [c.content for c in chunks if c.content]


FINAL_USAGE = Usage(prompt_tokens=3, completion_tokens=7, total_tokens=10)


def with_signals(pieces: list[str]) -> list[StreamChunk]:
    """Text chunks, then a tool-call delta, a finish reason and a final usage chunk."""
    chunks = text_chunks(pieces)
    n = len(chunks)
    chunks.append(StreamChunk(tool_calls=(ToolCallDelta(0, "call_1", "lookup", '{"q": 1}'),), index=n))
    chunks.append(StreamChunk(finish_reason="stop", raw_finish_reason="end_turn", index=n + 1))
    chunks.append(StreamChunk(usage=FINAL_USAGE, index=n + 2, is_complete=True))
    return chunks


class Boom(Exception):
    """The error a failing test source raises."""


class ClosableSource:
    """An iterator over chunks that records being closed and can fail after its items."""

    def __init__(self, chunks: list[StreamChunk], fail: Exception | None = None) -> None:
        self._chunks = iter(chunks)
        self.fail = fail
        self.closed = 0
        self.served = 0

    def __iter__(self) -> Iterator[StreamChunk]:
        return self

    def __next__(self) -> StreamChunk:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            if self.fail is not None:
                raise self.fail from None
            raise
        self.served += 1
        return chunk

    def close(self) -> None:
        self.closed += 1


class FakeClock:
    """A clock the test moves by hand (``advance``), or that ``sleep`` moves."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


