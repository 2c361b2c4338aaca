"""Provider registry: ``"provider/name"`` -> (driver, model name).

Built-in providers come from :mod:`llm_connectivity.providers.catalog`. Others register with
:func:`register_provider` or through the ``llm_connectivity.providers`` entry point group
(an entry point names a zero-argument factory returning a driver); entry points are read
only when a name is not already known, so they cost nothing at import time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .errors import ConfigurationError
from .providers.base import ProviderDriver
from .providers.catalog import BUILTIN_FACTORIES

__all__ = ["ENTRY_POINT_GROUP", "known_providers", "register_provider", "resolve_driver", "split_model"]

ENTRY_POINT_GROUP = "llm_connectivity.providers"

logger = logging.getLogger("llm_connectivity")

DriverFactory = Callable[[], ProviderDriver]

_factories: dict[str, DriverFactory] = dict(BUILTIN_FACTORIES)
_drivers: dict[str, ProviderDriver] = {}
_lock = threading.RLock()  # re-entrant: a plugin may register providers while it loads
_entry_points_loaded = False


def register_provider(name: str, factory: DriverFactory | ProviderDriver, *, replace: bool = False) -> None:
    """Register a driver (or a zero-argument factory returning one) under ``name``.

    Raises ConfigurationError if ``name`` is taken, unless ``replace=True``.
    """
    if not isinstance(name, str):
        raise ConfigurationError(f"provider name must be a string, got {type(name).__name__}")
    if not name or "/" in name:
        raise ConfigurationError(f"provider name {name!r} must be non-empty and contain no '/'")
    name = name.lower()  # model strings are matched case-insensitively
    if not isinstance(factory, ProviderDriver) and not callable(factory):
        raise ConfigurationError(
            f"register_provider({name!r}, ...) needs a ProviderDriver or a zero-argument factory returning one, "
            f"got {type(factory).__name__}"
        )
    with _lock:
        if name in _factories and not replace:
            raise ConfigurationError(f"provider {name!r} is already registered; pass replace=True to override it")
        if isinstance(factory, ProviderDriver):
            driver = factory
            _factories[name] = lambda: driver
        else:
            _factories[name] = factory
        _drivers.pop(name, None)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            _factories.setdefault(ep.name.lower(), ep.load())
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not hide the others
            logger.warning("could not load provider plugin %r (%s): %s", ep.name, ep.value, exc)


def known_providers() -> list[str]:
    """Names of every registered provider (entry points included), sorted."""
    with _lock:
        _load_entry_points()
        return sorted(_factories)


def split_model(model: str) -> tuple[str, str]:
    """Split ``"provider/name"`` (the name may contain further slashes)."""
    if not isinstance(model, str):
        raise ConfigurationError(
            f"model must be a string like 'openai/gpt-4o-mini', got {type(model).__name__}. "
            f"Known providers: {', '.join(known_providers())}"
        )
    provider, sep, name = model.strip().partition("/")
    if not sep or not provider or not name:
        raise ConfigurationError(
            f"model {model!r} must be 'provider/model-name', e.g. 'openai/gpt-4o-mini' or "
            f"'anthropic/claude-sonnet-4-5'. Known providers: {', '.join(known_providers())}"
        )
    return provider.lower(), name


def resolve_driver(provider: str) -> ProviderDriver:
    """Return the (shared, stateless) driver registered as ``provider``."""
    driver = _drivers.get(provider)
    if driver is not None:
        return driver
    with _lock:
        if provider not in _factories:
            _load_entry_points()
        factory = _factories.get(provider)
        if factory is None:
            raise ConfigurationError(
                f"unknown provider {provider!r}. Known providers: {', '.join(sorted(_factories))}. "
                "Use 'openai-compatible/<model>' with base_url=... for any other OpenAI-compatible "
                "server, or register one with llm_connectivity.register_provider()"
            )
        driver = factory()
        if not isinstance(driver, ProviderDriver):
            raise ConfigurationError(f"the factory registered for provider {provider!r} returned "
                                     f"{type(driver).__name__}, not a ProviderDriver", provider=provider)
        _drivers[provider] = driver
        return driver
