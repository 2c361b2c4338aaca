"""The built-in providers: one table, one factory per wire format.

Every OpenAI-compatible vendor is an :class:`~llm_connectivity.providers.openai.OpenAIDriver`
instance configured by a row of :data:`OPENAI_COMPATIBLE` (name, default base URL, key
variable, quirks), not a subclass. Anthropic and Gemini have drivers of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .base import ProviderDriver

__all__ = ["BUILTIN_FACTORIES", "OPENAI_COMPATIBLE", "CompatibleProvider"]


@dataclass(frozen=True)
class CompatibleProvider:
    """One OpenAI-compatible vendor: where it lives and how it authenticates."""

    name: str
    base_url: str  # "" means the caller must give base_url
    key_env: tuple[str, ...]
    requires_key: bool = True
    max_tokens_field: str = "max_tokens"
    base_url_env: str | None = None
    prefix_field: str | None = None  # assistant-prefix flag that continues a partial answer


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


def _compatible_factory(row: CompatibleProvider) -> Callable[[], ProviderDriver]:
    def factory() -> ProviderDriver:
        """Build the configured OpenAIDriver for this row."""
        from .openai import OpenAIDriver

        return OpenAIDriver(
            row.name,
            default_base_url=row.base_url,
            api_key_env=row.key_env,
            base_url_env=row.base_url_env or f"{row.name.upper().replace('-', '_')}_BASE_URL",
            requires_api_key=row.requires_key,
            max_tokens_field=row.max_tokens_field,
            prefix_field=row.prefix_field,
        )

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
    **{row.name: _compatible_factory(row) for row in OPENAI_COMPATIBLE},
    "anthropic": _anthropic,
    "google": _gemini("google"),
    "gemini": _gemini("gemini"),
}
