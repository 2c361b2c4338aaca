"""ChatStream.close() over real loopback sockets, from any thread at any moment: while
the reader waits for bytes, for headers, in a retry backoff, while it is busy elsewhere,
and when successive next() calls run on different worker threads (Starlette/anyio)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from llm_connectivity import LLMClient, RetryPolicy
from llm_connectivity.errors import StreamInterruptedError
from llm_connectivity.testing import FakeLLMServer, Reply, faults

KEY = "sk-stream-secret-0123456789"


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        yield srv


def _wait_until_running(stream, seconds: float = 5.0) -> None:
    """Until another thread is inside next() (bounded)."""
    end = time.monotonic() + seconds
    while not stream._chunks.gi_running:
        assert time.monotonic() < end, "the reader never entered next()"
        time.sleep(0.005)
    time.sleep(0.05)  # and has reached its blocking read (harmless if it has not yet: the abort is seen)


def test_close_from_another_thread_unblocks_the_reader(server: FakeLLMServer) -> None:
    server.add_reply(faults.stall_after(2, text="Hello there friend"))
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, timeout=30) as client:
        stream = client.chat_stream("hi")
        assert next(c for c in stream if c.content).content == "Hello"
        threading.Timer(0.2, stream.close).start()
        started = time.monotonic()
        with pytest.raises(StreamInterruptedError, match="closed by the caller") as info:
            for _ in stream:
                pass
        assert time.monotonic() - started < 2
    assert info.value.partial_response.content == "Hello there"


def test_close_from_another_thread_while_the_reader_is_busy_elsewhere(server: FakeLLMServer) -> None:
    server.add_reply(Reply(text=" ".join(["word"] * 2000)))
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY) as client:
        stream = client.chat_stream("hi")
        received = []
        for chunk in stream:
            received.append(chunk.content)
            if len(received) == 10:
                closer = threading.Thread(target=stream.close)
                closer.start()
                closer.join()  # closed while this thread is outside the generator
        assert len(received) == 10  # the stream ended there, and says it is not complete
        assert not stream.is_complete
        assert stream.response.content == "".join(received)


def test_close_from_another_thread_while_waiting_for_headers(server: FakeLLMServer) -> None:
    server.add_reply(faults.hang_before_headers())
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, timeout=30) as client:
        stream = client.chat_stream("hi")
        threading.Timer(0.3, stream.close).start()
        started = time.monotonic()
        with pytest.raises(StreamInterruptedError, match="closed by the caller"):
            stream.text()
        assert time.monotonic() - started < 3


def test_close_from_another_thread_during_a_retry_backoff(server: FakeLLMServer) -> None:
    server.add_replies([faults.status(503, headers={"Retry-After": "5"}), Reply(text="too late")])
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY,
                   max_retries=RetryPolicy(max_retries=1)) as client:
        stream = client.chat_stream("hi")
        threading.Timer(0.3, stream.close).start()
        started = time.monotonic()
        with pytest.raises(StreamInterruptedError, match="closed by the caller"):
            stream.text()
        assert time.monotonic() - started < 2
    assert len(server.requests) == 1


def test_close_from_the_starting_thread_while_a_worker_thread_reads(server: FakeLLMServer) -> None:
    """Starlette/anyio style: the request thread takes the first chunk, worker threads take
    the next ones in turn; the request thread closes while a worker is blocked in next()."""
    server.add_reply(faults.stall_after(4, text="one two three four five six"))
    with LLMClient("openai/m", base_url=server.base_url, api_key=KEY, timeout=30) as client, \
            ThreadPoolExecutor(max_workers=2) as workers:
        stream = client.chat_stream("hi")
        received = [next(stream).content]
        received += [workers.submit(next, stream).result(timeout=10).content for _ in range(3)]
        blocked = workers.submit(next, stream)  # the server stalls: this one waits for bytes
        _wait_until_running(stream)
        started = time.monotonic()
        stream.close()  # from the thread that started the iteration: must not raise
        with pytest.raises(StreamInterruptedError, match="closed by the caller") as info:
            blocked.result(timeout=10)
        assert time.monotonic() - started < 3
    assert "".join(received) == "one two three four"
    assert info.value.partial_response.content == "one two three four"
    with pytest.raises(StopIteration):
        next(stream)


def test_next_racing_a_close_from_another_thread_never_raises_a_value_error(server: FakeLLMServer) -> None:
    """close() from a second thread finishes the stream's generator; a next() that lands in
    that moment ends the iteration (or raises "closed by the caller"), never "generator
    already executing"."""
    with LLMClient("openai/m", base_url=server.base_url, api_key="sk-test-race-0000", max_retries=0) as client:
        for _ in range(150):
            server.add_reply(Reply(" ".join(["w"] * 50)))
            stream = client.chat_stream("hi")
            next(stream)
            closer = threading.Thread(target=stream.close)
            closer.start()
            try:
                for _ in stream:
                    pass
            except StreamInterruptedError:
                pass
            closer.join(5)
            assert not closer.is_alive()
