"""Shared fixtures of the usage/cost/events/JSON suite: a loopback FakeLLMServer and clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.testing import FakeLLMServer


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def make_client(server: FakeLLMServer) -> Iterator[Any]:
    clients: list[LLMClient] = []

    def make(model: str = "openai/gpt-4o-mini", **kwargs: Any) -> LLMClient:
        kwargs.setdefault("max_retries", 0)
        client = LLMClient(model, base_url=server.base_url, api_key="test-key", timeout=10.0, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
