"""The plugin API: everything a third-party provider driver needs, from one module.

A driver subclasses :class:`ProviderDriver` and implements three pure translations:
``build_request(spec) -> HTTPRequest``, ``parse_response(payload, spec) -> ChatResponse``
and ``translate_events(events, spec) -> Iterator[StreamChunk]``; it is registered with
:func:`register_provider` (or an entry point of the ``llm_connectivity.providers`` group).
See ``docs/providers.md`` ("Writing a provider") and ``examples/custom_provider.py``, which
imports from nowhere else. Names not listed in ``__all__`` are internal and may change.

Groups:

* the driver seam: :class:`ProviderDriver`, :func:`register_provider`;
* records: :class:`RequestSpec` (in), :class:`HTTPRequest` (out), :class:`SSEEvent`
  (stream events in), :class:`StreamChunk` / :func:`make_chunk`, :class:`ChatResponse`,
  :class:`Usage`, :class:`ToolCall`, :class:`ToolCallDelta` (out);
* decoding and shape checks: :func:`decode_json`, :func:`as_count`, :func:`member`,
  :func:`member_list`, :func:`text_or_none`, :func:`usage_or_unknown`, :data:`UNKNOWN_USAGE`;
* errors: :func:`error_from_payload` (an error object -> the typed error),
  :func:`error_from_event` (an ``event: error`` frame), :func:`error_for_status`,
  :func:`request_id_from`, and the classes a driver raises itself:
  :class:`ProtocolError`, :class:`StreamInterruptedError`;
* finish reasons: :func:`normalize_finish_reason` with the driver's own table (the one
  policy: an unknown value is ``"stop"``, :data:`UNKNOWN_FINISH_REASON`), :func:`raw_reason`;
* URLs: :func:`join_url` (keeps a base URL's query string at the end);
* streams: :func:`until_broken` (a connection lost after the finish reason ends quietly);
* OpenAI-compatible vendors need no code: :class:`CompatibleProvider` and
  :func:`compatible_driver`.
"""

from __future__ import annotations

from .errors import ProtocolError, StreamInterruptedError, error_for_status, request_id_from
from .models import ChatResponse, StreamChunk, ToolCall, ToolCallDelta, Usage, make_chunk
from .providers.base import ProviderDriver
from .providers.catalog import compatible_driver
from .providers.compatible import CompatibleProvider
from .providers.finish import UNKNOWN_FINISH_REASON, normalize_finish_reason, raw_reason
from .providers.inband import error_from_event, error_from_payload
from .providers.wire import (
    UNKNOWN_USAGE,
    as_count,
    decode_json,
    join_url,
    member,
    member_list,
    text_or_none,
    until_broken,
    usage_or_unknown,
)
from .registry import register_provider
from .request import HTTPRequest, Message, RequestSpec
from .sse import SSEEvent

__all__ = [
    "ChatResponse",
    "CompatibleProvider",
    "HTTPRequest",
    "Message",
    "ProtocolError",
    "ProviderDriver",
    "RequestSpec",
    "SSEEvent",
    "StreamChunk",
    "StreamInterruptedError",
    "ToolCall",
    "ToolCallDelta",
    "UNKNOWN_FINISH_REASON",
    "UNKNOWN_USAGE",
    "Usage",
    "as_count",
    "compatible_driver",
    "decode_json",
    "error_for_status",
    "error_from_event",
    "error_from_payload",
    "join_url",
    "make_chunk",
    "member",
    "member_list",
    "normalize_finish_reason",
    "raw_reason",
    "register_provider",
    "request_id_from",
    "text_or_none",
    "until_broken",
    "usage_or_unknown",
]
