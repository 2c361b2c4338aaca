"""Cost in USD (genai-prices tables, overrides, unknown models) and budgets (per stream,
per client, across threads), through the public API over a loopback server."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from llm_connectivity import StreamingOptions
from llm_connectivity.budget import Budget, BudgetExceededError
from llm_connectivity.errors import ConfigurationError
from llm_connectivity.models import Usage
from llm_connectivity.pricing import ModelPrice, Pricing, cost_usd
from llm_connectivity.testing import FakeLLMServer, Reply

pytest.importorskip("genai_prices")


@pytest.mark.parametrize(("usage", "model", "expected"), [
    (Usage(prompt_tokens=1000, completion_tokens=500), "openai/gpt-4o-mini", 0.00045),
    (Usage(prompt_tokens=1000, completion_tokens=0, cached_tokens=1000), "openai/gpt-4o-mini", 0.000075),
    # Anthropic: 1000 fresh input at $3, 1000 cache writes at $3.75, 1000 reads at $0.30, 100 out at $15
    (Usage(prompt_tokens=3000, completion_tokens=100, cached_tokens=1000,
           raw={"cache_creation_input_tokens": 1000}), "anthropic/claude-sonnet-4-5", 0.00855),
    # Anthropic one-hour cache writes cost $6 instead of $3.75: 1000 at 5 minutes, 1000 at one hour
    (Usage(prompt_tokens=2000, raw={"cache_creation_input_tokens": 2000,
                                    "cache_creation": {"ephemeral_5m_input_tokens": 1000,
                                                       "ephemeral_1h_input_tokens": 1000}}),
     "anthropic/claude-sonnet-4-5", 0.00975),
    # past the 200k-token tier every token is priced higher: $6 in, $22.50 out
    (Usage(prompt_tokens=300_000, completion_tokens=10), "anthropic/claude-sonnet-4-5", 1.800225),
    (Usage(prompt_tokens=100_000, completion_tokens=10), "anthropic/claude-sonnet-4-5", 0.30015),
    # Gemini bills thinking as output: (100 + 300) x $2.50 + 1000 x $0.30
    (Usage(prompt_tokens=1000, completion_tokens=100, reasoning_tokens=300,
           raw={"candidatesTokenCount": 100, "thoughtsTokenCount": 300}), "gemini/gemini-2.5-flash", 0.0013),
    # OpenAI counts reasoning inside completion_tokens: priced once
    (Usage(prompt_tokens=1000, completion_tokens=1000, reasoning_tokens=600), "openai/gpt-4o-mini", 0.00075),
])
def test_costs_from_the_price_tables(usage: Usage, model: str, expected: float) -> None:
    assert cost_usd(usage, model) == pytest.approx(expected)


def test_unknown_model_costs_none_with_a_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    pricing = Pricing()
    with caplog.at_level(logging.DEBUG, logger="llm_connectivity"):
        assert pricing.cost(Usage(prompt_tokens=10), "openai/no-such-model-x") is None
        assert pricing.cost(Usage(prompt_tokens=10), "vllm/my-local-model") is None
    messages = [r.getMessage() for r in caplog.records]
    assert any("no-such-model-x" in m and "pricing=" in m for m in messages)
    assert any("vllm/my-local-model" in m for m in messages)


def test_overrides() -> None:
    pricing = Pricing({"openai/my-ft": {"input": 0.3, "output": 1.2, "cached_input": 0.15},
                       "gpt-4o-mini": ModelPrice(input=1.0, output=2.0)})
    usage = Usage(prompt_tokens=2_000_000, completion_tokens=1_000_000, cached_tokens=1_000_000)
    assert pricing.cost(usage, "openai/my-ft") == pytest.approx(0.3 + 0.15 + 1.2)
    assert pricing.cost(Usage(prompt_tokens=1_000_000), "openai/gpt-4o-mini") == pytest.approx(1.0)
    assert pricing.rates("openai/my-ft") == ModelPrice(input=0.3, output=1.2, cached_input=0.15)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"m": {"input": 1.0}}, "missing keys \\['output'\\]"),
    ({"m": {"input": 1.0, "output": 1.0, "cache_read": 1.0}}, "unknown keys \\['cache_read'\\]"),
    ({"m": {"input": -1, "output": 1.0}}, "must be a number >= 0"),
    ({"m": 3}, "must be a dict"),
])
def test_bad_overrides_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Pricing(overrides)


def test_cost_on_the_stream_response(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(Reply("Paris is the capital of France."))
    result = make_client().stream_with_usage("Capital of France?")
    assert result.usage.is_estimated is False
    assert result.cost_usd == pytest.approx(cost_usd(result.usage, "openai/gpt-4o-mini")) and result.cost_usd > 0
    complete = result.events[-1]
    assert complete.kind == "complete" and complete.cost_usd == result.cost_usd  # type: ignore[attr-defined]
    server.add_reply(Reply("Hi"))
    assert make_client("openai/unknown-model-zz").stream_with_usage("Hi").cost_usd is None


def test_client_pricing_override(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(Reply("one two three", usage=True))
    client = make_client("openai/my-ft", pricing={"openai/my-ft": {"input": 1_000_000.0, "output": 0.0}})
    result = client.stream_with_usage("Hi")
    assert result.cost_usd == pytest.approx(result.usage.prompt_tokens * 1.0)


def test_budget_stop_closes_the_connection_and_keeps_the_partial_answer(server: FakeLLMServer,
                                                                        make_client: Any) -> None:
    words = " ".join(f"w{i}" for i in range(3000))
    server.add_reply(Reply(words, usage=False))
    client = make_client(pricing={"openai/gpt-4o-mini": {"input": 0.0, "output": 1000.0}})  # $0.001 a token
    deltas: list[str] = []
    errors: list[Any] = []
    options = StreamingOptions(max_cost_usd=0.05)
    with pytest.raises(BudgetExceededError) as info:
        client.stream_with_usage("Count", streaming_options=options, on_delta=lambda text: deltas.append(text),
                                 on_error=errors.append)
    error = info.value
    partial = error.partial_response
    assert error.scope == "stream" and error.spent_usd > 0.05
    assert partial.content == "".join(deltas) and words.startswith(partial.content)
    assert 40 <= partial.usage.completion_tokens <= 60 and partial.usage.is_estimated
    assert partial.cost_usd == pytest.approx(partial.usage.completion_tokens * 0.001)
    assert len(errors) == 1 and errors[0].error is error and errors[0].is_retryable is False
    server.add_reply(Reply("still serving"))  # the server is free again: the connection was dropped
    assert client.stream_with_usage("Hi").get_text() == "still serving"
    assert [r.connection for r in server.requests] == [1, 2]  # the stopped stream's connection was not reused


def test_budget_needs_a_price_before_any_io(server: FakeLLMServer, make_client: Any) -> None:
    client = make_client("openai/unknown-model-zz")
    with pytest.raises(ConfigurationError, match="no known price"):
        client.stream_with_usage("Hi", streaming_options=StreamingOptions(max_cost_usd=1.0))
    assert server.requests == []


def test_client_budget_refuses_calls_once_spent(server: FakeLLMServer, make_client: Any) -> None:
    client = make_client(budget_usd=0.02, pricing={"openai/gpt-4o-mini": {"input": 0.0, "output": 1000.0}})
    server.add_reply(Reply("a b c d e f g h i j"))  # 10 reported completion tokens: $0.01
    client.stream_with_usage("Hi")
    assert client.budget.spent_usd == pytest.approx(0.01)
    server.add_reply(Reply(" ".join(["x"] * 50)))
    with pytest.raises(BudgetExceededError) as info:
        client.stream_with_usage("Hi")
    assert info.value.scope == "client" and info.value.partial_response.content
    requests_before = len(server.requests)
    with pytest.raises(BudgetExceededError, match="budget of \\$0.0200 is spent"):
        client.stream_with_usage("Hi")
    assert len(server.requests) == requests_before  # refused before sending


def test_budget_is_thread_safe() -> None:
    budget = Budget(1000.0)
    barrier = threading.Barrier(8)

    def spend() -> None:
        barrier.wait(timeout=10)
        for _ in range(2000):
            budget.charge(0.01)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert budget.spent_usd == pytest.approx(160.0)
    assert budget.remaining_usd == pytest.approx(840.0)
    with pytest.raises(ConfigurationError):
        Budget(0)


# -- the client pipeline: chat(), chat_stream(), stream.response, the final chunk ----------
def test_cost_on_chat_and_on_stream_response(server: FakeLLMServer, make_client: Any) -> None:
    client = make_client()
    server.add_reply(Reply("Paris is the capital."))
    response = client.chat("Capital of France?")
    assert response.cost_usd is not None and response.cost_usd > 0
    assert response.cost_usd == pytest.approx(cost_usd(response.usage, "openai/gpt-4o-mini"))
    server.add_reply(Reply("Paris is the capital."))
    with client.chat_stream("Capital of France?") as stream:
        chunks = list(stream)
    assert stream.response.cost_usd is not None and stream.response.cost_usd > 0
    assert stream.response.cost_usd == pytest.approx(cost_usd(stream.response.usage, "openai/gpt-4o-mini"))
    assert chunks[-1].is_complete
    server.add_reply(Reply("Hi"))
    assert make_client("openai/unknown-model-zz").chat("Hi").cost_usd is None


def test_chat_without_reported_usage_is_estimated_exactly(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(Reply("Hello there, how are you doing today?", usage=False))
    response = make_client().chat("Hi")
    assert response.usage.is_estimated and response.usage.raw["estimated_by"] == "exact"
    assert response.usage.completion_tokens == 9 and response.usage.confidence == 0.9  # o200k_base: 9 tokens
    assert response.cost_usd is not None


def test_client_level_cost_limit_stops_chat_stream(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(Reply(" ".join(f"w{i}" for i in range(2000)), usage=False))
    client = make_client(streaming_options=StreamingOptions(max_cost_usd=0.02),
                         pricing={"openai/gpt-4o-mini": {"input": 0.0, "output": 1000.0}})
    received = []
    with pytest.raises(BudgetExceededError) as info:
        for chunk in client.chat_stream("Count"):
            received.append(chunk.content)
    assert info.value.scope == "stream"
    assert info.value.partial_response.content.startswith("".join(received))
    assert 15 <= info.value.partial_response.usage.completion_tokens <= 30


def test_client_budget_on_chat_refuses_before_sending(server: FakeLLMServer, make_client: Any) -> None:
    client = make_client(budget_usd=0.005, pricing={"openai/gpt-4o-mini": {"input": 0.0, "output": 1000.0}})
    server.add_reply(Reply("a b c d e f g h i j"))  # 10 reported completion tokens: $0.01
    client.chat("Hi")
    assert client.budget.spent_usd == pytest.approx(0.01)
    with pytest.raises(BudgetExceededError, match="is spent"):
        client.chat("Hi")
    assert len(server.requests) == 1


def test_client_limit_on_a_model_without_price_refuses_before_sending(server: FakeLLMServer,
                                                                      make_client: Any) -> None:
    client = make_client("openai/unknown-model-zz", budget_usd=1.0)
    with pytest.raises(ConfigurationError, match="no known price"):
        client.chat("Hi")
    with pytest.raises(ConfigurationError, match="no known price"):
        next(iter(client.chat_stream("Hi")))
    assert server.requests == []


def test_stream_with_usage_is_charged_once(server: FakeLLMServer, make_client: Any) -> None:
    client = make_client(budget_usd=1.0, pricing={"openai/gpt-4o-mini": {"input": 0.0, "output": 1000.0}})
    server.add_reply(Reply("a b c d e"))
    result = client.stream_with_usage("Hi")
    assert result.cost_usd == pytest.approx(0.005) and client.budget.spent_usd == pytest.approx(0.005)
    assert result.chunks[-1].metadata["cost_usd"] == result.cost_usd


def test_prices_load_in_the_background_while_the_client_is_built() -> None:
    """The first response is priced without waiting for genai-prices to import (~0.13 s)."""
    import json
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import json, sys, time
        from llm_connectivity import LLMClient
        from llm_connectivity.models import Usage
        client = LLMClient("openai/gpt-4o-mini", api_key="sk-test")
        stage = client.stages[0]
        stage.warming.join(60)
        started = time.perf_counter()
        cost = stage.pricing.cost(Usage(prompt_tokens=1000, completion_tokens=500), "openai/gpt-4o-mini")
        print(json.dumps([type(stage).__name__, cost, time.perf_counter() - started]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    name, cost, seconds = json.loads(result.stdout)
    assert name == "CostStage" and cost == pytest.approx(0.00045)
    assert seconds < 0.02  # arithmetic on rates loaded in the background, not an import


def test_a_call_made_inside_a_callback_is_accounted(server: FakeLLMServer, make_client: Any) -> None:
    client = make_client(budget_usd=1.0, pricing={"openai/gpt-4o-mini": {"input": 0.0, "output": 1000.0}})
    inner: list[Any] = []
    server.add_reply(Reply("a b"))  # the outer stream: 2 tokens
    server.add_reply(Reply("c d e"))  # the chat() made by its completion callback: 3 tokens
    client.stream_with_usage("Hi", on_complete=lambda event: inner.append(client.chat("More")))
    assert inner[0].cost_usd == pytest.approx(0.003)
    assert client.budget.spent_usd == pytest.approx(0.005)  # both calls, each once
