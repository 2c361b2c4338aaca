"""Request translation for the OpenAI Responses API.

Wire format: ``POST {base_url}/responses`` with the same headers as the vendor's Chat
Completions driver (the driver supplies them); ``stream: true`` asks for an event stream.
The JSON body holds ``model``, ``input`` (a list of input items) and, when any system or
developer message was given, ``instructions``.

Request (from Chat Completions-style input): system/developer messages are joined into
``instructions``; user/assistant messages become ``{"role", "content"}`` input items (content
parts ``text`` -> ``input_text`` / ``output_text``, ``image_url`` -> ``input_image``);
assistant ``tool_calls`` become ``function_call`` items and ``tool`` messages
``function_call_output`` items; ready-made Responses items (with a ``type``) pass unchanged.
``max_tokens`` / ``max_completion_tokens`` -> ``max_output_tokens``; ``reasoning_effort`` ->
``reasoning.effort``; nested chat ``tools`` are flattened (``strict`` is sent as given, else
false: Responses makes function tools strict by default, Chat Completions does not);
``tool_choice`` ``{"type":"function","function":{"name"}}`` -> ``{"type":"function","name"}``;
``response_format`` -> ``text.format``. ``stop`` and ``stream_options`` are DROPPED: the
Responses API accepts neither. Other parameters pass through.
"""

from __future__ import annotations

from typing import Any

from ..request import Message, RequestSpec
from .wire import join_url

__all__ = ["build_body", "responses_url"]

_TEXT_PART = {"assistant": "output_text"}  # every other role sends input_text
_DROPPED = frozenset({"stop", "stream", "stream_options", "max_tokens", "max_completion_tokens",
                      "tools", "tool_choice", "response_format", "reasoning_effort"})
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def responses_url(base_url: str) -> str:
    """``{base_url}/responses``."""
    return join_url(base_url, "responses")


def build_body(spec: RequestSpec) -> dict[str, Any]:
    """The JSON body of a Responses request (see the module docstring for the mapping)."""
    instructions, items = _input(spec.messages)
    body: dict[str, Any] = {"model": spec.model, "input": items}
    if instructions:
        body["instructions"] = instructions
    params = spec.params
    body.update((k, v) for k, v in params.items() if k not in _DROPPED)
    limit = params.get("max_tokens", params.get("max_completion_tokens"))
    if limit is not None:
        body.setdefault("max_output_tokens", limit)
    if params.get("tools") is not None:
        body["tools"] = [_tool(t) for t in params["tools"]]
    if params.get("tool_choice") is not None:
        body["tool_choice"] = _tool_choice(params["tool_choice"])
    if params.get("response_format") is not None:
        body["text"] = {**(body.get("text") or {}), "format": _text_format(params["response_format"])}
    if params.get("reasoning_effort") is not None:
        body["reasoning"] = {**(body.get("reasoning") or {}), "effort": params["reasoning_effort"]}
    if spec.stream:
        body["stream"] = True
    return body


# -- input items -----------------------------------------------------------------------------
def _text_of(content: Any) -> str:
    """The text of a string or of a list of chat content parts."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def _part(part: Any, role: str) -> Any:
    """One chat content part as a Responses content part."""
    if isinstance(part, str):
        part = {"type": "text", "text": part}
    if not isinstance(part, dict):
        return part
    kind = part.get("type")
    if kind == "text":
        return {"type": _TEXT_PART.get(role, "input_text"), "text": part.get("text") or ""}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        detail = image.get("detail") if isinstance(image, dict) else None
        return {"type": "input_image", "image_url": url, "detail": detail or "auto"}
    return part


def _message_items(message: Message) -> list[dict[str, Any]]:
    """A user/assistant message as input items (the message, then its function calls)."""
    role = str(message.get("role") or "user")
    content = message.get("content")
    calls = message.get("tool_calls") or []
    items: list[dict[str, Any]] = []
    if isinstance(content, list) and content:
        items.append({"role": role, "content": [_part(p, role) for p in content]})
    elif _text_of(content) or not calls:
        items.append({"role": role, "content": _text_of(content)})
    for call in calls:
        function = call.get("function") or {}
        items.append({"type": "function_call", "call_id": call.get("id") or "",
                      "name": function.get("name") or "", "arguments": function.get("arguments") or ""})
    return items


def _input(messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """Split chat messages into (``instructions``, ``input`` items)."""
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            instructions.append(_text_of(message.get("content")))
        elif role == "tool":
            items.append({"type": "function_call_output", "call_id": message.get("tool_call_id") or "",
                          "output": _text_of(message.get("content"))})
        elif role is None and "type" in message:
            items.append(dict(message))  # already a Responses input item
        else:
            items.extend(_message_items(message))
    return "\n\n".join(t for t in instructions if t), items


def _tool(tool: Any) -> Any:
    """A chat ``{"type":"function","function":{...}}`` tool, flattened; other tools unchanged."""
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict):
        return tool
    out: dict[str, Any] = {"type": "function", "name": function.get("name") or ""}
    if function.get("description") is not None:
        out["description"] = function["description"]
    out["parameters"] = function.get("parameters") or _EMPTY_SCHEMA
    out["strict"] = bool(function.get("strict"))
    return out


def _tool_choice(choice: Any) -> Any:
    """``{"type":"function","function":{"name":X}}`` -> ``{"type":"function","name":X}``."""
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "function", "name": choice["function"].get("name")}
    return choice


def _text_format(fmt: Any) -> Any:
    """A chat ``response_format`` as a Responses ``text.format``."""
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return fmt
    spec = fmt.get("json_schema") or {}
    out: dict[str, Any] = {"type": "json_schema", "name": spec.get("name") or "response",
                           "schema": spec.get("schema") or {}}
    for key in ("description", "strict"):
        if spec.get(key) is not None:
            out[key] = spec[key]
    return out
