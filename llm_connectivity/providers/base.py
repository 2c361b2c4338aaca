"""The driver seam: what every provider driver implements.

A driver is a pure translator. It turns a :class:`~llm_connectivity.request.RequestSpec`
into an :class:`~llm_connectivity.request.HTTPRequest`, a decoded JSON body into a
:class:`~llm_connectivity.models.ChatResponse`, and a stream of
:class:`~llm_connectivity.sse.SSEEvent` into :class:`~llm_connectivity.models.StreamChunk`.
It never owns a session, never sleeps and never retries: the client does.

The helpers drivers share live in :mod:`.wire` (JSON, counts, URLs, shape checks),
:mod:`.inband` (error bodies -> typed errors), :mod:`.finish` (the finish-reason policy) and
:mod:`.body` (bodies that are not labelled as event streams); third-party drivers import
all of them from :mod:`llm_connectivity.provider_api`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..errors import APIStatusError, ConfigurationError, LLMError, ProtocolError
from ..models import ChatResponse, StreamChunk
from ..request import HTTPRequest, Message, RequestSpec
from ..sse import SSEEvent, iter_sse
from .body import WholeResponse, response_chunk, sniff_body
from .inband import error_from_event, error_from_payload, error_from_response
from .wire import UNKNOWN_USAGE, as_count, decode_json, join_url, until_broken, usage_or_unknown

__all__ = [
    "UNKNOWN_USAGE",
    "LLMErrorType",
    "ProviderDriver",
    "as_count",
    "decode_json",
    "error_from_event",
    "error_from_payload",
    "join_url",
    "until_broken",
    "usage_or_unknown",
]

LLMErrorType = APIStatusError | ProtocolError
"""What a driver raises for a bad answer: a typed status error or a protocol error."""


class ProviderDriver:
    """Base class of provider drivers. Subclasses override the translation methods:
    :meth:`build_request`, :meth:`parse_response` and :meth:`translate_events`.

    Class attributes describe the provider for the registry, the docs and error messages:
    ``name``, ``api_key_env`` (env variables tried in order), ``base_url_env``,
    ``default_base_url`` and ``requires_api_key``.
    """

    name: str = ""
    api_key_env: tuple[str, ...] = ()
    base_url_env: str | None = None
    default_base_url: str = ""
    requires_api_key: bool = True

    def for_api(self, api: str | None) -> ProviderDriver:
        """The driver for API flavour ``api`` (``None`` means the provider's default)."""
        if api in (None, "", "chat", "messages", "default"):
            return self
        raise ConfigurationError(
            f"provider {self.name!r} has no {api!r} API; leave api unset "
            "(api='responses' is available for OpenAI and OpenAI-compatible providers)"
        )

    def continuation_messages(self, messages: list[Message], partial: str) -> list[Message] | None:
        """Messages that make the model continue ``partial`` (an assistant prefill), or
        ``None`` when this provider cannot continue a partial answer."""
        return None

    def recover_params(self, spec: RequestSpec, error: LLMError) -> dict[str, Any] | None:
        """Parameter changes that let a request rejected with ``error`` succeed when sent
        again (e.g. ``{"stream_options": None}`` for a server that rejects that field), or
        ``None`` when no change can help. The engine retries once with the changes merged
        into a copy of ``spec.params``; ``spec`` itself is never modified."""
        return None

    def build_request(self, spec: RequestSpec) -> HTTPRequest:
        """Translate ``spec`` into the HTTP request this provider expects."""
        raise NotImplementedError

    def parse_response(self, payload: Any, spec: RequestSpec) -> ChatResponse:
        """Translate a decoded non-streaming JSON body into a ChatResponse."""
        raise NotImplementedError

    def translate_events(self, events: Iterable[SSEEvent], spec: RequestSpec) -> Iterator[StreamChunk]:
        """Translate stream events into chunks; return only after the terminal event.

        Raises the typed error for an in-band error event, and
        :class:`~llm_connectivity.errors.StreamInterruptedError` if the events end first.
        """
        raise NotImplementedError

    def iter_chunks(self, events: Iterable[SSEEvent], spec: RequestSpec) -> Iterator[StreamChunk]:
        """The chunks of a streamed answer: :meth:`translate_events` for an event stream;
        for a server that ignored ``stream: true`` and answered one JSON document, that
        document through :meth:`parse_response` as a single chunk."""
        if isinstance(events, WholeResponse):
            return iter((response_chunk(self.parse_response(events.payload, spec)),))
        return self.translate_events(events, spec)

    def iter_events(self, byte_chunks: Iterable[bytes], content_type: str) -> Iterator[SSEEvent]:
        """Decode the response body into events: ``text/event-stream`` directly; any other
        (or no) content type by its first bytes (see :mod:`.body`): an event stream is
        streamed at once, a JSON document becomes a :class:`~.body.WholeResponse`, anything
        else raises :class:`~llm_connectivity.errors.ProtocolError`."""
        if "text/event-stream" in content_type.lower():
            return iter_sse(byte_chunks)
        return sniff_body(byte_chunks, content_type, self.name)

    def error_from_response(self, status_code: int, headers: Mapping[str, str], body: bytes) -> APIStatusError:
        """Build the typed error for an HTTP error status from the provider's error body."""
        return error_from_response(status_code, headers, body, provider=self.name)
