"""Scripted replies for :class:`~llm_connectivity.testing.FakeLLMServer`, rendered in each
vendor's wire format (OpenAI Chat Completions and Responses, Anthropic Messages, Gemini).

A :class:`Reply` says *what* to answer (text pieces, reasoning, tool calls, usage, delays,
a status, a fault); :func:`render` turns it into the exact bytes for the API that was
called, as a list of :class:`Action` steps the server performs in order.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Action", "Reply", "error_body", "render", "split_tokens"]

_TOKEN = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Split text into word-like pieces that keep their leading spaces (like LLM tokens)."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Action:
    """One server step: ``send`` bytes, ``sleep`` seconds, ``close`` the socket, ``hang``
    until the server stops, or ``raw`` bytes written outside the body framing."""

    kind: str
    data: bytes = b""
    seconds: float = 0.0


@dataclass
class Reply:
    """What the fake server answers to one request.

    Parameters:
        text: the answer text; streamed in ``chunks`` if given, else word by word.
        chunks: explicit content pieces.
        reasoning: thinking text streamed before the answer.
        tool_calls: ``[{"name": ..., "arguments": {...} or "json"}]``.
        finish_reason: OpenAI-style reason; translated per format.
        usage: include usage (prompt/completion token counts) in the answer.
        delay: seconds between events; ``first_delay`` before the first one.
        status / headers: the HTTP status and extra headers.
        body: exact raw body bytes, sent instead of a rendered answer.
        content_type: for ``body``; default ``text/event-stream``.
        pieces: for ``body``: split points (byte lengths) of the writes.
        framing: ``"chunked"``, ``"close"`` (no length; close ends the body), ``"length"``,
            or ``"none"`` (no status line or headers: only the scripted actions, then close).
        actions: a fully scripted list of :class:`Action` (faults); overrides everything.
    """

    text: str = ""
    chunks: Sequence[str] | None = None
    reasoning: str = ""
    tool_calls: Sequence[dict[str, Any]] = ()
    finish_reason: str | None = None
    usage: bool = True
    delay: float = 0.0
    first_delay: float = 0.0
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str | None = None
    pieces: Sequence[int] | None = None
    framing: str = "chunked"
    actions: Sequence[Action] | None = None

    def content_pieces(self) -> list[str]:
        """The answer split into streamed pieces."""
        return list(self.chunks) if self.chunks is not None else split_tokens(self.text)

    def reason(self) -> str:
        """The OpenAI-style finish reason to send."""
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")


@dataclass(frozen=True)
class _Ctx:
    api: str  # "chat" | "responses" | "anthropic" | "gemini"
    model: str
    stream: bool
    prompt_tokens: int
    include_usage: bool


def _args(call: dict[str, Any]) -> str:
    args = call.get("arguments", {})
    return args if isinstance(args, str) else json.dumps(args)


def _usage_counts(reply: Reply, ctx: _Ctx) -> tuple[int, int]:
    completion = len(reply.content_pieces()) + len(split_tokens(reply.reasoning)) + len(reply.tool_calls)
    return ctx.prompt_tokens, completion


# The vendor error "type" of an HTTP status (also used by the faults module), and Google's status names.
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}
_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                  409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
                  504: "DEADLINE_EXCEEDED"}


def error_body(status: int, api: str, message: str = "") -> bytes:
    """The vendor-shaped JSON error body (``api``: ``"chat"``, ``"responses"``,
    ``"anthropic"``, ``"gemini"``) for an error status, with ``message``."""
    kind = _ERROR_TYPES.get(status, "api_error")
    message = message or f"FakeLLMServer scripted HTTP {status}"
    if api == "anthropic":
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
    if api == "gemini":
        google = _GOOGLE_STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        return json.dumps({"error": {"code": status, "message": message, "status": google}}).encode()
    return json.dumps({"error": {"message": message, "type": kind, "code": None}}).encode()


def _sse(obj: Any, event: str | None = None, crlf: bool = False) -> bytes:
    """One server-sent event frame: an ``event:`` line when named, then ``data:`` with
    ``obj`` (a str as is, anything else as compact JSON); LF or CRLF line ends."""
    nl = "\r\n" if crlf else "\n"
    head = f"event: {event}{nl}" if event else ""
    data = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return f"{head}data: {data}{nl}{nl}".encode()


# -- OpenAI Chat Completions ---------------------------------------------------------------
def _chat_events(reply: Reply, ctx: _Ctx) -> list[bytes]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": ctx.model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        """One ``chat.completion.chunk`` event."""
        return _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"reasoning_content": p}) for p in split_tokens(reply.reasoning)]
    events += [chunk({"content": p}) for p in reply.content_pieces()]
    for i, call in enumerate(reply.tool_calls):
        head = {"index": i, "id": call.get("id", f"call_{i}"), "type": "function",
                "function": {"name": call["name"], "arguments": ""}}
        events.append(chunk({"tool_calls": [head]}))
        events.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": _args(call)}}]}))
    events.append(chunk({}, reply.reason()))
    if reply.usage and ctx.include_usage:
        prompt, completion = _usage_counts(reply, ctx)
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        events.append(_sse({**base, "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return events


def _chat_body(reply: Reply, ctx: _Ctx) -> dict[str, Any]:
    prompt, completion = _usage_counts(reply, ctx)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(reply.content_pieces()) or None}
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.get("id", f"call_{i}"), "type": "function", "function": {"name": c["name"], "arguments": _args(c)}}
            for i, c in enumerate(reply.tool_calls)
        ]
    body: dict[str, Any] = {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                            "model": ctx.model,
                            "choices": [{"index": 0, "message": message, "finish_reason": reply.reason()}]}
    if reply.usage:
        body["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    return body


# -- OpenAI Responses ----------------------------------------------------------------------
def _responses_final(reply: Reply, ctx: _Ctx) -> dict[str, Any]:
    prompt, completion = _usage_counts(reply, ctx)
    output: list[dict[str, Any]] = []
    if reply.content_pieces():
        output.append({"type": "message", "id": "msg_fake", "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": "".join(reply.content_pieces()), "annotations": []}]})
    for i, c in enumerate(reply.tool_calls):
        output.append({"type": "function_call", "id": f"fc_{i}", "call_id": c.get("id", f"call_{i}"),
                       "name": c["name"], "arguments": _args(c), "status": "completed"})
    status = "incomplete" if reply.finish_reason == "length" else "completed"
    final: dict[str, Any] = {"id": "resp_fake", "object": "response", "model": ctx.model, "status": status, "output": output}
    if status == "incomplete":
        final["incomplete_details"] = {"reason": "max_output_tokens"}
    if reply.usage:
        final["usage"] = {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}
    return final


def _responses_events(reply: Reply, ctx: _Ctx) -> list[bytes]:
    final = _responses_final(reply, ctx)
    start = {**final, "status": "in_progress", "output": [], "usage": None}
    events = [_sse({"type": "response.created", "response": start}, "response.created")]
    for p in split_tokens(reply.reasoning):
        events.append(_sse({"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": p},
                           "response.reasoning_summary_text.delta"))
    for p in reply.content_pieces():
        events.append(_sse({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": p},
                           "response.output_text.delta"))
    for i, item in enumerate(o for o in final["output"] if o["type"] == "function_call"):
        index = i + 1
        events.append(_sse({"type": "response.output_item.added", "output_index": index, "item": {**item, "arguments": ""}},
                           "response.output_item.added"))
        events.append(_sse({"type": "response.function_call_arguments.delta", "output_index": index,
                            "item_id": item["id"], "delta": item["arguments"]}, "response.function_call_arguments.delta"))
    kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    events.append(_sse({"type": kind, "response": final}, kind))
    return events


# -- Anthropic Messages --------------------------------------------------------------------
_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}


def _anthropic_message(reply: Reply, ctx: _Ctx) -> dict[str, Any]:
    prompt, completion = _usage_counts(reply, ctx)
    content: list[dict[str, Any]] = []
    if reply.reasoning:
        content.append({"type": "thinking", "thinking": reply.reasoning, "signature": "fake-signature"})
    if reply.content_pieces():
        content.append({"type": "text", "text": "".join(reply.content_pieces())})
    for i, c in enumerate(reply.tool_calls):
        args = c.get("arguments", {})
        content.append({"type": "tool_use", "id": c.get("id", f"toolu_{i}"), "name": c["name"],
                        "input": json.loads(args) if isinstance(args, str) else args})
    return {"id": "msg_fake", "type": "message", "role": "assistant", "model": ctx.model, "content": content,
            "stop_reason": _ANTHROPIC_STOP.get(reply.reason(), "end_turn"), "stop_sequence": None,
            "usage": {"input_tokens": prompt, "output_tokens": completion}}


def _anthropic_events(reply: Reply, ctx: _Ctx) -> list[bytes]:
    msg = _anthropic_message(reply, ctx)
    start = {**msg, "content": [], "stop_reason": None, "usage": {"input_tokens": msg["usage"]["input_tokens"], "output_tokens": 1}}
    events = [_sse({"type": "message_start", "message": start}, "message_start"), _sse({"type": "ping"}, "ping")]
    for index, block in enumerate(msg["content"]):
        kind = block["type"]
        empty = {"thinking": {"type": "thinking", "thinking": "", "signature": ""}, "text": {"type": "text", "text": ""},
                 "tool_use": {**block, "input": {}}}[kind]
        events.append(_sse({"type": "content_block_start", "index": index, "content_block": empty}, "content_block_start"))
        if kind == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": p} for p in split_tokens(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "text":
            deltas = [{"type": "text_delta", "text": p} for p in reply.content_pieces()]
        else:
            deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
        events += [_sse({"type": "content_block_delta", "index": index, "delta": d}, "content_block_delta") for d in deltas]
        events.append(_sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    delta = {"type": "message_delta", "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
             "usage": {"output_tokens": msg["usage"]["output_tokens"]}}
    events += [_sse(delta, "message_delta"), _sse({"type": "message_stop"}, "message_stop")]
    return events


# -- Gemini --------------------------------------------------------------------------------
_GEMINI_STOP = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "content_filter": "SAFETY"}


def _gemini_usage(reply: Reply, ctx: _Ctx) -> dict[str, int]:
    prompt, completion = _usage_counts(reply, ctx)
    thoughts = len(split_tokens(reply.reasoning))
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": completion - thoughts,
             "totalTokenCount": prompt + completion}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def _gemini_chunk(parts: list[dict[str, Any]], reply: Reply, ctx: _Ctx, finish: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = _GEMINI_STOP.get(reply.reason(), "STOP")
    out: dict[str, Any] = {"candidates": [candidate], "modelVersion": ctx.model}
    if reply.usage:
        out["usageMetadata"] = _gemini_usage(reply, ctx)
    return out


def _gemini_parts(reply: Reply) -> list[list[dict[str, Any]]]:
    parts: list[list[dict[str, Any]]] = [[{"text": p, "thought": True}] for p in split_tokens(reply.reasoning)]
    parts += [[{"text": p}] for p in reply.content_pieces()]
    for c in reply.tool_calls:
        args = c.get("arguments", {})
        parts.append([{"functionCall": {"name": c["name"], "args": json.loads(args) if isinstance(args, str) else args}}])
    return parts or [[{"text": ""}]]


def _gemini_events(reply: Reply, ctx: _Ctx) -> list[bytes]:
    groups = _gemini_parts(reply)
    last = len(groups) - 1
    return [_sse(_gemini_chunk(g, reply, ctx, i == last), crlf=True) for i, g in enumerate(groups)]


def _gemini_body(reply: Reply, ctx: _Ctx) -> dict[str, Any]:
    merged = [part for group in _gemini_parts(reply) for part in group]
    return _gemini_chunk(merged, reply, ctx, True)


# -- entry point ---------------------------------------------------------------------------
_RENDER = {
    "chat": (_chat_events, _chat_body),
    "responses": (_responses_events, _responses_final),
    "anthropic": (_anthropic_events, _anthropic_message),
    "gemini": (_gemini_events, _gemini_body),
}


def render(reply: Reply, *, api: str, model: str, stream: bool, prompt_tokens: int = 0,
           include_usage: bool = True) -> tuple[int, dict[str, str], list[Action], str]:
    """Return (status, headers, actions, framing) that answer one request with ``reply``."""
    headers = dict(reply.headers)
    if reply.actions is not None:
        if not {k.lower() for k in headers} & {"content-type"}:
            headers["Content-Type"] = "text/event-stream"
        return reply.status, headers, list(reply.actions), reply.framing
    if reply.body is not None:
        headers.setdefault("Content-Type", reply.content_type or "text/event-stream")
        return reply.status, headers, _raw_actions(reply), reply.framing
    if reply.status >= 400:
        headers.setdefault("Content-Type", "application/json")
        return reply.status, headers, [Action("send", error_body(reply.status, api))], reply.framing
    ctx = _Ctx(api, model, stream, prompt_tokens, include_usage)
    events_fn, body_fn = _RENDER[api]
    if not stream:
        headers.setdefault("Content-Type", "application/json")
        thinking = reply.first_delay + reply.delay * len(reply.content_pieces())  # time to generate it all
        body = Action("send", json.dumps(body_fn(reply, ctx)).encode())
        return reply.status, headers, ([Action("sleep", seconds=thinking)] if thinking else []) + [body], reply.framing
    headers.setdefault("Content-Type", "text/event-stream; charset=utf-8")
    actions: list[Action] = []
    for i, event in enumerate(events_fn(reply, ctx)):
        wait = reply.first_delay if i == 0 else reply.delay
        if wait:
            actions.append(Action("sleep", seconds=wait))
        actions.append(Action("send", event))
    return reply.status, headers, actions, reply.framing


def _raw_actions(reply: Reply) -> list[Action]:
    body = reply.body or b""
    cuts = list(reply.pieces or [len(body)])
    actions: list[Action] = []
    pos = 0
    for n in cuts:
        if pos >= len(body):
            break
        if actions and reply.delay:
            actions.append(Action("sleep", seconds=reply.delay))
        actions.append(Action("send", body[pos:pos + n]))
        pos += n
    if pos < len(body):
        actions.append(Action("send", body[pos:]))
    return actions
