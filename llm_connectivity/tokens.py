"""Token counting: the :class:`TokenCounter` seam every layer counts through.

``get_counter(model)`` returns the best counter available for a model: an exact tokenizer
when one is installed and known for the model, else the character estimator. Buffers,
the rate limiter, progress and usage estimation all count through this one seam, so a
better counter improves all of them at once.

(This is the interface; the estimator and the exact tokenizers are filled in by the usage
work. Until then the estimator is the old four-characters-a-token rule.)
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["CharacterEstimator", "TokenCounter", "count_tokens", "get_counter"]


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the tokens of a text. Implementations are thread-safe and cheap to call."""

    #: "exact" for a real tokenizer, "estimate" for a heuristic
    kind: str

    def count(self, text: str) -> int:
        """Tokens in ``text`` (0 for "", at least 1 for non-empty text)."""


class CharacterEstimator:
    """A tokenizer-free estimate from the characters of the text."""

    kind = "estimate"

    def count(self, text: str) -> int:
        """About four characters a token; never 0 for non-empty text."""
        if not text:
            return 0
        return max(1, (len(text) + 2) // 4)


_ESTIMATOR = CharacterEstimator()


def get_counter(model: str | None = None, *, kind: str = "auto") -> TokenCounter:
    """The counter for ``model`` (``"provider/name"`` or a bare name).

    ``kind``: ``"auto"`` (exact when available for the model, else the estimator),
    ``"tiktoken"`` (exact; raises if unavailable) or ``"character"`` (the estimator).
    """
    return _ESTIMATOR


def count_tokens(text: str, model: str | None = None) -> int:
    """Count ``text`` with :func:`get_counter` for ``model``."""
    return get_counter(model).count(text)
