"""Shared helpers for the cassette tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_connectivity import LLMClient
from llm_connectivity.errors import LLMError

KEY = "sk-test-cassette-SECRET-0123456789"
DEAD = "http://127.0.0.1:9/v1"  # nothing listens there: replays must not need a server


def openai_client(base_url: str = DEAD, **options: Any) -> LLMClient:
    """An OpenAI client with the test key and no retries (unless ``options`` say otherwise)."""
    options.setdefault("max_retries", 0)
    return LLMClient("openai/gpt-4o-mini", base_url=base_url, api_key=KEY, **options)


def record_chats(path: Path, answers: dict[str, str]) -> None:
    """Record one chat per prompt in ``answers`` (answered in order) into the cassette ``path``."""
    from llm_connectivity.testing import FakeLLMServer, cassette

    with FakeLLMServer() as server:
        server.add_replies(list(answers.values()))
        with cassette(path):
            for prompt in answers:
                openai_client(server.base_url).chat(prompt)


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
