"""LLMClient construction and per-call overrides, without network (``responses`` mocks)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from llm_connectivity import LLMClient, RetryPolicy, StreamingOptions
from llm_connectivity.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    MissingAPIKeyError,
    RateLimitError,
    ServerError,
)
from llm_connectivity.options import UNSET
from llm_connectivity.security import InsecureTransportWarning

OPENAI_KEY = "sk-proj-openai0000000000000001"
ANTHROPIC_KEY = "sk-ant-api03-anthropic000000002"
OPENAI_URL = "https://api.openai.com/v1/chat/completions"
ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"
FAST_RETRY = RetryPolicy(max_retries=1, backoff_base=0.001, jitter=0)

OPENAI_OK = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
}
ANTHROPIC_OK = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-5-haiku-20241022",
    "content": [{"type": "text", "text": "Hi from Claude"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 5, "output_tokens": 4},
}


@pytest.fixture
def session() -> Iterator[requests.Session]:
    s = requests.Session()
    yield s
    s.close()


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as rs:
        yield rs


def _body(call: Any) -> dict[str, Any]:
    return json.loads(call.request.body)


# -- model resolution ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["nonsense", "nope/x", "/gpt-4o", "openai/"])
def test_bad_model_lists_known_providers(model: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        LLMClient(model)
    message = str(info.value)
    assert "Known providers:" in message
    for name in ("openai", "anthropic", "gemini", "openrouter", "openai-compatible"):
        assert name in message


def test_model_keyword() -> None:
    with pytest.raises(ConfigurationError, match="unknown provider 'nope'"):
        LLMClient(model="nope/x")


def test_providers_lists_builtins() -> None:
    names = LLMClient.providers()
    assert {"openai", "anthropic", "gemini", "ollama", "vllm"} <= set(names)


def test_model_name_with_slashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-000000000000000")
    client = LLMClient("openrouter/meta-llama/llama-3.1-8b")
    assert (client.target.provider, client.target.model) == ("openrouter", "meta-llama/llama-3.1-8b")
    assert client.target.base_url == "https://openrouter.ai/api/v1"
    assert client.model == "openrouter/meta-llama/llama-3.1-8b"


def test_unknown_api_flavour_rejected() -> None:
    with pytest.raises(ConfigurationError, match="no 'responses' API"):
        LLMClient("anthropic/claude-x", api_key=ANTHROPIC_KEY, api="responses")


# -- keys -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "env_var", "named"), [
    ("openai/gpt-4o-mini", "OPENAI_API_KEY", "OPENAI_API_KEY"),
    ("anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
    ("gemini/gemini-2.0-flash", "GEMINI_API_KEY", "GEMINI_API_KEY or GOOGLE_API_KEY"),
    ("google/gemini-2.0-flash", "GEMINI_API_KEY", "GEMINI_API_KEY or GOOGLE_API_KEY"),
    ("perplexity/sonar", "PERPLEXITY_API_KEY", "PERPLEXITY_API_KEY or PPLX_API_KEY"),
    ("xai/grok-3", "XAI_API_KEY", "XAI_API_KEY"),
])
def test_missing_key_names_env_var(model: str, env_var: str, named: str) -> None:
    with pytest.raises(MissingAPIKeyError) as info:
        LLMClient(model)
    assert info.value.env_var == env_var
    assert named in str(info.value)
    assert "api_key=" in str(info.value)
    assert isinstance(info.value, ConfigurationError)


def test_empty_env_key_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "")
    with pytest.raises(MissingAPIKeyError):
        LLMClient("openai/gpt-4o-mini")


def test_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    client = LLMClient("openai/gpt-4o-mini")
    assert client.target.api_key == OPENAI_KEY


def test_secondary_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "AIzaSy-google-0000000000")
    assert LLMClient("gemini/gemini-2.0-flash").target.api_key == "AIzaSy-google-0000000000"
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaSy-gemini-0000000000")
    assert LLMClient("gemini/gemini-2.0-flash").target.api_key == "AIzaSy-gemini-0000000000"  # first wins


def test_explicit_key_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-000000000000")
    assert LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY).target.api_key == OPENAI_KEY


def test_key_read_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    client = LLMClient("openai/gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-changed-later-0000000")
    assert client.target.api_key == OPENAI_KEY


@pytest.mark.parametrize("model", ["ollama/llama3.2", "lmstudio/qwen"])
def test_local_servers_need_no_key(model: str) -> None:
    client = LLMClient(model)
    assert client.target.api_key is None
    assert client.target.base_url.startswith("http://localhost:")
    assert "api_key=None" in repr(client)


def test_repr_never_contains_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    for client in (LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY), LLMClient("anthropic/claude-x")):
        text = repr(client)
        assert OPENAI_KEY not in text and ANTHROPIC_KEY not in text
        assert "..." in text
        assert client.model in text


# -- base URLs ----------------------------------------------------------------------------------------------


def test_default_base_url() -> None:
    assert LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY).target.base_url == "https://api.openai.com/v1"
    assert LLMClient("anthropic/x", api_key=ANTHROPIC_KEY).target.base_url == "https://api.anthropic.com"


def test_base_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example.com/v1")
    assert LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY).target.base_url == "https://proxy.example.com/v1"


def test_explicit_base_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example.com/v1")
    client = LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, base_url="https://explicit.example.com/v1")
    assert client.target.base_url == "https://explicit.example.com/v1"


def test_env_base_url_used_for_requests(monkeypatch: pytest.MonkeyPatch, session: requests.Session,
                                        mock: responses.RequestsMock) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example.com/v1/")
    mock.add(responses.POST, "https://proxy.example.com/v1/chat/completions", json=OPENAI_OK)
    with LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, session=session) as client:
        assert client.chat("hi").content == "Hello there!"


def test_vllm_requires_base_url() -> None:
    with pytest.raises(ConfigurationError, match="VLLM_BASE_URL") as info:
        LLMClient("vllm/meta-llama/Llama-3.1-8B")
    assert "base_url" in str(info.value)
    assert not isinstance(info.value, MissingAPIKeyError)


def test_vllm_base_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_BASE_URL", "http://127.0.0.1:8000/v1")
    assert LLMClient("vllm/m").target.base_url == "http://127.0.0.1:8000/v1"


def test_openai_compatible_requires_base_url() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_COMPATIBLE_BASE_URL"):
        LLMClient("openai-compatible/m")
    assert LLMClient("openai-compatible/m", base_url="https://llm.example.com/v1").target.api_key is None


@pytest.mark.parametrize("url", ["ftp://example.com/v1", "example.com/v1", "file:///etc/passwd"])
def test_base_url_scheme_checked(url: str) -> None:
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, base_url=url)


# -- insecure transport -------------------------------------------------------------------------------------


def test_insecure_transport_warning_for_remote_http() -> None:
    with pytest.warns(InsecureTransportWarning, match="plain HTTP to llm.example.com") as record:
        LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, base_url="http://llm.example.com/v1")
    assert OPENAI_KEY not in str(record[0].message)
    assert record[0].filename == __file__  # points at the caller, not the library


def test_insecure_transport_warning_from_env_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://10.1.2.3:8080")
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    with pytest.warns(InsecureTransportWarning):
        LLMClient("anthropic/claude-x")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/v1", "http://localhost:11434/v1", "http://[::1]:8000/v1",
                                 "https://llm.example.com/v1", "HTTP://LOCALHOST:1234/v1"])
def test_no_warning_for_loopback_or_https(url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, base_url=url)


def test_no_warning_without_key() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LLMClient("openai-compatible/m", base_url="http://llm.example.com/v1")


# -- options --------------------------------------------------------------------------------------------------


def test_timeout_and_retry_shorthands() -> None:
    client = LLMClient("ollama/m", timeout=3, max_retries=5, streaming_options=StreamingOptions(total_timeout=9.0))
    assert (client.options.connection_timeout, client.options.read_timeout) == (3.0, 3.0)
    assert client.options.total_timeout == 9.0
    assert client.retry_policy.max_retries == 5
    assert LLMClient("ollama/m", max_retries=None).retry_policy.max_retries == 0
    assert LLMClient("ollama/m").options == StreamingOptions()


def test_bad_streaming_options_type() -> None:
    with pytest.raises(ConfigurationError, match="streaming_options"):
        LLMClient("ollama/m", streaming_options={"read_timeout": 1})  # type: ignore[arg-type]


def test_default_params_validated_at_construction() -> None:
    with pytest.raises(InvalidRequestError, match="max_tokens"):
        LLMClient("ollama/m", max_tokens="10")


# -- requests through a mocked session -----------------------------------------------------------------------


def test_chat_returns_content_and_usage_and_merges_params(session: requests.Session,
                                                         mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, OPENAI_URL, json=OPENAI_OK)
    with LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, session=session,
                   temperature=0.5, max_tokens=10, seed=7) as client:
        response = client.chat("Hi", temperature=None, top_p=0.9, seed=8)
    assert response.content == "Hello there!"
    assert str(response) == "Hello there!"
    assert response.finish_reason == "stop"
    assert response.provider == "openai"
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert response.usage["total_tokens"] == 12
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (9, 3)
    assert not response.usage.is_estimated
    assert len(mock.calls) == 1
    request = mock.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {OPENAI_KEY}"
    body = _body(mock.calls[0])
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert body["max_completion_tokens"] == 10  # OpenAI's name for max_tokens
    assert body["top_p"] == 0.9
    assert body["seed"] == 8  # per-call wins
    assert "temperature" not in body  # per-call None removed the default
    assert "stream" not in body
    assert "max_tokens" not in body
    assert client.default_params == {"temperature": 0.5, "max_tokens": 10, "seed": 7}  # untouched


def test_per_call_params_validated(session: requests.Session) -> None:
    with LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, session=session) as client:
        with pytest.raises(InvalidRequestError, match="temperature"):
            client.chat("hi", temperature="hot")
        with pytest.raises(InvalidRequestError, match="messages"):
            client.chat([])


def test_401_is_authentication_error_not_retried(session: requests.Session, mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, OPENAI_URL, status=401,
             json={"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                             "code": "invalid_api_key"}},
             headers={"x-request-id": "req_abc"})
    with LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, session=session, max_retries=FAST_RETRY) as client:
        with pytest.raises(AuthenticationError) as info:
            client.chat("hi")
    assert len(mock.calls) == 1
    err = info.value
    assert err.status_code == 401
    assert err.provider == "openai"
    assert err.request_id == "req_abc"
    assert "Incorrect API key provided" in str(err)
    assert err.headers is not None


def test_500_then_200_is_retried(session: requests.Session, mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, OPENAI_URL, status=500, json={"error": {"message": "boom", "type": "server_error"}})
    mock.add(responses.POST, OPENAI_URL, json=OPENAI_OK)
    with LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, session=session, max_retries=FAST_RETRY) as client:
        assert client.chat("hi").content == "Hello there!"
    assert len(mock.calls) == 2
    assert _body(mock.calls[0]) == _body(mock.calls[1])


def test_retries_exhausted_raises_last_error(session: requests.Session, mock: responses.RequestsMock) -> None:
    for _ in range(2):
        mock.add(responses.POST, OPENAI_URL, status=503, json={"error": {"message": "busy"}})
    with LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, session=session, max_retries=FAST_RETRY) as client:
        with pytest.raises(ServerError) as info:
            client.chat("hi")
    assert info.value.status_code == 503
    assert len(mock.calls) == 2


def test_per_call_max_retries_none_disables_retries(session: requests.Session, mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, OPENAI_URL, status=500, json={"error": {"message": "boom"}})
    with LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, session=session, max_retries=FAST_RETRY) as client:
        with pytest.raises(ServerError):
            client.chat("hi", max_retries=None, timeout=UNSET)
    assert len(mock.calls) == 1


def test_retry_after_beyond_cap_not_retried(session: requests.Session, mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, OPENAI_URL, status=429, json={"error": {"message": "slow down"}},
             headers={"retry-after": "3600"})
    with LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, session=session, max_retries=FAST_RETRY) as client:
        with pytest.raises(RateLimitError) as info:
            client.chat("hi")
    assert info.value.retry_after == 3600.0
    assert len(mock.calls) == 1


def test_x_should_retry_false_lowercase_respected(session: requests.Session, mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, OPENAI_URL, status=500, json={"error": {"message": "boom"}},
             headers={"x-should-retry": "false"})
    with LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, session=session, max_retries=FAST_RETRY) as client:
        with pytest.raises(ServerError):
            client.chat("hi")
    assert len(mock.calls) == 1


def test_x_should_retry_false_any_case_respected(session: requests.Session) -> None:
    """Regression: the client kept dict(response.headers) and matched 'x-should-retry' case-sensitively."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, OPENAI_URL, status=500, json={"error": {"message": "boom"}},
                 headers={"X-Should-Retry": "false"})
        mock.add(responses.POST, OPENAI_URL, json=OPENAI_OK)
        with LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, session=session, max_retries=FAST_RETRY) as client:
            with pytest.raises(ServerError):
                client.chat("hi")
        assert len(mock.calls) == 1


def test_per_call_model_override_hits_anthropic(monkeypatch: pytest.MonkeyPatch, session: requests.Session,
                                                mock: responses.RequestsMock) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    mock.add(responses.POST, ANTHROPIC_URL, json=ANTHROPIC_OK)
    with LLMClient("openai/gpt-4o-mini", session=session, max_tokens=50) as client:
        response = client.chat("Hi", model="anthropic/claude-3-5-haiku-latest")
        assert client.target.provider == "openai"  # the default is unchanged
    assert response.content == "Hi from Claude"
    assert response.provider == "anthropic"
    assert response.usage.total_tokens == 9
    request = mock.calls[0].request
    assert request.url == ANTHROPIC_URL
    assert request.headers["x-api-key"] == ANTHROPIC_KEY
    assert "Authorization" not in request.headers
    assert request.headers["anthropic-version"]
    body = _body(mock.calls[0])
    assert body["model"] == "claude-3-5-haiku-latest"
    assert body["max_tokens"] == 50


def test_explicit_base_url_not_applied_to_another_provider(monkeypatch: pytest.MonkeyPatch,
                                                           session: requests.Session,
                                                           mock: responses.RequestsMock) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    mock.add(responses.POST, ANTHROPIC_URL, json=ANTHROPIC_OK)
    with LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, base_url="https://proxy.example.com/v1",
                   session=session) as client:
        assert client.chat("Hi", model="anthropic/claude-x").content == "Hi from Claude"
    assert mock.calls[0].request.url == ANTHROPIC_URL


def test_per_call_override_to_provider_without_key_raises(session: requests.Session) -> None:
    with LLMClient("ollama/llama3.2", session=session) as client:
        with pytest.raises(MissingAPIKeyError, match="ANTHROPIC_API_KEY"):
            client.chat("hi", model="anthropic/claude-x")


def test_explicit_key_not_sent_to_another_provider(monkeypatch: pytest.MonkeyPatch, session: requests.Session,
                                                  mock: responses.RequestsMock) -> None:
    """Regression: an explicit key for the default provider was sent to every per-call override."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    mock.add(responses.POST, ANTHROPIC_URL, json=ANTHROPIC_OK)
    with LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, session=session) as client:
        client.chat("Hi", model="anthropic/claude-3-5-haiku-latest")
    assert mock.calls[0].request.headers["x-api-key"] == ANTHROPIC_KEY


def test_insecure_warning_on_per_call_override_points_at_caller(monkeypatch: pytest.MonkeyPatch,
                                                                 session: requests.Session) -> None:
    """Regression: a fixed stacklevel pointed per-call override warnings into client.py."""
    monkeypatch.setenv("OPENAI_COMPATIBLE_BASE_URL", "http://llm.example.com/v1")
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", OPENAI_KEY)
    with LLMClient("ollama/m", session=session) as client:  # loopback, no key: no warning
        with pytest.warns(InsecureTransportWarning) as record:
            client.chat_stream("hi", model="openai-compatible/m2")  # resolves only; sends nothing
        assert record[0].filename == __file__
        with pytest.warns(InsecureTransportWarning) as record:
            client.chat_stream("hi", model="openai-compatible/m3")
        assert record[0].filename == __file__


# -- wrong types and reserved names are refused at construction, before any I/O ------------------
@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"base_url": 5}, "base_url must be a string"),
    ({"base_url": b"https://api.openai.com/v1"}, "base_url must be a string"),
    ({"base_url": "http://"}, "base_url 'http://' has no host"),
    ({"base_url": "https:///v1"}, "has no host"),
    ({"api_key": 12345}, "api_key must be a string"),
    ({"transport": object()}, "transport must have send(request, ...) and close()"),
    ({"transport": "memory"}, "transport must have send(request, ...) and close()"),
    ({"session": "s"}, "session must be a requests.Session"),
    ({"clock": 5}, "clock must have monotonic() and sleep(seconds)"),
    ({"stream": True}, "stream is not a default parameter"),
    ({"messages": [{"role": "user", "content": "x"}]}, "messages is not a default parameter"),
    ({"observers": 5}, "observers must be an iterable of callables taking a Notice, got int"),
    ({"stages": 5}, "stages must be an iterable of llm_connectivity.pipeline.Stage instances, got int"),
])
def test_wrong_configuration_types_raise_configuration_error(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        LLMClient("openai/gpt-4o-mini", **{"api_key": OPENAI_KEY, **kwargs})
    assert fragment in str(info.value)
    assert OPENAI_KEY not in str(info.value)


def test_stages_and_observers_none_mean_none() -> None:
    from llm_connectivity.testing import MemoryTransport, Reply

    client = LLMClient("openai/gpt-4o-mini", api_key=OPENAI_KEY, transport=MemoryTransport([Reply(text="Hi")]),
                       stages=None, observers=None)
    assert client.chat("Hi", stages=None, observers=None).content == "Hi"
