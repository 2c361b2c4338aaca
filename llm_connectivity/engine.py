"""The exchange engine: sends one call, retries it, streams it, continues it.

:class:`Engine` is owned by one :class:`~llm_connectivity.client.LLMClient`; it holds the
transport and the little state a client shares between calls (base URLs that reject
``stream_options``). Each call brings its own immutable :class:`Call`, its own
:class:`~llm_connectivity.deadline.Deadline` and its own accumulator, so one engine serves
many threads at once. This is the only layer that sleeps.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .aggregate import ResponseAccumulator, estimate_usage, prompt_estimate
from .deadline import Deadline
from .errors import (
    APIStatusError,
    LLMError,
    NetworkError,
    StreamInterruptedError,
    TotalTimeoutError,
    request_id_from,
)
from .models import ChatResponse, StreamChunk
from .options import StreamingOptions
from .providers.base import ProviderDriver, decode_json
from .request import RequestSpec
from .retry import RetryPolicy
from .security import redact_url, scrub_error, url_password
from .transport import Cancellation, get_interceptor

if TYPE_CHECKING:
    from .transport import Response as HTTPResponse
    from .transport import Transport

__all__ = ["Call", "Engine", "StreamHandle", "Target"]

logger = logging.getLogger("llm_connectivity")

_MAX_ERROR_BODY = 64 * 1024
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


class StreamHandle(Cancellation):
    """Lets :meth:`ChatStream.close` from another thread stop the stream: it marks the
    stream aborted, wakes a retry backoff, and (through the callbacks the transport and
    the engine register) shuts down the connection being read or awaited. The reading
    thread then raises ``StreamInterruptedError("...closed by the caller")``."""

    __slots__ = ("owner",)

    def __init__(self) -> None:
        super().__init__()
        self.owner: int | None = None  # the thread reading the stream

    @property
    def aborted(self) -> bool:
        """True once :meth:`abort` was called."""
        return self.cancelled

    def abort(self) -> None:
        """Stop the stream from another thread (see the class docstring)."""
        self.cancel()

    def check(self, provider: str) -> None:
        """Raise if the stream was aborted."""
        if self.cancelled:
            raise StreamInterruptedError("the stream was closed by the caller", provider=provider)


class Engine:
    """Sends calls through one transport; see the module docstring."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._lock = threading.Lock()
        self._no_stream_options: set[str] = set()

    def rejects_stream_options(self, base_url: str) -> bool:
        """True once ``base_url`` answered that it does not accept ``stream_options``."""
        return base_url in self._no_stream_options

    # -- one exchange -------------------------------------------------------------------------
    def send(self, call: Call, deadline: Deadline, handle: StreamHandle | None = None) -> HTTPResponse:
        """Send once; return a 2xx response or raise the typed error for the status."""
        request = call.target.driver.build_request(call.spec)
        started = time.monotonic()
        interceptor = get_interceptor()
        if interceptor is None:
            response = self.transport.send(request, connect_timeout=call.options.connection_timeout,
                                           deadline=deadline, provider=call.target.provider, cancel=handle)
        else:
            response = interceptor.send(self.transport, request, connect_timeout=call.options.connection_timeout,
                                        deadline=deadline, provider=call.target.provider, cancel=handle)
        logger.info("%s %s -> %d (%s, %.0f ms)", request.method, redact_url(request.url), response.status_code,
                    call.target.provider, (time.monotonic() - started) * 1000)
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
                  handle: StreamHandle | None = None) -> bool:
        """Sleep and return True if ``exc`` on try ``attempt`` should be retried (False if
        the stream was closed by the caller during the wait)."""
        if self._drop_stream_options(call, exc):
            return True
        decision = call.retry.decide(exc, attempt, getattr(exc, "headers", None))
        if not decision.retry:
            return False
        if deadline.total_at is not None and time.monotonic() + decision.delay >= deadline.total_at:
            return False
        logger.info("retrying %s request (attempt %d of %d) in %.2fs: %s", call.target.provider,
                    attempt + 1, call.retry.max_retries + 1, decision.delay, decision.reason)
        if handle is not None:
            return not handle.wait(decision.delay)
        time.sleep(decision.delay)
        return True

    def _drop_stream_options(self, call: Call, exc: LLMError) -> bool:
        """A server that rejects ``stream_options``: retry once without, remember the URL."""
        rejected = (isinstance(exc, APIStatusError) and exc.status_code in (400, 422)
                    and "stream_options" in exc.message and call.spec.stream
                    and call.spec.params.get("stream_options", {}) is not None)
        if rejected:
            with self._lock:
                self._no_stream_options.add(call.target.base_url)
            call.spec.params["stream_options"] = None
            logger.info("%s rejected stream_options; retrying without it", redact_url(call.target.base_url))
        return rejected

    # -- non-streaming ------------------------------------------------------------------------
    def chat(self, call: Call, deadline: Deadline) -> ChatResponse:
        """One non-streaming call, retried per the policy."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.send(call, deadline)
                body = response.read_body(deadline, _MAX_JSON_BODY)
                payload = decode_json(body, provider=call.target.provider, what="response body")
                parsed = call.target.driver.parse_response(payload, call.spec)
                return _finish_response(parsed, call)
            except LLMError as exc:
                if not self.may_retry(call, exc, attempt, deadline):
                    raise scrub_error(exc, call.target.api_key, url_password(call.target.base_url)) from exc.__cause__

    # -- streaming ----------------------------------------------------------------------------
    def stream(self, call: Call, acc: ResponseAccumulator, make_deadline: Callable[[], Deadline],
               handle: StreamHandle) -> Iterator[StreamChunk]:
        """Yield the chunks of ``call``: retries before content, opt-in continuation after.
        The clock starts at the first ``next()``, when the request is sent."""
        handle.owner = threading.get_ident()
        deadline = make_deadline()
        original = call
        attempt = reconnects = 0
        while True:
            attempt += 1
            deadline.mark_content()  # each attempt gets the whole content-idle allowance
            response: HTTPResponse | None = None
            try:
                handle.check(call.target.provider)
                response = self.send(call, deadline, handle)
                handle.add_callback(response.abort)
                handle.check(call.target.provider)
                yield from self._chunks(call, response, acc, deadline, reconnects, handle)
                acc.complete = True
                yield StreamChunk(finish_reason=acc.finish_reason, raw_finish_reason=acc.raw_finish_reason,
                                  usage=acc.final_usage(), index=acc.chunk_count, is_complete=True)
                response.drain(deadline)  # lets the connection go back to the pool
                return
            except LLMError as exc:
                if not handle.aborted and not acc.has_output and self.may_retry(call, exc, attempt, deadline,
                                                                                 handle):
                    continue
                resumed = None if handle.aborted else self._continuation(original, exc, acc, reconnects,
                                                                         deadline, handle)
                if resumed is not None:
                    call, attempt, reconnects = resumed, 0, reconnects + 1
                    continue
                if handle.aborted:
                    exc = StreamInterruptedError("the stream was closed by the caller", provider=call.target.provider)
                raise self._final_error(exc, call, acc, response) from exc.__cause__
            finally:
                if response is not None:
                    handle.remove_callback(response.abort)
                    response.close()

    def _chunks(self, call: Call, response: HTTPResponse, acc: ResponseAccumulator, deadline: Deadline,
                reconnects: int, handle: StreamHandle) -> Iterator[StreamChunk]:
        """The driver's chunks for one response, folded into ``acc`` as they pass."""
        driver = call.target.driver
        events = driver.iter_events(response.iter_bytes(deadline), response.content_type)
        chunks = driver.iter_chunks(events, call.spec)
        if reconnects:
            chunks = _mark_continuation(chunks, reconnects, _stripped_tail(acc.content))
        mark = deadline.mark_content if deadline.idle_timeout is not None else None
        add = acc.add
        aborted = handle._event.is_set
        for chunk in chunks:
            if aborted():  # closed by another thread while this one was away
                handle.check(call.target.provider)
            if mark is not None and (chunk.content or chunk.reasoning or chunk.tool_calls):
                mark()
            add(chunk)
            yield chunk

    def _final_error(self, exc: LLMError, call: Call, acc: ResponseAccumulator,
                     response: HTTPResponse | None) -> LLMError:
        """Attach what the caller needs (partial response, request id) and scrub the key."""
        if isinstance(exc, APIStatusError) and exc.request_id is None and response is not None:
            exc.request_id = request_id_from(response.headers)
        if (response is not None or acc.chunk_count) and call.options.preserve_partial_response:
            exc.partial_response = acc.build()
        return scrub_error(exc, call.target.api_key, url_password(call.target.base_url))

    def _continuation(self, call: Call, exc: LLMError, acc: ResponseAccumulator, reconnects: int,
                      deadline: Deadline, handle: StreamHandle) -> Call | None:
        """Opt-in (``retry_on_connection_error``): after a dropped connection, re-request
        with the partial answer as an assistant prefix, where the provider can continue one."""
        opts = call.options
        if (not opts.retry_on_connection_error or not isinstance(exc, NetworkError)
                or isinstance(exc, TotalTimeoutError) or reconnects >= opts.max_reconnect_attempts
                or acc.tool_calls()):
            return None
        messages = call.target.driver.continuation_messages(call.spec.messages, acc.content)
        if messages is None:
            return None
        if deadline.total_at is not None and time.monotonic() + opts.reconnect_delay >= deadline.total_at:
            return None
        logger.info("%s stream broke after %d characters (%s); continuing it in %.2fs (reconnect %d of %d)",
                    call.target.provider, len(acc.content), type(exc).__name__, opts.reconnect_delay,
                    reconnects + 1, opts.max_reconnect_attempts)
        acc.bank_segment()
        if handle.wait(opts.reconnect_delay):
            return None
        return dataclasses.replace(call, spec=dataclasses.replace(call.spec, messages=messages))


def _stripped_tail(text: str) -> str:
    """The trailing whitespace a prefill drops (already delivered, so not to repeat)."""
    return text[len(text.rstrip()):]


def _mark_continuation(chunks: Iterator[StreamChunk], reconnect: int, delivered_tail: str) -> Iterator[StreamChunk]:
    """Tag chunks of a continued stream (``metadata["continuation"]``) and drop whitespace
    the caller already received before the break."""
    for chunk in chunks:
        if delivered_tail and chunk.content:
            if chunk.content.startswith(delivered_tail):
                chunk = dataclasses.replace(chunk, content=chunk.content[len(delivered_tail):],
                                            metadata=dict(chunk.metadata))
            delivered_tail = ""
        chunk.metadata["continuation"] = reconnect
        yield chunk


def _finish_response(response: ChatResponse, call: Call) -> ChatResponse:
    """Name the provider as the client knows it, and estimate usage (flagged
    ``is_estimated``) when the provider reported none."""
    changes: dict[str, Any] = {"provider": call.target.provider}
    if response.usage.is_estimated:
        changes["usage"] = estimate_usage(prompt_estimate(call.spec), response.content, response.reasoning,
                                          response.tool_calls)
    return dataclasses.replace(response, **changes)
