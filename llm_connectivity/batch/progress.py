"""The batch progress bar on stderr: on a terminal tqdm when installed, else one line.

Shows done/total, ok and failed counts, tokens and cost so far, the request rate and an
ETA. On a terminal the line redraws in place at most every 0.2 s; elsewhere (a log file)
a line is printed every 10 s and at the end.
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import IO, Any

from .results import BatchSummary

__all__ = ["BatchProgressBar"]

_TTY_INTERVAL = 0.2
_LOG_INTERVAL = 10.0


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class BatchProgressBar:
    """Progress of one batch run (see the module docstring); ``initial`` items were done
    before the run (from the checkpoint). ``use_tqdm=None`` picks tqdm when importable
    and ``file`` is a terminal."""

    def __init__(self, total: int, initial: int = 0, *, file: IO[str] | None = None,
                 use_tqdm: bool | None = None) -> None:
        self.total = total
        self.done = initial
        self._initial = initial
        self._file = file if file is not None else sys.stderr
        self._started = time.monotonic()
        self._shown = 0.0
        self._tty = bool(getattr(self._file, "isatty", lambda: False)())
        self._bar: Any = None
        if use_tqdm or (use_tqdm is None and self._tty):  # tqdm's redrawn bar only suits a terminal
            try:
                tqdm = importlib.import_module("tqdm").tqdm  # optional; untyped
            except ImportError:
                if use_tqdm:
                    raise
            else:
                self._bar = tqdm(total=total, initial=initial, unit="req", file=self._file, desc="batch",
                                 dynamic_ncols=True)

    def update(self, summary: BatchSummary) -> None:
        """One more item finished; ``summary`` holds the totals so far."""
        self.done += 1
        if self._bar is not None:
            self._bar.set_postfix(ok=summary.succeeded, failed=summary.failed, tokens=summary.total_tokens,
                                  cost=f"${summary.cost_usd:.4f}", refresh=False)
            self._bar.update(1)
            return
        now = time.monotonic()
        if now - self._shown >= (_TTY_INTERVAL if self._tty else _LOG_INTERVAL):
            self._shown = now
            self._draw(summary, now)

    def text(self, summary: BatchSummary, now: float | None = None) -> str:
        """The progress line for ``summary``."""
        elapsed = (time.monotonic() if now is None else now) - self._started
        rate = (self.done - self._initial) / elapsed if elapsed > 0 else 0.0
        left = self.total - self.done
        eta = _duration(left / rate) if rate > 0 and left else ("0s" if not left else "?")
        return (f"batch {self.done}/{self.total} | ok {summary.succeeded} failed {summary.failed} | "
                f"{summary.total_tokens:,} tokens ${summary.cost_usd:.4f} | {rate:.1f}/s ETA {eta}")

    def _draw(self, summary: BatchSummary, now: float) -> None:
        end = "" if self._tty else "\n"
        prefix = "\r\x1b[K" if self._tty else ""
        self._file.write(prefix + self.text(summary, now) + end)
        self._file.flush()

    def close(self, summary: BatchSummary) -> None:
        """Draw the final state and end the line."""
        if self._bar is not None:
            self._bar.close()
            return
        self._draw(summary, time.monotonic())
        if self._tty:
            self._file.write("\n")
            self._file.flush()
