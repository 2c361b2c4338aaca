"""OpenAI Responses API driver: ``POST {base_url}/responses``, for OpenAI and every vendor
serving the same wire format (DeepSeek, OpenRouter, ...). Built from the vendor's catalog
row (:class:`~llm_connectivity.providers.compatible.CompatibleProvider`: same name, URL, key,
headers as its Chat Completions driver), with no reference to that driver.

Request (from Chat Completions-style input): built by
:mod:`~llm_connectivity.providers.openai_responses_request`, whose docstring gives the
mapping (``stop`` and ``stream_options`` are dropped: the Responses API accepts neither).

Stream: SSE events whose JSON ``data`` carries ``type`` (OpenAI repeats it on an ``event:``
line; OpenRouter sends none, so the JSON wins and the event name is only a fallback):
``response.created`` / ``in_progress`` (model), ``response.output_text.delta`` (text),
``response.reasoning_text.delta`` / ``reasoning_summary_text.delta`` (reasoning),
``response.output_item.added`` (a ``function_call`` item: call id and name),
``response.function_call_arguments.delta`` / ``.done`` (arguments, keyed by ``output_index``),
``response.refusal.delta``, then one terminal event: ``response.completed`` (usage; status
``completed``), ``response.incomplete`` (``incomplete_details.reason``) or
``response.failed`` / ``error`` (raised as typed errors). A trailing ``data: [DONE]``
(OpenRouter) is ignored; a stream that ends without a terminal event is interrupted.

Finish reasons come from the response ``status`` (:data:`FINISH_REASONS`): ``completed`` is
``stop`` (``tool_calls`` when function calls were made); ``incomplete`` is ``length``, or the
entry of :data:`INCOMPLETE_REASONS` for its ``incomplete_details.reason`` (``content_filter``);
``failed`` and ``cancelled`` are ``error`` (``response.failed`` itself raises the typed error).
An unknown status follows the one policy of :mod:`~llm_connectivity.providers.finish`
(``"stop"``; the status stays in ``raw_finish_reason``). An ``event: error`` frame, JSON or
not, raises the typed error (see
:func:`~llm_connectivity.providers.base.error_from_event`); usage numbers that are not
numbers count as 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import StreamInterruptedError
from ..models import ChatResponse, StreamChunk, ToolCall, ToolCallDelta, Usage, make_chunk
from ..request import HTTPRequest, RequestSpec
from ..sse import SSEEvent
from .compatible import RowDriver
from .finish import normalize_finish_reason, raw_reason
from .inband import error_from_event, error_from_payload
from .openai_responses_request import build_body as _build_body
from .openai_responses_request import responses_url
from .wire import decode_json, hashable, member_list, reported_usage, text_or_none, usage_or_unknown

__all__ = ["FINISH_REASONS", "INCOMPLETE_REASONS", "OpenAIResponsesDriver", "responses_usage"]

#: Response ``status`` -> normalised finish reason.
FINISH_REASONS = {"completed": "stop", "incomplete": "length", "failed": "error", "cancelled": "error"}
#: ``incomplete_details.reason`` of an ``incomplete`` response -> normalised finish reason.
INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}
_MODEL_EVENTS = frozenset({"response.created", "response.in_progress", "response.queued"})
_REASONING_EVENTS = frozenset({"response.reasoning_text.delta", "response.reasoning_summary_text.delta"})
_ERROR_KEYS = ("code", "message", "param", "type")  # the event's own type "error" is dropped


def responses_usage(data: dict[str, Any]) -> Usage:
    """Translate a Responses ``usage`` object (input/output tokens and their details)."""
    return reported_usage(data, "input_tokens", "output_tokens", ("input_tokens_details", "cached_tokens"),
                          ("output_tokens_details", "reasoning_tokens"))


def _finish(status: str | None, details: Any, has_calls: bool) -> str | None:
    """Normalised finish reason of a response ``status`` (+ ``incomplete_details``);
    None while the response is still running."""
    if status in (None, "in_progress", "queued"):
        return None
    if status == "incomplete":
        reason = details.get("reason") if isinstance(details, dict) else None
        return INCOMPLETE_REASONS.get(str(reason), "length")
    finish = normalize_finish_reason(status, FINISH_REASONS)
    return "tool_calls" if finish == "stop" and has_calls else finish


def _error_payload(err: Any, fallback: str) -> dict[str, Any]:
    """``{"error": {...}}`` for :func:`error_from_payload` from a Responses error object."""
    if not isinstance(err, dict):
        return {"error": {"message": fallback}}
    inner = {k: v for k, v in err.items() if k in _ERROR_KEYS and v is not None and (k, v) != ("type", "error")}
    return {"error": inner or {"message": fallback}}


class OpenAIResponsesDriver(RowDriver):
    """Responses API translator for one vendor, configured by its catalog row;
    ``for_api("chat")`` (or ``None``) is the Chat Completions driver of the same row."""

    api = "responses"

    # -- request ---------------------------------------------------------------------------
    def build_body(self, spec: RequestSpec) -> dict[str, Any]:
        """The JSON body of a Responses request (see :mod:`.openai_responses_request`)."""
        return _build_body(spec)

    def build_request(self, spec: RequestSpec) -> HTTPRequest:
        """``POST {base_url}/responses``."""
        return HTTPRequest("POST", responses_url(spec.base_url), self.row.headers(spec),
                           json.dumps(self.build_body(spec)).encode(), stream=spec.stream)

    # -- non-streaming -----------------------------------------------------------------------
    def parse_response(self, payload: Any, spec: RequestSpec) -> ChatResponse:
        """Translate a ``response`` object: message text, reasoning, function calls, usage."""
        if not isinstance(payload, dict):
            raise error_from_payload(payload, provider=self.name)
        if payload.get("error") or payload.get("status") == "failed":
            raise error_from_payload(_error_payload(payload.get("error"), "response failed"), provider=self.name)
        text: list[str] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        for item in member_list(payload, "output", self.name, "a response"):
            _collect(item, text, reasoning, calls, self.name)
        status = raw_reason(payload.get("status"))
        finish = _finish(status, payload.get("incomplete_details"), bool(calls))
        usage = usage_or_unknown(payload.get("usage"), responses_usage)
        model = text_or_none(payload.get("model")) or spec.model
        return ChatResponse(content="".join(text), finish_reason=finish, raw_finish_reason=status, usage=usage,
                            tool_calls=calls, reasoning="".join(reasoning), model=model, provider=self.name,
                            raw=payload)

    # -- streaming ---------------------------------------------------------------------------
    def translate_events(self, events: Iterable[SSEEvent], spec: RequestSpec) -> Iterator[StreamChunk]:
        """Translate Responses stream events; return after ``response.completed``/``incomplete``."""
        state = _StreamState(self.name)
        for event in events:
            if event.event == "error":
                raise error_from_event(event, self.name)
            data = event.data
            if data == "[DONE]" or not data.strip():
                continue
            obj = decode_json(data, provider=self.name)
            if not isinstance(obj, dict):
                continue
            chunk = state.handle(obj, _event_type(obj, event.event))
            if chunk is not None:
                yield chunk
            if state.terminal:
                return
        raise StreamInterruptedError(
            f"{self.name} stream ended before response.completed or response.incomplete: the "
            "connection was closed early or the body was truncated",
            provider=self.name,
        )


def _event_type(obj: dict[str, Any], event_name: str) -> str:
    """The event type: the JSON ``type`` field, else the SSE event name."""
    kind = obj.get("type")
    return kind if isinstance(kind, str) and kind else event_name


def _collect(item: Any, text: list[str], reasoning: list[str], calls: list[ToolCall], provider: str) -> None:
    """Add one output item of a ``response`` object to the text/reasoning/call lists."""
    if not isinstance(item, dict):
        return
    kind = item.get("type")
    if kind == "message":
        text.extend(str(p.get("text") or "") for p in member_list(item, "content", provider, "a message item")
                    if isinstance(p, dict) and p.get("type") == "output_text")
    elif kind == "reasoning":
        summary = [str(p.get("text") or "") for p in member_list(item, "summary", provider, "a reasoning item")
                   if isinstance(p, dict)]
        reasoning.append("\n\n".join(summary))
        reasoning.extend(str(p.get("text") or "") for p in member_list(item, "content", provider, "a reasoning item")
                         if isinstance(p, dict))
    elif kind == "function_call":
        calls.append(ToolCall(id=text_or_none(item.get("call_id")) or f"call_{len(calls)}",
                              name=text_or_none(item.get("name")) or "",
                              arguments=text_or_none(item.get("arguments")) or ""))


class _StreamState:
    """Per-stream bookkeeping: tool ordinals by ``output_index``, argument progress, model."""

    __slots__ = ("provider", "index", "model", "ordinals", "args_seen", "summaries", "terminal")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.index = 0
        self.model: str | None = None
        self.ordinals: dict[int, int] = {}  # output_index -> dense tool-call index
        self.args_seen: set[int] = set()  # output_index of calls whose arguments were sent
        self.summaries: set[tuple[Any, Any]] = set()
        self.terminal = False

    def handle(self, obj: dict[str, Any], kind: str) -> StreamChunk | None:
        """Translate one decoded event; None when it carries nothing to yield."""
        if kind in _MODEL_EVENTS:
            self._note_model(obj.get("response"))
            return None
        if kind == "response.output_text.delta":
            return self._chunk(obj, content=str(obj.get("delta") or ""))
        if kind in _REASONING_EVENTS:
            return self._chunk(obj, reasoning=self._reasoning(obj, kind))
        if kind == "response.refusal.delta":
            return self._chunk(obj, metadata={"refusal": obj.get("delta") or ""})
        if kind in ("response.output_item.added", "response.output_item.done"):
            return self._item(obj)
        if kind == "response.function_call_arguments.delta":
            return self._arguments(obj, str(obj.get("delta") or ""), final=False)
        if kind == "response.function_call_arguments.done":
            return self._arguments(obj, str(obj.get("arguments") or ""), final=True)
        if kind in ("response.completed", "response.incomplete"):
            return self._terminal(obj, kind)
        if kind == "response.failed":
            response = obj.get("response") or {}
            err = response.get("error") if isinstance(response, dict) else None
            raise error_from_payload(_error_payload(err, "response failed"), provider=self.provider)
        if kind == "error":
            err = obj.get("error") if isinstance(obj.get("error"), dict) else obj
            raise error_from_payload(_error_payload(err, "stream error"), provider=self.provider)
        return None  # lifecycle and unknown events carry nothing new

    def _note_model(self, response: Any) -> None:
        if isinstance(response, dict) and response.get("model"):
            self.model = str(response["model"])

    def _reasoning(self, obj: dict[str, Any], kind: str) -> str:
        delta = str(obj.get("delta") or "")
        if kind != "response.reasoning_summary_text.delta":
            return delta
        key = (hashable(obj.get("output_index")), hashable(obj.get("summary_index")))
        first = key not in self.summaries
        self.summaries.add(key)
        return "\n\n" + delta if first and obj.get("summary_index") and delta else delta

    def _ordinal(self, obj: dict[str, Any]) -> tuple[int, int, bool]:
        """(output_index key, dense tool index, is_new) of the call an event is about."""
        key = obj.get("output_index")
        key = key if isinstance(key, int) else -1
        new = key not in self.ordinals
        if new:
            self.ordinals[key] = len(self.ordinals)
        return key, self.ordinals[key], new

    def _item(self, obj: dict[str, Any]) -> StreamChunk | None:
        """A function_call item: id and name when new, arguments if none were sent yet."""
        item = obj.get("item")
        if not isinstance(item, dict) or item.get("type") != "function_call":
            return None
        key, ordinal, new = self._ordinal(obj)
        arguments = str(item.get("arguments") or "") if key not in self.args_seen else ""
        if not new and not arguments:
            return None  # a done item repeating what was already sent
        if arguments:
            self.args_seen.add(key)
        delta = ToolCallDelta(index=ordinal, id=text_or_none(item.get("call_id")),
                              name=text_or_none(item.get("name")), arguments=arguments)
        return self._chunk(obj, tools=(delta,))

    def _arguments(self, obj: dict[str, Any], text: str, *, final: bool) -> StreamChunk | None:
        """An arguments fragment; the ``.done`` text only when no fragment was sent."""
        key, ordinal, _ = self._ordinal(obj)
        if not text or (final and key in self.args_seen):
            return None
        self.args_seen.add(key)
        return self._chunk(obj, tools=(ToolCallDelta(index=ordinal, arguments=text),))

    def _terminal(self, obj: dict[str, Any], kind: str) -> StreamChunk | None:
        """``response.completed`` / ``response.incomplete``: finish reason and usage."""
        self.terminal = True
        response: dict[str, Any] = obj["response"] if isinstance(obj.get("response"), dict) else {}
        self._note_model(response)
        status = str(response.get("status") or kind.removeprefix("response."))
        usage = response.get("usage")
        return self._chunk(
            obj,
            finish=_finish(status, response.get("incomplete_details"), bool(self.ordinals)),
            raw_finish=status,
            usage=responses_usage(usage) if isinstance(usage, dict) else None,
            metadata={"model": self.model} if self.model else {},
        )

    def _chunk(self, obj: dict[str, Any], *, content: str = "", reasoning: str = "",
               tools: tuple[ToolCallDelta, ...] = (), finish: str | None = None, raw_finish: str | None = None,
               usage: Usage | None = None, metadata: dict[str, Any] | None = None) -> StreamChunk | None:
        """A chunk for ``obj`` with the running index, or None when it would carry nothing."""
        if not (content or reasoning or tools or raw_finish or usage or metadata):
            return None
        meta = dict(metadata or {})
        if self.index == 0 and self.model:
            meta.setdefault("model", self.model)
        chunk = make_chunk(content, finish, raw_finish, obj, self.index, usage, tools, reasoning, 0, meta)
        self.index += 1
        return chunk
