"""The exchange engine: sends one call, retries it, streams it, continues it.

:class:`Engine` is owned by one :class:`~llm_connectivity.client.LLMClient`; it holds the
transport, the clock, and the little state a client shares between calls (parameter
overrides a server asked for, per base URL: see :meth:`ProviderDriver.recover_params`).
Each call brings its own immutable :class:`Call`, its own
:class:`~llm_connectivity.deadline.Deadline`, its own accumulator and its own
:class:`~llm_connectivity.pipeline.CallRun` (stages and observers), so one engine serves
many threads at once. This is the only layer that sleeps (through the clock).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .aggregate import ResponseAccumulator
from .continuation import continuation_call, finish_response, mark_continuation, stripped_tail
from .deadline import SYSTEM_CLOCK, Clock, Deadline, SystemClock
from .errors import (
    APIStatusError,
    ConfigurationError,
    LLMError,
    NetworkError,
    StreamInterruptedError,
    TimeoutError,
    request_id_from,
)
from .models import ChatResponse, StreamChunk
from .options import StreamingOptions
from .pipeline import CallRun, Observer, Stage
from .providers.base import ProviderDriver, decode_json
from .request import RequestSpec
from .retry import RetryPolicy
from .security import redact_url, scrub_error, url_secrets
from .transport import Cancellation, get_interceptor

if TYPE_CHECKING:
    from .transport import Response as HTTPResponse
    from .transport import Transport

__all__ = ["Call", "Engine", "StreamHandle", "Target"]

logger = logging.getLogger("llm_connectivity")

CLOSED = "this LLMClient is closed; create a new one (close it only when you are done with it)"
_MAX_ERROR_BODY = 64 * 1024
_MISSING = object()
_MAX_JSON_BODY = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved model string: which driver, which model name, where, with which key."""

    provider: str
    model: str
    driver: ProviderDriver
    base_url: str
    api_key: str | None = field(repr=False)

    def __repr__(self) -> str:
        return f"Target({self.provider!r}, {self.model!r}, base_url={redact_url(self.base_url)!r})"


@dataclass(frozen=True, slots=True)
class Call:
    """Everything one call needs; built per call, never shared."""

    target: Target
    spec: RequestSpec
    options: StreamingOptions
    retry: RetryPolicy
    stages: tuple[Stage, ...] = ()
    observers: tuple[Observer, ...] = ()


class StreamHandle(Cancellation):
    """Lets :meth:`ChatStream.close` from any thread stop the stream: it marks the stream
    aborted, wakes a retry backoff, and (through the callbacks the transport and the
    engine register) shuts down the connection being read or awaited. A thread reading
    the stream then raises ``StreamInterruptedError("...closed by the caller")``."""

    __slots__ = ()

    @property
    def aborted(self) -> bool:
        """True once :meth:`abort` was called."""
        return self.cancelled

    def abort(self) -> None:
        """Stop the stream from any thread (see the class docstring)."""
        self.cancel()

    def check(self, provider: str) -> None:
        """Raise if the stream was aborted."""
        if self.cancelled:
            raise StreamInterruptedError("the stream was closed by the caller", provider=provider)


def _first_byte(pieces: Iterator[bytes], run: CallRun, request_id: str | None) -> Iterator[bytes]:
    """Pass ``pieces`` on; send the ``first_byte`` notice when the first one arrives."""
    for piece in pieces:
        run.notify("first_byte", request_id=request_id, duration=run.elapsed())
        yield piece
        break
    yield from pieces


class Engine:
    """Sends calls through one transport; see the module docstring."""

    def __init__(self, transport: Transport, clock: Clock = SYSTEM_CLOCK) -> None:
        self.transport = transport
        self.clock = clock
        self._lock = threading.Lock()
        self._recovered: dict[str, dict[str, Any]] = {}
        self.closed = False  # set by LLMClient.close(): no new request is sent

    def remembered_params(self, base_url: str) -> dict[str, Any]:
        """Parameter overrides ``base_url`` asked for on an earlier call (e.g.
        ``{"stream_options": None}``); the client applies them to later calls."""
        return self._recovered.get(base_url, {})

    # -- one exchange -------------------------------------------------------------------------
    def send(self, call: Call, deadline: Deadline, handle: StreamHandle | None = None) -> HTTPResponse:
        """Send once; return a 2xx response or raise the typed error for the status."""
        if self.closed:
            raise ConfigurationError(CLOSED, provider=call.target.provider)
        request = call.target.driver.build_request(call.spec)
        started = deadline.now()
        interceptor = get_interceptor()
        if interceptor is None:
            response = self.transport.send(request, connect_timeout=call.options.connection_timeout,
                                           deadline=deadline, provider=call.target.provider, cancel=handle)
        else:
            response = interceptor.send(self.transport, request, connect_timeout=call.options.connection_timeout,
                                        deadline=deadline, provider=call.target.provider, cancel=handle)
        logger.info("%s %s -> %d (%s, %.0f ms)", request.method, redact_url(request.url), response.status_code,
                    call.target.provider, (deadline.now() - started) * 1000)
        if 200 <= response.status_code < 300:
            return response
        try:
            body = response.read_body(deadline, _MAX_ERROR_BODY)
        except NetworkError:  # the status already says what happened; keep it
            body = b""
        if 300 <= response.status_code < 400:
            location = redact_url(response.headers.get("location", ""))
            error: APIStatusError = APIStatusError(
                f"{call.target.provider} base_url redirected (HTTP {response.status_code}) to {location!r}; "
                "use that URL as base_url", provider=call.target.provider, status_code=response.status_code,
                body=body[:2048])
        else:
            error = call.target.driver.error_from_response(response.status_code, response.headers, body)
        error.headers = {k.lower(): v for k, v in response.headers.items()}
        raise error

    def may_retry(self, call: Call, exc: LLMError, attempt: int, deadline: Deadline,
                  handle: StreamHandle | None = None, run: CallRun | None = None) -> bool:
        """Wait and return True if ``exc`` on try ``attempt`` should be retried (False if
        the stream was closed by the caller during the wait)."""
        decision = call.retry.decide(exc, attempt, getattr(exc, "headers", None))
        if not decision.retry:
            return False
        if deadline.total_at is not None and deadline.now() + decision.delay >= deadline.total_at:
            return False
        logger.info("retrying %s request (attempt %d of %d) in %.2fs: %s", call.target.provider,
                    attempt + 1, call.retry.max_retries + 1, decision.delay, decision.reason)
        if run is not None:  # observers see the error as the caller would: scrubbed
            run.notify("retry", attempt=attempt, delay=decision.delay, reason=decision.reason,
                       error=_scrubbed(exc, call))
        return not self.pause(decision.delay, handle)

    def pause(self, seconds: float, handle: Cancellation | None) -> bool:
        """Wait ``seconds`` on the clock; return True if ``handle`` was cancelled (a
        system-clock wait ends at once on cancel)."""
        if isinstance(self.clock, SystemClock) and handle is not None:
            return handle.wait(seconds)
        self.clock.sleep(seconds)
        return handle is not None and handle.cancelled

    def recover(self, call: Call, exc: LLMError) -> Call | None:
        """The call with the driver's parameter overrides for ``exc`` applied (see
        :meth:`ProviderDriver.recover_params`), remembered for the base URL; None if the
        driver has none or they are already in force."""
        driver = call.target.driver
        overrides = driver.recover_params(call.spec, exc)
        if not overrides:
            return None
        params = {**call.spec.params, **overrides}
        if params == call.spec.params:
            return None
        base_url = call.target.base_url
        with self._lock:  # copy on write: readers never see a dict being changed
            self._recovered = {**self._recovered, base_url: {**self._recovered.get(base_url, {}), **overrides}}
        return dataclasses.replace(call, spec=dataclasses.replace(call.spec, params=params))

    def _again(self, call: Call, exc: LLMError, attempt: int, recovered: bool, deadline: Deadline,
               handle: StreamHandle | None, run: CallRun) -> tuple[Call, int, bool] | None:
        """After a failed attempt: ``(call, attempt, recovered)`` to send next (the driver's
        parameter recovery, once and at once, not counted; else a policy retry after its
        wait), or None to give up."""
        retry_call = None if recovered else self.recover(call, exc)
        if retry_call is not None:
            changes = ", ".join(f"{k}={v!r}" for k, v in retry_call.spec.params.items()
                                if call.spec.params.get(k, _MISSING) != v)
            reason = f"the server refused the request as sent; sending it again with {changes}"
            logger.info("%s: %s", call.target.provider, reason)
            run.notify("retry", attempt=attempt, delay=0.0, reason=reason, error=_scrubbed(exc, call))
            return retry_call, attempt - 1, True
        if self.may_retry(call, exc, attempt, deadline, handle, run):
            return call, attempt, recovered
        return None

    def _run(self, call: Call, acc: ResponseAccumulator | None) -> CallRun:
        return CallRun(provider=call.target.provider, model=call.spec.model, spec=call.spec, accumulator=acc,
                       stages=call.stages, observers=call.observers, clock=self.clock.monotonic)

    # -- non-streaming ------------------------------------------------------------------------
    def chat(self, call: Call, deadline: Deadline) -> ChatResponse:
        """One non-streaming call, retried per the policy, through the stages' ``on_response``."""
        run = self._run(call, None)
        run.notify("start")
        attempt = 0
        recovered = False
        while True:
            attempt += 1
            try:
                response = self.send(call, deadline)
                body = response.read_body(deadline, _MAX_JSON_BODY)
                payload = decode_json(body, provider=call.target.provider, what="response body")
                parsed = call.target.driver.parse_response(payload, call.spec)
                result = run.finish(finish_response(parsed, call.spec, call.target.provider))
                run.notify("usage", usage=result.usage)
                run.notify("complete", duration=run.elapsed(), usage=result.usage, response=result,
                           request_id=request_id_from(response.headers))
                return result
            except LLMError as exc:
                again = None if run.failed else self._again(call, exc, attempt, recovered, deadline, None, run)
                if again is not None:
                    call, attempt, recovered = again
                    continue
                error = _scrubbed(exc, call)
                run.notify_error(error)
                raise error from exc.__cause__
            except Exception as exc:  # a bug, or a stage / observer raising a foreign error
                run.notify_error(exc)
                raise

    # -- streaming ----------------------------------------------------------------------------
    def stream(self, call: Call, acc: ResponseAccumulator, make_deadline: Callable[[], Deadline],
               handle: StreamHandle) -> Iterator[StreamChunk]:
        """Yield the chunks of ``call``: retries before content, opt-in continuation after.
        The clock starts at the first ``next()``, when the request is sent."""
        deadline = make_deadline()
        run = self._run(call, acc)
        run.notify("start")
        original = call
        attempt = reconnects = 0
        recovered = False
        provider = call.target.provider
        while True:
            attempt += 1
            deadline.mark_content()  # each attempt gets the whole content-idle allowance
            deadline.grace_at = None
            response: HTTPResponse | None = None
            try:
                handle.check(provider)
                response = self.send(call, deadline, handle)
                handle.add_callback(response.abort)
                handle.check(provider)
                yield from self._chunks(call, response, acc, deadline, reconnects, handle, run)
                yield self._final_chunk(run, acc, response)
                response.drain(deadline)  # lets the connection go back to the pool
                return
            except LLMError as exc:
                if not run.failed and not handle.aborted and self._ended_after_finish(exc, acc, deadline):
                    pass  # complete below, after the connection is closed
                else:
                    again = None
                    if not run.failed and not handle.aborted and not acc.has_output:
                        again = self._again(call, exc, attempt, recovered, deadline, handle, run)
                    if again is not None:
                        call, attempt, recovered = again
                        continue
                    resumed = None
                    if not run.failed and not handle.aborted:
                        resumed = continuation_call(original, exc, acc, reconnects, deadline, self.pause, handle)
                    if resumed is not None:
                        call, attempt, reconnects = resumed, 0, reconnects + 1
                        continue
                    if handle.aborted:
                        exc = StreamInterruptedError("the stream was closed by the caller", provider=provider)
                    error = self._final_error(exc, call, acc, response)
                    run.notify_error(error)
                    raise error from exc.__cause__
            except Exception as exc:  # a bug, or a stage / observer raising a foreign error
                run.notify_error(exc)
                raise
            except GeneratorExit:  # the caller stopped early (break, close()): say so, as a close
                if not acc.complete:  # from another thread does, so that no observer waits forever
                    closed = StreamInterruptedError("the stream was closed by the caller", provider=provider)
                    run.notify_error(self._final_error(closed, call, acc, response))
                raise
            finally:
                if response is not None:
                    handle.remove_callback(response.abort)
                    response.close()
            try:  # the answer was whole: complete it (stages may still refuse it)
                yield self._final_chunk(run, acc, None)
            except LLMError as exc:
                error = self._final_error(exc, call, acc, None)
                run.notify_error(error)
                raise error from exc.__cause__
            return

    def _ended_after_finish(self, exc: LLMError, acc: ResponseAccumulator, deadline: Deadline) -> bool:
        """The finish reason arrived but the terminal event did not follow within the
        grace (or any other time limit fired first): the answer is whole, so the stream
        completes (``terminal_event`` False)."""
        if not (isinstance(exc, TimeoutError) and deadline.grace_at is not None
                and acc.finish_reason is not None):
            return False
        acc.terminal_event = False
        logger.warning("%s sent the finish reason but not the stream's terminal event; completing the "
                       "stream without it (%s)", acc.provider, exc.message)
        return True

    def _chunks(self, call: Call, response: HTTPResponse, acc: ResponseAccumulator, deadline: Deadline,
                reconnects: int, handle: StreamHandle, run: CallRun) -> Iterator[StreamChunk]:
        """The driver's chunks for one response, through the pipeline's chunk functions."""
        provider = call.target.provider
        driver = call.target.driver
        pieces = response.iter_bytes(deadline)
        if run.observers:
            pieces = _first_byte(pieces, run, request_id_from(response.headers))
        chunks = driver.iter_chunks(driver.iter_events(pieces, response.content_type), call.spec)
        if reconnects:
            chunks = mark_continuation(chunks, reconnects, stripped_tail(acc.content))
        mark = deadline.mark_content if deadline.idle_timeout is not None else None
        timed = mark is not None  # give the consumer's time back to the idle and grace limits
        finished = False
        now = deadline.now
        count, add = run.builtin  # token counting, then the accumulator
        user = run.user
        apply = run.apply
        context = run.context
        aborted = handle._event.is_set
        for chunk in chunks:
            if aborted():  # closed by another thread while this one was away
                handle.check(provider)
            if mark is not None and (chunk.content or chunk.reasoning or chunk.tool_calls):
                mark()
            if finished or chunk.finish_reason is not None:
                deadline.start_grace()  # the terminal event is due within the grace of the last event
                finished = timed = True
            chunk = add(count(chunk, context), context)
            if user:
                chunk = apply(chunk, user)
            if timed:
                paused = now()
                yield chunk
                deadline.pause(now() - paused)
            else:
                yield chunk

    def _final_chunk(self, run: CallRun, acc: ResponseAccumulator, response: HTTPResponse | None) -> StreamChunk:
        """The stream is whole: settle the final response (stages' ``on_response``) and
        build the closing ``is_complete`` chunk; send the ``complete`` notice."""
        final = run.finish(acc.build())
        acc.final = final
        acc.complete = True
        metadata: dict[str, Any] = {} if acc.terminal_event else {"terminal_event": False}
        chunk = StreamChunk(usage=final.usage, index=acc.chunk_count, is_complete=True, metadata=metadata)
        chunk = run.apply(chunk, run.user)
        run.notify("complete", chunk_count=acc.chunk_count, duration=run.elapsed(), usage=final.usage,
                   response=final, request_id=request_id_from(response.headers) if response is not None else None)
        return chunk

    def _final_error(self, exc: LLMError, call: Call, acc: ResponseAccumulator,
                     response: HTTPResponse | None) -> LLMError:
        """Attach what the caller needs (partial response, request id) and scrub the key."""
        if isinstance(exc, APIStatusError) and exc.request_id is None and response is not None:
            exc.request_id = request_id_from(response.headers)
        if (response is not None or acc.chunk_count) and call.options.preserve_partial_response:
            exc.partial_response = acc.build()
        return _scrubbed(exc, call)


def _scrubbed(error: LLMError, call: Call) -> LLMError:
    """``error`` with the call's key and base-URL password removed (in place)."""
    return scrub_error(error, call.target.api_key, *url_secrets(call.target.base_url))
