"""One prompt, four wire formats: OpenAI Chat Completions, Anthropic Messages, Gemini and
OpenAI Responses, plus an OpenAI-compatible server (Ollama), all against one local
FakeLLMServer, so it runs offline and needs no API key. Then a tool call and a reply
with reasoning ("thinking"), to show ``tool_calls`` and ``reasoning``.

    python examples/providers.py

Against real providers, drop ``base_url``/``api_key`` and set the key variables listed in
docs/providers.md (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY...).
"""

from __future__ import annotations

import sys
from typing import Any

from llm_connectivity import ChatResponse, LLMClient
from llm_connectivity.testing import FakeLLMServer

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
