"""The driver seam: what every provider driver implements, and the helpers they share.

A driver is a pure translator. It turns a :class:`~llm_connectivity.request.RequestSpec`
into an :class:`~llm_connectivity.request.HTTPRequest`, a decoded JSON body into a
:class:`~llm_connectivity.models.ChatResponse`, and a stream of
:class:`~llm_connectivity.sse.SSEEvent` into :class:`~llm_connectivity.models.StreamChunk`.
It never owns a session, never sleeps and never retries: the client does.

In-band errors (an error object inside a 200 answer, or an ``event: error`` frame) are
classified by :func:`error_from_payload`: every ``type`` / ``code`` / ``status`` string of
the error object is looked up in a table of known error kinds (OpenAI, Anthropic, Google
RPC statuses), the first known one giving the HTTP status whose error class it deserves.
Google's ``CANCELLED`` (HTTP 499, "client closed request") is treated as 500: in-band it
means the server cancelled work this client did not cancel, which a retry can fix, while
499 would make a bare, non-retryable APIStatusError.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..errors import APIStatusError, ConfigurationError, LLMError, ProtocolError, StreamInterruptedError, error_for_status, snippet
from ..models import ChatResponse, StreamChunk, Usage
from ..request import HTTPRequest, Message, RequestSpec
from ..sse import SSEEvent, iter_sse

__all__ = [
    "UNKNOWN_USAGE",
    "usage_or_unknown",
    "LLMErrorType",
    "ProviderDriver",
    "as_count",
    "decode_json",
    "error_from_event",
    "error_from_payload",
    "join_url",
    "until_broken",
]

LLMErrorType = APIStatusError | ProtocolError
"""What a driver raises for a bad answer: a typed status error or a protocol error."""

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

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-goog-request-id", "cf-ray")


def until_broken(events: Iterable[SSEEvent], finished: Callable[[], bool]) -> Iterator[SSEEvent]:
    """Pass ``events`` through; if the connection breaks after the answer already finished
    (``finished()`` is true: a finish reason arrived, only trailing events were lost), end
    quietly instead of raising StreamInterruptedError."""
    try:
        yield from events
    except StreamInterruptedError:
        if not finished():
            raise


#: What ``parse_response`` returns when the body carries no usage; the client replaces it
#: with an estimate flagged ``is_estimated``.
UNKNOWN_USAGE = Usage(is_estimated=True, confidence=0.0)


def usage_or_unknown(data: Any, translate: Callable[[dict[str, Any]], Usage]) -> Usage:
    """``translate(data)`` for a usage object, else :data:`UNKNOWN_USAGE`."""
    return translate(data) if isinstance(data, dict) else UNKNOWN_USAGE


def join_url(base_url: str, path: str) -> str:
    """Join a base URL and a path with exactly one slash between them."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def decode_json(data: str | bytes, *, provider: str, what: str = "stream event") -> Any:
    """``json.loads`` that raises :class:`ProtocolError` with a snippet of the bad text.

    Well-formed ``str`` events take a fast path through the C scanner; anything unusual
    (leading whitespace, trailing text, bytes, errors) goes through ``json.loads``.
    """
    if type(data) is str:
        try:
            obj, end = _scan_once(data, 0)
        except (StopIteration, ValueError):
            pass
        else:
            if end == len(data) or not data[end:].strip():
                return obj
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ProtocolError(
            f"{provider} sent a {what} that is not valid JSON: {snippet(data, 200)!r}",
            provider=provider,
        ) from exc


def as_count(value: Any) -> int:
    """A token count from a usage field: ints as they are, numeric strings and floats
    converted, anything else (``None``, ``"n/a"``, objects) 0."""
    if type(value) is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


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

        request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
        retry_after = parse_retry_after(headers)
    label = "/".join([kind, *(k for k in kinds if k != kind)]) + ": " if kind else ""
    text = f"{provider} error {status}: {label}{message or snippet(payload, 200)}"
    return error_for_status(status, text, provider=provider, request_id=request_id,
                            retry_after=retry_after, body=payload, error_type=kind)


def error_from_event(event: SSEEvent, provider: str) -> APIStatusError:
    """The typed error of an in-band ``event: error`` frame, the same for every driver.

    JSON data is classified by :func:`error_from_payload` (a JSON list by its first
    object); data that is empty or not JSON becomes a ServerError of kind ``api_error``
    whose message quotes the raw text.
    """
    text = event.data.strip()
    try:
        payload: Any = json.loads(text) if text else None
    except ValueError:
        payload = None
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]
    if not isinstance(payload, dict):
        raw = snippet(text, 200) if text else "an error event without data"
        payload = {"type": "error", "error": {"type": "api_error", "message": raw}}
    return error_from_payload(payload, provider=provider)


class ProviderDriver:
    """Base class of provider drivers. Subclasses override the translation methods.

    Class attributes describe the provider for the registry, the docs and error messages:
    ``name``, ``api_key_env`` (env variables tried in order), ``base_url_env``,
    ``default_base_url`` and ``requires_api_key``.
    """

    name: str = ""
    api_key_env: tuple[str, ...] = ()
    base_url_env: str | None = None
    default_base_url: str = ""
    requires_api_key: bool = True

    def for_api(self, api: str | None) -> ProviderDriver:
        """The driver for API flavour ``api`` (``None`` means the provider's default)."""
        if api in (None, "", "chat", "messages", "default"):
            return self
        raise ConfigurationError(
            f"provider {self.name!r} has no {api!r} API; leave api unset "
            "(api='responses' is available for OpenAI and OpenAI-compatible providers)"
        )

    def continuation_messages(self, messages: list[Message], partial: str) -> list[Message] | None:
        """Messages that make the model continue ``partial`` (an assistant prefill), or
        ``None`` when this provider cannot continue a partial answer."""
        return None

    def recover_params(self, spec: RequestSpec, error: LLMError) -> dict[str, Any] | None:
        """Parameter overrides that make the request ``spec`` acceptable after the server
        refused it with ``error`` (e.g. ``{"stream_options": None}``), or None. The engine
        retries once with them at once (not counted as an attempt, ``spec`` is never
        mutated) and remembers them for later calls to the same base URL."""
        return None

    def build_request(self, spec: RequestSpec) -> HTTPRequest:
        """Translate ``spec`` into the HTTP request this provider expects."""
        raise NotImplementedError

    def parse_response(self, payload: Any, spec: RequestSpec) -> ChatResponse:
        """Translate a decoded non-streaming JSON body into a ChatResponse."""
        raise NotImplementedError

    def iter_chunks(self, events: Iterable[SSEEvent], spec: RequestSpec) -> Iterator[StreamChunk]:
        """Translate stream events into chunks; return only after the terminal event.

        Raises the typed error for an in-band error event, and
        :class:`~llm_connectivity.errors.StreamInterruptedError` if the events end first.
        """
        raise NotImplementedError

    def iter_events(self, byte_chunks: Iterable[bytes], content_type: str) -> Iterator[SSEEvent]:
        """Decode the response body into events; refuse bodies that are not an event stream."""
        if "text/event-stream" not in content_type.lower():
            raise self.unexpected_body_error(byte_chunks, content_type)
        return iter_sse(byte_chunks)

    def unexpected_body_error(self, byte_chunks: Iterable[bytes], content_type: str) -> LLMErrorType:
        """Build the error for a 200 answer that is not a stream (HTML page, JSON body...)."""
        head = b""
        for piece in byte_chunks:
            head += piece
            if len(head) >= 2048:
                break
        try:
            payload = json.loads(head)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and "error" in payload:
            return error_from_payload(payload, provider=self.name)
        kind = content_type or "no content type"
        body = snippet(head, 300) if head else "an empty body"
        return ProtocolError(
            f"{self.name} answered 200 with {kind} where an event stream (text/event-stream) "
            f"was expected; received: {body!r}",
            provider=self.name,
        )

    def error_from_response(self, status_code: int, headers: Mapping[str, str], body: bytes) -> APIStatusError:
        """Build the typed error for an HTTP error status from the provider's error body."""
        try:
            payload: Any = json.loads(body) if body else None
        except ValueError:
            payload = None
        if isinstance(payload, list) and payload and isinstance(payload[0], dict):
            payload = payload[0]  # Gemini sometimes wraps the error object in a list
        if not isinstance(payload, dict):
            payload = {"error": {"message": snippet(body, 300) if body else f"HTTP {status_code}"}}
        return error_from_payload(payload, provider=self.name, status_code=status_code, headers=headers)
