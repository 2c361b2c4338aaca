"""Engine logic over MemoryTransport and FakeClock: parameter recovery, the final chunk,
the terminal-event grace, content-idle time, retries against the total limit, and
exceptions the transport does not know."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from llm_connectivity import LLMClient, RetryPolicy
from llm_connectivity.errors import BadRequestError, ContentIdleTimeoutError, LLMError, ServerError
from llm_connectivity.providers.openai import OpenAIDriver
from llm_connectivity.registry import register_provider
from llm_connectivity.request import RequestSpec
from llm_connectivity.testing import FakeClock, MemoryResponse, MemoryTransport, Reply

KEY = "sk-engine-test-0123456789"


def event(text: str = "", finish: str | None = None) -> bytes:
    delta = {"content": text} if text else {}
    return f"data: {json.dumps({'choices': [{'index': 0, 'delta': delta, 'finish_reason': finish}]})}\n\n".encode()


USAGE = b'data: {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}}\n\n'
DONE = b"data: [DONE]\n\n"


def make_client(*items: Any, clock: FakeClock | None = None, model: str = "openai/m", **kwargs: Any) -> tuple[
        LLMClient, MemoryTransport]:
    transport = MemoryTransport(list(items))
    return LLMClient(model, api_key=KEY, transport=transport, clock=clock or FakeClock(), **kwargs), transport


class _ToleratesNoTemperature(OpenAIDriver):
    """Asks for ``temperature`` to be dropped when the server refuses it."""

    def recover_params(self, spec: RequestSpec, error: LLMError) -> dict[str, Any] | None:
        if isinstance(error, BadRequestError) and "temperature" in error.message:
            return {"temperature": None}
        return None


def test_recover_params_retries_once_at_once_and_is_remembered() -> None:
    register_provider("picky", _ToleratesNoTemperature("picky", default_base_url="https://picky.example/v1"), replace=True)
    refusal = MemoryResponse(400, b'{"error": {"message": "temperature is not supported"}}')
    clock = FakeClock()
    client, transport = make_client(refusal, Reply(text="one"), Reply(text="two"), refusal, refusal, clock=clock,
                                    model="picky/m", max_retries=0, temperature=0.5)
    assert client.chat("hi").content == "one"  # retried although max_retries=0
    assert client.chat("hi").content == "two"  # remembered: sent without temperature at once
    assert [r.json.get("temperature") for r in transport.requests] == [0.5, None, None]
    assert clock.sleeps == []  # immediately
    assert client.default_params == {"temperature": 0.5}  # nothing was mutated
    with pytest.raises(BadRequestError):  # a refusal the overrides cannot fix: one recovery, then raised
        client.chat("hi")
    assert len(transport.requests) == 5


def test_stream_options_rejection_is_retried_without_them_and_remembered() -> None:
    refusal = MemoryResponse(400, b'{"error": {"message": "Unrecognized request argument: stream_options"}}')
    client, transport = make_client(refusal, Reply(text="ok"), Reply(text="again"), max_retries=0)
    assert client.chat_stream("hi").text() == "ok"
    assert client.chat_stream("hi").text() == "again"
    assert ["stream_options" in r.json for r in transport.requests] == [True, False, False]


def test_the_final_chunk_does_not_repeat_the_finish_reason() -> None:
    client, _ = make_client(MemoryResponse(body=[event("Hi"), event(finish="stop"), USAGE, DONE]))
    stream = client.chat_stream("hi")
    chunks = list(stream)
    assert [c.finish_reason for c in chunks] == [None, "stop", None, None]
    final = chunks[-1]
    assert final.is_complete and final.raw_finish_reason is None and final.usage is not None
    assert final.usage.total_tokens == 5 and final.metadata == {}
    assert (stream.response.finish_reason, stream.terminal_event) == ("stop", True)


@pytest.mark.parametrize(("read_timeout", "grace"), [(30.0, 2.0), (1.5, 1.5), (None, 2.0)])
def test_a_missing_terminal_event_after_the_finish_reason_completes_the_stream(read_timeout: float | None,
                                                                               grace: float) -> None:
    clock = FakeClock(start=0.0)
    held = MemoryResponse(body=[event("Hi"), event(finish="stop"), USAGE, b""], delays=[0, 0, 0, math.inf])
    client, transport = make_client(held, clock=clock, timeout={"read_timeout": read_timeout,
                                                                "total_timeout": 100.0})
    stream = client.chat_stream("hi")
    chunks = list(stream)
    assert stream.response.content == "Hi" and stream.response.usage.total_tokens == 5
    assert chunks[-1].is_complete and chunks[-1].metadata == {"terminal_event": False}
    assert stream.terminal_event is False and stream.is_complete
    assert clock.monotonic() == pytest.approx(grace)
    assert transport.open_responses == 0


def test_an_idle_limit_firing_after_the_finish_reason_also_completes_the_stream() -> None:
    clock = FakeClock(start=0.0)
    held = MemoryResponse(body=[event("Hi"), event(finish="stop"), b""], delays=[0, 0, math.inf])
    client, _ = make_client(held, clock=clock, timeout={"content_idle_timeout": 0.5})
    stream = client.chat_stream("hi")
    assert stream.text() == "Hi" and stream.terminal_event is False
    assert clock.monotonic() == pytest.approx(0.5)


def test_events_after_the_finish_reason_restart_the_grace() -> None:
    """Several choices: one finishes, another still streams (1.5 s apart, 4.5 s in all,
    longer than the 2 s grace): the server is not withholding anything, nothing is cut."""
    def choice(i: int, text: str = "", finish: str | None = None) -> bytes:
        delta = {"content": text} if text else {}
        obj = {"choices": [{"index": i, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(obj)}\n\n".encode()

    clock = FakeClock(start=0.0)
    body = [choice(0, "A"), choice(0, finish="stop"), choice(1, "B"), choice(1, "C"), choice(1, finish="stop"), DONE]
    client, _ = make_client(MemoryResponse(body=body, delays=[0, 0, 1.5, 1.5, 1.5, 0]), clock=clock,
                            timeout={"read_timeout": 10.0})
    stream = client.chat_stream("hi", n=2)
    assert "".join(c.content for c in stream) == "A"  # the driver keeps the first choice
    assert stream.terminal_event is True and clock.monotonic() == pytest.approx(4.5)


def test_content_idle_counts_only_time_waiting_on_the_network() -> None:
    clock = FakeClock()
    body = [event("a"), event("b"), event("c"), event(finish="stop"), DONE]
    client, _ = make_client(MemoryResponse(body=body, delays=[0.1] * 5), clock=clock,
                            timeout={"content_idle_timeout": 1.0})
    received = []
    for chunk in client.chat_stream("hi"):
        received.append(chunk.content)
        clock.advance(1.2)  # the consumer is slower than the idle limit
    assert "".join(received) == "abc"
    # and the server's own silence still counts
    client, _ = make_client(MemoryResponse(body=[event("a"), b": ping\n\n", event("b")], delays=[0, 0.8, 0.8]),
                            clock=clock, timeout={"content_idle_timeout": 1.0}, max_retries=0)
    with pytest.raises(ContentIdleTimeoutError):
        client.chat_stream("hi").text()


def test_a_retry_that_would_end_past_the_total_limit_is_not_attempted() -> None:
    clock = FakeClock()
    busy = MemoryResponse(503, b"{}", headers={"Retry-After": "10"})
    client, transport = make_client(busy, Reply(text="late"), clock=clock, timeout={"total_timeout": 5.0},
                                    max_retries=RetryPolicy(max_retries=3))
    with pytest.raises(ServerError):
        client.chat_stream("hi").text()
    assert len(transport.requests) == 1 and clock.sleeps == []


class _Unknown(Exception):
    pass


@pytest.mark.parametrize("where", ["send", "body"])
def test_an_exception_the_transport_does_not_know_propagates_unchanged(where: str) -> None:
    error = _Unknown("a bug")
    item: Any = error if where == "send" else MemoryResponse(body=[event("a"), error])
    client, transport = make_client(item, Reply(text="never"))
    with pytest.raises(_Unknown) as info:
        client.chat_stream("hi").text()
    assert info.value is error
    assert len(transport.requests) == 1 and transport.open_responses == 0
