"""The cassette's own errors: not :class:`~llm_connectivity.errors.LLMError`, so that the
engine never retries them and ``except LLMError`` in user code does not swallow them."""

from __future__ import annotations

__all__ = ["CassetteError", "CassetteMismatchError", "CassetteSecretError"]


class CassetteError(Exception):
    """A cassette could not be used as asked (bad arguments, nesting, unreadable files)."""


class CassetteMismatchError(CassetteError):
    """A request has no recorded interaction to replay, in a mode that may not record it.

    The message shows the request, the closest recorded request and the difference.
    Attributes: ``request`` (the request as it would be stored) and ``closest`` (the
    closest recorded request, or None).
    """

    def __init__(self, message: str, *, request: dict[str, object] | None = None,
                 closest: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.request = request
        self.closest = closest


class CassetteSecretError(CassetteError):
    """A file about to be written still holds an API key the client sent: nothing was written."""
