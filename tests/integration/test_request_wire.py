"""What each provider's requests look like on the wire, checked on the server side."""

from __future__ import annotations

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.testing import FakeLLMServer, Reply

KEY = "sk-wire-test-0123456789"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture(scope="module")
def server():
    with FakeLLMServer() as srv:
        yield srv


def _send(server: FakeLLMServer, model: str, *, stream: bool = True, api: str | None = None, **params):
    provider = model.split("/", 1)[0]
    with LLMClient(model, base_url=server.base_url_for(provider), api_key=KEY, api=api) as client:
        if stream:
            client.chat_stream(MESSAGES, **params).text()
        else:
            client.chat(MESSAGES, **params)
    return server.requests[-1]


@pytest.mark.parametrize("provider", ["openai", "xai", "openrouter", "groq", "deepseek", "together", "mistral"])
def test_openai_compatible_chat_completions(server: FakeLLMServer, provider: str) -> None:
    req = _send(server, f"{provider}/some-model", max_tokens=50, temperature=0.2, stop=["\n\n"], tools=TOOLS,
                seed=7)
    assert req.method == "POST" and req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["accept"] == "text/event-stream"
    body = req.json
    assert body["model"] == "some-model" and body["messages"] == MESSAGES
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.2 and body["stop"] == ["\n\n"] and body["tools"] == TOOLS
    assert body["seed"] == 7  # unknown parameters pass through
    max_field = "max_completion_tokens" if provider == "openai" else "max_tokens"
    assert body[max_field] == 50
    assert KEY not in req.path


def test_openai_non_streaming_request(server: FakeLLMServer) -> None:
    req = _send(server, "openai/gpt-4o-mini", stream=False)
    assert "stream" not in req.json and "stream_options" not in req.json
    assert "accept" not in req.headers or req.headers["accept"] != "text/event-stream"


def test_ollama_sends_no_authorization_without_a_key(server: FakeLLMServer) -> None:
    with LLMClient("ollama/llama3.2", base_url=server.base_url) as client:
        client.chat_stream("hi").text()
    req = server.requests[-1]
    assert req.path == "/v1/chat/completions" and "authorization" not in req.headers
    assert req.json["model"] == "llama3.2"


def test_model_names_with_slashes_are_kept_whole(server: FakeLLMServer) -> None:
    req = _send(server, "openrouter/meta-llama/llama-3.1-8b-instruct")
    assert req.json["model"] == "meta-llama/llama-3.1-8b-instruct"


def test_anthropic_messages(server: FakeLLMServer) -> None:
    req = _send(server, "anthropic/claude-sonnet-4-5", stop="END", tools=TOOLS, temperature=0.5)
    assert req.path == "/v1/messages"
    assert req.headers["x-api-key"] == KEY and "authorization" not in req.headers
    assert req.headers["anthropic-version"] == "2023-06-01"
    body = req.json
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "Weather in Paris?"}]
    assert body["max_tokens"] > 0 and body["stream"] is True
    assert body["stop_sequences"] == ["END"] and body["temperature"] == 0.5
    assert body["tools"][0]["name"] == "get_weather" and "input_schema" in body["tools"][0]


@pytest.mark.parametrize("provider", ["gemini", "google"])
def test_gemini_stream_generate_content(server: FakeLLMServer, provider: str) -> None:
    req = _send(server, f"{provider}/gemini-2.5-flash", max_tokens=64, tools=TOOLS)
    assert req.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert req.headers["x-goog-api-key"] == KEY and KEY not in req.path
    body = req.json
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}]
    assert body["generationConfig"]["maxOutputTokens"] == 64
    assert body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"


def test_gemini_non_streaming(server: FakeLLMServer) -> None:
    req = _send(server, "gemini/gemini-2.5-flash", stream=False)
    assert req.path == "/v1beta/models/gemini-2.5-flash:generateContent"


def test_responses_api(server: FakeLLMServer) -> None:
    req = _send(server, "openai/gpt-5", api="responses", max_tokens=80, tools=TOOLS)
    assert req.path == "/v1/responses" and req.headers["authorization"] == f"Bearer {KEY}"
    body = req.json
    assert body["instructions"] == "Be brief."
    assert body["input"][0]["role"] == "user" and body["max_output_tokens"] == 80
    assert body["tools"][0]["name"] == "get_weather" and body["stream"] is True


def test_server_that_rejects_stream_options_is_retried_without_and_remembered(server: FakeLLMServer) -> None:
    rejection = b'{"error": {"message": "Unrecognized request argument supplied: stream_options", "type": "invalid_request_error"}}'
    server.add_reply(Reply(body=rejection, content_type="application/json", status=400, framing="length"))
    with LLMClient("vllm/llama", base_url=server.base_url, api_key=KEY, max_retries=0) as client:
        assert client.chat_stream("hi").text().startswith("Hello from FakeLLMServer")
        first, second = server.requests[-2:]
        assert "stream_options" in first.json and "stream_options" not in second.json
        client.chat_stream("again").text()
        assert "stream_options" not in server.requests[-1].json  # remembered for this base URL


def test_proxy_from_the_environment_is_used(server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY is honoured (read once per origin, not on every request)."""
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with LLMClient("ollama/llama3.2", base_url="http://llm.example.test/v1") as client:
        assert client.chat("hi").content.startswith("Hello from FakeLLMServer")
        client.chat("again")
    assert server.requests[-1].path == "http://llm.example.test/v1/chat/completions"


@pytest.mark.parametrize(("model", "api", "stream", "path"), [
    ("openai/m", None, True, "/v1/chat/completions?api-version=2024-10-21"),
    ("ollama/m", None, False, "/v1/chat/completions?api-version=2024-10-21"),
    ("openai/m", "responses", True, "/v1/responses?api-version=2024-10-21"),
    ("anthropic/m", None, True, "/v1/messages?api-version=2024-10-21"),
    ("gemini/m", None, True, "/v1beta/models/m:streamGenerateContent?api-version=2024-10-21&alt=sse"),
    ("gemini/m", None, False, "/v1beta/models/m:generateContent?api-version=2024-10-21"),
])
def test_base_url_query_string_is_kept_after_the_path(server: FakeLLMServer, model: str, api: str | None,
                                                      stream: bool, path: str) -> None:
    provider = model.split("/", 1)[0]
    base_url = server.base_url_for(provider) + "?api-version=2024-10-21"
    with LLMClient(model, base_url=base_url, api_key=KEY, api=api) as client:
        text = client.chat_stream("hi").text() if stream else client.chat("hi").content
    assert text and server.requests[-1].path == path
