"""A loopback HTTP server that writes exactly the bytes a test scripts (for framings and
faults FakeLLMServer cannot produce: interim 1xx responses, header floods, stale
keep-alives, TLS, redirects).

Each request (read up to its Content-Length body) is answered with the next queued
script, a list of steps: ``bytes`` are written, a ``float`` sleeps (interruptible by
stop()), ``CLOSE`` closes the connection, ``HANG`` holds it until stop(). After a script
without CLOSE the connection stays open for the next request (keep-alive). Every request is
recorded with the number of the connection it came on (1, 2, ...).
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections import deque
from typing import Any, Union

from llm_connectivity.testing import FakeLLMServer
from llm_connectivity.testing.fake_server import RecordedRequest

CLOSE = "close"
HANG = "hang"
Step = Union[bytes, float, str]


Seen = RecordedRequest  # a request the server received (method, path, lower-cased headers, body, connection)


def sse_response(text: str, *, headers: str = "", status: str = "200 OK") -> bytes:
    """A complete chunked OpenAI-style event stream answering with ``text`` (one chunk per event)."""
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        event = {"id": "c", "object": "chat.completion.chunk", "model": "m",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(event).encode() + b"\n\n"
    events = [chunk({"content": text}), chunk({}, "stop"), b"data: [DONE]\n\n"]
    body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
    head = (f"HTTP/1.1 {status}\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            f"{headers}\r\n").encode()
    return head + body


class RawServer:
    """See the module docstring. Use as a context manager; binds 127.0.0.1 only."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, default: list[Step] | None = None) -> None:
        self.tls = tls
        self.default = default
        self.seen: list[Seen] = []
        self.handshakes = 0
        self._scripts: deque[list[Step]] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._count = 0

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._sock.getsockname()[1])

    @property
    def base_url(self) -> str:
        """``http(s)://127.0.0.1:<port>/v1``."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/v1"

    def queue(self, *scripts: list[Step]) -> None:
        """Answer the next requests with ``scripts``, in order."""
        with self._lock:
            self._scripts.extend(scripts)

    def __enter__(self) -> RawServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        with self._lock:
            for conn in self._conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for thread in list(self._threads):
            thread.join(5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self._count += 1
            thread = threading.Thread(target=self._serve, args=(conn, self._count), daemon=True)
            with self._lock:
                self._conns.append(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            if self.tls is not None:
                conn.settimeout(5)
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                finally:
                    self.handshakes += 1
                with self._lock:
                    self._conns.append(conn)
            conn.settimeout(0.1)
            buffer = b""
            while not self._stop.is_set():
                request, buffer = self._read_request(conn, buffer, number)
                if request is None:
                    return
                with self._lock:
                    self.seen.append(request)
                    script = self._scripts.popleft() if self._scripts else self.default
                if script is None or not self._play(conn, script):
                    return
        except OSError:  # the client reset the connection
            return
        finally:
            conn.close()

    def _play(self, conn: socket.socket, script: list[Step]) -> bool:
        for step in script:
            if isinstance(step, bytes):
                conn.settimeout(None)
                try:
                    conn.sendall(step)
                except OSError:
                    return False
                conn.settimeout(0.1)
            elif isinstance(step, float):
                if self._stop.wait(step):
                    return False
            elif step == HANG:
                self._stop.wait()
                return False
            elif step == CLOSE:
                return False
        return True

    def _read_request(self, conn: socket.socket, buffer: bytes, number: int) -> tuple[Seen | None, bytes]:
        # FakeLLMServer's request reader needs only self._recv and self._stop, which this class has.
        request, rest = FakeLLMServer._read_request(self, conn, buffer)  # type: ignore[arg-type]
        if request is None:
            return None, b""
        request.connection = number
        return request, rest

    _recv = FakeLLMServer._recv  # poll until data or stop()
