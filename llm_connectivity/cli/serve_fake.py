"""``llm-connectivity serve-fake [--port N]``: a FakeLLMServer in the foreground.

Prints the environment variables that point the library (and the vendors' own SDKs) at
it, then serves until Ctrl-C or SIGTERM, and stops cleanly. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading

from .common import fail

__all__ = ["parser", "run"]


def parser() -> argparse.ArgumentParser:
    """The ``serve-fake`` argument parser."""
    p = argparse.ArgumentParser(prog="llm-connectivity serve-fake",
                                description="Run a FakeLLMServer on 127.0.0.1 until Ctrl-C or SIGTERM.")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: any free port)")
    p.add_argument("--delay", type=float, default=0.02, metavar="S",
                   help="seconds between streamed tokens (default: %(default)s)")
    return p


def run(argv: list[str]) -> int:
    """Run ``serve-fake``; return the exit status."""
    p = parser()
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error(f"--port must be from 0 to 65535, got {args.port}")
    if not 0 <= args.delay < math.inf:  # also refuses nan
        p.error(f"--delay must be a finite number of seconds >= 0, got {args.delay:g}")
    from ..testing import FakeLLMServer

    server = FakeLLMServer(port=args.port, delay=args.delay)
    try:
        server.start()
    except OSError as exc:
        return fail(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}")
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set()) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        print(f"FakeLLMServer listening on {server.url} (Ctrl-C to stop). Point clients at it with:")
        # server.env() covers the vendors' variables; `openai-compatible/<model>` reads its own
        env = {**server.env(), "OPENAI_COMPATIBLE_BASE_URL": server.base_url}
        for name, value in env.items():
            print(f"export {name}={value}")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print("FakeLLMServer stopped", file=sys.stderr, flush=True)
    return 0
