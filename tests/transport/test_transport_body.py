"""Content-Encoding under every body framing (:mod:`llm_connectivity.transport.body`): gzip,
zlib-wrapped and raw deflate decode; a compressed body cut short is named as cut, never
taken as a clean (shorter) end, even when the framing (close-delimited) cannot tell."""

from __future__ import annotations

import io
import zlib

import pytest

from llm_connectivity.transport.body import BodyCut, body_reader

TEXT = b'data: {"choices":[{"index":0,"delta":{"content":"compressed"}}]}\n\n' * 40


def _compress(wbits: int) -> bytes:
    compressor = zlib.compressobj(wbits=wbits)
    return compressor.compress(TEXT) + compressor.flush()


def _chunked(data: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 100]), data[i:i + 100]) for i in range(0, len(data), 100)) + \
        b"0\r\n\r\n"


def _read_all(data: bytes, framing: str, encoding: str) -> bytes:
    fp = io.BufferedReader(io.BytesIO(_chunked(data) if framing == "chunked" else data), 16)
    reader = body_reader(fp, chunked=framing == "chunked", length=len(data) if framing == "length" else None,
                         encoding=encoding)
    parts = []
    for _ in range(100_000):
        piece = reader.read()
        if not piece:
            return b"".join(parts)
        parts.append(piece)
    raise AssertionError("the reader never ended")


ENCODINGS = {"gzip": ("gzip", 31), "deflate (zlib-wrapped)": ("deflate", 15), "deflate (raw)": ("deflate", -15)}
FRAMINGS = ["chunked", "length", "close"]


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_encoded_bodies_decode_on_every_framing(encoding: str, framing: str) -> None:
    name, wbits = ENCODINGS[encoding]
    assert _read_all(_compress(wbits), framing, name) == TEXT


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_a_compressed_body_cut_short_is_a_cut_not_an_end(encoding: str) -> None:
    name, wbits = ENCODINGS[encoding]
    data = _compress(wbits)
    with pytest.raises(BodyCut) as info:  # close-delimited: only the compressed stream knows it is cut
        _read_all(data[:len(data) // 2], "close", name)
    assert str(info.value) == f"the {name} body ended before its compressed stream did"
