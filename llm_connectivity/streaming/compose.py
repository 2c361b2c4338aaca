"""Composition: :func:`pipe` chains wrappers, :func:`aggregate` folds a stream into a
:class:`~llm_connectivity.ChatResponse`, :func:`replay` turns stored text or a stored
response back into a chunk stream (caching, demos, tests)."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..aggregate import ResponseAccumulator
from ..errors import ConfigurationError
from ..models import ChatResponse, StreamChunk, ToolCallDelta, Usage
from ..tokens import get_counter
from .buffering import check_positive
from .chain import close_source, find_attr
from .graphemes import safe_cut

__all__ = ["aggregate", "pipe", "replay"]

Stage = Callable[[Iterable[StreamChunk]], Iterable[StreamChunk]]
_TOKEN = re.compile(r"\s*\S+|\s+")


def pipe(chunks: Iterable[StreamChunk], *stages: Stage) -> Iterator[StreamChunk]:
    """Apply ``stages`` left to right: ``pipe(s, f, g)`` is ``g(f(s))``.

    Each stage is a one-argument callable (use :func:`functools.partial` for options):

    >>> from functools import partial
    >>> from llm_connectivity.streaming import buffer_words, rate_limit
    >>> out = pipe(replay("one two three"), buffer_words, partial(rate_limit, tokens_per_second=1e9))
    >>> [c.content for c in out if c.content]
    ['one', ' two', ' three']
    """
    for stage in stages:
        if not callable(stage):
            raise ConfigurationError(f"pipe stages must be callables taking a chunk iterable, got {stage!r}; "
                                     "use functools.partial(wrapper, option=...) for options")
    result: Iterable[StreamChunk] = chunks
    for stage in stages:
        result = stage(result)
    return iter(result)


def aggregate(chunks: Iterable[StreamChunk]) -> ChatResponse:
    """Consume ``chunks`` and return the whole response (text, reasoning, tool calls,
    finish reason, the last usage reported or an estimate flagged ``is_estimated``).
    Model, provider and cost come from the :class:`~llm_connectivity.ChatStream` at the
    start of the chain when there is one."""
    acc = ResponseAccumulator()
    try:
        for chunk in chunks:
            acc.add(chunk)
            if chunk.is_complete:
                acc.complete = True
    finally:
        close_source(chunks)
    response = acc.build()
    origin = find_attr(chunks, "response")
    if isinstance(origin, ChatResponse):
        response = dataclasses.replace(response, model=origin.model or response.model,
                                       provider=origin.provider, cost_usd=origin.cost_usd)
    return response


def _text_pieces(text: str, chunk_size: int | None) -> list[str]:
    if chunk_size is None:
        return _TOKEN.findall(text)
    pieces = []
    while text:
        cut = safe_cut(text, chunk_size) or len(text)
        pieces.append(text[:cut])
        text = text[cut:]
    return pieces


def replay(text_or_response: str | ChatResponse, *, chunk_size: int | None = None, delay: float = 0.0,
           finish_reason: str | None = "stop", usage: Usage | None = None,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[StreamChunk]:
    """A chunk stream from stored text or a stored :class:`ChatResponse`.

    Text is cut into word-like pieces (each with its leading whitespace, like model
    tokens), or into ``chunk_size`` characters (never inside a grapheme cluster), sent
    ``delay`` seconds apart. A response replays its reasoning, content and tool calls,
    then a final ``is_complete`` chunk with its finish reason and usage.

    >>> [c.content for c in replay("Hi there!")]
    ['Hi', ' there!', '']
    """
    check_positive("chunk_size", chunk_size, integer=True)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise ConfigurationError(f"delay must be a number of seconds >= 0, got {delay!r}")
    if isinstance(text_or_response, ChatResponse):
        return _replay_response(text_or_response, chunk_size, delay, sleep)
    if not isinstance(text_or_response, str):
        raise ConfigurationError(f"replay takes a str or a ChatResponse, got {type(text_or_response).__name__}")
    response = ChatResponse(content=text_or_response, finish_reason=finish_reason,
                            raw_finish_reason=finish_reason, usage=usage or Usage())
    return _replay_response(response, chunk_size, delay, sleep, usage is not None)


def _replay_response(response: ChatResponse, chunk_size: int | None, delay: float,
                     sleep: Callable[[float], None], with_usage: bool = True) -> Iterator[StreamChunk]:
    count = get_counter(response.model or None).count
    index = 0
    fields: list[dict[str, Any]] = [{"reasoning": p} for p in _text_pieces(response.reasoning, chunk_size)]
    fields += [{"content": p, "token_count": count(p)} for p in _text_pieces(response.content, chunk_size)]
    fields += [{"tool_calls": (ToolCallDelta(i, call.id, call.name, call.arguments),)}
               for i, call in enumerate(response.tool_calls)]
    for item in fields:
        if delay and index:
            sleep(delay)
        yield StreamChunk(index=index, **item)
        index += 1
    yield StreamChunk(finish_reason=response.finish_reason, raw_finish_reason=response.raw_finish_reason,
                      usage=response.usage if with_usage else None, index=index, is_complete=True)
