"""Counting this process's open sockets (Linux /proc), for the leak tests of every suite."""

from __future__ import annotations

import gc
import os
import time


def socket_fds() -> int:
    """How many of this process's file descriptors are sockets."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{name}").startswith("socket:")
        except OSError:  # closed between listdir and readlink
            pass
    return count


def wait_for_sockets(expected: int, within: float) -> int:
    """Poll until at most ``expected`` sockets are open (or ``within`` s passed); return the count."""
    deadline = time.monotonic() + within
    while True:
        gc.collect()
        count = socket_fds()
        if count <= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.02)
