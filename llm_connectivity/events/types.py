"""Typed stream events: what ``stream_with_usage`` callbacks and event processors receive.

Every event shares the base fields of :class:`StreamEvent` (``provider``, ``model``,
``request_id``, ``stream_id``, ``timestamp``, ``metadata``). A successful stream sends
``StreamStartEvent``, then a ``StreamDeltaEvent`` per chunk with content, reasoning or
tool-call data, then one ``StreamUsageEvent`` and one ``StreamCompleteEvent``. A failed
stream sends its ``StreamUsageEvent`` (what is known) and one ``StreamErrorEvent``
instead of the completion. ``StreamRetryEvent`` reports a failed attempt that will be
repeated. Events are frozen; ``.replace(**changes)`` makes a changed copy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..models import ChatResponse, StreamChunk, ToolCallDelta, Usage

__all__ = ["StreamCompleteEvent", "StreamDeltaEvent", "StreamErrorEvent", "StreamEvent", "StreamRetryEvent",
           "StreamStartEvent", "StreamUsageEvent", "EVENT_TYPES", "delta_event", "new_event"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamEvent:
    """Base of every event: where it comes from and when (``timestamp``: epoch seconds)."""

    provider: str = ""
    model: str = ""
    request_id: str | None = None
    stream_id: str = ""
    timestamp: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    #: short name used by filters (``create_event_processor(event_types=["delta"])``)
    kind = "event"

    def replace(self, **changes: Any) -> StreamEvent:
        """A copy with ``changes`` applied (e.g. ``metadata={...}``)."""
        cls = type(self)
        table = _SETTERS.get(cls) or _setters(cls)
        unknown = changes.keys() - {name for name, _, _ in table}
        if unknown:
            raise TypeError(f"{cls.__name__} has no fields {sorted(unknown)}")
        copy = _new(cls)
        for name, setter, _ in table:
            setter(copy, changes[name] if name in changes else getattr(self, name))
        return copy


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStartEvent(StreamEvent):
    """The stream is about to send its request."""

    kind = "start"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamDeltaEvent(StreamEvent):
    """New output: ``delta`` (answer text), ``reasoning``, ``tool_calls`` deltas.

    ``chunk_index`` counts the stream's chunks; with the JSON handler on, ``is_json`` is
    True and ``partial_json`` is the value parsed so far. It is the parser's live value
    (copying it per delta would make a stream quadratic): read it in the callback, and
    ``copy.deepcopy`` it to keep that state. ``str(event)`` is the text.
    """

    delta: str = ""
    chunk_index: int = 0
    is_json: bool = False
    partial_json: Any = None
    reasoning: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    token_count: int = 0
    chunk: StreamChunk | None = field(default=None, repr=False, compare=False)

    kind = "delta"

    def get_text(self) -> str:
        """The answer text of this delta."""
        return self.delta

    def __str__(self) -> str:
        return self.delta


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamUsageEvent(StreamEvent):
    """The stream's usage: the provider's report, or an estimate (``is_estimated``) with
    its ``confidence``; ``cost_usd`` when the model's price is known."""

    usage: Usage = field(default_factory=Usage)
    is_estimated: bool = False
    confidence: float = 1.0
    cost_usd: float | None = None

    kind = "usage"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamCompleteEvent(StreamEvent):
    """The stream ended normally: chunk count, duration, final usage and the response."""

    total_chunks: int = 0
    duration_ms: float = 0.0
    final_usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    response: ChatResponse | None = field(default=None, repr=False, compare=False)

    kind = "complete"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamErrorEvent(StreamEvent):
    """The stream failed: the exception, its class name, and whether a retry could succeed."""

    error: BaseException | None = None
    error_type: str = ""
    is_retryable: bool = False

    kind = "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamRetryEvent(StreamEvent):
    """Attempt ``attempt`` failed for ``reason``; the next starts after ``delay`` seconds."""

    attempt: int = 0
    delay: float = 0.0
    reason: str = ""
    error: BaseException | None = None

    kind = "retry"


#: Event classes by their short name.
EVENT_TYPES: dict[str, type[StreamEvent]] = {cls.kind: cls for cls in (
    StreamStartEvent, StreamDeltaEvent, StreamUsageEvent, StreamCompleteEvent, StreamErrorEvent, StreamRetryEvent)}


_new = object.__new__
_SETTERS: dict[type[StreamEvent], tuple[tuple[str, Any, Any], ...]] = {}


def _setters(cls: type[StreamEvent]) -> tuple[tuple[str, Any, Any], ...]:
    table = []
    for f in dataclasses.fields(cls):
        factory = f.default_factory if f.default_factory is not dataclasses.MISSING else None
        table.append((f.name, getattr(cls, f.name).__set__, factory if factory is not None else f.default))
    _SETTERS[cls] = out = tuple(table)
    return out


def new_event(cls: type[StreamEvent], fields: dict[str, Any]) -> StreamEvent:
    """Build an event of ``cls`` from ``fields`` without the frozen-dataclass ``__init__``
    (several microseconds an event on the per-chunk path); equal to ``cls(**fields)``."""
    event = _new(cls)
    get = fields.get
    for name, setter, default in _SETTERS.get(cls) or _setters(cls):
        value = get(name, _NOTHING)
        if value is _NOTHING:
            value = default() if callable(default) and name in _FACTORY_FIELDS else default
        setter(event, value)
    return event


_NOTHING: Any = object()
_FACTORY_FIELDS = frozenset({"metadata", "usage", "final_usage"})


_DELTA_FIELDS = ("provider", "model", "request_id", "stream_id", "timestamp", "metadata", "delta", "chunk_index",
                 "is_json", "partial_json", "reasoning", "tool_calls", "token_count", "chunk")
(_S_PROVIDER, _S_MODEL, _S_REQUEST_ID, _S_STREAM_ID, _S_TIMESTAMP, _S_METADATA, _S_DELTA, _S_INDEX, _S_IS_JSON,
 _S_PARTIAL, _S_REASONING, _S_TOOLS, _S_TOKENS, _S_CHUNK) = (getattr(StreamDeltaEvent, name).__set__
                                                             for name in _DELTA_FIELDS)


def delta_event(base: dict[str, Any], timestamp: float, delta: str, chunk_index: int, is_json: bool,
                partial_json: Any, reasoning: str, tool_calls: tuple[ToolCallDelta, ...], token_count: int,
                chunk: StreamChunk | None) -> StreamDeltaEvent:
    """The per-chunk event, built field by field (the hot path of ``stream_with_usage``);
    ``base`` holds provider, model, request_id and stream_id. Equal to the keyword form."""
    event = _new(StreamDeltaEvent)
    _S_PROVIDER(event, base["provider"])
    _S_MODEL(event, base["model"])
    _S_REQUEST_ID(event, base.get("request_id"))
    _S_STREAM_ID(event, base["stream_id"])
    _S_TIMESTAMP(event, timestamp)
    _S_METADATA(event, {})
    _S_DELTA(event, delta)
    _S_INDEX(event, chunk_index)
    _S_IS_JSON(event, is_json)
    _S_PARTIAL(event, partial_json)
    _S_REASONING(event, reasoning)
    _S_TOOLS(event, tool_calls)
    _S_TOKENS(event, token_count)
    _S_CHUNK(event, chunk)
    return event
