"""Conformance suite for :func:`llm_connectivity.sse.iter_sse`.

The expectations come from the WHATWG HTML standard, section 9.2.6 "Interpreting an event
stream". Every table case is delivered to the decoder in several ways (the whole body in one
piece, one byte at a time, every two-way split, and byte-wise through ``SSEDecoder.feed`` with
empty reads interleaved); all deliveries must give the same events, and those events must also
match the small reference implementation below (:func:`reference_events`), which follows the
standard literally on the whole decoded stream.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Iterator

import pytest

from llm_connectivity.errors import ProtocolError
from llm_connectivity.sse import DEFAULT_MAX_LINE_BYTES, SSEDecoder, SSEEvent, iter_sse

BOM = b"\xef\xbb\xbf"

# Bodies up to this size are also checked at every two-way split point.
MAX_SPLIT_BODY = 4096


def E(data: str, event: str = "message", id: str = "", retry: int | None = None) -> SSEEvent:  # noqa: A002
    return SSEEvent(event=event, data=data, id=id, retry=retry)


# --------------------------------------------------------------------------------------------
# Reference implementation: the spec, read literally, on the whole stream at once.
# --------------------------------------------------------------------------------------------

_LINE_END = re.compile(r"\r\n|\r|\n")


def reference_events(body: bytes) -> list[SSEEvent]:
    text = body.decode("utf-8", "replace")  # "utf-8" (not "utf-8-sig") keeps the BOM ...
    if text.startswith("\ufeff"):  # ... so strip exactly one, as UTF-8 decode does
        text = text[1:]
    lines = _LINE_END.split(text)
    lines.pop()  # text after the last line ending is an incomplete line: discarded at EOF
    events: list[SSEEvent] = []
    data = ""
    event_type = ""
    last_id = ""
    retry: int | None = None
    for line in lines:
        if line == "":  # dispatch the event
            if data == "":
                data = event_type = ""
                continue
            if data.endswith("\n"):
                data = data[:-1]
            events.append(SSEEvent(event_type or "message", data, last_id, retry))
            data = event_type = ""
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        if field == "event":
            event_type = value
        elif field == "data":
            data += value + "\n"
        elif field == "id":
            if "\x00" not in value:
                last_id = value
        elif field == "retry":
            if value and all(c in "0123456789" for c in value):
                retry = int(value)
    return events


# --------------------------------------------------------------------------------------------
# Delivery helpers
# --------------------------------------------------------------------------------------------


def collect(pieces: Iterable[bytes], **kw: int) -> list[SSEEvent]:
    return list(iter_sse(pieces, **kw))


def bytewise(body: bytes) -> list[bytes]:
    return [body[i:i + 1] for i in range(len(body))]


def chunked(body: bytes, size: int) -> list[bytes]:
    return [body[i:i + size] for i in range(0, len(body), size)]


def feed_with_empty_reads(body: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    events += decoder.feed(b"")
    for piece in bytewise(body):
        events += decoder.feed(piece)
        events += decoder.feed(b"")
    decoder.close()
    return events


def run_everywhere(body: bytes) -> list[SSEEvent]:
    """Decode ``body`` in every delivery mode, assert they agree, and return the events."""
    whole = collect([body])
    assert collect(bytewise(body)) == whole, "one byte at a time differs from one piece"
    assert feed_with_empty_reads(body) == whole, "SSEDecoder.feed with empty reads differs"
    if len(body) <= MAX_SPLIT_BODY:
        for cut in range(1, len(body)):
            got = collect([body[:cut], body[cut:]])
            assert got == whole, f"split at {cut} ({body[:cut]!r} | {body[cut:]!r}) differs"
    assert whole == reference_events(body), "differs from the reference implementation"
    return whole


def test_helper_really_splits() -> None:
    # Guard for the harness itself: the modes deliver what they claim to.
    assert bytewise(b"abc") == [b"a", b"b", b"c"]
    assert chunked(b"abcde", 2) == [b"ab", b"cd", b"e"]


# --------------------------------------------------------------------------------------------
# Table of spec cases: (body, expected events)
# --------------------------------------------------------------------------------------------

CASES = [
    # ---- line endings
    pytest.param(b"data: a\n\ndata: b\n\n", [E("a"), E("b")], id="endings-lf"),
    pytest.param(b"data: a\r\rdata: b\r\r", [E("a"), E("b")], id="endings-cr"),
    pytest.param(b"data: a\r\n\r\ndata: b\r\n\r\n", [E("a"), E("b")], id="endings-crlf"),
    pytest.param(b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\n\rdata: e\n\n",
                 [E("a\nb\nc"), E("d"), E("e")], id="endings-mixed"),
    pytest.param(b"data: a\r\ndata: b\r\n\r\n", [E("a\nb")], id="endings-crlf-is-one-ending"),
    pytest.param(b"data: a\n\rdata: b\n\n", [E("a"), E("b")], id="endings-lf-then-cr-is-two"),
    pytest.param(b"data: a\r\r\ndata: b\n\n", [E("a"), E("b")], id="endings-cr-then-crlf-is-two"),
    pytest.param(b"data: a\rdata: b\r\r", [E("a\nb")], id="endings-cr-followed-by-non-lf"),
    pytest.param(b"data: a\n\r", [E("a")], id="endings-lone-cr-blank-line"),
    pytest.param(b"data: a\r\r", [E("a")], id="endings-lone-cr-blank-line-after-cr"),
    pytest.param(b"data: a\r\n\r", [E("a")], id="endings-lone-cr-blank-line-after-crlf"),
    pytest.param(b"\r\n\r\n\n\r\rdata: a\n\n", [E("a")], id="endings-leading-blank-lines"),
    # ---- byte order mark
    pytest.param(BOM + b"data: a\n\n", [E("a")], id="bom-stripped"),
    pytest.param(BOM + b": c\n\ndata: a\n\n", [E("a")], id="bom-then-comment"),
    pytest.param(BOM + b"\ndata: a\n\n", [E("a")], id="bom-then-blank-line"),
    pytest.param(BOM, [], id="bom-only"),
    pytest.param(BOM + BOM + b"data: a\n\ndata: b\n\n", [E("b")], id="bom-second-at-start-not-stripped"),
    pytest.param(BOM + BOM + b"data: a\n\n", [], id="bom-second-makes-field-unknown"),
    pytest.param(b"data: a\n\n" + BOM + b"data: b\n\ndata: c\n\n", [E("a"), E("c")],
                 id="bom-at-later-line-not-stripped"),
    pytest.param(BOM + b"data: a\n" + BOM + b"data: b\n\n", [E("a")], id="bom-at-second-line-not-stripped"),
    pytest.param(b"data: " + BOM + b"x\n\n", [E("\ufeffx")], id="bom-inside-value-kept"),
    pytest.param(BOM + b"data:" + BOM + b"\n\n", [E("\ufeff")], id="bom-stripped-and-bom-value-kept"),
    pytest.param(b"\xef\xbbdata: a\n\ndata: b\n\n", [E("b")], id="bom-partial-not-stripped"),
    pytest.param(b"\xefdata: a\n\ndata: b\n\n", [E("b")], id="bom-first-byte-only-not-stripped"),
    # ---- comments
    pytest.param(b": OPENROUTER PROCESSING\n\ndata: a\n\n: OPENROUTER PROCESSING\n\n"
                 b": OPENROUTER PROCESSING\n\ndata: b\n\n", [E("a"), E("b")], id="comments-openrouter"),
    pytest.param(b"data: a\n: comment\ndata: b\n\n", [E("a\nb")], id="comments-inside-event"),
    pytest.param(b": one\n:\n: data: x\n\n:two\r\n\r\n", [], id="comments-only-stream"),
    pytest.param(b":data: x\n\n", [], id="comments-looking-like-data"),
    pytest.param(b"event: x\n: c\n\ndata: a\n\n", [E("a")], id="comments-do-not-dispatch"),
    # ---- field without colon
    pytest.param(b"data\n\n", [E("")], id="nocolon-data-alone"),
    pytest.param(b"data\ndata\n\n", [E("\n")], id="nocolon-two-data"),
    pytest.param(b"data\ndata\ndata\n\n", [E("\n\n")], id="nocolon-three-data"),
    pytest.param(b"event\ndata: a\n\n", [E("a")], id="nocolon-event-alone-is-empty-type"),
    pytest.param(b"id: 5\ndata: a\n\nid\ndata: b\n\n", [E("a", id="5"), E("b")], id="nocolon-id-resets"),
    pytest.param(b"retry\ndata: a\n\n", [E("a")], id="nocolon-retry-ignored"),
    # ---- one leading space stripped
    pytest.param(b"data:x\n\n", [E("x")], id="space-none"),
    pytest.param(b"data: x\n\n", [E("x")], id="space-one-stripped"),
    pytest.param(b"data:  x\n\n", [E(" x")], id="space-only-one-stripped"),
    pytest.param(b"data: \n\n", [E("")], id="space-only-space"),
    pytest.param(b"data:  \n\n", [E(" ")], id="space-two-spaces"),
    pytest.param(b"data:\tx\n\n", [E("\tx")], id="space-tab-not-stripped"),
    pytest.param(b"data: x \n\n", [E("x ")], id="space-trailing-kept"),
    pytest.param(b"data:: x\n\n", [E(": x")], id="space-second-colon-is-value"),
    pytest.param(b"data: a: b\n\n", [E("a: b")], id="space-colon-inside-value"),
    pytest.param(b"data : x\n\ndata: y\n\n", [E("y")], id="space-before-colon-is-field-name"),
    pytest.param(b" data: x\n\n", [], id="space-leading-field-name"),
    # ---- multi-line data
    pytest.param(b"data: a\ndata: b\ndata: c\n\n", [E("a\nb\nc")], id="multiline-joined-with-lf"),
    pytest.param(b"data: a\ndata:\n\n", [E("a\n")], id="multiline-only-last-lf-removed"),
    pytest.param(b"data:\ndata: a\n\n", [E("\na")], id="multiline-empty-first"),
    pytest.param(b"data: a\r\ndata: b\rdata: c\n\n", [E("a\nb\nc")], id="multiline-any-ending-becomes-lf"),
    pytest.param(b"data: a\nevent: t\nid: 1\ndata: b\n\n", [E("a\nb", event="t", id="1")],
                 id="multiline-interleaved-fields"),
    # ---- event type
    pytest.param(b"event: ping\ndata: x\n\n", [E("x", event="ping")], id="event-sets-type"),
    pytest.param(b"event:\ndata: x\n\n", [E("x")], id="event-empty-is-message"),
    pytest.param(b"data: x\n\n", [E("x")], id="event-absent-is-message"),
    pytest.param(b"event: a\ndata: 1\n\ndata: 2\n\n", [E("1", event="a"), E("2")], id="event-resets-after-dispatch"),
    pytest.param(b"event: a\n\ndata: 2\n\n", [E("2")], id="event-without-data-does-not-leak"),
    pytest.param(b"event: a\r\rdata: 2\r\r", [E("2")], id="event-without-data-does-not-leak-cr"),
    pytest.param(b"event: a\nevent: b\ndata\n\n", [E("", event="b")], id="event-last-wins"),
    pytest.param(b"event: a\nevent:\ndata\n\n", [E("")], id="event-cleared-by-empty"),
    pytest.param(b"event:  sp\ndata: x\n\n", [E("x", event=" sp")], id="event-value-space-kept"),
    pytest.param(b"data: x\nevent: late\n\n", [E("x", event="late")], id="event-after-data"),
    pytest.param(b"event: message\ndata: x\n\n", [E("x")], id="event-explicit-message"),
    # ---- id
    pytest.param(b"id: 1\ndata: a\n\ndata: b\n\n", [E("a", id="1"), E("b", id="1")], id="id-carried-over"),
    pytest.param(b"id: 1\ndata: a\n\nid:\ndata: b\n\ndata: c\n\n",
                 [E("a", id="1"), E("b"), E("c")], id="id-empty-resets"),
    pytest.param(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", [E("a", id="1"), E("b", id="1")], id="id-with-nul-ignored"),
    pytest.param(b"id: \x00\ndata: a\n\n", [E("a")], id="id-only-nul-ignored"),
    pytest.param(b"id: 7\n\ndata: a\n\n", [E("a", id="7")], id="id-set-by-undispatched-block"),
    pytest.param(b"id: 7\nevent: x\n\ndata: a\n\n", [E("a", id="7")], id="id-set-by-undispatched-typed-block"),
    pytest.param(b"data: a\nid: 5\n\n", [E("a", id="5")], id="id-after-data-in-block"),
    pytest.param(b"id: 1\nid: 2\ndata: a\n\n", [E("a", id="2")], id="id-last-wins"),
    pytest.param(b"id:  x\ndata: a\n\n", [E("a", id=" x")], id="id-value-space-kept"),
    pytest.param(b"id: caf\xc3\xa9\ndata: a\n\n", [E("a", id="caf\u00e9")], id="id-non-ascii"),
    pytest.param(b"data: a\n\ndata: b\nid: 9\n", [E("a")], id="id-in-unterminated-tail"),
    # ---- retry
    pytest.param(b"retry: 3000\ndata: a\n\ndata: b\n\n", [E("a", retry=3000), E("b", retry=3000)], id="retry-digits"),
    pytest.param(b"data: a\n\nretry: 10\n\ndata: b\n\n", [E("a"), E("b", retry=10)], id="retry-in-undispatched-block"),
    pytest.param(b"retry: 0\ndata: a\n\n", [E("a", retry=0)], id="retry-zero"),
    pytest.param(b"retry: 0010\ndata: a\n\n", [E("a", retry=10)], id="retry-leading-zeros"),
    pytest.param(b"retry: 99999999999999999999\ndata: a\n\n", [E("a", retry=99999999999999999999)], id="retry-huge"),
    pytest.param(b"retry:10\ndata: a\n\n", [E("a", retry=10)], id="retry-no-space"),
    pytest.param(b"retry: 1.5\ndata: a\n\n", [E("a")], id="retry-decimal-ignored"),
    pytest.param(b"retry:  10\ndata: a\n\n", [E("a")], id="retry-extra-space-ignored"),
    pytest.param(b"retry: 10 \ndata: a\n\n", [E("a")], id="retry-trailing-space-ignored"),
    pytest.param(b"retry: abc\ndata: a\n\n", [E("a")], id="retry-letters-ignored"),
    pytest.param(b"retry: 10a\ndata: a\n\n", [E("a")], id="retry-digits-then-letter-ignored"),
    pytest.param(b"retry:\ndata: a\n\n", [E("a")], id="retry-empty-ignored"),
    pytest.param(b"retry: -1\ndata: a\n\n", [E("a")], id="retry-negative-ignored"),
    pytest.param(b"retry: +1\ndata: a\n\n", [E("a")], id="retry-plus-ignored"),
    pytest.param("retry: \u0661\u0662\ndata: a\n\n".encode(), [E("a")], id="retry-non-ascii-digits-ignored"),
    pytest.param("retry: \uff11\ndata: a\n\n".encode(), [E("a")], id="retry-fullwidth-digit-ignored"),
    pytest.param(b"retry: 100\ndata: a\n\nretry: x\ndata: b\n\nretry: 5\ndata: c\n\n",
                 [E("a", retry=100), E("b", retry=100), E("c", retry=5)], id="retry-invalid-keeps-previous"),
    # ---- unknown fields, case sensitivity
    pytest.param(b"foo: bar\ndata: a\nbaz\n\n", [E("a")], id="unknown-fields-ignored"),
    pytest.param(b"foo: bar\n\n", [], id="unknown-field-only-no-dispatch"),
    pytest.param(b"Data: a\n\n", [], id="case-Data-ignored"),
    pytest.param(b"DATA: a\nEvent: x\ndata: b\n\n", [E("b")], id="case-Event-ignored"),
    pytest.param(b"data: a\nID: 3\nRetry: 5\n\n", [E("a")], id="case-ID-Retry-ignored"),
    # ---- events with no data are not dispatched
    pytest.param(b"event: x\nid: 1\nretry: 5\n\n", [], id="nodata-block"),
    pytest.param(b"\n\n\n\r\n\r", [], id="nodata-blank-lines-only"),
    pytest.param(b"", [], id="nodata-empty-stream"),
    # ---- unterminated final event is discarded at end of stream
    pytest.param(b"data: a\n\ndata: b", [E("a")], id="eof-no-newline"),
    pytest.param(b"data: a\n\ndata: b\n", [E("a")], id="eof-single-newline"),
    pytest.param(b"data: a\n\ndata: b\r", [E("a")], id="eof-single-cr"),
    pytest.param(b"data: a\n\ndata: b\r\n", [E("a")], id="eof-single-crlf"),
    pytest.param(b"data: b\ndata: c\n", [], id="eof-only-unterminated"),
    pytest.param(b"data: a\n\n: c", [E("a")], id="eof-partial-comment"),
    # ---- UTF-8 decoding
    pytest.param(b"data: \xff\n\n", [E("\ufffd")], id="utf8-invalid-byte"),
    pytest.param(b"data: a\xffb\xfe\n\n", [E("a\ufffdb\ufffd")], id="utf8-invalid-bytes-inside"),
    pytest.param(b"data: \xe2\x82\n\n", [E("\ufffd")], id="utf8-truncated-3-byte"),
    pytest.param(b"data: \xf0\x9f\x98\ndata: x\n\n", [E("\ufffd\nx")], id="utf8-truncated-4-byte-then-line"),
    pytest.param(b"data: \xe2\x82x\n\n", [E("\ufffdx")], id="utf8-truncated-then-ascii"),
    pytest.param(b"data: \x80\x80\n\n", [E("\ufffd\ufffd")], id="utf8-lone-continuations"),
    pytest.param(b"data: \xc0\xaf\n\n", [E("\ufffd\ufffd")], id="utf8-overlong"),
    pytest.param(b"data: \xed\xa0\x80\n\n", [E("\ufffd\ufffd\ufffd")], id="utf8-surrogate"),
    pytest.param(b"data: \xe2\x82\r\r", [E("\ufffd")], id="utf8-truncated-before-cr"),
    pytest.param(b"event: \xff\ndata: x\n\n", [E("x", event="\ufffd")], id="utf8-invalid-in-event"),
    pytest.param(b"id: \xff\ndata: x\n\n", [E("x", id="\ufffd")], id="utf8-invalid-in-id"),
    pytest.param(b"d\xffata: x\n\ndata: y\n\n", [E("y")], id="utf8-invalid-in-field-name"),
    pytest.param("data: é€😀中\n\n".encode(), [E("é€😀中")], id="utf8-valid-multibyte"),
    pytest.param("event: ü\nid: ñ\ndata: 😀\n\n".encode(), [E("😀", event="ü", id="ñ")], id="utf8-valid-multibyte-fields"),
    pytest.param(b"data: a\x00b\n\n", [E("a\x00b")], id="nul-in-data-kept"),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_spec_case(body: bytes, expected: list[SSEEvent]) -> None:
    assert run_everywhere(body) == expected


# --------------------------------------------------------------------------------------------
# Explicit read boundaries (run_everywhere covers these too; these name the boundary)
# --------------------------------------------------------------------------------------------


def test_crlf_split_across_reads_is_one_line_ending() -> None:
    # If the LF after a piece-final CR were taken for a second line ending, "data: a" would be
    # dispatched on its own before "data: b" arrives.
    assert collect([b"data: a\r", b"\ndata: b\r\n\r\n"]) == [E("a\nb")]
    assert collect([b"data: a\r", b"\n", b"data: b\r", b"\n", b"\r", b"\n"]) == [E("a\nb")]
    assert collect([b"data: a\r\n\r", b"\ndata: b\n\n"]) == [E("a"), E("b")]


def test_crlf_split_survives_empty_reads_between() -> None:
    assert collect([b"data: a\r", b"", b"", b"\ndata: b\n\n"]) == [E("a\nb")]
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\ndata: b\n\n") == [E("a\nb")]


def test_cr_followed_by_non_lf_piece() -> None:
    assert collect([b"data: a\r", b"data: b\r", b"\r"]) == [E("a\nb")]
    assert collect([b"data: a\r", b"\r", b"data: b\r", b"\r"]) == [E("a"), E("b")]


def test_only_one_lf_skipped_after_piece_final_cr() -> None:
    # CR | LF LF: the first LF completes the CRLF, the second is a blank line.
    assert collect([b"data: a\r", b"\n\n"]) == [E("a")]
    # CR CR | LF: CR ends the line, CR LF is a blank line.
    assert collect([b"data: a\r\r", b"\ndata: b\n\n"]) == [E("a"), E("b")]


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_bom_split_across_reads(cut: int) -> None:
    body = BOM + b"data: a\n\n"
    assert collect([body[:cut], body[cut:]]) == [E("a")]


def test_bom_split_into_single_bytes_with_empty_reads() -> None:
    assert collect([b"", b"\xef", b"", b"\xbb", b"\xbf", b"data: a\n\n"]) == [E("a")]


def test_bom_split_then_second_bom_not_stripped() -> None:
    assert collect([b"\xef\xbb", b"\xbf\xef", b"\xbb\xbfdata: a\n\ndata: b\n\n"]) == [E("b")]


def test_invalid_utf8_split_across_reads() -> None:
    assert collect([b"data: \xe2", b"\x82", b"\n\n"]) == [E("\ufffd")]
    assert collect([b"data: \xe2\x82", b"x\n\n"]) == [E("\ufffdx")]
    assert collect([b"data: \xf0\x9f", b"\x98\ndata: y\n\n"]) == [E("\ufffd\ny")]


def test_valid_multibyte_split_at_every_byte() -> None:
    text = "data: é€😀\n\n"
    body = text.encode()
    expected = [E("é€😀")]
    for cut in range(1, len(body)):
        assert collect([body[:cut], body[cut:]]) == expected
    assert collect(bytewise(body)) == expected


# --------------------------------------------------------------------------------------------
# Line-length limit
# --------------------------------------------------------------------------------------------


def _run_until_error(pieces: Iterable[bytes], **kw: int) -> tuple[list[SSEEvent], BaseException | None]:
    events: list[SSEEvent] = []
    try:
        for event in iter_sse(pieces, **kw):
            events.append(event)
    except ProtocolError as exc:
        return events, exc
    return events, None


def test_16mib_line_accepted_in_64k_pieces() -> None:
    line = b"data: " + b"x" * (DEFAULT_MAX_LINE_BYTES - len(b"data: "))  # exactly 16 MiB
    body = line + b"\n\n"
    started = time.perf_counter()
    events = collect(chunked(body, 64 * 1024))
    elapsed = time.perf_counter() - started
    assert len(events) == 1
    assert len(events[0].data) == DEFAULT_MAX_LINE_BYTES - 6
    assert events[0].data[:3] == "xxx" and events[0].data[-3:] == "xxx"
    assert elapsed < 2.0, f"16 MiB line in 64 KiB pieces took {elapsed:.2f}s"


def test_16mib_line_accepted_in_one_piece_and_with_crlf_split() -> None:
    line = b"data: " + b"y" * (DEFAULT_MAX_LINE_BYTES - 6)
    assert [len(e.data) for e in collect([line + b"\r\n\r\n"])] == [DEFAULT_MAX_LINE_BYTES - 6]
    assert [len(e.data) for e in collect([line + b"\r", b"\n\r", b"\n"])] == [DEFAULT_MAX_LINE_BYTES - 6]


def test_16mib_line_is_not_quadratic_in_small_pieces() -> None:
    # 16 MiB in 1 KiB pieces = 16384 reads. Linear buffering takes a fraction of a second;
    # re-joining the pending line on every read would copy ~128 GiB and never finish.
    body = b"data: " + b"z" * (DEFAULT_MAX_LINE_BYTES - 6) + b"\n\n"
    started = time.perf_counter()
    events = collect(chunked(body, 1024))
    elapsed = time.perf_counter() - started
    assert len(events) == 1 and len(events[0].data) == DEFAULT_MAX_LINE_BYTES - 6
    assert elapsed < 3.0, f"16 MiB line in 1 KiB pieces took {elapsed:.2f}s (quadratic?)"


def test_line_just_over_default_limit_rejected() -> None:
    body = b"data: " + b"x" * (DEFAULT_MAX_LINE_BYTES - 5) + b"\n\n"
    with pytest.raises(ProtocolError):
        collect([body])
    with pytest.raises(ProtocolError):
        collect(chunked(body, 64 * 1024))


OVERLONG = b"data: " + b"x" * 2000


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(OVERLONG + b"\n\n", id="lf-terminated"),
        pytest.param(OVERLONG + b"\r\r", id="cr-terminated"),
        pytest.param(OVERLONG, id="unterminated"),
        pytest.param(b": " + b"c" * 2000 + b"\n\ndata: a\n\n", id="comment-line"),
        pytest.param(b"data: a\n" + OVERLONG + b"\n\n", id="second-line-of-event"),
    ],
)
@pytest.mark.parametrize(
    "split",
    [
        pytest.param(lambda b: [b], id="one-piece"),
        pytest.param(bytewise, id="bytewise"),
        pytest.param(lambda b: chunked(b, 100), id="100-byte-pieces"),
        pytest.param(lambda b: chunked(b, 1024), id="1024-byte-pieces"),
        pytest.param(lambda b: chunked(b, 1500), id="1500-byte-pieces"),
    ],
)
def test_line_over_max_line_bytes_raises(body: bytes, split: Callable[[bytes], list[bytes]]) -> None:
    events, error = _run_until_error(split(body), max_line_bytes=1024)
    assert isinstance(error, ProtocolError)
    assert events == []


@pytest.mark.parametrize("split", [lambda b: [b], bytewise, lambda b: chunked(b, 7)], ids=["one", "bytes", "7"])
def test_line_over_limit_after_events(split: Callable[[bytes], list[bytes]]) -> None:
    # Events completed before the over-long line are all delivered, however the reads
    # fall, and then the error is raised.
    body = b"data: a\n\ndata: b\n\n" + OVERLONG + b"\n\n"
    events, error = _run_until_error(split(body), max_line_bytes=1024)
    assert isinstance(error, ProtocolError)
    assert events == [E("a"), E("b")]


@pytest.mark.parametrize("term", [b"\n", b"\r", b"\r\n"], ids=["lf", "cr", "crlf"])
def test_line_exactly_at_max_line_bytes_accepted(term: bytes) -> None:
    line = b"data: " + b"x" * (1024 - 6)
    body = line + term + term
    for pieces in ([body], bytewise(body), chunked(body, 100), [line, term + term], [line + term[:1], term[1:] + term]):
        assert collect(pieces, max_line_bytes=1024) == [E("x" * 1018)]
    _, error = _run_until_error([b"data: " + b"x" * (1024 - 5) + term + term], max_line_bytes=1024)
    assert isinstance(error, ProtocolError)


def test_limit_also_caps_the_data_of_one_event() -> None:
    """Many short data lines cannot grow one event's buffer without bound either."""
    body = b"".join(b"data: " + b"x" * 1000 + b"\n" for _ in range(50)) + b"\n"
    for pieces in ([body], chunked(body, 333)):
        events, error = _run_until_error(pieces, max_line_bytes=1024)
        assert isinstance(error, ProtocolError) and events == []
    ok = b"data: " + b"x" * 500 + b"\ndata: " + b"y" * 500 + b"\n\n"  # 1002 bytes of data: fits
    assert collect([ok], max_line_bytes=1024) == [E("x" * 500 + "\n" + "y" * 500)]


def test_protocol_error_message_mentions_limit() -> None:
    with pytest.raises(ProtocolError, match="1024"):
        collect([OVERLONG + b"\n\n"], max_line_bytes=1024)


# --------------------------------------------------------------------------------------------
# Incremental delivery
# --------------------------------------------------------------------------------------------


def test_feed_returns_event_on_the_call_with_the_blank_line_lf() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a") == []
    assert d.feed(b"\n") == []
    assert d.feed(b"\n") == [E("a")]
    assert d.feed(b"data: b\n\ndata: c\n\n") == [E("b"), E("c")]
    assert d.feed(b"data: d\n\ndata: e\n") == [E("d")]
    assert d.feed(b"\n") == [E("e")]


def test_feed_returns_event_when_blank_line_is_piece_final_cr() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"\r") == [E("a")]  # not held back waiting for a possible LF
    assert d.feed(b"\n") == []  # ... and that LF is the rest of the CRLF, not another blank line
    assert d.feed(b"data: b\r\r") == [E("b")]
    assert d.feed(b"\ndata: c\r\n\r") == [E("c")]
    assert d.feed(b"\n") == []
    assert d.feed(b"data: d\n\r") == [E("d")]


def test_feed_returns_event_when_blank_line_completes_a_split_crlf() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r\n\r") == [E("a")]
    assert d.feed(b"\n") == []
    assert d.feed(b"data: b\r\n") == []
    assert d.feed(b"\r\n") == [E("b")]


def test_feed_and_close_state() -> None:
    d = SSEDecoder()
    assert not d.has_partial_event
    d.feed(b"dat")
    assert d.has_partial_event
    d.feed(b"a: x\n")
    assert d.has_partial_event
    assert d.feed(b"\n") == [E("x")]
    assert not d.has_partial_event
    d.feed(b"data: y\n")
    assert d.has_partial_event
    d.close()
    assert not d.has_partial_event


def test_last_event_id_tracks_dispatched_blocks() -> None:
    d = SSEDecoder()
    assert d.last_event_id == ""
    d.feed(b"id: 1\ndata: a\n\n")
    assert d.last_event_id == "1"
    d.feed(b"id: 2\n\n")  # a block without data still commits its id
    assert d.last_event_id == "2"
    d.feed(b"id: bad\x00\n\n")
    assert d.last_event_id == "2"
    d.feed(b"id\n\n")
    assert d.last_event_id == ""


def test_last_event_id_not_committed_by_incomplete_block() -> None:
    # The spec copies the last event ID buffer into the source's last event ID string only
    # when a blank line is processed ("dispatch the event", step 1). An id in a block cut off
    # by the end of the stream must not be what a reconnect sends as Last-Event-ID, or the
    # event of that block (never delivered) would be skipped by the server.
    d = SSEDecoder()
    assert d.feed(b"id: 1\ndata: a\n\ndata: b\nid: 2\n") == [E("a", id="1")]
    assert d.last_event_id == "1"
    d.close()
    assert d.last_event_id == "1"


def _exploding(pieces: list[bytes]) -> Iterator[bytes]:
    yield from pieces
    raise AssertionError("iter_sse advanced the input past the piece that completed the event")


@pytest.mark.parametrize(
    "pieces",
    [
        pytest.param([b"data: 1\n\n"], id="one-piece"),
        pytest.param([b"data: 1\n", b"\n"], id="blank-line-alone"),
        pytest.param([b"data: 1\r", b"\r"], id="piece-final-cr"),
        pytest.param([b"data: 1\r\n\r"], id="crlf-then-piece-final-cr"),
        pytest.param([b"da", b"ta: 1", b"\n", b"\n"], id="many-pieces"),
    ],
)
def test_iter_sse_is_lazy(pieces: list[bytes]) -> None:
    it = iter_sse(_exploding(pieces))
    assert next(it) == E("1")
    with pytest.raises(AssertionError, match="advanced the input"):
        next(it)


def test_iter_sse_does_not_read_ahead_before_first_next() -> None:
    reads: list[int] = []

    def source() -> Iterator[bytes]:
        for i, piece in enumerate([b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n"]):
            reads.append(i)
            yield piece

    it = iter_sse(source())
    assert reads == []
    assert next(it) == E("1") and reads == [0]
    assert next(it) == E("2") and reads == [0, 1]
    assert list(it) == [E("3")] and reads == [0, 1, 2]


def test_iter_sse_yields_every_event_of_a_piece() -> None:
    it = iter_sse(_exploding([b"data: 1\n\ndata: 2\n\n"]))
    assert next(it) == E("1")
    assert next(it) == E("2")


# --------------------------------------------------------------------------------------------
# Property-style test against the reference implementation
# --------------------------------------------------------------------------------------------

_ALPHABET: list[bytes] = [
    b"data: hello", b"data:x", b"data:  two", b"data", b"data:", b"data: ", b"data: a:b",
    "data: é€😀".encode(), b"data: \xff\xfe", b"data: \xe2\x82", b"data: \xf0\x9f",
    b"event: ping", b"event:", b"event", b"event:  spaced",
    b"id: 1", b"id: abc", b"id:", b"id", b"id: a\x00b", b"id:  sp",
    b"retry: 3000", b"retry: 0", b"retry: 1.5", b"retry:  10", b"retry: abc", b"retry:", b"retry",
    b": comment", b": OPENROUTER PROCESSING", b":", b"Data: ignored", b"foo: bar", b"data : x",
    BOM + b"data: bom",
    *[b"data: d"] * 6,
    *[b""] * 12,  # blank lines: frequent enough that most streams dispatch several events
]
_ENDINGS = [b"\n", b"\r", b"\r\n"]


def _random_stream(rng: random.Random) -> bytes:
    parts: list[bytes] = []
    roll = rng.random()
    if roll < 0.25:
        parts.append(BOM)
    elif roll < 0.30:
        parts.append(BOM + BOM)
    for _ in range(rng.randint(0, 40)):
        parts.append(rng.choice(_ALPHABET))
        parts.append(rng.choice(_ENDINGS))
    if rng.random() < 0.3:
        parts.append(rng.choice(_ALPHABET))  # an unterminated tail
    return b"".join(parts)


def _random_pieces(rng: random.Random, body: bytes) -> list[bytes]:
    if len(body) < 2:
        return [body]
    cuts = sorted(rng.sample(range(1, len(body)), min(len(body) - 1, rng.randint(1, 12))))
    return [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]


def test_random_streams_match_reference() -> None:
    dispatched = 0
    for seed in range(200):
        rng = random.Random(seed)
        body = _random_stream(rng)
        expected = reference_events(body)
        dispatched += len(expected)
        pieces = _random_pieces(rng, body)
        assert collect([body]) == expected, f"seed {seed}: one piece, body={body!r}"
        assert collect(pieces) == expected, f"seed {seed}: pieces={pieces!r}"
        assert collect(bytewise(body)) == expected, f"seed {seed}: bytewise, body={body!r}"
    assert dispatched > 400  # the generator really produces events, not just noise


def test_reference_implementation_sanity() -> None:
    # The reference is only useful if it is itself right on the textbook examples of the spec.
    assert reference_events(b"data: YHOO\ndata: +2\ndata: 10\n\n") == [E("YHOO\n+2\n10")]
    assert reference_events(b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
                            b"data:  third event\n") == [E("first event", id="1"), E("second event")]
    assert reference_events(b"data\n\ndata\ndata\n\ndata:") == [E(""), E("\n")]
    assert reference_events(b"data:test\n\ndata: test\n\n") == [E("test"), E("test")]
