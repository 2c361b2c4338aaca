"""The exception tree: status -> class, retryability, builtin bases, documentation."""

from __future__ import annotations

import builtins
import inspect

import pytest

from llm_connectivity import errors
from llm_connectivity.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    ConnectTimeoutError,
    ContentIdleTimeoutError,
    InvalidRequestError,
    LLMError,
    MissingAPIKeyError,
    NetworkError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ReadTimeoutError,
    ServerError,
    StreamInterruptedError,
    TotalTimeoutError,
    error_for_status,
)

STATUS_CLASSES = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (409, ConflictError),
    (413, BadRequestError),
    (422, BadRequestError),
    (429, RateLimitError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
    (529, OverloadedError),
]


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_status_maps_to_exact_class_and_keeps_status(status: int, cls: type[APIStatusError]) -> None:
    err = error_for_status(status, f"boom {status}", provider="openai", request_id="req_1",
                           retry_after=1.5, body={"error": {}}, error_type="x")
    assert type(err) is cls
    assert err.status_code == status
    assert err.provider == "openai"
    assert err.request_id == "req_1"
    assert err.retry_after == 1.5
    assert err.body == {"error": {}}
    assert err.error_type == "x"
    assert str(err) == f"boom {status}"
    assert err.partial_response is None
    assert err.headers is None


def test_unknown_4xx_is_plain_api_status_error_keeping_status() -> None:
    err = error_for_status(418, "teapot")
    assert type(err) is APIStatusError
    assert err.status_code == 418
    assert not err.is_retryable


def test_unknown_5xx_is_server_error_keeping_status() -> None:
    err = error_for_status(599, "weird")
    assert type(err) is ServerError
    assert err.status_code == 599
    assert err.is_retryable


@pytest.mark.parametrize(("status", "retryable"), [
    (400, False), (401, False), (403, False), (404, False), (413, False), (418, False), (422, False),
    (408, True), (409, True), (429, True), (500, True), (502, True), (503, True), (504, True), (529, True),
])
def test_status_error_is_retryable(status: int, retryable: bool) -> None:
    assert error_for_status(status, "x").is_retryable is retryable


@pytest.mark.parametrize(("cls", "retryable"), [
    (LLMError, False),
    (ConfigurationError, False),
    (MissingAPIKeyError, False),
    (InvalidRequestError, False),
    (ProtocolError, False),
    (NetworkError, True),
    (ConnectError, True),
    (errors.TimeoutError, True),
    (ConnectTimeoutError, True),
    (ReadTimeoutError, False),  # the server has the request and may be working (and billing)
    (ContentIdleTimeoutError, False),
    (errors.TotalTimeoutError, False),
    (errors.TLSCertificateError, False),
    (StreamInterruptedError, True),
])
def test_is_retryable_per_class(cls: type[LLMError], retryable: bool) -> None:
    assert cls("x").is_retryable is retryable


@pytest.mark.parametrize(("cls", "status"), [
    (BadRequestError, 400), (AuthenticationError, 401), (PermissionDeniedError, 403),
    (NotFoundError, 404), (ConflictError, 409), (RateLimitError, 429), (ServerError, 500),
    (OverloadedError, 529),
])
def test_direct_construction_uses_class_default_status(cls: type[APIStatusError], status: int) -> None:
    err = cls("x")
    assert err.status_code == status
    assert err.is_retryable is (status in (409, 429) or status >= 500)


def test_builtin_bases() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(MissingAPIKeyError, ValueError)
    assert issubclass(InvalidRequestError, ValueError)
    assert issubclass(ConnectError, builtins.ConnectionError)
    assert issubclass(errors.TimeoutError, builtins.TimeoutError)
    assert errors.TimeoutError is not builtins.TimeoutError
    for cls in (ConnectTimeoutError, ReadTimeoutError, TotalTimeoutError, ContentIdleTimeoutError):
        assert issubclass(cls, builtins.TimeoutError)
        assert issubclass(cls, NetworkError)
    assert issubclass(OverloadedError, ServerError)
    # Catchable with the builtin names a caller would naturally use.
    with pytest.raises(ValueError):
        raise ConfigurationError("bad")
    with pytest.raises(builtins.TimeoutError):
        raise ReadTimeoutError("slow")


def test_every_error_derives_from_llm_error() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if inspect.isclass(obj):
            assert issubclass(obj, LLMError), name


def test_timeout_error_keeps_its_seconds_and_provider() -> None:
    err = TotalTimeoutError("late", provider="p", seconds=3.0)
    assert err.seconds == 3.0 and err.provider == "p"


def test_partial_response_defaults_to_none_everywhere() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if inspect.isclass(obj):
            assert obj("x").partial_response is None, name


def test_missing_api_key_error_env_var() -> None:
    err = MissingAPIKeyError("set OPENAI_API_KEY", provider="openai", env_var="OPENAI_API_KEY")
    assert err.env_var == "OPENAI_API_KEY"
    assert err.provider == "openai"
    assert isinstance(err, ConfigurationError)
    assert MissingAPIKeyError("x").env_var == ""


def test_message_attribute_and_str() -> None:
    err = LLMError("hello", provider="xai")
    assert err.message == "hello" and str(err) == "hello" and err.args == ("hello",)


def test_snippet_truncates() -> None:
    assert errors.snippet("  short  ") == "short"
    long = errors.snippet("x" * 1000, limit=10)
    assert long == "x" * 10 + "...[truncated]"
    assert errors.snippet(b"\xff bytes") == "\ufffd bytes"
