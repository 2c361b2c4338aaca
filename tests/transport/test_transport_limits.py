"""Every limit reaches the socket on every body framing: keep-alive chunked, chunked with
``Connection: close`` (http.client hands the socket to the response), close-delimited,
an HTTP/1.0 answer (close-delimited, no Connection header) and a Content-Length body (the
declared length is far more than the server sends before it stalls).

One table: limit x framing. Each case bounds the time from the start of the call with a
generous margin over the limit (the machine is shared), and a floor where the limit must
not fire early.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from llm_connectivity import LLMClient
from llm_connectivity.errors import (
    ContentIdleTimeoutError,
    LLMError,
    ReadTimeoutError,
    StreamInterruptedError,
    TotalTimeoutError,
)
from llm_connectivity.testing import Action, FakeLLMServer, Reply, faults

WATCHDOG_SECONDS = 30.0
FRAMINGS = {
    "keep-alive chunked": ("chunked", {}),
    "Connection: close chunked": ("chunked", {"Connection": "close"}),
    "close-delimited": ("close", {}),
    "HTTP/1.0": ("none", {}),  # the status line and headers are written raw (below)
    "Content-Length": ("length", {"Content-Length": "1000000"}),
}
HTTP10_HEAD = Action("raw", b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
HOLD = 6.0  # how long the server stalls: far past every limit below


def _events(text: str, finish: bool) -> list[Action]:
    return [Action("send", e) for e in faults.chat_events(text, finish=finish)]


# name -> (server actions, timeout options, expected error or None for a complete answer, min s, max s)
LIMITS: dict[str, tuple[list[Action], dict[str, float], type[LLMError] | None, float, float]] = {
    "read_timeout": (_events("Hello there", False)[:2] + [Action("sleep", seconds=HOLD)],
                     {"read_timeout": 0.4}, ReadTimeoutError, 0.35, 2.0),
    "total_timeout": ([a for e in _events("one two three four five six seven eight nine ten " * 4, False)
                       for a in (e, Action("sleep", seconds=0.05))],
                      {"read_timeout": 5.0, "total_timeout": 0.6}, TotalTimeoutError, 0.55, 2.2),
    # The stall comes after a while of activity: the socket timeout set when the request was
    # sent (already capped by these limits) has gone stale, so each read must set it anew.
    "total_timeout, stall after activity": (
        [a for e in _events("word " * 30, False) for a in (e, Action("sleep", seconds=0.05))][:56]
        + [Action("sleep", seconds=HOLD)],
        {"read_timeout": 5.0, "total_timeout": 2.0}, TotalTimeoutError, 1.95, 2.9),
    "content_idle_timeout, stall after keep-alives": (
        _events("Hi", False)[:1] + [Action("send", b": ping\n\n"), Action("sleep", seconds=0.1)] * 10
        + [Action("sleep", seconds=HOLD)],
        {"read_timeout": 5.0, "content_idle_timeout": 1.5}, ContentIdleTimeoutError, 1.45, 2.2),
    "content_idle_timeout": (_events("Hi", False)[:1] + [Action("send", b": ping\n\n"), Action("sleep", seconds=0.05)] * 60,
                             {"read_timeout": 5.0, "content_idle_timeout": 0.5}, ContentIdleTimeoutError, 0.45, 2.2),
    "drain after [DONE]": (_events("Hello", True) + [Action("sleep", seconds=HOLD)],
                           {"read_timeout": 5.0}, None, 0.0, 1.0),
}


@pytest.fixture(scope="module")
def server() -> Any:
    with FakeLLMServer() as srv:
        yield srv


@pytest.mark.parametrize("framing", list(FRAMINGS))
@pytest.mark.parametrize("limit", list(LIMITS))
def test_every_limit_on_every_framing(server: FakeLLMServer, limit: str, framing: str) -> None:
    actions, timeout, error, low, high = LIMITS[limit]
    body_framing, headers = FRAMINGS[framing]
    if body_framing == "none":
        actions = [HTTP10_HEAD, *actions]
    server.add_reply(Reply(actions=actions, framing=body_framing,
                           headers={"Content-Type": "text/event-stream", **headers}))
    with LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test-limits-0000",
                   max_retries=0, timeout=timeout) as client:
        started = time.monotonic()
        if error is None:
            with client.chat_stream("hi") as stream:
                text = stream.text()
            assert text == "Hello"
        else:
            with pytest.raises(error):
                with client.chat_stream("hi") as stream:
                    stream.text()
        elapsed = time.monotonic() - started
    assert low <= elapsed < high, f"{limit} on {framing}: {elapsed:.2f}s"


SESSIONS = ["own session", "user session"]


def _close_from_another_thread(server: FakeLLMServer, session_kind: str,
                               ready: Callable[[threading.Event], bool]) -> tuple[list[BaseException], float]:
    """Consume a stream in a thread; once ``ready(first_chunk_seen)`` and a moment more (the
    reader then blocks in a read), close it from this thread. Returns what the reader
    raised and how long the close took to unblock it."""
    session = requests.Session() if session_kind == "user session" else None
    outcome: list[BaseException] = []
    first = threading.Event()
    with LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test-limits-0000",
                   max_retries=0, timeout=10.0, session=session) as client:
        stream = client.chat_stream("hi")

        def consume() -> None:
            try:
                for _ in stream:
                    first.set()
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                outcome.append(exc)
            first.set()

        reader = threading.Thread(target=consume)
        reader.start()
        assert ready(first)
        time.sleep(0.1)  # let the reader block in the next socket read (the case under test)
        closed_at = time.monotonic()
        stream.close()
        reader.join(5)
        unblocked = time.monotonic() - closed_at
        assert not reader.is_alive()
    if session is not None:
        session.close()
    return outcome, unblocked


@pytest.mark.parametrize("session_kind", SESSIONS)
@pytest.mark.parametrize("framing", list(FRAMINGS))
def test_close_from_another_thread_unblocks_the_read_on_every_framing(server: FakeLLMServer, framing: str,
                                                                      session_kind: str) -> None:
    body_framing, headers = FRAMINGS[framing]
    actions = _events("Hello there", False)[:1] + [Action("sleep", seconds=HOLD)]
    server.add_reply(Reply(actions=[HTTP10_HEAD, *actions] if body_framing == "none" else actions,
                           framing=body_framing, headers={"Content-Type": "text/event-stream", **headers}))
    outcome, unblocked = _close_from_another_thread(server, session_kind, lambda first: first.wait(5))
    assert len(outcome) == 1 and isinstance(outcome[0], StreamInterruptedError)
    assert "closed by the caller" in str(outcome[0])
    assert unblocked < 1.0


# -- before the headers: cancel and the total deadline reach a caller's Session's socket too ---------
@pytest.mark.parametrize("session_kind", SESSIONS)
def test_close_from_another_thread_unblocks_the_wait_for_headers(server: FakeLLMServer, session_kind: str) -> None:
    server.add_reply(Reply(framing="none", actions=[Action("sleep", seconds=HOLD)]))  # no status line yet
    seen = len(server.requests)

    def on_the_wire(first: threading.Event) -> bool:
        deadline = time.monotonic() + 5
        while len(server.requests) == seen and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(server.requests) > seen and not first.is_set()

    outcome, unblocked = _close_from_another_thread(server, session_kind, on_the_wire)
    assert len(outcome) == 1 and isinstance(outcome[0], StreamInterruptedError)
    assert unblocked < 1.0


@pytest.mark.parametrize("session_kind", SESSIONS)
def test_total_timeout_bounds_header_trickle(server: FakeLLMServer, session_kind: str) -> None:
    drip = [a for i in range(60) for a in (Action("raw", f"X-Slow-{i}: x\r\n".encode()), Action("sleep", seconds=0.1))]
    server.add_reply(Reply(framing="none", actions=[Action("raw", b"HTTP/1.1 200 OK\r\n"), *drip]))
    session = requests.Session() if session_kind == "user session" else None
    with LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test-limits-0000", max_retries=0,
                   timeout={"read_timeout": 1.0, "total_timeout": 0.5}, session=session) as client:
        started = time.monotonic()
        with pytest.raises(TotalTimeoutError):
            client.chat_stream("hi").text()
        elapsed = time.monotonic() - started
    if session is not None:
        session.close()
    assert elapsed < 1.5  # not the 6 s the server would take
