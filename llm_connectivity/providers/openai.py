"""OpenAI Chat Completions driver, also used (as configured instances) by every
OpenAI-compatible server: xAI, OpenRouter, Groq, DeepSeek, Mistral, Ollama, vLLM...

Wire format: ``POST {base_url}/chat/completions`` with ``stream: true`` and
``stream_options.include_usage``; ``data:`` events carrying ``chat.completion.chunk``
objects, ended by ``data: [DONE]``. Quirks handled (all seen in recorded streams): usage
in a final ``choices: []`` chunk, on the finish chunk, or repeated (last wins); ``role``
repeated in every chunk; ``content`` as a list of parts (Mistral; thinking parts are
reasoning); ``reasoning_content`` / ``reasoning`` deltas; a cumulative ``message`` beside
the ``delta`` (Perplexity; the delta is used); an ``{"error": ...}`` chunk or an
``event: error`` frame (raised as the typed error); no ``[DONE]`` after a finish reason
(complete); ``[DONE]`` without a finish reason (complete, ``finish_reason`` None).

Finish reasons: OpenAI's ``stop``, ``length``, ``tool_calls``, ``content_filter`` and the
legacy ``function_call``, plus the compatible servers' own values (Together's ``eos``,
Mistral's ``model_length`` and ``error``, vLLM's ``abort`` for an engine-aborted request and
DeepSeek's ``insufficient_system_resource``, both ``error``), are mapped by a table; an
unknown raw value normalises to ``"stop"`` (the raw value stays in ``raw_finish_reason``).

Malformed but valid JSON: a ``delta`` or ``tool_calls`` that is not an object / a list
raises :class:`~llm_connectivity.errors.ProtocolError`; ``null`` tool-call entries are
skipped; usage numbers that are not numbers count as 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import ProtocolError, StreamInterruptedError
from ..models import ChatResponse, StreamChunk, ToolCall, ToolCallDelta, Usage, estimate_tokens, make_chunk
from ..request import HTTPRequest, Message, RequestSpec
from ..sse import SSEEvent
from .base import (
    ProviderDriver,
    as_count,
    decode_json,
    error_from_event,
    error_from_payload,
    join_url,
    usage_or_unknown,
)

__all__ = ["OpenAIDriver", "normalize_finish_reason", "openai_usage"]

_FINISH = {
    "stop": "stop",
    "end_turn": "stop",
    "eos": "stop",
    "eos_token": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "model_length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    "safety": "content_filter",
    "error": "error",
    "abort": "error",  # vLLM: the engine aborted the request
    "insufficient_system_resource": "error",  # DeepSeek: interrupted for lack of capacity
}


def normalize_finish_reason(raw: str | None) -> str | None:
    """Map a provider's finish reason to stop/length/tool_calls/content_filter/error;
    an unknown reason is ``"stop"``."""
    if raw is None:
        return None
    return _FINISH.get(str(raw).lower(), "stop")


def openai_usage(data: dict[str, Any]) -> Usage:
    """Translate an OpenAI-style ``usage`` object (or Groq's ``x_groq.usage``)."""
    prompt = as_count(data.get("prompt_tokens"))
    completion = as_count(data.get("completion_tokens"))
    total = data.get("total_tokens")
    prompt_details = data.get("prompt_tokens_details")
    completion_details = data.get("completion_tokens_details")
    cached = prompt_details.get("cached_tokens") if isinstance(prompt_details, dict) else None
    reasoning = completion_details.get("reasoning_tokens") if isinstance(completion_details, dict) else None
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=as_count(total) if total is not None else prompt + completion,
        cached_tokens=as_count(cached or data.get("prompt_cache_hit_tokens")),
        reasoning_tokens=as_count(reasoning),
        raw=data,
    )


def _split_content(content: Any) -> tuple[str, str]:
    """Return (text, reasoning) from a string or a Mistral-style list of content parts."""
    if content is None:
        return "", ""
    if isinstance(content, str):
        return content, ""
    text: list[str] = []
    thinking: list[str] = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, str):
                thinking.append(inner)
            elif isinstance(inner, list):
                thinking.extend(p.get("text", "") for p in inner if isinstance(p, dict))
        elif kind == "text" or (kind is None and "text" in part):
            text.append(str(part.get("text") or ""))
    return "".join(text), "".join(thinking)


def _reasoning_of(obj: dict[str, Any]) -> str:
    value = obj.get("reasoning_content")
    if not isinstance(value, str):
        value = obj.get("reasoning")
    return value if isinstance(value, str) else ""


def _text_or_none(value: Any) -> str | None:
    """A string field (ids, names): strings as they are, ``None``/empty as None."""
    if not value:
        return None
    return value if isinstance(value, str) else str(value)


def _tool_deltas(raw_calls: Any, provider: str) -> tuple[ToolCallDelta, ...]:
    """A delta's ``tool_calls`` list as ToolCallDeltas; ``null`` entries are skipped."""
    if type(raw_calls) is not list:
        raise ProtocolError(f"{provider} sent tool_calls that are not a list: {raw_calls!r:.200}", provider=provider)
    deltas = []
    for position, call in enumerate(raw_calls):
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        function = function if isinstance(function, dict) else _EMPTY
        index = call.get("index")
        arguments = function.get("arguments") or ""
        deltas.append(ToolCallDelta(
            index=index if type(index) is int else position,
            id=_text_or_none(call.get("id")),
            name=_text_or_none(function.get("name")),
            arguments=arguments if isinstance(arguments, str) else json.dumps(arguments),
        ))
    return tuple(deltas)


_EMPTY: dict[str, Any] = {}
_PLAIN_DELTA = frozenset({"content", "role"})


def _first_choice(choices: list[Any]) -> dict[str, Any] | None:
    """Choice 0 (usually first; with ``n > 1`` the chunk may carry another index)."""
    first = choices[0] if type(choices) is list and choices else None
    if type(first) is dict and first.get("index", 0) == 0:
        return first
    if type(choices) is not list:
        return None
    return next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)


class OpenAIDriver(ProviderDriver):
    """Chat Completions translator, configured per vendor (name, URL, key variable, quirks)."""

    def __init__(
        self,
        name: str = "openai",
        *,
        default_base_url: str = "https://api.openai.com/v1",
        api_key_env: tuple[str, ...] = ("OPENAI_API_KEY",),
        base_url_env: str | None = "OPENAI_BASE_URL",
        requires_api_key: bool = True,
        max_tokens_field: str = "max_tokens",
        extra_headers: dict[str, str] | None = None,
        prefix_field: str | None = None,
    ) -> None:
        self.name = name
        self.default_base_url = default_base_url
        self.api_key_env = api_key_env
        self.base_url_env = base_url_env
        self.requires_api_key = requires_api_key
        self.max_tokens_field = max_tokens_field
        self.extra_headers = dict(extra_headers or {})
        self.prefix_field = prefix_field  # e.g. Mistral's {"role": "assistant", "prefix": true}
        self._responses_driver: ProviderDriver | None = None

    def for_api(self, api: str | None) -> ProviderDriver:
        """The driver for API flavour ``api``: ``"responses"`` is OpenAI's Responses API."""
        if api == "responses":
            driver = self._responses_driver
            if driver is None:
                from .openai_responses import OpenAIResponsesDriver  # lazy: that module imports this one

                driver = self._responses_driver = OpenAIResponsesDriver.from_chat_driver(self)
            return driver
        return super().for_api(api)

    def __repr__(self) -> str:
        return f"OpenAIDriver({self.name!r}, default_base_url={self.default_base_url!r})"

    def continuation_messages(self, messages: list[Message], partial: str) -> list[Message] | None:
        """Only vendors with an assistant-prefix flag (Mistral's ``prefix``) can continue."""
        if not self.prefix_field or not partial:
            return None
        return [*messages, {"role": "assistant", "content": partial, self.prefix_field: True}]

    # -- request ---------------------------------------------------------------------------
    def headers(self, spec: RequestSpec) -> dict[str, str]:
        """Authorization and content headers for ``spec``."""
        headers = {"Content-Type": "application/json", **self.extra_headers}
        if spec.stream:
            headers["Accept"] = "text/event-stream"
        if spec.api_key:
            headers["Authorization"] = f"Bearer {spec.api_key}"
        return headers

    def build_body(self, spec: RequestSpec) -> dict[str, Any]:
        """The JSON body of a Chat Completions request."""
        body: dict[str, Any] = {"model": spec.model, "messages": spec.messages}
        for key, value in spec.params.items():
            if key == "max_tokens":
                body[self.max_tokens_field] = value
            elif key != "stream_options":
                body[key] = value
        if spec.stream:
            body["stream"] = True
            options = spec.params.get("stream_options", {})
            if options is not None:  # None: the server rejects stream_options, send none
                body["stream_options"] = {"include_usage": True, **options}
        return body

    def build_request(self, spec: RequestSpec) -> HTTPRequest:
        """``POST {base_url}/chat/completions``."""
        return HTTPRequest(
            "POST",
            join_url(spec.base_url, "chat/completions"),
            self.headers(spec),
            json.dumps(self.build_body(spec)).encode(),
            stream=spec.stream,
        )

    # -- non-streaming -----------------------------------------------------------------------
    def parse_response(self, payload: Any, spec: RequestSpec) -> ChatResponse:
        """Translate a ``chat.completion`` object."""
        if not isinstance(payload, dict) or payload.get("error"):
            raise error_from_payload(payload, provider=self.name)
        choice = _first_choice(payload.get("choices") or []) or {}
        message = choice.get("message")
        message = message if isinstance(message, dict) else _EMPTY
        text, thinking = _split_content(message.get("content"))
        raw_calls = message.get("tool_calls") or []
        calls = [
            ToolCall(id=d.id or f"call_{i}", name=d.name or "", arguments=d.arguments)
            for i, d in enumerate(_tool_deltas(raw_calls, self.name))
        ]
        raw_finish = choice.get("finish_reason")
        raw_finish = raw_finish if raw_finish is None or isinstance(raw_finish, str) else str(raw_finish)
        usage = payload.get("usage")
        return ChatResponse(
            content=text,
            finish_reason=normalize_finish_reason(raw_finish),
            raw_finish_reason=raw_finish,
            usage=usage_or_unknown(usage, openai_usage),
            tool_calls=calls,
            reasoning=_reasoning_of(message) or thinking,
            model=payload.get("model") or spec.model,
            provider=self.name,
            raw=payload,
        )

    # -- streaming ---------------------------------------------------------------------------
    def iter_chunks(self, events: Iterable[SSEEvent], spec: RequestSpec) -> Iterator[StreamChunk]:
        """Translate ``chat.completion.chunk`` events; return at ``[DONE]``.

        A connection lost after a finish reason (only trailing events missing) ends quietly.
        """
        index = 0
        finished = False
        try:
            for event in events:
                data = event.data
                if data == "[DONE]":
                    return
                if event.event == "error":
                    raise error_from_event(event, self.name)
                if not data.strip():
                    continue
                obj = decode_json(data, provider=self.name)
                if type(obj) is not dict:
                    continue
                if obj.get("error"):
                    raise error_from_payload(obj, provider=self.name)
                chunk = self._chunk(obj, index)
                if chunk.finish_reason is not None:
                    finished = True
                index += 1
                yield chunk
        except StreamInterruptedError:
            if not finished:
                raise
            return
        if not finished:
            raise StreamInterruptedError(
                f"{self.name} stream ended before [DONE] or a finish reason: the connection "
                "was closed early or the body was truncated",
                provider=self.name,
            )

    def _usage(self, obj: dict[str, Any]) -> Usage | None:
        """The chunk's ``usage`` (or Groq's ``x_groq.usage``), when it carries one."""
        usage_data = obj.get("usage")
        if usage_data is None and "x_groq" in obj:
            groq = obj.get("x_groq")
            usage_data = groq.get("usage") if type(groq) is dict else None
        return openai_usage(usage_data) if type(usage_data) is dict else None

    def _chunk(self, obj: dict[str, Any], index: int) -> StreamChunk:
        """One ``chat.completion.chunk`` -> StreamChunk (the per-chunk hot path)."""
        usage = self._usage(obj) if "usage" in obj or "x_groq" in obj else None
        choices = obj.get("choices")
        choice = _first_choice(choices) if choices else None
        if choice is None:
            return make_chunk("", None, None, obj, index, usage, (), "", 0, {})
        delta = choice.get("delta") or _EMPTY
        if type(delta) is not dict:
            raise ProtocolError(f"{self.name} sent a choice delta that is not an object: {delta!r:.200}",
                                provider=self.name)
        content = delta.get("content")
        if type(content) is str:
            text, thinking = content, ""
        else:
            text, thinking = _split_content(content)
        calls: tuple[ToolCallDelta, ...]
        metadata: dict[str, Any]
        if (len(delta) == 1 and "content" in delta) or delta.keys() <= _PLAIN_DELTA:
            reasoning, calls, metadata = thinking, (), {}
        else:  # rarer fields: reasoning, tools, refusal
            reasoning = _reasoning_of(delta) or thinking
            raw_calls = delta.get("tool_calls")
            calls = _tool_deltas(raw_calls, self.name) if raw_calls else ()
            refusal = delta.get("refusal")
            metadata = {"refusal": refusal} if refusal else {}
        raw_finish = choice.get("finish_reason")
        if raw_finish is None:
            finish = None
        else:
            raw_finish = raw_finish if type(raw_finish) is str else str(raw_finish)
            finish = normalize_finish_reason(raw_finish)
        tokens = estimate_tokens(text) if text else 0
        return make_chunk(text, finish, raw_finish, obj, index, usage, calls, reasoning, tokens, metadata)
