"""The exception tree of llm_connectivity.

Every error the library raises derives from :class:`LLMError`::

    LLMError
    ├── ConfigurationError (ValueError)       bad model string, unknown provider, bad input
    │   ├── MissingAPIKeyError                 names the environment variable to set
    │   └── InvalidRequestError                invalid messages / parameters (before any I/O)
    ├── APIStatusError                         .status_code .provider .request_id .retry_after .body
    │   ├── BadRequestError        400 (also 413, 422)
    │   ├── AuthenticationError    401
    │   ├── PermissionDeniedError  403
    │   ├── NotFoundError          404
    │   ├── ConflictError          409
    │   ├── RateLimitError         429
    │   └── ServerError            5xx
    │       └── OverloadedError    529 (Anthropic ``overloaded_error``)
    ├── NetworkError                           no usable response, or the body broke
    │   ├── ConnectError (ConnectionError)     the server never saw the request
    │   │   └── TLSCertificateError            certificate not verified (not retried)
    │   ├── TimeoutError (builtins.TimeoutError)
    │   │   ├── ConnectTimeoutError
    │   │   ├── ReadTimeoutError               silence between bytes longer than read_timeout
    │   │   ├── TotalTimeoutError              whole request longer than total_timeout
    │   │   └── ContentIdleTimeoutError        no content for content_idle_timeout (keep-alives only)
    │   └── StreamInterruptedError             connection lost / stream ended without its terminal event
    └── ProtocolError                          malformed stream: bad framing, bad JSON, not SSE

In-band stream errors (an ``event: error`` frame, an ``{"error": ...}`` chunk) raise the
class the matching HTTP status would. Every error raised after streaming began carries
``partial_response`` (the :class:`~llm_connectivity.models.ChatResponse` aggregated so far).

``error.is_retryable`` says whether repeating the request could succeed. It reads the one
retryability table, :func:`retry_verdict`, which
:class:`~llm_connectivity.retry.RetryPolicy` reads too: with default settings
``is_retryable`` is True exactly when the default policy would retry the error.

This module is a leaf: it imports nothing else from the package.
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "ConnectTimeoutError",
    "ContentIdleTimeoutError",
    "DEFAULT_MAX_RETRY_AFTER",
    "InvalidRequestError",
    "LLMError",
    "MissingAPIKeyError",
    "NetworkError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "ProtocolError",
    "RETRY_STATUSES",
    "RateLimitError",
    "ReadTimeoutError",
    "ServerError",
    "StreamInterruptedError",
    "TLSCertificateError",
    "TimeoutError",
    "TotalTimeoutError",
    "error_for_status",
    "request_id_from",
    "retry_verdict",
]

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-goog-request-id", "cf-ray")


def request_id_from(headers: Any) -> str | None:
    """The provider's request id from response headers (any casing), if it sent one."""
    lowered = {k.lower(): v for k, v in headers.items()} if headers else {}
    return next((lowered[h] for h in REQUEST_ID_HEADERS if h in lowered), None)

_SNIPPET_LIMIT = 500


def snippet(body: object, limit: int = _SNIPPET_LIMIT) -> str:
    """Return a short printable excerpt of a response body for error messages."""
    if isinstance(body, (bytes, bytearray)):
        text = bytes(body[: limit * 4]).decode("utf-8", "replace")
    else:
        text = str(body)
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "...[truncated]"


class LLMError(Exception):
    """Root of every error raised by llm_connectivity.

    Attributes:
        provider: the provider name (``"openai"``, ``"anthropic"``...) when known.
        partial_response: the response aggregated before the failure, when streaming had
            begun (``None`` otherwise). Its ``content`` is exactly the text already received.
    """

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.partial_response: Any = None

    @property
    def is_retryable(self) -> bool:
        """True when the default :class:`~llm_connectivity.retry.RetryPolicy` would repeat
        the request that failed with this error (see :func:`retry_verdict`)."""
        return retry_verdict(self)[0]

    def __str__(self) -> str:
        return self.message


class ConfigurationError(LLMError, ValueError):
    """The client was configured wrongly: bad model string, unknown provider, bad option."""


class MissingAPIKeyError(ConfigurationError):
    """No API key was given and the provider's environment variable is not set."""

    def __init__(self, message: str, *, provider: str | None = None, env_var: str = "") -> None:
        super().__init__(message, provider=provider)
        self.env_var = env_var


class InvalidRequestError(ConfigurationError):
    """The request is invalid before anything is sent (messages, parameter types)."""


class APIStatusError(LLMError):
    """The provider answered with an error status (or an in-band error of that kind)."""

    status_code: int = 0

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        body: object = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider)
        if status_code is not None:
            self.status_code = status_code
        self.request_id = request_id
        self.retry_after = retry_after
        self.body = body
        self.error_type = error_type
        self.headers: dict[str, str] | None = None  # response headers, when from HTTP


class BadRequestError(APIStatusError):
    """HTTP 400 (also 413 and 422): the request was rejected; fix it before retrying."""

    status_code = 400


class AuthenticationError(APIStatusError):
    """HTTP 401: the API key is missing, wrong or revoked."""

    status_code = 401


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the key is valid but may not use this model or feature."""

    status_code = 403


class NotFoundError(APIStatusError):
    """HTTP 404: unknown model, or a wrong base URL or path."""

    status_code = 404


class ConflictError(APIStatusError):
    """HTTP 409: a conflicting request; safe to retry."""

    status_code = 409


class RateLimitError(APIStatusError):
    """HTTP 429 or an in-band rate-limit error; ``retry_after`` says when to try again."""

    status_code = 429


class ServerError(APIStatusError):
    """HTTP 5xx or an in-band server error; safe to retry."""

    status_code = 500


class OverloadedError(ServerError):
    """HTTP 529 or Anthropic's ``overloaded_error``; safe to retry after a pause."""

    status_code = 529


class NetworkError(LLMError):
    """No usable response arrived, or the connection broke while reading it."""


class ConnectError(NetworkError, ConnectionError):
    """The connection could not be opened (refused, DNS, TLS): the server never saw it."""


class TLSCertificateError(ConnectError):
    """The server's TLS certificate could not be verified (wrong host, unknown CA, expired).
    Repeating cannot fix it: set ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE`` or fix the host."""


class TimeoutError(NetworkError, builtins.TimeoutError):
    """A time limit fired. ``limit`` names it and ``seconds`` gives its value."""

    limit = "timeout"

    def __init__(self, message: str, *, provider: str | None = None, seconds: float | None = None) -> None:
        super().__init__(message, provider=provider)
        self.seconds = seconds


class ConnectTimeoutError(TimeoutError):
    """Opening the connection took longer than ``connection_timeout``."""

    limit = "connection_timeout"


class ReadTimeoutError(TimeoutError):
    """The server sent nothing for longer than ``read_timeout``."""

    limit = "read_timeout"


class TotalTimeoutError(TimeoutError):
    """The whole request, stream included, took longer than ``total_timeout``."""

    limit = "total_timeout"


class ContentIdleTimeoutError(TimeoutError):
    """Only keep-alives arrived for longer than ``content_idle_timeout``."""

    limit = "content_idle_timeout"


class StreamInterruptedError(NetworkError):
    """The connection was lost, or the stream ended without its terminal event."""


class ProtocolError(LLMError):
    """The server's answer is not a well-formed stream (framing, JSON, content type)."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
    529: OverloadedError,
}


def error_class_for_status(status_code: int) -> type[APIStatusError]:
    """Return the most specific :class:`APIStatusError` subclass for ``status_code``."""
    cls = _STATUS_CLASSES.get(status_code)
    if cls is not None:
        return cls
    if status_code >= 500:
        return ServerError
    return APIStatusError


def error_for_status(
    status_code: int,
    message: str,
    *,
    provider: str | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
    body: object = None,
    error_type: str | None = None,
) -> APIStatusError:
    """Build the typed error for an HTTP status, keeping the real status code."""
    cls = error_class_for_status(status_code)
    return cls(
        message,
        provider=provider,
        status_code=status_code,
        request_id=request_id,
        retry_after=retry_after,
        body=body,
        error_type=error_type,
    )


# -- the retryability table: read by LLMError.is_retryable and RetryPolicy.decide ----------------

#: HTTP statuses a repeat can fix; 501 Not Implemented is the one 5xx it cannot.
RETRY_STATUSES = frozenset({408, 409, 429, 529}) | (frozenset(range(500, 600)) - {501})
#: The longest ``Retry-After`` the default policy waits for (seconds).
DEFAULT_MAX_RETRY_AFTER = 60.0


def _should_retry_header(headers: Any) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "x-should-retry":
            text = str(value).strip().lower()
            return text if text in ("true", "false") else None
    return None


def retry_verdict(error: LLMError, *, headers: Any = None, retry_read_errors: bool = False,
                  max_retry_after: float = DEFAULT_MAX_RETRY_AFTER) -> tuple[bool, str]:
    """Could repeating the request that failed with ``error`` succeed? ``(verdict, reason)``.

    The one table, in order: ``x-should-retry: true|false`` (from ``headers`` or the
    error's own response headers) decides first; a status error is retryable for
    :data:`RETRY_STATUSES` unless its ``Retry-After`` exceeds ``max_retry_after``; a
    total timeout and a TLS certificate failure never are; read and content-idle
    timeouts only with ``retry_read_errors`` (the server has the request and may be
    working on it, and billing it); every other network error is (connect errors, connect
    timeouts, a connection lost); configuration and protocol errors never are.
    """
    should = _should_retry_header(headers if headers is not None else getattr(error, "headers", None))
    if should is not None:
        return should == "true", f"x-should-retry: {should}"
    if isinstance(error, APIStatusError):
        if error.status_code not in RETRY_STATUSES:
            return False, f"HTTP {error.status_code} {type(error).__name__}"
        wait = error.retry_after
        if wait is not None and wait > max_retry_after:
            return False, f"Retry-After {wait:.0f}s exceeds the {max_retry_after:.0f}s cap"
        return True, f"HTTP {error.status_code} {type(error).__name__}"
    if isinstance(error, TotalTimeoutError):
        return False, "total_timeout expired"
    if isinstance(error, TLSCertificateError):
        return False, "TLS certificate verification failed"
    if isinstance(error, (ReadTimeoutError, ContentIdleTimeoutError)) and not retry_read_errors:
        return False, f"{type(error).__name__} (set RetryPolicy(retry_read_errors=True) to retry)"
    if isinstance(error, NetworkError):
        return True, type(error).__name__
    return False, type(error).__name__
