"""Which recorded interaction answers a request, and why none does.

A request is compared as it would be stored (see :func:`stored_request`). ``match_on`` is a
tuple of field names (default ``("method", "path", "body")``; the body is compared as
normalised JSON, so key order and whitespace do not matter) or a function
``(request, recorded) -> bool`` over two such dicts.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Sequence
from typing import Any, Union
from urllib.parse import parse_qsl, urlsplit

from ...request import HTTPRequest
from .errors import CassetteError
from .redaction import redact_url, request_headers

__all__ = ["DEFAULT_MATCH_ON", "MatchOn", "closest_difference", "make_matcher", "stored_request"]

MatchOn = Union[Sequence[str], Callable[[dict[str, Any], dict[str, Any]], bool]]
DEFAULT_MATCH_ON: tuple[str, ...] = ("method", "path", "body")
_MAX_DIFF_LINES = 30


def stored_request(request: HTTPRequest) -> dict[str, Any]:
    """The request as a cassette stores it: no secrets, the body decoded as JSON if it is."""
    stored: dict[str, Any] = {"method": request.method.upper(), "url": redact_url(request.url),
                              "headers": request_headers(request.headers)}
    body = request.body or b""
    if not body:
        stored["body"] = None
        return stored
    try:
        stored["body"] = json.loads(body)
    except ValueError:
        try:
            stored["body_text"] = body.decode("utf-8")
        except UnicodeDecodeError:
            import base64

            stored["body_base64"] = base64.b64encode(body).decode("ascii")
    return stored


def _body(req: dict[str, Any]) -> str:
    for key in ("body_text", "body_base64"):
        if key in req:
            return f"{key}:{req[key]}"
    return json.dumps(req.get("body"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _url_part(part: str) -> Callable[[dict[str, Any]], Any]:
    def get(req: dict[str, Any]) -> Any:
        parts = urlsplit(str(req.get("url", "")))
        if part == "query":
            return sorted(parse_qsl(parts.query, keep_blank_values=True))
        if part == "path":
            return parts.path.rstrip("/") or "/"
        return getattr(parts, part)
    return get


FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "method": lambda req: str(req.get("method", "")).upper(),
    "scheme": _url_part("scheme"), "host": _url_part("hostname"), "port": _url_part("port"),
    "path": _url_part("path"), "query": _url_part("query"),
    "url": lambda req: str(req.get("url", "")),
    "headers": lambda req: req.get("headers") or {},
    "body": _body,
}


def make_matcher(match_on: MatchOn) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    """A function ``(request, recorded) -> bool``; raises CassetteError for unknown fields."""
    if callable(match_on):
        return match_on
    if isinstance(match_on, str) or not match_on:
        raise CassetteError(f"match_on must be a non-empty tuple of field names or a function, not {match_on!r}; "
                            f"fields: {', '.join(sorted(FIELDS))}")
    unknown = [name for name in match_on if name not in FIELDS]
    if unknown:
        raise CassetteError(f"unknown match_on field(s) {', '.join(map(repr, unknown))}; "
                            f"choose from {', '.join(sorted(FIELDS))}")
    getters = [FIELDS[name] for name in match_on]

    def matches(request: dict[str, Any], recorded: dict[str, Any]) -> bool:
        return all(get(request) == get(recorded) for get in getters)
    return matches


def describe(req: dict[str, Any]) -> str:
    """``POST /v1/chat/completions`` for a stored request."""
    return f"{req.get('method', '?')} {_url_part('path')(req)}"


def _pretty(req: dict[str, Any]) -> list[str]:
    if "body" in req:
        return json.dumps(req["body"], indent=1, sort_keys=True, ensure_ascii=False).splitlines()
    return _body(req).splitlines()


def _score(request: dict[str, Any], recorded: dict[str, Any]) -> float:
    same = sum(1 for name in ("method", "path", "query") if FIELDS[name](request) == FIELDS[name](recorded))
    ratio = difflib.SequenceMatcher(None, _pretty(request), _pretty(recorded), autojunk=False).ratio()
    return float(same * 10 + ratio)


def closest_difference(request: dict[str, Any], recorded: Sequence[tuple[str, dict[str, Any]]]) -> tuple[
        str | None, dict[str, Any] | None, str]:
    """The closest recorded request (name, request) and a short description of the difference."""
    if not recorded:
        return None, None, "the cassette holds no interactions"
    name, best = max(recorded, key=lambda item: _score(request, item[1]))
    lines = []
    for field_name in ("method", "path", "query"):
        mine, theirs = FIELDS[field_name](request), FIELDS[field_name](best)
        if mine != theirs:
            lines.append(f"{field_name}: recorded {theirs!r}, requested {mine!r}")
    if _body(request) != _body(best):
        diff = list(difflib.unified_diff(_pretty(best), _pretty(request), "recorded body", "requested body",
                                         n=1, lineterm=""))
        if len(diff) > _MAX_DIFF_LINES:
            diff = diff[:_MAX_DIFF_LINES] + [f"... ({len(diff) - _MAX_DIFF_LINES} more diff lines)"]
        lines += diff
    return name, best, "\n".join(lines) if lines else "no difference in method, path, query or body"
