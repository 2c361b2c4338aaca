"""Typed stream events, callbacks and event processors (see ``docs/events.md``).

    >>> from llm_connectivity.events import StreamDeltaEvent
    >>> StreamDeltaEvent(delta="Hello").get_text()
    'Hello'
"""

from __future__ import annotations

from .processor import EventProcessor, EventTransformer, PredicateFilter, StreamMetrics, create_event_processor
from .types import (
    EVENT_TYPES,
    StreamCompleteEvent,
    StreamDeltaEvent,
    StreamErrorEvent,
    StreamEvent,
    StreamRetryEvent,
    StreamStartEvent,
    StreamUsageEvent,
)

__all__ = [
    "EVENT_TYPES",
    "EventProcessor",
    "EventTransformer",
    "PredicateFilter",
    "StreamCompleteEvent",
    "StreamDeltaEvent",
    "StreamErrorEvent",
    "StreamEvent",
    "StreamMetrics",
    "StreamRetryEvent",
    "StreamStartEvent",
    "StreamUsageEvent",
    "create_event_processor",
]
