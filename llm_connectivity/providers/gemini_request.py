"""Request translation for the Google Gemini (Generative Language) API.

Wire format: ``POST {base}/{version}/models/{model}:streamGenerateContent?alt=sse`` when
streaming, else ``POST {base}/{version}/models/{model}:generateContent``. The version is the
``api_version`` parameter or the driver's (``v1beta`` by default); a query string on the base
URL is kept at the end, before ``alt=sse``; a base URL already ending in a version segment (``/v1``, ``/v1beta``, ``/v1alpha2``...) gets no other, and a model name
holding a ``/`` (``tunedModels/x``) is used as given. The key travels in the
``x-goog-api-key`` header, never in the URL.

The JSON body holds ``contents`` (roles ``user`` / ``model``, each a list of ``parts``),
``systemInstruction``, ``generationConfig``, ``tools`` and ``toolConfig``, each sent only when
non-empty. Translation from the OpenAI-style neutral shape: system/developer messages become
``systemInstruction`` parts; text and ``image_url`` content parts become ``text`` and
``inlineData`` (``data:`` URLs) or ``fileData`` parts; assistant ``tool_calls`` become
``functionCall`` parts (with their ``thoughtSignature``) and ``role: tool`` messages
``functionResponse`` parts, answers to parallel calls sharing one user turn; messages that
already hold ``parts`` pass unchanged. ``max_tokens`` / ``max_completion_tokens``, ``top_p``,
``top_k``, ``presence_penalty``, ``frequency_penalty`` and ``n`` are renamed into
``generationConfig`` beside its native keys (``temperature``, ``seed``, ``thinkingConfig``...);
``stop`` becomes ``stopSequences``; a ``json_object`` / ``json_schema`` ``response_format``
sets ``responseMimeType`` (and ``responseJsonSchema``, which takes JSON Schema as
OpenAI-style callers write it); a native ``generationConfig`` wins over all of these. OpenAI function tools are gathered into one ``functionDeclarations`` entry
(native tools pass through); ``tool_choice`` becomes ``toolConfig.functionCallingConfig``,
merged into a native ``toolConfig``. Extra ``contents`` are appended; other unknown
parameters (``safetySettings``, ``cachedContent``...) pass through as top-level keys.
"""

from __future__ import annotations

import json
import mimetypes
import re
from typing import Any

from ..errors import InvalidRequestError
from ..request import Message, RequestSpec
from .wire import join_url, split_query

__all__ = ["build_body", "endpoint_url", "request_headers"]

_VERSION_SUFFIX = re.compile(r"/v\d+(?:(?:alpha|beta)\d*)?/*$")
_GENERATION_KEYS = frozenset((
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema", "responseModalities",
    "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "seed", "presencePenalty",
    "frequencyPenalty", "responseLogprobs", "logprobs", "thinkingConfig", "speechConfig", "imageConfig",
    "mediaResolution", "enableEnhancedCivicAnswers",
))
_RENAMED = {"max_tokens": "maxOutputTokens", "max_completion_tokens": "maxOutputTokens", "top_p": "topP",
            "top_k": "topK", "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty",
            "n": "candidateCount"}
_TRANSLATED = frozenset(("stop", "response_format", "tools", "tool_choice", "generationConfig", "contents",
                         "toolConfig", "api_version", "stream", "stream_options", "model"))
_CHOICE_MODES = {"auto": "AUTO", "required": "ANY", "any": "ANY", "none": "NONE"}


# -- URL, headers and body ---------------------------------------------------------------------
def endpoint_url(spec: RequestSpec, default_base_url: str, api_version: str) -> str:
    """The endpoint URL for ``spec``: ``default_base_url`` when it names no base URL, and
    ``api_version`` unless ``spec.params`` or the base URL already gives a version."""
    base, query = split_query(spec.base_url or default_base_url)
    base = base.rstrip("/")
    if not _VERSION_SUFFIX.search(base):
        base = join_url(base, str(spec.params.get("api_version") or api_version))
    model = spec.model if "/" in spec.model else f"models/{spec.model}"
    method = "streamGenerateContent?alt=sse" if spec.stream else "generateContent"
    return join_url(f"{base}?{query}" if query else base, f"{model}:{method}")


def request_headers(spec: RequestSpec) -> dict[str, str]:
    """The JSON content type and, when ``spec`` has one, the ``x-goog-api-key`` header."""
    headers = {"content-type": "application/json"}
    if spec.api_key:
        headers["x-goog-api-key"] = spec.api_key
    return headers


def build_body(spec: RequestSpec) -> dict[str, Any]:
    """The JSON body of a ``generateContent`` request (see the module docstring)."""
    contents, system = _convert_messages(spec.messages)
    params = spec.params
    body: dict[str, Any] = {"contents": contents + list(params.get("contents") or [])}
    for key, value in (
        ("systemInstruction", {"parts": system} if system else None),
        ("generationConfig", _generation_config(params)),
        ("tools", _tools(params.get("tools"))),
        ("toolConfig", _tool_config(params.get("tool_choice"), params.get("toolConfig"))),
    ):
        if value:
            body[key] = value
    for key, value in params.items():
        if key not in _TRANSLATED and key not in _RENAMED and key not in _GENERATION_KEYS:
            body[key] = value  # native top-level keys: safetySettings, cachedContent, ...
    return body


# -- messages --------------------------------------------------------------------------------
def _convert_messages(messages: list[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI-style messages -> (Gemini ``contents``, ``systemInstruction`` parts)."""
    contents: list[dict[str, Any]] = []
    system: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    tool_turn: dict[str, Any] = {}
    for message in messages:
        role = message.get("role", "user")
        if "parts" in message:  # already Gemini-shaped
            contents.append(message)
        elif role in ("system", "developer"):
            system.extend(_content_parts(message.get("content")))
        elif role == "tool":
            part = {"functionResponse": _function_response(message, call_names)}
            if contents and contents[-1] is tool_turn:
                tool_turn["parts"].append(part)  # answers to parallel calls share one turn
            else:
                tool_turn = {"role": "user", "parts": [part]}
                contents.append(tool_turn)
        elif role in ("assistant", "model"):
            parts = _content_parts(message.get("content")) if message.get("content") else []
            for call in message.get("tool_calls") or []:
                call_names[str(call.get("id"))] = (call.get("function") or {}).get("name", "")
                parts.append(_function_call_part(call))
            if parts:
                contents.append({"role": "model", "parts": parts})
        else:
            contents.append({"role": "user", "parts": _content_parts(message.get("content"))})
    return contents, system


def _content_parts(content: Any) -> list[dict[str, Any]]:
    """A string or a list of OpenAI content parts -> Gemini parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}]
    parts: list[dict[str, Any]] = []
    for item in content if isinstance(content, list) else [content]:
        kind = item.get("type") if isinstance(item, dict) else None
        if isinstance(item, str):
            parts.append({"text": item})
        elif kind == "text":
            parts.append({"text": item.get("text") or ""})
        elif kind == "image_url":
            image = item.get("image_url")
            parts.append(_image_part(image.get("url", "") if isinstance(image, dict) else str(image)))
        elif isinstance(item, dict) and kind is None:
            parts.append(item)  # a native part: inlineData, fileData, functionCall...
        else:
            raise InvalidRequestError(f"gemini: unsupported content part type {kind!r}")
    return parts


def _image_part(url: str) -> dict[str, Any]:
    """A ``data:`` URL -> ``inlineData``; any other URL -> ``fileData``."""
    if url.startswith("data:"):
        header, _, data = url[5:].partition(",")
        return {"inlineData": {"mimeType": header.split(";")[0] or "image/png", "data": data}}
    mime = mimetypes.guess_type(url.split("?")[0])[0]
    return {"fileData": {"fileUri": url, **({"mimeType": mime} if mime else {})}}


def _function_call_part(call: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI ``tool_calls`` entry -> a ``functionCall`` part (with its thought signature)."""
    function = call.get("function") or {}
    arguments = function.get("arguments") or {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError as exc:
            raise InvalidRequestError(f"gemini: tool call arguments are not JSON: {arguments[:100]!r}") from exc
    part: dict[str, Any] = {"functionCall": {"name": function.get("name", ""), "args": arguments}}
    signature = call.get("thought_signature") or ((call.get("extra_content") or {}).get("google") or {}).get(
        "thought_signature")
    if signature:
        part["thoughtSignature"] = signature
    return part


def _function_response(message: Message, call_names: dict[str, str]) -> dict[str, Any]:
    """A ``tool`` message -> ``functionResponse`` {name, response}."""
    name = call_names.get(str(message.get("tool_call_id"))) or message.get("name") or ""
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    if isinstance(content, dict):
        return {"name": name, "response": content}
    try:
        parsed = json.loads(content) if isinstance(content, str) else None
    except ValueError:
        parsed = None
    return {"name": name, "response": parsed if isinstance(parsed, dict) else {"result": content}}


def _generation_config(params: dict[str, Any]) -> dict[str, Any]:
    """``generationConfig`` from OpenAI-style and native parameters (native entries win)."""
    config: dict[str, Any] = {}
    for key, value in params.items():
        if key in _RENAMED:
            config[_RENAMED[key]] = value
        elif key in _GENERATION_KEYS:
            config[key] = value
    stop = params.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    fmt = params.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema is not None:
            config["responseJsonSchema"] = schema  # full JSON Schema (responseSchema takes an OpenAPI subset)
    config.update(params.get("generationConfig") or {})
    return config


def _tools(tools: Any) -> list[dict[str, Any]]:
    """OpenAI function tools -> one ``functionDeclarations`` entry; native tools pass through."""
    declarations: list[dict[str, Any]] = []
    native: list[dict[str, Any]] = []
    for tool in tools or []:
        if tool.get("type") == "function" and "function" in tool:
            function = tool["function"]
            decl = {k: function[k] for k in ("name", "description", "parameters") if function.get(k)}
            declarations.append(decl)
        else:
            native.append(tool)
    return ([{"functionDeclarations": declarations}] if declarations else []) + native


def _tool_config(choice: Any, native: Any) -> dict[str, Any]:
    """``tool_choice`` -> ``toolConfig.functionCallingConfig``, merged with a native toolConfig."""
    config: dict[str, Any] = dict(native or {})
    if isinstance(choice, str) and choice in _CHOICE_MODES:
        config["functionCallingConfig"] = {"mode": _CHOICE_MODES[choice]}
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        config["functionCallingConfig"] = {"mode": "ANY", "allowedFunctionNames": [name]}
    return config
