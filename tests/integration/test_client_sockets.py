"""LLMClient input checks and secrets, proven against a real loopback server: refused
input never reaches the wire."""

from __future__ import annotations

import time

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.engine import Target
from llm_connectivity.errors import ConfigurationError, InvalidRequestError
from llm_connectivity.providers.openai import OpenAIDriver
from llm_connectivity.request import RequestSpec
from llm_connectivity.testing import FakeLLMServer

KEY = "sk-client-secret-0123456789"


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        yield srv


def test_api_key_is_not_in_reprs() -> None:
    spec = RequestSpec("m", [], api_key=KEY)
    target = Target("openai", "m", OpenAIDriver(), "https://x", KEY)
    assert KEY not in repr(spec) and KEY not in repr(target)
    assert KEY not in repr(LLMClient("openai/m", api_key=KEY))


@pytest.mark.parametrize("name", ["api_key", "base_url", "session", "streaming_options", "transport", "clock"])
def test_client_settings_are_refused_per_call(server: FakeLLMServer, name: str) -> None:
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY) as client:
        with pytest.raises(InvalidRequestError, match=name):
            client.chat("hi", **{name: "sk-per-call-secret-000000"})
    assert server.requests == []


def test_non_ascii_key_is_refused_before_sending() -> None:
    with pytest.raises(ConfigurationError, match="non-ASCII") as info:
        LLMClient("openai/m", api_key="sk-abc\u200bdef1234567890")
    assert "def1234567890" not in str(info.value)


@pytest.mark.parametrize(("method", "kwargs", "message"), [
    ("chat", {"stream": True}, r"chat\(\) does not take stream=; use client.chat_stream"),
    ("chat", {"stream": False}, r"chat\(\) does not take stream=; use client.chat_stream"),
    ("chat_stream", {"stream": True}, r"chat_stream\(\) always streams"),
])
def test_stream_keyword_is_refused_with_a_pointer(server: FakeLLMServer, method: str, kwargs: dict[str, bool],
                                                  message: str) -> None:
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY) as client:
        with pytest.raises(InvalidRequestError, match=message):
            getattr(client, method)("hi", **kwargs)
    assert server.requests == []


def test_stream_of_none_fails_at_call_time_like_chat_stream(server: FakeLLMServer) -> None:
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY) as client:
        with pytest.raises(InvalidRequestError) as expected:
            client.chat_stream(None)
        with pytest.raises(InvalidRequestError) as got:
            client.stream(None)  # raises here, before any iteration
    assert str(got.value) == str(expected.value)
    assert server.requests == []


def test_stream_yields_text_pieces(server: FakeLLMServer) -> None:
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY) as client:
        assert "".join(client.stream("hi")).startswith("Hello from FakeLLMServer")


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "4", None])
def test_max_concurrency_must_be_a_positive_int(value: object) -> None:
    with pytest.raises(ConfigurationError, match="max_concurrency must be a positive int"):
        LLMClient("openai/m", api_key=KEY, max_concurrency=value)  # type: ignore[arg-type]


def test_total_timeout_starts_when_the_stream_is_first_read(server: FakeLLMServer) -> None:
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, timeout={"total_timeout": 0.5}) as client:
        stream = client.chat_stream("hi")
        time.sleep(0.7)  # created now, read later (a job queue, a web framework): real time passing
        assert stream.text().startswith("Hello from FakeLLMServer")


def test_a_closed_client_refuses_new_calls_clearly(server: FakeLLMServer) -> None:
    """After close() (or its with block), a call raises ConfigurationError at once, never
    a retried "connection lost (ClosedPoolError)"; a stream already reading goes on."""
    client = LLMClient("openai/m", base_url=server.base_url, api_key=KEY)
    reading = client.chat_stream("hi")
    next(reading)
    pending = client.chat_stream("hi")
    client.close()
    assert reading.text().startswith("Hello from FakeLLMServer")
    for call in (lambda: client.chat("hi"), lambda: client.chat_stream("hi"), lambda: next(pending)):
        with pytest.raises(ConfigurationError, match="this LLMClient is closed; create a new one"):
            call()
    assert len(server.requests) == 1
