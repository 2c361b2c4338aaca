"""No leaked sockets: failing, abandoned and completed streams all give their connection back.

Open sockets are counted from ``/proc/self/fd`` (Linux). FakeLLMServer runs in this process,
so its listening socket and its side of each connection are counted too; the final count,
after the client is closed and the server stopped, must equal the baseline exactly.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.errors import LLMError
from llm_connectivity.testing import Action, FakeLLMServer, Reply, faults

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd (Linux)")

WATCHDOG_SECONDS = 30.0
LONG_TEXT = " ".join(f"word{i}" for i in range(400))


def socket_fds() -> int:
    """How many of this process's file descriptors are sockets."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
        except OSError:  # closed between listdir and readlink
            pass
    return count


def wait_for_sockets(expected: int, within: float) -> int:
    """Poll until at most ``expected`` sockets are open (or ``within`` s passed); return the count."""
    deadline = time.monotonic() + within
    while True:
        gc.collect()
        count = socket_fds()
        if count <= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.02)


def _client(server: FakeLLMServer, **options: Any) -> LLMClient:
    options.setdefault("max_retries", 0)
    return LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test-resources-0000", **options)


def _long() -> Reply:
    return Reply(text=LONG_TEXT)


def _slow_stall() -> Reply:
    events = faults.chat_events("Hello there friend", finish=False)[:2]
    return Reply(actions=[Action("send", e) for e in events] + [Action("sleep", seconds=0.3)],
                 headers=dict(faults.SSE_HEADERS))


# Each scenario queues what the server answers, uses one stream in one (bad) way, and
# returns the objects a caller might keep (streams, errors with their tracebacks): keeping
# them must not keep a socket open, so the library must close explicitly, not rely on GC.
Scenario = Callable[[LLMClient, FakeLLMServer], list[object]]


def _break_without_close(client: LLMClient, server: FakeLLMServer) -> list[object]:
    server.add_reply(_long())
    stream = client.chat_stream("hi")
    for _ in stream:
        break  # abandoned: never closed, dropped when `stream` goes away
    return []


def _break_then_close(client: LLMClient, server: FakeLLMServer) -> list[object]:
    server.add_reply(_long())
    stream = client.chat_stream("hi")
    next(stream)
    stream.close()
    return [stream]


def _del_and_collect(client: LLMClient, server: FakeLLMServer) -> list[object]:
    server.add_reply(_long())
    stream = client.chat_stream("hi")
    next(stream)
    next(stream)
    del stream
    gc.collect()
    return []


def _with_block_exit(client: LLMClient, server: FakeLLMServer) -> list[object]:
    server.add_reply(_long())
    with client.chat_stream("hi") as stream:
        next(stream)
    return [stream]


def _never_started(client: LLMClient, server: FakeLLMServer) -> list[object]:
    stream = client.chat_stream("hi")  # nothing is sent until the first next()
    stream.close()
    return [stream]


def _expect_error(reply: Reply, **call: Any) -> Scenario:
    def scenario(client: LLMClient, server: FakeLLMServer) -> list[object]:
        server.add_reply(reply)
        stream = client.chat_stream("hi", **call)
        with pytest.raises(LLMError) as info:
            for _ in stream:
                pass
        return [stream, info.value]
    return scenario


def _complete(client: LLMClient, server: FakeLLMServer) -> list[object]:
    server.add_reply("A complete short answer")
    stream = client.chat_stream("hi")
    assert stream.text() == "A complete short answer"
    return [stream]


def _chat_error(client: LLMClient, server: FakeLLMServer) -> list[object]:
    server.add_reply(faults.status(503))
    with pytest.raises(LLMError) as info:
        client.chat("hi")
    return [info.value]


SCENARIOS: list[Scenario] = [
    _break_without_close,
    _break_then_close,
    _del_and_collect,
    _with_block_exit,
    _never_started,
    _expect_error(faults.drop_after(3)),
    _expect_error(faults.broken_chunked_framing()),
    _expect_error(faults.malformed_json()),
    _expect_error(faults.inband_error(after_text="Some text")),
    _expect_error(faults.status(500)),
    _expect_error(faults.status(401)),
    _expect_error(faults.status(429, {"Retry-After": "600"})),
    _expect_error(faults.html_error_page(200)),
    _expect_error(_slow_stall(), timeout=0.05),
    _complete,
    _chat_error,
]


def test_no_socket_leaks_after_hundreds_of_failing_and_abandoned_streams() -> None:
    gc.collect()
    baseline = socket_fds()
    rounds = 15  # 16 scenarios x 15 = 240 streams
    with FakeLLMServer() as server:
        client = _client(server)
        peak = 0
        kept: list[object] = []
        for _ in range(rounds):
            for scenario in SCENARIOS:
                kept += scenario(client, server)
            peak = max(peak, socket_fds())
        assert server.pending() == 0
        assert len(kept) > 150
        # While every stream and error is still referenced: the listener, one idle pooled
        # connection (both ends) and a couple of server ends still closing (the stall
        # scenario's server sleeps 0.3 s after the client gave up). No growth with the count.
        print(f"socket fds: baseline {baseline}, peak {peak}")
        assert peak <= baseline + 1 + 2 + 5, f"socket count grew to {peak} (baseline {baseline})"
        client.close()
        del kept  # see test_client_close_closes_pooled_connections_while_an_error_is_kept
        left = wait_for_sockets(baseline + 1, within=2.0)
        assert left == baseline + 1, f"{left - baseline - 1} sockets still open after client.close()"
    assert wait_for_sockets(baseline, within=2.0) == baseline


@pytest.mark.parametrize("how", ["close", "del", "with"])
def test_server_sees_the_connection_closed_soon_after_an_early_exit(how: str) -> None:
    with FakeLLMServer() as server:
        server.add_reply(Reply(text=LONG_TEXT, delay=0.02))  # 8 s of events if nobody stops it
        client = _client(server)
        gc.collect()
        idle = socket_fds()
        if how == "with":
            with client.chat_stream("hi") as stream:
                next(stream)
                next(stream)
                assert socket_fds() == idle + 2  # the client's end and the server's end
                started = time.monotonic()
        else:
            stream = client.chat_stream("hi")
            next(stream)
            next(stream)
            assert socket_fds() == idle + 2
            started = time.monotonic()
            if how == "close":
                stream.close()
            else:
                del stream
        left = wait_for_sockets(idle, within=1.0)
        elapsed = time.monotonic() - started
        assert left == idle, "the server's side of the abandoned stream is still open after 1 s"
        assert elapsed < 1.0
        client.close()


def test_completed_streams_reuse_one_pooled_connection() -> None:
    with FakeLLMServer() as server:
        client = _client(server)
        gc.collect()
        idle = socket_fds()
        for i in range(30):
            assert client.chat_stream(f"prompt {i}").text().startswith("Hello from FakeLLMServer")
            assert client.chat(f"prompt {i}").content.startswith("Hello from FakeLLMServer")
        assert socket_fds() <= idle + 2  # one kept-alive connection, both ends
        client.close()
        assert wait_for_sockets(idle, within=2.0) == idle


def test_client_close_closes_pooled_connections_while_an_error_is_kept() -> None:
    with FakeLLMServer() as server:
        client = _client(server)
        gc.collect()
        idle = socket_fds()
        server.add_reply(faults.status(500))
        with pytest.raises(LLMError) as info:
            client.chat("hi")  # the error body is read in full: the connection goes back to the pool
        kept = info.value
        client.close()
        assert wait_for_sockets(idle, within=1.0) == idle, "the pooled connection is still open"
        del kept
