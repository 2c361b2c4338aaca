"""The observable stream pipeline: *stages* transform chunks, *observers* receive notices.

Every call (``chat``, ``chat_stream``, ``stream``) runs through one :class:`CallRun`:

- **Stages** see each :class:`~llm_connectivity.models.StreamChunk` on its way to the
  caller, in order, and return the chunk to pass on (the same one, or a changed copy).
  The built-in stages come first: token counting (sets ``chunk.token_count`` through
  :func:`llm_connectivity.tokens.get_counter`, the one place it is computed) and the
  accumulator that builds ``stream.response``; then the client's stages, then the call's.
  :meth:`Stage.on_response` sees the final :class:`~llm_connectivity.models.ChatResponse`
  (of ``chat()``, and of a stream once its terminal event arrived) and may return a copy,
  e.g. with ``cost_usd`` set. A stage that raises stops the call: the connection is
  closed, the error reaches the caller unchanged (an :class:`~llm_connectivity.errors.LLMError`
  gets ``partial_response``), nothing is retried.
- **Observers** are callables that receive a :class:`Notice` for each lifecycle step:
  ``start``, ``retry``, ``first_byte``, ``chunk``, ``usage``, ``error``, ``complete``.
  They cannot change the stream. An observer that raises stops the call like a stage
  (connection closed, error unchanged), except during the ``error`` notice, where the
  original error is raised and the observer's own is logged.

With no stages or observers beyond the built-in ones, the per-chunk cost is that of the
two built-in stages (``benchmarks/bench_pipeline.py`` measures it).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models import ChatResponse, StreamChunk, Usage
from .tokens import TokenCounter, get_counter

if TYPE_CHECKING:
    from .aggregate import ResponseAccumulator
    from .request import RequestSpec

__all__ = ["CallInfo", "CallRun", "Notice", "Observer", "Stage", "StreamContext"]

logger = logging.getLogger("llm_connectivity")

_stream_ids = itertools.count(1)

#: Every notice kind, in the order a successful stream sends them.
NOTICE_KINDS = ("start", "retry", "first_byte", "chunk", "usage", "error", "complete")


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What identifies one call: a process-unique ``stream_id``, the provider and model
    as the client resolved them, whether it streams, and its start time (clock seconds)."""

    stream_id: int
    provider: str
    model: str
    stream: bool
    started: float


@dataclass(slots=True)
class Notice:
    """One lifecycle step of a call, sent to every observer (treat it as read-only: the
    same notice reaches every observer; it is not frozen because building a frozen
    dataclass costs five times as much on the per-chunk path).

    ``kind`` and the fields it fills:

    - ``start``: before the first request is sent (``call``).
    - ``retry``: a failed attempt will be repeated: ``attempt`` (the one that failed,
      1-based), ``delay`` (seconds before the next), ``reason``, ``error``.
    - ``first_byte``: the response headers of the attempt that streams arrived and its
      first body bytes are in: ``request_id``, ``duration`` (seconds since start).
    - ``chunk``: a chunk is about to reach the caller: ``chunk``.
    - ``usage``: the provider reported usage: ``usage`` (and ``chunk`` when streaming).
    - ``error``: the call failed for good, or the caller stopped the stream before its
      end (``StreamInterruptedError("the stream was closed by the caller")``): ``error``,
      ``is_retryable`` (the error's own verdict; the policy's retries are already spent).
    - ``complete``: the call succeeded: ``chunk_count``, ``duration``, ``usage`` (final),
      ``response`` (after the stages' ``on_response``), ``request_id``.
    """

    kind: str
    call: CallInfo
    chunk: StreamChunk | None = None
    usage: Usage | None = None
    error: BaseException | None = None
    is_retryable: bool = False
    attempt: int = 0
    delay: float = 0.0
    reason: str = ""
    request_id: str | None = None
    chunk_count: int = 0
    duration: float = 0.0
    response: ChatResponse | None = None


#: An observer: any callable taking a :class:`Notice` (a function, a bound method, an
#: object with ``__call__``). It runs in the thread that reads the stream.
Observer = Callable[[Notice], None]


@dataclass(slots=True)
class StreamContext:
    """Per-call state a stage can read: ``info``, the request ``spec``, the ``accumulator``
    (None for ``chat()``), the token ``counter`` for the model, and ``state``, a dict
    for the stages' own per-call values (stages are shared between calls and threads:
    keep per-call state here, keyed by something unique to the stage)."""

    info: CallInfo
    spec: RequestSpec
    accumulator: ResponseAccumulator | None
    counter: TokenCounter
    state: dict[Any, Any] = field(default_factory=dict)


class Stage:
    """Base class of pipeline stages; override either method (the defaults pass through).

    A stage instance may serve many calls at once (from the client's ``stages=``): keep
    per-call values in ``context.state``. To stop a stream (a budget exceeded), raise an
    :class:`~llm_connectivity.errors.LLMError` subclass from :meth:`on_chunk`.
    """

    def on_chunk(self, chunk: StreamChunk, context: StreamContext) -> StreamChunk:
        """Return the chunk to pass on (``chunk`` itself, or a changed copy)."""
        return chunk

    def on_response(self, response: ChatResponse, context: StreamContext) -> ChatResponse:
        """Return the final response (``response``, or a copy, e.g. with ``cost_usd``)."""
        return response


_set_token_count: Callable[[StreamChunk, int], None] = getattr(StreamChunk, "token_count").__set__


def _token_counting(counter: TokenCounter) -> Callable[[StreamChunk, StreamContext], StreamChunk]:
    """The built-in counting step for one call: ``chunk.token_count`` = the model's counter
    applied to ``chunk.content`` (before anyone else sees the chunk), the counter bound."""
    count = counter.count

    def on_chunk(chunk: StreamChunk, context: StreamContext) -> StreamChunk:
        text = chunk.content
        _set_token_count(chunk, count(text) if text else 0)
        return chunk

    return on_chunk


ChunkFn = Callable[[StreamChunk, StreamContext], StreamChunk]


def _overrides(stage: Stage, name: str) -> bool:
    return getattr(type(stage), name, None) is not getattr(Stage, name)


class CallRun:
    """The pipeline of one call: its context, its chunk functions and its observers.

    ``builtin`` (token counting, and the accumulator when streaming) and ``user`` (the
    stages' ``on_chunk``, then the observers' chunk notices) are the chunk functions the
    engine applies in turn; the final ``is_complete`` chunk goes through ``user`` only.
    """

    __slots__ = ("context", "builtin", "user", "stages", "observers", "failed", "clock")

    def __init__(self, *, provider: str, model: str, spec: RequestSpec, accumulator: ResponseAccumulator | None,
                 stages: Sequence[Stage], observers: Sequence[Observer], clock: Callable[[], float]) -> None:
        info = CallInfo(next(_stream_ids), provider, model, spec.stream, clock())
        self.clock = clock
        self.context = StreamContext(info, spec, accumulator, get_counter(f"{provider}/{model}"))
        self.stages = tuple(stages)
        self.observers = tuple(observers)
        self.failed = False  # a stage or observer raised: never retried
        self.builtin: list[ChunkFn] = [_token_counting(self.context.counter)]
        if accumulator is not None:
            self.builtin.append(accumulator.on_chunk)
        self.user: list[ChunkFn] = [s.on_chunk for s in self.stages if _overrides(s, "on_chunk")]
        if self.observers:
            self.user.append(self._notify_chunk)

    @property
    def info(self) -> CallInfo:
        """The call's :class:`CallInfo`."""
        return self.context.info

    def elapsed(self) -> float:
        """Seconds since the call started."""
        return self.clock() - self.context.info.started

    def notify(self, kind: str, **fields: Any) -> None:
        """Send a notice to every observer (nothing to do without observers)."""
        if not self.observers:
            return
        notice = Notice(kind, self.context.info, **fields)
        try:
            for observer in self.observers:
                observer(notice)
        except BaseException:
            self.failed = True
            raise

    def notify_error(self, error: BaseException) -> None:
        """The ``error`` notice; an observer that raises here is logged, not raised."""
        if not self.observers:
            return
        retryable = bool(getattr(error, "is_retryable", False))
        notice = Notice("error", self.context.info, error=error, is_retryable=retryable)
        for observer in self.observers:
            try:
                observer(notice)
            except Exception:  # noqa: BLE001 - the call's own error is what the caller gets
                logger.exception("observer %r raised while handling the error notice", observer)

    def _notify_chunk(self, chunk: StreamChunk, context: StreamContext) -> StreamChunk:
        notices = [Notice("chunk", context.info, chunk)]
        if chunk.usage is not None and not chunk.is_complete:
            notices.append(Notice("usage", context.info, chunk, chunk.usage))
        try:
            for notice in notices:
                for observer in self.observers:
                    observer(notice)
        except BaseException:
            self.failed = True
            raise
        return chunk

    def apply(self, chunk: StreamChunk, fns: Sequence[ChunkFn]) -> StreamChunk:
        """Pass ``chunk`` through ``fns``; a raise marks the call failed (not retried)."""
        context = self.context
        try:
            for fn in fns:
                chunk = fn(chunk, context)
                if chunk.__class__ is not StreamChunk and not isinstance(chunk, StreamChunk):
                    raise _returned(fn, chunk, "chunk")
        except BaseException:
            self.failed = True
            raise
        return chunk

    def finish(self, response: ChatResponse) -> ChatResponse:
        """Run the stages' :meth:`Stage.on_response` over the final response."""
        context = self.context
        try:
            for stage in self.stages:
                response = stage.on_response(response, context)
                if not isinstance(response, ChatResponse):
                    raise _returned(stage.on_response, response, "response")
        except BaseException:
            self.failed = True
            raise
        return response


def _returned(method: Callable[..., Any], value: Any, what: str) -> TypeError:
    """The error for a stage method that returned something other than ``what``."""
    owner = getattr(method, "__self__", None)
    name = (f"{type(owner).__name__}.{getattr(method, '__name__', '?')}" if owner is not None
            else getattr(method, "__qualname__", repr(method)))
    return TypeError(f"{name} returned {type(value).__name__ if value is not None else 'None'}; return the "
                     f"{what} (the one it was given, or a changed copy made with dataclasses.replace)")
