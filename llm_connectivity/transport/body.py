"""Reading a response body straight from ``http.client``'s buffered socket file.

After urllib3 and ``http.client`` did the connection, proxy, TLS, status line and headers,
:func:`direct_reader` returns a reader that takes the body's bytes from the response's
buffered socket file with one ``read1`` per call (everything the socket has, up to 64 KiB)
and removes the transfer framing itself: Content-Length, connection-close, and chunked
bodies through :class:`~.chunked.ChunkedDecoder`. One read then carries many SSE events,
where ``http.client`` and urllib3 need several Python calls per chunk. Anything unusual
(a Content-Encoding, a response something else already read from, an adapter that is not
urllib3's) returns None: the caller keeps urllib3's ``read1`` path.

Readers return payload bytes as they arrive (never waiting for more), ``b""`` once the
body ended cleanly (``complete``; ``reusable`` when the connection is clean), and raise
:class:`BodyCut` (the connection ended early) or :class:`~.chunked.ChunkedError`.
"""

from __future__ import annotations

import http.client
import zlib
from typing import Any, Protocol

from .chunked import BodyError, ChunkedDecoder, ChunkedError

__all__ = ["READ_SIZE", "BodyCut", "BodyError", "BodyReader", "ChunkedError", "body_reader", "direct_reader",
           "encoding_of"]

READ_SIZE = 65536


class BodyCut(Exception):
    """The connection ended before the body did; the message says where."""


class BodyReader(Protocol):
    """One body, read piece by piece (see the module docstring)."""

    @property
    def reusable(self) -> bool:
        """After the end of the body: the connection carries nothing more of it."""

    def read(self) -> bytes:
        """The next payload piece; b"" at the end of the body."""


class _ChunkedBody:
    __slots__ = ("_read1", "_decoder", "complete", "reusable")

    def __init__(self, fp: Any) -> None:
        self._read1 = fp.read1
        self._decoder = ChunkedDecoder()
        self.complete = self.reusable = False

    def read(self) -> bytes:
        decoder = self._decoder
        while not decoder.done:
            if decoder.error is not None:
                raise decoder.error
            data = self._read1(READ_SIZE)
            if not data:
                raise BodyCut(decoder.eof_error())
            piece = decoder.feed(data)
            if piece:
                return piece
        self.complete = True
        self.reusable = not decoder.extra
        return b""


class _LengthBody:
    __slots__ = ("_read1", "_left", "_length", "_extra", "complete", "reusable")

    def __init__(self, fp: Any, length: int) -> None:
        self._read1 = fp.read1
        self._left = self._length = length
        self._extra = False  # bytes followed the body: the server framed it wrongly
        self.complete = self.reusable = False

    def read(self) -> bytes:
        left = self._left
        if left <= 0:
            self.complete = True
            self.reusable = not self._extra
            return b""
        data: bytes = self._read1(READ_SIZE)  # everything that arrived: bytes past the body are seen
        if not data:
            raise BodyCut(f"the body ended after {self._length - left} of its {self._length} bytes "
                          "(Content-Length)")
        if len(data) > left:
            self._extra = True
            data = data[:left]
        self._left = left - len(data)
        return data


class _CloseBody:
    __slots__ = ("_read1", "complete", "reusable")

    def __init__(self, fp: Any) -> None:
        self._read1 = fp.read1
        self.complete = self.reusable = False

    def read(self) -> bytes:
        data: bytes = self._read1(READ_SIZE)
        if not data:
            self.complete = True  # the connection is gone with the body: never reused
        return data


class _DecodedBody:
    """gzip / deflate (zlib-wrapped) Content-Encoding over another reader."""

    __slots__ = ("_inner", "_zlib", "_name", "_ended", "_fed", "_head")

    def __init__(self, inner: BodyReader, name: str) -> None:
        self._inner = inner
        self._zlib = zlib.decompressobj(32 + zlib.MAX_WBITS)  # either header
        self._name = name
        self._ended = False
        self._fed = False  # some compressed bytes arrived (an empty body is not a cut one)
        # "deflate" is zlib-wrapped by the RFC, raw in some servers: the bytes fed until the
        # zlib header was accepted, to start over as raw deflate (None: decided)
        self._head: bytes | None = b"" if name == "deflate" else None

    @property
    def reusable(self) -> bool:
        return self._inner.reusable

    def read(self) -> bytes:
        while not self._ended:
            data = self._inner.read()
            try:
                if not data:
                    self._ended = True
                    out = self._zlib.flush()
                    if self._fed and not self._zlib.eof:  # close-delimited framing cannot tell: zlib can
                        raise BodyCut(f"the {self._name} body ended before its compressed stream did")
                    return out
                self._fed = True
                out = self._zlib.decompress(data) if self._head is None else self._deflate(data)
            except zlib.error as exc:
                raise BodyError(f"could not decode the response body (Content-Encoding: {self._name}): {exc}") from exc
            if out:
                return out
        return b""

    def _deflate(self, data: bytes) -> bytes:
        head = self._head = (self._head or b"") + data
        try:
            out: bytes = self._zlib.decompress(data)
        except zlib.error:  # no zlib header: raw deflate, from the first byte
            self._zlib, self._head = zlib.decompressobj(-zlib.MAX_WBITS), None
            return self._zlib.decompress(head)
        if len(head) >= 2:  # the two-byte zlib header passed its check
            self._head = None
        return out


def encoding_of(value: str | None) -> str | None:
    """The Content-Encoding to undo ("gzip"/"deflate"), None for none; raises BodyError
    for one this reader cannot decode."""
    if not value:
        return None
    name = value.strip().lower()
    if name in ("identity", ""):
        return None
    if name in ("gzip", "x-gzip", "deflate"):
        return name
    raise BodyError(f"the server sent a body with Content-Encoding {value!r}, which this client does not "
                    "decode (it asks for identity)")


def body_reader(fp: Any, *, chunked: bool, length: int | None, encoding: str | None) -> BodyReader:
    """A reader for a body framed as given (no length and not chunked: until the close)."""
    reader: BodyReader
    if chunked:
        reader = _ChunkedBody(fp)
    elif length is not None:
        reader = _LengthBody(fp, length)
    else:
        reader = _CloseBody(fp)
    return _DecodedBody(reader, encoding) if encoding else reader


def direct_reader(original: Any, raw: Any) -> BodyReader | None:
    """A direct reader for ``original`` (the ``http.client`` response under urllib3's
    ``raw``), or None when the body must go through urllib3 (see the module docstring)."""
    if not isinstance(original, http.client.HTTPResponse) or original.fp is None:
        return None
    encoding = original.getheader("content-encoding")
    if encoding and encoding.strip().lower() != "identity":
        return None
    if getattr(raw, "_fp_bytes_read", 1) or getattr(raw, "_decoded_buffer", None):
        return None  # urllib3 already read some of it
    if original.chunked:
        if original.chunk_left is not None:
            return None
        return _ChunkedBody(original.fp)
    if original.length is not None:
        return _LengthBody(original.fp, original.length)
    if original.will_close:
        return _CloseBody(original.fp)
    return None
