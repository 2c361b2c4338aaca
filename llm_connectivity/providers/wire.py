"""Small helpers every driver shares: JSON decoding, token counts, URL joining, shape checks.

Shape checks: a provider may send valid JSON of an unexpected shape (a list where an object
belongs, a string where a list belongs). Drivers read such fields through :func:`member`
and :func:`member_list`, which raise :class:`~llm_connectivity.errors.ProtocolError`
naming the field, so a bad answer is a typed error and a bug in our own code stays a bug.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ProtocolError, StreamInterruptedError, snippet
from ..models import Usage
from ..sse import SSEEvent

__all__ = [
    "UNKNOWN_USAGE",
    "as_count",
    "decode_json",
    "hashable",
    "join_url",
    "member",
    "member_list",
    "reported_usage",
    "split_query",
    "text_or_none",
    "until_broken",
    "usage_or_unknown",
]

#: What ``parse_response`` returns when the body carries no usage; the client replaces it
#: with an estimate flagged ``is_estimated``.
UNKNOWN_USAGE = Usage(is_estimated=True, confidence=0.0)

_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def decode_json(data: str | bytes, *, provider: str, what: str = "stream event") -> Any:
    """``json.loads`` that raises :class:`ProtocolError` with a snippet of the bad text.

    Well-formed ``str`` events take a fast path through the C scanner; anything unusual
    (leading whitespace, trailing text, bytes, errors) goes through ``json.loads``.
    """
    if type(data) is str:
        try:
            obj, end = _scan_once(data, 0)
        except (StopIteration, ValueError):
            pass
        else:
            if end == len(data) or not data[end:].strip():
                return obj
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ProtocolError(
            f"{provider} sent a {what} that is not valid JSON: {snippet(data, 200)!r}",
            provider=provider,
        ) from exc


def as_count(value: Any) -> int:
    """A token count from a usage field: ints as they are, numeric strings and floats
    converted, anything else (``None``, ``"n/a"``, objects) 0."""
    if type(value) is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def usage_or_unknown(data: Any, translate: Callable[[dict[str, Any]], Usage]) -> Usage:
    """``translate(data)`` for a usage object, else :data:`UNKNOWN_USAGE`."""
    return translate(data) if isinstance(data, dict) else UNKNOWN_USAGE


def reported_usage(data: dict[str, Any], prompt: str, completion: str, cached: tuple[str, str],
                   reasoning: tuple[str, str], cached_fallback: str = "") -> Usage:
    """A provider's usage object as a Usage, for the OpenAI-style shapes: ``prompt`` /
    ``completion`` count fields, ``total_tokens`` (else their sum), and the cached and
    reasoning counts inside detail objects, given as ``(container, field)`` pairs
    (``cached_fallback``: a top-level field read when the detail is missing)."""
    prompt_count = as_count(data.get(prompt))
    completion_count = as_count(data.get(completion))
    total = data.get("total_tokens")
    cached_count = _detail(data, cached) or (data.get(cached_fallback) if cached_fallback else None)
    return Usage(prompt_tokens=prompt_count, completion_tokens=completion_count,
                 total_tokens=as_count(total) if total is not None else prompt_count + completion_count,
                 cached_tokens=as_count(cached_count), reasoning_tokens=as_count(_detail(data, reasoning)), raw=data)


def _detail(data: dict[str, Any], where: tuple[str, str]) -> Any:
    container = data.get(where[0])
    return container.get(where[1]) if isinstance(container, dict) else None


def text_or_none(value: Any) -> str | None:
    """An id or name field: ``None`` when empty or absent, else a string."""
    if not value:
        return None
    return value if isinstance(value, str) else str(value)


def hashable(value: Any) -> Any:
    """An index field (``output_index``, block ``index``) usable as a dict key: an
    unhashable value becomes its repr."""
    return value if value is None or isinstance(value, (int, str, float)) else repr(value)


def member(obj: dict[str, Any], key: str, provider: str, where: str) -> dict[str, Any]:
    """``obj[key]`` when it is an object, ``{}`` when absent or null; ProtocolError otherwise."""
    value = obj.get(key)
    if type(value) is dict:
        return value
    if value is None:
        return {}
    raise ProtocolError(f"{provider} sent {where} whose {key!r} is not an object: {value!r:.200}",
                        provider=provider)


def member_list(obj: dict[str, Any], key: str, provider: str, where: str) -> list[Any]:
    """``obj[key]`` when it is a list, ``[]`` when absent, null or empty; ProtocolError otherwise."""
    value = obj.get(key)
    if type(value) is list:
        return value
    if not value:
        return []
    raise ProtocolError(f"{provider} sent {where} whose {key!r} is not a list: {value!r:.200}",
                        provider=provider)


def split_query(url: str) -> tuple[str, str]:
    """``(url without query and fragment, query)``: ``"https://h/v1?api-version=2"`` ->
    ``("https://h/v1", "api-version=2")``."""
    if "?" not in url and "#" not in url:
        return url, ""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), parts.query


def join_url(base_url: str, path: str) -> str:
    """Join a base URL and a path with exactly one slash between them.

    A query string on the base URL (``?api-version=...``) stays on the result, after the
    path; a query on ``path`` (``...:streamGenerateContent?alt=sse``) is merged after it:
    ``join_url("https://h/v1?k=1", "x?alt=sse") == "https://h/v1/x?k=1&alt=sse"``.
    """
    base, base_query = split_query(base_url)
    path, _, path_query = path.partition("?")
    query = "&".join(q for q in (base_query, path_query) if q)
    joined = base.rstrip("/") + "/" + path.lstrip("/")
    return f"{joined}?{query}" if query else joined


def until_broken(events: Iterable[SSEEvent], finished: Callable[[], bool]) -> Iterator[SSEEvent]:
    """Pass ``events`` through; if the connection breaks after the answer already finished
    (``finished()`` is true: a finish reason arrived, only trailing events were lost), end
    quietly instead of raising StreamInterruptedError."""
    try:
        yield from events
    except StreamInterruptedError:
        if not finished():
            raise
