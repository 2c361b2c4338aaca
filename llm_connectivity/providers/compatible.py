"""One OpenAI-compatible vendor, as data: a row of the provider catalog.

A :class:`CompatibleProvider` holds what distinguishes one vendor serving OpenAI's wire
formats from another (name, default URL, key variables, quirks) and the request headers
they all share. The Chat Completions and Responses drivers both derive from
:class:`RowDriver`, built from a row, so neither subclasses nor refers to the other;
:func:`~llm_connectivity.providers.catalog.compatible_driver` builds the driver of a row for
an API flavour.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..request import RequestSpec
from .base import ProviderDriver

__all__ = ["CompatibleProvider", "RowDriver"]


@dataclass(frozen=True)
class CompatibleProvider:
    """One OpenAI-compatible vendor: where it lives, how it authenticates, its quirks.

    ``base_url`` ``""`` means the caller must give one; ``base_url_env`` defaults to
    ``<NAME>_BASE_URL``; ``max_tokens_field`` is how Chat Completions spells ``max_tokens``
    (``max_completion_tokens`` for OpenAI); ``prefix_field`` is the assistant-prefix flag
    that continues a partial answer (Mistral's ``prefix``); ``extra_headers`` are sent on
    every request.
    """

    name: str
    base_url: str
    key_env: tuple[str, ...]
    requires_key: bool = True
    max_tokens_field: str = "max_tokens"
    base_url_env: str | None = None
    prefix_field: str | None = None
    extra_headers: tuple[tuple[str, str], ...] = ()

    @property
    def url_env(self) -> str:
        """The base-URL environment variable: ``base_url_env`` or ``<NAME>_BASE_URL``."""
        return self.base_url_env or f"{self.name.upper().replace('-', '_')}_BASE_URL"

    def headers(self, spec: RequestSpec) -> dict[str, str]:
        """JSON content type, ``Accept`` for streams, ``Authorization: Bearer`` when there
        is a key, and the row's extra headers."""
        headers = {"Content-Type": "application/json", **dict(self.extra_headers)}
        if spec.stream:
            headers["Accept"] = "text/event-stream"
        if spec.api_key:
            headers["Authorization"] = f"Bearer {spec.api_key}"
        return headers


class RowDriver(ProviderDriver):
    """A driver configured by a :class:`CompatibleProvider` row: the registry attributes come
    from the row, and :meth:`for_api` builds the row's driver for another API flavour."""

    #: the API flavour this driver speaks (``"chat"`` or ``"responses"``)
    api = "chat"

    def __init__(self, row: CompatibleProvider) -> None:
        self.row = row
        self.name = row.name
        self.default_base_url = row.base_url
        self.api_key_env = row.key_env
        self.base_url_env = row.url_env
        self.requires_api_key = row.requires_key

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, default_base_url={self.default_base_url!r})"

    def for_api(self, api: str | None) -> ProviderDriver:
        """This driver for its own flavour (the chat flavours for ``"chat"``), else the row's
        driver for ``api`` (ConfigurationError for an API no OpenAI-compatible server has)."""
        if api == self.api or (self.api == "chat" and api in (None, "", "default")):
            return self
        from .catalog import compatible_driver  # lazy: the catalog imports the driver modules

        return compatible_driver(self.row, api)
