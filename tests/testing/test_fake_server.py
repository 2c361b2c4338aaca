"""FakeLLMServer serves exactly the paths a real endpoint serves: what works against it
works against the vendor, and the usual base_url mistakes get the vendor's 404."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.errors import NotFoundError
from llm_connectivity.testing import FakeLLMServer
from llm_connectivity.testing.routes import resolve_route

KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as srv:
        yield srv


def _post(server: FakeLLMServer, path: str, body: dict[str, Any], headers: dict[str, str] | None = None,
          method: str = "POST") -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json",
                                                                   **(headers or {})})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return response.status, json.loads(data) if data.startswith(b"{") else data


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
RESPONSES = {"model": "m", "input": "hi"}
ANTHROPIC = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}

# Paths the vendors (or their documented gateways) serve: 200 from the fake too.
SERVED = [
    ("/v1/chat/completions", CHAT),                        # OpenAI, vLLM, Ollama, xAI, Mistral...
    ("/openai/v1/chat/completions", CHAT),                 # Groq
    ("/api/v1/chat/completions", CHAT),                    # OpenRouter
    ("/inference/v1/chat/completions", CHAT),              # Fireworks
    ("/v1beta/openai/chat/completions", CHAT),             # Gemini's OpenAI-compatible endpoint
    ("/openai/deployments/gpt4/chat/completions?api-version=2024-06-01", CHAT),  # Azure
    ("/v1/responses", RESPONSES),
    ("/openai/v1/responses", RESPONSES),
    ("/v1/messages", ANTHROPIC),
    ("/gateway/anthropic/v1/messages", ANTHROPIC),         # a gateway in front of Anthropic
    ("/v1beta/models/gemini-2.5-flash:generateContent", GEMINI),
    ("/v1/models/gemini-2.5-flash:generateContent", GEMINI),
    ("/v1alpha/models/gemini-2.5-flash:generateContent", GEMINI),
    ("/v1beta/tunedModels/my-tune:generateContent", GEMINI),
    ("/v1/projects/p/locations/us/publishers/google/models/gemini-2.5-flash:generateContent", GEMINI),  # Vertex
]


@pytest.mark.parametrize(("path", "body"), SERVED)
def test_real_paths_are_served(server: FakeLLMServer, path: str, body: dict[str, Any]) -> None:
    status, _ = _post(server, path, body)
    assert status == 200


# Paths the real service answers 404: (path, vendor error shape, message fragment).
NOT_FOUND = [
    ("/chat/completions", "openai", "OpenAI-style routes need a version prefix"),
    ("/responses", "openai", "OpenAI-style routes need a version prefix"),
    ("/v1/chat/completions/chat/completions", "openai", "the route appears twice"),
    ("/v1/chat/completions/v1/chat/completions", "openai", "the route appears twice"),
    ("/v1/v1/chat/completions", "openai", "the version segment is doubled (/v1/v1)"),
    ("/v1/responses/responses", "openai", "the route appears twice"),
    ("/messages", "anthropic", "Anthropic serves POST /v1/messages"),
    ("/v1/v1/messages", "anthropic", "the version segment is doubled (/v1/v1)"),
    ("/v1beta/messages", "anthropic", "Anthropic serves POST /v1/messages"),
    ("/models/gemini-2.5-flash:generateContent", "gemini", "Gemini routes need a version"),
    ("/v1beta/v1beta/models/gemini-2.5-flash:generateContent", "gemini", "doubled (/v1beta/v1beta)"),
    ("/v1beta/models/v1beta/models/gemini-2.5-flash:generateContent", "gemini", "the route appears twice"),
    ("/v1/embeddings", "openai", "no route for POST /v1/embeddings"),
]


def _shape(payload: Any) -> str:
    if payload.get("type") == "error" and payload["error"]["type"] == "not_found_error":
        return "anthropic"
    if payload["error"].get("status") == "NOT_FOUND" and payload["error"].get("code") == 404:
        return "gemini"
    assert set(payload["error"]) == {"message", "type", "code"} and payload["error"]["type"] == "not_found_error"
    return "openai"


@pytest.mark.parametrize(("path", "shape", "fragment"), NOT_FOUND)
def test_paths_a_real_endpoint_would_404(server: FakeLLMServer, path: str, shape: str, fragment: str) -> None:
    body = {"openai": CHAT, "anthropic": ANTHROPIC, "gemini": GEMINI}[shape]
    before = server.pending()
    server.add_reply("not for this request")
    status, payload = _post(server, path, body)
    assert status == 404
    assert _shape(payload) == shape
    assert fragment in payload["error"]["message"]
    assert server.pending() == before + 1  # a 404 consumes no scripted reply
    server._replies.clear()


def test_unknown_path_answers_in_the_shape_of_the_callers_vendor(server: FakeLLMServer) -> None:
    status, payload = _post(server, "/v2/whatever", {}, headers={"x-api-key": KEY, "anthropic-version": "x"})
    assert (status, _shape(payload)) == (404, "anthropic")
    status, payload = _post(server, "/v2/whatever", {}, headers={"x-goog-api-key": KEY})
    assert (status, _shape(payload)) == (404, "gemini")


def test_get_on_a_route_is_refused(server: FakeLLMServer) -> None:
    status, payload = _post(server, "/v1/chat/completions", {}, method="GET")
    assert status == 404
    assert payload["error"]["message"] == "/v1/chat/completions answers POST only, not GET"


@pytest.mark.parametrize(("path", "expected"), [
    ("http://api.example.com/v1/chat/completions", ("chat", "")),  # absolute form, as sent to a proxy
    ("http://api.example.com/chat/completions", ("chat", "Invalid URL (POST /chat/completions): OpenAI-style "
                                                 "routes need a version prefix (/v1/chat/completions): give "
                                                 "server.base_url (ending in /v1) as base_url")),
    ("/v1beta/models/m:streamGenerateContent?alt=sse", ("gemini", "")),
])
def test_resolve_route(path: str, expected: tuple[str | None, str]) -> None:
    assert resolve_route("POST", path) == expected


# -- as a user meets it: the base_url mistakes -------------------------------------------------------------


@pytest.mark.parametrize(("model", "base", "fragment"), [
    ("openai/gpt-x", "{url}", "need a version prefix"),                         # forgot /v1
    ("openai/gpt-x", "{url}/v1/chat/completions", "the route appears twice"),   # gave the whole endpoint
    ("openai/gpt-x", "{url}/v1/v1", "doubled"),
    ("gemini/gemini-x", "{url}/v1beta/models", "the route appears twice"),
    ("gemini/gemini-x", "{url}/models", "the route appears twice"),
])
def test_base_url_mistakes_raise_not_found(server: FakeLLMServer, model: str, base: str, fragment: str) -> None:
    with LLMClient(model, base_url=base.format(url=server.url), api_key=KEY, max_retries=0) as client:
        with pytest.raises(NotFoundError, match=fragment):
            client.chat("hi")
        with pytest.raises(NotFoundError, match=fragment):
            client.chat_stream("hi").text()


@pytest.mark.parametrize("provider", ["openai", "groq", "openrouter", "anthropic", "gemini", "google", "vllm"])
def test_base_url_for_every_provider_is_served(server: FakeLLMServer, provider: str) -> None:
    server.add_reply("Hello")
    with LLMClient(f"{provider}/m", base_url=server.base_url_for(provider), api_key=KEY) as client:
        assert client.chat_stream("hi").text() == "Hello"


def test_responses_api_is_served(server: FakeLLMServer) -> None:
    server.add_reply("Hello")
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, api="responses") as client:
        assert client.chat("hi").content == "Hello"
