"""Basic usage: every pattern of docs/tutorials/01-basic-usage.md, run in order.

With OPENAI_API_KEY set it talks to the real OpenAI API. Without it, it starts the
bundled FakeLLMServer on 127.0.0.1 and sends every request there over real HTTP.

    python examples/basic_usage.py
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from llm_connectivity import LLMClient, MissingAPIKeyError
from llm_connectivity.errors import InvalidRequestError, NotFoundError
from llm_connectivity.testing import FakeLLMServer, Reply

MODEL = "openai/gpt-4o-mini"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def heading(title: str) -> None:
    print(f"\n== {title} ==")


def short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_question(client: LLMClient) -> None:
    heading("chat() and the ChatResponse")
    response = client.chat("In one sentence, what is an API key?", max_tokens=60)
    print("content:      ", response.content)
    print("finish_reason:", response.finish_reason, f"(raw: {response.raw_finish_reason!r})")
    print("model:        ", response.model, "provider:", response.provider)
    print("usage:        ", dict(response.usage))


def as_json(client: LLMClient, server: FakeLLMServer | None) -> None:
    heading("to_dict(): a response as plain JSON")
    if server is not None:
        server.add_reply("Hello!")
    record = client.chat("Say hello.", max_tokens=20).to_dict(include_raw=False)
    print(json.dumps(record))


def conversation(client: LLMClient) -> None:
    heading("messages as a list, with a system prompt")
    messages = [
        {"role": "system", "content": "You answer in exactly three words."},
        {"role": "user", "content": "Describe the sea."},
    ]
    print(client.chat(messages, max_tokens=20).content)


def parameters(client: LLMClient, server: FakeLLMServer | None) -> None:
    heading("parameters (and extra ones passed through)")
    response = client.chat("Name a colour.", max_tokens=20, temperature=0.2, stop=["\n"], seed=7)
    print(response.content)
    if server is not None:
        sent = server.requests[-1].json
        print("request body sent:", {k: v for k, v in sent.items() if k not in ("model", "messages")})


def not_json(client: LLMClient) -> None:
    heading("values JSON cannot carry are refused before sending")
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": {"city"}}
    bad_calls = [
        {"temperature": float("nan")},
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}]},
    ]
    for params in bad_calls:
        try:
            client.chat("Hi", **params)
        except InvalidRequestError as exc:
            print(f"InvalidRequestError: {exc}")


def tools(client: LLMClient, server: FakeLLMServer | None) -> None:
    heading("tools")
    if server is not None:  # script what a real model would answer
        server.add_reply(Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]))
    response = client.chat("What's the weather in Paris?", tools=[WEATHER_TOOL], max_tokens=100)
    print("finish_reason:", response.finish_reason)
    for call in response.tool_calls:
        print(f"tool call {call.id}: {call.name}({call.arguments})")
    if not response.tool_calls:
        print("no tool call; the answer:", short(response.content))


def per_call_overrides(client: LLMClient, server: FakeLLMServer | None) -> None:
    heading("per-call overrides")
    response = client.chat("Say hi.", model="openai/gpt-4o", timeout=30, max_retries=0, max_tokens=10)
    print("answered by:", response.model)
    if server is not None:
        print("model sent:", server.requests[-1].json["model"])


def usage(client: LLMClient, server: FakeLLMServer | None) -> None:
    heading("usage")
    response = client.chat("Say hello.", max_tokens=20)
    print("total_tokens:", response.usage["total_tokens"], "| estimated:", response.usage.is_estimated)
    print("prompt/completion:", response.usage.prompt_tokens, "/", response.usage.completion_tokens)
    if server is not None:  # a server that reports no usage: estimated and flagged
        server.add_reply("Hello there, how are you today?", usage=False)
        print("no usage reported:", dict(client.chat("Say hello.").usage))
    stream = client.chat_stream("Say hello.", max_tokens=20)
    for chunk in stream:
        if chunk.finish_reason:
            print("finished:", chunk.finish_reason)
        if chunk.is_complete:
            print("last chunk usage:", chunk.usage["total_tokens"] if chunk.usage else None)
    print("stream.response:", stream.response.finish_reason, stream.response.usage["total_tokens"])


def error_status(server: FakeLLMServer | None) -> None:
    heading("an error status: the typed error and its body")
    if server is None:
        print("(skipped: needs the local server to script the error)")
        return
    body = b'{"error": {"message": "bad model", "type": "invalid_request_error", "code": "model_not_found"}}'
    server.add_raw(body, status=404, content_type="application/json", framing="length")
    with LLMClient(MODEL, base_url=server.base_url, api_key="sk-local-demo") as client:
        try:
            client.chat("Hi")
        except NotFoundError as exc:
            print(f"{type(exc).__name__} {exc.status_code}: {exc}")
            print("body:", exc.body, "| error_type:", exc.error_type)


def many_threads(client: LLMClient) -> None:
    heading("one client, many threads")
    questions = [f"Give one word that rhymes with {w}." for w in ("cat", "tree", "light", "stone")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda q: client.chat(q, max_tokens=10).content, questions))
    for question, answer in zip(questions, answers):
        print(f"{question} -> {short(answer)}")


def own_session(connection: dict[str, Any], server: FakeLLMServer | None) -> None:
    heading("your own requests.Session")
    with requests.Session() as session:
        session.headers["User-Agent"] = "my-app/1.0"
        with LLMClient(MODEL, session=session, **connection) as client:
            print(short(client.chat("Say hi.", max_tokens=10).content))
        if server is not None:
            print("User-Agent the server saw:", server.requests[-1].headers["user-agent"])


def missing_key() -> None:
    heading("missing API key")
    if os.environ.get("OPENAI_API_KEY"):
        print("(skipped: OPENAI_API_KEY is set)")
        return
    try:
        LLMClient(MODEL)
    except MissingAPIKeyError as exc:
        print(f"MissingAPIKeyError: {exc}")
        print("env_var:", exc.env_var)


def offline_test() -> None:
    heading("testing your own code offline")

    def summarize(client: LLMClient, text: str) -> str:  # the code under test
        return client.chat([{"role": "system", "content": "Summarize."}, {"role": "user", "content": text}]).content

    with FakeLLMServer() as fake:
        fake.add_reply("A short summary.")
        client = LLMClient(MODEL, base_url=fake.base_url, api_key="test")
        assert summarize(client, "A long text...") == "A short summary."
        sent = fake.requests[0].json
        assert sent["messages"][0] == {"role": "system", "content": "Summarize."}
        print("summarize() returned the scripted answer and sent the system prompt: OK")


def main() -> int:
    with contextlib.ExitStack() as stack:
        server: FakeLLMServer | None = None
        connection: dict[str, Any] = {}
        if not os.environ.get("OPENAI_API_KEY"):
            server = stack.enter_context(FakeLLMServer())
            print(f"(no OPENAI_API_KEY: using the local FakeLLMServer at {server.base_url})")
            connection = {"base_url": server.base_url, "api_key": "sk-local-demo"}
        client = stack.enter_context(LLMClient(MODEL, **connection))

        one_question(client)
        as_json(client, server)
        conversation(client)
        parameters(client, server)
        not_json(client)
        tools(client, server)
        per_call_overrides(client, server)
        usage(client, server)
        error_status(server)
        many_threads(client)
        own_session(connection, server)
        missing_key()
        offline_test()
    return 0


if __name__ == "__main__":
    sys.exit(main())
