"""Record types between the client, the drivers and the transport.

:class:`RequestSpec` is what the client asks a driver to send (provider-neutral);
:class:`HTTPRequest` is what the driver hands to the transport (wire-ready); its repr
shows the URL through :func:`~llm_connectivity.security.redact_url`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .security import redact_url

__all__ = ["HTTPRequest", "Message", "RequestSpec"]

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """A provider-neutral chat request.

    ``model`` is the provider's own model name (after ``"provider/"``); ``params`` holds the
    caller's generation parameters (``max_tokens``, ``temperature``, ``stop``, ``tools``,
    ``tool_choice``, ``response_format`` are translated per provider, the rest pass through
    to the request body).
    """

    model: str
    messages: list[Message]
    params: dict[str, Any] = field(default_factory=dict)
    stream: bool = True
    api_key: str | None = field(default=None, repr=False)
    base_url: str = ""
    api: str | None = None

    def __repr__(self) -> str:
        return (f"RequestSpec(model={self.model!r}, messages={self.messages!r}, params={self.params!r}, "
                f"stream={self.stream!r}, base_url={redact_url(self.base_url)!r}, api={self.api!r})")


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    """A wire-ready HTTP request. ``headers`` may hold secrets: never log them."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""
    stream: bool = True

    def __repr__(self) -> str:
        return f"HTTPRequest({self.method} {redact_url(self.url)}, {len(self.body)} bytes)"
