"""docs/configuration.md's table of limits states the library's real defaults."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from llm_connectivity import LLMClient, StreamingOptions
from llm_connectivity import engine, sse
from llm_connectivity.errors import DEFAULT_MAX_RETRY_AFTER
from llm_connectivity.retry import RetryPolicy

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
_UNITS = {"s": 1, "KiB": 1024, "MiB": 1024 * 1024}


def _table() -> dict[str, str]:
    text = DOC.read_text().split("## Limits", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (.+?) \| (.+?) \| .+ \|$", text, re.MULTILINE)
    return {name.strip(): value.strip() for name, value in rows[2:] if not set(name) <= {"-", " "}}


def _value(cell: str) -> float | None:
    if cell.startswith("`None`"):
        return None
    number, _, unit = cell.partition(" ")
    return float(number) * _UNITS.get(unit, 1)


def test_the_limits_table_matches_the_code() -> None:
    options = StreamingOptions()
    client_defaults = inspect.signature(LLMClient.__init__).parameters
    actual = {
        "`connection_timeout`": options.connection_timeout, "`read_timeout`": options.read_timeout,
        "`content_idle_timeout`": options.content_idle_timeout, "`total_timeout`": options.total_timeout,
        "`max_retries` (client)": client_defaults["max_retries"].default,
        "`max_retry_after` (RetryPolicy)": RetryPolicy().max_retry_after,
        "`max_reconnect_attempts`": options.max_reconnect_attempts, "`reconnect_delay`": options.reconnect_delay,
        "`max_cost_usd`": options.max_cost_usd, "`budget_usd` (client)": client_defaults["budget_usd"].default,
        "`max_concurrency` (client)": client_defaults["max_concurrency"].default,
        "error body read": engine._MAX_ERROR_BODY, "non-streamed body": engine._MAX_JSON_BODY,
        "SSE line": sse.DEFAULT_MAX_LINE_BYTES,
    }
    table = _table()
    assert set(table) == set(actual)
    assert {name: _value(cell) for name, cell in table.items()} == actual
    assert RetryPolicy().max_retry_after == DEFAULT_MAX_RETRY_AFTER
