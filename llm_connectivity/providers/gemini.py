"""Google Gemini (Generative Language API) driver.

Wire format: ``POST {base}/{version}/models/{model}:streamGenerateContent?alt=sse`` (or
``:generateContent``) with the key in the ``x-goog-api-key`` header, never in the URL. The
body holds ``contents`` (roles ``user``/``model``, each a list of ``parts``),
``systemInstruction``, ``generationConfig``, ``tools`` and ``toolConfig``; the URL, headers
and body are built by :mod:`~llm_connectivity.providers.gemini_request`. The stream is
``data:`` events (CRLF framed, no ``[DONE]``), each a whole ``GenerateContentResponse``:
``candidates[0].content.parts`` (``text``; ``thought: true`` text is reasoning;
``functionCall`` parts arrive whole, one call per part; ``thoughtSignature``),
``candidates[0].finishReason`` (the terminal marker), ``usageMetadata`` repeated in every
chunk with changing values (last wins) and ``modelVersion``. A server that ignores
``alt=sse`` streams one JSON array (``[{...}\\n,\\r\\n{...}]``, ``application/json``):
its elements are cut out incrementally and handed on as events as soon as each closes.
A blocked prompt (``promptFeedback.blockReason``, no candidates) and an in-band
``{"error": ...}`` object raise typed errors.

Usage: ``completion_tokens`` is ``candidatesTokenCount`` alone (the answer; thinking is
``reasoning_tokens`` = ``thoughtsTokenCount``), as the official SDK and the recorded
fixtures count it; ``total_tokens`` is Google's ``totalTokenCount``, which also includes
thoughts and tool-use prompt tokens, so it can exceed prompt + completion. A chunk whose
``usageMetadata`` equals the previous chunk's shares the previous Usage object.

Finish reasons: ``STOP`` is ``stop`` (``tool_calls`` after function calls), ``MAX_TOKENS``
is ``length``; the safety, recitation, language, blocklist, prohibited-content, SPII and
image-safety reasons are ``content_filter``; ``OTHER``, ``MALFORMED_FUNCTION_CALL``,
``UNEXPECTED_TOOL_CALL``, ``TOO_MANY_TOOL_CALLS``, ``IMAGE_OTHER``, ``NO_IMAGE`` and
``FINISH_REASON_UNSPECIFIED`` are ``error`` (:data:`FINISH_REASONS`); an unknown raw value
follows the one policy of :mod:`~llm_connectivity.providers.finish` (``"stop"``, the raw
value stays in ``raw_finish_reason``). Only candidate 0 is streamed; with
``candidateCount`` > 1 the other candidates stay in ``raw_chunk``. A body that is not
labelled ``text/event-stream`` is sniffed: an event stream is decoded as SSE, JSON (an
array, or the single object of a server that ignored streaming) as above. Malformed but
valid JSON: a candidate, ``content`` or
``parts`` of the wrong type raises :class:`~llm_connectivity.errors.ProtocolError`; usage
numbers that are not numbers count as 0. An ``event: error`` frame, JSON or not, raises the
typed error (see :func:`~llm_connectivity.providers.base.error_from_event`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import BadRequestError, ProtocolError, StreamInterruptedError
from ..models import ChatResponse, StreamChunk, ToolCall, ToolCallDelta, Usage, make_chunk
from ..request import HTTPRequest, RequestSpec
from ..sse import DEFAULT_MAX_LINE_BYTES, SSEEvent, iter_sse
from .base import ProviderDriver
from .body import sniff_body
from .finish import normalize_finish_reason, raw_reason
from .gemini_request import build_body as _build_body
from .gemini_request import endpoint_url, request_headers
from .inband import error_from_event, error_from_payload
from .wire import UNKNOWN_USAGE, as_count, decode_json, until_broken

__all__ = ["FINISH_REASONS", "GeminiDriver", "JSONArrayDecoder", "gemini_usage"]

_FILTERED = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE",
             "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION")
_FAILED = ("FINISH_REASON_UNSPECIFIED", "OTHER", "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL",
           "TOO_MANY_TOOL_CALLS", "IMAGE_OTHER", "NO_IMAGE", "MISSING_THOUGHT_SIGNATURE")
#: Gemini ``finishReason`` values (lower-cased) -> normalised finish reason.
FINISH_REASONS = {"stop": "stop", "max_tokens": "length",
                  **dict.fromkeys((r.lower() for r in _FILTERED), "content_filter"),
                  **dict.fromkeys((r.lower() for r in _FAILED), "error")}
_EMPTY: dict[str, Any] = {}
_METADATA = (("response", "model", "modelVersion"), ("response", "response_id", "responseId"),
             ("candidate", "grounding_metadata", "groundingMetadata"),
             ("candidate", "url_context_metadata", "urlContextMetadata"),
             ("candidate", "finish_message", "finishMessage"))


def gemini_usage(data: dict[str, Any]) -> Usage:
    """Translate a ``usageMetadata`` object (see the module docstring for the counting)."""
    prompt = as_count(data.get("promptTokenCount"))
    completion = as_count(data.get("candidatesTokenCount"))
    thoughts = as_count(data.get("thoughtsTokenCount"))
    total = data.get("totalTokenCount")
    if total is None:
        total = prompt + completion + thoughts + as_count(data.get("toolUsePromptTokenCount"))
    cached = as_count(data.get("cachedContentTokenCount"))
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=as_count(total),
                 cached_tokens=cached, reasoning_tokens=thoughts, raw=data)


class JSONArrayDecoder:
    """Incremental splitter of a JSON array of objects: ``feed(bytes) -> [element text, ...]``.

    Each element is returned as soon as the piece holding its closing brace is fed; brace
    depth is tracked outside strings only (quotes and backslash escapes are honoured, also
    across pieces). A bare top-level object is returned as one element.
    """

    _SPECIAL = re.compile(rb'[\[\]{}"\\]')

    def __init__(self, *, max_element_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._buf = bytearray()
        self._depth = 0  # 1 inside the top-level array, >= 2 inside an element
        self._in_string = False
        self._escape = False  # the previous piece ended inside a string with a backslash
        self._bare = False  # the body is one object, not an array
        self._done = False
        self._max = max_element_bytes

    def feed(self, piece: bytes) -> list[str]:
        """Consume ``piece`` and return the elements it completes."""
        out: list[str] = []
        start, i, n = 0, int(self._escape), len(piece)
        self._escape = self._escape and n == 0
        while i < n and not self._done:
            if self._depth < 2:
                i, start = self._between(piece, i), i
                continue
            match = self._SPECIAL.search(piece, i)
            if match is None:
                break
            i, char = match.end(), piece[match.start()]
            if self._in_string:
                if char == 0x5C:  # backslash: skip the escaped byte, maybe in the next piece
                    i += 1
                    self._escape = i > n
                self._in_string = char != 0x22
            elif char == 0x22:
                self._in_string = True
            elif char in b"{[":
                self._depth += 1
            elif char in b"}]":
                self._depth -= 1
                if self._depth == 1:
                    out.append((bytes(self._buf) + piece[start:i]).decode("utf-8", "replace"))
                    self._buf.clear()
                    self._done = self._bare
        if self._depth >= 2:
            self._buf += piece[start:]
            if len(self._buf) > self._max:
                raise ProtocolError(f"JSON stream element exceeds {self._max} bytes")
        return out

    def _between(self, piece: bytes, i: int) -> int:
        """Outside any element: skip separators; return the index of the next byte to scan."""
        char = piece[i]
        if char in b" \t\r\n," or (self._depth == 0 and char in b"\xef\xbb\xbf"):
            return i + 1
        if self._depth == 0 and char in b"[{":
            self._depth = 1
            self._bare = char == 0x7B
            return i if self._bare else i + 1
        if self._depth == 1 and char in b"{[]":
            self._depth, self._done = (1, True) if char == 0x5D else (2, False)
            return i + 1
        raise ProtocolError(f"unexpected byte {bytes([char])!r} in a Gemini JSON-array stream")


def iter_json_array(byte_chunks: Iterable[bytes]) -> Iterator[SSEEvent]:
    """Yield one event per element of a streamed JSON array, as soon as each element closes."""
    decoder = JSONArrayDecoder()
    for piece in byte_chunks:
        for text in decoder.feed(piece):
            yield SSEEvent(data=text)


class GeminiDriver(ProviderDriver):
    """Translator for the Gemini API (registered as ``google`` and ``gemini``)."""

    api_key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base_url_env = "GEMINI_BASE_URL"
    default_base_url = "https://generativelanguage.googleapis.com"

    def __init__(self, name: str = "gemini", *, api_version: str = "v1beta") -> None:
        self.name = name
        self.api_version = api_version

    def __repr__(self) -> str:
        return f"GeminiDriver({self.name!r}, api_version={self.api_version!r})"

    # -- request ---------------------------------------------------------------------------
    def url(self, spec: RequestSpec) -> str:
        """The endpoint URL; a base URL already ending in a version segment gets no other."""
        return endpoint_url(spec, self.default_base_url, self.api_version)

    def build_body(self, spec: RequestSpec) -> dict[str, Any]:
        """The JSON body of a ``generateContent`` request (see :mod:`.gemini_request`)."""
        return _build_body(spec)

    def build_request(self, spec: RequestSpec) -> HTTPRequest:
        """``POST .../models/{model}:streamGenerateContent?alt=sse`` (or ``:generateContent``)."""
        body = json.dumps(self.build_body(spec)).encode()
        return HTTPRequest("POST", self.url(spec), request_headers(spec), body, stream=spec.stream)

    # -- responses -------------------------------------------------------------------------
    def iter_events(self, byte_chunks: Iterable[bytes], content_type: str) -> Iterator[SSEEvent]:
        """SSE for ``text/event-stream``; otherwise sniffed: an event stream is SSE, JSON (an
        array, or one object) is cut into its elements as they arrive."""
        if "text/event-stream" in content_type.lower():
            return iter_sse(byte_chunks)
        return sniff_body(byte_chunks, content_type, self.name, iter_json_array)

    def parse_response(self, payload: Any, spec: RequestSpec) -> ChatResponse:
        """Translate one ``GenerateContentResponse`` (or a list of them, merged in order)."""
        state = _StreamState()
        text: list[str] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        last = StreamChunk()
        usage = model = None
        for index, item in enumerate(payload if isinstance(payload, list) else [payload]):
            chunk = self._chunk(self._checked(item), index, state)
            text.append(chunk.content)
            reasoning.append(chunk.reasoning)
            calls.extend(ToolCall(id=d.id or "", name=d.name or "", arguments=d.arguments) for d in chunk.tool_calls)
            last = chunk if chunk.raw_finish_reason is not None else last
            usage = chunk.usage or usage
            model = chunk.metadata.get("model") or model
        return ChatResponse(content="".join(text), finish_reason=last.finish_reason,
                            raw_finish_reason=last.raw_finish_reason, usage=usage or UNKNOWN_USAGE,
                            tool_calls=calls, reasoning="".join(reasoning), model=str(model or spec.model),
                            provider=self.name, raw=payload)

    def translate_events(self, events: Iterable[SSEEvent], spec: RequestSpec) -> Iterator[StreamChunk]:
        """Translate ``GenerateContentResponse`` events; complete once a finishReason was seen."""
        state = _StreamState()
        index = 0
        for event in until_broken(events, lambda: state.finished):
            if event.event == "error":
                raise error_from_event(event, self.name)
            if not event.data.strip():
                continue
            obj = decode_json(event.data, provider=self.name)
            yield self._chunk(self._checked(obj), index, state)
            index += 1
        if not state.finished:
            raise StreamInterruptedError(f"{self.name} stream ended without a finishReason: the connection "
                                         "was closed early or the body was truncated", provider=self.name)

    def _checked(self, obj: Any) -> dict[str, Any]:
        """Raise for error objects and blocked prompts; return the response object."""
        if not isinstance(obj, dict) or obj.get("error"):
            raise error_from_payload(obj, provider=self.name)
        feedback = obj.get("promptFeedback")
        reason = feedback.get("blockReason") if type(feedback) is dict else None
        if reason and not obj.get("candidates"):
            raise BadRequestError(
                f"{self.name} blocked the prompt (blockReason {reason}); no text was produced",
                provider=self.name, body=obj, error_type=str(reason),
            )
        return obj

    def _chunk(self, obj: dict[str, Any], index: int, state: _StreamState) -> StreamChunk:
        """One ``GenerateContentResponse`` -> StreamChunk (the per-chunk hot path)."""
        candidate = self._candidate(obj)
        text, reasoning, calls, metadata = state.parts(candidate, self.name)
        raw_finish = candidate.get("finishReason")
        finish = None
        if raw_finish is not None:
            raw_finish = raw_reason(raw_finish)
            finish = normalize_finish_reason(raw_finish, FINISH_REASONS)
            if finish == "stop" and state.tool_count:
                finish = "tool_calls"
            state.finished = state.finished or bool(raw_finish)
        for source, key, field in _METADATA:
            value = (obj if source == "response" else candidate).get(field)
            if value:
                metadata[key] = value
        usage = state.usage(obj.get("usageMetadata"))
        return make_chunk(text, finish, raw_finish, obj, index, usage, calls, reasoning, 0, metadata)

    def _candidate(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Candidate 0 (the one whose ``index`` is 0 or absent; {} when the chunk carries
        only other candidates or none); ProtocolError when it is not an object."""
        candidates = obj.get("candidates")
        if not candidates:
            return _EMPTY
        if type(candidates) is not list:
            candidates = [candidates]
        for candidate in candidates:
            if type(candidate) is dict:
                if candidate.get("index", 0) in (0, None):
                    return candidate
            elif candidate is not None:
                raise ProtocolError(f"{self.name} sent a candidate that is not an object: {candidate!r:.200}",
                                    provider=self.name)
        return _EMPTY


def _parts_of(candidate: dict[str, Any], provider: str) -> list[Any]:
    """A candidate's ``content.parts`` ([] when absent); ProtocolError when malformed."""
    content = candidate.get("content")
    parts = content.get("parts") if type(content) is dict else content
    if type(parts) is list:
        return parts
    if not parts:
        return []
    raise ProtocolError(f"{provider} sent candidate content that is not an object with a parts list: "
                        f"{content!r:.200}", provider=provider)


class _StreamState:
    """Per-stream state: the running tool-call ordinal, whether a finishReason arrived and
    the last ``usageMetadata`` with its Usage."""

    def __init__(self) -> None:
        self.tool_count = 0
        self.finished = False
        self._usage_data: dict[str, Any] | None = None
        self._usage: Usage | None = None

    def usage(self, data: Any) -> Usage | None:
        """The Usage of a ``usageMetadata`` object, rebuilt only when it differs from the last."""
        if type(data) is not dict:
            return None
        if data != self._usage_data:
            self._usage_data = data
            self._usage = gemini_usage(data)
        return self._usage

    def parts(self, candidate: dict[str, Any], provider: str) -> tuple[str, str, tuple[ToolCallDelta, ...],
                                                                          dict[str, Any]]:
        """Split a candidate's parts into (text, reasoning, tool-call deltas, metadata)."""
        text: list[str] = []
        thoughts: list[str] = []
        calls: list[ToolCallDelta] = []
        metadata: dict[str, Any] = {}
        for part in _parts_of(candidate, provider):
            if not isinstance(part, dict):
                continue
            if part.get("thoughtSignature"):
                metadata["thought_signature"] = part["thoughtSignature"]
            call = part.get("functionCall")
            if isinstance(call, dict):
                calls.append(self._call(call, part.get("thoughtSignature"), metadata))
            elif isinstance(part.get("text"), str):
                (thoughts if part.get("thought") is True else text).append(part["text"])
        return "".join(text), "".join(thoughts), tuple(calls), metadata

    def _call(self, call: dict[str, Any], signature: Any, metadata: dict[str, Any]) -> ToolCallDelta:
        ordinal = self.tool_count
        self.tool_count += 1
        if signature:
            metadata.setdefault("tool_thought_signatures", {})[ordinal] = signature
        args = json.dumps(call.get("args") or {}, separators=(",", ":"), sort_keys=True)
        return ToolCallDelta(index=ordinal, id=str(call.get("id") or f"call_{ordinal}"),
                             name=str(call.get("name") or ""), arguments=args)
