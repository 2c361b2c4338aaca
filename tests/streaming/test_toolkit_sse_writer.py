"""to_sse: decoded by an independent spec-exact decoder (written here from the WHATWG
event-stream rules) and by llm_connectivity.sse, the text comes back exactly with no
injected events or fields; terminal done/error events; JSON and OpenAI-compatible
formats; keep-alive comments from a silent source; closing frees the upstream stream."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from toolkit_support import Boom, ClosableSource, socket_fds, text_chunks, wait_for_sockets, with_signals

from llm_connectivity import LLMClient, errors
from llm_connectivity.errors import ConfigurationError, LLMError, RateLimitError, StreamInterruptedError
from llm_connectivity.models import StreamChunk, ToolCallDelta, Usage
from llm_connectivity.providers.openai import OpenAIDriver
from llm_connectivity.request import RequestSpec
from llm_connectivity.sse import iter_sse
from llm_connectivity.streaming import aggregate, buffer_words, sse_headers, to_sse
from llm_connectivity.streaming.openai_compat import openai_error
from llm_connectivity.testing import FakeLLMServer, Reply


# -- an independent decoder, from https://html.spec.whatwg.org/multipage/server-sent-events.html ------
def whatwg_decode(body: bytes) -> tuple[list[dict[str, Any]], list[str], int | None]:
    """(events as dicts, comment lines, last retry value) per the spec's interpretation rules."""
    text = body.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split(r"\r\n|\r|\n", text)
    lines.pop()  # the text after the last line ending is not a complete line: ignored
    events: list[dict[str, Any]] = []
    comments: list[str] = []
    data, event_type, last_id, retry = "", "", "", None
    for line in lines:
        if line == "":
            if data:
                events.append({"event": event_type or "message", "data": data[:-1], "id": last_id})
            data, event_type = "", ""
            continue
        if line.startswith(":"):
            comments.append(line[1:])
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            event_type = value
        elif field == "data":
            data += value + "\n"
        elif field == "id" and "\0" not in value:
            last_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            retry = int(value)
    return events, comments, retry


def _lf(text: str) -> str:
    return re.sub(r"\r\n|\r", "\n", text)


HOSTILE = [
    "plain",
    "line one\nline two",
    "\ndata: injected\n\n",
    "event: done\ndata: {\"finish_reason\": \"hacked\"}\n\n",
    "id: 999\r\nretry: 1\r\rX",
    ": not a comment\n:also not\n",
    "data: injected",
    "trailing CR\r",
    "\r\n\r\n",
    "Unicode ✓ 你好 👩‍💻 \u2028 \u0085 end",
    " leading space kept",
]


def _body(chunks: Any, **options: Any) -> bytes:
    return b"".join(to_sse(chunks, **options))


def test_text_survives_exactly_with_no_injection() -> None:
    body = _body(with_signals(HOSTILE), retry=2500)
    events, comments, retry = whatwg_decode(body)
    assert [e["data"] for e in events[:-1]] == [_lf(t) for t in HOSTILE]
    assert [e["event"] for e in events] == ["chunk"] * len(HOSTILE) + ["done"]
    assert [e["id"] for e in events] == [str(i) for i in range(1, len(HOSTILE) + 2)]
    assert retry == 2500 and comments == []
    done = json.loads(events[-1]["data"])
    assert done == {"finish_reason": "stop", "usage": {"prompt_tokens": 3, "completion_tokens": 7,
                                                       "total_tokens": 10, "cached_tokens": 0,
                                                       "reasoning_tokens": 0, "is_estimated": False,
                                                       "confidence": 1.0}}
    ours = [(e.event, e.data, e.id) for e in iter_sse([body[i:i + 7] for i in range(0, len(body), 7)])]
    assert ours == [(e["event"], e["data"], e["id"]) for e in events]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_crlf_split_across_chunks_is_one_line_break(fmt: str) -> None:
    text = "one\r\ntwo\r\n\r\nthree\rfour\r\n"
    for cut in range(1, len(text)):
        events, _, _ = whatwg_decode(_body(text_chunks([text[:cut], text[cut:]]), format=fmt))
        data = [e["data"] if fmt == "text" else json.loads(e["data"])["content"] for e in events[:-1]]
        assert _lf("".join(data)) == _lf(text), cut
    events, _, _ = whatwg_decode(_body(text_chunks(["a\r", "\n", "b"])))
    assert [(e["event"], e["data"], e["id"]) for e in events[:-1]] == [("chunk", "a\n", "1"), ("chunk", "b", "2")]


@pytest.mark.parametrize("fmt", ["text", "openai"])
def test_an_error_event_hides_credentials_in_urls(fmt: str) -> None:
    error = StreamInterruptedError("lost https://gen.example/v1beta/m:streamGenerateContent?alt=sse&key=AIzaSyD-SECRET-1 "
                                   "and http://relay:hunter2@10.0.0.1/v1?token=t0k3n")
    body = _body(ClosableSource(text_chunks(["partial"]), fail=error), format=fmt).decode()
    assert "AIzaSyD-SECRET-1" not in body and "hunter2" not in body and "t0k3n" not in body
    assert "streamGenerateContent?alt=sse&key=***" in body and "http://relay:***@10.0.0.1/v1?token=***" in body


@pytest.mark.parametrize("fmt", ["text", "json", "openai"])
def test_surrogates_from_a_utf16_slicer_do_not_end_the_stream(fmt: str) -> None:
    # a JSON "\ud83d" / "\udc4d" pair split across two chunks (a proxy that cuts JS strings)
    def shown(chunks: list[StreamChunk]) -> str:
        events = [e.data for e in iter_sse([_body(chunks, format=fmt)]) if e.data != "[DONE]"]
        if fmt == "text":
            return "".join(events[:-1])
        frames = [json.loads(data) for data in events]
        if fmt == "json":
            return "".join(f["content"] for f in frames[:-1])
        return "".join(c["delta"].get("content", "") for f in frames for c in f["choices"])

    split = text_chunks(["ok \ud83d", "\udc4d done"])
    assert shown(list(buffer_words(split))) == "ok 👍 done"  # rejoined in one piece: the real emoji
    assert shown(split) == "ok \ufffd\ufffd done"  # apart: each half is shown as U+FFFD, and the stream goes on


def test_encoding_is_byte_exact() -> None:
    body = _body(text_chunks(["a\r\nb", "c"]), retry=10)
    assert body == (b"event: chunk\nid: 1\nretry: 10\ndata: a\ndata: b\n\n"
                    b"event: chunk\nid: 2\ndata: c\n\n"
                    b'event: done\nid: 3\ndata: {"finish_reason": null, "usage": null}\n\n')


def test_an_error_becomes_a_typed_event_without_secrets_or_traceback() -> None:
    key = "sk-live-abcdefghijklmnopqrstuvwxyz"
    error = RateLimitError(f"limit hit for key {key} at https://user:pa55word@proxy.example/v1",
                           provider="openai", status_code=429)
    body = _body(ClosableSource(text_chunks(["partial "]), fail=error), secrets=[key])
    events, _, _ = whatwg_decode(body)
    assert [e["event"] for e in events] == ["chunk", "error"]
    payload = json.loads(events[1]["data"])
    assert payload["type"] == "RateLimitError" and payload["is_retryable"] is True
    assert key not in body.decode() and "pa55word" not in body.decode() and "Traceback" not in body.decode()
    assert "limit hit for key sk-...wxyz at https://user:***@proxy.example/v1" in payload["message"]


def test_a_non_library_error_is_reported_without_its_message() -> None:
    events, _, _ = whatwg_decode(_body(ClosableSource([], fail=Boom("/home/me/secret.txt"))))
    assert json.loads(events[0]["data"]) == {"type": "Boom", "message": "the stream failed", "is_retryable": False}


def test_json_format() -> None:
    chunks = [StreamChunk(reasoning="think", index=0), StreamChunk(content="a\nb", index=1),
              StreamChunk(tool_calls=(ToolCallDelta(0, "c1", "f", "{}"),), index=2),
              StreamChunk(finish_reason="tool_calls", index=3)]
    events, _, _ = whatwg_decode(_body(chunks, format="json", event="delta"))
    assert [json.loads(e["data"]) for e in events] == [
        {"content": "", "index": 0, "reasoning": "think"},
        {"content": "a\nb", "index": 1},
        {"content": "", "index": 2, "tool_calls": [{"index": 0, "id": "c1", "name": "f", "arguments": "{}"}]},
        {"finish_reason": "tool_calls", "usage": None},
    ]
    assert [e["event"] for e in events] == ["delta", "delta", "delta", "done"]


def _decode_as_openai(body: bytes) -> Any:
    spec = RequestSpec(model="gpt-4o-mini", messages=[])
    return aggregate(OpenAIDriver().iter_chunks(iter_sse([body]), spec))


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
def test_openai_mode_reemits_another_providers_stream(provider: str) -> None:
    text = "Hello from\nanother provider: data: x 👍"
    with FakeLLMServer() as server, LLMClient(f"{provider}/some-model", base_url=server.base_url_for(provider),
                                              api_key="k-test") as client:
        server.add_reply(Reply(text=text))
        body = _body(client.chat_stream("hi"), format="openai", model="relay")
    assert body.endswith(b"data: [DONE]\n\n")
    frames = [json.loads(e.data) for e in iter_sse([body]) if e.data != "[DONE]"]
    assert frames[0]["choices"][0]["delta"]["role"] == "assistant"
    assert {f["object"] for f in frames} == {"chat.completion.chunk"} and {f["model"] for f in frames} == {"relay"}
    response = _decode_as_openai(body)
    assert (response.content, response.finish_reason) == (text, "stop")
    assert response.usage.completion_tokens > 0 and not response.usage.is_estimated


def test_openai_mode_tool_calls_and_usage() -> None:
    chunks = [StreamChunk(tool_calls=(ToolCallDelta(0, "call_9", "get_weather", '{"city":'),)),
              StreamChunk(tool_calls=(ToolCallDelta(0, None, None, ' "Oslo"}'),)),
              StreamChunk(finish_reason="tool_calls"),
              StreamChunk(usage=Usage(prompt_tokens=4, completion_tokens=6, total_tokens=10), is_complete=True)]
    response = _decode_as_openai(_body(chunks, format="openai"))
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [("call_9", "get_weather", '{"city": "Oslo"}')]
    assert response.finish_reason == "tool_calls" and response.usage.total_tokens == 10


@pytest.mark.parametrize("chunks", [[], [StreamChunk(finish_reason="stop", is_complete=True)]], ids=["nothing", "finish"])
def test_openai_mode_sends_the_role_even_for_an_empty_answer(chunks: list[StreamChunk]) -> None:
    frames = [json.loads(e.data) for e in iter_sse([_body(chunks, format="openai")]) if e.data != "[DONE]"]
    assert [f["choices"] for f in frames] == [
        [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]]


def test_openai_mode_error_raises_the_same_class_in_an_openai_client() -> None:
    error = RateLimitError("slow down", provider="anthropic", status_code=429)
    body = _body(ClosableSource(text_chunks(["Hi"]), fail=error), format="openai")
    assert b"[DONE]" not in body
    with pytest.raises(RateLimitError, match="slow down"):
        _decode_as_openai(body)


# every public error class of llm_connectivity.errors: (the in-band error's "type", its "code")
OPENAI_ERROR_TYPES = {
    "APIStatusError": ("api_status_error", 0),
    "AuthenticationError": ("authentication_error", 401),
    "BadRequestError": ("bad_request_error", 400),
    "ConfigurationError": ("configuration_error", None),
    "ConflictError": ("conflict_error", 409),
    "ConnectError": ("connect_error", None),
    "ConnectTimeoutError": ("connect_timeout_error", None),
    "ContentIdleTimeoutError": ("content_idle_timeout_error", None),
    "InvalidRequestError": ("invalid_request_error", None),
    "LLMError": ("llm_error", None),
    "MissingAPIKeyError": ("missing_api_key_error", None),
    "NetworkError": ("network_error", None),
    "NotFoundError": ("not_found_error", 404),
    "OverloadedError": ("overloaded_error", 529),
    "PermissionDeniedError": ("permission_denied_error", 403),
    "ProtocolError": ("protocol_error", None),
    "RateLimitError": ("rate_limit_error", 429),
    "ReadTimeoutError": ("read_timeout_error", None),
    "ServerError": ("server_error", 500),
    "StreamInterruptedError": ("stream_interrupted_error", None),
    "TLSCertificateError": ("tls_certificate_error", None),
    "TimeoutError": ("timeout_error", None),
    "TotalTimeoutError": ("total_timeout_error", None),
}


def test_openai_error_type_for_every_public_error_class() -> None:
    public = {name: getattr(errors, name) for name in errors.__all__
              if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), BaseException)}
    assert sorted(public) == sorted(OPENAI_ERROR_TYPES)  # a new error class needs a row here
    got: dict[str, tuple[str, int | None]] = {}
    for name, cls in public.items():
        error = openai_error(cls("boom", provider="openai"), "shown")["error"]
        assert error["message"] == "shown"
        got[name] = (error["type"], error["code"])
    assert got == OPENAI_ERROR_TYPES


@pytest.mark.parametrize("name, kind", [("APIConnectionError", "api_connection_error"), ("HTTP2Error", "http2_error"),
                                        ("Boom", "boom"), ("OSError", "os_error"), ("X", "x")])
def test_openai_error_type_keeps_acronyms_whole(name: str, kind: str) -> None:
    cls = type(name, (Exception,), {})
    assert openai_error(cls("x"), "m") == {"error": {"message": "m", "type": kind, "code": None}}


def test_openai_mode_error_event_names_the_class_in_snake_case() -> None:
    body = _body(ClosableSource(text_chunks(["Hi"]), fail=LLMError("lost", provider="openai")), format="openai")
    frames = [json.loads(e.data) for e in iter_sse([body])]
    assert frames[-1] == {"error": {"message": "lost", "type": "llm_error", "code": None}}


def test_sse_headers() -> None:
    assert sse_headers() == [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache"),
                             ("X-Accel-Buffering", "no")]


@pytest.mark.parametrize("options, match", [
    ({"format": "xml"}, "format"), ({"event": "a\nb"}, "event"), ({"done_event": ""}, "done_event"),
    ({"retry": -1}, "retry"), ({"keepalive": 0}, "keepalive")])
def test_bad_options_raise_at_call_time(options: dict[str, Any], match: str) -> None:
    source = ClosableSource(text_chunks(["x"]))
    with pytest.raises(ConfigurationError, match=match):
        to_sse(source, **options)
    assert source.served == 0


# -- keep-alive and closing ---------------------------------------------------------------------------
def _ticker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "llm-connectivity-ticker"]


def test_keepalive_comments_while_the_source_is_silent() -> None:
    release = threading.Event()

    def slow() -> Iterator[StreamChunk]:
        yield StreamChunk(content="first")
        release.wait(10)  # silent until the test has seen keep-alives
        yield StreamChunk(content="second", finish_reason="stop")

    parts: list[bytes] = []
    for part in to_sse(slow(), keepalive=0.02):
        parts.append(part)
        if parts.count(b": keep-alive\n\n") == 2:
            release.set()
    events, comments, _ = whatwg_decode(b"".join(parts))
    assert [e["data"] for e in events[:2]] == ["first", "second"] and events[2]["event"] == "done"
    assert comments[:2] == [" keep-alive", " keep-alive"]
    assert parts.index(b": keep-alive\n\n") == 1  # comments come between the events
    deadline = time.monotonic() + 5
    while _ticker_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _ticker_threads()


def test_errors_cross_the_keepalive_thread() -> None:
    error = StreamInterruptedError("connection lost", provider="openai")
    events, _, _ = whatwg_decode(_body(ClosableSource(text_chunks(["a"]), fail=error), keepalive=5))
    assert [e["event"] for e in events] == ["chunk", "error"]
    assert json.loads(events[1]["data"])["type"] == "StreamInterruptedError"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts sockets in /proc/self/fd (Linux)")
@pytest.mark.parametrize("keepalive", [None, 0.05])
def test_closing_the_response_closes_the_upstream_stream(keepalive: float | None) -> None:
    words = [f"word{i} " for i in range(400)]
    with FakeLLMServer() as server:
        client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test", max_retries=0)
        baseline = socket_fds()
        server.add_reply(Reply(chunks=words, delay=0.02))  # 8 s if read to the end
        stream = client.chat_stream("hi")
        response = to_sse(buffer_words(stream), keepalive=keepalive)
        started = time.monotonic()
        first = next(response)
        assert first == b"event: chunk\nid: 1\ndata: word0\n\n"
        response.close()  # type: ignore[attr-defined]  # what a WSGI server does when the browser leaves
        assert time.monotonic() - started < 4
        assert not stream.is_complete
        assert wait_for_sockets(baseline, within=5) == baseline
        assert not _ticker_threads()
        client.close()


def test_closing_while_a_plain_generator_blocks_is_bounded_and_the_reader_stops_later() -> None:
    release = threading.Event()
    finished = threading.Event()

    def blocking() -> Iterator[StreamChunk]:
        try:
            yield StreamChunk(content="first")
            release.wait(10)  # blocked inside the generator: it cannot be closed from outside
            yield StreamChunk(content="second")
            yield StreamChunk(content="never read")
        finally:
            finished.set()

    from llm_connectivity.streaming.ticker import with_ticks

    ticks = with_ticks(blocking(), 0.05, join_timeout=0.2)
    assert next(ticks).content == "first"  # type: ignore[union-attr]
    started = time.monotonic()
    ticks.close()  # type: ignore[attr-defined]
    assert time.monotonic() - started < 2  # bounded join
    release.set()  # the reader gets its next item, sees the stop flag and closes the source
    assert finished.wait(5)
    deadline = time.monotonic() + 5
    while _ticker_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _ticker_threads()
