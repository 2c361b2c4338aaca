"""ChunkedDecoder: the same payload however the bytes are split, payload never held back,
broken framing named in words after the good payload before it."""

from __future__ import annotations

import pytest

from llm_connectivity.transport.chunked import ChunkedDecoder, ChunkedError

BODY = (b"5\r\nHello\r\n"
        b"7;ext=1\r\n, world\r\n"
        b"A  \r\n0123456789\r\n"
        b"0\r\nX-Trailer: yes\r\n\r\n")
PAYLOAD = b"Hello, world0123456789"


def _decode(pieces: list[bytes]) -> tuple[list[bytes], ChunkedDecoder]:
    decoder = ChunkedDecoder()
    return [decoder.feed(p) for p in pieces], decoder


def test_one_feed() -> None:
    out, decoder = _decode([BODY])
    assert out == [PAYLOAD]
    assert decoder.done and decoder.extra == 0


@pytest.mark.parametrize("cut", range(1, len(BODY)))
def test_split_anywhere_gives_the_same_payload_and_holds_nothing_back(cut: int) -> None:
    out, decoder = _decode([BODY[:cut], BODY[cut:]])
    assert b"".join(out) == PAYLOAD
    assert decoder.done
    # Every payload byte that was in the first piece came out of the first feed.
    spans = [(BODY.index(part), len(part)) for part in (b"Hello", b", world", b"0123456789")]
    arrived = sum(max(0, min(cut, start + size) - start) for start, size in spans)
    assert out[0] == PAYLOAD[:arrived]


def test_byte_by_byte() -> None:
    out, decoder = _decode([BODY[i:i + 1] for i in range(len(BODY))])
    assert b"".join(out) == PAYLOAD
    assert decoder.done


def test_bytes_after_the_end_are_counted_not_decoded() -> None:
    out, decoder = _decode([BODY + b"HTTP/1.1 200 OK\r\n", b"more"])
    assert out == [PAYLOAD, b""]
    assert decoder.done and decoder.extra == len(b"HTTP/1.1 200 OK\r\n") + 4


@pytest.mark.parametrize("data, message", [
    (b"zz\r\n", "the chunked body is malformed: invalid chunk size 'zz'"),
    (b"-5\r\nHello\r\n", "the chunked body is malformed: invalid chunk size '-5'"),
    (b"\r\n", "the chunked body is malformed: invalid chunk size ''"),
    # int(..., 16) takes these, HTTP does not: a proxy that frames strictly would see
    # another body (request smuggling's response twin)
    (b"0x5\r\nHello\r\n", "the chunked body is malformed: invalid chunk size '0x5'"),
    (b"0X5\r\nHello\r\n", "the chunked body is malformed: invalid chunk size '0X5'"),
    (b"0_5\r\nHello\r\n", "the chunked body is malformed: invalid chunk size '0_5'"),
    (b"1_0\r\nHello\r\n", "the chunked body is malformed: invalid chunk size '1_0'"),
    (b"3\r\nHelloXX", "the chunked body is malformed: a chunk is longer than its declared size"),
    (b"1" * 5000, "the chunked body is malformed: a chunk-size line longer than 4096 bytes"),
    (b"0\r\n" + b"X" * 5000, "the chunked body is malformed: a trailer line longer than 4096 bytes"),
])
def test_broken_framing_is_named(data: bytes, message: str) -> None:
    decoder = ChunkedDecoder()
    with pytest.raises(ChunkedError) as info:
        decoder.feed(data)
        decoder.feed(b"")  # after good payload, the error comes with the next call
    assert str(info.value).startswith(message)


def test_good_payload_before_broken_framing_is_returned_first() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"5\r\nHello\r\nzz\r\n") == b"Hello"
    assert decoder.error is not None
    with pytest.raises(ChunkedError, match="invalid chunk size 'zz'"):
        decoder.feed(b"more")


@pytest.mark.parametrize("data, words", [
    (b"5\r\nHel", "the chunked body ended mid-chunk (2 bytes of the chunk never arrived)"),
    (b"5\r\nHello\r\n", "the chunked body ended before its last (zero-size) chunk"),
])
def test_eof_error_words(data: bytes, words: str) -> None:
    decoder = ChunkedDecoder()
    decoder.feed(data)
    assert not decoder.done
    assert decoder.eof_error() == words
