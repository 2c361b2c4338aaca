"""The custom-provider tutorial (docs/providers.md) and its code, examples/custom_provider.py.

The driver is imported from the example file itself, so the tutorial cannot rot: these
tests register it, stream through LLMClient against FakeLLMServer, and check usage,
errors, and that the doc still shows the file verbatim. Each test registers the driver
under its own name (there is no unregister), so no test depends on another's registry state.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from llm_connectivity import (
    ConfigurationError,
    LLMClient,
    MissingAPIKeyError,
    RateLimitError,
    StreamInterruptedError,
    register_provider,
)
from llm_connectivity import provider_api
from llm_connectivity.providers.catalog import BUILTIN_FACTORIES
from llm_connectivity.registry import resolve_driver
from llm_connectivity.testing import FakeLLMServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "custom_provider.py"
DOC = ROOT / "docs" / "providers.md"
_names = itertools.count()


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_custom_provider_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()
ToyLLMDriver = example.ToyLLMDriver


@pytest.fixture
def provider() -> str:
    """A fresh provider name with the ToyLLM driver registered under it."""
    name = f"toytest{next(_names)}"
    register_provider(name, ToyLLMDriver, replace=True)
    return name


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as srv:
        yield srv


def _client(provider: str, server: FakeLLMServer, **kwargs: Any) -> LLMClient:
    kwargs.setdefault("api_key", "toy-key")
    return LLMClient(f"{provider}/tiny", base_url=server.base_url, **kwargs)


def test_registration_is_listed_and_guarded(provider: str) -> None:
    assert provider in LLMClient.providers()
    with pytest.raises(ConfigurationError, match="already registered"):
        register_provider(provider, ToyLLMDriver)
    register_provider(provider, ToyLLMDriver(), replace=True)  # an instance works as well as a factory
    assert provider in LLMClient.providers()


def test_streams_tokens_through_llmclient(provider: str, server: FakeLLMServer) -> None:
    server.add_raw(example.toy_stream(["Hel", "lo", "!"], {"input": 2, "output": 3}), pieces=[7, 11, 5])
    with _client(provider, server) as client, client.chat_stream("Hi", max_tokens=8, temperature=0.5) as stream:
        chunks = list(stream)
    assert [c.content for c in chunks if c.content] == ["Hel", "lo", "!"]
    assert chunks[-1].is_complete and chunks[-1].finish_reason is None  # set on exactly one chunk
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    response = stream.response
    assert stream.is_complete
    assert (response.content, response.finish_reason, response.provider) == ("Hello!", "stop", provider)

    sent = server.requests[-1]
    assert sent.method == "POST" and sent.path == "/v1/messages"
    assert sent.headers["authorization"] == "Toy toy-key"
    assert sent.json == {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "stream": True,
                         "max_new_tokens": 8, "temperature": 0.5}


def test_usage_comes_from_the_done_event(provider: str, server: FakeLLMServer) -> None:
    server.add_raw(example.toy_stream(["a", "b"], {"input": 11, "output": 2}))
    with _client(provider, server) as client:
        stream = client.chat_stream("Hi")
        assert stream.text() == "ab"
    usage = stream.response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (11, 2, 13)
    assert not usage.is_estimated and usage.raw == {"input": 11, "output": 2}


def test_done_without_usage_falls_back_to_an_estimate(provider: str, server: FakeLLMServer) -> None:
    server.add_raw(b'data: {"token": "hello world"}\n\ndata: {"done": true, "reason": "length"}\n\n')
    with _client(provider, server) as client:
        stream = client.chat_stream("Hi")
        stream.text()
    assert stream.response.finish_reason == "length"
    assert stream.response.usage.is_estimated


def test_non_streaming_chat_uses_parse_response(provider: str, server: FakeLLMServer) -> None:
    body = {"text": "Whole answer", "reason": "stop", "usage": {"input": 4, "output": 2}}
    server.add_raw(json.dumps(body).encode(), content_type="application/json")
    with _client(provider, server) as client:
        response = client.chat("Hi")
    assert (response.content, response.finish_reason, response.usage.total_tokens) == ("Whole answer", "stop", 6)
    assert server.requests[-1].json["stream"] is False


def test_in_band_error_raises_the_typed_error(provider: str, server: FakeLLMServer) -> None:
    server.add_raw(b'data: {"token": "par"}\n\n'
                   b'data: {"error": {"type": "rate_limit_error", "message": "slow down"}}\n\n')
    with _client(provider, server, max_retries=0) as client:
        stream = client.chat_stream("Hi")
        with pytest.raises(RateLimitError, match="slow down") as info:
            stream.text()
    assert info.value.partial_response.content == "par"


def test_http_error_status_raises_the_typed_error(provider: str, server: FakeLLMServer) -> None:
    error = {"error": {"type": "rate_limit_error", "message": "too many"}}
    server.add_raw(json.dumps(error).encode(), content_type="application/json", status=429)
    with _client(provider, server, max_retries=0) as client, pytest.raises(RateLimitError, match="too many"):
        client.chat_stream("Hi").text()


def test_truncated_stream_is_interrupted(provider: str, server: FakeLLMServer) -> None:
    server.add_raw(b'data: {"token": "cut"}\n\n')
    with _client(provider, server, max_retries=0) as client:
        stream = client.chat_stream("Hi")
        with pytest.raises(StreamInterruptedError, match="done event"):
            stream.text()
    assert not stream.is_complete


def test_missing_key_names_the_driver_variable(provider: str) -> None:
    with pytest.raises(MissingAPIKeyError, match="TOYLLM_API_KEY") as info:
        LLMClient(f"{provider}/tiny", base_url="http://127.0.0.1:9/v1")
    assert info.value.env_var == "TOYLLM_API_KEY"


def test_base_url_env_and_default(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert LLMClient(f"{provider}/tiny", api_key="k").target.base_url == ToyLLMDriver.default_base_url
    monkeypatch.setenv("TOYLLM_BASE_URL", "http://127.0.0.1:9/toy")
    assert LLMClient(f"{provider}/tiny", api_key="k").target.base_url == "http://127.0.0.1:9/toy"


def test_unknown_provider_still_raises(provider: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown provider 'no-such-toy'") as info:
        LLMClient("no-such-toy/tiny", api_key="k")
    assert "register_provider" in str(info.value)
    assert provider in str(info.value)  # the message lists registered providers too


def test_responses_api_is_refused_for_a_custom_driver(provider: str) -> None:
    with pytest.raises(ConfigurationError, match="no 'responses' API"):
        LLMClient(f"{provider}/tiny", api_key="k", api="responses")


def test_example_main_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert example.main() == 0
    out = capsys.readouterr().out
    assert "Hello from ToyLLM!" in out and "total=7" in out


def test_tutorial_shows_the_example_verbatim() -> None:
    code = EXAMPLE.read_text(encoding="utf-8")
    doc = DOC.read_text(encoding="utf-8")
    assert f"```python\n{code}```" in doc, "docs/providers.md must include examples/custom_provider.py verbatim"


def test_provider_table_lists_every_builtin_provider() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for name in BUILTIN_FACTORIES:
        driver = resolve_driver(name)
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{name}/` |")), None)
        assert row is not None, f"docs/providers.md has no table row for {name!r}"
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert all(f"`{var}`" in cells[1] for var in driver.api_key_env), (name, cells[1])
        assert ("(optional)" in cells[1]) == (not driver.requires_api_key), (name, cells[1])
        assert cells[2] == f"`{driver.base_url_env}`", (name, cells[2])
        expected_url = f"`{driver.default_base_url}`" if driver.default_base_url else "none: **required**"
        assert cells[3] == expected_url, (name, cells[3])


# -- the declared plugin API stays in sync with its docs and the example ------------------------
def _documented_plugin_names() -> list[str]:
    doc = DOC.read_text(encoding="utf-8")
    section = doc.split("### The plugin API: `llm_connectivity.provider_api`", 1)[1].split("\n#", 1)[0]
    return [m.group(1) for m in re.finditer(r"^\| `([A-Za-z_]+)` \|", section, re.M)]


def _example_imports() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level, inside-functions) ``from X import names`` of the example, by module."""
    tree = ast.parse(EXAMPLE.read_text(encoding="utf-8"))
    top: dict[str, set[str]] = {}
    nested: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (top if node in tree.body else nested).setdefault(alias.name, set())
        elif isinstance(node, ast.ImportFrom) and node.module:
            target = top if node in tree.body else nested
            target.setdefault(node.module, set()).update(a.name for a in node.names)
    return top, nested


def test_plugin_api_all_is_sorted_and_every_name_resolves() -> None:
    names = provider_api.__all__
    assert names == sorted(set(names))
    assert all(getattr(provider_api, name, None) is not None for name in names)


def test_plugin_api_docs_table_lists_exactly_all() -> None:
    documented = _documented_plugin_names()
    assert len(documented) == len(set(documented)), "a name is documented twice"
    assert sorted(documented) == sorted(provider_api.__all__)


def test_example_driver_imports_only_the_plugin_api() -> None:
    top, nested = _example_imports()
    ours = {m for m in (*top, *nested) if m.split(".")[0] == "llm_connectivity"}
    assert {m for m in top if m.split(".")[0] == "llm_connectivity"} == {"llm_connectivity.provider_api"}
    assert top["llm_connectivity.provider_api"] <= set(provider_api.__all__)
    # main() only *uses* the driver: the client and the local fake server
    assert ours - {"llm_connectivity.provider_api"} == {"llm_connectivity", "llm_connectivity.testing"}
    assert nested["llm_connectivity"] == {"LLMClient"} and nested["llm_connectivity.testing"] == {"FakeLLMServer"}


def test_a_catalog_row_is_a_whole_openai_compatible_provider(server: FakeLLMServer) -> None:
    name = f"rowtest{next(_names)}"
    row = provider_api.CompatibleProvider(name, server.base_url, (f"{name.upper()}_API_KEY",),
                                          extra_headers=(("X-Org", "research"),))
    register_provider(name, lambda: provider_api.compatible_driver(row))
    server.add_reply("chat answer")
    server.add_reply("responses answer")
    with LLMClient(f"{name}/m", api_key="k") as chat, LLMClient(f"{name}/m", api_key="k", api="responses") as resp:
        assert chat.chat_stream("hi").text() == "chat answer"
        assert resp.chat_stream("hi").text() == "responses answer"
    assert [r.path for r in server.requests] == ["/v1/chat/completions", "/v1/responses"]
    assert [r.headers.get("x-org") for r in server.requests] == ["research", "research"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
