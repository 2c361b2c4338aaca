"""Integration-suite harness: a watchdog that bounds every test over real sockets."""

from __future__ import annotations

import faulthandler
import signal
import sys
from collections.abc import Iterator
from typing import Any

import pytest


class WatchdogExpired(Exception):
    """Raised in the test's thread when it outlives its bound."""


@pytest.fixture(autouse=True)
def watchdog(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that runs longer than its module's WATCHDOG_SECONDS (default 60 s); kill
    the process if even that hangs."""
    seconds = float(getattr(request.module, "WATCHDOG_SECONDS", 60.0))

    def expire(signum: int, frame: Any) -> None:
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        raise WatchdogExpired(f"test exceeded its {seconds:g}s watchdog")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds + 30, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()
