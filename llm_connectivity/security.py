"""Keeping secrets secret: key and URL redaction for reprs, errors, logs and warnings.

Keys travel only in request headers. :func:`redact` shortens a key to ``sk-...abcd``;
:func:`redact_url` hides URL userinfo (``http://user:***@host``) and secret query values
wherever a URL is shown; :func:`scrub_error` removes a key (and any URL password) from an
error's message, args, body (str, dict, list or bytes), headers and
``partial_response.raw`` before it is raised, in case a server echoed it back.
:func:`check_key` refuses keys that could not travel in a header, and
:func:`warn_if_insecure` warns before a key would cross the network in clear text.

A ``base_url`` with userinfo (``http://user:pass@host/v1``) is sent as
``Authorization: Basic`` only when the request has no ``Authorization`` header of its
own (the transport decides; see docs/tutorials/03-error-handling.md, "Secrets").
"""

from __future__ import annotations

import dataclasses
import re
import sys
import warnings
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import ConfigurationError, LLMError
from .models import ChatResponse

__all__ = [
    "InsecureTransportWarning",
    "caller_stacklevel",
    "check_key",
    "redact",
    "redact_url",
    "scrub_error",
    "scrub_text",
    "url_password",
    "url_secrets",
    "warn_if_insecure",
]

_MASK = "***"
# Query parameters whose values are credentials (``?key=`` is Gemini's documented form).
_SECRET_QUERY = frozenset({"key", "api_key", "apikey", "api-key", "token", "access_token", "sig", "signature"})
# ``scheme://userinfo@`` anywhere in free text (messages, bodies): the password is hidden.
_USERINFO = re.compile(r"(?<=://)([^/?#@\s'\"<>]+)@")


class InsecureTransportWarning(UserWarning):
    """An API key would travel over plain HTTP to a host that is not loopback.

    ``host`` names that host (as written in the base_url, without userinfo)."""

    def __init__(self, message: str, host: str = "") -> None:
        super().__init__(message)
        self.host = host


def _masked_userinfo(userinfo: str) -> str:
    """``user:pass`` -> ``user:***``; a lone user name (often a token) -> ``***``."""
    user, has_password, _ = userinfo.partition(":")
    return f"{user}:{_MASK}" if has_password and user else _MASK


def _hide_userinfo(text: str) -> str:
    """Mask the userinfo of every ``scheme://userinfo@`` in ``text``."""
    return _USERINFO.sub(lambda m: _masked_userinfo(m.group(1)) + "@", text) if "://" in text else text


def redact(secret: str | None) -> str:
    """``"sk-abcdef...wxyz"`` -> ``"sk-...wxyz"``; short secrets become ``"***"``."""
    if not secret:
        return ""
    if len(secret) < 12:
        return _MASK
    prefix = secret[:3] if secret[:3].isalpha() or secret.startswith("sk-") else ""
    return f"{prefix}...{secret[-4:]}"


def redact_url(url: str) -> str:
    """``url`` safe to show: userinfo becomes ``user:***@`` (a lone user name, often a
    token, becomes ``***@``) and the values of credential query parameters (``key=``,
    ``api_key=``, ``token=``...) become ``***``. Never raises; URLs without secrets are
    returned unchanged."""
    if "@" not in url and "=" not in url:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            netloc = f"{_masked_userinfo(userinfo)}@{hostport}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(k.lower() in _SECRET_QUERY for k, _ in pairs):
                query = urlencode([(k, _MASK if k.lower() in _SECRET_QUERY else v) for k, v in pairs], safe="*")
        if netloc == parts.netloc and query == parts.query:
            return url
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not parseable as a URL (e.g. a broken IPv6 literal): hide any userinfo
        return _hide_userinfo(url)


def url_password(url: str) -> str | None:
    """The password in ``url``'s userinfo (``None`` if there is none), to scrub it from errors."""
    try:
        return urlsplit(url).password or None
    except ValueError:
        return None


def url_secrets(url: str) -> tuple[str, ...]:
    """Every secret ``url`` carries: the userinfo password (or a lone user name, often a
    token) and the values of ``key=`` / ``api_key=`` / ``token=``... query parameters."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ("" if parts.password is not None else (parts.username or ""))]
    except ValueError:
        return ()
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() in _SECRET_QUERY]
    return tuple(v for v in found if v)


#: Shorter values are not scrubbed from text: a 1-4 character "key" (``api_key="x"`` in a
#: test) would otherwise be masked inside every word that contains it.
MIN_SECRET_LENGTH = 6


def scrub_text(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` in ``text`` by its redacted form (secrets
    shorter than :data:`MIN_SECRET_LENGTH` are left alone)."""
    if not secret or len(secret) < MIN_SECRET_LENGTH or secret not in text:
        return text
    return text.replace(secret, redact(secret))


def _scrub_value(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` with every secret redacted and URL userinfo hidden, walking dicts,
    lists and tuples; str, bytes and bytearray are scrubbed; anything else is kept."""
    if isinstance(value, str):
        for secret in secrets:
            value = scrub_text(value, secret)
        return _hide_userinfo(value)
    if isinstance(value, (bytes, bytearray)):
        for secret in secrets:
            raw = secret.encode("utf-8")
            if len(secret) >= MIN_SECRET_LENGTH and raw in value:
                value = value.replace(raw, redact(secret).encode("ascii"))
        return _hide_userinfo(value.decode("latin-1")).encode("latin-1") if b"://" in value else value
    if isinstance(value, dict):
        return {k: _scrub_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub_value(v, secrets) for v in value)
    return value


def scrub_error(error: LLMError, *secrets: str | None) -> LLMError:
    """Remove every ``secret`` (and any URL userinfo) from ``error`` in place and return it:
    message, args, ``body`` (str, dict, list or bytes), ``headers`` and
    ``partial_response.raw``. The answer text already received is kept as it is."""
    keys = tuple(s for s in secrets if s)
    error.message = _scrub_value(error.message, keys)
    error.args = tuple(_scrub_value(a, keys) for a in error.args)
    for name in ("body", "headers"):
        if getattr(error, name, None) is not None:
            setattr(error, name, _scrub_value(getattr(error, name), keys))
    partial = error.partial_response
    if isinstance(partial, ChatResponse) and partial.raw is not None:
        raw = _scrub_value(partial.raw, keys)
        if raw != partial.raw:
            error.partial_response = dataclasses.replace(partial, raw=raw)
    return error


# -- keys and transport ---------------------------------------------------------------------------
def check_key(key: str, source: str, provider: str) -> str:
    """Strip surrounding whitespace; refuse keys that could not travel in a header
    (``source`` names where the key came from: ``"api_key"`` or the env variable)."""
    key = key.strip()
    if not key or not key.isascii() or any(ord(c) < 33 or ord(c) == 127 for c in key):
        raise ConfigurationError(
            f"the {provider} API key from {source} is empty or contains whitespace, control or "
            "non-ASCII characters (often a zero-width space from copy and paste); check how it was copied",
            provider=provider)
    return key


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress  # lazy: only for a plain-HTTP base_url, and it costs an import

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def caller_stacklevel() -> int:
    """The stacklevel that points a warning at the first frame outside this package."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("llm_connectivity"):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn_if_insecure(provider: str, base_url: str, api_key: str | None) -> None:
    """Warn (:class:`InsecureTransportWarning`, naming the host) when ``api_key`` would be
    sent over plain HTTP to a host that is not loopback."""
    try:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
    except ValueError:
        return
    if api_key and parts.scheme == "http" and not _is_loopback(host):
        warnings.warn(
            InsecureTransportWarning(
                f"the {provider} API key would be sent over plain HTTP to {host} "
                f"({redact_url(base_url)}); use an https:// base_url", host=host),
            stacklevel=caller_stacklevel(),
        )
