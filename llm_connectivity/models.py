"""Record types shared by every layer: Usage, ToolCall, ToolCallDelta, StreamChunk, ChatResponse.

All are frozen, slotted dataclasses: cheap to build on the per-chunk path, safe to share
between threads. Each has ``to_dict()``, a plain dict that ``json.dumps`` accepts (for
logs, JSONL files, HTTP answers). This module is a leaf: it imports nothing else from the
package.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["ChatResponse", "StreamChunk", "ToolCall", "ToolCallDelta", "Usage", "estimate_tokens", "make_chunk"]


def estimate_tokens(text: str) -> int:
    """A cheap token estimate (about four characters a token), never 0 for non-empty text."""
    if not text:
        return 0
    return max(1, (len(text) + 2) // 4)


def _is_json(value: Any) -> bool:
    """True if ``json.dumps`` accepts ``value`` as strict JSON (no ``nan``)."""
    if value is None or type(value) in (str, int, bool):
        return True
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _json_or_none(value: Any) -> Any:
    """``value`` if it is JSON (:func:`_is_json`), else ``None``."""
    return value if _is_json(value) else None


_USAGE_KEYS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "is_estimated",
    "confidence",
)


@dataclass(frozen=True, slots=True)
class Usage(Mapping[str, Any]):
    """Token usage of one request.

    ``prompt_tokens`` counts every input token, cached ones included. ``total_tokens`` is
    the provider's own total when it sends one, else prompt + completion. When the provider
    reported nothing, the numbers are an estimate and ``is_estimated`` is True.
    Also readable as a mapping: ``usage["total_tokens"]``.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    is_estimated: bool = False
    confidence: float = 1.0
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def __getitem__(self, key: str) -> Any:
        if key in _USAGE_KEYS or key == "raw":
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(_USAGE_KEYS)

    def __len__(self) -> int:
        return len(_USAGE_KEYS)

    def replace(self, **changes: Any) -> Usage:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)

    def to_dict(self, *, include_raw: bool = True) -> dict[str, Any]:
        """The seven counters and flags (as ``dict(usage)``) plus ``"raw"``, the
        provider's own usage report (``None`` if it is not JSON-serialisable); leave it
        out with ``include_raw=False``. ``json.dumps(usage.to_dict())`` always works."""
        out = {key: getattr(self, key) for key in _USAGE_KEYS}
        if include_raw:
            out["raw"] = _json_or_none(self.raw)
        return out


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool (function) call requested by the model; ``arguments`` is a JSON string."""

    id: str
    name: str
    arguments: str
    type: str = "function"

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "name", "arguments", "type"}`` (``arguments`` stays a JSON string)."""
        return {"id": self.id, "name": self.name, "arguments": self.arguments, "type": self.type}


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call. Pieces with the same ``index`` form one call:
    ``id`` and ``name`` arrive once, ``arguments`` fragments are concatenated."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""

    def to_dict(self) -> dict[str, Any]:
        """``{"index", "id", "name", "arguments"}``."""
        return {"index": self.index, "id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """One increment of a streamed response.

    ``content`` is the new answer text ("" allowed), ``reasoning`` new thinking text,
    ``tool_calls`` tool-call deltas, ``usage`` set when the provider reported usage in
    this event. ``finish_reason`` is normalised to ``"stop" | "length" | "tool_calls" |
    "content_filter" | "error" | None``; ``raw_finish_reason`` keeps the provider's value.
    ``raw_chunk`` is the provider's decoded event, ``index`` the chunk's position in the
    stream, ``token_count`` the tokens in ``content`` as the pipeline's counting stage
    measured them (``tokens.get_counter(model)``).

    The finish reason is set on exactly one chunk: the one built from the provider's event
    that carried it, so ``if chunk.finish_reason:`` fires once per stream. A stream that
    ended normally then yields one last chunk with ``is_complete=True``, no content, and
    the final ``usage`` (the provider's, or an estimate flagged ``is_estimated``); it does
    not repeat ``finish_reason`` / ``raw_finish_reason``: read them from
    ``stream.response`` (the aggregated :class:`ChatResponse`). Its ``metadata`` is
    ``{"terminal_event": False}`` when the stream was completed without the provider's
    terminal event (the finish reason had arrived, then the server went quiet or away).
    """

    content: str = ""
    finish_reason: str | None = None
    raw_finish_reason: str | None = None
    raw_chunk: Any = None
    index: int = 0
    usage: Usage | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    reasoning: str = ""
    token_count: int = 0
    is_complete: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, *, include_raw: bool = True) -> dict[str, Any]:
        """Every field as plain JSON types: ``usage`` and ``tool_calls`` as dicts,
        ``metadata`` without the entries JSON cannot carry, ``raw_chunk`` (the provider's
        decoded event) as is, or ``None`` if JSON cannot carry it; leave ``raw_chunk``
        out with ``include_raw=False``. ``json.dumps(chunk.to_dict())`` always works."""
        out: dict[str, Any] = {
            "content": self.content, "finish_reason": self.finish_reason,
            "raw_finish_reason": self.raw_finish_reason, "index": self.index,
            "usage": self.usage.to_dict(include_raw=include_raw) if self.usage is not None else None,
            "tool_calls": [delta.to_dict() for delta in self.tool_calls], "reasoning": self.reasoning,
            "token_count": self.token_count, "is_complete": self.is_complete,
            "metadata": {str(k): v for k, v in self.metadata.items() if _is_json(v)},
        }
        if include_raw:
            out["raw_chunk"] = _json_or_none(self.raw_chunk)
        return out


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A whole response: from ``chat()``, or aggregated from a stream (``stream.response``)."""

    content: str = ""
    finish_reason: str | None = None
    raw_finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    reasoning: str = ""
    model: str = ""
    provider: str = ""
    raw: Any = None

    def __str__(self) -> str:
        return self.content

    def to_dict(self, *, include_raw: bool = True) -> dict[str, Any]:
        """Every field as plain JSON types: ``usage`` as :meth:`Usage.to_dict`,
        ``tool_calls`` as a list of dicts, and ``raw`` (the provider's decoded answer, or
        the last event of a stream) as is, or ``None`` if JSON cannot carry it; leave it
        out with ``include_raw=False``. ``json.dumps(response.to_dict())`` always works."""
        out: dict[str, Any] = {
            "content": self.content, "finish_reason": self.finish_reason,
            "raw_finish_reason": self.raw_finish_reason, "usage": self.usage.to_dict(include_raw=include_raw),
            "cost_usd": self.cost_usd, "tool_calls": [call.to_dict() for call in self.tool_calls],
            "reasoning": self.reasoning, "model": self.model, "provider": self.provider,
        }
        if include_raw:
            out["raw"] = _json_or_none(self.raw)
        return out


_new = object.__new__


class _ChunkFields:
    """The slot layout of :class:`StreamChunk` without its frozen ``__setattr__``.

    :func:`make_chunk` fills one with plain attribute stores and then gives it
    ``StreamChunk``'s class; CPython allows ``__class__`` assignment between classes whose
    slots are the same. That is about half the cost of setting a frozen chunk's eleven
    slots through their descriptors, and this runs once for every chunk of every stream.
    """

    __slots__ = StreamChunk.__slots__


def make_chunk(
    content: str,
    finish_reason: str | None,
    raw_finish_reason: str | None,
    raw_chunk: Any,
    index: int,
    usage: Usage | None,
    tool_calls: tuple[ToolCallDelta, ...],
    reasoning: str,
    token_count: int,
    metadata: dict[str, Any],
) -> StreamChunk:
    """Build a StreamChunk from positional fields, bypassing the frozen-dataclass
    ``__init__`` (which costs several microseconds a chunk); equal to the keyword form."""
    chunk: Any = _new(_ChunkFields)
    chunk.content = content
    chunk.finish_reason = finish_reason
    chunk.raw_finish_reason = raw_finish_reason
    chunk.raw_chunk = raw_chunk
    chunk.index = index
    chunk.usage = usage
    chunk.tool_calls = tool_calls
    chunk.reasoning = reasoning
    chunk.token_count = token_count
    chunk.is_complete = False
    chunk.metadata = metadata
    chunk.__class__ = StreamChunk
    return chunk  # type: ignore[no-any-return]
