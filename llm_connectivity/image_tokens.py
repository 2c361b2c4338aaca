"""Input tokens of images, by each provider's published rule.

- OpenAI (and OpenAI-compatible servers): ``detail="low"`` costs 85 tokens; otherwise the
  image is scaled to fit 2048x2048, then its short side to 768, and costs 85 + 170 per
  512-pixel tile.
- Anthropic: about width x height / 750 tokens, after scaling the long edge to 1568.
- Gemini: 258 tokens when both sides are at most 384 pixels, else 258 per 768x768 tile.

The size is read from the image header when the image is inline (a ``data:`` URL or a
base64 ``source``: PNG, GIF, JPEG, WebP); a linked image is assumed to be 1024x1024.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from typing import Any

__all__ = ["DEFAULT_SIZE", "image_size", "image_tokens"]

#: Size assumed for an image whose bytes are not in the request.
DEFAULT_SIZE = (1024, 1024)
_HEADER_BYTES = 64 * 1024  # enough base64 to reach a JPEG's SOF marker in practice


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, GIF, JPEG or WebP header; None if not recognised."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return (int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1)
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        pos += 2 + length
    return None


def _decode_head(b64: str) -> bytes:
    head = b64[:_HEADER_BYTES]
    head = head[: len(head) - len(head) % 4]
    try:
        return base64.b64decode(head)
    except (binascii.Error, ValueError):
        return b""


def _inline_bytes(part: dict[str, Any]) -> bytes | None:
    """The first bytes of an inline image part (OpenAI data URL, Anthropic / Gemini base64)."""
    url = part.get("image_url")
    url = url.get("url") if isinstance(url, dict) else url
    if isinstance(url, str) and url.startswith("data:") and "," in url:
        return _decode_head(url.split(",", 1)[1])
    source = part.get("source") or part.get("inline_data") or part.get("inlineData")
    if isinstance(source, dict) and isinstance(source.get("data"), str):
        return _decode_head(source["data"])
    return None


def _openai_tokens(width: int, height: int, detail: str) -> int:
    if detail == "low":
        return 85
    scale = min(1.0, 2048 / max(width, height))
    scale *= min(1.0, 768 / (min(width, height) * scale))
    return 85 + 170 * math.ceil(width * scale / 512) * math.ceil(height * scale / 512)


def _anthropic_tokens(width: int, height: int) -> int:
    scale = min(1.0, 1568 / max(width, height))
    return max(1, round(width * scale * height * scale / 750))


def _gemini_tokens(width: int, height: int) -> int:
    if width <= 384 and height <= 384:
        return 258
    return 258 * math.ceil(width / 768) * math.ceil(height / 768)


def image_tokens(part: dict[str, Any], provider: str = "openai") -> int:
    """Input tokens of one image content part for ``provider`` (see the module docstring)."""
    data = _inline_bytes(part)
    size = image_size(data) if data else None
    width, height = size if size and size[0] > 0 and size[1] > 0 else DEFAULT_SIZE
    if provider == "anthropic":
        return _anthropic_tokens(width, height)
    if provider == "gemini":
        return _gemini_tokens(width, height)
    url = part.get("image_url")
    detail = url.get("detail", "auto") if isinstance(url, dict) else "auto"
    return _openai_tokens(width, height, str(detail))
