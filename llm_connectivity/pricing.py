"""Cost in US dollars from usage: ``genai-prices`` tables (offline) plus your own prices.

Prices come from the ``genai-prices`` package, imported on first use (about 0.13 s, once
per process) and used offline: its bundled snapshot only, never its auto-updater, so no
network access ever happens. Cached input, cache writes and reasoning are priced as the
provider prices them (Anthropic cache writes from ``cache_creation_input_tokens``, the
one-hour ones from ``cache_creation.ephemeral_1h_input_tokens`` at their own price;
Gemini's thinking tokens billed as output; long-context tiers honoured).

``Pricing({"openai/my-ft": {"input": 0.3, "output": 1.2}})`` adds or overrides prices, in
USD per million tokens (keys ``input``, ``output``, optional ``cached_input``,
``cache_write``, ``reasoning``). A model with no known price costs ``None`` (and a debug
log line), never a guess.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError
from .models import Usage

__all__ = ["ModelPrice", "Pricing", "cost_usd", "default_pricing"]

logger = logging.getLogger("llm_connectivity")

# llm_connectivity provider name -> genai-prices provider id (None: self-hosted, no price).
_PROVIDER_IDS: dict[str, str | None] = {
    "openai": "openai", "anthropic": "anthropic", "gemini": "google", "google": "google", "xai": "x-ai",
    "groq": "groq", "deepseek": "deepseek", "mistral": "mistral", "openrouter": "openrouter",
    "perplexity": "perplexity", "together": "together", "fireworks": "fireworks", "cerebras": "cerebras",
    "zai": "zai", "vllm": None, "ollama": None, "lmstudio": None, "openai-compatible": None,
}
_PER_MILLION = 1_000_000
_KEYS = ("input", "output", "cached_input", "cache_write", "reasoning")


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens. ``cached_input`` and ``cache_write`` default to ``input``,
    ``reasoning`` to ``output``."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None

    @classmethod
    def from_value(cls, model: str, value: ModelPrice | Mapping[str, Any]) -> ModelPrice:
        """Accept a ModelPrice or a dict of its fields; a clear error names a bad entry."""
        if isinstance(value, ModelPrice):
            return value
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"pricing[{model!r}] must be a dict like {{'input': 0.3, 'output': 1.2}} "
                                     "(USD per million tokens)")
        unknown = set(value) - set(_KEYS)
        missing = {"input", "output"} - {k for k, v in value.items() if v is not None}
        if unknown or missing:
            raise ConfigurationError(f"pricing[{model!r}]: unknown keys {sorted(unknown)}, missing keys "
                                     f"{sorted(missing)}; use {', '.join(_KEYS)} (USD per million tokens)")
        for key, number in value.items():
            if number is not None and (isinstance(number, bool) or not isinstance(number, (int, float))
                                       or number < 0):
                raise ConfigurationError(f"pricing[{model!r}][{key!r}] must be a number >= 0, got {number!r}")
        numbers = {k: float(v) if v is not None else None for k, v in value.items()}
        return cls(input=float(value["input"]), output=float(value["output"]), cached_input=numbers.get("cached_input"),
                   cache_write=numbers.get("cache_write"), reasoning=numbers.get("reasoning"))

    def cost(self, usage: Usage) -> float:
        """USD for ``usage`` at these prices."""
        writes = cache_writes(usage)
        fresh = max(0, usage.prompt_tokens - usage.cached_tokens - writes)
        visible, reasoning = output_split(usage)
        total = (fresh * self.input + usage.cached_tokens * _or(self.cached_input, self.input)
                 + writes * _or(self.cache_write, self.input) + visible * self.output
                 + reasoning * _or(self.reasoning, self.output))
        return total / _PER_MILLION


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def cache_writes(usage: Usage) -> int:
    """Prompt tokens written to the cache (Anthropic's ``cache_creation_input_tokens``)."""
    writes = usage.raw.get("cache_creation_input_tokens") if usage.raw else None
    return writes if isinstance(writes, int) and writes > 0 else 0


def cache_writes_1h(usage: Usage) -> int:
    """Of :func:`cache_writes`, those with Anthropic's one-hour lifetime (priced higher)."""
    detail = usage.raw.get("cache_creation") if usage.raw else None
    hour = detail.get("ephemeral_1h_input_tokens") if isinstance(detail, dict) else None
    return min(hour, cache_writes(usage)) if isinstance(hour, int) and hour > 0 else 0


def output_split(usage: Usage) -> tuple[int, int]:
    """(visible output, reasoning) tokens. OpenAI-style reports include reasoning in
    ``completion_tokens``; Gemini's report it apart (``thoughtsTokenCount``)."""
    if usage.raw and "thoughtsTokenCount" in usage.raw:
        return usage.completion_tokens, usage.reasoning_tokens
    reasoning = min(usage.reasoning_tokens, usage.completion_tokens)
    return usage.completion_tokens - reasoning, reasoning


def _split_model(model: str) -> tuple[str, str]:
    provider, _, name = model.partition("/")
    return (provider, name) if name else ("", provider)


class Pricing:
    """Prices for cost and budgets: your overrides first, then ``genai-prices``.

    Thread-safe; lookups are cached per model. ``overrides`` maps ``"provider/name"`` (or a
    bare model name) to a :class:`ModelPrice` or a dict of its fields.
    """

    def __init__(self, overrides: Mapping[str, ModelPrice | Mapping[str, Any]] | None = None) -> None:
        if overrides is not None and not isinstance(overrides, Mapping):
            raise ConfigurationError("pricing must be a dict {'provider/model': {'input': ..., 'output': ...}}")
        self.overrides = {model: ModelPrice.from_value(model, value) for model, value in (overrides or {}).items()}
        self._unknown: set[str] = set()
        self._rates: dict[str, tuple[ModelPrice, float] | None] = {}
        self._lock = threading.Lock()

    def _override(self, model: str) -> ModelPrice | None:
        return self.overrides.get(model) or self.overrides.get(_split_model(model)[1])

    def rates(self, model: str) -> ModelPrice | None:
        """Per-million prices of ``model`` (at short-context rates), None when unknown.
        Used for running costs (budgets); :meth:`cost` honours tiers."""
        override = self._override(model)
        if override is not None:
            return override
        entry = self._table_rates(model)
        return entry[0] if entry is not None else None

    def cost(self, usage: Usage, model: str) -> float | None:
        """USD for ``usage`` of ``model`` (``"provider/name"``), or None when the price is unknown.
        Below the model's first long-context tier this is arithmetic on cached rates (a few
        microseconds); beyond it, or with one-hour cache writes, the table computes it."""
        override = self._override(model)
        if override is not None:
            return override.cost(usage)
        entry = self._table_rates(model)
        if entry is None:
            return None
        rates, tier_start = entry
        if usage.prompt_tokens < tier_start and not cache_writes_1h(usage):
            return rates.cost(usage)
        return self._table_cost(model, usage)

    def _table_rates(self, model: str) -> tuple[ModelPrice, float] | None:
        """(linear rates, first tier start) of a table model, computed once and cached."""
        if model in self._rates:
            return self._rates[model]
        unit = 1000  # small enough to stay below every long-context tier
        base = self._table_cost(model, Usage(prompt_tokens=unit))
        entry = None
        if base is not None:
            output = self._table_cost(model, Usage(completion_tokens=unit)) or 0.0
            cached = self._table_cost(model, Usage(prompt_tokens=unit, cached_tokens=unit))
            write = self._table_cost(model, Usage(prompt_tokens=unit, raw={"cache_creation_input_tokens": unit}))
            scale = _PER_MILLION / unit
            entry = (ModelPrice(input=base * scale, output=output * scale, cached_input=_scaled(cached, scale),
                                cache_write=_scaled(write, scale)), self._tier_start(model))
        with self._lock:
            self._rates[model] = entry
        return entry

    def _tier_start(self, model: str) -> float:
        """The prompt size where the model's first price tier starts (inf: no tiers)."""
        from genai_prices import Usage as PriceUsage
        from genai_prices import calc_price

        provider, name = _split_model(model)
        prices = calc_price(PriceUsage(input_tokens=1), name, provider_id=_PROVIDER_IDS.get(provider, provider)).model_price
        starts = [tier.start for field in ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
                  for tier in getattr(getattr(prices, field, None), "tiers", None) or ()]
        return float(min(starts)) if starts else float("inf")

    def warm_up(self, model: str) -> threading.Thread | None:
        """Look ``model``'s rates up on a background thread (importing ``genai-prices``,
        about 0.13 s, once per process), so the first response is priced without that
        delay; None when there is nothing to load."""
        if model in self._rates or self._override(model) is not None or not _genai_prices_installed():
            return None
        thread = threading.Thread(target=self._table_rates, args=(model,), name="llm_connectivity-prices",
                                  daemon=True)
        thread.start()
        return thread

    def knows(self, model: str) -> bool:
        """True when :meth:`cost` can price ``model``."""
        return self.rates(model) is not None

    def _table_cost(self, model: str, usage: Usage) -> float | None:
        provider, name = _split_model(model)
        provider_id = _PROVIDER_IDS.get(provider, provider or None)
        if provider_id is None or not name or not _genai_prices_installed():
            self._log_unknown(model, "no price table for this provider" if _genai_prices_installed()
                              else "genai-prices is not installed")
            return None
        from genai_prices import Usage as PriceUsage
        from genai_prices import calc_price

        visible, reasoning = output_split(usage)
        values = {"input_tokens": usage.prompt_tokens, "output_tokens": visible + reasoning}
        if usage.cached_tokens:
            values["cache_read_tokens"] = usage.cached_tokens
        if cache_writes(usage):
            values["cache_write_tokens"] = cache_writes(usage)
            if cache_writes_1h(usage):
                values["cache_write_1h_tokens"] = cache_writes_1h(usage)
        try:
            result = calc_price(PriceUsage(**values), name, provider_id=provider_id)
        except LookupError:
            self._log_unknown(model, "not in the genai-prices table")
            return None
        return float(result.total_price)

    def _log_unknown(self, model: str, why: str) -> None:
        with self._lock:
            if model in self._unknown:
                return
            self._unknown.add(model)
        logger.debug("no price for %s (%s): cost_usd is None; pass pricing={%r: {'input': ..., 'output': ...}}",
                     model, why, model)


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


_installed: list[bool] = []


def _genai_prices_installed() -> bool:
    if not _installed:
        _installed.append(importlib.util.find_spec("genai_prices") is not None)
    return _installed[0]


_default = Pricing()


def default_pricing() -> Pricing:
    """The shared :class:`Pricing` with no overrides."""
    return _default


def cost_usd(usage: Usage, model: str, pricing: Pricing | None = None) -> float | None:
    """USD for ``usage`` of ``model`` (``"provider/name"``); None when the price is unknown.

    >>> from llm_connectivity.models import Usage
    >>> cost_usd(Usage(prompt_tokens=1000, completion_tokens=1000), "my/model",
    ...          Pricing({"my/model": {"input": 1.0, "output": 2.0}}))
    0.003
    """
    return (pricing or _default).cost(usage, model)
