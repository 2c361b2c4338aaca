"""Wire details the transport adds to every request: URL userinfo and the User-Agent.

- **Userinfo** (``http://user:pass@host/v1``) is removed from the URL (so it never reaches
  logs, reprs or the request line) and sent as ``Authorization: Basic`` only when the
  request has no ``Authorization`` header of its own; when it has one (the API key), the
  two would compete, so :class:`~llm_connectivity.errors.ConfigurationError` is raised
  before any I/O, naming the conflict but not the password.
- **User-Agent**: ``llm-connectivity/<version> python/<x.y>`` unless the caller set one.
"""

from __future__ import annotations

import base64
import sys
from urllib.parse import unquote, urlsplit, urlunsplit

from .._version import __version__
from ..errors import ConfigurationError

__all__ = ["USER_AGENT", "apply_userinfo", "has_header"]

USER_AGENT = f"llm-connectivity/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]}"


def has_header(headers: dict[str, str], name: str) -> bool:
    """True if ``headers`` has ``name`` (``name`` lower-case), in any casing."""
    return name in headers or any(key.lower() == name for key in headers)


def apply_userinfo(url: str, headers: dict[str, str], provider: str | None) -> tuple[str, dict[str, str]]:
    """``url`` without userinfo and ``headers`` with the matching Basic credentials (see the
    module docstring); unchanged when the URL has none."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, headers
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if has_header(headers, "authorization"):
        raise ConfigurationError(
            f"base_url for {hostport} carries credentials (user:password@) and the request also has an "
            "Authorization header (the API key): remove the user:password@ part from base_url, or pass no "
            "api_key, so that only one of them is sent", provider=provider)
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, {**headers, "Authorization": f"Basic {token}"}
