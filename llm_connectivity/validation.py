"""Checks on what the caller passes, before any network traffic.

Each failure raises :class:`~llm_connectivity.errors.InvalidRequestError` naming the field
and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import InvalidRequestError
from .request import Message

__all__ = ["ROLES", "normalize_messages", "validate_params"]

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
    return dict(message)


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
    """Check the types of the well-known generation parameters."""
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
