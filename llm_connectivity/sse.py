"""Server-Sent Events: a WHATWG-exact, incremental decoder from bytes to :class:`SSEEvent`.

It follows the "event stream interpretation" rules of the HTML standard:

* lines end with CRLF, LF or CR, in any mix, including a CRLF split across two reads;
* one leading U+FEFF (BOM) is stripped at the start of the stream, once;
* lines starting with ``:`` are comments; a line without ``:`` is a field with an empty value;
  one space after the colon is stripped;
* ``data`` lines are joined with LF; ``event`` sets the type (default ``"message"``);
  ``id`` sets the last event id unless it contains NUL, and carries over to later events;
  ``retry`` is honoured only when it is all ASCII digits; other fields are ignored;
* a blank line dispatches the event, unless its data buffer is empty;
* at end of stream an event without its blank line is discarded, never dispatched;
* invalid UTF-8 decodes to U+FFFD.

Each event is yielded as soon as the read that completes it returns: nothing is held back.
Lines, and the data of one event, are capped (``max_line_bytes``, 16 MiB by default) so a
hostile stream cannot grow memory without bound; going over raises
:class:`~llm_connectivity.errors.ProtocolError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import ProtocolError

__all__ = ["DEFAULT_MAX_LINE_BYTES", "SSEDecoder", "SSEEvent", "iter_sse"]

DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: ``event`` type, ``data`` text, last event ``id``, ``retry`` in ms."""

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


_SET_EVENT, _SET_DATA, _SET_ID, _SET_RETRY = (getattr(SSEEvent, f).__set__ for f in ("event", "data", "id", "retry"))


def _make_event(event: str, data: str, last_id: str, retry: int | None) -> SSEEvent:
    """SSEEvent(event, data, last_id, retry) without the frozen-dataclass ``__init__`` cost."""
    obj = object.__new__(SSEEvent)
    _SET_EVENT(obj, event)
    _SET_DATA(obj, data)
    _SET_ID(obj, last_id)
    _SET_RETRY(obj, retry)
    return obj


class SSEDecoder:
    """Incremental decoder: ``feed(bytes) -> list[SSEEvent]``, then ``close()`` at end of stream.

    >>> d = SSEDecoder()
    >>> d.feed(b"data: hel")
    []
    >>> d.feed(b"lo\\n\\n")
    [SSEEvent(event='message', data='hello', id='', retry=None)]
    """

    __slots__ = ("_pending", "_pending_len", "_skip_lf", "_bom_checked", "_data", "_data_len", "_event",
                 "_id_buffer", "_last_id", "_retry", "_max_line", "_error")

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._pending: list[bytes] = []  # pieces of the current unterminated line
        self._pending_len = 0
        self._skip_lf = False  # the previous piece ended with CR: drop one leading LF
        self._bom_checked = False
        self._data: list[bytes] = []
        self._data_len = 0  # bytes buffered in _data: one event is capped like one line
        self._event = b""
        self._id_buffer = ""  # the spec's "last event ID buffer": set by ``id`` lines
        self._last_id = ""  # the "last event ID string": committed by each blank line
        self._retry: int | None = None
        self._max_line = max_line_bytes
        self._error: ProtocolError | None = None

    @property
    def last_event_id(self) -> str:
        """The last event id of a completed block (what a reconnect would send as ``Last-Event-ID``).

        An ``id`` line counts once the blank line ending its block has been read (even when
        the block has no data), never for a block cut off by the end of the stream.
        """
        return self._last_id

    @property
    def has_partial_event(self) -> bool:
        """True when bytes of an event that was never completed are buffered."""
        return bool(self._pending_len or self._data or self._event)

    def feed(self, piece: bytes) -> list[SSEEvent]:
        """Decode ``piece`` and return the events it completes (often none or one)."""
        if self._error is not None:
            raise self._error
        piece = self._normalize(piece)
        if b"\n" not in piece:
            self._add_pending(piece)
            return []
        lines = piece.split(b"\n")
        if self._pending:
            lines[0] = b"".join(self._pending) + lines[0]
            self._pending.clear()
            self._pending_len = 0
        events: list[SSEEvent] = []
        try:
            self._process_lines(lines, events)
        except ProtocolError as exc:
            if not events:
                raise
            self._error = exc  # deliver the complete events first; raise on the next call
            self._pending.clear()
            self._pending_len = 0
        return events

    def _normalize(self, piece: bytes) -> bytes:
        """Strip the BOM once, drop the LF of a CRLF split across reads, and turn every
        line ending into LF (a CR ending this piece is remembered)."""
        if not self._bom_checked:
            piece = self._strip_bom(piece)
        if self._skip_lf and piece:
            self._skip_lf = False
            if piece[0] == 0x0A:
                piece = piece[1:]
        if b"\r" in piece:
            if piece[-1] == 0x0D:
                self._skip_lf = True
            piece = piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return piece

    def _process_lines(self, lines: list[bytes], events: list[SSEEvent]) -> None:
        """Interpret complete lines (all but the last item) and keep the unterminated tail."""
        tail = lines.pop()
        for line in lines:
            if line:
                self._process_field(line)
                continue
            self._last_id = self._id_buffer  # "dispatch the event", step 1: even without data
            if self._data:
                events.append(self._dispatch())
            else:
                self._event = b""
        if tail:
            self._add_pending(tail)

    def close(self) -> None:
        """End of stream: discard any incomplete event, as the standard requires (and
        raise a pending over-long-line error held back so earlier events were delivered)."""
        if self._error is not None:
            raise self._error
        self._pending.clear()
        self._pending_len = 0
        self._data.clear()
        self._data_len = 0
        self._event = b""

    def _strip_bom(self, piece: bytes) -> bytes:
        head = b"".join(self._pending) + piece
        if len(head) < 3 and _BOM.startswith(head):
            self._pending = [head] if head else []
            self._pending_len = len(head)
            return b""
        self._bom_checked = True
        self._pending.clear()
        self._pending_len = 0
        return head[3:] if head.startswith(_BOM) else head

    def _add_pending(self, piece: bytes) -> None:
        if not piece:
            return
        self._pending_len += len(piece)
        if self._pending_len > self._max_line:
            size = self._pending_len
            self._pending.clear()
            self._pending_len = 0
            raise ProtocolError(
                f"event stream line exceeds {self._max_line} bytes ({size} bytes buffered); "
                "raise max_line_bytes if such events are legitimate"
            )
        self._pending.append(piece)

    def _process_field(self, line: bytes) -> None:
        if len(line) > self._max_line:
            raise ProtocolError(f"event stream line exceeds {self._max_line} bytes ({len(line)} bytes)")
        colon = line.find(b":")
        if colon == 0:
            return  # comment
        if colon < 0:
            name, value = line, b""
        else:
            name = line[:colon]
            value = line[colon + 2:] if line[colon + 1:colon + 2] == b" " else line[colon + 1:]
        if name == b"data":
            self._data_len += len(value) + 1
            if self._data_len > self._max_line:
                size, self._data, self._data_len = self._data_len, [], 0
                raise ProtocolError(f"event stream event exceeds {self._max_line} bytes of data ({size} bytes "
                                    "buffered); raise max_line_bytes if such events are legitimate")
            self._data.append(value)
        elif name == b"event":
            self._event = value
        elif name == b"id":
            if b"\x00" not in value:
                self._id_buffer = value.decode("utf-8", "replace")
        elif name == b"retry":
            if value and value.isdigit():
                self._retry = int(value)

    def _dispatch(self) -> SSEEvent:
        data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        self._data = []
        self._data_len = 0
        event = self._event.decode("utf-8", "replace") if self._event else "message"
        self._event = b""
        return _make_event(event, data.decode("utf-8", "replace"), self._last_id, self._retry)


def iter_sse(byte_chunks: Iterable[bytes], *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[SSEEvent]:
    """Yield the events of an event stream given as an iterable of byte pieces.

    Pieces may be split anywhere (inside a line, a CRLF, a UTF-8 sequence). Each event is
    yielded as soon as its terminating blank line has been read; an event left incomplete
    at the end of the stream is discarded.

    >>> [e.data for e in iter_sse([b"data: a\\n\\ndata: b\\r\\n", b"\\r\\ndata: cut"])]
    ['a', 'b']
    """
    decoder = SSEDecoder(max_line_bytes=max_line_bytes)
    feed = decoder.feed
    for piece in byte_chunks:
        if piece:
            yield from feed(piece)
    decoder.close()
