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
DeepSeek's ``insufficient_system_resource``, both ``error``), are mapped by
:data:`FINISH_REASONS`; an unknown raw value follows the one policy of
:mod:`~llm_connectivity.providers.finish` (``"stop"``, the raw value stays in
``raw_finish_reason``).

A server that rejects ``stream_options`` (400/422 naming it) is handled by
:meth:`OpenAIDriver.recover_params`: the engine sends the request once more without it.
The driver is built from a catalog row (:class:`~.compatible.CompatibleProvider`);
``api="responses"`` gives the Responses driver built from the same row.

Malformed but valid JSON: a ``delta`` or ``tool_calls`` that is not an object / a list
raises :class:`~llm_connectivity.errors.ProtocolError`; ``null`` tool-call entries are
skipped; usage numbers that are not numbers count as 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import APIStatusError, LLMError, ProtocolError, StreamInterruptedError
from ..models import ChatResponse, StreamChunk, ToolCall, ToolCallDelta, Usage, make_chunk
from ..request import HTTPRequest, Message, RequestSpec
from ..sse import SSEEvent
from .compatible import CompatibleProvider, RowDriver
from .finish import normalize_finish_reason, raw_reason
from .inband import error_from_event, error_from_payload
from .wire import decode_json, join_url, reported_usage, text_or_none, until_broken, usage_or_unknown

__all__ = ["FINISH_REASONS", "OpenAIDriver", "openai_usage"]

#: Chat Completions finish reasons (OpenAI's and the compatible servers') -> normalised.
FINISH_REASONS = {
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


def openai_usage(data: dict[str, Any]) -> Usage:
    """Translate an OpenAI-style ``usage`` object (or Groq's ``x_groq.usage``); DeepSeek's
    ``prompt_cache_hit_tokens`` counts as cached when the details have none."""
    return reported_usage(data, "prompt_tokens", "completion_tokens", ("prompt_tokens_details", "cached_tokens"),
                          ("completion_tokens_details", "reasoning_tokens"), "prompt_cache_hit_tokens")


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
                thinking.extend(str(p.get("text") or "") for p in inner if isinstance(p, dict))
        elif kind == "text" or (kind is None and "text" in part):
            text.append(str(part.get("text") or ""))
    return "".join(text), "".join(thinking)


def _reasoning_of(obj: dict[str, Any]) -> str:
    value = obj.get("reasoning_content")
    if not isinstance(value, str):
        value = obj.get("reasoning")
    return value if isinstance(value, str) else ""


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
            id=text_or_none(call.get("id")),
            name=text_or_none(function.get("name")),
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


class OpenAIDriver(RowDriver):
    """Chat Completions translator for one vendor, configured by a catalog row.

    ``OpenAIDriver("acme", default_base_url=..., api_key_env=(...), ...)`` builds the row
    from keywords; :meth:`from_row` takes a ready :class:`~.compatible.CompatibleProvider`.
    ``for_api("responses")`` is the Responses driver of the same row.
    """

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
        super().__init__(CompatibleProvider(
            name, default_base_url, tuple(api_key_env), requires_api_key, max_tokens_field, base_url_env,
            prefix_field, tuple((extra_headers or {}).items())))

    @classmethod
    def from_row(cls, row: CompatibleProvider) -> OpenAIDriver:
        """The Chat Completions driver of a catalog row."""
        driver = cls.__new__(cls)
        RowDriver.__init__(driver, row)
        return driver

    def continuation_messages(self, messages: list[Message], partial: str) -> list[Message] | None:
        """Only vendors with an assistant-prefix flag (Mistral's ``prefix``) can continue."""
        prefix_field = self.row.prefix_field
        if not prefix_field or not partial:
            return None
        return [*messages, {"role": "assistant", "content": partial, prefix_field: True}]

    def recover_params(self, spec: RequestSpec, error: LLMError) -> dict[str, Any] | None:
        """``{"stream_options": None}`` when a streaming request that sent
        ``stream_options`` was refused with a 400/422 naming the field; else None."""
        if (spec.stream and isinstance(error, APIStatusError) and error.status_code in (400, 422)
                and "stream_options" in error.message and spec.params.get("stream_options", {}) is not None):
            return {"stream_options": None}
        return None

    # -- request ---------------------------------------------------------------------------
    def headers(self, spec: RequestSpec) -> dict[str, str]:
        """Authorization and content headers for ``spec``."""
        return self.row.headers(spec)

    def build_body(self, spec: RequestSpec) -> dict[str, Any]:
        """The JSON body of a Chat Completions request."""
        body: dict[str, Any] = {"model": spec.model, "messages": spec.messages}
        for key, value in spec.params.items():
            if key == "max_tokens":
                body[self.row.max_tokens_field] = value
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
        raw_finish = raw_reason(choice.get("finish_reason"))
        usage = payload.get("usage")
        return ChatResponse(
            content=text,
            finish_reason=normalize_finish_reason(raw_finish, FINISH_REASONS),
            raw_finish_reason=raw_finish,
            usage=usage_or_unknown(usage, openai_usage),
            tool_calls=calls,
            reasoning=_reasoning_of(message) or thinking,
            model=text_or_none(payload.get("model")) or spec.model,
            provider=self.name,
            raw=payload,
        )

    # -- streaming ---------------------------------------------------------------------------
    def translate_events(self, events: Iterable[SSEEvent], spec: RequestSpec) -> Iterator[StreamChunk]:
        """Translate ``chat.completion.chunk`` events; return at ``[DONE]``.

        A connection lost after a finish reason (only trailing events missing) ends quietly.
        """
        index = 0
        finished = False
        for event in until_broken(events, lambda: finished):
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
            raw_finish = raw_reason(raw_finish)
            finish = normalize_finish_reason(raw_finish, FINISH_REASONS)
        return make_chunk(text, finish, raw_finish, obj, index, usage, calls, reasoning, 0, metadata)
