"""Secrets never leak: redaction, error scrubbing, end-to-end through the client."""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator

import pytest
import requests
import responses

from llm_connectivity import LLMClient
from llm_connectivity.errors import (
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    LLMError,
    StreamInterruptedError,
    error_for_status,
)
from llm_connectivity.security import InsecureTransportWarning, redact, scrub_error, scrub_text

KEY = "sk-proj-abcdefghijklmnop1234"
OPENAI_URL = "https://api.openai.com/v1/chat/completions"


@pytest.fixture
def session() -> Iterator[requests.Session]:
    s = requests.Session()
    yield s
    s.close()


# -- redact ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("secret", "expected"), [
    (KEY, "sk-...1234"),
    ("sk-ant-api03-xxxxxxxxxxxxWXYZ", "sk-...WXYZ"),
    ("AIzaSyA-0123456789abcdef", "AIz...cdef"),
    ("1234567890123456", "...3456"),
    ("short", "***"),
    ("elevenchars", "***"),
    ("twelve-chars", "twe...hars"),
    ("", ""),
    (None, ""),
])
def test_redact(secret: str | None, expected: str) -> None:
    assert redact(secret) == expected


def test_redact_never_contains_the_middle() -> None:
    assert "abcdefghijklmnop" not in redact(KEY)


# -- scrub ----------------------------------------------------------------------------------------------


def test_scrub_text() -> None:
    assert scrub_text(f"bad key {KEY}, again {KEY}", KEY) == "bad key sk-...1234, again sk-...1234"
    assert scrub_text("nothing here", KEY) == "nothing here"
    assert scrub_text(f"x {KEY}", None) == f"x {KEY}"
    assert scrub_text(f"x {KEY}", "") == f"x {KEY}"


def test_scrub_error_everywhere() -> None:
    err = error_for_status(
        401,
        f"Incorrect API key provided: {KEY}",
        body={"error": {"message": f"key {KEY}", "details": [f"a {KEY}", {"k": KEY}, 7]}, "n": None},
    )
    err.headers = {"x-echo": f"Bearer {KEY}", "x-ok": "fine"}
    out = scrub_error(err, KEY)
    assert out is err
    assert KEY not in err.message and "sk-...1234" in err.message
    assert KEY not in str(err)
    assert all(KEY not in str(a) for a in err.args)
    assert err.body == {"error": {"message": "key sk-...1234",
                                  "details": ["a sk-...1234", {"k": "sk-...1234"}, 7]}, "n": None}
    assert err.headers == {"x-echo": "Bearer sk-...1234", "x-ok": "fine"}
    assert KEY not in repr(err)
    assert KEY not in "".join(traceback.format_exception_only(type(err), err))


def test_scrub_error_without_body_or_headers() -> None:
    err = StreamInterruptedError(f"lost {KEY}")
    scrub_error(err, KEY)
    assert KEY not in str(err) and KEY not in repr(err)


def test_scrub_error_without_secret_is_noop() -> None:
    err = LLMError(f"x {KEY}")
    assert scrub_error(err, None) is err
    assert str(err) == f"x {KEY}"


def test_insecure_transport_warning_is_user_warning() -> None:
    assert issubclass(InsecureTransportWarning, UserWarning)


# -- end to end -------------------------------------------------------------------------------------------


def test_repr_redacts_key() -> None:
    client = LLMClient("openai/gpt-4o-mini", api_key=KEY)
    assert KEY not in repr(client)
    assert "sk-...1234" in repr(client)
    client.close()


def test_echoed_key_scrubbed_from_raised_error(session: requests.Session) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}.", "type": "invalid_request_error",
                      "code": "invalid_api_key"}}
    with responses.RequestsMock() as rs, LLMClient("openai/gpt-4o-mini", api_key=KEY, session=session) as client:
        rs.add(responses.POST, OPENAI_URL, status=401, json=body, headers={"x-echo-key": KEY})
        with pytest.raises(AuthenticationError) as info:
            client.chat("hi")
        assert rs.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"  # it was sent, to the right place
    err = info.value
    assert isinstance(err, APIStatusError)
    assert KEY not in str(err)
    assert KEY not in json.dumps(err.body)
    assert err.headers is not None and KEY not in json.dumps(err.headers)
    assert KEY not in "".join(traceback.format_exception(type(err), err, err.__traceback__))


def test_key_with_trailing_newline_never_leaks(session: requests.Session) -> None:
    """Regression: a key with a trailing newline was echoed in full by requests' InvalidHeader."""
    ok = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rs, \
            LLMClient("openai/gpt-4o-mini", api_key=KEY + "\n", session=session) as client:
        rs.add(responses.POST, OPENAI_URL, json=ok)
        try:
            client.chat("hi")
        except LLMError as err:
            text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
            assert "abcdefghijklmnop" not in text
        else:
            assert rs.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("bad", ["sk-proj-abc def0000000000000", "sk-proj-abc\x00def000000000000", "   ", "\n"])
def test_key_with_inner_whitespace_or_control_chars_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        LLMClient("openai/gpt-4o-mini", api_key=bad)
    assert "def0000" not in str(info.value) and "def000000" not in str(info.value)


def test_env_key_is_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", f"  {KEY}\r\n")
    assert LLMClient("openai/gpt-4o-mini").target.api_key == KEY
