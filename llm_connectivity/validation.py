"""Checks on what the caller passes, before any network traffic.

Each failure raises :class:`~llm_connectivity.errors.InvalidRequestError` naming the field
and the fix. Besides the shape of ``messages`` and the types of the well-known parameters,
every parameter and message is walked once to make sure it can travel as JSON: no sets,
bytes or arbitrary objects, and no ``nan``/``inf`` numbers (``json.dumps`` would write
``NaN``, which no provider accepts). The error names the path of the bad value, e.g.
``tools[0].function.parameters.required``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import InvalidRequestError
from .request import Message

__all__ = ["ROLES", "check_json", "normalize_messages", "validate_params"]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})

_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "max_tokens": (int,),
    "temperature": (int, float),
    "top_p": (int, float),
    "stop": (str, list, tuple),
    "tools": (list, tuple),
    "tool_choice": (str, dict),
    "response_format": (dict,),
}


def _check_message(position: int, message: Any) -> Message:
    where = f"messages[{position}]"
    if not isinstance(message, Mapping):
        raise InvalidRequestError(
            f"{where} must be a dict like {{'role': 'user', 'content': 'Hi'}}, got {type(message).__name__}"
        )
    role = message.get("role")
    if role is None:
        raise InvalidRequestError(f"{where} has no 'role'; use one of {', '.join(sorted(ROLES))}")
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidRequestError(f"{where} has unknown role {role!r}; use one of {', '.join(sorted(ROLES))}")
    content = message.get("content")
    if content is None and not (role == "assistant" and message.get("tool_calls")):
        if "content" not in message:
            raise InvalidRequestError(f"{where} ({role}) has no 'content'; give a string or a list of parts")
        raise InvalidRequestError(f"{where} ({role}) has content None; only assistant messages with tool_calls may")
    if content is not None and not isinstance(content, (str, list)):
        raise InvalidRequestError(
            f"{where} content must be a string or a list of content parts, got {type(content).__name__}"
        )
    check_json(message, where)
    if isinstance(content, list):
        _check_items(content, f"{where}.content", Mapping, _PART)
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, (list, tuple)):
            raise InvalidRequestError(f"{where}.tool_calls must be a list of tool-call dicts, "
                                      f"got {type(calls).__name__}")
        _check_items(calls, f"{where}.tool_calls", Mapping, _TOOL_CALL)
    return dict(message)


_TOOL_CALL = "a dict like {'id': ..., 'type': 'function', 'function': {'name': ..., 'arguments': '{...}'}}"
_PART = "a content-part dict like {'type': 'text', 'text': ...}"
_TOOL = "a dict like {'type': 'function', 'function': {'name': ..., 'parameters': {...}}}"


def _check_items(items: Any, where: str, kind: type | tuple[type, ...], wanted: str) -> None:
    """Every item of the list ``items`` is a ``kind``: the drivers translate each one."""
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            raise InvalidRequestError(f"{where}[{i}] must be {wanted}, got {type(item).__name__}")


def normalize_messages(messages: Any) -> list[Message]:
    """Accept a plain string (one user message) or a list of message dicts; validate each."""
    if isinstance(messages, str):
        if not messages:
            raise InvalidRequestError("messages is an empty string; pass the prompt text")
        return [{"role": "user", "content": messages}]
    if isinstance(messages, Mapping):
        raise InvalidRequestError("messages must be a list of message dicts (wrap the single dict in a list) or a string")
    if not isinstance(messages, (list, tuple)):
        raise InvalidRequestError(
            f"messages must be a string or a list of {{'role', 'content'}} dicts, got {type(messages).__name__}"
        )
    if not messages:
        raise InvalidRequestError("messages is empty; pass at least one message")
    return [_check_message(i, m) for i, m in enumerate(messages)]


def validate_params(params: Mapping[str, Any]) -> None:
    """Check the types of the well-known generation parameters, and that every
    parameter can be sent as JSON (:func:`check_json`)."""
    for name, types in _PARAM_TYPES.items():
        value = params.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            wanted = " or ".join(t.__name__ for t in types)
            raise InvalidRequestError(f"{name} must be {wanted}, got {type(value).__name__} {value!r}")
    max_tokens = params.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens <= 0:
        raise InvalidRequestError(f"max_tokens must be a positive integer, got {max_tokens}")
    for name, value in params.items():
        check_json(value, name)
    tools, stop = params.get("tools"), params.get("stop")
    if isinstance(tools, (list, tuple)):
        _check_items(tools, "tools", Mapping, _TOOL)
    if isinstance(stop, (list, tuple)):
        _check_items(stop, "stop", str, "a string")


_MAX_DEPTH = 200  # deeper than any real schema: a circular reference, most likely
_JSON_KEYS = (str, int, float, bool, type(None))


class _NotJSON(Exception):
    """Raised inside the walk; collects the path segments while it unwinds."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix
        self.path: list[str] = []  # innermost first


def _key_segment(key: Any) -> str:
    return f".{key}" if isinstance(key, str) and key.isidentifier() else f"[{key!r}]"


def _fix_for(value: Any) -> str:
    """How to turn ``value`` into something JSON can carry."""
    if isinstance(value, (set, frozenset)):
        return "pass a list instead (e.g. sorted(...))"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "decode it to str (base64-encode binary data such as images)"
    if hasattr(value, "model_dump"):
        return "pass value.model_dump() (a pydantic model is not JSON by itself)"
    if hasattr(value, "__dataclass_fields__"):
        return "pass dataclasses.asdict(value)"
    if hasattr(value, "item") and hasattr(value, "dtype"):
        return "convert it with .item() or .tolist() (a NumPy value is not JSON by itself)"
    return "pass plain dicts, lists, strings, numbers, booleans or None"


def _walk(value: Any, depth: int) -> None:
    """Raise :class:`_NotJSON` at the first value JSON cannot carry. Paths are built only
    on failure, so the common case costs one type check per value."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return
    if depth > _MAX_DEPTH:
        raise _NotJSON(f"is nested more than {_MAX_DEPTH} levels deep (a circular reference?)",
                       "pass a tree of plain dicts and lists")
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        for key, item in value.items():
            if type(key) is not str and not isinstance(key, _JSON_KEYS):
                raise _NotJSON(f"has a key of type {type(key).__name__} ({key!r})", "use string keys")
            try:
                _walk(item, depth + 1)
            except _NotJSON as bad:
                bad.path.append(_key_segment(key))
                raise
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            try:
                _walk(item, depth + 1)
            except _NotJSON as bad:
                bad.path.append(f"[{i}]")
                raise
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _NotJSON(f"is {value!r}", "pass a finite number (or leave the parameter out)")
    elif not isinstance(value, (str, int)):  # str and int subclasses (enums) are JSON
        name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        raise _NotJSON(f"is a {name}", _fix_for(value))


def check_json(value: Any, where: str) -> None:
    """Raise :class:`InvalidRequestError` naming the path (``where`` plus the keys and
    indexes below it, e.g. ``tools[0].function.parameters.required``) of the first value
    in ``value`` that JSON cannot carry: a set, bytes, an arbitrary object, a dict key
    that is not a string or number, or a ``nan``/``inf`` number; and the fix."""
    try:
        _walk(value, 0)
    except _NotJSON as bad:
        path = where + "".join(reversed(bad.path))
        raise InvalidRequestError(f"{path} {bad.what}, which cannot be sent as JSON; {bad.fix}") from None
