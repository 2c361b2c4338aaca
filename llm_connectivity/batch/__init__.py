"""Batch jobs: many chat requests over a thread pool, with RPM/TPM limits, progress, a
JSONL checkpoint to resume from, a budget, and results in input order.

    >>> from llm_connectivity import LLMClient                       # doctest: +SKIP
    >>> client = LLMClient("openai/gpt-4o-mini")                     # doctest: +SKIP
    >>> results = client.batch_chat(["Hi", "Hello"], max_workers=4,  # doctest: +SKIP
    ...                             requests_per_minute=500, checkpoint="out.jsonl")
    >>> results[0].content, results.summary.line()                   # doctest: +SKIP

``client.batch_chat`` and ``client.iter_batch`` call :func:`run_batch` and
:func:`iter_batch`; these also accept any object with ``model``, ``retry_policy``,
``chat()`` and ``chat_stream()`` (e.g. a wrapper that takes a cluster-wide lease).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .checkpoint import Checkpoint
from .items import BatchItem
from .pacing import BatchLimits
from .results import BatchResult, BatchResults, BatchSummary
from .runner import BatchRun
from .setup import check_option_names, prepare

__all__ = ["BatchItem", "BatchLimits", "BatchResult", "BatchResults", "BatchSummary", "Checkpoint",
           "iter_batch", "run_batch"]


def iter_batch(client: Any, requests: Iterable[Any], **options: Any) -> Iterator[BatchResult]:
    """Run a batch and yield each :class:`BatchResult` as it finishes (restored ones
    first, items never sent last); options as for :func:`run_batch`. Options and items
    are validated, and the checkpoint read, at once; nothing is sent before the first
    ``next()``."""
    check_option_names(options)
    run = BatchRun(client, prepare(client, requests, **options))
    return run.results()


def run_batch(client: Any, requests: Iterable[Any], **options: Any) -> BatchResults:
    """Run a batch to the end and return its results in input order, with a summary.

    Parameters (keyword-only):
        max_workers: requests in flight at once (default 8).
        requests_per_minute / tokens_per_minute: shared limits (tokens are counted ahead
            as prompt + ``max_tokens`` and reconciled with the reported usage); or
            ``limits=`` a :class:`BatchLimits` shared by several batches.
        progress: a progress bar on stderr (tqdm when installed; default True).
        checkpoint: a JSONL path (or :class:`Checkpoint`): finished items are appended
            as they finish; a re-run skips items whose id and request are unchanged.
        retry_failed: on a re-run, send the items that failed last time (default True).
        on_result: called with each :class:`BatchResult` (from a worker thread, one call
            at a time).
        budget_usd: stop starting items once this much was spent (known costs only).
        stream: stream each item (``on_chunk(item, chunk)`` sees each chunk).

    Items: a prompt string, a messages list, or a dict with ``messages`` and per-item
    parameters (``model``, ``max_tokens``, ``max_retries``... and an optional ``id``).
    One failure never stops the batch: its result carries the typed error. Each item is
    sent once, repeated only as the client's retry policy says.
    """
    check_option_names(options)
    run = BatchRun(client, prepare(client, requests, **options))
    ordered: list[BatchResult | None] = [None] * len(run.setup.items)
    for result in run.results():
        ordered[result.index] = result
    return BatchResults([r for r in ordered if r is not None], run.summary)
