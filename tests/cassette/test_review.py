"""Regressions found by the fresh-eyes review of the cassette recorder (issue 18)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from cassette_support import KEY

from llm_connectivity import LLMClient
from llm_connectivity.errors import ConfigurationError, StreamInterruptedError
from llm_connectivity.testing import FakeLLMServer, cassette
from llm_connectivity.testing.cassette import CassetteError, load_cassette

DEAD = "http://127.0.0.1:9/v1"


def _client(base_url: str = DEAD, **options: object) -> LLMClient:
    options.setdefault("max_retries", 0)
    return LLMClient("openai/gpt-4o-mini", base_url=base_url, api_key=KEY, **options)  # type: ignore[arg-type]


def test_a_stream_the_caller_closed_is_recorded_as_unfinished_not_as_a_server_fault(tmp_path: Path) -> None:
    path = tmp_path / "closed"
    with FakeLLMServer() as server:
        server.add_reply("one two three four five", delay=0.2)
        with cassette(path):
            chunks = _client(server.base_url).chat_stream("go")
            seen = []
            with pytest.raises(StreamInterruptedError, match="closed by the caller"):
                for chunk in chunks:
                    if chunk.content:
                        seen.append(chunk.content)
                    if len(seen) == 2:  # a read is now waiting for " three": close it from elsewhere
                        threading.Timer(0.05, chunks.close).start()
    [item] = load_cassette(path)
    assert seen == ["one", " two"]
    assert (item.error, item.complete) == (None, False)  # the server never broke anything
    with cassette(path, mode="none", speed=0), pytest.raises(CassetteError, match="stops after 3 body pieces"):
        for _ in _client().chat_stream("go"):  # reads on: the recording cannot say what came next
            pass


def test_a_client_side_configuration_error_is_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "misconfigured"
    with FakeLLMServer() as server:
        server.add_reply("the answer")
        with_password = server.base_url.replace("http://", "http://bob:hunter2-password@")
        with cassette(path) as cas, pytest.raises(ConfigurationError, match="carries credentials"):
            _client(with_password).chat("Hi")  # userinfo and an api_key: refused before any I/O
        assert not path.exists() and cas.recorded == []
        with cassette(path):  # fixed: this run records the real answer
            assert _client(server.base_url).chat("Hi").content == "the answer"
    with cassette(path, mode="none", speed=0):
        assert _client().chat("Hi").content == "the answer"
