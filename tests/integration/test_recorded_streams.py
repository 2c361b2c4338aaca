"""Every recorded provider stream, replayed byte-exact over a loopback socket with the body
split at arbitrary points, through ``LLMClient(model="<provider>/<model>", base_url=...)``."""

from __future__ import annotations

import random
import zlib

import pytest
from fixture_support import Fixture, check_response, load_fixtures

from llm_connectivity import LLMClient
from llm_connectivity.errors import BadRequestError, LLMError, OverloadedError
from llm_connectivity.testing import FakeLLMServer

FIXTURES = load_fixtures()

# Providers without a registered name of their own are plain OpenAI-compatible servers.
_PROVIDER = {"zai": "openai-compatible", "huggingface": "openai-compatible", "snowflake": "openai-compatible"}

_EXPECTED_ERRORS: dict[str, type[LLMError]] = {
    "anthropic/docs-error-overloaded": OverloadedError,
    "groq/gpt-oss-tool-use-failed-event-error": BadRequestError,
    "openrouter/minimax-processing-comments-length-error": BadRequestError,
}


@pytest.fixture(scope="module")
def server():
    with FakeLLMServer() as srv:
        yield srv


def _client(fx: Fixture, server: FakeLLMServer) -> LLMClient:
    provider = _PROVIDER.get(fx.provider, fx.provider)
    api = "responses" if fx.wire_format == "openai-responses" else None
    model = (fx.meta["recording"].get("request") or {}).get("model") or "recorded-model"
    return LLMClient(model=f"{provider}/{model}", base_url=server.base_url_for(provider), api=api,
                     api_key="sk-test-key-0000000000", max_retries=0)


def _pieces(body: bytes, seed: int) -> list[int]:
    """Write sizes for ``body``, the same in every process for the same seed (no ``hash()``)."""
    rng = random.Random(seed)
    sizes, total = [], 0
    while total < len(body):
        n = rng.choice((1, 2, 3, 7, 16, 61, 200, 1500))
        sizes.append(n)
        total += n
    return sizes


@pytest.mark.parametrize("framing", ["chunked", "close"])
@pytest.mark.parametrize("fx", FIXTURES, ids=lambda f: f.id)
def test_recorded_stream_through_client(fx: Fixture, framing: str, server: FakeLLMServer) -> None:
    server.add_raw(fx.body, content_type=fx.content_type, pieces=_pieces(fx.body, zlib.crc32(fx.id.encode())),
                   framing=framing)
    with _client(fx, server) as client:
        stream = client.chat_stream("replay", max_tokens=64)
        expected_error = _EXPECTED_ERRORS.get(fx.id)
        if expected_error is not None:
            with pytest.raises(expected_error) as info:
                for _ in stream:
                    pass
            assert info.value.partial_response is not None
            assert info.value.partial_response.content == fx.expected["text"]
            return
        chunks = list(stream)
    assert chunks[-1].is_complete
    deltas = sum(1 for c in chunks if c.content)
    assert deltas == fx.expected["content_deltas"], fx.id
    check_response(fx, stream.response)
    assert stream.is_complete


def test_every_fixture_has_a_wire_format_we_route() -> None:
    formats = {fx.wire_format for fx in FIXTURES}
    assert formats == {"openai-chat-completions", "openai-responses", "anthropic-messages",
                       "gemini-sse", "gemini-json-array"}
    assert len(FIXTURES) == 62
