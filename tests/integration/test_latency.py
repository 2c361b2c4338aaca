"""Nothing is held back: each event reaches the caller as soon as its bytes arrive.

The server sends an event, then holds the rest of the stream for HOLD seconds; the caller
must see that event long before the hold ends, on chunked, connection-close and
Content-Length bodies, through our own Session and through a caller's.
Bounds are generous (the precise figures are measured in benchmarks/).
"""

from __future__ import annotations

import json
import time

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.testing import Action, FakeLLMServer, Reply

HOLD = 1.5
BOUND = 0.5  # far below HOLD, far above a loopback round trip


def _event(content: str | None = None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "m",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


@pytest.fixture(params=["own session", "user session"])
def client_and_server(request: pytest.FixtureRequest):
    """Our own Session (the direct path) and a caller's requests.Session (requests' adapter)."""
    session = None
    if request.param == "user session":
        import requests

        session = requests.Session()
    with FakeLLMServer() as server:
        with LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test-latency-0000",
                       session=session) as client:
            yield client, server
    if session is not None:
        session.close()


@pytest.mark.parametrize("framing", ["chunked", "close", "length"])
def test_first_chunk_is_not_held_back(client_and_server, framing: str) -> None:
    client, server = client_and_server
    server.add_reply(Reply(framing=framing, headers={"Content-Type": "text/event-stream"}, actions=[
        Action("send", _event("Hello")),
        Action("sleep", seconds=HOLD),
        Action("send", _event(" world", "stop") + b"data: [DONE]\n\n"),
    ]))
    started = time.perf_counter()
    with client.chat_stream("hi") as stream:
        first = next(c for c in stream if c.content)
        first_at = time.perf_counter() - started
        rest = "".join(c.content for c in stream)
    assert first.content == "Hello"
    assert first_at < BOUND, f"first chunk took {first_at:.3f}s with the server holding the rest"
    assert rest == " world"


@pytest.mark.parametrize("framing", ["chunked", "close", "length"])
def test_last_event_is_not_held_until_the_body_ends(client_and_server, framing: str) -> None:
    """The terminal event completes the stream before the server ends the body."""
    client, server = client_and_server
    server.add_reply(Reply(framing=framing, headers={"Content-Type": "text/event-stream"}, actions=[
        Action("send", _event("Hi", "stop") + b"data: [DONE]\n\n"),
        Action("sleep", seconds=HOLD),
    ]))
    started = time.perf_counter()
    with client.chat_stream("hi") as stream:
        final = next(c for c in stream if c.is_complete)
        done_at = time.perf_counter() - started
    assert final.is_complete and stream.response.finish_reason == "stop"
    assert done_at < BOUND, f"the terminal event took {done_at:.3f}s to arrive"


def test_small_event_split_across_writes_is_delivered_when_complete(client_and_server) -> None:
    client, server = client_and_server
    event = _event("tiny")
    server.add_reply(Reply(headers={"Content-Type": "text/event-stream"}, actions=[
        Action("send", event[:7]),
        Action("sleep", seconds=0.05),
        Action("send", event[7:]),
        Action("sleep", seconds=HOLD),
        Action("send", _event(None, "stop") + b"data: [DONE]\n\n"),
    ]))
    started = time.perf_counter()
    with client.chat_stream("hi") as stream:
        first = next(c for c in stream if c.content)
        elapsed = time.perf_counter() - started
        list(stream)
    assert first.content == "tiny"
    assert elapsed < BOUND + 0.05
