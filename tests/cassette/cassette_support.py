"""Shared helpers for the cassette tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_connectivity import LLMClient
from llm_connectivity.errors import LLMError

KEY = "sk-test-cassette-SECRET-0123456789"


@dataclass
class Run:
    """What a user sees from one streamed chat: chunks, times, final response or error."""

    contents: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    text: str = ""
    usage: Any = None
    error: LLMError | None = None

    @property
    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.times, self.times[1:])]


def stream(client: LLMClient, prompt: str, **params: Any) -> Run:
    run = Run()
    try:
        with client.chat_stream(prompt, **params) as chunks:
            for chunk in chunks:
                run.contents.append(chunk.content)
                run.times.append(time.monotonic())
            run.text, run.usage = chunks.response.content, chunks.response.usage
    except LLMError as exc:
        run.error = exc
        run.text = exc.partial_response.content if exc.partial_response is not None else ""
    return run


def files_of(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}
