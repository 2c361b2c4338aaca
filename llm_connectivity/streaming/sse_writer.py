"""Re-serve a stream to browsers: :func:`to_sse` writes ``text/event-stream`` bytes.

Injection safety: every line ending in the payload (LF, CR or CRLF) starts a new
``data:`` line, so model output can never end an event early or add a field; a decoder
joins the lines back with LF (the event-stream format has no way to carry a CR, so CR and
CRLF in the text arrive as LF; a CRLF split across two chunks is still one line break).
Event names are checked for line breaks before anything is sent.

What is written, in order: ``retry:`` (if given) with the first event; one event per
chunk with text (``id:`` counts up from 1); ``: keep-alive`` comment lines whenever the
source is silent for ``keepalive`` seconds (this reads the source in a helper thread, see
:mod:`~llm_connectivity.streaming.ticker`); then a terminal ``done`` event whose data is
JSON ``{"finish_reason": ..., "usage": {...}}``, or, if the source raised, an ``error``
event ``{"type": "RateLimitError", "message": ..., "is_retryable": true}`` (no
traceback; secrets scrubbed with the library's one redaction rule) and nothing more.

Formats: ``"text"`` (data is the chunk text), ``"json"`` (data is ``{"content": ...,
"index": ...}`` plus ``reasoning`` and ``tool_calls`` when present), ``"openai"``
(OpenAI Chat Completions chunks and ``data: [DONE]``, no event names or ids; errors as
an in-band ``{"error": ...}`` object).

Closing the returned iterator (WSGI servers call ``close()`` when the client goes away)
closes the source, so a ChatStream's connection to the provider is released.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..errors import ConfigurationError, LLMError
from ..models import StreamChunk, Usage
from ..security import redact_url, scrub_error
from .buffering import check_positive
from .chain import close_source, link
from .openai_compat import OpenAIChunkEncoder, openai_error
from .ticker import with_ticks

__all__ = ["encode_event", "error_payload", "sse_headers", "to_sse"]

logger = logging.getLogger("llm_connectivity")

_LINE_END = re.compile(r"\r\n|\r|\n")
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_FORMATS = ("text", "json", "openai")
KEEPALIVE = b": keep-alive\n\n"


def sse_headers() -> list[tuple[str, str]]:
    """Response headers for an event stream (a WSGI ``start_response`` list; ``dict()`` it
    for frameworks that want a mapping). ``X-Accel-Buffering: no`` stops nginx buffering."""
    return [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache"),
            ("X-Accel-Buffering", "no")]


def encode_event(data: str, *, event: str | None = None, id: int | str | None = None,
                 retry: int | None = None) -> bytes:
    """One event as bytes; ``data`` is split on every line ending.

    >>> encode_event("a\\r\\ndata: x", event="chunk", id=3)
    b'event: chunk\\nid: 3\\ndata: a\\ndata: data: x\\n\\n'
    """
    head = ""
    if event is not None:
        head = f"event: {event}\n"
    if id is not None:
        head += f"id: {id}\n"
    if retry is not None:
        head += f"retry: {retry}\n"
    if "\n" in data or "\r" in data:
        body = "".join(f"data: {line}\n" for line in _LINE_END.split(data))
    else:
        body = f"data: {data}\n"
    return _utf8(f"{head}{body}\n")


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8. Surrogates (a JSON ``"\\ud83d"`` escape cut from its pair by an
    upstream that slices UTF-16) cannot be encoded: pairs are joined back into their
    character, and a lone half becomes U+FFFD, rather than ending the stream."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode()


def _check_name(what: str, name: str | None) -> None:
    if name is None:
        return
    if not isinstance(name, str) or not name or _LINE_END.search(name) or ":" in name[:1]:
        raise ConfigurationError(f"{what} must be a non-empty event name without line breaks, got {name!r}")


def error_payload(exc: BaseException, secrets: Sequence[str] = ()) -> dict[str, Any]:
    """The ``error`` event data: class name, scrubbed message, retryability; never a traceback.
    Errors that are not LLMErrors (bugs in a stage) are reported without their message."""
    if isinstance(exc, LLMError):
        message = str(scrub_error(exc, *secrets))  # keys and URL passwords, as everywhere else
        # the event goes to a browser: every URL in it as redact_url shows URLs (credential
        # query values such as ?key= hidden too)
        message = _URL.sub(lambda m: redact_url(m.group(0)), message)
        retryable = bool(exc.is_retryable)
    else:
        message, retryable = "the stream failed", False
    return {"type": type(exc).__name__, "message": message, "is_retryable": retryable}


def to_sse(chunks: Iterable[StreamChunk], *, event: str = "chunk", format: str = "text",
           retry: int | None = None, keepalive: float | None = None, done_event: str = "done",
           error_event: str = "error", secrets: Sequence[str] = (), model: str = "") -> Iterator[bytes]:
    """Serialise ``chunks`` as Server-Sent Events (see the module docstring).

    ``secrets`` are removed from error messages (the client's API key already is).
    ``model`` names the model in ``format="openai"`` chunks (default: the chunk metadata's).

    >>> from llm_connectivity.streaming import replay
    >>> b"".join(to_sse(replay("Hi\\nthere"), retry=1000)).decode()[:41]
    'event: chunk\\nid: 1\\nretry: 1000\\ndata: Hi\\n\\n'
    """
    if format not in _FORMATS:
        raise ConfigurationError(f"format must be one of {', '.join(_FORMATS)}, got {format!r}")
    for what, name in (("event", event), ("done_event", done_event), ("error_event", error_event)):
        _check_name(what, name)
    check_positive("keepalive", keepalive)
    if retry is not None and (isinstance(retry, bool) or not isinstance(retry, int) or retry < 0):
        raise ConfigurationError(f"retry must be a number of milliseconds >= 0, got {retry!r}")
    if isinstance(secrets, str):
        secrets = (secrets,)
    encoder = _OpenAIEncoder(model, secrets) if format == "openai" else \
        _EventEncoder(format, event, retry, done_event, error_event, secrets)
    writer = _write(chunks, encoder, keepalive)
    link(writer, chunks)
    return writer


class _EventEncoder:
    """``format="text"`` / ``"json"``: one named event per chunk with text, ``id:`` counting
    up, then the ``done`` event (finish reason and usage) or the ``error`` event."""

    def __init__(self, format: str, event: str, retry: int | None, done_event: str, error_event: str,
                 secrets: Sequence[str]) -> None:
        self.format, self.event, self.retry = format, event, retry
        self.done_event, self.error_event, self.secrets = done_event, error_event, secrets
        self.next_id = 1
        self.finish: str | None = None
        self.usage: Usage | None = None
        self.after_cr = False  # the last text ended with CR: a leading LF completes that CRLF

    def _event(self, data: str, name: str) -> bytes:
        frame = encode_event(data, event=name, id=self.next_id, retry=self.retry)
        self.next_id, self.retry = self.next_id + 1, None
        return frame

    def encode(self, chunk: StreamChunk) -> tuple[bytes, ...]:
        if chunk.finish_reason is not None:
            self.finish = chunk.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage
        if self.format == "text":
            data: str | None = chunk.content
            if data:
                if self.after_cr and data[0] == "\n":  # already sent as a line break
                    data = data[1:]
                self.after_cr = chunk.content[-1] == "\r"
            data = data or None
        else:
            data = _data(chunk, self.format)
        return () if data is None else (self._event(data, self.event),)

    def finish_frames(self) -> tuple[bytes, ...]:
        done = {"finish_reason": self.finish, "usage": None if self.usage is None else dict(self.usage)}
        return (self._event(json.dumps(done, ensure_ascii=False), self.done_event),)

    def error_frame(self, exc: Exception) -> bytes:
        return self._event(json.dumps(error_payload(exc, self.secrets), ensure_ascii=False), self.error_event)


class _OpenAIEncoder:
    """``format="openai"``: Chat Completions chunks as bare ``data:`` lines, then ``[DONE]``."""

    def __init__(self, model: str, secrets: Sequence[str]) -> None:
        self.chunks = OpenAIChunkEncoder(model=model)
        self.secrets = secrets

    @staticmethod
    def _frame(obj: dict[str, Any]) -> bytes:
        return b"data: " + _utf8(json.dumps(obj, ensure_ascii=False)) + b"\n\n"

    def encode(self, chunk: StreamChunk) -> tuple[bytes, ...]:
        return tuple(self._frame(frame) for frame in self.chunks.encode(chunk))

    def finish_frames(self) -> tuple[bytes, ...]:
        return (*(self._frame(frame) for frame in self.chunks.finish()), b"data: [DONE]\n\n")

    def error_frame(self, exc: Exception) -> bytes:
        return self._frame(openai_error(exc, error_payload(exc, self.secrets)["message"]))


def _write(chunks: Iterable[StreamChunk], encoder: _EventEncoder | _OpenAIEncoder,
           keepalive: float | None) -> Iterator[bytes]:
    source: Iterator[StreamChunk | None] = with_ticks(chunks, keepalive) if keepalive is not None else iter(chunks)
    encode = encoder.encode
    try:
        try:
            for chunk in source:
                if chunk is None:
                    yield KEEPALIVE
                else:
                    yield from encode(chunk)
        except Exception as exc:
            logger.warning("streaming to SSE stopped: %s", type(exc).__name__)
            yield encoder.error_frame(exc)
            return
        yield from encoder.finish_frames()
    finally:
        close_source(source)
        close_source(chunks)


def _data(chunk: StreamChunk, format: str) -> str | None:
    """The ``format="json"`` event data for ``chunk``, or None when it has nothing to show."""
    if not (chunk.content or chunk.reasoning or chunk.tool_calls):
        return None
    payload: dict[str, Any] = {"content": chunk.content, "index": chunk.index}
    if chunk.reasoning:
        payload["reasoning"] = chunk.reasoning
    if chunk.tool_calls:
        payload["tool_calls"] = [{"index": d.index, "id": d.id, "name": d.name, "arguments": d.arguments}
                                 for d in chunk.tool_calls]
    return json.dumps(payload, ensure_ascii=False)
