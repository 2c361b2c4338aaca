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
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import StreamInterruptedError
from ..models import ChatResponse, StreamChunk, ToolCall, ToolCallDelta, Usage, estimate_tokens, make_chunk
from ..request import HTTPRequest, Message, RequestSpec
from ..sse import SSEEvent
from .base import ProviderDriver, decode_json, error_from_payload, join_url, until_broken

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
}


def normalize_finish_reason(raw: str | None) -> str | None:
    """Map a provider's finish reason to stop/length/tool_calls/content_filter/error."""
    if raw is None:
        return None
    return _FINISH.get(raw.lower(), "stop")


def openai_usage(data: dict[str, Any]) -> Usage:
    """Translate an OpenAI-style ``usage`` object (or Groq's ``x_groq.usage``)."""
    prompt = int(data.get("prompt_tokens") or 0)
    completion = int(data.get("completion_tokens") or 0)
    total = data.get("total_tokens")
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    cached = prompt_details.get("cached_tokens") or data.get("prompt_cache_hit_tokens") or 0
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(total) if total is not None else prompt + completion,
        cached_tokens=int(cached),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
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


def _tool_deltas(raw_calls: list[Any]) -> tuple[ToolCallDelta, ...]:
    deltas = []
    for position, call in enumerate(raw_calls):
        function = call.get("function") or {}
        deltas.append(
            ToolCallDelta(
                index=call.get("index", position),
                id=call.get("id") or None,
                name=function.get("name") or None,
                arguments=function.get("arguments") or "",
            )
        )
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
        message = choice.get("message") or {}
        text, thinking = _split_content(message.get("content"))
        calls = [
            ToolCall(
                id=call.get("id") or f"call_{i}",
                name=(call.get("function") or {}).get("name") or "",
                arguments=(call.get("function") or {}).get("arguments") or "",
            )
            for i, call in enumerate(message.get("tool_calls") or [])
        ]
        raw_finish = choice.get("finish_reason")
        usage = payload.get("usage")
        return ChatResponse(
            content=text,
            finish_reason=normalize_finish_reason(raw_finish),
            raw_finish_reason=raw_finish,
            usage=openai_usage(usage) if isinstance(usage, dict) else Usage(is_estimated=True, confidence=0.0),
            tool_calls=calls,
            reasoning=_reasoning_of(message) or thinking,
            model=payload.get("model") or spec.model,
            provider=self.name,
            raw=payload,
        )

    # -- streaming ---------------------------------------------------------------------------
    def iter_chunks(self, events: Iterable[SSEEvent], spec: RequestSpec) -> Iterator[StreamChunk]:
        """Translate ``chat.completion.chunk`` events; return at ``[DONE]``."""
        index = 0
        finished = False
        for event in until_broken(events, lambda: finished):
            data = event.data
            if data == "[DONE]":
                return
            if event.event == "error":
                raise error_from_payload(decode_json(data, provider=self.name), provider=self.name)
            if not data.strip():
                continue
            obj = decode_json(data, provider=self.name)
            if not isinstance(obj, dict):
                continue
            if obj.get("error"):
                raise error_from_payload(obj, provider=self.name)
            chunk = self._chunk(obj, index)
            if chunk.finish_reason is not None:
                finished = True
            index += 1
            yield chunk
        if not finished:
            raise StreamInterruptedError(
                f"{self.name} stream ended before [DONE] or a finish reason: the connection "
                "was closed early or the body was truncated",
                provider=self.name,
            )

    def _chunk(self, obj: dict[str, Any], index: int) -> StreamChunk:
        """One ``chat.completion.chunk`` -> StreamChunk (the per-chunk hot path)."""
        usage_data = obj.get("usage")
        if usage_data is None and "x_groq" in obj:
            usage_data = (obj.get("x_groq") or {}).get("usage")
        usage = openai_usage(usage_data) if type(usage_data) is dict else None
        choices = obj.get("choices")
        choice = _first_choice(choices) if choices else None
        if choice is None:
            return make_chunk("", None, None, obj, index, usage, (), "", 0, {})
        delta = choice.get("delta") or _EMPTY
        content = delta.get("content")
        if type(content) is str:
            text, thinking = content, ""
        else:
            text, thinking = _split_content(content)
        if not delta.keys() <= _PLAIN_DELTA:  # rarer fields: reasoning, tools, refusal
            reasoning = _reasoning_of(delta) or thinking
            raw_calls = delta.get("tool_calls")
            calls = _tool_deltas(raw_calls) if raw_calls else ()
            refusal = delta.get("refusal")
            metadata: dict[str, Any] = {"refusal": refusal} if refusal else {}
        else:
            reasoning, calls, metadata = thinking, (), {}
        raw_finish = choice.get("finish_reason")
        finish = None if raw_finish is None else normalize_finish_reason(raw_finish)
        tokens = estimate_tokens(text) if text else 0
        return make_chunk(text, finish, raw_finish, obj, index, usage, calls, reasoning, tokens, metadata)
