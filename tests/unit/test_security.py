"""Secrets never leak: redaction, error scrubbing, end-to-end through the client."""

from __future__ import annotations

import json
import logging
import traceback
import warnings
from collections.abc import Iterator

import pytest
import requests
import responses

from llm_connectivity import LLMClient, StreamChunk
from llm_connectivity.errors import (
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    LLMError,
    StreamInterruptedError,
    error_for_status,
)
from llm_connectivity.models import ChatResponse
from llm_connectivity.security import (
    InsecureTransportWarning,
    check_key,
    redact,
    redact_url,
    scrub_error,
    scrub_text,
    url_password,
    url_secrets,
    warn_if_insecure,
)
from llm_connectivity.testing import FakeLLMServer, Reply

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


# -- URL userinfo ---------------------------------------------------------------------------------------

PASSWORD = "s3cret-hunter2-pass"


@pytest.mark.parametrize(("url", "expected"), [
    (f"http://alice:{PASSWORD}@127.0.0.1:8080/v1", "http://alice:***@127.0.0.1:8080/v1"),
    (f"https://alice:{PASSWORD}@host/v1/chat/completions?x=1", "https://alice:***@host/v1/chat/completions?x=1"),
    (f"https://{PASSWORD}@host/v1", "https://***@host/v1"),  # a lone user name is often a token
    (f"https://:{PASSWORD}@host", "https://***@host"),
    ("https://alice:@host/v1", "https://alice:***@host/v1"),
    (f"https://host/v1beta/models/m:generateContent?key={PASSWORD}&alt=sse",
     "https://host/v1beta/models/m:generateContent?key=***&alt=sse"),
    (f"https://host/v1?api-version=2024-06-01&api_key={PASSWORD}",
     "https://host/v1?api-version=2024-06-01&api_key=***"),
    ("https://api.openai.com/v1", "https://api.openai.com/v1"),
    ("https://host/v1?api-version=2024-06-01", "https://host/v1?api-version=2024-06-01"),
    (f"http://alice:{PASSWORD}@[::1", "http://alice:***@[::1"),  # not parseable: password still hidden
    ("", ""),
])
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(("url", "expected"), [
    (f"http://alice:{PASSWORD}@host/v1", PASSWORD),
    ("http://alice@host/v1", None),
    ("http://host/v1", None),
    ("http://[::1", None),
])
def test_url_password(url: str, expected: str | None) -> None:
    assert url_password(url) == expected


def test_scrub_error_hides_url_userinfo_without_a_key() -> None:
    err = StreamInterruptedError(f"could not reach http://alice:{PASSWORD}@10.0.0.1/v1 (refused)")
    scrub_error(err, None)
    assert str(err) == "could not reach http://alice:***@10.0.0.1/v1 (refused)"


def test_scrub_error_removes_the_url_password_given_as_a_secret() -> None:
    err = error_for_status(401, f"bad credentials: {PASSWORD}", body=f"password {PASSWORD} rejected".encode())
    scrub_error(err, KEY, PASSWORD)
    assert err.message == "bad credentials: ...pass"
    assert err.body == b"password ...pass rejected"


# -- bytes bodies and partial responses ---------------------------------------------------------------------


@pytest.mark.parametrize("body_type", [bytes, bytearray])
def test_scrub_error_bytes_body(body_type: type) -> None:
    body = body_type(f'<html>moved; your key {KEY} and http://u:{PASSWORD}@h/v1</html>'.encode())
    err = error_for_status(302, "redirected", body=body)
    scrub_error(err, KEY)
    assert bytes(err.body) == b"<html>moved; your key sk-...1234 and http://u:***@h/v1</html>"


def test_scrub_error_nested_bytes_and_tuples() -> None:
    err = error_for_status(400, "bad", body={"echo": (KEY.encode(), [KEY])})
    scrub_error(err, KEY)
    assert err.body == {"echo": (b"sk-...1234", ["sk-...1234"])}


def test_scrub_error_partial_response_raw_keeps_the_answer_text() -> None:
    err = StreamInterruptedError("lost")
    err.partial_response = ChatResponse(content=f"text {KEY}", raw={"system_fingerprint": KEY, "n": [KEY.encode()]})
    scrub_error(err, KEY)
    assert err.partial_response.raw == {"system_fingerprint": "sk-...1234", "n": [b"sk-...1234"]}
    assert err.partial_response.content == f"text {KEY}"  # the answer is the caller's, untouched


def test_scrub_error_partial_response_without_secret_is_kept_as_is() -> None:
    partial = ChatResponse(content="Hi", raw={"id": "x"})
    err = StreamInterruptedError("lost")
    err.partial_response = partial
    scrub_error(err, KEY)
    assert err.partial_response is partial


# -- key checks and the insecure-transport warning --------------------------------------------------------------


def test_check_key_strips_and_names_the_source() -> None:
    assert check_key(f"  {KEY}\n", "OPENAI_API_KEY", "openai") == KEY
    with pytest.raises(ConfigurationError, match="the openai API key from OPENAI_API_KEY is empty"):
        check_key("sk-\u200babcdefghijklmnop", "OPENAI_API_KEY", "openai")


def test_insecure_warning_names_the_host_and_points_at_the_caller() -> None:
    with pytest.warns(InsecureTransportWarning) as record:
        warn_if_insecure("openai", f"http://alice:{PASSWORD}@llm.example.com:8000/v1", KEY)
    warning = record[0]
    assert isinstance(warning.message, InsecureTransportWarning)
    assert warning.message.host == "llm.example.com"
    assert str(warning.message) == ("the openai API key would be sent over plain HTTP to llm.example.com "
                                    "(http://alice:***@llm.example.com:8000/v1); use an https:// base_url")
    assert warning.filename == __file__


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/v1", "http://localhost/v1", "http://[::1]:80/v1",
                                 "http://127.0.0.2/v1", "http://app.localhost/v1", "https://llm.example.com/v1"])
def test_no_insecure_warning_for_loopback_or_https(url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_insecure("openai", url, KEY)


def test_no_insecure_warning_without_a_key() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_insecure("vllm", "http://llm.example.com/v1", None)


def test_client_insecure_warning_points_at_user_code() -> None:
    with pytest.warns(InsecureTransportWarning, match="to llm.example.com") as record:
        LLMClient("openai/gpt-4o-mini", api_key=KEY, base_url=f"http://bob:{PASSWORD}@llm.example.com/v1").close()
    assert record[0].filename == __file__
    assert PASSWORD not in str(record[0].message)


# -- end to end: no URL password in logs, reprs, errors -----------------------------------------------------------


def test_repr_redacts_url_userinfo() -> None:
    client = LLMClient("vllm/m", base_url=f"http://alice:{PASSWORD}@127.0.0.1:9/v1")
    assert repr(client) == "LLMClient(model='vllm/m', base_url='http://alice:***@127.0.0.1:9/v1', api_key=None)"
    client.close()


def test_configuration_error_redacts_url_userinfo() -> None:
    with pytest.raises(ConfigurationError) as info:
        LLMClient("vllm/m", base_url=f"ftp://alice:{PASSWORD}@127.0.0.1/v1")
    assert str(info.value) == "base_url 'ftp://alice:***@127.0.0.1/v1' must start with http:// or https://"


def test_info_log_redacts_url_userinfo(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llm_connectivity")
    with FakeLLMServer() as server:
        server.add_reply("Hi there")
        port = server.port
        url = f"http://alice:{PASSWORD}@127.0.0.1:{port}/v1"
        with LLMClient("vllm/m", base_url=url) as client:
            assert client.chat_stream("hi").text() == "Hi there"
            assert client.chat("hi").content.startswith("Hello from FakeLLMServer")
    lines = [r.getMessage() for r in caplog.records]
    assert PASSWORD not in "\n".join(lines)
    posts = [line for line in lines if line.startswith("POST ")]
    assert [p.split(" (")[0] for p in posts] == [
        f"POST http://alice:***@127.0.0.1:{port}/v1/chat/completions -> 200"] * 2


def test_redirect_error_redacts_the_location_and_the_echoed_key() -> None:
    location = f"http://bob:{PASSWORD}@llm.example.com/v1/chat/completions"
    with FakeLLMServer() as server:
        server.add_reply(Reply(status=302, headers={"Location": location}, content_type="text/html",
                               body=f"<a href='{location}'>moved</a> key={KEY}".encode(), framing="length"))
        with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, max_retries=0) as client:
            with pytest.raises(APIStatusError) as info:
                client.chat("hi")
    err = info.value
    assert err.status_code == 302
    assert str(err) == ("openai base_url redirected (HTTP 302) to 'http://bob:***@llm.example.com/v1/chat/completions'"
                        "; use that URL as base_url")
    assert err.body == b"<a href='http://bob:***@llm.example.com/v1/chat/completions'>moved</a> key=sk-...1234"
    assert err.headers is not None and err.headers["location"] == "http://bob:***@llm.example.com/v1/chat/completions"
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    assert PASSWORD not in text and KEY not in text


def test_partial_response_raw_is_scrubbed_on_a_broken_stream() -> None:
    event = {"id": "c1", "object": "chat.completion.chunk", "system_fingerprint": KEY,
             "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]}
    with FakeLLMServer() as server:
        server.add_raw(f"data: {json.dumps(event)}\n\n".encode(), framing="close")
        with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, max_retries=0) as client:
            with pytest.raises(StreamInterruptedError) as info:
                client.chat_stream("hi").text()
    partial = info.value.partial_response
    assert partial.content == "Hello"
    assert partial.raw["system_fingerprint"] == "sk-...1234"


def test_client_target_repr_redacts_url_userinfo() -> None:
    client = LLMClient("vllm/m", base_url=f"http://alice:{PASSWORD}@127.0.0.1:9/v1", api_key=KEY)
    assert repr(client.target) == "Target('vllm', 'm', base_url='http://alice:***@127.0.0.1:9/v1')"
    client.close()


def test_what_stages_and_recorded_requests_show_hides_the_url_password() -> None:
    """A stage's context (its spec) and MemoryTransport's recorded requests are shown in
    test failures and logs: the base_url password must not be in their reprs."""
    from llm_connectivity.pipeline import Stage, StreamContext
    from llm_connectivity.testing import MemoryTransport, Reply

    shown: list[str] = []

    class Show(Stage):
        def on_chunk(self, chunk: StreamChunk, context: StreamContext) -> StreamChunk:
            shown.append(repr(context))
            return chunk

    transport = MemoryTransport([Reply(text="Hi")])
    client = LLMClient("vllm/m", base_url="http://alice:pw-0123secret@127.0.0.1:9/v1", transport=transport,
                       stages=[Show()])
    assert client.chat_stream("Hi").text() == "Hi"
    assert shown and "alice:***@127.0.0.1:9/v1" in shown[0]
    for text in [*shown, repr(transport.requests)]:
        assert "pw-0123secret" not in text


@pytest.mark.parametrize(("url", "expected"), [
    ("https://api.example.com/v1", ()),
    ("https://user:pa55word@host/v1", ("pa55word",)),
    ("https://tok-123456@host/v1", ("tok-123456",)),
    ("https://host/v1?api-version=2024&key=querykey-SECRET-999", ("querykey-SECRET-999",)),
    ("https://u:p4ssw0rd@host/v1?token=abcdefgh&x=1", ("p4ssw0rd", "abcdefgh")),
])
def test_url_secrets(url: str, expected: tuple[str, ...]) -> None:
    assert url_secrets(url) == expected


def test_short_keys_are_not_masked_inside_words() -> None:
    assert scrub_text("unexpected index in the stream", "x") == "unexpected index in the stream"
    assert scrub_text("bad key abcdef", "abcdef") != "bad key abcdef"


def test_a_query_key_echoed_in_an_error_body_is_scrubbed() -> None:
    from llm_connectivity import LLMClient
    from llm_connectivity.errors import BadRequestError
    from llm_connectivity.testing import FakeLLMServer, faults

    secret = "querykey-SECRET-999"
    with FakeLLMServer() as server:
        server.add_reply(faults.status(400, body='{"error":{"message":"bad key %s"}}' % secret))
        with LLMClient("openai/m", base_url=server.base_url + "?key=" + secret, api_key="sk-test-123456") as client:
            with pytest.raises(BadRequestError) as info:
                client.chat("hi")
    assert secret not in str(info.value) and secret not in repr(info.value.body)
