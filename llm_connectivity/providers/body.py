"""A 200 answer to a streaming request that is not labelled ``text/event-stream``.

Some servers send a valid event stream with no ``Content-Type``, or as ``text/plain`` or
``application/octet-stream``; some ignore ``stream: true`` and answer one JSON completion.
:func:`sniff_body` decides from the first bytes, as soon as they are clear, and never holds
an event back:

* a body that starts (after an optional BOM and blank lines) with ``data:``, ``event:``,
  ``id:``, ``retry:`` or ``:`` is an event stream, decoded from the first byte on;
* a body that starts with ``{`` or ``[`` is JSON: handed to the driver's JSON reader (by
  default the whole body is read and becomes a :class:`WholeResponse`, which
  :meth:`ProviderDriver.iter_chunks` turns into one chunk through ``parse_response``); an
  error object raises the typed error;
* anything else (an HTML page, an empty body) raises :class:`ProtocolError` quoting it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any

from ..errors import LLMError, ProtocolError, snippet
from ..models import ChatResponse, StreamChunk, ToolCallDelta, make_chunk
from ..sse import SSEEvent, iter_sse
from .inband import error_from_payload
from .wire import decode_json

__all__ = ["MAX_JSON_BODY", "WholeResponse", "is_error_payload", "response_chunk", "sniff", "sniff_body"]

_SNIFF_LIMIT = 2048
MAX_JSON_BODY = 64 * 1024 * 1024
_SSE_STARTS = (b"data:", b"event:", b"id:", b"retry:")
_BOM = b"\xef\xbb\xbf"

JSONReader = Callable[[Iterable[bytes]], Iterator[SSEEvent]]


def sniff(head: bytes) -> str | None:
    """``"sse"``, ``"json"`` or ``"other"`` for the first bytes of a body; ``None`` while
    they are not yet clear (empty, blank lines, a prefix of ``data:``...)."""
    if head.startswith(_BOM):
        head = head[3:]
    elif _BOM.startswith(head):
        return None
    head = head.lstrip()
    if not head:
        return None
    if head[:1] in (b"{", b"["):
        return "json"
    if head[:1] == b":" or head.startswith(_SSE_STARTS):
        return "sse"
    if any(start.startswith(head) for start in _SSE_STARTS):
        return None
    return "other"


class WholeResponse(Iterator[SSEEvent]):
    """A body that was one JSON document instead of an event stream. ``payload`` is the
    decoded document; iterating gives one event holding its text (for drivers that
    translate events themselves)."""

    def __init__(self, payload: Any, text: str) -> None:
        self.payload = payload
        self._events = iter((SSEEvent(data=text),))

    def __next__(self) -> SSEEvent:
        return next(self._events)


def is_error_payload(payload: Any) -> bool:
    """True for ``{"error": ...}`` and ``{"type": "error", ...}`` objects."""
    return isinstance(payload, dict) and (bool(payload.get("error")) or payload.get("type") == "error")


def read_whole(body: Iterable[bytes], provider: str) -> WholeResponse:
    """The default JSON reader: the whole body (at most :data:`MAX_JSON_BODY` bytes) as a
    :class:`WholeResponse`; an error object raises the typed error."""
    pieces: list[bytes] = []
    size = 0
    for piece in body:
        size += len(piece)
        if size > MAX_JSON_BODY:
            raise ProtocolError(f"{provider} answered a JSON body over {MAX_JSON_BODY} bytes where an "
                                "event stream was expected", provider=provider)
        pieces.append(piece)
    text = b"".join(pieces).decode("utf-8", "replace")
    payload = decode_json(text, provider=provider, what="response body")
    if is_error_payload(payload):
        raise error_from_payload(payload, provider=provider)
    return WholeResponse(payload, text)


def unexpected_body_error(head: bytes, rest: Iterator[bytes], content_type: str, provider: str) -> LLMError:
    """The error for a body that is neither an event stream nor JSON (reads at most 2 KiB)."""
    for piece in rest:
        if len(head) >= _SNIFF_LIMIT:
            break
        head += piece
    kind = content_type or "no content type"
    body = snippet(head, 300) if head.strip() else "an empty body"
    return ProtocolError(f"{provider} answered 200 with {kind} where an event stream (text/event-stream) "
                         f"was expected; received: {body!r}", provider=provider)


def sniff_body(byte_chunks: Iterable[bytes], content_type: str, provider: str,
               read_json: JSONReader | None = None) -> Iterator[SSEEvent]:
    """Decode a body whose content type is not ``text/event-stream`` by its first bytes
    (see the module docstring). ``read_json`` turns a JSON body into events (default:
    :func:`read_whole`)."""
    pieces = iter(byte_chunks)
    head = b""
    kind = None
    for piece in pieces:
        head += piece
        kind = sniff(head)
        if kind is not None or len(head) >= _SNIFF_LIMIT:
            break
    if kind == "sse":
        return iter_sse(chain((head,), pieces))
    if kind == "json":
        body = chain((head,), pieces)
        return read_json(body) if read_json is not None else read_whole(body, provider)
    raise unexpected_body_error(head, pieces, content_type, provider)


def response_chunk(response: ChatResponse) -> StreamChunk:
    """A whole :class:`ChatResponse` as one chunk: text, reasoning, tool calls, finish
    reason, usage (None when the body had none) and ``metadata["whole_response"]``."""
    calls = tuple(ToolCallDelta(index=i, id=c.id, name=c.name, arguments=c.arguments)
                  for i, c in enumerate(response.tool_calls))
    usage = None if response.usage.is_estimated else response.usage
    metadata: dict[str, Any] = {"whole_response": True}
    if response.model:
        metadata["model"] = response.model
    return make_chunk(response.content, response.finish_reason, response.raw_finish_reason, response.raw, 0,
                      usage, calls, response.reasoning, 0, metadata)
