"""The built-in providers: one table, one factory per wire format.

Every OpenAI-compatible vendor is a row of :data:`OPENAI_COMPATIBLE` (a
:class:`~llm_connectivity.providers.compatible.CompatibleProvider`), not a subclass; the
driver for an API flavour is built from the row by :func:`compatible_driver` (Chat
Completions by default, ``"responses"`` for the Responses API). Anthropic and Gemini have
drivers of their own. Driver modules are imported lazily, on first use.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import ProviderDriver
from .compatible import CompatibleProvider

__all__ = ["BUILTIN_FACTORIES", "OPENAI_COMPATIBLE", "CompatibleProvider", "compatible_driver"]

OPENAI_COMPATIBLE: tuple[CompatibleProvider, ...] = (
    CompatibleProvider("openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",),
                       max_tokens_field="max_completion_tokens", base_url_env="OPENAI_BASE_URL"),
    CompatibleProvider("xai", "https://api.x.ai/v1", ("XAI_API_KEY",)),
    CompatibleProvider("openrouter", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",)),
    CompatibleProvider("groq", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",)),
    CompatibleProvider("together", "https://api.together.xyz/v1", ("TOGETHER_API_KEY",)),
    CompatibleProvider("deepseek", "https://api.deepseek.com/v1", ("DEEPSEEK_API_KEY",)),
    CompatibleProvider("mistral", "https://api.mistral.ai/v1", ("MISTRAL_API_KEY",), prefix_field="prefix"),
    CompatibleProvider("fireworks", "https://api.fireworks.ai/inference/v1", ("FIREWORKS_API_KEY",)),
    CompatibleProvider("perplexity", "https://api.perplexity.ai", ("PERPLEXITY_API_KEY", "PPLX_API_KEY")),
    CompatibleProvider("ollama", "http://localhost:11434/v1", ("OLLAMA_API_KEY",), requires_key=False),
    CompatibleProvider("lmstudio", "http://localhost:1234/v1", ("LMSTUDIO_API_KEY",), requires_key=False),
    CompatibleProvider("vllm", "", ("VLLM_API_KEY",), requires_key=False),
    CompatibleProvider("openai-compatible", "", ("OPENAI_COMPATIBLE_API_KEY",), requires_key=False),
)


def compatible_driver(row: CompatibleProvider, api: str | None = None) -> ProviderDriver:
    """The driver for ``row`` and API flavour ``api``: ``"responses"`` is the Responses
    API, the chat flavours (``None``, ``"chat"``...) Chat Completions."""
    if api == "responses":
        from .openai_responses import OpenAIResponsesDriver

        return OpenAIResponsesDriver(row)
    from .openai import OpenAIDriver

    driver = OpenAIDriver.from_row(row)
    return ProviderDriver.for_api(driver, api)  # the chat flavours: the driver; others: ConfigurationError


def _compatible(row: CompatibleProvider) -> Callable[[], ProviderDriver]:
    def factory() -> ProviderDriver:
        """Build the Chat Completions driver of this row."""
        return compatible_driver(row)

    return factory


def _anthropic() -> ProviderDriver:
    from .anthropic import AnthropicDriver

    return AnthropicDriver()


def _gemini(name: str) -> Callable[[], ProviderDriver]:
    def factory() -> ProviderDriver:
        """Build the Gemini driver registered under ``name``."""
        from .gemini import GeminiDriver

        return GeminiDriver(name)

    return factory


BUILTIN_FACTORIES: dict[str, Callable[[], ProviderDriver]] = {
    **{row.name: _compatible(row) for row in OPENAI_COMPATIBLE},
    "anthropic": _anthropic,
    "google": _gemini("google"),
    "gemini": _gemini("gemini"),
}
