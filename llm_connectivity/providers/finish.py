"""The one finish-reason policy every driver follows.

Each driver keeps a table of the raw finish reasons its provider documents (keys in lower
case) and maps them with :func:`normalize_finish_reason`; only the table differs between
drivers. Known values that mean a failed generation (Gemini's ``MALFORMED_FUNCTION_CALL``,
vLLM's ``abort``...) are listed as ``"error"`` in the tables.

An UNKNOWN raw value normalises to ``"stop"`` (:data:`UNKNOWN_FINISH_REASON`), for every
driver. Why: a finish reason only arrives with the stream's terminal event, so the answer
the caller holds is everything the provider produced; providers add reasons over time
(``pause_turn``, ``refusal``, ``model_context_window_exceeded`` all arrived after their APIs
shipped), and most new ones describe a normal end. Mapping them to ``"error"`` would make
``if response.finish_reason != "stop"`` code throw away usable answers each time a vendor
adds a value. The raw value always stays in ``raw_finish_reason`` for code that wants it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FINISH_REASONS", "UNKNOWN_FINISH_REASON", "normalize_finish_reason", "raw_reason"]

#: The normalised values a ``finish_reason`` may take (besides ``None``).
FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "error"})

#: What a raw finish reason missing from the driver's table normalises to (see above).
UNKNOWN_FINISH_REASON = "stop"


def normalize_finish_reason(raw: str | None, known: Mapping[str, str]) -> str | None:
    """Map a provider's raw finish reason through ``known`` (lower-case keys, looked up
    case-insensitively); ``None`` stays ``None``; an unknown value is ``"stop"``."""
    if raw is None:
        return None
    return known.get(raw) or known.get(raw.lower(), UNKNOWN_FINISH_REASON)


def raw_reason(value: Any) -> str | None:
    """A raw finish-reason field as sent: ``None`` stays ``None``, strings as they are,
    anything else (a number, an object) as its ``str``."""
    return value if value is None or type(value) is str else str(value)
