"""Anthropic Messages API driver.

Wire format: ``POST {base_url}/v1/messages`` with ``x-api-key`` and ``anthropic-version``
headers; ``max_tokens`` is mandatory and the system prompt is a top-level ``system`` field.
With ``stream: true`` the body is an event stream; each event's JSON ``type`` repeats its
name: ``message_start`` (message id, model, input usage), then per content block
``content_block_start`` (block ``type``: text, thinking, redacted_thinking, tool_use,
server_tool_use, *_tool_result...), ``content_block_delta`` (``text_delta``,
``thinking_delta``, ``signature_delta``, ``input_json_delta``, ``citations_delta``) and
``content_block_stop``; then ``message_delta`` (``stop_reason``, ``stop_sequence``,
cumulative ``usage.output_tokens``) and the terminal ``message_stop``. ``ping`` is a
keep-alive; ``error`` carries ``{"type": "error", "error": {"type": "overloaded_error", ...}}``.

Quirks handled (seen in recorded streams): JSON padded with spaces before the closing
brace; ``message_delta.usage`` may repeat the input fields (they then win); block ``index``
counts every block, so client ``tool_use`` blocks are renumbered densely 0, 1, ...; a tool
without parameters streams only ``partial_json: ""`` (its arguments become ``"{}"``);
server tool input and result blocks never become content or tool calls; thinking is
reasoning, never content; ``redacted_thinking`` data goes to chunk metadata only.

Finish reasons (:data:`FINISH_REASONS`): ``end_turn``, ``stop_sequence`` and ``pause_turn``
are ``stop``, ``max_tokens`` and ``model_context_window_exceeded`` are ``length``,
``tool_use`` is ``tool_calls``, ``refusal`` is ``content_filter``; an unknown raw value
follows the one policy of :mod:`~llm_connectivity.providers.finish` (``"stop"``, the raw
value stays in ``raw_finish_reason``). A ``citations_delta`` puts its citation in
``chunk.metadata["citation"]``, a ``signature_delta`` its signature in
``chunk.metadata["signature"]``. Malformed but valid JSON: an
event whose ``message`` / ``content_block`` / ``delta`` is not an object raises
:class:`~llm_connectivity.errors.ProtocolError`; usage numbers that are not numbers count
as 0. An ``event: error`` frame, JSON or not, raises the typed error (see
:func:`~llm_connectivity.providers.base.error_from_event`).

Request translation (URL, headers, the JSON body: messages, ``system``, tools,
``tool_choice``, ``response_format``, images...) lives in
:mod:`~llm_connectivity.providers.anthropic_request`; its names are re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import StreamInterruptedError
from ..models import ChatResponse, StreamChunk, ToolCall, ToolCallDelta, Usage, make_chunk
from ..request import HTTPRequest, Message, RequestSpec
from ..sse import SSEEvent
from .anthropic_request import (
    ANTHROPIC_VERSION,
    DEFAULT_MAX_TOKENS,
    build_body as _build_body,
    messages_url,
    request_headers,
    translate_messages,
    translate_tool_choice,
    translate_tools,
)
from .base import ProviderDriver
from .finish import normalize_finish_reason, raw_reason
from .inband import error_from_event, error_from_payload
from .wire import as_count, decode_json, hashable, member, member_list, text_or_none, usage_or_unknown

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "FINISH_REASONS", "AnthropicDriver", "anthropic_usage",
           "translate_messages", "translate_tool_choice", "translate_tools"]

#: Anthropic ``stop_reason`` values -> normalised finish reason.
FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
                  "model_context_window_exceeded": "length", "tool_use": "tool_calls",
                  "refusal": "content_filter"}


def anthropic_usage(raw: dict[str, Any]) -> Usage:
    """Translate Anthropic usage: prompt = input + cache reads + cache writes."""
    details = raw.get("output_tokens_details")
    prompt = sum(as_count(raw.get(k)) for k in
                 ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"))
    completion = as_count(raw.get("output_tokens"))
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=as_count(raw.get("cache_read_input_tokens")),
        reasoning_tokens=as_count(details.get("thinking_tokens")) if isinstance(details, dict) else 0,
        raw=dict(raw),
    )


# -- streaming state -----------------------------------------------------------------------
@dataclass
class _Block:
    tool_index: int | None = None  # dense ordinal, client tool_use blocks only
    has_arguments: bool = False
    start_input: Any = None


@dataclass
class _StreamState:
    """Per-stream state: open blocks, the tool counter, merged usage and the chunk counter."""

    provider: str = "anthropic"
    blocks: dict[Any, _Block] = field(default_factory=dict)
    tools: int = 0
    usage: dict[str, Any] = field(default_factory=dict)
    chunks: int = 0
    obj: dict[str, Any] = field(default_factory=dict)

    def chunk(self, content: str = "", reasoning: str = "", calls: tuple[ToolCallDelta, ...] = (),
              metadata: dict[str, Any] | None = None) -> StreamChunk:
        """A chunk for the current event, numbered by the running counter."""
        index = self.chunks
        self.chunks += 1
        return make_chunk(content, None, None, self.obj, index, None, calls, reasoning, 0,
                          {} if metadata is None else metadata)

    def member(self, name: str) -> dict[str, Any]:
        """The event's object-valued field ``name`` ({} when absent); ProtocolError when it
        is present but not an object."""
        return member(self.obj, name, self.provider, f"a {self.obj.get('type')} event")

    def merge_usage(self, data: Any) -> Usage | None:
        """Fold a usage report into the running dict (non-null fields win) and translate it."""
        if not isinstance(data, dict):
            return None
        self.usage.update({k: v for k, v in data.items() if v is not None})
        return anthropic_usage(self.usage)

    def message_start(self) -> StreamChunk | None:
        """Input usage and the model name from ``message_start``."""
        message = self.member("message")
        usage = self.merge_usage(message.get("usage"))
        metadata = {"model": message.get("model"), "message_id": message.get("id")}
        metadata = {k: v for k, v in metadata.items() if v}
        if usage is None and not metadata:
            return None
        index = self.chunks
        self.chunks += 1
        return make_chunk("", None, None, self.obj, index, usage, (), "", 0, metadata)

    def content_block_start(self) -> StreamChunk | None:
        """Open a block: text/thinking may carry initial text; tool_use starts a call."""
        block = self.member("content_block")
        kind = str(block.get("type") or "")
        state = self.blocks[hashable(self.obj.get("index"))] = _Block(start_input=block.get("input"))
        if kind == "text":
            return self.chunk(str(block.get("text") or "")) if block.get("text") else None
        if kind == "thinking":
            return self.chunk(reasoning=str(block["thinking"])) if block.get("thinking") else None
        if kind == "redacted_thinking":
            return self.chunk(metadata={"redacted_thinking": block.get("data")})
        if kind == "tool_use":
            state.tool_index, self.tools = self.tools, self.tools + 1
            call_id, name = block.get("id"), block.get("name")
            delta = ToolCallDelta(index=state.tool_index, id=None if call_id is None else str(call_id),
                                  name=None if name is None else str(name))
            return self.chunk(calls=(delta,))
        return self.chunk(metadata={"content_block": block})  # server tools, results, unknown

    def content_block_delta(self) -> StreamChunk | None:
        """Text, thinking, signature and tool-argument increments."""
        delta = self.obj.get("delta")
        if type(delta) is not dict:
            delta = self.member("delta")
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            return self.chunk(text if type(text) is str else str(text or ""))
        if kind == "thinking_delta":
            return self.chunk("", str(delta.get("thinking") or ""))
        if kind == "signature_delta":
            return self.chunk(metadata={"signature": delta.get("signature")})
        if kind == "citations_delta":
            return self.chunk(metadata={"citation": delta.get("citation")})
        block = self.blocks.get(hashable(self.obj.get("index")))
        if kind == "input_json_delta" and block is not None and block.tool_index is not None:
            fragment = str(delta.get("partial_json") or "")
            if fragment:
                block.has_arguments = True
                return self.chunk(calls=(ToolCallDelta(block.tool_index, arguments=fragment),))
        return None  # server tool input, unknown deltas

    def content_block_stop(self) -> StreamChunk | None:
        """Close a block; a tool call that got no argument JSON gets ``{}``."""
        block = self.blocks.get(hashable(self.obj.get("index")))
        if block is None or block.tool_index is None or block.has_arguments:
            return None
        arguments = json.dumps(block.start_input) if block.start_input else "{}"
        return self.chunk(calls=(ToolCallDelta(block.tool_index, arguments=arguments),))

    def message_delta(self) -> StreamChunk | None:
        """Stop reason, stop sequence and cumulative output usage."""
        delta = self.member("delta")
        raw = raw_reason(delta.get("stop_reason"))
        metadata = {k: delta[k] for k in ("stop_sequence", "stop_details") if delta.get(k) is not None}
        index = self.chunks
        self.chunks += 1
        return make_chunk("", normalize_finish_reason(raw, FINISH_REASONS), raw, self.obj, index,
                          self.merge_usage(self.obj.get("usage")), (), "", 0, metadata)


_HANDLERS = {
    "message_start": _StreamState.message_start,
    "content_block_start": _StreamState.content_block_start,
    "content_block_delta": _StreamState.content_block_delta,
    "content_block_stop": _StreamState.content_block_stop,
    "message_delta": _StreamState.message_delta,
}


class AnthropicDriver(ProviderDriver):
    """Translator for the Anthropic Messages API (``/v1/messages``)."""

    name = "anthropic"
    api_key_env = ("ANTHROPIC_API_KEY",)
    base_url_env = "ANTHROPIC_BASE_URL"
    default_base_url = "https://api.anthropic.com"

    def continuation_messages(self, messages: list[Message], partial: str) -> list[Message] | None:
        """Anthropic continues a trailing assistant message (prefill); it rejects trailing
        whitespace there, so the prefix is right-stripped."""
        prefix = partial.rstrip()
        return [*messages, {"role": "assistant", "content": prefix}] if prefix else None

    # -- request ---------------------------------------------------------------------------
    def url(self, base_url: str) -> str:
        """``{base_url}/v1/messages``; a base URL already ending in ``/v1`` is not doubled."""
        return messages_url(base_url, self.default_base_url)

    def headers(self, spec: RequestSpec) -> dict[str, str]:
        """API key, version and content headers for ``spec``."""
        return request_headers(spec)

    def build_body(self, spec: RequestSpec) -> dict[str, Any]:
        """The JSON body of a Messages request (see :mod:`.anthropic_request` for the rules)."""
        return _build_body(spec)

    def build_request(self, spec: RequestSpec) -> HTTPRequest:
        """``POST {base_url}/v1/messages``."""
        body = json.dumps(self.build_body(spec)).encode()
        return HTTPRequest("POST", self.url(spec.base_url), self.headers(spec), body, stream=spec.stream)

    # -- non-streaming -----------------------------------------------------------------------
    def parse_response(self, payload: Any, spec: RequestSpec) -> ChatResponse:
        """Translate a ``message`` object; an error object raises the typed error."""
        if not isinstance(payload, dict) or payload.get("type") == "error" or payload.get("error"):
            raise error_from_payload(payload, provider=self.name)
        text: list[str] = []
        thinking: list[str] = []
        calls: list[ToolCall] = []
        for block in member_list(payload, "content", self.name, "a message"):
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                text.append(str(block.get("text") or ""))
            elif kind == "thinking":
                thinking.append(str(block.get("thinking") or ""))
            elif kind == "tool_use":
                calls.append(ToolCall(id=text_or_none(block.get("id")) or f"call_{len(calls)}",
                                      name=text_or_none(block.get("name")) or "",
                                      arguments=json.dumps(block.get("input") or {})))
        raw_finish = raw_reason(payload.get("stop_reason"))
        return ChatResponse(content="".join(text), reasoning="".join(thinking), tool_calls=calls,
                            finish_reason=normalize_finish_reason(raw_finish, FINISH_REASONS),
                            raw_finish_reason=raw_finish, usage=usage_or_unknown(payload.get("usage"), anthropic_usage),
                            model=text_or_none(payload.get("model")) or spec.model, provider=self.name, raw=payload)

    # -- streaming ---------------------------------------------------------------------------
    def translate_events(self, events: Iterable[SSEEvent], spec: RequestSpec) -> Iterator[StreamChunk]:
        """Translate Messages stream events; return at ``message_stop``."""
        state = _StreamState(self.name)
        for event in events:
            obj = self._decode(event)
            if obj is None:
                continue
            kind = obj.get("type") or event.event
            if kind == "message_stop":
                return
            handler = _HANDLERS.get(str(kind))
            if handler is None:
                continue  # ping and unknown event types
            state.obj = obj
            chunk = handler(state)
            if chunk is not None:
                yield chunk
        raise StreamInterruptedError(
            f"{self.name} stream ended without message_stop after {state.chunks} chunks: "
            "the connection was closed early or the body was truncated",
            provider=self.name,
        )

    def _decode(self, event: SSEEvent) -> dict[str, Any] | None:
        """The event's JSON object (None to skip it); raises for error events."""
        if event.event == "error":
            raise error_from_event(event, self.name)
        if not event.data.strip():
            return None
        obj = decode_json(event.data, provider=self.name)
        if type(obj) is not dict:
            return None
        if obj.get("type") == "error":
            raise error_from_payload(obj, provider=self.name)
        return obj
