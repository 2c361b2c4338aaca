"""Shared helpers for tests over the recorded provider streams in tests/fixtures/recorded.

Each fixture is a raw body (``.sse`` / ``.json-stream``) plus a JSON sidecar whose
``expected`` block says what a correct client must extract (see INDEX.md there).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_connectivity.aggregate import ResponseAccumulator
from llm_connectivity.errors import LLMError
from llm_connectivity.models import StreamChunk
from llm_connectivity.providers.anthropic import AnthropicDriver
from llm_connectivity.providers.base import ProviderDriver
from llm_connectivity.providers.catalog import OPENAI_COMPATIBLE, compatible_driver
from llm_connectivity.providers.gemini import GeminiDriver
from llm_connectivity.request import RequestSpec
from llm_connectivity.sse import iter_sse

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "recorded"

#: One driver per wire format, by a short name: what tests of every driver iterate over.
WIRE_DRIVERS: dict[str, Callable[[], ProviderDriver]] = {
    "openai": lambda: compatible_driver(OPENAI_COMPATIBLE[0]),
    "anthropic": AnthropicDriver,
    "gemini": GeminiDriver,
    "responses": lambda: compatible_driver(OPENAI_COMPATIBLE[0], "responses"),
}


@dataclass
class Fixture:
    provider: str
    name: str
    wire_format: str
    body: bytes
    meta: dict[str, Any]

    @property
    def expected(self) -> dict[str, Any]:
        return self.meta["expected"]

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.name}"

    @property
    def content_type(self) -> str:
        return self.meta["recording"].get("content_type") or "text/event-stream"


def load_fixtures(*wire_formats: str) -> list[Fixture]:
    """All fixtures, or those of the given wire formats, sorted by id."""
    out = []
    for sidecar in sorted(FIXTURE_DIR.glob("*/*.json")):
        meta = json.loads(sidecar.read_text())
        if "expected" not in meta:
            continue
        if wire_formats and meta["wire_format"] not in wire_formats:
            continue
        body = (sidecar.parent / meta["body_file"]).read_bytes()
        out.append(Fixture(sidecar.parent.name, meta["name"], meta["wire_format"], body, meta))
    return out


def split_randomly(body: bytes, seed: int, max_piece: int = 64) -> Iterator[bytes]:
    """Yield ``body`` in pieces of random length 1..max_piece (deterministic per seed)."""
    rng = random.Random(seed)
    i = 0
    while i < len(body):
        n = rng.randint(1, max_piece)
        yield body[i : i + n]
        i += n


def expected_arguments(call: dict[str, Any]) -> Any:
    """The JSON value a tool call's arguments must equal ("" means {})."""
    if "input" in call and call["input"] is not None:
        return call["input"]
    return json.loads(call["arguments"]) if call["arguments"] else {}


_LENGTH = {"length", "max_tokens", "MAX_TOKENS", "incomplete"}
_FILTERED = {"content_filter", "refusal", "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"}


def expected_finish_reason(fx: Fixture) -> str | None:
    """The normalised finish reason a recorded stream must give (derived from its raw one)."""
    raw = fx.expected["finish_reason"]
    if raw is None:
        return None
    if raw in _LENGTH:
        return "length"
    if raw in _FILTERED:
        return "content_filter"
    return "tool_calls" if fx.expected.get("tool_calls") else "stop"


def check_response(fx: Fixture, response: Any) -> None:
    """Assert that an aggregated ChatResponse matches the fixture's expected values."""
    exp = fx.expected
    assert response.content == exp["text"], fx.id
    assert response.raw_finish_reason == exp["finish_reason"], fx.id
    assert response.finish_reason == expected_finish_reason(fx), fx.id
    if exp.get("reasoning_text"):
        assert response.reasoning == exp["reasoning_text"], fx.id
    calls = exp.get("tool_calls") or []
    assert [c.name for c in response.tool_calls] == [c["name"] for c in calls], fx.id
    for ours, theirs in zip(response.tool_calls, calls):
        got = json.loads(ours.arguments) if ours.arguments else {}
        assert got == expected_arguments(theirs), fx.id
        if theirs.get("id"):
            assert ours.id == theirs["id"], fx.id
    usage = exp.get("usage")
    if usage:
        assert not response.usage.is_estimated, fx.id
        assert response.usage.completion_tokens == usage["output_tokens"], fx.id
        raw = usage.get("raw") or {}
        cache = (raw.get("cache_read_input_tokens") or 0) + (raw.get("cache_creation_input_tokens") or 0)
        assert response.usage.prompt_tokens == usage["input_tokens"] + cache, fx.id
        if usage.get("total_tokens") is not None:
            assert response.usage.total_tokens == usage["total_tokens"], fx.id
        else:
            assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def fold(driver: ProviderDriver, pieces: Iterable[bytes], spec: RequestSpec,
         ) -> tuple[ResponseAccumulator, list[StreamChunk], LLMError | None]:
    """Decode SSE ``pieces`` through ``driver``: (the chunks folded into an accumulator,
    the chunks, the LLMError that ended the stream or None)."""
    acc = ResponseAccumulator(provider=driver.name)
    chunks: list[StreamChunk] = []
    try:
        for chunk in driver.iter_chunks(iter_sse(pieces), spec):
            chunks.append(chunk)
            acc.add(chunk)
    except LLMError as exc:
        return acc, chunks, exc
    return acc, chunks, None
