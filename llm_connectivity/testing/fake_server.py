"""FakeLLMServer: a real loopback HTTP/1.1 server that speaks the vendors' wire formats.

It answers at the paths the official SDKs use, under any API version prefix a real
endpoint accepts: ``.../v1/chat/completions`` and ``.../v1/responses`` (OpenAI and
compatible; also ``/openai/v1``, ``/api/v1``...), ``/v1/messages`` (Anthropic),
``/v1beta/models/{m}:streamGenerateContent`` and ``:generateContent`` (Gemini). A path
the real service would not serve (no version, a doubled version or route) gets a 404 in
the vendor's error shape (see :mod:`~llm_connectivity.testing.routes`). Replies come from a queue of scripted :class:`Reply`
objects (or a default answer), rendered in the format of the path that was called, with
chunked, connection-close or Content-Length framing, per-event delays and scripted
faults. Every request is recorded, with the number of the TCP connection it arrived on.
Binds only to 127.0.0.1 on a free port. What it writes is decided by
:mod:`~llm_connectivity.testing.wire`, which ``MemoryTransport`` reads back, so a script
behaves the same with or without sockets.

    with FakeLLMServer() as server:
        server.add_reply("Hello there!")
        client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="test")
        print(client.chat("Hi").content)
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from .scripts import Reply
from .wire import answer, prompt_text, writes

__all__ = ["FakeLLMServer", "RecordedRequest"]

_MAX_HEADER = 64 * 1024
_POLL_SECONDS = 0.5  # how often a worker waiting for a request checks for stop()


@dataclass
class RecordedRequest:
    """A request the server received: method, path (with query), lower-cased headers, body.

    ``connection`` numbers the TCP connection it arrived on (1 for the server's first
    accepted connection, 2 for the next...): requests with the same number reused one
    connection.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    received_at: float = field(default_factory=time.monotonic)
    connection: int = 0


class FakeLLMServer:
    """A scripted LLM endpoint on 127.0.0.1 for tests, demos and offline development.

    Parameters:
        default_reply: the Reply used when the queue is empty (default: a short answer
            that quotes the prompt, streamed word by word).
        delay: default seconds between streamed events for the default reply.
        port: the TCP port to listen on (0, the default: any free port).
    """

    def __init__(self, *, default_reply: Reply | None = None, delay: float = 0.0, port: int = 0) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int from 0 (any free port) to 65535, got {port!r}")
        self._port = port
        self.default_reply = default_reply
        self.delay = delay
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        self._accepted = 0  # connections accepted so far: numbers RecordedRequest.connection

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> FakeLLMServer:
        """Bind 127.0.0.1 on a free port and start serving in a daemon thread."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self._port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", self._port))
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        sock.settimeout(0.2)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name="FakeLLMServer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, close every connection and join every thread (bounded wait)."""
        self._stop.set()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            _shutdown(conn)
        if self._thread is not None:
            self._thread.join(timeout)
        for worker in list(self._workers):
            worker.join(timeout)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        assert self._sock is not None, "start the server first"
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        """Root URL (``http://127.0.0.1:PORT``): the base_url for Anthropic and Gemini."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL with the version (``http://127.0.0.1:PORT/v1``)."""
        return self.url + "/v1"

    def base_url_for(self, provider: str) -> str:
        """The base_url a client for ``provider`` should use (root for anthropic/gemini)."""
        return self.url if provider in ("anthropic", "gemini", "google") else self.base_url

    def env(self) -> dict[str, str]:
        """Environment variables that point OpenAI, Anthropic and Gemini clients (and the
        vendors' own SDKs) at this server, with dummy API keys."""
        return {"OPENAI_BASE_URL": self.base_url, "OPENAI_API_KEY": "sk-fake-local",
                "ANTHROPIC_BASE_URL": self.url, "ANTHROPIC_API_KEY": "sk-ant-fake-local",
                "GEMINI_BASE_URL": self.url, "GEMINI_API_KEY": "fake-local-key"}

    # -- scripting ----------------------------------------------------------------------------
    def add_reply(self, text: str | Reply = "", **options: Any) -> Reply:
        """Queue a reply for the next request: a text (plus Reply options) or a Reply."""
        reply = text if isinstance(text, Reply) else Reply(text=text, **options)
        with self._lock:
            self._replies.append(reply)
        return reply

    def add_replies(self, replies: Iterable[Reply | str]) -> None:
        """Queue several replies, answered in order."""
        for reply in replies:
            self.add_reply(reply)

    def add_raw(self, body: bytes, *, content_type: str = "text/event-stream", status: int = 200,
                headers: dict[str, str] | None = None, pieces: list[int] | None = None,
                framing: str = "chunked", delay: float = 0.0) -> Reply:
        """Queue an exact body (e.g. a recorded stream), written in ``pieces`` byte lengths."""
        return self.add_reply(Reply(body=body, content_type=content_type, status=status, headers=headers or {},
                                    pieces=pieces, framing=framing, delay=delay))

    def pending(self) -> int:
        """Number of queued replies not yet used."""
        with self._lock:
            return len(self._replies)

    # -- serving ------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._accepted += 1
            worker = threading.Thread(target=self._serve_connection, args=(conn, self._accepted), daemon=True)
            with self._lock:
                self._conns.add(conn)
                self._workers = {w for w in self._workers if w.is_alive()}
                self._workers.add(worker)
            worker.start()

    def _serve_connection(self, conn: socket.socket, number: int) -> None:
        """Serve requests on one connection until it closes or the server stops.

        Reads poll with a short timeout so stop() is noticed; writes block (a slow reader
        must not cut the answer), and stop() shuts the socket down, which ends them.
        """
        buffer = b""
        try:
            while not self._stop.is_set():
                conn.settimeout(_POLL_SECONDS)
                request, buffer = self._read_request(conn, buffer)
                if request is None:
                    return
                request.connection = number
                conn.settimeout(None)
                if not self._answer(conn, request):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            _shutdown(conn)

    def _read_request(self, conn: socket.socket, buffer: bytes) -> tuple[RecordedRequest | None, bytes]:
        while b"\r\n\r\n" not in buffer:
            data = self._recv(conn)
            if not data or len(buffer) > _MAX_HEADER:
                return None, b""
            buffer += data
        head, _, rest = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(rest) < length:
            data = self._recv(conn)
            if not data:
                return None, b""
            rest += data
        body, rest = rest[:length], rest[length:]
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        return RecordedRequest(method, path, headers, body, parsed), rest

    def _recv(self, conn: socket.socket) -> bytes:
        while not self._stop.is_set():
            try:
                return conn.recv(65536)
            except socket.timeout:
                continue
        return b""

    def _next_reply(self, api: str, body: Any) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        if self.default_reply is not None:
            return self.default_reply
        prompt = prompt_text(api, body).strip() or "nothing"
        text = (f"Hello from FakeLLMServer! You said: \"{prompt[:200]}\". This answer is streamed "
                "over real HTTP from a local server, one token at a time, so you can try "
                "llm_connectivity without an API key.")
        return Reply(text=text, delay=self.delay)

    def _answer(self, conn: socket.socket, request: RecordedRequest) -> bool:
        """Answer one request (see :func:`~llm_connectivity.testing.wire.answer`); return
        False if the connection must close."""
        with self._lock:
            self.requests.append(request)
        steps, keep_alive = writes(*answer(request.method, request.path, request.headers, request.json,
                                           self._next_reply))
        for step in steps:
            if step.kind == "send":
                conn.sendall(step.data)
            elif step.kind == "sleep":
                self._stop.wait(step.seconds)
            elif step.kind == "hang":
                self._stop.wait()
            if step.kind in ("hang", "close") or self._stop.is_set():
                return False
        return keep_alive


def _shutdown(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()
