"""Ready-made network and protocol faults for :class:`~llm_connectivity.testing.FakeLLMServer`.

Every function returns a :class:`~llm_connectivity.testing.Reply` (or a list of them) that
scripts one misbehaviour: a hang, a stall mid-stream, a dropped connection, broken chunked
framing, malformed JSON, an HTML error page, an error status, an in-band error event,
keep-alive comments without content... Queue it with ``server.add_reply(...)`` (or
``server.add_replies(...)`` for lists) and check how your code copes::

    from llm_connectivity.testing import FakeLLMServer, faults

    with FakeLLMServer() as server:
        server.add_reply(faults.stall_after(2, text="Hello there friend"))
        client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="test",
                           timeout={"read_timeout": 0.5})
        ...  # ReadTimeoutError; error.partial_response.content == "Hello there"

Streamed bodies are OpenAI Chat Completions server-sent events (``chat.completion.chunk``
objects, ended by ``data: [DONE]``) whichever path was called, since a fault's script is
sent as is. Functions that stream text accept ``text`` (split into word pieces, one event
each, like :func:`~llm_connectivity.testing.scripts.split_tokens`) and most accept
``events``: the exact event bytes to send instead (see :func:`chat_events`).
:func:`refuse` and :func:`hang_before_headers` use ``framing="none"``: no status line at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from .scripts import _ERROR_TYPES, Action, Reply, _sse, split_tokens

__all__ = [
    "SSE_HEADERS",
    "broken_chunked_framing",
    "chat_chunk",
    "chat_events",
    "drip",
    "drop_after",
    "failures_then_success",
    "hang_before_headers",
    "html_error_page",
    "inband_error",
    "keepalive_only",
    "malformed_json",
    "refuse",
    "sse_event",
    "stall_after",
    "status",
]

SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8"}
"""The headers of an event-stream answer."""

_DONE = b"data: [DONE]\n\n"


# -- event bytes -----------------------------------------------------------------------------
def sse_event(data: Any, event: str | None = None) -> bytes:
    """One server-sent event: ``data`` (a str, or an object written as compact JSON)."""
    return _sse(data, event)


def chat_chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
    """One ``chat.completion.chunk`` event carrying ``delta``."""
    return sse_event({"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 0,
                      "model": "fault-model",
                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})


def chat_events(text: str, *, finish: bool = True) -> list[bytes]:
    """The events of a Chat Completions stream answering ``text``: one per word piece.

    With ``finish`` the stream ends properly (a finish reason, then ``[DONE]``); without
    it only the content events are returned.
    """
    events = [chat_chunk({"content": piece}) for piece in split_tokens(text)]
    if finish:
        events += [chat_chunk({}, "stop"), _DONE]
    return events


def _content(text: str, events: Sequence[bytes] | None, n_events: int | None = None) -> list[bytes]:
    chosen = list(events) if events is not None else chat_events(text, finish=False)
    return chosen if n_events is None else chosen[:n_events]


def _sends(events: Sequence[bytes]) -> list[Action]:
    return [Action("send", event) for event in events]


# -- faults ----------------------------------------------------------------------------------
def refuse() -> Reply:
    """Accept the connection, read the request, then close it without any response
    (not even a status line): the client's "connection lost before the response"."""
    return Reply(actions=[Action("close")], framing="none")


def hang_before_headers() -> Reply:
    """Read the request, then send nothing at all, not even a status line, until the
    server stops: only the client's read (or total) timeout can end the wait."""
    return Reply(actions=[Action("hang")], framing="none")


def stall_after(n_events: int, text: str = "Hello there, this stream stalls midway",
                *, events: Sequence[bytes] | None = None) -> Reply:
    """Send the first ``n_events`` content events of ``text`` (or of ``events``), then hang."""
    actions = _sends(_content(text, events, n_events)) + [Action("hang")]
    return Reply(actions=actions, headers=dict(SSE_HEADERS))


def drip(body: bytes | None = None, bytes_per_write: int = 1, delay: float = 0.01, *,
         text: str = "Hello, this answer arrives one byte at a time") -> Reply:
    """Send ``body`` (default: a complete stream answering ``text``) in tiny slow writes."""
    data = body if body is not None else b"".join(chat_events(text))
    pieces = [bytes_per_write] * -(-len(data) // max(1, bytes_per_write))
    return Reply(body=data, content_type=SSE_HEADERS["Content-Type"], pieces=pieces, delay=delay)


def drop_after(n_events: int, text: str = "Hello there, this stream is cut off",
               *, events: Sequence[bytes] | None = None) -> Reply:
    """Send ``n_events`` content events, then close without the final zero-length chunk."""
    actions = _sends(_content(text, events, n_events)) + [Action("close")]
    return Reply(actions=actions, headers=dict(SSE_HEADERS), framing="chunked")


def broken_chunked_framing(text: str = "Hello", *, n_events: int = 1) -> Reply:
    """Send ``n_events`` events, then a chunk-size line that is not hexadecimal, then close."""
    actions = _sends(_content(text, None, n_events))
    actions += [Action("raw", b"zz-not-hex\r\nbroken\r\n"), Action("close")]
    return Reply(actions=actions, headers=dict(SSE_HEADERS), framing="chunked")


def malformed_json(text: str = "Hello there") -> Reply:
    """Stream ``text``, then a ``data: {not json`` event (and a normal ending after it)."""
    events = chat_events(text, finish=False) + [b"data: {not json\n\n", chat_chunk({}, "stop"), _DONE]
    return Reply(actions=_sends(events), headers=dict(SSE_HEADERS))


def html_error_page(status: int = 502) -> Reply:
    """An HTML page instead of an answer: a proxy's ``502 Bad Gateway`` page, or with
    ``status=200`` a captive portal's sign-in page."""
    title = f"{status} Bad Gateway" if status >= 400 else "Sign in to continue"
    page = (f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
            "<hr><center>nginx</center></body></html>\n").encode()
    return Reply(body=page, content_type="text/html", status=status, framing="length")


def status(code: int, headers: dict[str, str] | None = None, body: bytes | str | None = None) -> Reply:
    """An error status (``429`` with ``{"Retry-After": "1"}``...) with an OpenAI-style JSON body."""
    if body is None:
        kind = _ERROR_TYPES.get(code, "server_error" if code >= 500 else "invalid_request_error")
        body = json.dumps({"error": {"message": f"fault: HTTP {code}", "type": kind, "code": None}})
    data = body.encode() if isinstance(body, str) else body
    return Reply(body=data, content_type="application/json", status=code, headers=dict(headers or {}),
                 framing="length")


def inband_error(kind: str = "overloaded_error", after_text: str = "", *, as_event: bool = False,
                 message: str = "fault: in-band error") -> Reply:
    """Stream ``after_text``, then an error inside the 200 stream.

    By default an OpenAI-style ``data: {"error": {...}}`` chunk; with ``as_event`` an
    ``event: error`` frame (as Anthropic and some compatible servers send).
    """
    error = {"error": {"message": message, "type": kind}}
    frame = sse_event(error, "error") if as_event else sse_event(error)
    return Reply(actions=_sends(chat_events(after_text, finish=False) + [frame]), headers=dict(SSE_HEADERS))


def keepalive_only(seconds: float = 60.0, interval: float = 0.1) -> Reply:
    """Send only ``: keep-alive`` comments every ``interval`` seconds for ``seconds``, then hang.

    The connection never goes silent, so only a content-idle (or total) limit can end it.
    """
    actions: list[Action] = []
    for _ in range(max(1, int(seconds / interval))):
        actions += [Action("send", b": keep-alive\n\n"), Action("sleep", seconds=interval)]
    return Reply(actions=actions + [Action("hang")], headers=dict(SSE_HEADERS))


def failures_then_success(n: int, fault_factory: Callable[[], Reply],
                          text: str = "Recovered after the faults") -> list[Reply]:
    """``n`` replies made by ``fault_factory``, then a normal answer of ``text``."""
    return [fault_factory() for _ in range(n)] + [Reply(text=text)]
