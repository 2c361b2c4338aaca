"""RetryPolicy: backoff, Retry-After parsing, and the retry decision."""

from __future__ import annotations

import dataclasses
import email.utils
import random

import pytest

from llm_connectivity.errors import (
    APIStatusError,
    ConfigurationError,
    ConnectError,
    ContentIdleTimeoutError,
    InvalidRequestError,
    LLMError,
    NetworkError,
    ProtocolError,
    ReadTimeoutError,
    StreamInterruptedError,
    TotalTimeoutError,
    error_for_status,
)
from llm_connectivity.retry import RetryDecision, RetryPolicy, parse_retry_after

# -- backoff ------------------------------------------------------------------------------------


def test_backoff_doubles_to_cap_without_jitter() -> None:
    policy = RetryPolicy(jitter=0)
    assert [policy.backoff(n) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]


def test_backoff_respects_custom_base_and_cap() -> None:
    policy = RetryPolicy(backoff_base=0.1, backoff_max=0.3, jitter=0)
    assert [policy.backoff(n) for n in range(1, 5)] == pytest.approx([0.1, 0.2, 0.3, 0.3])


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6, 10])
def test_backoff_jitter_bounds(attempt: int) -> None:
    policy = RetryPolicy()  # jitter 0.25
    nominal = min(8.0, 0.5 * 2 ** (attempt - 1))
    rng = random.Random(attempt)
    delays = [policy.backoff(attempt, rng) for _ in range(300)]
    upper = min(nominal * 1.25, policy.backoff_max)  # jitter never exceeds the cap
    assert all(nominal * 0.75 - 1e-9 <= d <= upper + 1e-9 for d in delays)
    # Jitter really spreads around the nominal delay (only downwards at the cap).
    assert min(delays) < nominal
    assert max(delays) > nominal or nominal == policy.backoff_max
    assert len(set(delays)) > 100


def test_backoff_is_deterministic_with_seeded_rng() -> None:
    policy = RetryPolicy()
    a = [policy.backoff(n, random.Random(42)) for n in range(1, 6)]
    b = [policy.backoff(n, random.Random(42)) for n in range(1, 6)]
    assert a == b
    assert a != [policy.backoff(n, random.Random(43)) for n in range(1, 6)]


def test_backoff_never_negative_with_huge_jitter() -> None:
    policy = RetryPolicy(jitter=5.0)
    rng = random.Random(0)
    assert all(policy.backoff(1, rng) >= 0.0 for _ in range(200))


# -- parse_retry_after ----------------------------------------------------------------------------


def test_parse_retry_after_seconds() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after": "0"}) == 0.0


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    value = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": value}, now=now) == pytest.approx(30.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0


def test_parse_retry_after_ms_takes_precedence() -> None:
    headers = {"retry-after-ms": "250", "retry-after": "9"}
    assert parse_retry_after(headers) == pytest.approx(0.25)


def test_parse_retry_after_bad_ms_falls_back_to_seconds() -> None:
    assert parse_retry_after({"retry-after-ms": "soon", "retry-after": "3"}) == 3.0


@pytest.mark.parametrize("value", ["garbage", "", "Thu, 99 Foo", "12abc"])
def test_parse_retry_after_garbage_is_none(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) is None


def test_parse_retry_after_missing() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"x-other": "1"}) is None


def test_parse_retry_after_negative_is_zero() -> None:
    assert parse_retry_after({"retry-after": "-5"}) == 0.0
    assert parse_retry_after({"retry-after-ms": "-100"}) == 0.0


def test_parse_retry_after_case_insensitive_mapping() -> None:
    from requests.structures import CaseInsensitiveDict

    assert parse_retry_after(CaseInsensitiveDict({"Retry-After": "4"})) == 4.0


def test_parse_retry_after_plain_dict_with_canonical_case() -> None:
    """Regression: header names were matched case-sensitively."""
    assert parse_retry_after({"Retry-After": "4"}) == 4.0


# -- decide -----------------------------------------------------------------------------------------

NO_JITTER = RetryPolicy(jitter=0)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_decide_retries_retryable_statuses(status: int) -> None:
    decision = NO_JITTER.decide(error_for_status(status, "x"), 1)
    assert decision.retry
    assert decision.delay == 0.5
    assert str(status) in decision.reason


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 418, 422])
def test_decide_never_retries_client_errors(status: int) -> None:
    decision = NO_JITTER.decide(error_for_status(status, "x"), 1)
    assert not decision.retry
    assert str(status) in decision.reason


@pytest.mark.parametrize("error", [NetworkError("x"), ConnectError("x"), StreamInterruptedError("x")])
def test_decide_retries_network_errors(error: LLMError) -> None:
    decision = NO_JITTER.decide(error, 2)
    assert decision.retry
    assert decision.delay == 1.0


@pytest.mark.parametrize("error", [ReadTimeoutError("x"), ContentIdleTimeoutError("x")])
def test_read_timeouts_are_retried_only_when_opted_in(error: LLMError) -> None:
    assert not NO_JITTER.decide(error, 1).retry
    assert "retry_read_errors" in NO_JITTER.decide(error, 1).reason
    assert NO_JITTER.replace(retry_read_errors=True).decide(error, 1).retry


def test_decide_never_retries_total_timeout() -> None:
    decision = NO_JITTER.decide(TotalTimeoutError("x"), 1)
    assert not decision.retry
    assert "total_timeout" in decision.reason


@pytest.mark.parametrize("error", [ProtocolError("x"), ConfigurationError("x"), InvalidRequestError("x"),
                                   LLMError("x")])
def test_decide_never_retries_non_network_errors(error: LLMError) -> None:
    assert not NO_JITTER.decide(error, 1).retry


def test_decide_honours_retry_after_as_delay() -> None:
    err = error_for_status(429, "slow down", retry_after=3.0)
    decision = RetryPolicy().decide(err, 1)
    assert decision.retry
    assert decision.delay == 3.0
    assert "3.00s" in decision.reason


def test_decide_retry_after_zero_is_immediate() -> None:
    decision = RetryPolicy().decide(error_for_status(503, "x", retry_after=0.0), 1)
    assert decision.retry and decision.delay == 0.0


def test_decide_retry_after_above_cap_does_not_retry() -> None:
    err = error_for_status(429, "slow down", retry_after=120.0)
    decision = RetryPolicy(max_retry_after=60.0).decide(err, 1)
    assert not decision.retry
    assert "cap" in decision.reason and "60" in decision.reason and "120" in decision.reason
    # A bigger cap lets the same wait through.
    relaxed = RetryPolicy(max_retry_after=300.0).decide(err, 1)
    assert isinstance(relaxed, RetryDecision)
    assert (relaxed.retry, relaxed.delay) == (True, 120.0)


def test_decide_retry_after_ignored_for_non_retryable_status() -> None:
    decision = RetryPolicy().decide(error_for_status(400, "bad", retry_after=1.0), 1)
    assert not decision.retry


def test_x_should_retry_true_overrides_status() -> None:
    decision = NO_JITTER.decide(error_for_status(400, "x"), 1, {"x-should-retry": "true"})
    assert decision.retry
    assert "x-should-retry" in decision.reason


def test_x_should_retry_false_overrides_status() -> None:
    decision = NO_JITTER.decide(error_for_status(503, "x"), 1, {"x-should-retry": "false"})
    assert not decision.retry
    assert "x-should-retry" in decision.reason


def test_x_should_retry_other_values_ignored() -> None:
    assert NO_JITTER.decide(error_for_status(503, "x"), 1, {"x-should-retry": "maybe"}).retry
    assert not NO_JITTER.decide(error_for_status(400, "x"), 1, {"x-should-retry": "maybe"}).retry


def test_x_should_retry_header_name_is_case_insensitive() -> None:
    """Regression: header names were matched case-sensitively."""
    decision = NO_JITTER.decide(error_for_status(503, "x"), 1, {"X-Should-Retry": "false"})
    assert not decision.retry


def test_attempts_beyond_max_retries_are_refused() -> None:
    policy = RetryPolicy(max_retries=2, jitter=0)
    err = error_for_status(503, "x")
    assert policy.decide(err, 1).retry
    assert policy.decide(err, 2).retry
    late = policy.decide(err, 3)
    assert not late.retry
    assert "no retries left" in late.reason
    assert not RetryPolicy(max_retries=0).decide(err, 1).retry


def test_attempt_delay_follows_backoff() -> None:
    policy = RetryPolicy(max_retries=5, jitter=0)
    err = ConnectError("x")
    assert [policy.decide(err, n).delay for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]


# -- values ---------------------------------------------------------------------------------------


def test_from_value() -> None:
    assert RetryPolicy.from_value(3) == RetryPolicy(max_retries=3)
    assert RetryPolicy.from_value(0).max_retries == 0
    assert RetryPolicy.from_value(None).max_retries == 0
    policy = RetryPolicy(max_retries=7, backoff_base=0.01)
    assert RetryPolicy.from_value(policy) is policy


@pytest.mark.parametrize("value", [-1, True, False, "3", 2.0, [1]])
def test_from_value_invalid(value: object) -> None:
    with pytest.raises(ConfigurationError, match="max_retries"):
        RetryPolicy.from_value(value)  # type: ignore[arg-type]


def test_policy_is_frozen_and_replace_copies() -> None:
    policy = RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_retries = 5  # type: ignore[misc]
    other = policy.replace(max_retries=5)
    assert other.max_retries == 5 and policy.max_retries == 2
    assert (policy.backoff_base, policy.backoff_max, policy.jitter, policy.max_retry_after) == (0.5, 8.0, 0.25, 60.0)


def test_api_status_error_subclass_without_status_is_not_retried() -> None:
    assert not NO_JITTER.decide(APIStatusError("no status"), 1).retry


# -- one table: is_retryable agrees with the default policy -------------------------------------

def _every_error() -> list[LLMError]:
    """One instance of every error class, plus status / header variants that change the verdict."""
    import inspect

    from llm_connectivity import errors

    found: list[LLMError] = []
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, LLMError) and cls.__module__ == errors.__name__:
            found.append(cls("x"))
    found += [error_for_status(status, "x") for status in (400, 404, 408, 409, 418, 429, 500, 501, 503, 529, 599)]
    found += [error_for_status(429, "x", retry_after=5.0), error_for_status(429, "x", retry_after=600.0)]
    for value in ("true", "false", "maybe"):
        for status in (400, 503):
            err = error_for_status(status, "x")
            err.headers = {"x-should-retry": value}
            found.append(err)
    return found


@pytest.mark.parametrize("error", _every_error(), ids=lambda e: f"{type(e).__name__}-{getattr(e, 'status_code', '')}")
def test_is_retryable_agrees_with_the_default_policy(error: LLMError) -> None:
    decision = RetryPolicy().decide(error, 1, getattr(error, "headers", None))
    assert error.is_retryable is decision.retry


def _tls(message: str) -> LLMError:
    from llm_connectivity.errors import TLSCertificateError

    return TLSCertificateError(message)


def _connect_timeout(message: str) -> LLMError:
    from llm_connectivity.errors import ConnectTimeoutError

    return ConnectTimeoutError(message)


@pytest.mark.parametrize(("error", "expected"), [
    (ConnectError("x"), True),
    (_connect_timeout("x"), True),
    (StreamInterruptedError("x"), True),
    (ReadTimeoutError("x"), False),
    (ContentIdleTimeoutError("x"), False),
    (TotalTimeoutError("x"), False),
    (_tls("x"), False),
    (ProtocolError("x"), False),
    (ConfigurationError("x"), False),
    (error_for_status(429, "x", retry_after=600.0), False),
    (error_for_status(429, "x", retry_after=60.0), True),
    (error_for_status(501, "x"), False),
    (error_for_status(502, "x"), True),
], ids=lambda v: type(v).__name__ if isinstance(v, LLMError) else str(v))
def test_is_retryable_table(error: LLMError, expected: bool) -> None:
    assert error.is_retryable is expected
