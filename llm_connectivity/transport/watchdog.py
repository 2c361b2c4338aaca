"""The header watchdog: shuts a request's connections down if its status line and headers
are still arriving when its total deadline passes (a per-read timeout alone would let a
server that trickles them run past ``total_timeout``).

Every pending :class:`Watchdog` of the process shares one daemon thread and a heap of
deadlines: starting a ``threading.Timer`` per request cost more than the rest of a
``chat()`` call. :meth:`Watchdog.cancel` only marks an entry; the heap is compacted when
most of it is cancelled, so its size stays proportional to the requests in flight. After
``os.fork()`` the child starts with an empty heap and a fresh lock (the thread does not
survive the fork, and the lock may have been held at that moment).
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from typing import Any

from .http11 import shutdown_sockets

__all__ = ["Watchdog"]


class Watchdog:
    """Shuts down ``connections`` if ``seconds`` pass before :meth:`cancel`."""

    __slots__ = ("fired", "cancelled", "_connections")

    def __init__(self, seconds: float, connections: list[Any]) -> None:
        self.fired = self.cancelled = False
        self._connections = connections
        _watcher.add(time.monotonic() + max(0.0, seconds), self)

    def fire(self) -> None:
        """The deadline passed (called by the watcher thread, holding its lock)."""
        self.fired = True
        shutdown_sockets(self._connections)

    def cancel(self) -> None:
        """The headers arrived (or the request failed): stop watching."""
        if not self.cancelled:
            _watcher.cancel(self)


class _Watcher:
    """One thread for every pending Watchdog of the process (see the module docstring)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Watchdog]] = []
        self._cancelled = 0
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, at: float, dog: Watchdog) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="llm-connectivity-watchdog", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (at, next(self._order), dog))
            if self._heap[0][2] is dog:  # a new earliest deadline: wake the thread to wait less
                self._cond.notify()

    def cancel(self, dog: Watchdog) -> None:
        with self._cond:  # never while fire() runs: see _run
            if dog.cancelled or dog.fired:
                return
            dog.cancelled = True
            self._cancelled += 1
            if self._cancelled > 32 and 2 * self._cancelled > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _run(self) -> None:
        with self._cond:
            while True:
                heap = self._heap  # (compacted by cancel(): a new list)
                while heap and heap[0][2].cancelled:
                    heapq.heappop(heap)
                    self._cancelled -= 1
                wait = heap[0][0] - time.monotonic() if heap else None
                if wait is None or wait > 0:
                    self._cond.wait(wait)
                    continue
                dog = heapq.heappop(heap)[2]
                # Under the lock: once cancel() returned, the sockets are either shut down
                # already or never will be, so a connection that goes back to the pool
                # afterwards is never shut down under another request.
                dog.fire()


_watcher = _Watcher()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watcher._reset)
