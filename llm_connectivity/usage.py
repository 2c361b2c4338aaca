"""Usage you can trust: the provider's report when there is one, an honest estimate when not.

- :func:`prompt_tokens` estimates the input of a request: message text (with the chat
  format's per-message framing), tool calls in the history, tool schemas, and images by
  each provider's published rule (:mod:`llm_connectivity.image_tokens`).
- :func:`completion_tokens` counts the output: answer text, reasoning and tool-call
  names and arguments.
- :func:`final_usage` decides what a response reports: the provider's last usage report
  for a stream that completed (``is_estimated=False``, ``confidence=1.0``); for an
  interrupted stream that had an early report (Anthropic sends input tokens first), the
  provider's prompt count with the completion estimated from the text received; without
  any report, both estimated. Estimates carry ``is_estimated=True`` and a ``confidence``
  in (0, 1) that says how they were made (:func:`confidence_for`).
- :class:`UsageTracker` follows a stream chunk by chunk in linear time (for running
  costs and budgets) and produces the final usage.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .encodings import encoding_name_for_model
from .image_tokens import image_tokens
from .models import ChatResponse, StreamChunk, ToolCall, Usage
from .tokens import StreamTokenCounter, TokenCounter, get_counter

__all__ = ["CONFIDENCE", "UsageTracker", "completion_tokens", "confidence_for", "estimate_usage", "estimation_method",
           "final_usage", "prompt_tokens", "settle_usage"]

#: Confidence of each way of knowing the numbers.
CONFIDENCE = {
    "reported": 1.0,        # the provider's own report
    "partial": 0.8,         # the provider's prompt count, completion estimated (interrupted stream)
    "exact": 0.9,           # the model's own tokenizer; only the prompt's framing is estimated
    "proxy": 0.75,          # tiktoken standing in for another vendor's tokenizer
    "estimate": 0.6,        # the character estimator
}
_PER_MESSAGE = 3  # OpenAI chat framing: <|start|>role ... <|end|>
_PER_NAME = 1
_REPLY_PRIMING = 3
_IMAGE_TYPES = frozenset({"image_url", "image", "input_image", "inline_data", "inlineData"})


def estimation_method(counter: TokenCounter, model: str | None) -> str:
    """How ``counter`` estimates for ``model``: ``"exact"`` (the model's own tokenizer),
    ``"proxy"`` (tiktoken standing in for another vendor's) or ``"estimate"``."""
    if counter.kind != "exact":
        return "estimate"
    return "exact" if encoding_name_for_model(model) else "proxy"


def confidence_for(counter: TokenCounter, model: str | None) -> float:
    """The confidence of an estimate made with ``counter`` for ``model``."""
    return CONFIDENCE[estimation_method(counter, model)]


def _provider_of(model: str | None, provider: str | None) -> str:
    if provider:
        return provider
    return model.split("/", 1)[0] if model and "/" in model else "openai"


def _content_tokens(content: Any, counter: TokenCounter, provider: str) -> int:
    if isinstance(content, str):
        return counter.count(content)
    total = 0
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind in _IMAGE_TYPES or "inline_data" in part or "inlineData" in part:
            total += image_tokens(dict(part), provider)
        elif isinstance(part.get("text"), str):
            total += counter.count(part["text"])
        elif kind == "tool_result" or kind == "tool_use":
            total += counter.count(json.dumps(part.get("content") or part.get("input"), default=str))
    return total


def prompt_tokens(messages: Sequence[Mapping[str, Any]] | str, tools: Sequence[Any] | None = None, *,
                  model: str | None = None, provider: str | None = None,
                  counter: TokenCounter | None = None) -> int:
    """Estimated input tokens of a request (see the module docstring).

    >>> prompt_tokens("Hello there", counter=get_counter(kind="character"))
    9
    """
    counter = counter or get_counter(model)
    vendor = _provider_of(model, provider)
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    total = _REPLY_PRIMING
    for message in messages:
        total += _PER_MESSAGE + counter.count(str(message.get("role") or ""))
        total += _content_tokens(message.get("content"), counter, vendor)
        if message.get("name"):
            total += _PER_NAME + counter.count(str(message["name"]))
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(function, Mapping):
                total += counter.count(str(function.get("name") or "")) + counter.count(
                    str(function.get("arguments") or ""))
            else:
                total += counter.count(json.dumps(call, default=str))
    if tools:
        total += counter.count(json.dumps(list(tools), default=str, separators=(",", ":")))
    return total


def completion_tokens(content: str, reasoning: str = "", tool_calls: Iterable[ToolCall] = (), *,
                      counter: TokenCounter | None = None, model: str | None = None) -> int:
    """Output tokens of an answer: text, reasoning, tool-call names and arguments."""
    counter = counter or get_counter(model)
    total = counter.count(content) + counter.count(reasoning)
    for call in tool_calls:
        total += counter.count(call.name) + counter.count(call.arguments)
    return total


def estimate_usage(prompt: int, content: str, reasoning: str = "", tool_calls: Sequence[ToolCall] = (), *,
                   model: str | None = None, counter: TokenCounter | None = None) -> Usage:
    """A wholly estimated Usage (no provider report): ``prompt`` tokens in, the answer out
    (counted with the model's exact tokenizer where it applies)."""
    counter = counter or get_counter(model, wait=True)
    completion = completion_tokens(content, reasoning, tool_calls, counter=counter)
    reasoning_count = counter.count(reasoning)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion,
                 reasoning_tokens=reasoning_count, is_estimated=True,
                 confidence=confidence_for(counter, model),
                 raw={"estimated_by": estimation_method(counter, model)})


def final_usage(reported: Usage | None, *, complete: bool, prompt: int, completion: int,
                reasoning: int = 0, confidence: float = CONFIDENCE["estimate"], method: str = "estimate") -> Usage:
    """What a response reports, from the provider's last report (or None) and the estimates
    (see the module docstring). ``complete``: the provider's terminal event arrived;
    ``method`` (:func:`estimation_method`) is recorded in ``raw["estimated_by"]``."""
    if reported is not None and not reported.is_estimated and (complete or reported.completion_tokens >= completion):
        return reported
    if reported is not None and not reported.is_estimated and reported.prompt_tokens > 0:
        out = max(reported.completion_tokens, completion)
        return reported.replace(completion_tokens=out, total_tokens=reported.prompt_tokens + out,
                                reasoning_tokens=max(reported.reasoning_tokens, reasoning), is_estimated=True,
                                confidence=max(CONFIDENCE["partial"], confidence),
                                raw={**reported.raw, "estimated_by": "partial"})
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion,
                 reasoning_tokens=reasoning, is_estimated=True, confidence=confidence,
                 raw={"estimated_by": method})


def settle_usage(reported: Usage | None, *, finished: bool, prompt: int, content: str, reasoning: str = "",
                 tool_calls: Sequence[ToolCall] = (), model: str | None = None) -> Usage:
    """The usage of an aggregated response (what ``stream.response`` and
    ``partial_response`` report): the provider's last report once the finish reason
    arrived; else :func:`final_usage` over an estimate of what was received, counted once
    with the model's counter (exact where it applies). ``prompt`` is the request's
    estimated input."""
    if reported is not None and not reported.is_estimated and finished:
        return reported
    counter = get_counter(model, wait=True)
    completion = completion_tokens(content, reasoning, tool_calls, counter=counter)
    return final_usage(reported, complete=finished, prompt=prompt, completion=completion,
                       reasoning=counter.count(reasoning), confidence=confidence_for(counter, model),
                       method=estimation_method(counter, model))


class UsageTracker:
    """Follows one stream: keeps the provider's last usage report and, with ``running=True``
    (budgets), counts each delta once (answer, reasoning, tool arguments) for the running
    figures. :meth:`usage` gives the final usage from the response.

    Counting while the stream runs never waits for a tokenizer to load (see
    :func:`~llm_connectivity.tokens.get_counter`); the final estimate, made only when the
    provider's report is missing or cut short, uses the exact tokenizer when it applies.
    """

    __slots__ = ("model", "provider", "kind", "prefer_tiktoken", "counter", "prompt", "reported", "running",
                 "_messages", "_tools", "_text", "_reasoning", "_calls")

    def __init__(self, *, messages: Sequence[Mapping[str, Any]] | str, tools: Sequence[Any] | None = None,
                 model: str | None = None, provider: str | None = None, kind: str = "auto",
                 prefer_tiktoken: bool = False, running: bool = False) -> None:
        self.model, self.provider, self.kind, self.prefer_tiktoken = model, provider, kind, prefer_tiktoken
        self.counter = get_counter(model, kind=kind, prefer_tiktoken=prefer_tiktoken)
        self._messages, self._tools = messages, tools
        self.prompt = prompt_tokens(messages, tools, model=model, provider=provider, counter=self.counter)
        self.reported: Usage | None = None
        self.running = running
        self._text = StreamTokenCounter(self.counter)
        self._reasoning = StreamTokenCounter(self.counter)
        self._calls = StreamTokenCounter(self.counter)

    def add(self, chunk: StreamChunk) -> None:
        """Fold one chunk in: a usage report is remembered; with ``running``, its output is
        counted (once)."""
        if chunk.usage is not None and not chunk.usage.is_estimated:
            self.reported = chunk.usage
        if not self.running:
            return
        if chunk.content:
            self._text.add(chunk.content)
        if chunk.reasoning:
            self._reasoning.add(chunk.reasoning)
        for delta in chunk.tool_calls:
            if delta.name:
                self._calls.add(" " + delta.name + " ")
            if delta.arguments:
                self._calls.add(delta.arguments)

    @property
    def prompt_tokens(self) -> int:
        """The provider's prompt count once reported, else the estimate."""
        reported = self.reported
        return reported.prompt_tokens if reported is not None and reported.prompt_tokens else self.prompt

    @property
    def completion_tokens(self) -> int:
        """Output so far (``running``): the larger of the last report and the count of what arrived."""
        counted = self._text.total + self._reasoning.total + self._calls.total
        reported = self.reported.completion_tokens if self.reported is not None else 0
        return max(counted, reported)

    def usage(self, response: ChatResponse, *, complete: bool) -> Usage:
        """The usage to report for ``response`` (see :func:`final_usage`)."""
        reported = self.reported
        if reported is not None and complete:
            return reported
        counter = get_counter(self.model, kind=self.kind, prefer_tiktoken=self.prefer_tiktoken, wait=True)
        completion = completion_tokens(response.content, response.reasoning, response.tool_calls, counter=counter)
        prompt = self.prompt
        if counter is not self.counter and (reported is None or not reported.prompt_tokens):
            prompt = prompt_tokens(self._messages, self._tools, model=self.model, provider=self.provider,
                                   counter=counter)
        return final_usage(reported, complete=complete, prompt=prompt, completion=completion,
                           reasoning=counter.count(response.reasoning), confidence=confidence_for(counter, self.model),
                           method=estimation_method(counter, self.model))
