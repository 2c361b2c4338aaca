"""Aggregation of StreamChunks into a ChatResponse (what ``stream.response`` returns).

Memory stays proportional to the text received, never to the number of chunks: text is
kept as a list of pieces joined once, tool-call fragments per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .models import ChatResponse, StreamChunk, ToolCall, Usage
from .request import RequestSpec
from .usage import estimate_usage as usage_estimate
from .tokens import count_tokens
from .usage import prompt_tokens, settle_usage

__all__ = ["ResponseAccumulator", "estimate_usage", "prompt_estimate"]


def estimate_usage(prompt_tokens: int, content: str, reasoning: str = "",
                   tool_calls: Sequence[ToolCall] = (), *, model: str | None = None) -> Usage:
    """Usage estimated from the texts, flagged ``is_estimated`` (used when the provider
    reported none); see :func:`llm_connectivity.usage.estimate_usage`."""
    return usage_estimate(prompt_tokens, content, reasoning, tool_calls, model=model)


def prompt_estimate(spec: RequestSpec, provider: str | None = None) -> int:
    """Estimated input tokens: messages, tool calls, tool schemas and images; see
    :func:`llm_connectivity.usage.prompt_tokens`."""
    return prompt_tokens(spec.messages, spec.params.get("tools"), model=spec.model, provider=provider)


def _add_usage(a: Usage, b: Usage) -> Usage:
    """Field-wise sum of two usage reports (estimated if either is)."""
    return Usage(prompt_tokens=a.prompt_tokens + b.prompt_tokens,
                 completion_tokens=a.completion_tokens + b.completion_tokens,
                 total_tokens=a.total_tokens + b.total_tokens,
                 cached_tokens=a.cached_tokens + b.cached_tokens,
                 reasoning_tokens=a.reasoning_tokens + b.reasoning_tokens,
                 is_estimated=a.is_estimated or b.is_estimated,
                 confidence=min(a.confidence, b.confidence),
                 raw={"segments": [a.raw, b.raw]})


class TextBuffer:
    """Appends text pieces; memory stays close to the text itself (pieces are joined in
    blocks of 256, so per-piece object overhead is not kept for the whole stream)."""

    __slots__ = ("_blocks", "_pieces")

    _BLOCK = 256

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._pieces: list[str] = []

    def __bool__(self) -> bool:
        return bool(self._pieces or self._blocks)

    def append(self, piece: str) -> None:
        """Add ``piece`` at the end."""
        pieces = self._pieces
        pieces.append(piece)
        if len(pieces) >= self._BLOCK:
            self._blocks.append("".join(pieces))
            pieces.clear()

    def text(self) -> str:
        """All the text so far."""
        return "".join(self._blocks) + "".join(self._pieces)


class ResponseAccumulator:
    """Collects chunks; :meth:`build` returns the aggregated :class:`ChatResponse` at any time.

    The last usage report wins; the last non-null finish reason wins. It is the built-in
    pipeline stage that runs after token counting (:meth:`on_chunk`). Once the stream
    completed, ``final`` holds the response after the stages' ``on_response`` and
    :meth:`build` returns it; ``terminal_event`` is False when the stream completed after
    its finish reason without the provider's terminal event.
    """

    __slots__ = ("_content", "_reasoning", "_calls", "finish_reason", "raw_finish_reason",
                 "usage", "chunk_count", "model", "provider", "prompt_estimate", "last_raw", "complete",
                 "_banked", "_segment_start", "final", "terminal_event")

    def __init__(self, *, model: str = "", provider: str = "", prompt_estimate: int = 0) -> None:
        self._content = TextBuffer()
        self._reasoning = TextBuffer()
        self._calls: dict[int, list[Any]] = {}  # index -> [id, name, [fragments]]
        self.finish_reason: str | None = None
        self.raw_finish_reason: str | None = None
        self.usage: Usage | None = None
        self.chunk_count = 0
        self.model = model
        self.provider = provider
        self.prompt_estimate = prompt_estimate
        self.last_raw: Any = None
        self.complete = False  # set when the provider's terminal event arrived
        self._banked: Usage | None = None  # usage of earlier segments of a continued stream
        self._segment_start = 0  # len(content) when the current segment began
        self.final: ChatResponse | None = None
        self.terminal_event = True

    @property
    def has_output(self) -> bool:
        """True once any content, reasoning or tool-call data has been received."""
        return bool(self._content or self._reasoning or self._calls)

    @property
    def content(self) -> str:
        """The answer text received so far."""
        return self._content.text()

    def add(self, chunk: StreamChunk) -> None:
        """Fold one chunk into the aggregate."""
        self.on_chunk(chunk, None)

    def on_chunk(self, chunk: StreamChunk, context: Any) -> StreamChunk:
        """The stage form of :meth:`add`: fold ``chunk`` in and pass it on."""
        self.chunk_count += 1
        if chunk.content:
            self._content.append(chunk.content)
        if chunk.reasoning:
            self._reasoning.append(chunk.reasoning)
        if chunk.tool_calls:
            self._add_tool_deltas(chunk)
        if chunk.finish_reason is not None or chunk.raw_finish_reason is not None:
            self.finish_reason = chunk.finish_reason
            self.raw_finish_reason = chunk.raw_finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.raw_chunk is not None:
            self.last_raw = chunk.raw_chunk
        model = chunk.metadata.get("model") if chunk.metadata else None
        if model:
            self.model = model
        return chunk

    def _add_tool_deltas(self, chunk: StreamChunk) -> None:
        for delta in chunk.tool_calls:
            call = self._calls.get(delta.index)
            if call is None:
                call = self._calls[delta.index] = [None, None, []]
            if delta.id:
                call[0] = delta.id
            if delta.name and not call[1]:
                call[1] = delta.name
            if delta.arguments:
                call[2].append(delta.arguments)

    def tool_calls(self) -> list[ToolCall]:
        """The tool calls assembled so far, in index order."""
        return [
            ToolCall(id=call[0] or f"call_{index}", name=call[1] or "", arguments="".join(call[2]))
            for index, call in sorted(self._calls.items())
        ]

    def _segment_usage(self) -> Usage:
        text = self.content[self._segment_start:] if self._banked is not None else self.content
        return settle_usage(self.usage, finished=self.finish_reason is not None, prompt=self.prompt_estimate,
                            content=text, reasoning=self._reasoning.text(), tool_calls=self.tool_calls(),
                            model=f"{self.provider}/{self.model}")

    def _segment_is_empty(self) -> bool:
        """A continuation attempt that produced nothing and reported nothing (e.g. refused)."""
        return self._banked is not None and self.usage is None and not self.content[self._segment_start:]

    def final_usage(self) -> Usage:
        """The provider's last usage report (plus earlier segments of a continued stream),
        or an estimate flagged ``is_estimated``."""
        if self._banked is not None and self._segment_is_empty():
            return self._banked
        usage = self._segment_usage()
        return usage if self._banked is None else _add_usage(self._banked, usage)

    def bank_segment(self) -> None:
        """A continuation starts: keep this segment's usage so the final usage counts both
        requests. The break came before the segment's final report, so its output is the
        larger of what was reported and an estimate of the text it produced."""
        if self._segment_is_empty():
            return
        text, model = self.content[self._segment_start:], f"{self.provider}/{self.model}"
        if self.usage is None:
            usage = estimate_usage(self.prompt_estimate, text, model=model)
        else:
            completion = max(self.usage.completion_tokens, count_tokens(text, model))
            usage = self.usage.replace(completion_tokens=completion, is_estimated=True, confidence=0.5,
                                       total_tokens=self.usage.prompt_tokens + completion)
        self._banked = usage if self._banked is None else _add_usage(self._banked, usage)
        self.usage = None
        self._segment_start = len(self.content)

    def build(self, raw: Any = None) -> ChatResponse:
        """Return the aggregated response (usable mid-stream as a partial response); once
        the stream completed, the final response the stages returned."""
        if self.final is not None and raw is None:
            return self.final
        return ChatResponse(
            content=self.content,
            finish_reason=self.finish_reason,
            raw_finish_reason=self.raw_finish_reason,
            usage=self.final_usage(),
            tool_calls=self.tool_calls(),
            reasoning=self._reasoning.text(),
            model=self.model,
            provider=self.provider,
            raw=raw if raw is not None else self.last_raw,
        )
