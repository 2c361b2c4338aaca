"""What :class:`~llm_connectivity.testing.FakeLLMServer` answers to one request, byte for
byte: the one place that turns a request and a :class:`~llm_connectivity.testing.Reply`
into the writes on the connection. ``FakeLLMServer`` performs these writes on a socket;
:class:`~llm_connectivity.testing.MemoryTransport` reads them back with :func:`read_http`,
the way a client would read them off the socket, so both answer, frame and break alike.

- :func:`answer`: the route check (a path the vendor would 404 gets its 404) and the
  Reply rendered in the wire format of the API called: ``(status, headers, actions, framing)``.
- :func:`writes`: those, framed as the server writes them (status line, headers, chunked /
  Content-Length / close-delimited body), as :class:`Action` steps, and whether the
  connection stays open afterwards.
- :func:`read_http`: such steps read back as a client would: interim ``1xx`` responses
  skipped, the body unframed and decoded (gzip, deflate) by the socket transport's own
  readers, timing kept; a connection closed or a framing broken mid-answer becomes the
  error (and message) the socket transport raises.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProtocolError, StreamInterruptedError
from ..transport.body import BodyCut, BodyError, body_reader, encoding_of
from .routes import guess_api, resolve_route
from .scripts import Action, Reply, error_body, render, split_tokens

__all__ = ["Answer", "HTTPReading", "answer", "prompt_text", "read_http", "writes"]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            408: "Request Timeout", 409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 529: "Overloaded"}

#: ``(status, headers, actions, framing)``, as :func:`~llm_connectivity.testing.scripts.render` returns.
Answer = tuple[int, dict[str, str], list[Action], str]


def prompt_text(api: str, body: Any) -> str:
    """The text of the prompt in a request body of ``api`` (for the default reply and
    the prompt token count)."""
    if not isinstance(body, dict):
        return ""
    if api == "gemini":
        parts = [p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", []) if isinstance(p, dict)]
        return " ".join(parts)
    items = body.get("messages") if api != "responses" else body.get("input")
    if isinstance(items, str):
        return items
    texts = []
    for m in items or []:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p.get("text", "") for p in content if isinstance(p, dict)]
    return " ".join(texts)


def answer(method: str, path: str, headers: Mapping[str, str], payload: Any,
           next_reply: Callable[[str, Any], Reply]) -> Answer:
    """The answer to one request: the vendor's 404 for a path it would not serve (no
    reply is taken), else ``next_reply(api, payload)`` rendered for the API called.
    ``headers`` are the request's, with lower-case names."""
    api, problem = resolve_route(method, path)
    if api is None or problem:
        body = error_body(404, api or guess_api(headers), problem)
        return 404, {"Content-Type": "application/json"}, [Action("send", body)], "length"
    payload = payload if isinstance(payload, dict) else {}
    stream = api == "gemini" and ":streamGenerateContent" in path or bool(payload.get("stream"))
    options = payload.get("stream_options")
    include_usage = api != "chat" or (isinstance(options, dict) and bool(options.get("include_usage")))
    model = str(payload.get("model") or path.split("/models/")[-1].split(":")[0])
    prompt_tokens = len(split_tokens(prompt_text(api, payload)))
    return render(next_reply(api, payload), api=api, model=model, stream=stream, prompt_tokens=prompt_tokens,
                  include_usage=include_usage)


def writes(status: int, headers: Mapping[str, str], actions: Sequence[Action], framing: str,
           ) -> tuple[list[Action], bool]:
    """The steps the server performs for an answer: ``send`` (bytes exactly as written,
    framing included), ``sleep``, ``hang`` and ``close``; and whether the connection
    stays open for the next request afterwards."""
    if framing == "none":  # no status line at all: only the scripted bytes, then close
        steps = [Action("send", a.data) if a.kind == "raw" else a for a in actions]
        return steps, False
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    names = {k.lower() for k in headers}
    if framing == "length" and "content-length" not in names:
        lines.append(f"Content-Length: {sum(len(a.data) for a in actions if a.kind == 'send')}")
    elif framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
    if framing == "close":
        lines.append("Connection: close")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    steps = [Action("send", ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))]
    for action in actions:
        if action.kind == "send":
            if action.data:
                steps.append(Action("send", b"%x\r\n%s\r\n" % (len(action.data), action.data)
                                    if framing == "chunked" else action.data))
        elif action.kind == "raw":
            steps.append(Action("send", action.data))
        else:
            steps.append(action)
            if action.kind in ("hang", "close"):
                return steps, False
    if framing == "chunked":
        steps.append(Action("send", b"0\r\n\r\n"))
    return steps, framing != "close"


@dataclass
class HTTPReading:
    """An answer read back from :func:`writes` steps: ``headers_delay`` (seconds until the
    final status line and headers were in; ``math.inf``: never), ``status``, ``headers``,
    and the body as ``pieces`` (bytes, or the error the read raises there), each after its
    ``delays`` entry."""

    headers_delay: float
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    pieces: list[bytes | BaseException] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)


def _lost(where: str, why: str) -> StreamInterruptedError:
    return StreamInterruptedError(f"connection lost {where} (the server closed or broke it: {why})")


class _Waits(Exception):
    """Nothing more arrives on the connection, yet it stays open."""


class _Socket:
    """The socket file of a connection that carries ``segments`` (``(delay, bytes)``
    writes): ``read1`` returns at most what one write brought; ``delay`` sums the waits."""

    def __init__(self, segments: list[tuple[float, bytes]], end: str) -> None:
        self._segments = segments
        self._end = end
        self.delay = 0.0

    def read1(self, size: int = -1) -> bytes:
        """The next bytes (``b""`` once the server closed; :class:`_Waits` if it holds)."""
        if not self._segments:
            if self._end == "wait":
                raise _Waits
            return b""
        delay, data = self._segments[0]
        if 0 <= size < len(data):
            self._segments[0] = (0.0, data[size:])
            data = data[:size]
        else:
            del self._segments[0]
        self.delay += delay
        return data

    def waited(self) -> float:
        """The waits since the last call."""
        delay, self.delay = self.delay, 0.0
        return delay


def _segments(steps: Sequence[Action], keep_alive: bool) -> tuple[list[tuple[float, bytes]], str]:
    """``(delay, bytes)`` per write (a last ``b""`` when the close comes after a wait), and
    how the connection ends: ``"close"``, or ``"wait"`` (hang, or open with nothing more
    to send)."""
    segments: list[tuple[float, bytes]] = []
    pending = 0.0
    for step in steps:
        if step.kind == "sleep":
            pending += step.seconds
        elif step.kind == "send" and step.data:
            segments.append((pending, step.data))
            pending = 0.0
        elif step.kind in ("hang", "close"):
            break
    else:
        return segments, "wait" if keep_alive else "close"
    if step.kind == "close" and pending:  # the close itself comes after a wait: b"" (EOF) then
        segments.append((pending, b""))
    return segments, "wait" if step.kind == "hang" else "close"


def _head(buffer: bytes) -> tuple[int, dict[str, str]]:
    lines = buffer.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise _lost("before the response arrived", f"bad status line {lines[0][:40]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = next((k for k in headers if k.lower() == name.strip().lower()), name.strip())
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return int(parts[1]), headers


def read_http(steps: Sequence[Action], keep_alive: bool, *, head_request: bool = False) -> HTTPReading:
    """Read :func:`writes` steps back as an HTTP/1.1 client does (see the module docstring).
    Raise the connection-lost error a client would if the connection closes before the
    final status line and headers."""
    segments, end = _segments(steps, keep_alive)
    buffer, waited, i = b"", 0.0, 0
    while True:  # the head, skipping interim 1xx responses
        while b"\r\n\r\n" not in buffer:
            if i == len(segments):
                if end == "close":
                    raise _lost("before the response arrived", "Remote end closed connection without response")
                return HTTPReading(math.inf)
            waited += segments[i][0]
            buffer += segments[i][1]
            i += 1
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        status, headers = _head(head)
        if not 100 <= status < 200:
            break
    reading = HTTPReading(waited, status, headers)
    lowered = {k.lower(): v for k, v in headers.items()}
    length = lowered.get("content-length", "").strip()
    wire = _Socket([(0.0, buffer)] * bool(buffer) + segments[i:], end)
    try:  # the body, read by the socket transport's own readers and chunked decoder
        reader = body_reader(wire, chunked="chunked" in lowered.get("transfer-encoding", "").lower(),
                             length=0 if head_request or status in (204, 304) else
                             int(length) if length.isdigit() else None,
                             encoding=encoding_of(lowered.get("content-encoding")))
    except BodyError as exc:
        raise ProtocolError(str(exc)) from None
    while True:
        piece: bytes | BaseException
        try:
            piece = reader.read()
        except _Waits:  # the body is not over and nothing more comes: only a time limit ends it
            reading.pieces.append(b"")
            reading.delays.append(math.inf)
            return reading
        except BodyCut as exc:  # the same errors RequestsTransport maps these to
            piece = StreamInterruptedError(f"connection lost while reading the response body (the server "
                                           f"closed it: {exc})")
        except BodyError as exc:
            piece = ProtocolError(str(exc))
        reading.pieces.append(piece)
        reading.delays.append(wire.waited())
        if not isinstance(piece, bytes) or not piece:
            return reading
