"""Error handling: typed errors, retries, the three timeouts, partial responses, bad input
refused before sending, and secrets kept out of reprs, logs and errors.

Runs against the local FakeLLMServer, which scripts each fault (no API key needed):

    python examples/error_handling.py
"""

from __future__ import annotations

import logging
import sys
import time

from llm_connectivity import LLMClient, RetryPolicy
from llm_connectivity.errors import (
    APIStatusError,
    AuthenticationError,
    ContentIdleTimeoutError,
    InvalidRequestError,
    LLMError,
    NetworkError,
    ProtocolError,
    RateLimitError,
    ReadTimeoutError,
    StreamInterruptedError,
    TotalTimeoutError,
)
from llm_connectivity.testing import FakeLLMServer, Reply, faults

FAST_RETRIES = RetryPolicy(max_retries=2, backoff_base=0.05)


def heading(title: str) -> None:
    print(f"\n== {title}")


def retried_rate_limit(server: FakeLLMServer) -> None:
    heading("429 with Retry-After: retried once, invisibly")
    server.add_replies([faults.status(429, headers={"Retry-After": "0.2"}), Reply(text="Recovered.")])
    client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-demo-0000000000",
                       max_retries=FAST_RETRIES)
    started = time.perf_counter()
    print(client.chat("Hi").content, f"({time.perf_counter() - started:.2f}s, server saw 2 requests)")


def not_retried(server: FakeLLMServer) -> None:
    heading("401 is never retried")
    server.add_reply(faults.status(401))
    client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-demo-0000000000")
    try:
        client.chat("Hi")
    except AuthenticationError as exc:
        print(f"{type(exc).__name__} status={exc.status_code} retryable={exc.is_retryable}: {exc}")


def rate_limit_too_long(server: FakeLLMServer) -> None:
    heading("Retry-After above the cap: raised at once, with retry_after set")
    server.add_reply(faults.status(429, headers={"Retry-After": "3600"}))
    client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-demo-0000000000")
    try:
        client.chat("Hi")
    except RateLimitError as exc:
        print(f"RateLimitError: come back in {exc.retry_after:.0f}s")


def partial_text_kept(server: FakeLLMServer) -> None:
    heading("connection dropped mid-stream: the text already received is kept")
    server.add_reply(faults.drop_after(4, text="The quick brown fox jumps over the lazy dog"))
    client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-demo-0000000000")
    try:
        for chunk in client.chat_stream("Tell me about foxes"):
            print(chunk.content, end="", flush=True)
    except StreamInterruptedError as exc:
        print(f"\n{type(exc).__name__}; partial_response.content = {exc.partial_response.content!r}")


def three_timeouts(server: FakeLLMServer) -> None:
    heading("the three timeouts (plus content-idle)")
    cases = [
        ("read_timeout", faults.stall_after(2), {"read_timeout": 0.3}, ReadTimeoutError),
        ("total_timeout", faults.drip(delay=0.05), {"total_timeout": 0.5}, TotalTimeoutError),
        ("content_idle_timeout", faults.keepalive_only(seconds=5, interval=0.05),
         {"content_idle_timeout": 0.4}, ContentIdleTimeoutError),
    ]
    for name, reply, timeout, expected in cases:
        server.add_reply(reply)
        client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-demo-0000000000",
                           timeout=timeout, max_retries=0)
        started = time.perf_counter()
        try:
            client.chat_stream("Hi").text()
        except expected as exc:
            print(f"{name}: {type(exc).__name__} after {time.perf_counter() - started:.2f}s: {exc}")


def not_a_stream(server: FakeLLMServer) -> None:
    heading("an HTML page where an event stream was expected")
    server.add_reply(faults.html_error_page(status=200))
    client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-demo-0000000000")
    try:
        client.chat_stream("Hi").text()
    except ProtocolError as exc:
        print(f"ProtocolError: {str(exc)[:120]}...")


def catch_all(server: FakeLLMServer) -> None:
    heading("one except clause for everything: LLMError")
    server.add_reply(faults.inband_error("overloaded_error", after_text="Half an answer"))
    client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-demo-0000000000")
    try:
        client.chat_stream("Hi").text()
    except NetworkError as exc:
        print("network trouble:", exc)
    except LLMError as exc:
        partial = exc.partial_response.content if exc.partial_response else ""
        print(f"{type(exc).__name__} (retryable={exc.is_retryable}), partial text {partial!r}")


def bad_input(server: FakeLLMServer) -> None:
    heading("bad input: refused before anything is sent")
    client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-demo-0000000000")
    sent_before = len(server.requests)
    for messages, params in [("Hi", {"temperature": float("inf")}),
                             ([{"role": "user", "content": [{"type": "image", "data": b"\x89PNG"}]}], {}),
                             ([{"role": "human", "content": "Hi"}], {})]:
        try:
            client.chat(messages, **params)
        except InvalidRequestError as exc:
            print(f"InvalidRequestError: {exc}")
    print("requests sent:", len(server.requests) - sent_before)


def secrets_stay_secret(server: FakeLLMServer) -> None:
    heading("secrets: a URL password and an echoed key never show")
    url = f"http://alice:s3cret-pass@127.0.0.1:{server.port}/v1"  # Basic auth for a keyless provider
    with LLMClient("vllm/my-model", base_url=url) as client:
        print(repr(client))
        client.chat("Hi")  # its INFO log line shows the URL with the password masked
    key = "sk-demo-echoed-0123456789"
    server.add_raw(f"<html>Moved. Your key was {key}</html>".encode(), status=302, content_type="text/html",
                   headers={"Location": "https://bob:hunter2@elsewhere.example/v1"}, framing="length")
    with LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key=key) as client:
        try:
            client.chat("Hi")
        except APIStatusError as exc:
            print(f"{type(exc).__name__}: {exc}")
            print("body:", exc.body)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="  log: %(message)s", stream=sys.stdout)
    with FakeLLMServer() as server:
        print(f"(streaming from the local FakeLLMServer at {server.base_url}; every fault is scripted)")
        retried_rate_limit(server)
        not_retried(server)
        rate_limit_too_long(server)
        partial_text_kept(server)
        three_timeouts(server)
        not_a_stream(server)
        catch_all(server)
        bad_input(server)
        secrets_stay_secret(server)


if __name__ == "__main__":
    main()
