"""The on-disk layout of a cassette, the same shape as ``tests/fixtures/recorded``.

A cassette is a directory. Interaction ``NNN`` is three files, plus one shared timings file::

    001.request.json   method, URL (secrets removed), allow-listed headers, JSON body
    001.json           the response sidecar: status, headers, provider, wire format, error
    001.sse            the body exactly as it came off the wire (``.body`` if not SSE)
    timings.json       per interaction: when the headers and each body piece arrived

The sidecar uses the fields of the project's recorded-fixture sidecars (``name``,
``provider``, ``wire_format``, ``body_file``, ``recording`` with ``uri``/``method``/
``status``/``content_type``, ``body_sha256``, ``body_bytes``), so a fixture pair
``<name>.sse`` + ``<name>.json`` is also a one-interaction cassette and a recorded
interaction can become a fixture by adding an ``expected`` block. Missing request or
timing files are allowed: the request then comes from the sidecar's ``recording`` and the
body is one piece that arrived with the headers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import CassetteError
from .redaction import check_files

__all__ = ["Interaction", "Piece", "RecordedError", "check_replaceable", "load_cassette", "wire_format",
           "write_cassette"]

TIMINGS_FILE = "timings.json"
_PROMPT_FIELDS = ("messages", "input", "contents", "system", "system_instruction", "systemInstruction",
                  "instructions", "prompt")


@dataclass
class Piece:
    """One body read: the bytes and when they arrived (seconds after the request was sent)."""

    data: bytes
    at: float


@dataclass
class RecordedError:
    """An error the transport raised: its class name in :mod:`llm_connectivity.errors`, its
    message, and where: ``after_piece`` pieces into the body, or None if ``send`` raised."""

    type: str
    message: str
    after_piece: int | None
    at: float
    seconds: float | None = None


@dataclass
class Interaction:
    """One recorded request and what came back."""

    name: str
    request: dict[str, Any]
    provider: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    pieces: list[Piece] = field(default_factory=list)
    headers_at: float = 0.0
    error: RecordedError | None = None
    complete: bool = True  # False: the caller stopped reading before the end of the body
    merged: bool = False  # True: imported from a store that kept no piece boundaries or timing
    extra: dict[str, Any] = field(default_factory=dict)  # other sidecar fields, kept as they were

    @property
    def body(self) -> bytes:
        """The whole recorded body."""
        return b"".join(piece.data for piece in self.pieces)

    @property
    def content_type(self) -> str:
        """The response Content-Type, or ""."""
        return self.headers.get("content-type", "")


def wire_format(url: str, content_type: str) -> str:
    """The fixture ``wire_format`` name of a response, from the request path and Content-Type."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    sse = "event-stream" in content_type
    if path.endswith(":streamGenerateContent"):
        return "gemini-sse" if sse else "gemini-json-array"
    for suffix, name in ((":generateContent", "gemini"), ("/messages", "anthropic-messages"),
                         ("/responses", "openai-responses"), ("/chat/completions", "openai-chat-completions")):
        if path.endswith(suffix):
            return name if sse else f"{name}-json"
    return "unknown"


def _request_params(body: Any) -> Any:
    """The request body without the prompt (what a fixture sidecar shows)."""
    if not isinstance(body, dict):
        return None
    return {k: v for k, v in body.items() if k not in _PROMPT_FIELDS}


def _dumps(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _sidecar(item: Interaction, body_file: str) -> dict[str, Any]:
    body = item.body
    url = str(item.request.get("url", ""))
    error: dict[str, Any] | None = None
    if item.error is not None:
        error = {"type": item.error.type, "message": item.error.message, "after_piece": item.error.after_piece}
        if item.error.seconds is not None:
            error["seconds"] = item.error.seconds
    sidecar: dict[str, Any] = {
        "name": item.name, "provider": item.provider, "wire_format": wire_format(url, item.content_type),
        "body_file": body_file,
        "recording": {"uri": url, "method": item.request.get("method"), "status": item.status,
                      "content_type": item.content_type or None,
                      "content_encoding_on_wire": item.headers.get("content-encoding"),
                      "request": _request_params(item.request.get("body")), "headers": item.headers},
        "body_sha256": hashlib.sha256(body).hexdigest(), "body_bytes": len(body),
        "complete": item.complete, "merged": item.merged, "error": error,
    }
    for key, value in item.extra.items():
        sidecar.setdefault(key, value)
    return sidecar


def _timings(items: list[Interaction]) -> bytes:
    """One line per body piece: readable, and a diff shows which piece moved."""
    lines = ["{", '  "version": 1,', '  "unit": "seconds after the request was sent; pieces are [arrival, bytes]",',
             '  "interactions": {']
    for i, item in enumerate(items):
        head = {"headers_at": round(item.headers_at, 6),
                "error_at": round(item.error.at, 6) if item.error is not None else None}
        lines.append(f'    "{item.name}": {json.dumps(head)[:-1]}, "pieces": [')
        rows = [f"      [{round(p.at, 6)}, {len(p.data)}]" for p in item.pieces]
        if rows:
            lines.append(",\n".join(rows))
        lines.append("    ]}" + ("," if i < len(items) - 1 else ""))
    lines += ["  }", "}", ""]
    return "\n".join(lines).encode("utf-8")


def render_files(items: list[Interaction]) -> dict[str, bytes]:
    """The files of a cassette holding ``items``: name -> bytes."""
    files: dict[str, bytes] = {}
    for item in items:
        kind = wire_format(str(item.request.get("url", "")), item.content_type)
        suffix = ".sse" if "event-stream" in item.content_type else ".json-stream" if kind.endswith("array") else ".body"
        body_file = item.name + suffix
        files[f"{item.name}.request.json"] = _dumps(item.request)
        files[f"{item.name}.json"] = _dumps(_sidecar(item, body_file))
        files[body_file] = item.body
    files[TIMINGS_FILE] = _timings(items)
    return files


def _foreign_entries(path: Path) -> list[str]:
    """The entries of the directory ``path`` that no cassette wrote (hidden files aside)."""
    own = {TIMINGS_FILE}
    for sidecar_file in path.glob("*.json"):
        try:
            sidecar = json.loads(sidecar_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(sidecar, dict) and isinstance(sidecar.get("body_file"), str):
            name = str(sidecar.get("name") or sidecar_file.stem)
            own |= {sidecar_file.name, sidecar["body_file"], f"{name}.request.json"}
    return sorted(entry.name for entry in path.iterdir()
                  if entry.name not in own and not (entry.name.startswith(".") and entry.is_file()))


def check_replaceable(path: Path) -> None:
    """Raise :class:`CassetteError` if writing a cassette at ``path`` would delete files that
    are not part of a cassette (writing replaces the whole directory)."""
    if path.exists() and not path.is_dir():
        raise CassetteError(f"{path} is a file, not a cassette directory; give the cassette a directory of its own")
    foreign = _foreign_entries(path) if path.is_dir() else []
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise CassetteError(f"{path} is not a cassette directory: it holds {shown}, which recording would delete "
                            "(a cassette is written by replacing its whole directory). Give the cassette a "
                            "directory of its own: a new or empty path.")


def write_cassette(path: Path, items: list[Interaction], secrets: list[str]) -> None:
    """Write ``items`` as the cassette at ``path``, atomically: the files go to a temporary
    directory next to it, which is renamed into place (replacing an older version; hidden
    files such as ``.gitkeep`` are carried over). Raises :class:`CassetteSecretError` if a
    file contains a secret, and :class:`CassetteError` if ``path`` holds files that are not
    part of a cassette; either way nothing is written."""
    files = render_files(items)
    check_files(files, secrets, str(path))
    check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        for hidden in path.glob(".*") if path.is_dir() else ():
            if hidden.is_file() and not (tmp / hidden.name).exists():
                shutil.copy2(hidden, tmp / hidden.name)
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "cassette")
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CassetteError(f"cannot read cassette file {path}: {exc}") from exc


def _error(data: Any, at: float | None) -> RecordedError | None:
    if not isinstance(data, dict):
        return None
    return RecordedError(str(data.get("type", "StreamInterruptedError")), str(data.get("message", "")),
                         data.get("after_piece"), float(at or 0.0), data.get("seconds"))


def _pieces(body: bytes, timing: dict[str, Any] | None, headers_at: float, where: str) -> list[Piece]:
    if not timing or not timing.get("pieces"):
        return [Piece(body, headers_at)] if body else []
    pieces, offset = [], 0
    try:
        for at, size in timing["pieces"]:
            pieces.append(Piece(body[offset:offset + int(size)], float(at)))
            offset += int(size)
    except (TypeError, ValueError) as exc:
        raise CassetteError(f"{where}: its timings.json pieces are not [seconds, bytes] pairs ({exc})") from exc
    if offset != len(body):
        raise CassetteError(
            f"{where}: its timings.json pieces cover {offset} bytes but the body file has {len(body)} (was it "
            "edited?). Re-record it, or delete its entry from timings.json to replay the body as one piece.")
    return pieces


def _interaction(folder: Path, sidecar: dict[str, Any], timings: dict[str, Any]) -> Interaction:
    name = str(sidecar.get("name") or "")
    recording = sidecar.get("recording") or {}
    request_file = folder / f"{name}.request.json"
    if request_file.exists():
        request = _read_json(request_file)
    else:  # a project fixture: only the request parameters were kept
        request = {"method": recording.get("method") or "POST", "url": recording.get("uri") or "",
                   "headers": {}, "body": recording.get("request")}
    where = f"cassette {folder}, interaction {name}"
    try:
        body = (folder / str(sidecar["body_file"])).read_bytes()
    except OSError as exc:
        raise CassetteError(f"{where}: cannot read its body file {sidecar['body_file']!r}: {exc.strerror}") from exc
    timing = timings.get(name)
    headers_at = float(timing.get("headers_at") or 0.0) if timing else 0.0
    headers = {str(k).lower(): str(v) for k, v in (recording.get("headers") or {}).items()}
    if "content-type" not in headers and recording.get("content_type"):
        headers["content-type"] = recording["content_type"]
    known = {"name", "provider", "body_file", "recording", "body_sha256", "body_bytes", "complete", "merged",
             "error", "wire_format"}
    return Interaction(
        name=name, request=request, provider=sidecar.get("provider"), status=recording.get("status", 200),
        headers=headers, pieces=_pieces(body, timing, headers_at, where), headers_at=headers_at,
        error=_error(sidecar.get("error"), timing.get("error_at") if timing else None),
        complete=bool(sidecar.get("complete", True)), merged=bool(sidecar.get("merged", False)),
        extra={k: v for k, v in sidecar.items() if k not in known})


def _recorded_order(sidecar_file: Path) -> tuple[int, str]:
    """Numbered interactions in number order (``999`` before ``1000``), then named ones."""
    stem = sidecar_file.name.split(".", 1)[0]
    return (int(stem), "") if stem.isdigit() else (1 << 62, sidecar_file.name)


def load_cassette(path: Path) -> list[Interaction]:
    """The interactions stored at ``path`` in name order ([] if the directory is missing)."""
    if not path.is_dir():
        return []
    timings_file = path / TIMINGS_FILE
    timings = _read_json(timings_file).get("interactions", {}) if timings_file.exists() else {}
    items = []
    for sidecar_file in sorted(path.glob("*.json"), key=_recorded_order):
        if sidecar_file.name == TIMINGS_FILE or sidecar_file.name.endswith(".request.json"):
            continue
        sidecar = _read_json(sidecar_file)
        if isinstance(sidecar, dict) and "body_file" in sidecar:
            sidecar.setdefault("name", sidecar_file.stem)
            items.append(_interaction(path, sidecar, timings))
    return items
