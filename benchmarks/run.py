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
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator

from llm_connectivity import LLMClient


@contextlib.contextmanager
def server_process(*args: str) -> Iterator[int]:
    """Run benchmarks/_server.py in a child process; yield its port."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_server.py")
    proc = subprocess.Popen([sys.executable, script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


def _client(port: int) -> LLMClient:
    return LLMClient("openai/bench", base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench-000000000000",
                     max_retries=0)


def _raw_first_event(port: int) -> float:
    """Seconds from connect to the first complete event, with a bare socket (the floor)."""
    started = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", port))
    body = b'{"model":"bench","messages":[{"role":"user","content":"hi"}],"stream":true}'
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))
    buf = b""
    while b"\n\n" not in buf.partition(b"\r\n\r\n")[2]:
        buf += sock.recv(65536)
    elapsed = time.perf_counter() - started
    sock.close()
    return elapsed


def time_to_first_chunk(repeat: int) -> dict[str, tuple[float, float]]:
    """Median ms to the first content chunk per body framing: (llm_connectivity, raw socket)."""
    out = {}
    for framing in ("chunked", "close", "length"):
        with server_process("hold", framing) as port, _client(port) as client:
            ours, raw = [], []
            for _ in range(repeat):
                started = time.perf_counter()
                with client.chat_stream("hi") as stream:
                    next(c for c in stream if c.content)
                    ours.append((time.perf_counter() - started) * 1000)
                raw.append(_raw_first_event(port) * 1000)
            out[framing] = (statistics.median(ours), statistics.median(raw))
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


def _requests_sseclient(port: int) -> int:
    import requests
    import sseclient  # type: ignore[import-not-found]

    resp = requests.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"model": "bench", "stream": True,
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
    """chunks/s and CPU us/chunk (median of ``repeat``) for each contender; the server runs
    in another process, so CPU time is the client's alone."""
    results: dict[str, tuple[float, float]] = {}
    with server_process("stream", str(n), "length") as port, _client(port) as client:
        contenders: dict[str, Callable[[], int]] = {
            "raw socket + json (floor)": lambda: _raw_socket_floor(port, "/v1/chat/completions"),
            "llm_connectivity chat_stream": lambda: _ours(client),
        }
        try:
            import sseclient  # type: ignore[import-not-found]  # noqa: F401

            contenders["requests + sseclient-py"] = lambda: _requests_sseclient(port)
        except ImportError:
            print("  (pip install sseclient-py to compare with requests + sseclient-py)")
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
        for _ in range(repeat):  # round-robin, so machine noise hits every contender alike
            for name, fn in contenders.items():
                wall, cpu = time.perf_counter(), time.process_time()
                count = fn()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                samples[name].append((count / wall, cpu / count * 1e6))
        for name, runs in samples.items():
            results[name] = (statistics.median(r for r, _ in runs), statistics.median(c for _, c in runs))
    return results


def import_time(repeat: int) -> dict[str, float]:
    """Median ms to import each module in a fresh interpreter, with bytecode compiled (as
    an installed package has it)."""
    import compileall

    import llm_connectivity

    compileall.compile_dir(os.path.dirname(llm_connectivity.__file__), quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    statements = {
        "requests": "import requests",
        "llm_connectivity": "import llm_connectivity",
        "llm_connectivity + LLMClient()": "import llm_connectivity; llm_connectivity.LLMClient('ollama/x')",
    }
    out = {}
    for label, statement in statements.items():
        samples = []
        for _ in range(repeat):
            code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
            samples.append(float(subprocess.check_output([sys.executable, "-c", code], env=env)) * 1000)
        out[label] = statistics.median(samples)
    return out


def memory(n: int) -> dict[int, float]:
    """Peak traced KiB in the client while streaming n and 5n events (server elsewhere)."""
    out = {}
    for size in (n, 5 * n):
        with server_process("stream", str(size), "chunked") as port, _client(port) as client:
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

    print("== time to first chunk (server holds the rest 50 ms), median ms")
    for framing, (ours, raw) in time_to_first_chunk(args.repeat * 4).items():
        print(f"  {framing:8s} llm_connectivity {ours:6.3f} ms   raw socket {raw:6.3f} ms   (target <= 2 ms)")

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
        print(f"  {module:32s} {ms:7.1f} ms  {ms / times['requests']:5.2f}x requests")
    print("  (target: import llm_connectivity <= 1.25x import requests; requests loads on the first LLMClient)")

    print("\n== memory while streaming (peak traced KiB)")
    for size, kib in memory(args.events // 4).items():
        print(f"  {size:7d} events  {kib:9.0f} KiB")


if __name__ == "__main__":
    main()
