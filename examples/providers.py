"""One prompt, four wire formats: OpenAI Chat Completions, Anthropic Messages, Gemini and
OpenAI Responses, plus an OpenAI-compatible server (Ollama), all against one local
FakeLLMServer, so it runs offline and needs no API key. Then a tool call and a reply
with reasoning ("thinking"), to show ``tool_calls`` and ``reasoning``; a gateway that wants a
query string on every URL (``?api-version=...``); and a server that ignores ``stream: true``
and answers one JSON completion, which still streams (as one chunk).

    python examples/providers.py

Against real providers, drop ``base_url``/``api_key`` and set the key variables listed in
docs/providers.md (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY...).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from llm_connectivity import ChatResponse, LLMClient
from llm_connectivity.testing import FakeLLMServer, Reply

PROMPT = "Name one primary colour, in one sentence."

# (model, api): the same call through every wire format the library speaks.
RUNS = [
    ("openai/gpt-4o-mini", None),  # POST /v1/chat/completions
    ("anthropic/claude-sonnet-4-5", None),  # POST /v1/messages (base_url is the root URL)
    ("gemini/gemini-2.5-flash", None),  # POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse
    ("openai/gpt-4.1-mini", "responses"),  # POST /v1/responses (the Responses API)
    ("ollama/llama3.2", None),  # an OpenAI-compatible server; Ollama needs no key
]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def client_for(server: FakeLLMServer, model: str, api: str | None = None) -> LLMClient:
    """A client pointed at the local server: the root URL for Anthropic/Gemini, /v1 for the rest."""
    provider = model.split("/", 1)[0]
    key = None if provider == "ollama" else "local-demo-key"  # never send a real key to the fake server
    return LLMClient(model, base_url=server.base_url_for(provider), api_key=key, api=api)


def stream_once(client: LLMClient, prompt: str, **params: Any) -> ChatResponse:
    """Stream one answer to the terminal; return the aggregated response."""
    with client.chat_stream(prompt, max_tokens=100, **params) as stream:
        for chunk in stream:
            print(chunk.content, end="", flush=True)
    print()
    return stream.response


def describe(response: ChatResponse) -> str:
    usage = response.usage
    estimated = " (estimated)" if usage.is_estimated else ""
    return (f"  finish_reason={response.finish_reason}  usage: prompt={usage.prompt_tokens} "
            f"completion={usage.completion_tokens} total={usage.total_tokens}{estimated}")


def main() -> int:
    with FakeLLMServer() as server:
        for model, api in RUNS:
            server.add_reply("Red is a primary colour.")
            print(f"== {model}" + (f" (api={api!r})" if api else ""))
            with client_for(server, model, api) as client:
                response = stream_once(client, PROMPT)
            print(f"  provider={response.provider}  path={server.requests[-1].path}")
            print(describe(response))
            assert response.content == "Red is a primary colour.", response.content

        # A tool call: OpenAI-style `tools` are translated for Anthropic; the answer's calls
        # arrive as ToolCallDelta pieces and are assembled in `response.tool_calls`.
        server.add_reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
        print("== anthropic/claude-sonnet-4-5 with tools")
        with client_for(server, "anthropic/claude-sonnet-4-5") as client:
            response = stream_once(client, "What's the weather in Paris?", tools=[WEATHER_TOOL])
        for call in response.tool_calls:
            print(f"  tool call: {call.name}({call.arguments})  id={call.id}")
        print(describe(response))
        assert response.finish_reason == "tool_calls" and response.tool_calls[0].name == "get_weather"

        # Reasoning: Gemini "thought" parts (Anthropic thinking, reasoning_content...) become
        # `chunk.reasoning` / `response.reasoning`, never `content`.
        server.add_reply("2 + 2 = 4.", reasoning="Two plus two: count two more after two.")
        print("== gemini/gemini-2.5-flash with reasoning")
        with client_for(server, "gemini/gemini-2.5-flash") as client:
            response = stream_once(client, "What is 2 + 2?",
                                   generationConfig={"thinkingConfig": {"includeThoughts": True}})
        print(f"  reasoning: {response.reasoning!r}")
        print(describe(response))
        assert response.reasoning and response.content == "2 + 2 = 4."

        # A gateway (Azure OpenAI style) that wants ?api-version=... on every request: the
        # query string of base_url stays at the end of every URL the driver builds.
        server.add_reply("Green is a secondary colour.")
        print("== openai/gpt-4o-mini behind a gateway with ?api-version=2024-10-21")
        gateway = LLMClient("openai/gpt-4o-mini", base_url=server.base_url + "?api-version=2024-10-21",
                            api_key="local-demo-key")
        with gateway:
            stream_once(gateway, PROMPT)
        print(f"  path={server.requests[-1].path}")
        assert server.requests[-1].path == "/v1/chat/completions?api-version=2024-10-21"

        # A server that ignores stream: true and answers one JSON completion: the driver's
        # non-streaming parser turns it into a one-chunk stream instead of an error.
        completion = {"object": "chat.completion", "model": "legacy-model", "choices": [{
            "index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Blue."}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}
        server.add_reply(Reply(body=json.dumps(completion).encode(), content_type="application/json"))
        print("== a server that ignored stream: true")
        with client_for(server, "openai-compatible/legacy-model") as client:
            response = stream_once(client, PROMPT)
        print(describe(response))
        assert response.content == "Blue." and response.usage.total_tokens == 11
    return 0


if __name__ == "__main__":
    sys.exit(main())
