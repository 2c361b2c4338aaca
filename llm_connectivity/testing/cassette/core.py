"""``cassette(path, mode=...)``: record every client's exchanges, or replay them.

While a :class:`Cassette` is active it is the process-wide transport interceptor
(:func:`llm_connectivity.transport.set_interceptor`): every request of every
:class:`~llm_connectivity.LLMClient`, created before or after, from any thread, goes through
:meth:`Cassette.send`, which replays a matching recorded interaction or records a new one.
One cassette at a time: entering a second one (nested, or in another thread) raises
:class:`CassetteError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from ...deadline import Deadline
from ...request import HTTPRequest
from ...transport import Cancellation, Response, Transport, get_interceptor, set_interceptor
from .errors import CassetteError, CassetteMismatchError
from .matching import DEFAULT_MATCH_ON, MatchOn, closest_difference, describe, make_matcher, stored_request
from .recorder import record_send
from .redaction import request_secrets
from .replayer import replay_send
from .storage import Interaction, check_replaceable, load_cassette, write_cassette

__all__ = ["MODES", "Cassette", "cassette"]

MODES = ("once", "none", "new_episodes", "all")


class Cassette(contextlib.ContextDecorator):
    """A recording of LLM exchanges on disk, active as a context manager or decorator.

    Parameters:
        path: the cassette directory (created when something is recorded).
        mode: ``"once"`` (replay if the cassette exists, else record), ``"none"`` (replay
            only; an unrecorded request raises :class:`CassetteMismatchError`),
            ``"new_episodes"`` (replay what matches, record the rest), ``"all"`` (record
            everything again, replacing the cassette).
        match_on: field names compared between a request and a recording (``"method"``,
            ``"path"``, ``"body"``, ``"query"``, ``"host"``, ``"port"``, ``"scheme"``,
            ``"url"``, ``"headers"``), or a function ``(request, recorded) -> bool``.
            Identical requests replay their recordings in recorded order, each once.
        speed: replay pace: 1.0 the recorded gaps, 10 ten times faster, 0 no waiting.

    Attributes after use: ``recorded`` (interactions recorded by this use) and
    ``replayed`` (interactions replayed, in order).
    """

    def __init__(self, path: str | os.PathLike[str], *, mode: str = "once", match_on: MatchOn = DEFAULT_MATCH_ON,
                 speed: float = 1.0) -> None:
        if mode not in MODES:
            raise CassetteError(f"unknown cassette mode {mode!r}; choose one of {', '.join(MODES)}")
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0 <= speed < math.inf:
            raise CassetteError(f"speed must be a finite number >= 0 (1.0 = recorded pace, 0 = no waiting), "
                                f"not {speed!r}")
        self.path = Path(path)
        self.mode = mode
        self.match_on = match_on
        self.speed = float(speed)
        self._matches = make_matcher(match_on)
        self._lock = threading.Lock()
        self._stored: list[Interaction] = []
        self._used: set[int] = set()
        self._records = False
        self._secrets: set[str] = set()
        self.recorded: list[Interaction] = []
        self.replayed: list[Interaction] = []

    def __repr__(self) -> str:
        return f"Cassette({str(self.path)!r}, mode={self.mode!r})"

    def _recreate_cm(self) -> Cassette:  # a fresh state for each call of a decorated function
        return Cassette(self.path, mode=self.mode, match_on=self.match_on, speed=self.speed)

    @property
    def records(self) -> bool:
        """True while new requests are recorded (in this mode, for this cassette)."""
        return self._records

    # -- activation -------------------------------------------------------------------------
    def __enter__(self) -> Cassette:
        active = get_interceptor()
        if active is not None:  # checked first too, so that re-entering an active cassette keeps its state
            raise self._nested(active)
        stored = [] if self.mode == "all" else load_cassette(self.path)
        exists = self.path.is_dir()
        records = self.mode in ("all", "new_episodes") or (self.mode == "once" and not exists)
        if records:
            check_replaceable(self.path)  # before anything is recorded, not when it is written
        with self._lock:
            self._stored, self._used, self._secrets = stored, set(), set()
            self.recorded, self.replayed = [], []
            self._records = records
        previous = set_interceptor(self)
        if previous is not None:
            set_interceptor(previous)
            raise self._nested(previous)
        return self

    def _nested(self, active: object) -> CassetteError:
        return CassetteError(f"cannot use cassette {self.path}: {active!r} is already active (one cassette "
                             "at a time per process; cassettes do not nest)")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if get_interceptor() is self:
            set_interceptor(None)
        with self._lock:
            # a snapshot: a response still being read in another thread appends to its item
            new = [dataclasses.replace(item, pieces=list(item.pieces)) for item in self.recorded
                   if item.status is not None or item.error is not None]
            keep = self._stored if self.mode == "new_episodes" else []
            secrets = sorted(self._secrets, key=len, reverse=True)
        if self._records and new:
            write_cassette(self.path, keep + new, secrets)

    # -- the interceptor --------------------------------------------------------------------
    def _take(self, request: dict[str, Any]) -> Interaction | None:
        for index, item in enumerate(self._stored):
            if index not in self._used and self._matches(request, item.request):
                self._used.add(index)
                self.replayed.append(item)
                return item
        return None

    def _new_name(self) -> str:
        taken = {item.name for item in self._stored} | {item.name for item in self.recorded}
        number = len(self._stored) + len(self.recorded) + 1
        while f"{number:03d}" in taken:
            number += 1
        return f"{number:03d}"

    def _mismatch(self, request: dict[str, Any]) -> CassetteMismatchError:
        what = describe(request)
        if not self.path.is_dir():
            return CassetteMismatchError(
                f"cassette {self.path} does not exist and mode={self.mode!r} does not record: cannot answer {what}. "
                "Record it first with mode='once' (pytest: --llm-record-mode=once).", request=request)
        candidates = [(item.name, item.request) for item in self._stored]
        name, closest, difference = closest_difference(request, candidates)
        used = ""
        if closest is not None and self._matches(request, closest) and any(
                item.name == name for i, item in enumerate(self._stored) if i in self._used):
            used = " (already replayed: each recording answers one request; repeated requests need one each)"
        fields = "a custom function" if callable(self.match_on) else ", ".join(self.match_on)
        closest_text = f"closest recorded: {name} {describe(closest)}{used}\n{difference}" if closest else difference
        return CassetteMismatchError(
            f"cassette {self.path} (mode={self.mode!r}) has no unused recording of {what} matching on {fields}; "
            f"{closest_text}\nRe-record with mode='new_episodes' or mode='all' if the request changed on purpose.",
            request=request, closest=closest)

    def send(self, transport: Transport, request: HTTPRequest, *, deadline: Deadline,
             connect_timeout: float | None, provider: str | None = None,
             cancel: Cancellation | None = None) -> Response:
        """Replay the first unused matching recording, or record the exchange, or raise
        :class:`CassetteMismatchError` in a mode that may not record."""
        stored = stored_request(request)
        item = None
        with self._lock:
            match = self._take(stored)
            if match is None and self._records:
                item = Interaction(name=self._new_name(), request=stored)
                self.recorded.append(item)
                self._secrets.update(request_secrets(request.headers, request.url))
            elif match is None:
                raise self._mismatch(stored)
        if match is not None:
            return replay_send(match, request, speed=self.speed, deadline=deadline, connect_timeout=connect_timeout,
                               provider=provider, cancel=cancel)
        assert item is not None
        try:
            return record_send(transport, request, item, sorted(self._secrets, key=len, reverse=True),
                               deadline=deadline, connect_timeout=connect_timeout, provider=provider, cancel=cancel)
        except BaseException:
            if item.error is None:  # nothing the server did (a configuration error, a cancel): not recorded
                with self._lock:
                    self.recorded.remove(item)
            raise


def cassette(path: str | os.PathLike[str], *, mode: str = "once", match_on: MatchOn = DEFAULT_MATCH_ON,
             speed: float = 1.0) -> Cassette:
    """Record or replay every LLM exchange of the process under ``path``; see :class:`Cassette`.

        with cassette("tests/cassettes/hello"):
            print(LLMClient("openai/gpt-4o-mini").chat("Hi").content)
    """
    return Cassette(path, mode=mode, match_on=match_on, speed=speed)
