"""Keeping secrets secret: key redaction for reprs, errors and logs.

Keys travel only in request headers. :func:`redact` shortens a key to ``sk-...abcd``;
:func:`scrub_error` removes a key from an error's message, args and body before it is
raised, in case a server echoed it back.
"""

from __future__ import annotations

from typing import Any

from .errors import LLMError

__all__ = ["InsecureTransportWarning", "redact", "scrub_error", "scrub_text"]


class InsecureTransportWarning(UserWarning):
    """An API key would travel over plain HTTP to a host that is not loopback."""


def redact(secret: str | None) -> str:
    """``"sk-abcdef...wxyz"`` -> ``"sk-...wxyz"``; short secrets become ``"***"``."""
    if not secret:
        return ""
    if len(secret) < 12:
        return "***"
    prefix = secret[:3] if secret[:3].isalpha() or secret.startswith("sk-") else ""
    return f"{prefix}...{secret[-4:]}"


def scrub_text(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` in ``text`` by its redacted form."""
    if not secret or secret not in text:
        return text
    return text.replace(secret, redact(secret))


def _scrub_value(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return scrub_text(value, secret)
    if isinstance(value, dict):
        return {k: _scrub_value(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v, secret) for v in value]
    return value


def scrub_error(error: LLMError, secret: str | None) -> LLMError:
    """Remove ``secret`` from ``error`` (message, args, body, headers) in place; return it."""
    if not secret:
        return error
    error.message = scrub_text(error.message, secret)
    error.args = tuple(_scrub_value(a, secret) for a in error.args)
    for name in ("body", "headers"):
        if getattr(error, name, None) is not None:
            setattr(error, name, _scrub_value(getattr(error, name), secret))
    return error
