"""FakeLLMServer (llm_connectivity.testing) over real sockets, driven with http.client and a
provider driver: a slow consumer of a big reply, ``stop()`` while a send is blocked, the
per-connection numbering of recorded requests, and the SSE frames its scripts write."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

from llm_connectivity.models import StreamChunk
from llm_connectivity.providers.base import ProviderDriver
from llm_connectivity.providers.openai import OpenAIDriver
from llm_connectivity.request import RequestSpec
from llm_connectivity.testing import FakeLLMServer, Reply, faults


def _spec(server: FakeLLMServer, provider: str) -> RequestSpec:
    return RequestSpec("test-model", [{"role": "user", "content": "hi"}], api_key="test",
                       base_url=server.base_url_for(provider))


def _open(conn: http.client.HTTPConnection, driver: ProviderDriver, spec: RequestSpec) -> http.client.HTTPResponse:
    """Send ``spec`` on ``conn``; return the response (headers read, body not yet)."""
    request = driver.build_request(spec)
    url = urlsplit(request.url)
    conn.request(request.method, url.path + (f"?{url.query}" if url.query else ""), request.body, request.headers)
    return conn.getresponse()


def _chunks(response: http.client.HTTPResponse, driver: ProviderDriver, spec: RequestSpec) -> Iterator[StreamChunk]:
    """The driver's chunks of a 200 stream; the typed error of an error status."""
    if response.status != 200:
        body = response.read()
        raise driver.error_from_response(response.status, dict(response.getheaders()), body)
    pieces = iter(lambda: response.read1(65536), b"")
    events = driver.iter_events(pieces, response.getheader("content-type") or "")
    return driver.iter_chunks(events, spec)


def test_slow_consumer_of_a_big_reply_gets_the_whole_text() -> None:
    pieces = [f"{i:07d}" + "x" * 9993 for i in range(500)]  # 500 events of 10 kB: ~5 MB
    driver, text = OpenAIDriver("openai"), []
    with FakeLLMServer() as server:
        server.add_reply(Reply(chunks=pieces))
        spec = _spec(server, "openai")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
        try:
            for chunk in _chunks(_open(conn, driver, spec), driver, spec):
                if chunk.index == 1:
                    time.sleep(1.0)  # the server's socket buffers fill up meanwhile
                text.append(chunk.content)
        finally:
            conn.close()
    assert "".join(text) == "".join(pieces)


def test_stop_unblocks_a_send_to_a_client_that_never_reads() -> None:
    server = FakeLLMServer().start()
    server.add_reply(Reply(chunks=["y" * 100_000] * 200))  # ~20 MB: far more than the socket buffers
    spec = _spec(server, "openai")
    request = OpenAIDriver("openai").build_request(spec)
    client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(request.body)}\r\n\r\n"
        client.sendall(head.encode() + request.body)
        assert client.recv(1024).startswith(b"HTTP/1.1 200")
        time.sleep(1.0)  # the server's send blocks: nobody reads
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 3.0
    finally:
        client.close()


def test_recorded_request_connection_counts_new_connections() -> None:
    driver = OpenAIDriver("openai")
    with FakeLLMServer() as server:
        spec = _spec(server, "openai")
        first = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        second = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            for conn in (first, first, second, first):
                response = _open(conn, driver, spec)
                list(_chunks(response, driver, spec))
                response.read()  # the driver stops at [DONE]; drain the chunked trailer
        finally:
            first.close()
            second.close()
        assert [r.connection for r in server.requests] == [1, 1, 2, 1]
        assert all(json.loads(r.body)["stream"] for r in server.requests)


def test_sse_event_frames() -> None:
    assert faults.sse_event({"a": 1}, "error") == b'event: error\ndata: {"a":1}\n\n'
    assert faults.sse_event("[DONE]") == b"data: [DONE]\n\n"
