"""Benchmarks: every figure is printed next to a floor measured in the same run.

    make bench                     # all sections, about 3 minutes on 2 cores
    python benchmarks/run.py --quick
    python benchmarks/run.py --only stream,chat

Sections (the server always runs in its own process; see benchmarks/_server.py):

1. ``ttfc``: time to the first content chunk while the server holds the rest, on chunked,
   connection-close and Content-Length bodies, against a bare socket.
2. ``stream``: chunks/s and CPU per chunk on realistic framing (one HTTP chunk per SSE
   event, realistic chunk JSON), and on close, Content-Length and one-big-write bodies;
   contenders: the raw floor, requests + sseclient-py, llm_connectivity, the openai SDK
   (when installed: ``make bench-peers``). Round-robin, medians.
3. ``chat``: non-streamed ``chat()`` calls per second and CPU per call.
4. ``threads``: N = 1, 8, 32 threads streaming at once through ONE client: aggregate
   chunks/s, and 32 threads / 1 thread.
5. ``memory``: peak RSS of a fresh process streaming 20k and 200k chunks.
6. ``import``: ``import llm_connectivity`` vs ``import requests`` (fresh interpreters).
7. ``extras``: every ``benchmarks/bench_*.py`` (pipeline, toolkit chain, events...),
   each run with ``--quick`` and printing its own ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _contenders import KEY, MESSAGES, Floor, Ours, available  # noqa: E402


@contextlib.contextmanager
def server(framing: str, n: int = 0, *extra: str) -> Iterator[int]:
    """Run benchmarks/_server.py in a child process; yield its port."""
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "_server.py"), framing, str(n), *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


def _measure(fn: Callable[[], Any], units: int | None = None) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    count = units if units is not None else int(result)
    return time.perf_counter() - wall, time.process_time() - cpu, count


def ttfc(repeat: int) -> None:
    """Section 1."""
    print("== time to first chunk (server holds the rest 50 ms), median ms  (target <= 2 ms)")
    for framing in ("chunked", "close", "length"):
        with server(framing, 20, "--hold") as port:
            ours, floor = Ours(port), Floor(port)
            a, b = [], []
            for _ in range(repeat):
                started = time.perf_counter()
                with ours.client.chat_stream(MESSAGES) as stream:
                    next(c for c in stream if c.content)
                    a.append((time.perf_counter() - started) * 1000)
                b.append(_floor_first(port) * 1000)
            ours.close()
            floor.close()
        print(f"  {framing:8s} llm_connectivity {statistics.median(a):6.3f} ms   raw socket {statistics.median(b):6.3f} ms")


def _floor_first(port: int) -> float:
    started = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", port))
    body = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}'
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    buf = b""
    while buf.partition(b"\r\n\r\n")[2].count(b"\n\n") < 2:  # role chunk + first content chunk
        buf += sock.recv(65536)
    elapsed = time.perf_counter() - started
    sock.close()
    return elapsed


def stream(n: int, repeat: int, framings: tuple[str, ...]) -> None:
    """Section 2."""
    for framing in framings:
        label = {"chunked": "realistic: one HTTP chunk per event", "bigwrite": "whole body in one HTTP chunk",
                 "close": "connection-close body", "length": "Content-Length body"}[framing]
        print(f"\n== streaming throughput, {n} chunks, {label}, median of {repeat}")
        with server(framing, n) as port:
            contenders = available(port)
            samples: dict[str, list[tuple[float, float]]] = {c.name: [] for c in contenders}
            for c in contenders:  # warm-up: connections, imports, caches
                c.stream()
            for _ in range(repeat):
                for c in contenders:
                    wall, cpu, count = _measure(c.stream)
                    assert count == n, f"{c.name} decoded {count} chunks, expected {n}"
                    samples[c.name].append((count / wall, cpu / count * 1e6))
            for c in contenders:
                c.close()
        _table(samples, "chunks/s", "us CPU/chunk")


def _table(samples: dict[str, list[tuple[float, float]]], unit: str, cpu_unit: str) -> None:
    rates = {name: (statistics.median(r for r, _ in runs), statistics.median(c for _, c in runs))
             for name, runs in samples.items()}
    floor = rates[Floor.name][0]
    base = rates.get("requests + sseclient-py", (None, None))[0]
    for name, (rate, cpu) in rates.items():
        vs = f"  {rate / base:5.2f}x requests+sseclient" if base else ""
        print(f"  {name:28s} {rate:10,.0f} {unit}  {cpu:7.2f} {cpu_unit}  {rate / floor:5.2f}x floor{vs}")


def chat(calls: int, repeat: int) -> None:
    """Section 3."""
    print(f"\n== non-streamed chat(), {calls} calls, median of {repeat}  (target >= 2x requests+sseclient)")
    with server("chat") as port:
        contenders = available(port)
        samples: dict[str, list[tuple[float, float]]] = {c.name: [] for c in contenders}
        for c in contenders:
            c.chat()
        for _ in range(repeat):
            for c in contenders:
                def run(c: Any = c) -> int:
                    for _ in range(calls):
                        c.chat()
                    return calls
                wall, cpu, count = _measure(run)
                samples[c.name].append((count / wall, cpu / count * 1e6))
        for c in contenders:
            c.close()
    _table(samples, "calls/s ", "us CPU/call ")


def threads(n: int, counts: tuple[int, ...]) -> None:
    """Section 4."""
    print(f"\n== N threads streaming at once through one client, {n} chunks each  (target: 32 >= 0.9x of 1)")
    with server("chunked", n) as port:
        for make in (Floor, Ours):
            contender = make(port)
            contender.stream()
            rates = {}
            for k in counts:
                streams_each = max(1, 32 // k)
                barrier = threading.Barrier(k)
                errors: list[BaseException] = []

                def work() -> None:
                    try:
                        barrier.wait(timeout=30)
                        for _ in range(streams_each):
                            assert contender.stream() == n
                    except BaseException as exc:  # noqa: BLE001 - reported below
                        errors.append(exc)

                pool = [threading.Thread(target=work) for _ in range(k)]
                started = time.perf_counter()
                for t in pool:
                    t.start()
                for t in pool:
                    t.join(timeout=120)
                wall = time.perf_counter() - started
                if errors:
                    raise errors[0]
                rates[k] = k * streams_each * n / wall
            contender.close()
            cells = "  ".join(f"N={k}: {r:9,.0f}/s" for k, r in rates.items())
            print(f"  {contender.name:28s} {cells}   N={counts[-1]} / N=1 = {rates[counts[-1]] / rates[1]:.2f}x")


_RSS_CHILD = """
import resource, sys
sys.path.insert(0, {here!r})
from _contenders import Ours
ours = Ours({port})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
count = ours.stream()
print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def memory(sizes: tuple[int, ...]) -> None:
    """Section 5."""
    print("\n== memory: peak RSS of a fresh process streaming N chunks (target: flat apart from the text)")
    for n in sizes:
        with server("chunked", n) as port:
            out = subprocess.check_output([sys.executable, "-c", _RSS_CHILD.format(here=HERE, port=port, n=n)],
                                          text=True).split()
        count, growth, peak = int(out[0]), int(out[1]) / 1024, int(out[2]) / 1024
        assert count == n
        print(f"  {n:8,d} chunks   peak RSS {peak:7.1f} MiB   grew {growth:6.1f} MiB while streaming")


def import_time(repeat: int) -> None:
    """Section 6."""
    import compileall

    import llm_connectivity

    compileall.compile_dir(os.path.dirname(llm_connectivity.__file__), quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    print("\n== import time, fresh interpreter, median ms  (target: <= 1.25x import requests)")
    statements = {"requests": "import requests", "llm_connectivity": "import llm_connectivity",
                  "llm_connectivity + LLMClient()": "import llm_connectivity; llm_connectivity.LLMClient('ollama/x')"}
    times = {}
    for label, statement in statements.items():
        samples = []
        for _ in range(repeat):
            code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
            samples.append(float(subprocess.check_output([sys.executable, "-c", code], env=env)) * 1000)
        times[label] = statistics.median(samples)
    for label, ms in times.items():
        print(f"  {label:32s} {ms:7.1f} ms  {ms / times['requests']:5.2f}x requests")


def extras(quick: bool) -> None:
    """Section 7."""
    scripts = sorted(f for f in os.listdir(HERE) if f.startswith("bench_") and f.endswith(".py"))
    for script in scripts:
        print(f"\n== {script}")
        args = [sys.executable, os.path.join(HERE, script)] + (["--quick"] if quick else [])
        result = subprocess.run(args, text=True, capture_output=True, timeout=300)
        print(result.stdout.rstrip() or "(no output)")
        if result.returncode:
            print(f"  FAILED (exit {result.returncode}): {result.stderr.strip().splitlines()[-1:]}")


SECTIONS = ("ttfc", "stream", "chat", "threads", "memory", "import", "extras")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    args = parser.parse_args()
    only = set(args.only.split(","))
    n, repeat = (2000, 2) if args.quick else (20000, 5)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; key {KEY[:6]}...; every ratio from this run\n")
    if "ttfc" in only:
        ttfc(5 if args.quick else 20)
    if "stream" in only:
        stream(n, repeat, ("chunked", "close", "length", "bigwrite"))
    if "chat" in only:
        chat(50 if args.quick else 300, repeat)
    if "threads" in only:
        threads(n // 10 if args.quick else 2000, (1, 8, 32))
    if "memory" in only:
        memory((2000, 20000) if args.quick else (20000, 200000))
    if "import" in only:
        import_time(3 if args.quick else 7)
    if "extras" in only:
        extras(args.quick)


if __name__ == "__main__":
    main()
