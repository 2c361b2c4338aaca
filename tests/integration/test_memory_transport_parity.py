"""MemoryTransport acceptance: the same scripts give the same chunks, responses, errors and
retries over MemoryTransport (no sockets, FakeClock) as over real loopback sockets."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from llm_connectivity import LLMClient, RetryPolicy
from llm_connectivity.deadline import SYSTEM_CLOCK
from llm_connectivity.errors import ConfigurationError, LLMError
from llm_connectivity.testing import Action, FakeClock, FakeLLMServer, MemoryTransport, Reply, faults

KEY = "sk-parity-secret-0123456789"
MODELS = ["openai/m", "anthropic/claude", "gemini/flash"]
POLICY = RetryPolicy(max_retries=1, backoff_base=0.01, jitter=0)


def _scripts() -> dict[str, list[Reply]]:
    """Each scenario, then a fallback answer in case the client retries further."""
    scenarios = {
        "text": [Reply(chunks=["Hel", "lo", " there"])],
        "tools": [Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])],
        "reasoning": [Reply(reasoning="Let me think.", text="Four.")],
        "no usage": [Reply(text="Quiet answer", usage=False)],
        "retried 503": [faults.status(503), Reply(text="after a retry")],
        "404": [faults.status(404)],
        "429 past the cap": [faults.status(429, headers={"Retry-After": "3600"})],
        "in-band error": [faults.inband_error("overloaded_error", after_text="Half")],
        "stall": [faults.stall_after(2, text="Hello there friend")],
        "cut after two events": [faults.drop_after(2, text="Hello there friend")],
        "broken chunked framing": [faults.broken_chunked_framing("Hello there")],
        "refused, then retried": [faults.refuse()],
        "hang before headers": [faults.hang_before_headers()],
        "close-delimited body": [Reply(chunks=["Clo", "sed"], framing="close")],
        "content-length body": [Reply(chunks=["Len", "gth"], framing="length")],
        "content-length body cut": [Reply(framing="length", actions=[
            Action("send", b"".join(faults.chat_events("Hello there"))), Action("close"), Action("send", b"x" * 10)])],
        "gzip body": [Reply(body=gzip.compress(b"".join(faults.chat_events("Zipped text"))),
                            headers={"Content-Encoding": "gzip"}, pieces=[7, 9])],
        "raw HTTP/1.0 answer": [Reply(framing="none", actions=[
            Action("raw", b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"),
            *[Action("raw", e) for e in faults.chat_events("Old server")], Action("close")])],
        "silence, then the close": [Reply(actions=[
            *[Action("send", e) for e in faults.chat_events("Hello there", finish=False)],
            Action("sleep", seconds=1.5), Action("close")])],
        "103 Early Hints first": [Reply(framing="none", actions=[
            Action("raw", b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"),
            Action("raw", b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"),
            *[Action("raw", e) for e in faults.chat_events("Hinted")], Action("close")])],
    }
    return {name: [*replies, Reply(text="fallback")] for name, replies in scenarios.items()}


def _outcome(client: LLMClient, stream: bool) -> tuple[Any, ...]:
    try:
        if not stream:
            response = client.chat("What is 2+2?", timeout=1.0)
            return ("ok", response.content, response.finish_reason, response.usage, response.tool_calls,
                    response.reasoning)
        s = client.chat_stream("What is 2+2?", timeout=1.0)
        chunks = [(c.content, c.finish_reason, c.usage, c.tool_calls, c.reasoning, c.token_count, c.is_complete)
                  for c in s]
        return ("ok", chunks, s.response.content, s.response.usage, s.response.tool_calls)
    except LLMError as exc:
        partial = exc.partial_response.content if exc.partial_response is not None else None
        status = getattr(exc, "status_code", None)
        return ("error", type(exc).__name__, status, partial, exc.is_retryable)


_STREAMS_ONLY = ("stall", "in-band error", "silence, then the close", "gzip body", "raw HTTP/1.0 answer",
                 "103 Early Hints first")
CASES = [(name, stream) for name in _scripts() for stream in (True, False)
         if stream or name not in _STREAMS_ONLY]
# (stall and in-band error are streaming faults; the raw bodies are event streams)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("name", "stream"), CASES, ids=[f"{n}-{'stream' if s else 'chat'}" for n, s in CASES])
def test_memory_transport_behaves_as_sockets_do(model: str, name: str, stream: bool) -> None:
    with FakeLLMServer() as server:
        server.add_replies(_scripts()[name])
        base_url = server.base_url_for(model.split("/")[0])
        with LLMClient(model, base_url=base_url, api_key=KEY, max_retries=POLICY) as client:
            over_sockets = _outcome(client, stream)
        sent = len(server.requests)
    transport = MemoryTransport(_scripts()[name])
    clock = FakeClock()
    client = LLMClient(model, base_url=base_url, api_key=KEY, max_retries=POLICY, transport=transport, clock=clock)
    assert _outcome(client, stream) == over_sockets
    assert len(transport.requests) == sent and transport.open_responses == 0


@pytest.mark.parametrize("model", MODELS)
def test_a_path_the_vendor_would_404_gets_the_same_404_and_keeps_the_reply(model: str) -> None:
    """base_url without the version (or with it twice): both answer the vendor's 404, and
    the queued Reply answers the next, correct request."""
    provider = model.split("/")[0]
    outcomes = []
    for memory in (False, True):
        with FakeLLMServer() as server:
            good = server.base_url_for(provider)
            wrong = server.url + "/v1/v1" if provider != "openai" else server.url
            replies = [Reply(text="Right path")]
            transport = MemoryTransport(replies) if memory else None
            if not memory:
                server.add_replies(replies)
            seen = []
            for base_url in (wrong, good):
                client = LLMClient(model, base_url=base_url, api_key=KEY, max_retries=0, transport=transport,
                                   clock=FakeClock() if memory else SYSTEM_CLOCK)
                seen.append(_outcome(client, False)[:3])
            outcomes.append(seen)
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == ("error", "NotFoundError", 404)
    assert outcomes[0][1][:2] == ("ok", "Right path")


def test_requests_are_recorded_as_the_server_receives_them() -> None:
    """URL userinfo becomes Basic auth and leaves the URL; the User-Agent is the library's;
    a key in Authorization next to URL credentials is refused by both before any I/O."""
    with FakeLLMServer() as server:
        base_url = f"http://alice:pw-secret@127.0.0.1:{server.port}/v1"
        LLMClient("vllm/m", base_url=base_url).chat("Hi")
        received = server.requests[0]
        transport = MemoryTransport([Reply(text="Hi")])
        LLMClient("vllm/m", base_url=base_url, transport=transport).chat("Hi")
        recorded = transport.requests[0]
        assert recorded.path == received.path == "/v1/chat/completions"
        assert "alice" not in recorded.url and "pw-secret" not in recorded.url
        lowered = {k.lower(): v for k, v in recorded.headers.items()}
        for name in ("authorization", "user-agent", "content-type"):
            assert lowered[name] == received.headers[name], name
        for transport_or_none in (None, MemoryTransport([Reply(text="never sent")])):
            client = LLMClient("openai/m", api_key=KEY, base_url=base_url, transport=transport_or_none)
            with pytest.raises(ConfigurationError, match="carries credentials"):
                client.chat("Hi")
        assert len(server.requests) == 1
