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

Finish reasons: ``end_turn``, ``stop_sequence`` and ``pause_turn`` are ``stop``,
``max_tokens`` and ``model_context_window_exceeded`` are ``length``, ``tool_use`` is
``tool_calls``, ``refusal`` is ``content_filter``; an unknown raw value normalises to
``"stop"`` (the raw value stays in ``raw_finish_reason``). Malformed but valid JSON: an
event whose ``message`` / ``content_block`` / ``delta`` is not an object raises
:class:`~llm_connectivity.errors.ProtocolError`; usage numbers that are not numbers count
as 0. An ``event: error`` frame, JSON or not, raises the typed error (see
:func:`~llm_connectivity.providers.base.error_from_event`).

Requests are translated from the OpenAI-style neutral shape: system/developer messages
become ``system`` (a string, or text blocks when any is a list or has ``cache_control``);
OpenAI ``tools``, ``tool_choice``, ``parallel_tool_calls``, assistant ``tool_calls``,
``role: tool`` results and ``image_url`` parts get their Anthropic forms; Anthropic-native
blocks and tools pass unchanged. ``cache_control`` on blocks passes untouched; on a whole
message (which the API rejects) it moves onto the message's last block. ``response_format``
(``json_object``/``json_schema``) is best effort: an instruction appended to ``system``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidRequestError, ProtocolError, StreamInterruptedError
from ..models import ChatResponse, StreamChunk, ToolCall, ToolCallDelta, Usage, estimate_tokens, make_chunk
from ..request import HTTPRequest, Message, RequestSpec
from ..sse import SSEEvent
from .base import ProviderDriver, as_count, decode_json, error_from_event, error_from_payload, join_url

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicDriver", "anthropic_usage",
           "normalize_stop_reason", "translate_messages", "translate_tool_choice", "translate_tools"]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
           "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter"}
_TOOL_CHOICE = {"auto": "auto", "required": "any", "any": "any", "none": "none"}
# Params translated (or dropped) by build_body; everything else passes through to the body.
_HANDLED_PARAMS = frozenset({
    "max_tokens", "max_completion_tokens", "stop", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "system", "stream", "stream_options",
})
_JSON_OBJECT_INSTRUCTION = "Respond only with a single valid JSON object, with no text before or after it."


def normalize_stop_reason(raw: str | None) -> str | None:
    """Map an Anthropic ``stop_reason`` to stop/length/tool_calls/content_filter; an
    unknown reason is ``"stop"``."""
    if raw is None:
        return None
    return _FINISH.get(str(raw), "stop")


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


# -- request translation -------------------------------------------------------------------
def _image_block(part: dict[str, Any]) -> dict[str, Any]:
    image = part.get("image_url")
    url = str(image.get("url") or "") if isinstance(image, dict) else str(image or "")
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";")[0] or "image/png"
        source: dict[str, Any] = {"type": "base64", "media_type": media_type, "data": data}
    else:
        source = {"type": "url", "url": url}
    block: dict[str, Any] = {"type": "image", "source": source}
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def _convert_part(part: Any) -> Any:
    """An OpenAI content part as an Anthropic block; Anthropic blocks pass unchanged."""
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if isinstance(part, dict) and part.get("type") == "image_url":
        return _image_block(part)
    return part


def _blocks(content: Any) -> list[Any]:
    """Content (None, string, block or list) as a list of blocks; empty text is dropped."""
    if content is None or content == "":
        return []
    return [_convert_part(part) for part in (content if isinstance(content, list) else [content])]


def _content(content: Any, cache_control: Any = None) -> Any:
    """Message content: strings stay strings unless a cache_control must be attached."""
    if cache_control is None:
        return content if isinstance(content, str) else _blocks(content)
    blocks = _blocks(content)
    if blocks:
        blocks[-1] = {**blocks[-1], "cache_control": cache_control}
    return blocks


def _tool_use_block(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    try:
        data = json.loads(arguments) if isinstance(arguments, str) and arguments.strip() else arguments
    except ValueError as exc:
        raise InvalidRequestError(
            f"tool call {call.get('id')!r} has arguments that are not valid JSON: {str(arguments)[:200]!r}",
            provider="anthropic",
        ) from exc
    return {"type": "tool_use", "id": call.get("id") or "", "name": function.get("name") or "",
            "input": data or {}}


def _tool_result_block(msg: Message) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": msg.get("tool_call_id") or ""}
    content = msg.get("content")
    if content not in (None, "", []):
        block["content"] = _content(content)
    if msg.get("is_error"):
        block["is_error"] = True
    if msg.get("cache_control") is not None:
        block["cache_control"] = msg["cache_control"]
    return block


def _chat_message(msg: Message) -> Message:
    """A user/assistant message in Anthropic form (only ``role`` and ``content`` are kept)."""
    content = msg.get("content")
    if msg.get("role") == "assistant" and msg.get("tool_calls"):
        content = _blocks(content) + [_tool_use_block(call) for call in msg["tool_calls"]]
    return {"role": msg.get("role"), "content": _content(content, msg.get("cache_control"))}


def translate_messages(messages: list[Message]) -> tuple[list[Message], list[Message]]:
    """Split OpenAI-style messages into (system messages, Anthropic conversation messages).

    ``role: tool`` results become ``tool_result`` blocks of a user message; consecutive
    results share one user message.
    """
    system: list[Message] = []
    out: list[Message] = []
    tool_turn: Message | None = None
    for msg in messages:
        role = msg.get("role")
        if role in ("system", "developer"):
            system.append(msg)
        elif role == "tool":
            if tool_turn is None or out[-1] is not tool_turn:
                tool_turn = {"role": "user", "content": []}
                out.append(tool_turn)
            out[-1]["content"].append(_tool_result_block(msg))
        else:
            out.append(_chat_message(msg))
    return system, out


def _system_value(system: list[Message]) -> str | list[Any] | None:
    """The top-level ``system`` field: joined text, or blocks when any needs block form."""
    if not system:
        return None
    if all(isinstance(m.get("content"), str) and m.get("cache_control") is None for m in system):
        return "\n\n".join(m["content"] for m in system if m["content"])
    blocks: list[Any] = []
    for msg in system:
        blocks.extend(_content(msg.get("content"), msg.get("cache_control")))
    return blocks


def _format_instruction(fmt: Any) -> str | None:
    """The system instruction that stands in for an OpenAI ``response_format``."""
    kind = fmt.get("type") if isinstance(fmt, dict) else fmt
    if kind == "json_object":
        return _JSON_OBJECT_INSTRUCTION
    if kind == "json_schema" and isinstance(fmt, dict):
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return ("Respond only with a single valid JSON value that conforms to this JSON Schema, "
                f"with no text before or after it:\n{json.dumps(schema)}")
    return None


def _append_system(system: str | list[Any] | None, text: str) -> str | list[Any]:
    if isinstance(system, list):
        return [*system, {"type": "text", "text": text}]
    return f"{system}\n\n{text}" if system else text


def translate_tools(tools: list[Any]) -> list[Any]:
    """OpenAI function tools as Anthropic ``{name, description, input_schema}`` tools."""
    out = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type") != "function":
            out.append(tool)  # already Anthropic-shaped (custom or server tool)
            continue
        converted: dict[str, Any] = {"name": function.get("name") or ""}
        if function.get("description"):
            converted["description"] = function["description"]
        converted["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
        if "cache_control" in tool:
            converted["cache_control"] = tool["cache_control"]
        out.append(converted)
    return out


def translate_tool_choice(choice: Any) -> dict[str, Any]:
    """OpenAI ``tool_choice`` as Anthropic's; Anthropic-shaped dicts pass unchanged."""
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICE:
            raise InvalidRequestError(
                f"tool_choice {choice!r} is not one of auto, required, none (or a tool dict)",
                provider="anthropic",
            )
        return {"type": _TOOL_CHOICE[choice]}
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        return {"type": "tool", "name": name}
    if isinstance(choice, dict):
        return choice
    raise InvalidRequestError(f"tool_choice must be a string or a dict, not {choice!r}", provider="anthropic")


# -- streaming state -----------------------------------------------------------------------
@dataclass
class _Block:
    tool_index: int | None = None  # dense ordinal, client tool_use blocks only
    has_arguments: bool = False
    start_input: Any = None


def _block_key(index: Any) -> Any:
    """A content block's ``index`` as a dict key (an unhashable value becomes its repr)."""
    return index if index is None or isinstance(index, (int, str, float)) else repr(index)


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
        return make_chunk(content, None, None, self.obj, index, None, calls, reasoning,
                          estimate_tokens(content) if content else 0, {} if metadata is None else metadata)

    def member(self, name: str) -> dict[str, Any]:
        """The event's object-valued field ``name`` ({} when absent); ProtocolError when it
        is present but not an object."""
        value = self.obj.get(name)
        if type(value) is dict:
            return value
        if value is None:
            return {}
        raise ProtocolError(f"{self.provider} sent a {self.obj.get('type')} event whose {name!r} is not an "
                            f"object: {value!r:.200}", provider=self.provider)

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
        state = self.blocks[_block_key(self.obj.get("index"))] = _Block(start_input=block.get("input"))
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
        block = self.blocks.get(_block_key(self.obj.get("index")))
        if kind == "input_json_delta" and block is not None and block.tool_index is not None:
            fragment = str(delta.get("partial_json") or "")
            if fragment:
                block.has_arguments = True
                return self.chunk(calls=(ToolCallDelta(block.tool_index, arguments=fragment),))
        return None  # citations_delta, server tool input, unknown deltas

    def content_block_stop(self) -> StreamChunk | None:
        """Close a block; a tool call that got no argument JSON gets ``{}``."""
        block = self.blocks.get(_block_key(self.obj.get("index")))
        if block is None or block.tool_index is None or block.has_arguments:
            return None
        arguments = json.dumps(block.start_input) if block.start_input else "{}"
        return self.chunk(calls=(ToolCallDelta(block.tool_index, arguments=arguments),))

    def message_delta(self) -> StreamChunk | None:
        """Stop reason, stop sequence and cumulative output usage."""
        delta = self.member("delta")
        raw = delta.get("stop_reason")
        raw = raw if raw is None or type(raw) is str else str(raw)
        metadata = {k: delta[k] for k in ("stop_sequence", "stop_details") if delta.get(k) is not None}
        index = self.chunks
        self.chunks += 1
        return make_chunk("", normalize_stop_reason(raw), raw, self.obj, index,
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
        base = (base_url or self.default_base_url).rstrip("/")
        return join_url(base, "messages" if base.endswith("/v1") else "v1/messages")

    def headers(self, spec: RequestSpec) -> dict[str, str]:
        """API key, version and content headers for ``spec``."""
        headers = {"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}
        if spec.stream:
            headers["accept"] = "text/event-stream"
        if spec.api_key:
            headers["x-api-key"] = spec.api_key
        return headers

    def build_body(self, spec: RequestSpec) -> dict[str, Any]:
        """The JSON body of a Messages request (see the module docstring for the rules)."""
        params = spec.params
        system_msgs, messages = translate_messages(spec.messages)
        if params.get("system") is not None:
            system_msgs.insert(0, {"role": "system", "content": params["system"]})
        max_tokens = params.get("max_tokens") or params.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
        body: dict[str, Any] = {"model": spec.model, "messages": messages, "max_tokens": max_tokens}
        system = _system_value(system_msgs)
        instruction = _format_instruction(params.get("response_format"))
        if instruction:
            system = _append_system(system, instruction)
        if system:
            body["system"] = system
        self._add_tool_params(body, params)
        stop = params.get("stop")
        if stop:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        body.update({k: v for k, v in params.items() if k not in _HANDLED_PARAMS})
        if spec.stream:
            body["stream"] = True
        return body

    @staticmethod
    def _add_tool_params(body: dict[str, Any], params: dict[str, Any]) -> None:
        if params.get("tools"):
            body["tools"] = translate_tools(params["tools"])
        choice = translate_tool_choice(params["tool_choice"]) if params.get("tool_choice") else None
        if params.get("parallel_tool_calls") is False:
            choice = dict(choice or {"type": "auto"})
            if choice.get("type") != "none":
                choice["disable_parallel_tool_use"] = True
        if choice is not None:
            body["tool_choice"] = choice

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
        for block in payload.get("content") or []:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                text.append(str(block.get("text") or ""))
            elif kind == "thinking":
                thinking.append(str(block.get("thinking") or ""))
            elif kind == "tool_use":
                calls.append(ToolCall(id=block.get("id") or f"call_{len(calls)}", name=block.get("name") or "",
                                      arguments=json.dumps(block.get("input") or {})))
        raw_finish = payload.get("stop_reason")
        usage = payload.get("usage")
        return ChatResponse(
            content="".join(text),
            finish_reason=normalize_stop_reason(raw_finish),
            raw_finish_reason=raw_finish,
            usage=anthropic_usage(usage) if isinstance(usage, dict) else Usage(is_estimated=True, confidence=0.0),
            tool_calls=calls,
            reasoning="".join(thinking),
            model=payload.get("model") or spec.model,
            provider=self.name,
            raw=payload,
        )

    # -- streaming ---------------------------------------------------------------------------
    def iter_chunks(self, events: Iterable[SSEEvent], spec: RequestSpec) -> Iterator[StreamChunk]:
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
