"""Benchmarks: each figure is reported next to a floor measured in the same run.

    make bench            # or: python benchmarks/run.py [--events N] [--repeat R]

1. Time to first chunk over loopback, with the server holding the rest of the stream,
   on chunked, connection-close and Content-Length bodies (median of R runs).
2. Streaming throughput (chunks/s, CPU us/chunk) of ``LLMClient.chat_stream`` producing
   full StreamChunk objects, against (a) a raw-socket + json.loads floor and (b)
   requests + sseclient-py (the floor of a requests-based stack), as ratios.
3. ``import llm_connectivity`` against ``import requests`` (fresh interpreters, median).
4. Memory: peak traced allocation while streaming N and 5N events (must stay flat).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

from llm_connectivity import LLMClient
from llm_connectivity.testing import Action, FakeLLMServer, Reply


def _event(i: int) -> bytes:
    chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench",
             "choices": [{"index": 0, "delta": {"content": f" tok{i}"}, "finish_reason": None}]}
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def stream_body(n: int) -> bytes:
    """A Chat Completions stream of ``n`` content events, a finish event and [DONE]."""
    finish = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench",
              "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    tail = b"data: " + json.dumps(finish).encode() + b"\n\ndata: [DONE]\n\n"
    return b"".join(_event(i) for i in range(n)) + tail


def _client(server: FakeLLMServer) -> LLMClient:
    return LLMClient("openai/bench", base_url=server.base_url, api_key="sk-bench-000000000000", max_retries=0)


def time_to_first_chunk(repeat: int) -> dict[str, float]:
    """Median ms from request to the first content chunk, per body framing."""
    out = {}
    with FakeLLMServer() as server, _client(server) as client:
        for framing in ("chunked", "close", "length"):
            samples = []
            for _ in range(repeat):
                server.add_reply(Reply(framing=framing, headers={"Content-Type": "text/event-stream"}, actions=[
                    Action("send", _event(0)), Action("sleep", seconds=0.05),
                    Action("send", stream_body(1))]))
                started = time.perf_counter()
                with client.chat_stream("hi") as stream:
                    next(c for c in stream if c.content)
                    samples.append((time.perf_counter() - started) * 1000)
                    for _ in stream:
                        pass
            out[framing] = statistics.median(samples)
    return out


def _raw_socket_floor(port: int, path: str) -> int:
    """Read the body with recv() and json.loads each event: the floor of any Python client."""
    sock = socket.create_connection(("127.0.0.1", port))
    body = b'{"model":"bench","messages":[{"role":"user","content":"hi"}],"stream":true}'
    sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n%s" % (path.encode(), len(body), body))
    buf, count, headers_done = b"", 0, False
    while True:
        data = sock.recv(65536)
        if not data:
            break
        buf += data
        if not headers_done:
            if b"\r\n\r\n" not in buf:
                continue
            buf = buf.split(b"\r\n\r\n", 1)[1]
            headers_done = True
        *events, buf = buf.split(b"\n\n")
        for event in events:
            payload = event[6:]
            if payload == b"[DONE]":
                sock.close()
                return count
            json.loads(payload)
            count += 1
    sock.close()
    return count


def _requests_sseclient(server: FakeLLMServer) -> int:
    import requests
    import sseclient  # type: ignore[import-not-found]

    resp = requests.post(server.base_url + "/chat/completions", json={"model": "bench", "stream": True,
                         "messages": [{"role": "user", "content": "hi"}]}, stream=True)
    count = 0
    for event in sseclient.SSEClient(resp).events():
        if event.data == "[DONE]":
            break
        json.loads(event.data)
        count += 1
    resp.close()
    return count


def _ours(client: LLMClient) -> int:
    count = 0
    for _chunk in client.chat_stream("hi"):
        count += 1
    return count


def throughput(n: int, repeat: int) -> dict[str, tuple[float, float]]:
    """chunks/s and CPU us/chunk (median of ``repeat``) for each contender."""
    body = stream_body(n)
    results: dict[str, tuple[float, float]] = {}
    with FakeLLMServer() as server, _client(server) as client:
        contenders: dict[str, Callable[[], int]] = {
            "raw socket + json (floor)": lambda: _raw_socket_floor(server.port, "/v1/chat/completions"),
            "llm_connectivity chat_stream": lambda: _ours(client),
        }
        try:
            import sseclient  # type: ignore[import-not-found]  # noqa: F401

            contenders["requests + sseclient-py"] = lambda: _requests_sseclient(server)
        except ImportError:
            pass
        for name, fn in contenders.items():
            rates, cpus = [], []
            for _ in range(repeat):
                server.add_raw(body, framing="length")
                wall, cpu = time.perf_counter(), time.process_time()
                count = fn()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                rates.append(count / wall)
                cpus.append(cpu / count * 1e6)
            results[name] = (statistics.median(rates), statistics.median(cpus))
    return results


def import_time(repeat: int) -> dict[str, float]:
    """Median ms to import each module in a fresh interpreter."""
    out = {}
    for module in ("requests", "llm_connectivity"):
        samples = []
        for _ in range(repeat):
            code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
            samples.append(float(subprocess.check_output([sys.executable, "-c", code])) * 1000)
        out[module] = statistics.median(samples)
    return out


def memory(n: int) -> dict[int, float]:
    """Peak traced KiB while streaming n and 5n events (the aggregated text grows, nothing else)."""
    out = {}
    with FakeLLMServer() as server, _client(server) as client:
        for size in (n, 5 * n):
            server.add_raw(stream_body(size), framing="chunked", pieces=[65536] * (size // 500 + 50))
            tracemalloc.start()
            _ours(client)
            out[size] = tracemalloc.get_traced_memory()[1] / 1024
            tracemalloc.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    print("== time to first chunk (server holds the rest), median ms")
    for framing, ms in time_to_first_chunk(args.repeat * 4).items():
        print(f"  {framing:8s} {ms:7.3f} ms   (target <= 2 ms)")

    print(f"\n== throughput, {args.events} events, median of {args.repeat}")
    results = throughput(args.events, args.repeat)
    floor = results["raw socket + json (floor)"][0]
    for name, (rate, cpu) in results.items():
        print(f"  {name:32s} {rate:10,.0f} chunks/s  {cpu:6.2f} us CPU/chunk  {rate / floor:5.2f}x floor")
    if "requests + sseclient-py" in results:
        ratio = results["llm_connectivity chat_stream"][0] / results["requests + sseclient-py"][0]
        print(f"  llm_connectivity / requests+sseclient-py = {ratio:.2f}x   (target >= 1.2x)")

    print("\n== import time, fresh interpreter, median ms")
    times = import_time(args.repeat)
    for module, ms in times.items():
        print(f"  {module:18s} {ms:7.1f} ms")
    print(f"  ratio {times['llm_connectivity'] / times['requests']:.2f}x requests   (target <= 1.25x)")

    print("\n== memory while streaming (peak traced KiB)")
    for size, kib in memory(args.events // 4).items():
        print(f"  {size:7d} events  {kib:9.0f} KiB")


if __name__ == "__main__":
    main()
