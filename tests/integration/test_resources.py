"""No leaked sockets: failing, abandoned and completed streams all give their connection back.

Open sockets are counted from ``/proc/self/fd`` (Linux). FakeLLMServer runs in this process,
so its listening socket and its side of each connection are counted too; the final count,
after the client is closed and the server stopped, must equal the baseline exactly.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from socket_support import socket_fds, wait_for_sockets

from llm_connectivity import LLMClient
from llm_connectivity.errors import LLMError
from llm_connectivity.testing import Action, FakeLLMServer, Reply, faults

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd (Linux)")

WATCHDOG_SECONDS = 60.0
LONG_TEXT = " ".join(f"word{i}" for i in range(400))


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


# -- acceptance load: thousands of abandoned and failed streams leave nothing behind ------------------
def rss_bytes() -> int:
    """This process's resident set size (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def wait_for_threads(expected: int, within: float) -> int:
    """Poll until at most ``expected`` threads run (or ``within`` s passed); return the count."""
    deadline = time.monotonic() + within
    while threading.active_count() > expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return threading.active_count()


def test_2000_early_breaks_and_500_failures_leave_fds_threads_and_rss_flat() -> None:
    with FakeLLMServer() as server:
        client = _client(server)

        def load(breaks: int, failures: int) -> None:
            for i in range(breaks):
                with client.chat_stream(f"break {i}") as stream:
                    for _ in stream:
                        break
                if i % 100 == 0:
                    server.requests.clear()  # the server's log is not the client's memory
            server.default_reply = faults.status(500)
            for i in range(failures):
                with pytest.raises(LLMError):
                    client.chat_stream(f"fail {i}").text()
            server.default_reply = None
            server.requests.clear()

        load(100, 25)  # warm-up: imports, pools, allocator arenas
        gc.collect()
        fds, threads, rss = socket_fds(), threading.active_count(), rss_bytes()
        started = time.monotonic()
        load(2000, 500)
        elapsed = time.monotonic() - started
        gc.collect()
        grown = rss_bytes() - rss
        fds_after = wait_for_sockets(fds, within=2.0)
        threads_after = wait_for_threads(threads, within=2.0)
        client.close()
    print(f"2500 streams in {elapsed:.1f}s; RSS grew {grown / 1e6:.1f} MB")
    assert fds_after <= fds, f"{fds_after - fds} more sockets open than before the load"
    assert threads_after <= threads, f"{threads_after - threads} more threads than before the load"
    assert grown < 5_000_000, f"RSS grew {grown / 1e6:.1f} MB over 2,500 streams"


def test_64_threads_x_50_streams_on_one_client_each_get_their_own_answer() -> None:
    from test_concurrency import run_threads  # same directory: the suite's thread harness

    with FakeLLMServer() as server:
        client = _client(server, max_concurrency=64)
        wrong: list[str] = []

        def work(t: int) -> None:
            for s in range(50):
                prompt = f"thread {t} stream {s}"
                text = client.chat_stream(prompt).text()
                if f'You said: "{prompt}".' not in text:
                    wrong.append(f"{prompt} got {text[:80]!r}")

        errors = run_threads(64, work)
        client.close()
        assert len(server.requests) == 64 * 50
    assert errors == []
    assert wrong == []
