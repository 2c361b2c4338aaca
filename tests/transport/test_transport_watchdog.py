"""The header watchdog (:mod:`llm_connectivity.transport.watchdog`): one shared thread fires
each deadline once, cancelled entries never fire, the heap stays proportional to what is
pending, and no thread is started per request."""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
from types import SimpleNamespace

import pytest

from llm_connectivity.transport.watchdog import Watchdog, _watcher


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    b.settimeout(5)
    return a, b


def test_fires_at_its_deadline_and_shuts_the_connection_down() -> None:
    a, b = _pair()
    with a, b:
        started = time.monotonic()
        dog = Watchdog(0.2, [SimpleNamespace(sock=a)])
        assert a.recv(1) == b""  # unblocked by the shutdown, not by data
        elapsed = time.monotonic() - started
        assert dog.fired and 0.15 <= elapsed < 2.0


def test_cancelled_watchdogs_never_fire_and_an_earlier_deadline_is_not_delayed_by_a_later_one() -> None:
    a, b = _pair()
    c, d = _pair()
    with a, b, c, d:
        late = Watchdog(30.0, [SimpleNamespace(sock=c)])
        cancelled = Watchdog(0.05, [SimpleNamespace(sock=c)])
        cancelled.cancel()
        early = Watchdog(0.2, [SimpleNamespace(sock=a)])
        assert a.recv(1) == b""
        assert early.fired and not cancelled.fired and not late.fired
        late.cancel()
        assert c.send(b"y") == 1  # c was never shut down
        assert d.recv(1) == b"y"


def test_many_requests_share_one_thread_and_a_bounded_heap() -> None:
    threads_before = threading.active_count()
    dogs = []
    for _ in range(5000):
        dog = Watchdog(600.0, [])
        dogs.append(dog)
        dog.cancel()
    assert len(_watcher._heap) <= 100  # compacted: cancelled entries do not pile up
    assert threading.active_count() <= max(threads_before, 1) + 1
    assert not any(dog.fired for dog in dogs)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_working_watchdog_of_its_own() -> None:
    Watchdog(600.0, []).cancel()  # the parent's watcher thread exists (it does not survive the fork)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() with threads
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            a, b = _pair()
            a.settimeout(5)
            Watchdog(0.1, [SimpleNamespace(sock=a)])
            code = 0 if a.recv(1) == b"" else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("the child's watchdog never fired")
