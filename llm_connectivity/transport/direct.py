"""One HTTP/1.1 exchange on a pooled urllib3 connection, without requests or http.client.

urllib3 still opens the connection (DNS, TCP, TLS with its verification, the pool and its
stale-connection check); this module writes the request in one ``sendall`` and parses the
status line and headers itself from the socket's buffered file, then hands the body to a
:mod:`.body` reader on the same buffer. That removes most of the per-call cost of
requests, urllib3's request/response objects and ``http.client``'s e-mail header parser.
The rules are those of :mod:`.http11`: interim 1xx responses are skipped, header lines over
64 KiB and more than 100 headers are refused (with ``http.client``'s exception types, so
the transport maps them the same way), and the thread's :class:`~.http11.RequestState`
records whether a byte of the answer arrived. Proxies and a caller's Session never come
here: they keep the requests path.
"""

from __future__ import annotations

import http.client
import socket
from typing import Any

from ..errors import ConfigurationError
from .body import BodyError, BodyReader, body_reader, encoding_of
from .http11 import MAX_INTERIM, RequestState

__all__ = ["DirectExchange", "Headers", "framing", "read_head", "request_head", "start"]

_MAX_LINE = 65536
_MAX_HEADERS = 100


class Headers(dict[str, str]):  # names stored lower-case
    """Response headers; lookups ignore case."""

    def get(self, key: str, default: Any = None) -> Any:
        return dict.get(self, key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, key.lower())

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key.lower() if isinstance(key, str) else key)


def request_head(method: str, target: str, hostport: str, headers: dict[str, str], body: bytes,
                 user_agent: str) -> bytes:
    """The request line and headers, ready to send."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {hostport}"]
    seen = set()
    for name, value in headers.items():
        lower = name.lower()
        seen.add(lower)
        if lower == "host":
            lines[1] = f"Host: {value}"
            continue
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name or ":" in name:
            raise ConfigurationError(f"invalid request header {name!r}: line breaks (or a colon in the name) "
                                     "are not allowed")
        lines.append(f"{name}: {value}")
    if "content-length" not in seen and (body or method in ("POST", "PUT", "PATCH")):
        lines.append(f"Content-Length: {len(body)}")
    if "user-agent" not in seen:
        lines.append(f"User-Agent: {user_agent}")
    if "accept-encoding" not in seen:
        lines.append("Accept-Encoding: identity")
    lines.append("\r\n")
    try:
        return "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ConfigurationError(f"a request header holds characters HTTP/1.1 cannot carry ({exc.reason} at "
                                 f"{exc.start}): use ASCII header values") from None


def _read_line(fp: Any, what: str) -> bytes:
    line: bytes = fp.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise http.client.LineTooLong(what)
    return line


def _read_headers(fp: Any) -> Headers:
    headers = Headers()
    last = None
    for _ in range(_MAX_HEADERS + 1):
        line = _read_line(fp, "header line")
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise http.client.IncompleteRead(b"")  # the connection ended inside the headers
        text = line.decode("latin-1")
        if text[0] in " \t" and last is not None:  # obsolete line folding
            headers[last] += " " + text.strip()
            continue
        name, sep, value = text.partition(":")
        if not sep:
            raise http.client.BadStatusLine(text)  # not a header line
        last = name.strip().lower()
        value = value.strip()
        headers[last] = f"{headers[last]}, {value}" if last in headers else value
    raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


def _status(line: bytes) -> tuple[str, int]:
    text = line.decode("latin-1")
    version, _, rest = text.rstrip("\r\n").partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit() or (len(rest) > 3 and rest[3] != " "):
        raise http.client.BadStatusLine(text)
    return version, int(code)


def read_head(fp: Any, state: RequestState) -> tuple[str, int, Headers]:
    """Read the final status line and headers (interim 1xx responses are skipped)."""
    try:
        first = fp.peek(1)
    except ConnectionResetError as exc:
        raise http.client.RemoteDisconnected("the server reset the connection before answering") from exc
    if not first:
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    state.started = True
    for _ in range(MAX_INTERIM + 1):
        line = _read_line(fp, "status line")
        if not line.endswith(b"\n"):
            raise http.client.BadStatusLine(line.decode("latin-1"))  # cut: the connection ended
        version, status = _status(line)
        headers = _read_headers(fp)
        if not 100 <= status < 200 or status == 101:
            return version, status, headers
    raise http.client.HTTPException(f"the server sent more than {MAX_INTERIM} interim (1xx) responses")


class DirectExchange:
    """The body and connection of one direct exchange (see :class:`.response.Exchange`)."""

    __slots__ = ("_pool", "_conn", "_fp", "_reader", "_keep", "read")

    def __init__(self, pool: Any, conn: Any, fp: Any, reader: BodyReader, keep_alive: bool) -> None:
        self._pool, self._conn, self._fp, self._reader, self._keep = pool, conn, fp, reader, keep_alive
        self.read = reader.read

    def clean(self) -> bool:
        return self._keep and self._reader.reusable

    def give_back(self) -> None:
        self._fp.close()
        self._pool._put_conn(self._conn)

    def discard(self) -> None:
        self._fp.close()
        self._conn.close()
        self._pool._put_conn(self._conn)  # closed: the pool's next checkout connects anew


def framing(method: str, version: str, status: int, headers: Headers) -> tuple[bool, int | None, bool]:
    """(chunked, content length, keep-alive) for a response."""
    connection = headers.get("connection", "").lower()
    keep = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return False, 0, keep and status != 101  # after 101 the connection no longer speaks HTTP
    te = headers.get("transfer-encoding")
    codings = [c for c in (c.strip().lower() for c in te.split(",")) if c not in ("identity", "")] if te else []
    if codings:  # ("identity", obsolete, changes nothing: then the length rules below apply)
        if codings != ["chunked"]:
            raise BodyError(f"the server sent Transfer-Encoding {te!r}, which this client does not decode")
        return True, None, keep and "content-length" not in headers
    length = headers.get("content-length")
    if length is None:
        return False, None, False  # the body ends when the connection does
    values = {v.strip() for v in length.split(",")}
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise BodyError(f"the server sent an invalid Content-Length {length[:40]!r}")
    return False, int(values.pop()), keep


def _send(sock: socket.socket, head: bytes, body: bytes) -> OSError | None:
    """Write the request; a server may answer (413, 401...) and close before reading all of
    it: then the failure is returned, not raised, so that the answer is read (as urllib3
    does) and only raised when there is none."""
    try:
        if len(body) < 65536:
            sock.sendall(head + body)
        else:
            sock.sendall(head)
            sock.sendall(body)
    except (BrokenPipeError, ConnectionResetError) as exc:
        return exc
    return None


def start(pool: Any, method: str, head: bytes, body: bytes, connect_timeout: float | None,
          read_timeout: float | None, state: RequestState) -> tuple[int, Headers, socket.socket, DirectExchange]:
    """Send one request on a connection of ``pool``; return the status, headers, socket and
    body once the final status line and headers arrived. On any failure the connection is
    closed (and its pool slot freed) before the exception propagates."""
    conn = pool._get_conn()
    fp = None
    try:
        if conn.sock is None:
            conn.timeout = connect_timeout
            conn.connect()
        sock: socket.socket = conn.sock
        sock.settimeout(read_timeout)
        sent = _send(sock, head, body)
        fp = sock.makefile("rb")
        try:
            version, status, headers = read_head(fp, state)
        except (http.client.RemoteDisconnected, OSError):
            if sent is not None:  # no answer to read either: the send failure is what happened
                raise sent from None
            raise
        chunked, length, keep = framing(method, version, status, headers)
        keep = keep and sent is None  # the server answered before reading all of the request
        reader = body_reader(fp, chunked=chunked, length=length, encoding=encoding_of(headers.get("content-encoding")))
    except BaseException:
        if fp is not None:
            fp.close()
        conn.close()
        pool._put_conn(conn)
        raise
    return status, headers, sock, DirectExchange(pool, conn, fp, reader, keep)
