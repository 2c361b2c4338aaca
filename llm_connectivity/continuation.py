"""Continuing a broken stream, and settling a non-streamed response (engine helpers).

Opt-in (``StreamingOptions.retry_on_connection_error``): after a dropped connection,
:func:`continuation_call` builds the call that re-requests with the partial answer as an
assistant prefix, where the provider can continue one; :func:`mark_continuation` tags the
chunks of the continued stream. No I/O here: the engine sends, the clock waits.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .aggregate import ResponseAccumulator, estimate_usage, prompt_estimate
from .deadline import Deadline
from .errors import LLMError, NetworkError, TotalTimeoutError
from .models import ChatResponse, StreamChunk
from .request import RequestSpec

if TYPE_CHECKING:
    from .engine import Call
    from .transport import Cancellation

__all__ = ["continuation_call", "finish_response", "mark_continuation", "stripped_tail"]

logger = logging.getLogger("llm_connectivity")


def continuation_call(call: Call, exc: LLMError, acc: ResponseAccumulator, reconnects: int, deadline: Deadline,
                      pause: Callable[[float, Cancellation | None], bool], handle: Cancellation) -> Call | None:
    """The call that continues the broken stream of ``call`` after ``exc``, once
    ``reconnect_delay`` passed (waited with ``pause``); None when it cannot be continued
    (not opted in, not a network error, out of attempts or time, tool calls in flight, a
    provider without prefill, or closed by the caller during the wait)."""
    opts = call.options
    if (not opts.retry_on_connection_error or not isinstance(exc, NetworkError)
            or isinstance(exc, TotalTimeoutError) or reconnects >= opts.max_reconnect_attempts
            or acc.tool_calls()):
        return None
    messages = call.target.driver.continuation_messages(call.spec.messages, acc.content)
    if messages is None:
        return None
    if deadline.total_at is not None and deadline.now() + opts.reconnect_delay >= deadline.total_at:
        return None
    logger.info("%s stream broke after %d characters (%s); continuing it in %.2fs (reconnect %d of %d)",
                call.target.provider, len(acc.content), type(exc).__name__, opts.reconnect_delay,
                reconnects + 1, opts.max_reconnect_attempts)
    acc.bank_segment()
    if pause(opts.reconnect_delay, handle):
        return None
    return dataclasses.replace(call, spec=dataclasses.replace(call.spec, messages=messages))


def stripped_tail(text: str) -> str:
    """The trailing whitespace a prefill drops (already delivered, so not to repeat)."""
    return text[len(text.rstrip()):]


def mark_continuation(chunks: Iterator[StreamChunk], reconnect: int, delivered_tail: str) -> Iterator[StreamChunk]:
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


def finish_response(response: ChatResponse, spec: RequestSpec, provider: str) -> ChatResponse:
    """Name the provider as the client knows it, and estimate usage (flagged
    ``is_estimated``) when the provider reported none."""
    changes: dict[str, Any] = {"provider": provider}
    if response.usage.is_estimated:
        changes["usage"] = estimate_usage(prompt_estimate(spec, provider), response.content, response.reasoning,
                                          response.tool_calls, model=f"{provider}/{spec.model}")
    return dataclasses.replace(response, **changes)
