"""Batch results: :class:`BatchResult` per item, :class:`BatchSummary` per run, and their
JSON form (the checkpoint lines and the CLI's output file).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from .. import errors as _errors
from ..errors import APIStatusError, LLMError
from ..models import ChatResponse, ToolCall, Usage

__all__ = ["BatchResult", "BatchResults", "BatchSummary", "error_from_dict", "error_to_dict",
           "response_from_dict"]

_USAGE_FIELDS = frozenset(Usage())  # the seven counters and flags a Usage maps


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one batch item.

    ``status`` is ``"ok"`` (``response`` set), ``"error"`` (``error`` set: the typed
    :class:`~llm_connectivity.errors.LLMError`) or ``"skipped"`` (never sent: the batch
    was interrupted, its budget was reached, or the provider asked it to wait too long). ``from_checkpoint`` is True when the
    result was read back from the checkpoint instead of being requested again;
    ``attempts`` counts the requests sent for it in this run (retries included).
    """

    index: int
    id: str
    request: dict[str, Any]
    response: ChatResponse | None = None
    error: LLMError | None = None
    status: str = "ok"
    attempts: int = 0
    duration: float = 0.0
    from_checkpoint: bool = False

    @property
    def ok(self) -> bool:
        """True when the item has a response."""
        return self.status == "ok"

    @property
    def content(self) -> str:
        """The answer text ("" without a response)."""
        return self.response.content if self.response is not None else ""


@dataclass
class BatchSummary:
    """Totals of one batch run.

    ``succeeded + failed + skipped == total``; ``resumed`` of the succeeded (or failed)
    came from the checkpoint. Token counts and ``cost_usd`` add up every response
    (resumed ones included); ``cost_unknown`` counts responses without a known cost.
    ``requests_sent`` counts HTTP requests of this run (retries included) and
    ``rate_limited`` the 429 answers among them. ``stopped`` says why submitting ended
    early (``"budget"``, ``"interrupted"``, ``"rate_limited"``: a ``Retry-After`` longer than
    the retry policy's ``max_retry_after``) or is ``None``.
    """

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    resumed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    cost_unknown: int = 0
    requests_sent: int = 0
    rate_limited: int = 0
    duration: float = 0.0
    stopped: str | None = None

    def add(self, result: BatchResult) -> None:
        """Count one finished result."""
        if result.from_checkpoint:
            self.resumed += 1
        if result.status == "skipped":
            self.skipped += 1
            return
        if result.status == "error":
            self.failed += 1
        else:
            self.succeeded += 1
        response = result.response
        if response is None:
            return
        self.prompt_tokens += response.usage.prompt_tokens
        self.completion_tokens += response.usage.completion_tokens
        self.total_tokens += response.usage.total_tokens
        if response.cost_usd is None:
            self.cost_unknown += 1
        else:
            self.cost_usd += response.cost_usd

    def line(self) -> str:
        """A one-line human summary."""
        cost = f"${self.cost_usd:.4f}" + (f" (+{self.cost_unknown} unpriced)" if self.cost_unknown else "")
        tail = f", stopped: {self.stopped}" if self.stopped else ""
        return (f"{self.succeeded} ok, {self.failed} failed, {self.skipped} skipped of {self.total} "
                f"({self.resumed} from checkpoint); {self.total_tokens:,} tokens, {cost}; "
                f"{self.requests_sent} requests ({self.rate_limited} rate-limited) in {self.duration:.1f}s{tail}")


@dataclass
class BatchResults(Sequence[BatchResult]):
    """The results of :func:`~llm_connectivity.batch.run_batch`, in input order, plus
    the run's :class:`BatchSummary` (``.summary``)."""

    results: list[BatchResult] = field(default_factory=list)
    summary: BatchSummary = field(default_factory=BatchSummary)

    @overload
    def __getitem__(self, index: int) -> BatchResult: ...

    @overload
    def __getitem__(self, index: slice) -> list[BatchResult]: ...

    def __getitem__(self, index: int | slice) -> BatchResult | list[BatchResult]:
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[BatchResult]:
        return iter(self.results)

    @property
    def errors(self) -> list[BatchResult]:
        """The results that failed."""
        return [r for r in self.results if r.status == "error"]


def response_from_dict(data: dict[str, Any]) -> ChatResponse:
    """Rebuild a response from ``ChatResponse.to_dict(include_raw=False)``."""
    usage = Usage(**{k: v for k, v in (data.get("usage") or {}).items() if k in _USAGE_FIELDS})
    calls = [ToolCall(**c) for c in data.get("tool_calls") or []]
    return ChatResponse(content=data.get("content", ""), finish_reason=data.get("finish_reason"),
                        raw_finish_reason=data.get("raw_finish_reason"), usage=usage,
                        cost_usd=data.get("cost_usd"), tool_calls=calls, reasoning=data.get("reasoning", ""),
                        model=data.get("model", ""), provider=data.get("provider", ""))


def error_to_dict(error: LLMError) -> dict[str, Any]:
    """A JSON-ready dict of an error: type, message, status code, retryable."""
    return {"type": type(error).__name__, "message": str(error),
            "status_code": getattr(error, "status_code", None) or None, "retryable": bool(error.is_retryable)}


def error_from_dict(data: dict[str, Any]) -> LLMError:
    """Rebuild an error written by :func:`error_to_dict` (same class when it is known)."""
    cls = getattr(_errors, str(data.get("type")), None)
    message = str(data.get("message", ""))
    if isinstance(cls, type) and issubclass(cls, APIStatusError):
        return cls(message, status_code=data.get("status_code"))
    if isinstance(cls, type) and issubclass(cls, LLMError):
        try:
            return cls(message)
        except TypeError:
            pass
    return LLMError(message)
