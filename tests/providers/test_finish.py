"""The one finish-reason policy (providers/finish.py): one exact table per driver, each row
checked through the driver's real stream path, and the same answer for an unknown value
("stop", raw value kept) from every driver."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from llm_connectivity.providers.anthropic import AnthropicDriver
from llm_connectivity.providers.base import ProviderDriver
from llm_connectivity.providers.catalog import OPENAI_COMPATIBLE, compatible_driver
from llm_connectivity.providers.gemini import GeminiDriver
from llm_connectivity.request import RequestSpec
from llm_connectivity.sse import SSEEvent

SPEC = RequestSpec("m", [{"role": "user", "content": "hi"}])
OPENAI_ROW = OPENAI_COMPATIBLE[0]


def _openai(raw: Any) -> list[dict[str, Any]]:
    return [{"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": raw}]}]


def _anthropic(raw: Any) -> list[dict[str, Any]]:
    return [{"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 1}}},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "a"}},
            {"type": "message_delta", "delta": {"stop_reason": raw}, "usage": {"output_tokens": 1}},
            {"type": "message_stop"}]


def _gemini(raw: Any) -> list[dict[str, Any]]:
    return [{"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": raw}]}]


def _responses(raw: Any) -> list[dict[str, Any]]:
    status, _, reason = str(raw).partition(":")
    response: dict[str, Any] = {"status": status}
    if reason:
        response["incomplete_details"] = {"reason": reason}
    return [{"type": "response.output_text.delta", "delta": "a"}, {"type": "response.completed", "response": response}]


DRIVERS: dict[str, tuple[Callable[[], ProviderDriver], Callable[[Any], list[dict[str, Any]]]]] = {
    "openai": (lambda: compatible_driver(OPENAI_ROW), _openai),
    "anthropic": (AnthropicDriver, _anthropic),
    "gemini": (GeminiDriver, _gemini),
    "responses": (lambda: compatible_driver(OPENAI_ROW, "responses"), _responses),
}


def finish_of(name: str, raw: Any) -> tuple[str | None, str | None]:
    """(finish_reason, raw_finish_reason) of the last chunk of a minimal stream ending in ``raw``."""
    make, events = DRIVERS[name]
    stream = [SSEEvent(data=json.dumps(e)) for e in events(raw)]
    last = list(make().iter_chunks(stream, SPEC))[-1]
    return last.finish_reason, last.raw_finish_reason


TABLES: dict[str, list[tuple[str, str]]] = {
    "openai": [
        ("stop", "stop"), ("length", "length"), ("tool_calls", "tool_calls"), ("function_call", "tool_calls"),
        ("content_filter", "content_filter"), ("end_turn", "stop"), ("eos", "stop"), ("eos_token", "stop"),
        ("stop_sequence", "stop"), ("max_tokens", "length"), ("model_length", "length"),
        ("tool_use", "tool_calls"), ("refusal", "content_filter"), ("safety", "content_filter"),
        ("error", "error"), ("abort", "error"), ("insufficient_system_resource", "error"), ("STOP", "stop"),
        ("Length", "length"), ("something_new", "stop"),
    ],
    "anthropic": [
        ("end_turn", "stop"), ("stop_sequence", "stop"), ("pause_turn", "stop"), ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter"),
        ("something_new", "stop"),
    ],
    "gemini": [
        ("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"), ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"), ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
        ("IMAGE_RECITATION", "content_filter"), ("LANGUAGE", "content_filter"), ("OTHER", "error"),
        ("MALFORMED_FUNCTION_CALL", "error"), ("UNEXPECTED_TOOL_CALL", "error"), ("TOO_MANY_TOOL_CALLS", "error"),
        ("FINISH_REASON_UNSPECIFIED", "error"), ("IMAGE_OTHER", "error"), ("NO_IMAGE", "error"),
        ("MISSING_THOUGHT_SIGNATURE", "error"), ("stop", "stop"), ("SOMETHING_NEW", "stop"),
    ],
    "responses": [
        ("completed", "stop"), ("incomplete:max_output_tokens", "length"),
        ("incomplete:content_filter", "content_filter"), ("incomplete:something_new", "length"),
        ("cancelled", "error"), ("something_new", "stop"),
    ],
}
ROWS = [(name, raw, expected) for name, rows in TABLES.items() for raw, expected in rows]


@pytest.mark.parametrize(("name", "raw", "expected"), ROWS)
def test_finish_reason_table(name: str, raw: str, expected: str) -> None:
    finish, raw_finish = finish_of(name, raw)
    assert finish == expected
    assert raw_finish == raw.partition(":")[0]


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_unknown_value_is_stop_for_every_driver_and_keeps_the_raw_value(name: str) -> None:
    assert finish_of(name, "brand_new_reason_2031") == ("stop", "brand_new_reason_2031")


@pytest.mark.parametrize("name", ["openai", "anthropic", "gemini"])
def test_a_non_string_reason_is_kept_as_its_text(name: str) -> None:
    assert finish_of(name, 7) == ("stop", "7")
