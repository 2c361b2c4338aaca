"""Checks and preparation of a batch run, all before any I/O: :func:`prepare`.

Validates the options (a clear :class:`~llm_connectivity.errors.ConfigurationError` naming
the option), normalises the items, and reads the checkpoint: an item whose id *and*
request hash match a finished record is restored instead of being sent again.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError
from ..models import StreamChunk
from ..security import redact_url
from .checkpoint import Checkpoint
from .items import BatchItem, normalize_items
from .pacing import BatchLimits
from .results import BatchResult, error_from_dict, response_from_dict

__all__ = ["BatchSetup", "check_option_names", "prepare"]

CheckpointArg = str | os.PathLike[str] | Checkpoint | None


@dataclass
class BatchSetup:
    """Everything a run needs, validated."""

    items: list[BatchItem]
    todo: list[BatchItem]
    restored: list[BatchResult]
    limits: BatchLimits
    max_workers: int = 8
    checkpoint: Checkpoint | None = None
    progress: bool = True
    on_result: Callable[[BatchResult], None] | None = None
    on_chunk: Callable[[BatchItem, StreamChunk], None] | None = None
    stream: bool = False
    budget_usd: float | None = None


def _check_options(max_workers: Any, budget_usd: Any, on_result: Any, on_chunk: Any, stream: Any) -> None:
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ConfigurationError(f"max_workers must be a positive int, got {max_workers!r}")
    if budget_usd is not None and (isinstance(budget_usd, bool) or not isinstance(budget_usd, (int, float))
                                   or not budget_usd > 0):
        raise ConfigurationError(f"budget_usd must be a positive number of US dollars or None, got {budget_usd!r}")
    for name, value in (("on_result", on_result), ("on_chunk", on_chunk)):
        if value is not None and not callable(value):
            raise ConfigurationError(f"{name} must be a function, got {type(value).__name__}")
    if on_chunk is not None and not stream:
        raise ConfigurationError("on_chunk needs stream=True (chunks exist only when items are streamed)")


def _restore(item: BatchItem, record: dict[str, Any] | None, retry_failed: bool) -> BatchResult | None:
    if record is None or record.get("hash") != item.request_hash:
        return None  # never done, or the request changed since: do it (again)
    if record.get("status") == "ok" and isinstance(record.get("response"), dict):
        return BatchResult(item.index, item.id, item.request, response=response_from_dict(record["response"]),
                           status="ok", from_checkpoint=True)
    if record.get("status") == "error" and not retry_failed and isinstance(record.get("error"), dict):
        return BatchResult(item.index, item.id, item.request, error=error_from_dict(record["error"]),
                           status="error", from_checkpoint=True)
    return None


def _endpoint(client: Any) -> str | None:
    """Where the client's requests go: its ``endpoint`` (e.g. the CLI's ``--local``), else
    its target's ``base_url`` (an LLMClient), else None."""
    endpoint = getattr(client, "endpoint", None)
    if endpoint is None:
        endpoint = getattr(getattr(client, "target", None), "base_url", None)
    return None if endpoint is None else redact_url(str(endpoint))  # no password in what is hashed


def check_option_names(options: dict[str, Any]) -> None:
    """Refuse misspelt options with the list of valid ones (not a bare TypeError)."""
    valid = [name for name in inspect.signature(prepare).parameters if name not in ("client", "requests")]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigurationError(f"unknown batch option {', '.join(map(repr, unknown))}; the options are "
                                 f"{', '.join(valid)}")


def prepare(client: Any, requests: Iterable[Any], *, max_workers: int = 8,
            requests_per_minute: float | None = None, tokens_per_minute: float | None = None,
            limits: BatchLimits | None = None, progress: bool = True, checkpoint: CheckpointArg = None,
            on_result: Callable[[BatchResult], None] | None = None, budget_usd: float | None = None,
            stream: bool = False, on_chunk: Callable[[BatchItem, StreamChunk], None] | None = None,
            retry_failed: bool = True) -> BatchSetup:
    """Validate everything and read the checkpoint; see :func:`~llm_connectivity.batch.run_batch`."""
    _check_options(max_workers, budget_usd, on_result, on_chunk, stream)
    if limits is not None and (requests_per_minute is not None or tokens_per_minute is not None):
        raise ConfigurationError("pass either limits= or requests_per_minute=/tokens_per_minute=, not both")
    if limits is None:
        limits = BatchLimits(requests_per_minute, tokens_per_minute)
    items = normalize_items(requests, str(client.model), getattr(client, "default_params", None),
                            _endpoint(client))
    store = checkpoint if isinstance(checkpoint, Checkpoint) or checkpoint is None else Checkpoint(checkpoint)
    records = store.load() if store is not None else {}
    if store is not None:
        store.open()
    todo: list[BatchItem] = []
    restored: list[BatchResult] = []
    for item in items:
        result = _restore(item, records.get(item.id), retry_failed)
        if result is None:
            todo.append(item)
        else:
            restored.append(result)
    return BatchSetup(items, todo, restored, limits, max_workers, store, bool(progress), on_result, on_chunk,
                      bool(stream), None if budget_usd is None else float(budget_usd))
