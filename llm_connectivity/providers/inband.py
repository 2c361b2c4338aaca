"""In-band and HTTP error bodies -> the typed errors of :mod:`llm_connectivity.errors`.

In-band errors (an error object inside a 200 answer, or an ``event: error`` frame) are
classified by :func:`error_from_payload`: every ``type`` / ``code`` / ``status`` string of
the error object is looked up in a table of known error kinds (OpenAI, Anthropic, Google
RPC statuses), the first known one giving the HTTP status whose error class it deserves.
Google's ``CANCELLED`` (HTTP 499, "client closed request") is treated as 500: in-band it
means the server cancelled work this client did not cancel, which a retry can fix, while
499 would make a bare, non-retryable APIStatusError. The request id comes from
:func:`llm_connectivity.errors.request_id_from` (any header casing), the one place that
reads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import APIStatusError, error_for_status, request_id_from, snippet
from ..sse import SSEEvent

__all__ = ["error_from_event", "error_from_payload", "error_from_response"]

# In-band error "type"/"code"/"status" strings -> the HTTP status whose class they deserve.
_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "invalid_request": 400,
    "bad_request": 400,
    "invalid_argument": 400,
    "failed_precondition": 400,
    "out_of_range": 400,
    "tool_use_failed": 400,
    "context_length_exceeded": 400,
    "authentication_error": 401,
    "unauthenticated": 401,
    "invalid_api_key": 401,
    "permission_error": 403,
    "permission_denied": 403,
    "not_found_error": 404,
    "not_found": 404,
    "model_not_found": 404,
    "aborted": 409,
    "already_exists": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "resource_exhausted": 429,
    "insufficient_quota": 429,
    "api_error": 500,
    "server_error": 500,
    "internal": 500,
    "internal_error": 500,
    "data_loss": 500,
    "cancelled": 500,  # Google's 499; see the module docstring
    "unimplemented": 501,
    "unavailable": 503,
    "service_unavailable": 503,
    "timeout_error": 504,
    "deadline_exceeded": 504,
    "overloaded_error": 529,
    "overloaded": 529,
}


def _error_object(payload: Any) -> dict[str, Any]:
    """The error object of a payload: its ``error`` object, ``{"message": ...}`` for an
    ``error`` string, else the payload itself (Responses-style top-level error fields)."""
    if not isinstance(payload, dict):
        return {"message": str(payload)}
    inner = payload.get("error")
    if isinstance(inner, dict):
        return inner
    if inner and isinstance(inner, str):
        return {"message": inner}
    return payload


def _error_kinds(err: dict[str, Any]) -> list[str]:
    """The error's ``type``, ``code`` and ``status`` strings, in that order (no duplicates,
    without the generic ``"error"``)."""
    kinds: list[str] = []
    for key in ("type", "code", "status"):
        value = err.get(key)
        if isinstance(value, str) and value and value != "error" and value not in kinds:
            kinds.append(value)
    return kinds


def _error_status(err: dict[str, Any], kinds: list[str]) -> tuple[int, str | None]:
    """(HTTP status, the kind that decided it): the first known kind, else the numeric
    ``code`` / ``status_code`` of the error, else 500."""
    for kind in kinds:
        status = _ERROR_TYPE_STATUS.get(kind.lower())
        if status is not None:
            return status, kind
    for key in ("code", "status_code"):
        numeric = err.get(key)
        if type(numeric) is int and 400 <= numeric < 600:
            return numeric, None
    return 500, None


def error_from_payload(
    payload: Any,
    *,
    provider: str,
    status_code: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> APIStatusError:
    """Map an error object (``{"error": {...}}``, ``{"type": "error", ...}``) to a typed error.

    The class follows ``status_code`` when given, else the first of the error's ``type`` /
    ``code`` / ``status`` strings that is a known error kind (so OpenAI's ``{"type":
    "tokens", "code": "rate_limit_exceeded"}`` is a RateLimitError), else the error's own
    numeric ``code``; unknown in-band errors become ServerError (500). ``error_type`` is
    the deciding kind (else the first string); the message names every kind.
    """
    err = _error_object(payload)
    message = str(err.get("message") or err.get("detail") or "").strip()
    kinds = _error_kinds(err)
    status, decided_by = _error_status(err, kinds)
    if status_code is not None:
        status = status_code
    kind = decided_by or (kinds[0] if kinds else None)
    request_id = retry_after = None
    if headers is not None:
        from ..retry import parse_retry_after  # lazy: keeps the driver layer free of import cycles

        request_id = request_id_from(headers)
        retry_after = parse_retry_after(headers)
    label = "/".join([kind, *(k for k in kinds if k != kind)]) + ": " if kind else ""
    text = f"{provider} error {status}: {label}{message or snippet(payload, 200)}"
    return error_for_status(status, text, provider=provider, request_id=request_id,
                            retry_after=retry_after, body=payload, error_type=kind)


def _error_json(text: str | bytes) -> dict[str, Any] | None:
    """The error object of an error body or frame: its JSON object (the first one of a
    JSON list, as Gemini sends), None when it is empty or not JSON."""
    try:
        payload: Any = json.loads(text) if text else None
    except ValueError:
        return None
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]
    return payload if isinstance(payload, dict) else None


def error_from_event(event: SSEEvent, provider: str) -> APIStatusError:
    """The typed error of an in-band ``event: error`` frame, the same for every driver.

    JSON data is classified by :func:`error_from_payload` (a JSON list by its first
    object); data that is empty or not JSON becomes a ServerError of kind ``api_error``
    whose message quotes the raw text.
    """
    text = event.data.strip()
    payload = _error_json(text)
    if payload is None:
        raw = snippet(text, 200) if text else "an error event without data"
        payload = {"type": "error", "error": {"type": "api_error", "message": raw}}
    return error_from_payload(payload, provider=provider)


def error_from_response(status_code: int, headers: Mapping[str, str], body: bytes, *,
                        provider: str) -> APIStatusError:
    """The typed error for an HTTP error status, from the provider's error body (JSON or
    not; Gemini sometimes wraps the error object in a list)."""
    payload = _error_json(body)
    if payload is None:
        payload = {"error": {"message": snippet(body, 300) if body else f"HTTP {status_code}"}}
    return error_from_payload(payload, provider=provider, status_code=status_code, headers=headers)
