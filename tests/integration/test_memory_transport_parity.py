"""MemoryTransport acceptance: the same scripts give the same chunks, responses, errors and
retries over MemoryTransport (no sockets, FakeClock) as over real loopback sockets."""

from __future__ import annotations

from typing import Any

import pytest

from llm_connectivity import LLMClient, RetryPolicy
from llm_connectivity.errors import LLMError
from llm_connectivity.testing import FakeClock, FakeLLMServer, MemoryTransport, Reply, faults

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


CASES = [(name, stream) for name in _scripts() for stream in (True, False)
         if stream or name not in ("stall", "in-band error")]  # those two are streaming faults


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
