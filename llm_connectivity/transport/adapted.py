"""The requests path's side of a response: a ``requests.Response`` as an
:class:`~.response.Exchange` (used for a caller's Session and for proxies).

The body is read straight from the socket file when it is plain
(:func:`.body.direct_reader`), else through urllib3's ``read1`` (gzip...). We give the
connection back to the pool ourselves, after the body was read to its end: urllib3 would
release it inside a read, out of reach of the response's abort lock. No import of
requests or urllib3 here (their objects are used by attribute).
"""

from __future__ import annotations

import socket
from typing import Any

from .body import READ_SIZE, BodyReader, body_reader, direct_reader, encoding_of
from .direct import Headers, framing, read_head
from .http11 import RequestState

__all__ = ["RequestsExchange"]


def _socket_of(original: Any) -> socket.socket | None:
    """The socket an ``http.client`` response reads from (its own, even when the response
    ended the connection and the pooled connection no longer holds it)."""
    sock = getattr(original, "llm_sock", None)
    if sock is None:  # a plain http.client response (a user's Session): through its file
        sock = getattr(getattr(getattr(original, "fp", None), "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


class _ReadAlready:
    """A body something else read in full (urllib3 then released the connection itself)."""

    __slots__ = ("_content",)
    reusable = True

    def __init__(self, content: bytes) -> None:
        self._content = content

    def read(self) -> bytes:
        content, self._content = self._content, b""
        return content


class RequestsExchange:
    """The body and connection of a ``requests.Response`` (see :class:`.response.Exchange`):
    read straight from the socket file when the body is plain (:func:`.body.direct_reader`),
    else through urllib3; we give the connection back ourselves (urllib3 would release it
    inside a read, out of reach of the abort lock)."""

    __slots__ = ("_response", "_raw", "_original", "_pool", "_reader", "_keep", "read", "sock")

    def __init__(self, response: Any) -> None:
        self._response = response
        self._raw = raw = response.raw
        self._original = getattr(raw, "_original_response", None)
        self._pool: Any = None
        self._reader: BodyReader | None = None
        self._keep = True  # False once the framing of an answer read by skip_interim says so
        self.sock = _socket_of(self._original)
        content = getattr(response, "_content", False)
        if isinstance(content, bytes) and getattr(response, "_content_consumed", False):
            self._reader = _ReadAlready(content)  # a response hook of the Session read the body
        elif getattr(raw, "_pool", None) is not None and hasattr(raw, "_connection"):  # urllib3's response
            self._pool, raw._pool = raw._pool, None
            self._reader = direct_reader(self._original, raw)
        self.read = self._reader.read if self._reader is not None else self._read_raw

    def skip_interim(self, method: str) -> tuple[int, Headers] | None:
        """The adapter passed an interim 1xx response on (``http.client`` skips only 100
        Continue): read the final status line and headers from the same socket file, and
        its body from there; None when the response is not ``http.client``'s."""
        original = self._original
        if original is None or getattr(original, "fp", None) is None or self._pool is None:
            return None
        version, status, headers = read_head(original.fp, RequestState())
        chunked, length, self._keep = framing(method, version, status, headers)
        self._reader = body_reader(original.fp, chunked=chunked, length=length,
                                   encoding=encoding_of(headers.get("content-encoding")))
        self.read = self._reader.read
        return status, headers

    def check_framing(self, method: str) -> None:
        """Apply the direct path's framing rules (:func:`.direct.framing`) to what
        ``http.client`` parsed: a transfer coding it cannot read is refused (it would read
        the raw bytes until the close), and a body framed by both Transfer-Encoding and
        Content-Length never leaves its connection reusable."""
        original = self._original
        if original is None or not hasattr(original, "version"):
            return
        headers = Headers((k.lower(), v) for k, v in self._response.headers.items())
        version = "HTTP/1.0" if original.version == 10 else "HTTP/1.1"
        self._keep = framing(method, version, original.status, headers)[2]

    def _read_raw(self) -> bytes:
        return self._raw.read1(READ_SIZE, decode_content=True)  # type: ignore[no-any-return]

    def clean(self) -> bool:
        if self._reader is not None:
            return self._keep and self._reader.reusable and self._original is not None
        return self._pool is None or (self._keep and self._original is not None and self._original.isclosed())

    def give_back(self) -> None:
        if self._original is not None:
            self._original.close()  # http.client refuses the next request until its response is closed
        conn, self._raw._connection = getattr(self._raw, "_connection", None), None
        self._response.close()
        if self._pool is not None and conn is not None:
            self._pool._put_conn(conn)

    def discard(self) -> None:
        conn = getattr(self._raw, "_connection", None)
        self._response.close()  # closes the connection, if the response still holds it
        if self._pool is not None and conn is not None:
            self._pool._put_conn(conn)  # closed: the pool's next checkout connects anew
