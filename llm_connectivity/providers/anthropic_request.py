"""Request translation for the Anthropic Messages API.

Wire format: ``POST {base_url}/v1/messages`` (a base URL already ending in ``/v1`` is not
doubled) with ``x-api-key``, ``anthropic-version`` (:data:`ANTHROPIC_VERSION`) and
``content-type: application/json`` headers, plus ``accept: text/event-stream`` when
streaming. The JSON body holds ``model``, ``messages`` (roles ``user`` / ``assistant``, each
``content`` a string or a list of blocks) and ``max_tokens``, which is mandatory: without
``max_tokens`` or ``max_completion_tokens`` it is :data:`DEFAULT_MAX_TOKENS`. The system
prompt is a top-level ``system`` field; ``stream: true`` asks for an event stream.

Requests are translated from the OpenAI-style neutral shape: system/developer messages
become ``system`` (a string, or text blocks when any is a list or has ``cache_control``);
OpenAI ``tools``, ``tool_choice``, ``parallel_tool_calls``, assistant ``tool_calls``,
``role: tool`` results and ``image_url`` parts get their Anthropic forms; Anthropic-native
blocks and tools pass unchanged. ``cache_control`` on blocks passes untouched; on a whole
message (which the API rejects) it moves onto the message's last block. ``response_format``
(``json_object``/``json_schema``) is best effort: an instruction appended to ``system``.
``stop`` becomes ``stop_sequences``; ``stream_options`` is dropped; every other parameter
passes through to the body unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidRequestError
from ..request import Message, RequestSpec
from .wire import join_url, split_query

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "build_body", "messages_url", "request_headers",
           "translate_messages", "translate_tool_choice", "translate_tools"]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

_TOOL_CHOICE = {"auto": "auto", "required": "any", "any": "any", "none": "none"}
# Params translated (or dropped) by build_body; everything else passes through to the body.
_HANDLED_PARAMS = frozenset({
    "max_tokens", "max_completion_tokens", "stop", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "system", "stream", "stream_options",
})
_JSON_OBJECT_INSTRUCTION = "Respond only with a single valid JSON object, with no text before or after it."


# -- URL and headers -------------------------------------------------------------------------
def messages_url(base_url: str, default_base_url: str) -> str:
    """``{base_url}/v1/messages`` (``default_base_url`` when ``base_url`` is empty); a base
    URL already ending in ``/v1`` is not doubled; its query string stays at the end."""
    base = base_url or default_base_url
    path = split_query(base)[0].rstrip("/")
    return join_url(base, "messages" if path.endswith("/v1") else "v1/messages")


def request_headers(spec: RequestSpec) -> dict[str, str]:
    """API key, version and content headers for ``spec``."""
    headers = {"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}
    if spec.stream:
        headers["accept"] = "text/event-stream"
    if spec.api_key:
        headers["x-api-key"] = spec.api_key
    return headers


# -- messages --------------------------------------------------------------------------------
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


# -- system prompt ---------------------------------------------------------------------------
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


# -- tools -----------------------------------------------------------------------------------
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


def _add_tool_params(body: dict[str, Any], params: dict[str, Any]) -> None:
    """Set ``tools`` and ``tool_choice`` (with ``disable_parallel_tool_use``) on ``body``."""
    if params.get("tools"):
        body["tools"] = translate_tools(params["tools"])
    choice = translate_tool_choice(params["tool_choice"]) if params.get("tool_choice") else None
    if params.get("parallel_tool_calls") is False:
        choice = dict(choice or {"type": "auto"})
        if choice.get("type") != "none":
            choice["disable_parallel_tool_use"] = True
    if choice is not None:
        body["tool_choice"] = choice


# -- body ------------------------------------------------------------------------------------
def build_body(spec: RequestSpec) -> dict[str, Any]:
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
    _add_tool_params(body, params)
    stop = params.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    body.update({k: v for k, v in params.items() if k not in _HANDLED_PARAMS})
    if spec.stream:
        body["stream"] = True
    return body
