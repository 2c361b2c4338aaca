"""Prompt and completion estimation, image tokens by each provider's rule, and the rules
that decide between the provider's report and an estimate."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest

from llm_connectivity.image_tokens import image_size, image_tokens
from llm_connectivity.models import ChatResponse, StreamChunk, ToolCall, ToolCallDelta, Usage
from llm_connectivity.tokens import CharacterEstimator, get_counter
from llm_connectivity.usage import (
    CONFIDENCE,
    UsageTracker,
    completion_tokens,
    confidence_for,
    final_usage,
    prompt_tokens,
)

EST = CharacterEstimator()


def png(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def data_url(data: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


@pytest.mark.parametrize(("data", "size"), [
    (png(1024, 768), (1024, 768)), (jpeg(640, 480), (640, 480)),
    (b"GIF89a" + struct.pack("<HH", 32, 16) + b"\x00" * 8, (32, 16)), (b"not an image", None),
])
def test_image_size(data: bytes, size: tuple[int, int] | None) -> None:
    assert image_size(data) == size


@pytest.mark.parametrize(("provider", "width", "height", "detail", "expected"), [
    ("openai", 1024, 1024, "high", 765),     # 768x768 -> 4 tiles
    ("openai", 1024, 1024, "low", 85),
    ("openai", 2048, 4096, "auto", 1105),    # 1024x2048 -> 768x1536 -> 6 tiles
    ("openai", 300, 200, "auto", 255),       # 1 tile
    ("anthropic", 1000, 1000, "auto", 1333),
    ("anthropic", 3136, 1568, "auto", 1639),  # scaled to 1568x784
    ("gemini", 300, 300, "auto", 258),
    ("gemini", 1000, 1000, "auto", 1032),    # 4 tiles of 768
])
def test_image_tokens_by_provider(provider: str, width: int, height: int, detail: str, expected: int) -> None:
    part = {"type": "image_url", "image_url": {"url": data_url(png(width, height)), "detail": detail}}
    assert image_tokens(part, provider) == expected


def test_anthropic_base64_image_and_linked_image_default() -> None:
    source = {"type": "base64", "media_type": "image/jpeg", "data": base64.b64encode(jpeg(750, 1000)).decode()}
    assert image_tokens({"type": "image", "source": source}, "anthropic") == 1000
    assert image_tokens({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}, "openai") == 765


def test_prompt_tokens_table() -> None:
    # 3 reply priming + per message 3 + role + content
    assert prompt_tokens("Hello there", counter=EST) == 3 + 3 + 1 + 2
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert prompt_tokens(messages, counter=EST) == 3 + (3 + 1 + 3) + (3 + 1 + 1)
    with_image = [{"role": "user", "content": [{"type": "text", "text": "Hi"},
                                               {"type": "image_url", "image_url": {"url": data_url(png(64, 64))}}]}]
    assert prompt_tokens(with_image, counter=EST, provider="openai") == 3 + 3 + 1 + 1 + 255
    assert prompt_tokens(with_image, counter=EST, provider="gemini") == 3 + 3 + 1 + 1 + 258
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    assert prompt_tokens("Hi", tools, counter=EST) > prompt_tokens("Hi", counter=EST) + 10
    history = [{"role": "assistant", "content": None,
                "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": '{"a": 1}'}}]}]
    assert prompt_tokens(history, counter=EST) == 3 + 3 + 1 + 1 + EST.count('{"a": 1}')


def test_completion_tokens_counts_text_reasoning_and_tool_calls() -> None:
    calls = [ToolCall(id="1", name="get_weather", arguments='{"city": "Paris"}')]
    expected = EST.count("It is") + EST.count("thinking") + EST.count("get_weather") + EST.count('{"city": "Paris"}')
    assert completion_tokens("It is", "thinking", calls, counter=EST) == expected


REPORTED = Usage(prompt_tokens=20, completion_tokens=9, total_tokens=29, raw={"x": 1})
EARLY = Usage(prompt_tokens=20, completion_tokens=1, total_tokens=21)  # Anthropic message_start


@pytest.mark.parametrize(("reported", "complete", "expected"), [
    (REPORTED, True, REPORTED),
    (REPORTED, False, REPORTED),  # the report already covers what arrived
    (EARLY, True, EARLY),
    (EARLY, False, Usage(prompt_tokens=20, completion_tokens=7, total_tokens=27, reasoning_tokens=2,
                         is_estimated=True, confidence=CONFIDENCE["partial"])),
    (None, True, Usage(prompt_tokens=12, completion_tokens=7, total_tokens=19, reasoning_tokens=2,
                       is_estimated=True, confidence=0.6)),
])
def test_final_usage_rules(reported: Usage | None, complete: bool, expected: Usage) -> None:
    usage = final_usage(reported, complete=complete, prompt=12, completion=7, reasoning=2, confidence=0.6)
    assert usage == expected


def test_tracker_counts_each_kind_of_output_and_keeps_the_last_report() -> None:
    tracker = UsageTracker(messages="Hi", model="anthropic/claude-sonnet-4-5", kind="character", running=True)
    assert tracker.prompt == prompt_tokens("Hi", counter=EST)
    tracker.add(StreamChunk(usage=Usage(prompt_tokens=40, completion_tokens=1, total_tokens=41)))
    tracker.add(StreamChunk(content="Hello world", reasoning="Let me think"))
    tracker.add(StreamChunk(tool_calls=(ToolCallDelta(index=0, id="a", name="lookup", arguments='{"q": '),)))
    tracker.add(StreamChunk(tool_calls=(ToolCallDelta(index=0, arguments='"x"}'),)))
    assert tracker.prompt_tokens == 40
    counted = EST.count("Hello world") + EST.count("Let me think") + EST.count(' lookup {"q": "x"}')
    assert abs(tracker.completion_tokens - counted) <= 1
    response = ChatResponse(content="Hello world", reasoning="Let me think",
                            tool_calls=[ToolCall(id="a", name="lookup", arguments='{"q": "x"}')])
    partial = tracker.usage(response, complete=False)
    assert (partial.prompt_tokens, partial.is_estimated, partial.confidence) == (40, True, CONFIDENCE["partial"])
    assert partial.completion_tokens == completion_tokens("Hello world", "Let me think", response.tool_calls,
                                                          counter=EST)
    tracker.add(StreamChunk(usage=Usage(prompt_tokens=40, completion_tokens=30, total_tokens=70)))
    final = tracker.usage(response, complete=True)
    assert (final.completion_tokens, final.is_estimated, final.confidence) == (30, False, 1.0)


def test_tracker_without_running_counts_nothing_until_the_end() -> None:
    tracker = UsageTracker(messages="Hi", model="openai/gpt-4o")
    tracker.add(StreamChunk(content="Hello world"))
    assert tracker.completion_tokens == 0
    usage = tracker.usage(ChatResponse(content="Hello world"), complete=True)
    assert (usage.completion_tokens, usage.is_estimated, usage.raw["estimated_by"]) == (2, True, "exact")


def test_confidence_reflects_the_method() -> None:
    assert confidence_for(get_counter("openai/gpt-4o", wait=True), "openai/gpt-4o") == CONFIDENCE["exact"]
    assert confidence_for(get_counter(kind="tiktoken"), "anthropic/claude-x") == CONFIDENCE["proxy"]
    assert confidence_for(EST, "openai/gpt-4o") == CONFIDENCE["estimate"]
    assert 0 < CONFIDENCE["estimate"] < CONFIDENCE["proxy"] < CONFIDENCE["exact"] < 1
