"""The JSONL checkpoint of a batch: one line per finished item, appended and flushed.

Each line is ``{"id", "index", "hash", "status", "response" | "error"}``. A line is written
with one ``write`` and flushed at once (a killed process loses nothing that was written);
``fsync`` runs at most every ``fsync_interval`` seconds and on close (a crashed machine
loses at most that window). On load, a last line without its newline (a process killed
mid-write) or a line that is not JSON is ignored, and a torn tail is cut off before
anything is appended, so the file stays valid JSONL.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigurationError

__all__ = ["Checkpoint"]

logger = logging.getLogger("llm_connectivity")


class Checkpoint:
    """An append-only JSONL checkpoint file (thread-safe).

    Parameters:
        path: the file; created (with its directory) on the first append.
        fsync_interval: seconds between ``fsync`` calls (0: after every line).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync_interval: float = 1.0) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ConfigurationError(f"checkpoint {str(self.path)!r} is a directory; give a file path such as "
                                     "'results.jsonl'")
        self.fsync_interval = fsync_interval
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._synced = time.monotonic()
        self.ignored_lines = 0  # corrupt lines seen by the last load()

    def load(self) -> dict[str, dict[str, Any]]:
        """Read every valid record (the last one per id wins) and cut off a torn last line."""
        records: dict[str, dict[str, Any]] = {}
        self.ignored_lines = 0
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return records
        except OSError as exc:
            raise self._unusable("read", exc) from None
        complete = data.rfind(b"\n") + 1
        lines = data[:complete].splitlines()
        parsed = [_parse(line) for line in lines]
        self._refuse_foreign(lines, parsed, data[complete:])
        if complete < len(data):
            self.ignored_lines += 1
            logger.warning("checkpoint %s: ignoring a torn last line (%d bytes)", self.path, len(data) - complete)
            with open(self.path, "r+b") as handle:
                handle.truncate(complete)
        for number, (line, record) in enumerate(zip(lines, parsed), 1):
            if record is None:
                if line.strip():
                    self.ignored_lines += 1
                    logger.warning("checkpoint %s: ignoring line %d (not a checkpoint record)", self.path, number)
                continue
            records[str(record["id"])] = record
        return records

    def _refuse_foreign(self, lines: list[bytes], parsed: list[dict[str, Any] | None], tail: bytes) -> None:
        """A file with text but no checkpoint record is someone else's (a mistyped path):
        refuse it rather than cut its last line and replace it with results later."""
        if any(record is not None for record in parsed):
            return
        foreign = sum(1 for line in lines if line.strip()) + (1 if tail.strip()[:1] not in (b"", b"{") else 0)
        if foreign:
            raise ConfigurationError(f"checkpoint {str(self.path)!r} holds {foreign} lines and none is a "
                                     "checkpoint record: it is another file; give a new path (or remove it)")

    def open(self) -> None:
        """Create the file (and its directory) for appending now, so that a path that
        cannot be written fails before any request is spent, not at the first answer."""
        with self._lock:
            try:
                self._open()
            except OSError as exc:
                raise self._unusable("written", exc) from None

    def _unusable(self, verb: str, exc: OSError) -> ConfigurationError:
        return ConfigurationError(f"checkpoint {str(self.path)!r} cannot be {verb} ({exc.strerror or exc}); "
                                  "give a file path in a directory you can write to")

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as a line and flush it (fsync at the configured cadence)."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        with self._lock:
            handle = self._open()
            handle.write(line)
            handle.flush()
            if time.monotonic() - self._synced >= self.fsync_interval:
                os.fsync(handle.fileno())
                self._synced = time.monotonic()

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace the file atomically with ``records`` (e.g. in input order)."""
        with self._lock:
            self._close_locked()
            tmp = self.path.with_name(self.path.name + ".tmp")
            with open(tmp, "wb") as handle:
                for record in records:
                    handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
                    handle.write(b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)

    def close(self) -> None:
        """fsync and close the file (appending again reopens it)."""
        with self._lock:
            self._close_locked()

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")
        return self._file

    def _close_locked(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.path)!r})"


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or "id" not in record or "status" not in record:
        return None
    return record
