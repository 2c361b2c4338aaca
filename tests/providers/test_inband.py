"""In-band and HTTP error bodies -> typed errors (providers/inband.py): the kind table, the
error object shapes, ``event: error`` frames (the same error from every driver), and the
request id read from headers in any casing. No network."""

from __future__ import annotations

import json

import pytest

from fixture_support import WIRE_DRIVERS
from llm_connectivity.errors import (
    APIStatusError,
    BadRequestError,
    ConflictError,
    RateLimitError,
    ServerError,
)
from llm_connectivity.providers.inband import error_from_event, error_from_payload, error_from_response
from llm_connectivity.request import RequestSpec
from llm_connectivity.sse import SSEEvent

SPEC = RequestSpec("m", [{"role": "user", "content": "hi"}])
DRIVERS = WIRE_DRIVERS
RATE_LIMIT = {"error": {"type": "tokens", "code": "rate_limit_exceeded", "message": "Rate limit reached"}}


# -- 1. in-band error classification ---------------------------------------------------------
def test_openai_inband_rate_limit_with_type_tokens_is_rate_limit_error() -> None:
    err = error_from_payload(RATE_LIMIT, provider="openai")
    assert isinstance(err, RateLimitError)
    assert err.status_code == 429
    assert err.error_type == "rate_limit_exceeded"
    assert "rate_limit_exceeded/tokens: Rate limit reached" in str(err)


def test_first_known_kind_decides_and_explicit_status_wins() -> None:
    payload = {"error": {"type": "weird", "code": "insufficient_quota", "status": "UNAVAILABLE"}}
    assert error_from_payload(payload, provider="p").status_code == 429
    assert error_from_payload(payload, provider="p", status_code=503).status_code == 503


def test_numeric_code_then_status_code_then_500() -> None:
    assert error_from_payload({"error": {"code": 429, "status": "SOMETHING_NEW"}}, provider="g").status_code == 429
    assert error_from_payload({"error": {"code": "weird", "status_code": 404}}, provider="p").status_code == 404
    assert error_from_payload({"error": {"code": True, "message": "x"}}, provider="p").status_code == 500


def test_error_object_shapes() -> None:
    top_level = {"type": "error", "error": None, "code": "rate_limit_exceeded", "message": "slow down"}
    err = error_from_payload(top_level, provider="openai")
    assert isinstance(err, RateLimitError) and "slow down" in str(err)
    as_text = error_from_payload({"error": "upstream exploded"}, provider="p")
    assert type(as_text) is ServerError and "upstream exploded" in str(as_text)
    assert "oops" in str(error_from_payload(["oops"], provider="p"))


@pytest.mark.parametrize(("status", "cls", "code"), [
    ("ABORTED", ConflictError, 409),
    ("ALREADY_EXISTS", ConflictError, 409),
    ("OUT_OF_RANGE", BadRequestError, 400),
    ("UNIMPLEMENTED", ServerError, 501),
    ("CANCELLED", ServerError, 500),
])
def test_google_rpc_statuses(status: str, cls: type[APIStatusError], code: int) -> None:
    err = error_from_payload({"error": {"status": status, "message": "m"}}, provider="gemini")
    assert type(err) is cls
    assert err.status_code == code
    assert err.error_type == status


def test_retry_after_and_request_id_read_from_headers_in_any_casing() -> None:
    err = error_from_payload(RATE_LIMIT, provider="openai", status_code=429,
                             headers={"Retry-After": "2", "X-Request-Id": "req_123"})
    assert (err.retry_after, err.request_id) == (2.0, "req_123")


@pytest.mark.parametrize(("headers", "request_id"), [
    ({"x-request-id": "a"}, "a"), ({"Request-Id": "b"}, "b"), ({"X-GOOG-REQUEST-ID": "c"}, "c"),
    ({"CF-Ray": "d"}, "d"), ({"x-request-id": "a", "cf-ray": "d"}, "a"), ({}, None),
])
def test_error_from_response_request_id_any_casing(headers: dict[str, str], request_id: str | None) -> None:
    err = error_from_response(429, headers, b'{"error": {"message": "slow"}}', provider="p")
    assert type(err) is RateLimitError and err.request_id == request_id


@pytest.mark.parametrize(("body", "cls", "message"), [
    (b'{"error": {"type": "invalid_request_error", "message": "bad model"}}', BadRequestError,
     "p error 400: invalid_request_error: bad model"),
    (b'[{"error": {"code": 404, "message": "no such model", "status": "NOT_FOUND"}}]', BadRequestError,
     "p error 400: NOT_FOUND: no such model"),
    (b"<html>Bad Gateway</html>", BadRequestError, "p error 400: <html>Bad Gateway</html>"),
    (b"", BadRequestError, "p error 400: HTTP 400"),
])
def test_error_from_response_bodies(body: bytes, cls: type[Exception], message: str) -> None:
    err = error_from_response(400, {}, body, provider="p")
    assert (type(err), str(err)) == (cls, message)


# -- 2. one decoder for event: error frames --------------------------------------------------
@pytest.mark.parametrize("data", ["upstream overloaded", "", "  ", "[1, 2]", '"just a string"', "{not json"])
def test_error_from_event_without_an_error_object_is_server_error(data: str) -> None:
    err = error_from_event(SSEEvent(event="error", data=data), "p")
    assert type(err) is ServerError
    assert err.error_type == "api_error"
    if data.strip():
        assert data.strip() in str(err)


def test_error_from_event_decodes_json_and_lists() -> None:
    event = SSEEvent(event="error", data=json.dumps(RATE_LIMIT))
    assert isinstance(error_from_event(event, "p"), RateLimitError)
    listed = SSEEvent(event="error", data=json.dumps([{"error": {"code": 503, "status": "UNAVAILABLE"}}]))
    assert error_from_event(listed, "g").status_code == 503


@pytest.mark.parametrize("name", sorted(DRIVERS))
@pytest.mark.parametrize(("data", "cls"), [("boom: not json", ServerError), ("", ServerError),
                                           (json.dumps(RATE_LIMIT), RateLimitError)])
def test_every_driver_raises_the_same_error_for_an_error_frame(name: str, data: str, cls: type[Exception]) -> None:
    driver = DRIVERS[name]()
    with pytest.raises(cls) as info:
        list(driver.iter_chunks([SSEEvent(event="error", data=data)], SPEC))
    expected = error_from_event(SSEEvent(event="error", data=data), driver.name)
    assert (type(info.value), str(info.value)) == (type(expected), str(expected))
