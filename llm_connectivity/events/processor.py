"""Event processors: filter, transform, measure and batch stream events.

    >>> from llm_connectivity.events import StreamDeltaEvent, StreamStartEvent, create_event_processor
    >>> processor = create_event_processor(event_types=["delta"])
    >>> [e.delta for e in processor.process([StreamStartEvent(), StreamDeltaEvent(delta="hi")])]
    ['hi']

An :class:`EventProcessor` runs each event through its filters (all must accept it), then
its transformers in order (each returns the event, a changed copy, or None to drop it),
then hands it to its handlers and to the batcher. It is used either over an iterable
(:meth:`EventProcessor.process`) or one event at a time (:meth:`EventProcessor.handle`,
which is what ``StreamingOptions(event_processor=...)`` does). Metrics (time to first
token, tokens per second, chunk count, duration) are kept per ``stream_id``. Batches are
flushed when ``batch_size`` events are waiting, when an event arrives more than
``batch_timeout_ms`` after the batch's first one, and when a stream completes or fails
(there is no timer thread).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError
from .types import EVENT_TYPES, StreamCompleteEvent, StreamDeltaEvent, StreamErrorEvent, StreamEvent

__all__ = ["EventProcessor", "EventTransformer", "PredicateFilter", "StreamMetrics", "create_event_processor"]


class PredicateFilter:
    """Keeps the events for which ``predicate(event)`` is true."""

    def __init__(self, predicate: Callable[[StreamEvent], bool], name: str = "") -> None:
        self.predicate = predicate
        self.name = name or getattr(predicate, "__name__", "filter")

    def __call__(self, event: StreamEvent) -> bool:
        return bool(self.predicate(event))

    def __repr__(self) -> str:
        return f"PredicateFilter({self.name})"


class EventTransformer:
    """Maps an event to a changed copy (or None to drop it) with ``function(event)``."""

    def __init__(self, function: Callable[[StreamEvent], StreamEvent | None], name: str = "") -> None:
        self.function = function
        self.name = name or getattr(function, "__name__", "transformer")

    def __call__(self, event: StreamEvent) -> StreamEvent | None:
        return self.function(event)

    def __repr__(self) -> str:
        return f"EventTransformer({self.name})"


@dataclass
class StreamMetrics:
    """Per-stream measurements (milliseconds, tokens per second over the streaming time)."""

    started: float = 0.0
    first_token_at: float | None = None
    last_event_at: float = 0.0
    chunk_count: int = 0
    tokens: int = 0

    @property
    def time_to_first_token_ms(self) -> float | None:
        """From the start event to the first delta with text."""
        return None if self.first_token_at is None else (self.first_token_at - self.started) * 1000

    @property
    def duration_ms(self) -> float:
        """From the start event to the latest event."""
        return (self.last_event_at - self.started) * 1000

    @property
    def tokens_per_second(self) -> float:
        """Output tokens per second since the first token (0 before two moments exist)."""
        if self.first_token_at is None or self.last_event_at <= self.first_token_at:
            return 0.0
        return self.tokens / (self.last_event_at - self.first_token_at)

    def as_dict(self) -> dict[str, Any]:
        """The metrics as plain values (what ``add_metrics`` puts in ``metadata["metrics"]``)."""
        return {"time_to_first_token_ms": self.time_to_first_token_ms, "tokens_per_second": self.tokens_per_second,
                "chunk_count": self.chunk_count, "duration_ms": self.duration_ms}


class EventProcessor:
    """Filters, transformers, handlers, metrics and batching over stream events.
    Thread-safe: one processor may serve many streams at once."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.filters: list[Callable[[StreamEvent], bool]] = []
        self.transformers: list[Callable[[StreamEvent], StreamEvent | None]] = []
        self.handlers: list[Callable[[StreamEvent], Any]] = []
        self.metrics: dict[str, StreamMetrics] = {}
        self.batch_size: int | None = None
        self.batch_timeout_ms: float | None = None
        self.batch_handler: Callable[[list[StreamEvent]], Any] | None = None
        self._batch: list[StreamEvent] = []
        self._batch_started = 0.0
        self._clock = clock
        self._lock = threading.Lock()

    def add_filter(self, event_filter: Callable[[StreamEvent], bool]) -> EventProcessor:
        """Keep only events ``event_filter`` accepts (a PredicateFilter or any predicate)."""
        self.filters.append(event_filter)
        return self

    def add_transformer(self, transformer: Callable[[StreamEvent], StreamEvent | None]) -> EventProcessor:
        """Pass events through ``transformer`` (an EventTransformer or any function)."""
        self.transformers.append(transformer)
        return self

    def add_handler(self, handler: Callable[[StreamEvent], Any]) -> EventProcessor:
        """Call ``handler`` with every event that passed the filters and transformers."""
        self.handlers.append(handler)
        return self

    def set_batching(self, size: int | None, timeout_ms: float | None,
                     handler: Callable[[list[StreamEvent]], Any] | None) -> EventProcessor:
        """Deliver processed events to ``handler`` in lists (see the module docstring)."""
        if handler is None and (size or timeout_ms):
            raise ConfigurationError("batch_size / batch_timeout_ms need a batch_handler")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ConfigurationError(f"batch_size must be an int >= 1, got {size!r}")
        self.batch_size, self.batch_timeout_ms, self.batch_handler = size, timeout_ms, handler
        return self

    def process(self, events: Iterable[StreamEvent]) -> Iterator[StreamEvent]:
        """Lazily yield the processed events of ``events``; flushes the batch at the end."""
        for event in events:
            out = self.handle(event)
            if out is not None:
                yield out
        self.flush()

    def handle(self, event: StreamEvent) -> StreamEvent | None:
        """Process one event; return it (possibly changed) or None when it was dropped."""
        self._measure(event)
        for accept in self.filters:
            if not accept(event):
                return None
        current = event
        for transform in self.transformers:
            changed = transform(current)
            if changed is None:
                return None
            current = changed
        for handler in self.handlers:
            handler(current)
        if self.batch_handler is not None:
            self._add_to_batch(current)
        if isinstance(event, (StreamCompleteEvent, StreamErrorEvent)):
            self.flush()
            with self._lock:
                self.metrics.pop(event.stream_id, None)
        return current

    def metrics_for(self, stream_id: str) -> StreamMetrics | None:
        """The metrics of a stream in progress."""
        return self.metrics.get(stream_id)

    def _measure(self, event: StreamEvent) -> None:
        now = self._clock()
        with self._lock:
            metrics = self.metrics.get(event.stream_id)
            if metrics is None:
                metrics = self.metrics[event.stream_id] = StreamMetrics(started=now)
        metrics.last_event_at = now
        if isinstance(event, StreamDeltaEvent):
            metrics.chunk_count += 1
            metrics.tokens += event.token_count
            if metrics.first_token_at is None and (event.delta or event.reasoning or event.tool_calls):
                metrics.first_token_at = now

    def _add_to_batch(self, event: StreamEvent) -> None:
        now = self._clock()
        with self._lock:
            if (self._batch and self.batch_timeout_ms is not None
                    and (now - self._batch_started) * 1000 >= self.batch_timeout_ms):
                ready, self._batch = self._batch, []
            else:
                ready = []
            if not self._batch:
                self._batch_started = now
            self._batch.append(event)
            if self.batch_size is not None and len(self._batch) >= self.batch_size:
                ready, self._batch = ready + self._batch, []
        if ready and self.batch_handler is not None:
            self.batch_handler(ready)

    def flush(self) -> None:
        """Deliver the events waiting in the batch."""
        with self._lock:
            ready, self._batch = self._batch, []
        if ready and self.batch_handler is not None:
            self.batch_handler(ready)


def _type_filter(event_types: Iterable[str | type[StreamEvent]]) -> PredicateFilter:
    classes: list[type[StreamEvent]] = []
    for item in event_types:
        if isinstance(item, str):
            cls = EVENT_TYPES.get(item.lower().removeprefix("stream").removesuffix("event") or item)
            if cls is None:
                raise ConfigurationError(f"unknown event type {item!r}; use one of {', '.join(EVENT_TYPES)} "
                                         "or the event classes")
            classes.append(cls)
        else:
            classes.append(item)
    kept = tuple(classes)
    return PredicateFilter(lambda event: isinstance(event, kept), name=f"types{[c.kind for c in kept]}")


def create_event_processor(*, event_types: Iterable[str | type[StreamEvent]] | None = None,
                           providers: Iterable[str] | None = None, add_correlation: bool = False,
                           add_timestamp: bool = False, add_metrics: bool = False,
                           batch_size: int | None = None, batch_timeout_ms: float | None = None,
                           batch_handler: Callable[[list[StreamEvent]], Any] | None = None) -> EventProcessor:
    """An :class:`EventProcessor` set up from keywords.

    ``event_types``: keep these (names like ``"delta"`` or classes); ``providers``: keep
    events of these providers; ``add_correlation``: ``metadata["correlation_id"]``, one id
    per stream; ``add_timestamp``: ``metadata["processed_at"]`` (epoch seconds);
    ``add_metrics``: ``metadata["metrics"]`` (:meth:`StreamMetrics.as_dict`); ``batch_*``:
    deliver events to ``batch_handler`` in lists.
    """
    processor = EventProcessor()
    if event_types is not None:
        processor.add_filter(_type_filter(event_types))
    if providers is not None:
        wanted = frozenset(providers)
        processor.add_filter(PredicateFilter(lambda event: event.provider in wanted, name="providers"))
    if add_correlation:
        processor.add_transformer(EventTransformer(_correlation(), name="correlation"))
    if add_timestamp:
        processor.add_transformer(EventTransformer(
            lambda event: event.replace(metadata={**event.metadata, "processed_at": time.time()}), name="timestamp"))
    if add_metrics:
        def with_metrics(event: StreamEvent) -> StreamEvent:
            """A copy of ``event`` with its stream's metrics in ``metadata["metrics"]``."""
            metrics = processor.metrics_for(event.stream_id)
            snapshot = metrics.as_dict() if metrics is not None else {}
            return event.replace(metadata={**event.metadata, "metrics": snapshot})
        processor.add_transformer(EventTransformer(with_metrics, name="metrics"))
    if batch_size is not None or batch_timeout_ms is not None or batch_handler is not None:
        processor.set_batching(batch_size, batch_timeout_ms, batch_handler)
    return processor


def _correlation() -> Callable[[StreamEvent], StreamEvent]:
    ids: dict[str, str] = {}
    lock = threading.Lock()

    def add(event: StreamEvent) -> StreamEvent:
        """A copy of ``event`` with its stream's ``metadata["correlation_id"]``."""
        with lock:
            correlation = ids.get(event.stream_id)
            if correlation is None:
                correlation = ids[event.stream_id] = uuid.uuid4().hex
            if isinstance(event, (StreamCompleteEvent, StreamErrorEvent)):
                ids.pop(event.stream_id, None)
        return event.replace(metadata={**event.metadata, "correlation_id": correlation})
    return add
