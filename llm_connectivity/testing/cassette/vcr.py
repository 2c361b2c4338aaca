"""Import a vcrpy YAML cassette of an LLM API into the cassette layout.

vcrpy stores each interaction as YAML: ``request`` (``method``, ``uri``, ``body``, ``headers``
as lists of values) and ``response`` (``status: {code, message}``, ``headers``, ``body:
{string: ...}``; some serializers store JSON as ``parsed_body``; cassettes recorded through
httpx, as the OpenAI and Anthropic SDKs use it, have ``status_code`` and ``content``, the
body httpx had already decompressed). Bodies are YAML strings, or ``!!binary`` base64 when
they are not UTF-8 (gzip-encoded bodies are stored still compressed, with their
``Content-Encoding``). vcrpy
keeps a streamed body as one blob with no timing: the import splits it into its events
(one body piece per server-sent event) and flags the interaction ``merged: true`` with a
warning, since neither the real piece boundaries nor the gaps are known (replay delivers the
events without waiting). Requires ``pyyaml`` (the ``cassette`` extra).
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ...request import HTTPRequest
from .errors import CassetteError
from .matching import stored_request
from .redaction import request_secrets, response_headers
from .storage import Interaction, Piece, write_cassette

__all__ = ["ImportReport", "import_vcr", "split_events"]

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_HOSTS = {"api.openai.com": "openai", "api.anthropic.com": "anthropic",
          "generativelanguage.googleapis.com": "gemini", "api.x.ai": "xai", "openrouter.ai": "openrouter",
          "api.groq.com": "groq", "api.deepseek.com": "deepseek", "api.mistral.ai": "mistral",
          "api.together.xyz": "together", "api.perplexity.ai": "perplexity", "api.fireworks.ai": "fireworks"}


@dataclass
class ImportReport:
    """What an import wrote: the number of interactions, and warnings to show the user."""

    path: Path
    interactions: int = 0
    merged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def split_events(body: bytes) -> list[bytes]:
    """A server-sent-event body cut after each event's blank line (the pieces join back
    to ``body`` exactly; a trailing incomplete event is the last piece)."""
    pieces, start = [], 0
    for match in _EVENT_END.finditer(body):
        pieces.append(body[start:match.end()])
        start = match.end()
    if start < len(body):
        pieces.append(body[start:])
    return pieces


def _loader() -> Any:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CassetteError("importing vcrpy cassettes needs PyYAML: pip install 'llm_connectivity[cassette]'") from exc

    class Loader(yaml.SafeLoader):
        """SafeLoader that also reads the ``!!python/unicode`` strings of old vcrpy files."""

    def as_text(loader: Any, node: Any) -> str:
        return str(loader.construct_scalar(node))

    for tag in ("tag:yaml.org,2002:python/unicode", "tag:yaml.org,2002:python/str"):
        Loader.add_constructor(tag, as_text)
    return yaml, Loader


def _headers(raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (raw or {}).items():
        values = value if isinstance(value, list) else [value]
        out[str(name)] = ", ".join(str(v) for v in values)
    return out


def _bytes(part: dict[str, Any]) -> bytes:
    """A request's or response's body: ``body`` (a string, ``!!binary`` bytes, or vcrpy's
    ``{string: ...}``), else ``parsed_body`` (JSON, as some vcrpy serializers store it)."""
    value = part.get("body")
    if isinstance(value, dict):
        value = value.get("string", value.get("base64_string"))
    if value is None and part.get("parsed_body") is not None:
        value = json.dumps(part["parsed_body"], separators=(",", ":"), ensure_ascii=False)
    if value is None:
        return b""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _decode(body: bytes, encoding: str, where: str, report: ImportReport) -> bytes:
    encoding = encoding.strip().lower()
    if not body or encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate", "br"):
        raise CassetteError(f"{where}: its body has Content-Encoding {encoding!r}, which the import cannot decode; "
                            "nothing was written. Record the vcrpy cassette with decode_compressed_response=True.")
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        return _brotli(where).decompress(body)  # type: ignore[no-any-return]
    except CassetteError:
        raise
    except Exception:  # zlib.error, OSError, brotli.error: the body was stored decoded already
        report.warnings.append(f"{where}: Content-Encoding says {encoding} but the stored body is not; kept as is")
        return body


def _brotli(where: str) -> Any:
    """The ``brotli`` (or ``brotlicffi``) module, imported lazily."""
    for name in ("brotli", "brotlicffi"):
        try:
            return __import__(name)
        except ImportError:
            continue
    raise CassetteError(f"{where}: its body is brotli-compressed (Content-Encoding: br); decoding it needs the "
                        "brotli package: pip install brotli. Nothing was written.")


def _response_body(resp: dict[str, Any], encoding: str, where: str, report: ImportReport) -> bytes:
    """The response body: ``body``/``parsed_body`` (decoded per Content-Encoding), or the
    ``content`` of vcrpy's httpx format, which httpx had already decoded."""
    if "body" in resp or "parsed_body" in resp:
        return _decode(_bytes(resp), encoding, where, report)
    if "content" in resp:
        return _bytes({"body": resp["content"]})
    report.warnings.append(f"{where}: the response stores no body (no body, content or parsed_body key)")
    return b""


def _provider(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    return next((name for known, name in _HOSTS.items() if host == known or host.endswith("." + known)), None)


def _interaction(index: int, entry: dict[str, Any], report: ImportReport, secrets: set[str]) -> Interaction:
    name = f"{index:03d}"
    req, resp = entry.get("request") or {}, entry.get("response") or {}
    req_headers = _headers(req.get("headers"))
    url = str(req.get("uri") or req.get("url") or "")
    secrets.update(request_secrets(req_headers, url))
    request = stored_request(HTTPRequest(str(req.get("method") or "POST"), url, req_headers, _bytes(req)))
    headers = _headers(resp.get("headers"))
    lowered = {k.lower(): v for k, v in headers.items()}
    body = _response_body(resp, lowered.get("content-encoding", ""), f"interaction {name}", report)
    status = resp.get("status", resp.get("status_code")) or {}  # status_code: vcrpy's httpx format
    item = Interaction(name=name, request=request, provider=_provider(url),
                       status=int(status.get("code", 200) if isinstance(status, dict) else status),
                       headers=response_headers(headers))
    sse = "event-stream" in lowered.get("content-type", "") or body.lstrip().startswith((b"data:", b"event:"))
    streamed = sse or ":streamGenerateContent" in url or (isinstance(request.get("body"), dict)
                                                          and request["body"].get("stream") is True)
    item.pieces = [Piece(piece, 0.0) for piece in (split_events(body) if sse else [body]) if piece]
    if streamed and item.pieces:
        item.merged = True
        report.merged.append(name)
        how = f"split into {len(item.pieces)} events at event boundaries" if sse else "kept as one piece"
        report.warnings.append(
            f"interaction {name}: the stream was stored merged (one blob, no timing): {how}; real arrival times "
            "are unknown, so replay sends it without gaps (flagged merged: true in its sidecar)")
    return item


def import_vcr(yaml_file: str | Path, directory: str | Path, *, overwrite: bool = False) -> ImportReport:
    """Convert the vcrpy cassette ``yaml_file`` into a cassette directory ``directory``."""
    source, target = Path(yaml_file), Path(directory)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise CassetteError(f"{target} already exists and is not empty; choose a new directory or pass overwrite")
    yaml, loader = _loader()
    try:
        data = yaml.load(source.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise CassetteError(f"cannot read vcrpy cassette {source}: {exc}") from exc
    entries = data.get("interactions") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "request" in e for e in entries):
        raise CassetteError(f"{source} is not a vcrpy cassette (expected a list of request/response interactions)")
    report = ImportReport(target)
    secrets: set[str] = set()
    items = [_interaction(i, entry, report, secrets) for i, entry in enumerate(entries, 1)]
    write_cassette(target, items, sorted(secrets, key=len, reverse=True))
    report.interactions = len(items)
    return report
