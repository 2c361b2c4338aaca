"""``stream_with_usage``: consume a stream with usage, cost, budget, JSON and typed events.

:func:`stream_with_usage` drives one :class:`~llm_connectivity.stream.ChatStream` to its
end and returns a :class:`StreamingResponse` (``get_text()``, ``get_json()``, ``usage``,
``cost_usd``, ``chunks``, ``events``). On the way it sends typed events to the callbacks
and to the options' event processor: start, a delta per chunk with output, then usage and
complete; on failure usage and one error event. A callback (or the budget) that raises
stops the stream cleanly: the connection is closed, ``on_error`` is called once, and the
exception reaches the caller, with ``partial_response`` (usage and cost included) when it
is an :class:`~llm_connectivity.errors.LLMError`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .accounting import handled_elsewhere
from .budget import Budget, CostMeter
from .errors import LLMError
from .events.callbacks import CallbackRunner
from .events.types import (
    StreamCompleteEvent,
    StreamErrorEvent,
    StreamEvent,
    StreamRetryEvent,
    StreamStartEvent,
    StreamUsageEvent,
    delta_event,
    new_event,
)
from .json_stream import JSONStreamError, JSONStreamParser, validate_json
from .models import ChatResponse, StreamChunk, Usage
from .pipeline import Notice
from .options import UNSET, StreamingOptions, Unset, resolve_options
from .pricing import Pricing, default_pricing
from .usage import UsageTracker

__all__ = ["CALLBACK_NAMES", "NoticeRelay", "StreamingResponse", "consume_stream", "stream_with_usage"]

logger = logging.getLogger("llm_connectivity")

CALLBACK_NAMES = ("on_start", "on_delta", "on_usage", "on_complete", "on_error", "on_retry")
_MISSING: Any = object()


class StreamingResponse:
    """The outcome of ``client.stream_with_usage(...)``.

    ``response`` is the aggregated :class:`ChatResponse` (usage and ``cost_usd`` set),
    ``chunks`` every StreamChunk received, ``events`` every event sent, ``usage`` and
    ``cost_usd`` the final figures, ``duration_ms`` the stream's wall time.
    """

    def __init__(self, *, response: ChatResponse, chunks: list[StreamChunk], events: list[StreamEvent],
                 duration_ms: float, json_parser: JSONStreamParser | None = None,
                 json_schema: Mapping[str, Any] | None = None, json_error: JSONStreamError | None = None) -> None:
        self.response = response
        self.chunks = chunks
        self.events = events
        self.duration_ms = duration_ms
        self._json_parser = json_parser
        self._json_schema = json_schema
        self._json_error = json_error
        self._json: Any = _MISSING

    @property
    def usage(self) -> Usage:
        """Final usage (``is_estimated`` when the provider reported none)."""
        return self.response.usage

    @property
    def cost_usd(self) -> float | None:
        """Cost in USD, None when the model's price is unknown."""
        return self.response.cost_usd

    def get_text(self) -> str:
        """The whole answer text."""
        return self.response.content

    def get_json(self) -> Any:
        """The answer parsed as JSON (validated against the schema when one applies);
        raises :class:`~llm_connectivity.json_stream.JSONStreamError` for invalid or
        truncated JSON (and its subclass ``JSONSchemaError`` for a schema mismatch)."""
        if self._json_error is not None:
            raise self._json_error  # the delta that made the JSON invalid
        if self._json is _MISSING:
            parser = self._json_parser
            if parser is None:
                parser = JSONStreamParser()
                parser.feed(self.response.content)
            value = parser.close()
            if self._json_schema is not None:
                validate_json(value, self._json_schema, text=parser.text)
            self._json = value
        return self._json

    def __repr__(self) -> str:
        return (f"<StreamingResponse {self.response.provider}/{self.response.model} {len(self.chunks)} chunks, "
                f"usage={self.usage.total_tokens} tokens{' (estimated)' if self.usage.is_estimated else ''}, "
                f"cost_usd={self.cost_usd}>")


def schema_of(params: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JSON schema of a ``json_schema`` ``response_format`` (None otherwise)."""
    fmt = params.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        inner = fmt.get("json_schema")
        schema = inner.get("schema") if isinstance(inner, Mapping) else None
        return schema if isinstance(schema, Mapping) else None
    return None


class _Emitter:
    """Builds events with the stream's base fields and delivers them."""

    def __init__(self, *, provider: str, model: str, callbacks: Mapping[str, Callable[..., Any] | None],
                 processor: Any) -> None:
        self.base: dict[str, Any] = {"provider": provider, "model": model, "stream_id": uuid.uuid4().hex}
        self.callbacks = callbacks
        self.processor = processor
        self.runner = CallbackRunner()
        self.events: list[StreamEvent] = []

    def emit(self, cls: type[StreamEvent], callback: str, **fields: Any) -> StreamEvent:
        """Build an event of ``cls`` with the stream's base fields and deliver it."""
        fields.update(self.base)
        fields["timestamp"] = time.time()
        return self.deliver(new_event(cls, fields), callback)

    def deliver(self, event: StreamEvent, callback: str) -> StreamEvent:
        """Record ``event``, hand it to the processor, then to the ``callback`` named."""
        self.events.append(event)
        if self.processor is not None:
            self.processor.handle(event)
        function = self.callbacks.get(callback)
        if function is not None:
            self.runner.call(function, event)
        return event


def _callbacks(options: StreamingOptions, given: Mapping[str, Callable[..., Any] | None]) -> dict[str, Any]:
    return {name: given.get(name) or getattr(options, name) for name in CALLBACK_NAMES}


def consume_stream(stream: Any, *, messages: Any, params: Mapping[str, Any], model: str, provider: str,
                   options: StreamingOptions, callbacks: Mapping[str, Callable[..., Any] | None],
                   pricing: Pricing | None = None, budget: Budget | None = None,
                   relay: NoticeRelay | None = None) -> StreamingResponse:
    """Drive ``stream`` (a ChatStream not yet started) to its end; see the module docstring.
    ``model`` is ``"provider/name"``. Errors about prices are raised before any I/O."""
    pricing = pricing or default_pricing()
    tracker = UsageTracker(messages=messages, tools=params.get("tools"), model=model, provider=provider,
                           kind=options.aggregator_type, prefer_tiktoken=options.prefer_tiktoken,
                           running=options.max_cost_usd is not None or budget is not None)
    try:
        meter = CostMeter.for_call(tracker, model, pricing, max_cost_usd=options.max_cost_usd, budget=budget,
                                   provider=provider)
    except BaseException:
        stream.close()
        raise
    json_mode = options.enable_json_handler or options.validate_json_incrementally  # validating implies parsing
    parser = JSONStreamParser() if json_mode else None
    emitter = _Emitter(provider=provider, model=model.partition("/")[2] or model,
                       callbacks=_callbacks(options, callbacks), processor=options.event_processor)
    if relay is not None:
        relay.emitter = emitter
    run = _Run(stream, emitter, tracker, meter, parser, options)
    try:
        response = run.drive(pricing, model)
    finally:
        emitter.runner.close()
    return StreamingResponse(response=response, chunks=run.chunks, events=emitter.events,
                             duration_ms=run.elapsed_ms(), json_parser=parser,
                             json_schema=options.json_schema or schema_of(params), json_error=run.json_error)


def _accounted_here(stream: Any) -> Iterator[StreamChunk]:
    """Iterate ``stream`` with the client's cost and budget stages standing aside while
    its own chunks are produced (not while callbacks run: a call a callback makes is
    accounted as usual)."""
    chunks = iter(stream)
    while True:
        token = handled_elsewhere.set(True)
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        finally:
            handled_elsewhere.reset(token)
        yield chunk


class _Run:
    """One stream being consumed."""

    def __init__(self, stream: Any, emitter: _Emitter, tracker: UsageTracker, meter: CostMeter | None,
                 parser: JSONStreamParser | None, options: StreamingOptions) -> None:
        self.stream = stream
        self.emitter = emitter
        self.tracker = tracker
        self.meter = meter
        self.parser = parser
        self.options = options
        self.chunks: list[StreamChunk] = []
        self.started = time.monotonic()
        self.json_error: JSONStreamError | None = None
        self.usage_sent = False

    def elapsed_ms(self) -> float:
        """Milliseconds since the run started."""
        return (time.monotonic() - self.started) * 1000

    def drive(self, pricing: Pricing, model: str) -> ChatResponse:
        """Consume the stream, sending the events; return the final response (or raise
        after the failure path: connection closed, usage and one error event sent)."""
        emit = self.emitter.emit
        try:
            emit(StreamStartEvent, "on_start")
            for chunk in _accounted_here(self.stream):
                self.chunks.append(chunk)
                if not chunk.is_complete:
                    self._on_chunk(chunk)
            response = self._finish(self.stream.response, complete=self.stream.is_complete, pricing=pricing,
                                    model=model)
            if self.chunks and self.chunks[-1].is_complete and response.cost_usd is not None:
                self.chunks[-1].metadata["cost_usd"] = response.cost_usd  # the final chunk carries the cost
            self.usage_sent = True
            emit(StreamUsageEvent, "on_usage", usage=response.usage, is_estimated=response.usage.is_estimated,
                 confidence=response.usage.confidence, cost_usd=response.cost_usd)
            emit(StreamCompleteEvent, "on_complete", total_chunks=len(self.chunks), duration_ms=self.elapsed_ms(),
                 final_usage=response.usage, cost_usd=response.cost_usd, response=response)
            return response
        except BaseException as exc:
            self._fail(exc, pricing, model)
            raise

    def _on_chunk(self, chunk: StreamChunk) -> None:
        self.tracker.add(chunk)
        if chunk.content or chunk.reasoning or chunk.tool_calls:
            partial = self._feed_json(chunk.content) if self.parser is not None else None
            event = delta_event(self.emitter.base, time.time(), chunk.content, chunk.index, self.parser is not None,
                                partial, chunk.reasoning, chunk.tool_calls, chunk.token_count, chunk)
            self.emitter.deliver(event, "on_delta")
        if self.meter is not None:  # after the delta: the caller sees everything that was paid for
            self.meter.update()

    def _feed_json(self, text: str) -> Any:
        parser = self.parser
        assert parser is not None
        if text and self.json_error is None:
            try:
                parser.feed(text)
            except JSONStreamError as exc:
                if self.options.validate_json_incrementally:
                    raise
                self.json_error = exc  # reported by get_json()
        return parser.value

    def _finish(self, response: ChatResponse, *, complete: bool, pricing: Pricing, model: str) -> ChatResponse:
        usage = self.tracker.usage(response, complete=complete) if self.options.enable_usage_aggregation \
            else response.usage
        cost = pricing.cost(usage, model)
        if self.meter is not None:
            self.meter.settle(cost)
        return dataclasses.replace(response, usage=usage, cost_usd=cost)

    def _fail(self, exc: BaseException, pricing: Pricing, model: str) -> None:
        """Close the connection, fix up the partial response, send usage and one error event."""
        self.stream.close()
        partial = self._finish(self.stream.response, complete=False, pricing=pricing, model=model)
        if isinstance(exc, LLMError) and self.options.preserve_partial_response:
            exc.partial_response = partial
        if not self.usage_sent:
            self.usage_sent = True
            try:
                self.emitter.emit(StreamUsageEvent, "on_usage", usage=partial.usage,
                                  is_estimated=partial.usage.is_estimated, confidence=partial.usage.confidence,
                                  cost_usd=partial.cost_usd)
            except Exception:  # noqa: BLE001 - the stream's own error is what the caller gets
                logger.exception("the on_usage callback raised while the stream was failing")
        try:
            self.emitter.emit(StreamErrorEvent, "on_error", error=exc, error_type=type(exc).__name__,
                              is_retryable=bool(getattr(exc, "is_retryable", False)))
        except Exception:  # noqa: BLE001
            logger.exception("the on_error callback raised")


def stream_with_usage(client: Any, messages: Any, callbacks: Mapping[str, Callable[..., Any] | None],
                      streaming_options: StreamingOptions | None, kwargs: dict[str, Any]) -> StreamingResponse:
    """``LLMClient.stream_with_usage``: merge the options (per call over the client's),
    start the client's stream and consume it (see :func:`consume_stream`)."""
    options = resolve_options(streaming_options, client.options)
    timeout = kwargs.pop("timeout", UNSET)
    if not isinstance(timeout, Unset):
        options = StreamingOptions.from_value(timeout, options)
    relay = NoticeRelay()
    observers = (relay, *kwargs.pop("observers", ()))
    stream = client.chat_stream(messages, timeout=options, observers=observers, **kwargs)
    initial = stream.response  # nothing is sent before the first next(): names only
    params = {**client.default_params, **kwargs}
    return consume_stream(stream, messages=messages, params=params, model=f"{initial.provider}/{initial.model}",
                          provider=initial.provider, options=options, callbacks=callbacks,
                          pricing=client.pricing, budget=client.budget, relay=relay)


class NoticeRelay:
    """A pipeline observer that turns the engine's notices into events: ``retry`` into a
    :class:`StreamRetryEvent` (``on_retry``), ``first_byte`` into the ``request_id`` of
    the events that follow."""

    def __init__(self) -> None:
        self.emitter: _Emitter | None = None

    def __call__(self, notice: Notice) -> None:
        emitter = self.emitter
        if emitter is None:
            return
        if notice.kind == "first_byte" and notice.request_id:
            emitter.base["request_id"] = notice.request_id
        elif notice.kind == "retry":
            token = handled_elsewhere.set(False)  # a call on_retry makes is accounted as usual
            try:
                emitter.emit(StreamRetryEvent, "on_retry", attempt=notice.attempt, delay=notice.delay,
                             reason=notice.reason, error=notice.error)
            finally:
                handled_elsewhere.reset(token)
