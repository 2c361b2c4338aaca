"""HTTP/1.1 chunked transfer decoding over whole buffers (no I/O, no imports of note).

:class:`ChunkedDecoder` turns whatever bytes one socket read returned (any number of
chunks, or part of one) into the payload bytes they carry, in one ``bytes.find`` per
chunk. Real providers send one chunk per SSE event, so this is the per-event cost of the
transport: reading a large buffer and decoding it here does many events per Python-level
read, where ``http.client`` needs several calls per chunk. Nothing is held back: payload
bytes are returned the moment they are fed, even the first bytes of an unfinished chunk.
"""

from __future__ import annotations

__all__ = ["BodyError", "ChunkedDecoder", "ChunkedError"]

_MAX_LINE = 4096  # a chunk-size line or trailer line longer than this is not HTTP
_HEX = b"0123456789abcdefABCDEF"


class BodyError(ValueError):
    """The body's framing or encoding is broken; the message says how, in words."""


class ChunkedError(BodyError):
    """The chunked framing is broken."""


class ChunkedDecoder:
    """Incremental decoder: :meth:`feed` bytes, get payload; ``done`` after the last chunk.

    ``extra`` counts bytes that followed the end of the body (a connection carrying them
    is not safe to reuse).
    """

    __slots__ = ("_left", "_crlf", "_trailer", "_tail", "done", "extra", "error")

    def __init__(self) -> None:
        self._left = 0  # payload bytes of the current chunk still to come
        self._crlf = False  # the CRLF after a chunk's payload is due
        self._trailer = False  # past the last (zero-size) chunk: reading trailer lines
        self._tail = b""  # an unfinished size/trailer line (or CRLF) carried to the next feed
        self.done = False
        self.extra = 0
        self.error: ChunkedError | None = None  # broken framing found after good payload: raised next

    @property
    def mid_chunk(self) -> bool:
        """True when the body stopped inside a chunk's payload (not between chunks)."""
        return self._left > 0

    def feed(self, data: bytes) -> bytes:
        """Decode ``data``; return the payload bytes it completes (possibly b"").

        Broken framing raises :class:`ChunkedError`; when good payload came before it in
        the same ``data``, that payload is returned first and the error is kept in
        ``error`` (and raised by the next call)."""
        if self.error is not None:
            raise self.error
        out: list[bytes] = []
        try:
            self._feed(data, out)
        except ChunkedError as exc:
            if not out:
                raise
            self.error = exc
        if len(out) == 1:
            return out[0]
        return b"".join(out)

    def _feed(self, data: bytes, out: list[bytes]) -> None:
        if self.done:
            self.extra += len(data)
            return
        if self._tail:
            data, self._tail = self._tail + data, b""
        pos, n = 0, len(data)
        find = data.find
        while pos < n:
            left = self._left
            if left:
                end = pos + left
                if end > n:
                    out.append(data[pos:] if pos else data)
                    self._left = end - n
                    pos = n
                    break
                out.append(data[pos:end])
                self._left = 0
                pos = end
                self._crlf = True
                continue
            if self._crlf:
                if n - pos < 2:
                    break
                if data[pos:pos + 2] != b"\r\n":
                    raise ChunkedError("the chunked body is malformed: a chunk is longer than its declared size "
                                       "(no CRLF after the chunk data)")
                pos += 2
                self._crlf = False
                continue
            i = find(b"\r\n", pos)
            if i < 0:
                break
            if self._trailer:
                if i == pos:  # the empty line that ends the body
                    self.done = True
                    self.extra = n - i - 2
                    return
                pos = i + 2
                continue
            line = data[pos:i]
            if line and len(line) <= 16 and not line.strip(_HEX):  # the common case: plain hex digits
                size = int(line, 16)
            else:  # extensions, spaces, or what int(..., 16) takes and HTTP does not ("0x5", "1_0")
                size = _chunk_size(line)
            pos = i + 2
            if size:
                self._left = size
            else:
                self._trailer = True
        if pos < n:
            self._tail = data[pos:]
            if len(self._tail) > _MAX_LINE:
                what = "trailer line" if self._trailer else "chunk-size line"
                raise ChunkedError(f"the chunked body is malformed: a {what} longer than {_MAX_LINE} bytes")

    def eof_error(self) -> str:
        """What went wrong when the connection closed before the last chunk."""
        if self._left:
            return f"the chunked body ended mid-chunk ({self._left} bytes of the chunk never arrived)"
        return "the chunked body ended before its last (zero-size) chunk"


def _chunk_size(line: bytes) -> int:
    semi = line.find(b";")
    if semi >= 0:  # chunk extensions are ignored
        line = line[:semi]
    line = line.strip(b" \t")
    if not line or len(line) > 16 or line.strip(_HEX):
        shown = line[:40].decode("latin-1")
        raise ChunkedError(f"the chunked body is malformed: invalid chunk size {shown!r}")
    return int(line, 16)
