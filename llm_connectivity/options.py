"""Immutable configuration values: :class:`StreamingOptions` and the ``UNSET`` sentinel.

``StreamingOptions`` holds the connection and reliability fields (timeouts, reconnects,
partial-response preservation). It is frozen; ``.replace(**changes)`` returns a copy and
:meth:`StreamingOptions.from_value` accepts the ``timeout=`` shorthands. Per-call overrides
use :data:`UNSET` to mean "inherit", so ``None`` can mean "no limit".
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError

__all__ = ["UNSET", "StreamingOptions", "Unset"]


class Unset(enum.Enum):
    """Type of :data:`UNSET`: "not given here, inherit the client's setting"."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset.UNSET


def _check_seconds(name: str, value: float | None, *, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value == float("inf"):
        raise ConfigurationError(f"{name} must be a positive number of seconds or None, got {value!r}")


@dataclass(frozen=True, slots=True)
class StreamingOptions:
    """How a request connects, waits and recovers.

    Attributes:
        connection_timeout: seconds to open the connection (TCP + TLS).
        read_timeout: longest silence between two reads of the response (headers included).
        total_timeout: whole request, stream included; ``None`` means no limit.
        content_idle_timeout: longest time without content while keep-alive comments or
            empty events still arrive; ``None`` means no limit.
        retry_on_connection_error: after content was received, re-request on a dropped
            connection, continuing from the partial answer (opt-in; see docs).
        max_reconnect_attempts: how many such continuations to try.
        reconnect_delay: seconds to wait before a continuation.
        preserve_partial_response: attach the partial response to errors raised mid-stream.
    """

    connection_timeout: float | None = 5.0
    read_timeout: float | None = 60.0
    total_timeout: float | None = None
    content_idle_timeout: float | None = None
    retry_on_connection_error: bool = False
    max_reconnect_attempts: int = 2
    reconnect_delay: float = 1.0
    preserve_partial_response: bool = True

    def __post_init__(self) -> None:
        for name in ("connection_timeout", "read_timeout", "total_timeout", "content_idle_timeout"):
            _check_seconds(name, getattr(self, name))
        attempts = self.max_reconnect_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            raise ConfigurationError("max_reconnect_attempts must be an int >= 0")
        delay = self.reconnect_delay
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not delay >= 0:
            raise ConfigurationError(f"reconnect_delay must be a number of seconds >= 0, got {delay!r}")

    def replace(self, **changes: Any) -> StreamingOptions:
        """Return a copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_value(cls, value: Any, base: StreamingOptions | None = None) -> StreamingOptions:
        """Normalise ``timeout=`` shorthands.

        A number sets both ``connection_timeout`` and ``read_timeout`` (as in requests); a
        ``(connect, read)`` tuple sets each; a dict sets the named fields; a
        StreamingOptions is used as is; ``None`` disables the connect and read limits.
        """
        base = base or cls()
        if isinstance(value, StreamingOptions):
            return value
        if value is None:
            return base.replace(connection_timeout=None, read_timeout=None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return base.replace(connection_timeout=float(value), read_timeout=float(value))
        if isinstance(value, tuple) and len(value) == 2:
            return base.replace(connection_timeout=value[0], read_timeout=value[1])
        if isinstance(value, dict):
            unknown = set(value) - {f.name for f in dataclasses.fields(cls)}
            if unknown:
                raise ConfigurationError(f"unknown timeout fields {sorted(unknown)}")
            return base.replace(**value)
        raise ConfigurationError(
            f"timeout must be seconds, a (connect, read) tuple, a dict of StreamingOptions "
            f"fields or a StreamingOptions, got {value!r}"
        )
