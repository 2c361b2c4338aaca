"""Acceptance: usage through the public API over a loopback server. Reported usage passes
through (every recorded stream that carries one, Groq's ``x_groq.usage`` included); a
stream without usage is estimated close to tiktoken's exact count on each content type;
interrupted streams still report usage."""

from __future__ import annotations

from typing import Any

import pytest
from corpus import load_corpus
from fixture_support import Fixture, load_fixtures

from llm_connectivity import LLMClient, StreamingOptions
from llm_connectivity.errors import LLMError, StreamInterruptedError
from llm_connectivity.testing import FakeLLMServer, Reply, faults
from llm_connectivity.tokens import ExactCounter

pytest.importorskip("tiktoken")
CORPUS = load_corpus()
_PROVIDER = {"zai": "openai-compatible", "huggingface": "openai-compatible", "snowflake": "openai-compatible"}
WITH_USAGE = [fx for fx in load_fixtures() if (fx.expected.get("usage") or {}).get("output_tokens")]


def _sample(kind: str) -> str:
    """About 2000 characters of real text of one content type."""
    text = ""
    for piece in CORPUS[kind]:
        text += piece
        if len(text) > 2000:
            break
    return text


@pytest.mark.parametrize("fx", WITH_USAGE, ids=lambda f: f.id)
def test_reported_usage_passes_through(fx: Fixture, server: FakeLLMServer) -> None:
    provider = _PROVIDER.get(fx.provider, fx.provider)
    api = "responses" if fx.wire_format == "openai-responses" else None
    model = (fx.meta["recording"].get("request") or {}).get("model") or "recorded-model"
    server.add_raw(fx.body, content_type=fx.content_type, framing="chunked")
    with LLMClient(model=f"{provider}/{model}", base_url=server.base_url_for(provider), api=api,
                   api_key="sk-test", max_retries=0) as client:
        try:
            usage = client.stream_with_usage("replay").usage
        except LLMError as exc:  # the recorded in-band errors
            usage = exc.partial_response.usage
    expected = fx.expected["usage"]
    assert (usage.is_estimated, usage.confidence) == (False, 1.0), fx.id
    assert usage.completion_tokens == expected["output_tokens"], fx.id
    assert usage.prompt_tokens >= expected["input_tokens"], fx.id


def test_groq_usage_in_x_groq_is_reported() -> None:
    assert any(fx.provider == "groq" and b"x_groq" in fx.body and b'"usage"' in fx.body for fx in WITH_USAGE)


@pytest.mark.parametrize("kind", ["english", "code", "json", "chinese", "japanese"])
@pytest.mark.parametrize(("aggregator", "tolerance"), [("tiktoken", 0.10), ("character", 0.25)])
def test_estimated_completion_tokens(kind: str, aggregator: str, tolerance: float, server: FakeLLMServer,
                                     make_client: Any) -> None:
    text = _sample(kind)
    server.add_reply(Reply(chunks=[text[i:i + 5] for i in range(0, len(text), 5)], usage=False))
    options = StreamingOptions(aggregator_type=aggregator)
    result = make_client("openai/gpt-4o-mini").stream_with_usage("Write", streaming_options=options)
    usage = result.usage
    exact = ExactCounter("o200k_base").count(text)
    assert result.get_text() == text
    assert usage.is_estimated is True and 0 < usage.confidence < 1
    assert abs(usage.completion_tokens - exact) / exact <= tolerance, (usage.completion_tokens, exact)
    assert usage.prompt_tokens == 3 + 3 + 1 + 1  # "Write" as one user message
    assert usage.raw["estimated_by"] == ("exact" if aggregator == "tiktoken" else "estimate")
    assert result.cost_usd is not None and result.cost_usd > 0


@pytest.mark.parametrize(("model", "method", "confidence"), [
    ("openai/gpt-4o-mini", "exact", 0.9), ("gemini/gemini-2.0-flash", "proxy", 0.75),
    ("groq/llama-3.1-8b-instant", "proxy", 0.75)])
def test_estimated_by_names_the_method_its_confidence_says(model: str, method: str, confidence: float,
                                                           server: FakeLLMServer, make_client: Any) -> None:
    """tiktoken standing in for another vendor's tokenizer is a proxy, not an exact count."""
    server.add_reply(Reply("Hello there, this answer has no usage report", usage=False))
    usage = make_client(model).stream_with_usage("Write").usage
    assert (usage.is_estimated, usage.raw["estimated_by"], usage.confidence) == (True, method, confidence)


def test_rejected_stream_options_still_give_usage(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(faults.status(400, body='{"error": {"message": "Unrecognized request argument supplied: '
                                              'stream_options"}}'))
    server.add_reply(Reply("Hello there friend", usage=False))
    client = make_client("openai/gpt-4o-mini", max_retries=2)
    usage = client.stream_with_usage("Hi").usage
    assert usage.is_estimated and usage.completion_tokens == 3
    assert "stream_options" not in server.requests[-1].json


def test_interrupted_stream_reports_estimated_usage(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(faults.drop_after(3, text="one two three four five six"))
    with pytest.raises(StreamInterruptedError) as info:
        make_client().stream_with_usage("Hi")
    partial = info.value.partial_response
    assert partial.usage.is_estimated and partial.usage.completion_tokens == len(partial.content.split())
    assert partial.cost_usd is not None


def test_aggregation_off_keeps_the_drivers_usage(server: FakeLLMServer, make_client: Any) -> None:
    server.add_reply(Reply("one two", usage=True))
    options = StreamingOptions(enable_usage_aggregation=False)
    usage = make_client().stream_with_usage("Hi", streaming_options=options).usage
    assert usage.is_estimated is False and usage.completion_tokens == 2
