"""Which paths :class:`~llm_connectivity.testing.FakeLLMServer` serves, as strictly as the
real endpoints do, so that code which works against the fake works against the vendor.

Served (``POST``, any prefix a real deployment or gateway puts in front):

- OpenAI style: ``.../{version}/chat/completions`` and ``.../{version}/responses`` with a
  version segment somewhere in the prefix (``/v1``, ``/openai/v1`` as Groq,
  ``/api/v1`` as OpenRouter, ``/v1beta/openai`` as Gemini's compatible endpoint...), or an
  ``api-version`` query (Azure deployments);
- Anthropic: ``.../v1/messages``;
- Gemini: ``.../{version}/models/{m}:streamGenerateContent`` and ``:generateContent``
  (``v1``, ``v1beta``, ``v1alpha``...; Vertex ``.../publishers/google/models/{m}`` too).

Answered 404, in the vendor's error shape, like the real service: a missing version
(``/chat/completions``, ``/messages``, ``/models/m:generateContent``), a doubled version
(``/v1/v1/...``) and a doubled route (``/v1/chat/completions/chat/completions``), the
usual results of a ``base_url`` given with too little or too much of the path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["guess_api", "resolve_route"]

_VERSION = re.compile(r"v\d+(?:(?:alpha|beta)\d*)?")
_GEMINI_METHODS = (":streamGenerateContent", ":generateContent")
_MODEL_PARENTS = ("models", "tunedModels")


def _is_version(segment: str) -> bool:
    return _VERSION.fullmatch(segment) is not None


def _split(segments: list[str]) -> tuple[str | None, list[str]]:
    """The API a path calls and the segments in front of its route."""
    last = segments[-1] if segments else ""
    if last.endswith(_GEMINI_METHODS):
        parents = [i for i, s in enumerate(segments[:-1]) if s in _MODEL_PARENTS]
        return "gemini", segments[:parents[-1]] if parents else segments[:-1]
    if segments[-2:] == ["chat", "completions"]:
        return "chat", segments[:-2]
    if last == "responses":
        return "responses", segments[:-1]
    if last == "messages":
        return "anthropic", segments[:-1]
    return None, segments


def _doubled(api: str, prefix: list[str]) -> str:
    """Why ``prefix`` repeats a version or the route itself ("" if it does not)."""
    for first, second in zip(prefix, prefix[1:]):
        if _is_version(first) and _is_version(second):
            return f"the version segment is doubled (/{first}/{second}): the base_url already ends in /{first}"
    joined = "/" + "/".join(prefix) + "/"
    repeated = {"chat": "/chat/completions/", "responses": "/responses/", "anthropic": "/messages/"}.get(api)
    if (repeated and repeated in joined) or (api == "gemini" and any(
            s in _MODEL_PARENTS or s.endswith(_GEMINI_METHODS) for s in prefix)):
        return "the route appears twice: the base_url already ends in it; give the base URL without the route"
    return ""


def _missing_version(api: str, prefix: list[str], query: str) -> str:
    """Why ``prefix`` lacks the version the real endpoint requires ("" if it has it)."""
    if api == "anthropic":
        if prefix[-1:] != ["v1"]:
            return "Anthropic serves POST /v1/messages: give the root URL (server.url) as base_url"
        return ""
    if api == "gemini":
        if not (prefix and _is_version(prefix[-1])) and not (prefix[-2:] == ["publishers", "google"]
                                                             and any(map(_is_version, prefix))):
            return "Gemini routes need a version (/v1beta/models/...): give the root URL (server.url) as base_url"
        return ""
    if not any(map(_is_version, prefix)) and "api-version=" not in query:
        return ("OpenAI-style routes need a version prefix (/v1/chat/completions): "
                "give server.base_url (ending in /v1) as base_url")
    return ""


def resolve_route(method: str, path: str) -> tuple[str | None, str]:
    """``(api, problem)`` for a request line: ``api`` is ``"chat"``, ``"responses"``,
    ``"anthropic"``, ``"gemini"`` or ``None`` (no such route); ``problem`` is "" when the
    path is served, else why a real endpoint would answer 404."""
    route, _, query = path.partition("?")
    if "://" in route:  # absolute form, as sent to a proxy: keep the path
        route = "/" + route.split("://", 1)[1].partition("/")[2]
    segments = [s for s in route.split("/") if s]
    api, prefix = _split(segments)
    if api is None:
        return None, f"no route for {method} {route}"
    if method != "POST":
        return api, f"{route} answers POST only, not {method}"
    problem = _doubled(api, prefix) or _missing_version(api, prefix, query)
    return api, problem and f"Invalid URL ({method} {route}): {problem}"


def guess_api(headers: Mapping[str, str]) -> str:
    """The vendor a request with an unknown path was meant for, from its headers
    (lower-cased names), to answer in that vendor's error shape."""
    if "anthropic-version" in headers or "x-api-key" in headers:
        return "anthropic"
    if "x-goog-api-key" in headers:
        return "gemini"
    return "chat"
