"""Provider registry: model strings, registration, entry points."""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from llm_connectivity import registry
from llm_connectivity.errors import ConfigurationError
from llm_connectivity.providers.anthropic import AnthropicDriver
from llm_connectivity.providers.base import ProviderDriver
from llm_connectivity.providers.openai import OpenAIDriver
from llm_connectivity.registry import (
    ENTRY_POINT_GROUP,
    known_providers,
    register_provider,
    resolve_driver,
    split_model,
)

BUILTINS = {"openai", "anthropic", "gemini", "google", "xai", "openrouter", "groq", "together", "deepseek",
            "mistral", "fireworks", "perplexity", "ollama", "lmstudio", "vllm", "openai-compatible"}


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Restore the registry's global tables (and the entry-point flag) after the test."""
    factories = dict(registry._factories)
    drivers = dict(registry._drivers)
    loaded = registry._entry_points_loaded
    yield
    registry._factories.clear()
    registry._factories.update(factories)
    registry._drivers.clear()
    registry._drivers.update(drivers)
    registry._entry_points_loaded = loaded


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, eps: list[Any]) -> list[str]:
    """Make importlib.metadata.entry_points return ``eps`` for our group; record each query."""
    calls: list[str] = []

    def fake(*, group: str | None = None, **kwargs: Any) -> list[Any]:
        calls.append(str(group))
        return list(eps) if group == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    return calls


def _ep(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


class _UTDriver(ProviderDriver):
    name = "ut-driver"
    requires_api_key = False
    default_base_url = "https://ut.invalid/v1"


# -- split_model ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "expected"), [
    ("openrouter/meta-llama/llama-3.1-8b", ("openrouter", "meta-llama/llama-3.1-8b")),
    ("openai/gpt-4o-mini", ("openai", "gpt-4o-mini")),
    ("OpenAI/GPT-4o", ("openai", "GPT-4o")),
    ("  anthropic/claude-sonnet-4-5  ", ("anthropic", "claude-sonnet-4-5")),
    ("gemini/models/gemini-2.0-flash", ("gemini", "models/gemini-2.0-flash")),
])
def test_split_model(model: str, expected: tuple[str, str]) -> None:
    assert split_model(model) == expected


@pytest.mark.parametrize("model", ["nonsense", "/x", "openai/", "", "/", "   "])
def test_split_model_malformed_lists_known_providers(model: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        split_model(model)
    message = str(info.value)
    assert "provider/model-name" in message
    assert "Known providers:" in message
    for name in ("openai", "anthropic", "gemini", "openai-compatible"):
        assert name in message


@pytest.mark.parametrize("model", [None, 123, b"openai/gpt", ["openai", "gpt"]])
def test_split_model_non_string(model: object) -> None:
    with pytest.raises(ConfigurationError, match="must be a string"):
        split_model(model)  # type: ignore[arg-type]


def test_split_model_non_string_lists_known_providers() -> None:
    """Regression: the non-str error omitted the known-provider list."""
    with pytest.raises(ConfigurationError, match="Known providers:"):
        split_model(123)  # type: ignore[arg-type]


# -- resolve / known -------------------------------------------------------------------------------


def test_known_providers_has_builtins_sorted() -> None:
    names = known_providers()
    assert BUILTINS <= set(names)
    assert names == sorted(names)


def test_resolve_builtin_drivers() -> None:
    openai = resolve_driver("openai")
    assert isinstance(openai, OpenAIDriver) and openai.name == "openai"
    assert resolve_driver("openai") is openai  # shared, built once
    assert isinstance(resolve_driver("anthropic"), AnthropicDriver)
    for name in BUILTINS:
        assert resolve_driver(name).name == name


def test_unknown_provider_message() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_driver("nope-ut")
    message = str(info.value)
    assert "'nope-ut'" in message
    assert "Known providers:" in message
    assert "openai-compatible" in message
    for name in BUILTINS:
        assert name in message
    assert "register_provider" in message


# -- register_provider -------------------------------------------------------------------------------


def test_register_factory(clean_registry: None) -> None:
    built: list[ProviderDriver] = []

    def factory() -> ProviderDriver:
        built.append(_UTDriver())
        return built[-1]

    register_provider("ut-factory", factory)
    assert built == []  # lazy
    assert "ut-factory" in known_providers()
    driver = resolve_driver("ut-factory")
    assert driver is built[0]
    assert resolve_driver("ut-factory") is driver
    assert len(built) == 1
    assert split_model("ut-factory/some/model") == ("ut-factory", "some/model")


def test_register_driver_instance(clean_registry: None) -> None:
    driver = _UTDriver()
    register_provider("ut-instance", driver)
    assert resolve_driver("ut-instance") is driver


def test_register_duplicate_requires_replace(clean_registry: None) -> None:
    first, second = _UTDriver(), _UTDriver()
    register_provider("ut-dup", first)
    assert resolve_driver("ut-dup") is first
    with pytest.raises(ConfigurationError, match="already registered"):
        register_provider("ut-dup", second)
    assert resolve_driver("ut-dup") is first
    register_provider("ut-dup", second, replace=True)
    assert resolve_driver("ut-dup") is second  # cached driver dropped


def test_register_cannot_shadow_builtin_without_replace(clean_registry: None) -> None:
    with pytest.raises(ConfigurationError, match="already registered"):
        register_provider("openai", _UTDriver())
    assert isinstance(resolve_driver("openai"), OpenAIDriver)


@pytest.mark.parametrize("name", ["ut/slash", "/", "", "ut/"])
def test_register_rejects_bad_names(clean_registry: None, name: str) -> None:
    with pytest.raises(ConfigurationError, match="provider name"):
        register_provider(name, _UTDriver())
    assert name not in registry._factories


def test_register_mixed_case_name_is_reachable(clean_registry: None) -> None:
    # Regression: names used to be stored as given while split_model lowercases the provider.
    driver = _UTDriver()
    register_provider("UTMixed", driver)
    provider, _ = split_model("UTMixed/some-model")
    assert resolve_driver(provider) is driver
    with pytest.raises(ConfigurationError, match="already registered"):
        register_provider("OpenAI", _UTDriver())  # case-insensitive clash with the builtin


def test_register_rejects_non_callable(clean_registry: None) -> None:
    """Regression: a non-callable factory failed later, as TypeError, in resolve_driver."""
    with pytest.raises(ConfigurationError):
        register_provider("ut-notcallable", "not a factory")  # type: ignore[arg-type]


# -- entry points ---------------------------------------------------------------------------------


def test_entry_point_resolves(clean_registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, [_ep("ut-ep-anthropic", "llm_connectivity.providers.anthropic:AnthropicDriver")])
    driver = resolve_driver("ut-ep-anthropic")
    assert isinstance(driver, AnthropicDriver)
    assert "ut-ep-anthropic" in known_providers()
    assert split_model("ut-ep-anthropic/claude") == ("ut-ep-anthropic", "claude")


def test_entry_point_listed_by_known_providers(clean_registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_entry_points(monkeypatch, [_ep("ut-ep-listed", "llm_connectivity.providers.anthropic:AnthropicDriver")])
    assert "ut-ep-listed" in known_providers()
    known_providers()
    assert calls == [ENTRY_POINT_GROUP]  # read once


def test_entry_points_not_read_for_known_names(clean_registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    registry._drivers.pop("anthropic", None)
    calls = _fake_entry_points(monkeypatch, [])
    assert isinstance(resolve_driver("anthropic"), AnthropicDriver)
    assert calls == []


def test_entry_point_cannot_shadow_builtin(clean_registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    registry._drivers.pop("openai", None)
    _fake_entry_points(monkeypatch, [_ep("openai", "llm_connectivity.providers.anthropic:AnthropicDriver")])
    known_providers()
    assert isinstance(resolve_driver("openai"), OpenAIDriver)


def test_unknown_after_entry_points_still_configuration_error(clean_registry: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_entry_points(monkeypatch, [])
    with pytest.raises(ConfigurationError, match="unknown provider"):
        resolve_driver("ut-missing")
    assert calls == [ENTRY_POINT_GROUP]


def test_broken_entry_point_does_not_break_others(clean_registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, [
        _ep("ut-ep-broken", "llm_connectivity_ut_no_such_module:factory"),
        _ep("ut-ep-good", "llm_connectivity.providers.anthropic:AnthropicDriver"),
    ])
    # Regression: a plugin whose load() raised used to escape and hide every later plugin.
    assert isinstance(resolve_driver("ut-ep-good"), AnthropicDriver)
    assert "ut-ep-good" in known_providers()
    assert "ut-ep-broken" not in known_providers()
    with pytest.raises(ConfigurationError, match="unknown provider"):
        resolve_driver("ut-ep-broken")


def test_entry_point_that_self_registers_does_not_deadlock(clean_registry: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the registry lock was non-reentrant; a self-registering plugin deadlocked."""
    # A private lock: if the thread deadlocks, it is stuck on this one, not on the real one.
    rlock_type = type(threading.RLock())
    private = threading.RLock() if isinstance(registry._lock, rlock_type) else threading.Lock()
    monkeypatch.setattr(registry, "_lock", private)

    class SelfRegistering:
        name = "ut-ep-selfreg"

        def load(self) -> Any:
            register_provider("ut-ep-selfreg-extra", _UTDriver())
            return _UTDriver

    _fake_entry_points(monkeypatch, [SelfRegistering()])
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(driver=resolve_driver("ut-ep-selfreg")), daemon=True)
    worker.start()
    worker.join(2.0)
    assert not worker.is_alive(), "resolve_driver deadlocked"
    assert isinstance(result.get("driver"), _UTDriver)


def test_a_provider_name_that_is_not_a_string_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="provider name must be a string, got int"):
        register_provider(5, ProviderDriver)  # type: ignore[arg-type]


def test_a_factory_that_returns_no_driver_is_named_when_the_provider_is_used() -> None:
    register_provider("returns-int", lambda: 5, replace=True)  # type: ignore[arg-type, return-value]
    with pytest.raises(ConfigurationError) as info:
        resolve_driver("returns-int")
    assert str(info.value) == ("the factory registered for provider 'returns-int' returned int, not a "
                               "ProviderDriver")
