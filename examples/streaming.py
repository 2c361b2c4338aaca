"""Streaming: every pattern of docs/tutorials/04-streaming.md, run in order.

With OPENAI_API_KEY set it talks to the real OpenAI API. Without it, it starts the
bundled FakeLLMServer on 127.0.0.1 and streams from it over real HTTP. The error-handling
part scripts a rate limit and a dropped connection, so it runs only against the local server.

    python examples/streaming.py
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

from llm_connectivity import LLMClient, NetworkError, RateLimitError
from llm_connectivity.testing import Action, FakeLLMServer, Reply

MODEL = "openai/gpt-4o-mini"
PROMPT = "In two sentences: why does streaming matter for chat UIs?"
# What the local server answers (word by word, 10 ms apart) when no reply is scripted.
LOCAL_ANSWER = ("Streaming shows the first words within milliseconds, so people start reading instead of "
                "watching a spinner. They can also stop a bad answer early.")


def heading(title: str) -> None:
    print(f"\n== {title} ==")


def print_tokens(client: LLMClient) -> None:
    heading("print tokens as they arrive")
    with client.chat_stream(PROMPT, max_tokens=100) as stream:
        for chunk in stream:
            print(chunk.content, end="", flush=True)
    print()


def aggregate(client: LLMClient) -> None:
    heading("aggregate the chunks yourself, or use stream.response")
    pieces = []
    with client.chat_stream(PROMPT, max_tokens=100) as stream:
        for chunk in stream:
            pieces.append(chunk.content)
    mine = "".join(pieces)
    response = stream.response
    print("joined by hand == stream.response.content:", mine == response.content)
    print(f"finish_reason={response.finish_reason} total_tokens={response.usage['total_tokens']}")


def progress_dots(client: LLMClient) -> None:
    heading("progress dots, then the whole answer")
    with client.chat_stream(PROMPT, max_tokens=100) as stream:
        for chunk in stream:
            if chunk.content:
                print(".", end="", flush=True)
    print()
    print(stream.response.content)


def count_tokens(client: LLMClient) -> None:
    heading("approximate token count while streaming")
    approx = 0
    with client.chat_stream(PROMPT, max_tokens=100) as stream:
        for chunk in stream:
            approx += chunk.token_count
    usage = stream.response.usage
    kind = "estimated" if usage.is_estimated else "reported by the provider"
    print(f"sum of chunk.token_count: {approx}; completion_tokens ({kind}): {usage['completion_tokens']}")


def _event(text: str) -> bytes:
    """One OpenAI Chat Completions stream event carrying ``text``."""
    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}
    return f"data: {json.dumps(chunk)}\n\n".encode()


def handle_errors(client: LLMClient, server: FakeLLMServer | None) -> None:
    heading("rate limits and network errors")
    if server is None:
        print("(skipped: the faults are scripted on the local server; unset OPENAI_API_KEY to run it)")
        return

    # 1. The server answers 429 Too Many Requests; with max_retries=0 it is raised at once.
    error_body = json.dumps({"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}).encode()
    server.add_reply(Reply(status=429, headers={"Retry-After": "0"}, body=error_body,
                           content_type="application/json"))
    try:
        with client.chat_stream(PROMPT, max_retries=0) as stream:
            for chunk in stream:
                print(chunk.content, end="", flush=True)
    except RateLimitError as exc:
        print(f"RateLimitError: {exc} (retry_after={exc.retry_after}, partial_response={exc.partial_response})")

    # 2. The connection drops after two pieces of text.
    server.add_reply(Reply(actions=[Action("send", _event("Streaming lets")), Action("send", _event(" users read")),
                                    Action("close")],
                           headers={"Content-Type": "text/event-stream"}))
    try:
        with client.chat_stream(PROMPT) as stream:
            for chunk in stream:
                print(chunk.content, end="", flush=True)
    except NetworkError as exc:
        print(f"\n{type(exc).__name__}: {exc}")
        print(f"text received before the error: {exc.partial_response.content!r}")


def early_break(client: LLMClient) -> None:
    heading("stop early with break")
    with client.chat_stream(PROMPT, max_tokens=100) as stream:
        for chunk in stream:
            print(chunk.content, end="", flush=True)
            if chunk.index >= 5:
                break
    print(f"\nis_complete={stream.is_complete}; kept so far: {stream.response.content!r}")


def _slow_json_reply(text: str, seconds: float) -> Reply:
    """A non-streamed answer that arrives after ``seconds``, as a real server's would.

    FakeLLMServer sends non-streamed bodies at once; a real server can only send one when the
    whole answer has been generated, so this reply waits as long as the streamed one takes.
    """
    body = {"object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
    return Reply(actions=[Action("sleep", seconds=seconds), Action("send", json.dumps(body).encode())],
                 headers={"Content-Type": "application/json"})


def time_to_first_output(client: LLMClient, server: FakeLLMServer | None) -> None:
    heading("time to first output: chat() vs chat_stream()")
    delay = 0.02
    if server is not None:
        events = len(LOCAL_ANSWER.split()) + 4  # role, one per word, finish, usage, [DONE]
        server.add_reply(_slow_json_reply(LOCAL_ANSWER, delay * events))
        server.add_reply(Reply(LOCAL_ANSWER, delay=delay))

    start = time.perf_counter()
    client.chat(PROMPT, max_tokens=100)
    chat_seconds = time.perf_counter() - start

    start = time.perf_counter()
    first = None
    with client.chat_stream(PROMPT, max_tokens=100) as stream:
        for chunk in stream:
            if first is None and chunk.content:
                first = time.perf_counter() - start
    stream_seconds = time.perf_counter() - start

    print(f"chat():        first text after {chat_seconds * 1000:6.0f} ms (the whole answer at once)")
    print(f"chat_stream(): first text after {(first or 0) * 1000:6.0f} ms, last after {stream_seconds * 1000:.0f} ms")


def plain_strings(client: LLMClient) -> None:
    heading("stream() for plain strings")
    for text in client.stream(PROMPT, max_tokens=100):
        print(text, end="", flush=True)
    print()


def final_chunk(client: LLMClient) -> None:
    heading("the final is_complete chunk")
    with client.chat_stream(PROMPT, max_tokens=100) as stream:
        for chunk in stream:
            if chunk.is_complete:
                print(f"index={chunk.index} content={chunk.content!r} finish_reason={stream.response.finish_reason} "
                      f"total_tokens={chunk.usage['total_tokens'] if chunk.usage else None}")
    print("stream.is_complete:", stream.is_complete)


def main() -> int:
    with contextlib.ExitStack() as stack:
        server: FakeLLMServer | None = None
        if os.environ.get("OPENAI_API_KEY"):
            client = LLMClient(model=MODEL)
        else:
            server = stack.enter_context(FakeLLMServer(default_reply=Reply(LOCAL_ANSWER, delay=0.01)))
            print(f"(no OPENAI_API_KEY: streaming from the local FakeLLMServer at {server.base_url})")
            client = LLMClient(model=MODEL, base_url=server.base_url, api_key="sk-local-demo")
        stack.enter_context(client)

        print_tokens(client)
        aggregate(client)
        progress_dots(client)
        count_tokens(client)
        handle_errors(client, server)
        early_break(client)
        time_to_first_output(client, server)
        plain_strings(client)
        final_chunk(client)
    return 0


if __name__ == "__main__":
    sys.exit(main())
