"""MemoryTransport: scripted HTTP exchanges with no sockets, and FakeClock: virtual time.

``LLMClient(..., transport=MemoryTransport([...]))`` streams, retries and fails exactly as
over sockets: every body read honours the :class:`~llm_connectivity.deadline.Deadline`
(a delay longer than the read limit raises the same ``ReadTimeoutError`` a socket read
would; total and content-idle limits likewise), ``close()`` from another thread wakes a
delay in progress, and every request is recorded. With ``LLMClient(..., clock=FakeClock())``
delays, timeouts and retry backoffs advance virtual time instead of sleeping::

    clock = FakeClock()
    transport = MemoryTransport([
        MemoryResponse(503),                                     # retried after a backoff
        Reply(chunks=["Hel", "lo"]),                             # rendered per provider
    ])
    client = LLMClient("openai/m", api_key="sk-test", transport=transport, clock=clock)
    assert client.chat_stream("hi").text() == "Hello"
    assert len(transport.requests) == 2 and clock.sleeps        # no real sleep happened
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union
from urllib.parse import urlsplit

from ..deadline import Deadline, SystemClock
from ..errors import LLMError, StreamInterruptedError
from ..request import HTTPRequest
from ..transport import Cancellation
from ..transport.prepare import USER_AGENT, apply_userinfo, has_header
from .scripts import Reply
from .wire import answer, read_http, writes

__all__ = ["FakeClock", "MemoryRequest", "MemoryResponse", "MemoryTransport", "ScriptExhaustedError"]


class FakeClock:
    """Virtual monotonic time: :meth:`sleep` advances it at once, running the callbacks
    scheduled with :meth:`call_later` whose time has come (e.g. ``stream.close``).
    ``sleeps`` lists every sleep asked of it (retry backoffs, timeouts waited out)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.RLock()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """The virtual time in seconds."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Advance ``seconds`` (recorded in :attr:`sleeps`)."""
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward, running due callbacks in time order."""
        if seconds < 0 or math.isinf(seconds) or math.isnan(seconds):
            raise ValueError(f"FakeClock cannot advance {seconds!r} seconds")
        with self._lock:
            end = self._now + seconds
            while self._timers and self._timers[0][0] <= end:
                at, _, callback = heapq.heappop(self._timers)
                self._now = max(self._now, at)
                callback()
            self._now = end

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` once virtual time has advanced ``delay`` seconds."""
        with self._lock:
            heapq.heappush(self._timers, (self._now + delay, next(self._seq), callback))


@dataclass
class MemoryResponse:
    """One scripted answer.

    ``body``: bytes (one piece), or a sequence of pieces (``bytes`` / ``str``) and
    exceptions (raised when the reader reaches them, e.g. ``StreamInterruptedError`` for a
    cut connection). ``delays[i]``: seconds before piece ``i`` arrives (missing: 0;
    ``math.inf``: never, so a limit fires). ``headers_delay``: seconds before the status
    line and headers. ``content_type``: default ``text/event-stream`` for a streamed
    request, else ``application/json`` (``""``: no Content-Type header at all).
    """

    status: int = 200
    body: bytes | str | Sequence[bytes | str | BaseException] = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delays: Sequence[float] = ()
    headers_delay: float = 0.0
    content_type: str | None = None

    def pieces(self) -> list[bytes | BaseException]:
        """The body as a list of byte pieces and exceptions."""
        items = [self.body] if isinstance(self.body, (bytes, str)) else list(self.body)
        return [item.encode() if isinstance(item, str) else item for item in items]


@dataclass(frozen=True)
class MemoryRequest:
    """A request the transport received: method, URL, headers, body and its decoded JSON."""

    method: str
    url: str
    headers: dict[str, str] = field(repr=False)
    body: bytes
    json: Any = None

    @property
    def path(self) -> str:
        """The URL's path and query."""
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


ScriptItem = Union[MemoryResponse, Reply, BaseException, Callable[[MemoryRequest], Any]]


class ScriptExhaustedError(AssertionError):
    """A request arrived after every scripted answer was used (and no handler is set)."""


class _Headers(Mapping[str, str]):
    """Case-insensitive, read-only response headers."""

    def __init__(self, items: Mapping[str, str]) -> None:
        self._items = {k.lower(): (k, v) for k, v in items.items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items


def _wait(seconds: float, deadline: Deadline, wake: threading.Event, provider: str | None) -> None:
    """Wait ``seconds`` as a blocking socket read would: the deadline's error if a limit
    fires first, StreamInterruptedError if aborted meanwhile."""
    timeout, limit = deadline.next_timeout()
    fires = timeout is not None and timeout < seconds
    wait = timeout if fires and timeout is not None else seconds
    if isinstance(deadline.clock, SystemClock):
        wake.wait(None if math.isinf(wait) else wait)
    elif math.isinf(wait):
        raise ScriptExhaustedError("the script waits forever and no time limit is set (virtual clock)")
    elif wait > 0:
        deadline.clock.sleep(wait)
    if wake.is_set():
        raise StreamInterruptedError("connection lost while reading the response (aborted)", provider=provider)
    if fires:
        raise deadline.timeout_error(limit)


class _MemoryHTTPResponse:
    """The :class:`~llm_connectivity.transport.Response` of a :class:`MemoryTransport`."""

    def __init__(self, script: MemoryResponse, content_type: str, provider: str | None,
                 transport: MemoryTransport) -> None:
        self.status_code = script.status
        headers = dict(script.headers)
        if content_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = content_type
        self.headers: Mapping[str, str] = _Headers(headers)
        self._pieces = script.pieces()
        self._delays = list(script.delays)
        self._provider = provider
        self._wake = threading.Event()
        self._transport = transport
        self.closed = False
        self.drained = False

    @property
    def content_type(self) -> str:
        """The Content-Type header."""
        return self.headers.get("content-type", "")

    def iter_bytes(self, deadline: Deadline) -> Iterator[bytes]:
        """Yield the scripted pieces after their delays, honouring ``deadline``."""
        try:
            for i, piece in enumerate(self._pieces):
                _wait(self._delays[i] if i < len(self._delays) else 0.0, deadline, self._wake, self._provider)
                if isinstance(piece, BaseException):
                    if isinstance(piece, LLMError) and piece.provider is None:
                        piece.provider = self._provider
                    raise piece
                if piece:
                    yield piece
            if self._wake.is_set():
                raise StreamInterruptedError("connection lost while reading the response (aborted)",
                                             provider=self._provider)
        except BaseException:
            self.close()
            raise
        self.close()

    def read_body(self, deadline: Deadline, limit: int = 1 << 20) -> bytes:
        """The whole body (capped at ``limit`` bytes)."""
        body = bytearray()
        pieces = self.iter_bytes(deadline)
        while len(body) < limit and (piece := next(pieces, b"")):
            body += piece
        self.close()
        return bytes(body[:limit])

    def drain(self, deadline: Deadline | None = None) -> None:
        """Mark the response fully read (the connection would go back to the pool)."""
        self.drained = True
        self.close()

    def abort(self) -> None:
        """From any thread: wake a delay in progress; the reader raises."""
        self._wake.set()

    def close(self) -> None:
        """Release the response; idempotent."""
        if not self.closed:
            self.closed = True
            self._transport._released(self)


class MemoryTransport:
    """A :class:`~llm_connectivity.transport.Transport` that answers from a script.

    Each request takes the next script item: a :class:`MemoryResponse`, a
    :class:`~llm_connectivity.testing.Reply` (answered exactly as
    :class:`~llm_connectivity.testing.FakeLLMServer` answers it: the same bytes, framing,
    delays and faults, read back as a client reads them off the socket; at a path the
    vendor would not serve, its 404, the Reply staying queued), an
    exception instance (raised by ``send``, e.g. ``ConnectError(...)``), or a callable
    ``handler(request) -> item``. When the script is used up, ``handler`` answers (if
    given), else :class:`ScriptExhaustedError` is raised. ``requests`` records every
    request; ``open_responses`` counts responses not yet released.
    """

    def __init__(self, script: Iterable[ScriptItem] = (), *, handler: Callable[[MemoryRequest], Any] | None = None,
                 ) -> None:
        self._script: list[ScriptItem] = list(script)
        self._handler = handler
        self._lock = threading.Lock()
        self._open: set[int] = set()
        self.requests: list[MemoryRequest] = []

    def add(self, *items: ScriptItem) -> None:
        """Append answers to the script."""
        with self._lock:
            self._script.extend(items)

    @property
    def open_responses(self) -> int:
        """Responses handed out and not yet closed (0 once every stream released its own)."""
        with self._lock:
            return len(self._open)

    def _released(self, response: _MemoryHTTPResponse) -> None:
        with self._lock:
            self._open.discard(id(response))

    def _next_item(self, request: MemoryRequest) -> tuple[Any, bool]:
        """The next answer, and whether it was taken from the script (not the handler)."""
        with self._lock:
            self.requests.append(request)
            scripted = bool(self._script)
            item: Any = self._script.pop(0) if scripted else self._handler
        if item is None:
            raise ScriptExhaustedError(f"MemoryTransport: no scripted answer left for {request.method} {request.url}")
        while callable(item) and not isinstance(item, (MemoryResponse, Reply, BaseException)):
            item = item(request)
        return item, scripted

    def _rendered(self, reply: Reply, request: MemoryRequest, scripted: bool) -> MemoryResponse | BaseException:
        """``reply`` read back from the bytes FakeLLMServer would write for ``request``
        (its 404 at a path the vendor would not serve, the reply then staying queued)."""
        taken: list[Reply] = []

        def take(api: str, payload: Any) -> Reply:
            taken.append(reply)
            return reply

        headers = {k.lower(): v for k, v in request.headers.items()}
        steps, keep_alive = writes(*answer(request.method, request.path, headers, request.json, take))
        if scripted and not taken:
            with self._lock:
                self._script.insert(0, reply)
        try:
            reading = read_http(steps, keep_alive, head_request=request.method == "HEAD")
        except LLMError as exc:  # the connection broke before the headers, or they are not HTTP
            return exc
        return MemoryResponse(reading.status, reading.pieces, reading.headers, reading.delays,
                              reading.headers_delay, content_type="")

    def send(self, request: HTTPRequest, *, deadline: Deadline, connect_timeout: float | None,
             provider: str | None = None, cancel: Cancellation | None = None) -> _MemoryHTTPResponse:
        """Record ``request`` and answer it from the script (see the class docstring)."""
        try:
            payload = json.loads(request.body) if request.body else None
        except ValueError:
            payload = None
        # as the socket transport sends it: URL userinfo as Basic auth (or the conflict
        # with the key refused), and the library's User-Agent
        url, headers = apply_userinfo(request.url, dict(request.headers), provider)
        if not has_header(headers, "user-agent"):
            headers = {**headers, "User-Agent": USER_AGENT}
        recorded = MemoryRequest(request.method, url, headers, request.body, payload)
        if cancel is not None and cancel.cancelled:
            raise StreamInterruptedError("connection lost before the response arrived (aborted)", provider=provider)
        item, scripted = self._next_item(recorded)
        if isinstance(item, Reply):
            item = self._rendered(item, recorded, scripted)
        if isinstance(item, LLMError) and item.provider is None:
            item.provider = provider
        if isinstance(item, BaseException):
            raise item
        if not isinstance(item, MemoryResponse):
            raise TypeError(f"MemoryTransport script items are MemoryResponse, Reply, exceptions or callables; "
                            f"got {item!r}")
        response = _MemoryHTTPResponse(item, _default_type(item, request), provider, self)
        with self._lock:
            self._open.add(id(response))
        wake = threading.Event()
        if cancel is not None:
            cancel.add_callback(wake.set)
        try:
            _wait(item.headers_delay, deadline, wake, provider)
        except BaseException:
            response.close()
            raise
        finally:
            if cancel is not None:
                cancel.remove_callback(wake.set)
        return response

    def close(self) -> None:
        """Nothing to release (no sockets)."""


def _default_type(item: MemoryResponse, request: HTTPRequest) -> str:
    if item.content_type is not None:
        return item.content_type
    return "text/event-stream" if request.stream and 200 <= item.status < 300 else "application/json"
