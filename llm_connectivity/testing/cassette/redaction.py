"""Secrets out of cassettes: what a recording keeps of a request, and the final check.

A recording keeps only allow-listed request headers, and stores URLs through
:func:`llm_connectivity.security.redact_url` (userinfo and ``key=``-style query values
masked). The values of the credential headers (``Authorization``, ``x-api-key``,
``x-goog-api-key``, ``api-key``, cookies, and any other header whose name says key, token,
secret or auth), of the query parameters ``redact_url`` masks and of URL userinfo (also as
the Basic credentials made of it) are collected as the request's *secrets*. Before a
cassette is written every file is scanned for those values (:func:`check_files`); one still present stops the write.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ...security import redact_url
from .errors import CassetteSecretError

__all__ = ["REDACTED", "check_files", "redact_url", "request_headers", "request_secrets", "response_headers",
           "scrub"]

REDACTED = "REDACTED"

#: Request headers a cassette keeps (everything else is dropped).
ALLOWED_REQUEST_HEADERS = frozenset({"content-type", "accept", "accept-encoding", "anthropic-version",
                                     "anthropic-beta", "openai-beta"})
#: Headers whose values are credentials.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "api-key",
                            "cookie"})
_SECRET_WORDS = ("key", "token", "secret", "auth", "cookie", "password")
#: Values shorter than this are not treated as secrets (``api_key="test"`` is a placeholder,
#: and a four-letter word would match ordinary text in every body).
MIN_SECRET_LENGTH = 8
_AUTH_SCHEMES = ("bearer ", "basic ", "token ")


def _is_secret_header(name: str) -> bool:
    return name in SECRET_HEADERS or any(word in name for word in _SECRET_WORDS)


def request_secrets(headers: Mapping[str, str], url: str) -> list[str]:
    """The credential values a request carries (longest first)."""
    found: set[str] = set()
    for name, value in headers.items():
        if _is_secret_header(name.lower()) and value:
            found.add(value)
            lowered = value.lower()
            for scheme in _AUTH_SCHEMES:
                if lowered.startswith(scheme):
                    found.add(value[len(scheme):].strip())
    parts = urlsplit(url)
    masked = parse_qsl(urlsplit(redact_url(url)).query, keep_blank_values=True)  # the one rule for URLs
    for (_, value), (_, shown) in zip(parse_qsl(parts.query, keep_blank_values=True), masked):
        if value != shown:
            found.update((value, quote(value, safe="")))
    if parts.password:
        found.update((parts.password, unquote(parts.password)))
    if parts.username and parts.password is None:
        found.add(unquote(parts.username))
    if "@" in parts.netloc:  # and the Basic credentials the transport makes of it (a server may echo them)
        user, _, password = parts.netloc.rpartition("@")[0].partition(":")
        found.add(base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii"))
    return sorted((s for s in found if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def request_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed request headers, lower-cased and sorted."""
    kept = {name.lower(): value for name, value in headers.items() if name.lower() in ALLOWED_REQUEST_HEADERS}
    return dict(sorted(kept.items()))


def response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Response headers, lower-cased; cookies and credential-looking values redacted."""
    out = {}
    for name, value in headers.items():
        lowered = name.lower()
        out[lowered] = REDACTED if lowered in ("set-cookie", "set-cookie2") or lowered in SECRET_HEADERS else value
    return out


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``REDACTED``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def check_files(files: Mapping[str, bytes], secrets: Iterable[str], cassette: str) -> None:
    """Raise :class:`CassetteSecretError` naming the first file that contains a secret."""
    encoded = [s.encode("utf-8") for s in secrets]
    for name, data in files.items():
        if any(secret in data for secret in encoded):
            raise CassetteSecretError(
                f"refusing to write cassette {cassette}: {name} contains an API key the client sent "
                "(it was echoed in a body or header the recorder does not redact); nothing was written. "
                "Record with a key that the server does not echo, or remove it from the response.")
