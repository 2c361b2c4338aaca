"""Batches over a Dask cluster: :func:`map_chat` over a bag or a dataframe column.

Each partition runs as one task with :func:`llm_connectivity.batch.run_batch` on a small
thread pool. Every worker process builds its own client from a picklable
:class:`ClientConfig` (a client is never pickled) and keeps it for later partitions. A
``distributed.Semaphore`` caps the requests in flight across the whole cluster, and the
RPM/TPM budget is split evenly between the workers. With ``checkpoint_dir`` (a directory
every worker can reach) each partition appends to its own JSONL checkpoint, so a re-run
sends only what did not finish: finished partitions send nothing.

    import dask.bag as db
    from llm_connectivity.integrations.dask import ClientConfig, map_chat

    prompts = db.from_sequence(["Hi", "Hello", ...], npartitions=20)
    rows = map_chat(prompts, ClientConfig("openai/gpt-4o-mini", params={"max_tokens": 100}),
                    max_concurrency=32, requests_per_minute=3000, checkpoint_dir="/shared/run-1")
    rows.compute()      # one dict per item: id, status, content, error, tokens, cost

Dask is an optional extra (``pip install 'llm_connectivity[dask]'``); it is imported when
:func:`map_chat` is called, never by ``import llm_connectivity``.
"""

from __future__ import annotations

import importlib
import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import LLMClient
from ..batch import BatchLimits, BatchResult, run_batch
from ..batch.items import split_item
from ..errors import ConfigurationError, InvalidRequestError

__all__ = ["ClientConfig", "map_chat", "result_row"]

_cache_lock = threading.Lock()
_clients: dict[str, LLMClient] = {}  # ClientConfig.cache_key() -> the worker's client
_limits: dict[tuple[str, str], BatchLimits] = {}
_semaphores: dict[tuple[str, str], Any] = {}


@dataclass(frozen=True)
class ClientConfig:
    """How each worker builds its :class:`~llm_connectivity.LLMClient` (picklable).

    Leave ``api_key`` unset to read the provider's environment variable on each worker
    (recommended: the key then never travels with the task graph). ``params`` are
    default generation parameters (``max_tokens``...), sent on every call.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    max_retries: int = 2
    timeout: float | None = None
    params: tuple[tuple[str, Any], ...] | dict[str, Any] = ()

    def __post_init__(self) -> None:
        if isinstance(self.params, dict):  # stored as a tuple so the config stays hashable
            object.__setattr__(self, "params", tuple(sorted(self.params.items())))

    def cache_key(self) -> str:
        """A key equal for equal configurations, even with list or dict ``params``
        (``stop=[...]``, ``response_format={...}``), which make the config unhashable."""
        fields = [self.model, self.base_url, self.api_key, self.max_retries, self.timeout, list(self.params)]
        return json.dumps(fields, sort_keys=True, default=repr)

    def build(self) -> LLMClient:
        """A new client for this configuration."""
        extra: dict[str, Any] = dict(self.params)
        if self.timeout is not None:
            extra["timeout"] = self.timeout
        return LLMClient(self.model, base_url=self.base_url, api_key=self.api_key, max_retries=self.max_retries,
                         **extra)


class _LeasedClient:
    """A client whose every request holds one lease of a cluster-wide semaphore."""

    def __init__(self, client: LLMClient, semaphore: Any) -> None:
        self.client = client
        self.semaphore = semaphore
        self.model = client.model
        self.retry_policy = client.retry_policy
        self.default_params = client.default_params
        self.target = client.target  # where requests go: part of the checkpoint's request hash

    def chat(self, messages: Any, **params: Any) -> Any:
        """``client.chat`` under a lease."""
        with self.semaphore:
            return self.client.chat(messages, **params)


def _module(name: str) -> Any:
    """Import an (untyped, optional) module."""
    return importlib.import_module(name)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


def _semaphore_here(name: str, max_leases: int) -> Any:
    """The cluster semaphore ``name``, bound to this worker's scheduler connection and event
    loop (our batch threads are not Dask task threads, so it must not bind late)."""
    distributed = _module("distributed")
    key = (name, _worker_name())
    with _cache_lock:
        semaphore = _semaphores.get(key)
        if semaphore is None:
            try:
                owner = distributed.get_worker()
            except ValueError:  # not on a worker (a local scheduler): the client's connection
                owner = distributed.get_client()
            semaphore = _semaphores[key] = distributed.Semaphore(
                max_leases=max_leases, name=name, scheduler_rpc=owner.scheduler, loop=owner.loop)
        return semaphore


def _client_for(config: ClientConfig) -> LLMClient:
    key = config.cache_key()
    with _cache_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = config.build()
        return client


def _limits_for(run: str, rpm: float | None, tpm: float | None) -> BatchLimits:
    key = (run, _worker_name())  # one share per worker, shared by its concurrent partitions
    with _cache_lock:
        limits = _limits.get(key)
        if limits is None:
            limits = _limits[key] = BatchLimits(rpm, tpm)
        return limits


def result_row(result: BatchResult, partition: int) -> dict[str, Any]:
    """One flat dict per item: where it was, how it ended, what it cost."""
    response, error = result.response, result.error
    usage = response.usage if response is not None else None
    return {"partition": partition, "index": result.index, "id": result.id, "status": result.status,
            "content": response.content if response is not None else None,
            "finish_reason": response.finish_reason if response is not None else None,
            "error": str(error) if error is not None else None,
            "error_type": type(error).__name__ if error is not None else None,
            "total_tokens": usage.total_tokens if usage is not None else 0,
            "cost_usd": response.cost_usd if response is not None else None}


def _screen(items: list[Any]) -> tuple[list[tuple[int, Any]], dict[int, BatchResult]]:
    """Split a partition into sendable items (position, item with its id pinned) and error
    results for rows that are not prompts (``None``, ``NaN``, ``""``...), so one bad row is
    an error row, not a failed task. Ids stay those a plain batch would give."""
    good: list[tuple[int, Any]] = []
    bad: dict[int, BatchResult] = {}
    seen: set[str] = set()
    for index, raw in enumerate(items):
        own = None
        try:
            own, _, _ = split_item(index, raw)
            item_id = own if own is not None else str(index)
            if item_id in seen:
                raise InvalidRequestError(f"batch item {index} repeats the id {item_id!r} of an earlier row; "
                                          "ids must be unique within a partition")
        except InvalidRequestError as exc:
            bad[index] = BatchResult(index, own if own is not None else str(index), {}, error=exc, status="error")
            continue
        seen.add(item_id)
        pinned = {**raw, "id": item_id} if isinstance(raw, Mapping) else {"id": item_id, "messages": raw}
        good.append((index, pinned))
    return good, bad


def _run_partition(items: list[Any], partition: int, spec: dict[str, Any]) -> list[dict[str, Any]]:
    good, bad = _screen(list(items))
    rows = {index: result_row(result, partition) for index, result in bad.items()}
    if good:
        client: Any = _client_for(spec["config"])
        if spec["semaphore"] is not None:
            client = _LeasedClient(client, _semaphore_here(*spec["semaphore"]))
        directory = spec["checkpoint_dir"]
        checkpoint = Path(directory) / f"part-{partition:05d}.jsonl" if directory is not None else None
        results = run_batch(client, [item for _, item in good], max_workers=spec["threads"], progress=False,
                            checkpoint=checkpoint, limits=_limits_for(spec["run"], spec["rpm"], spec["tpm"]),
                            retry_failed=spec["retry_failed"])
        for (index, _), result in zip(good, results):
            rows[index] = {**result_row(result, partition), "index": index}
    return [rows[index] for index in range(len(items))]


def _share(value: float | None, workers: int) -> float | None:
    return None if value is None else value / workers


def _distributed_client() -> Any:
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def map_chat(collection: Any, config: ClientConfig, *, column: str | None = None,
             max_concurrency: int | None = None, requests_per_minute: float | None = None,
             tokens_per_minute: float | None = None, checkpoint_dir: str | None = None,
             threads_per_partition: int = 4, retry_failed: bool = True) -> Any:
    """Chat every item of a Dask bag (or ``column`` of a Dask dataframe), lazily.

    Returns a bag of :func:`result_row` dicts (for a bag), or a dataframe of those rows
    (for a dataframe: one row per input row, same partitions). Nothing runs until you
    ``compute()``. ``max_concurrency`` needs a ``distributed.Client``; the RPM/TPM
    limits are divided by the number of workers the client sees now.
    """
    if not isinstance(config, ClientConfig):
        raise ConfigurationError(f"config must be a ClientConfig (picklable), got {type(config).__name__}")
    if isinstance(threads_per_partition, bool) or not isinstance(threads_per_partition, int) or threads_per_partition < 1:
        raise ConfigurationError(f"threads_per_partition must be a positive int, got {threads_per_partition!r}")
    BatchLimits(requests_per_minute, tokens_per_minute)  # validates the numbers before anything runs
    cluster = _distributed_client()
    semaphore = None
    if max_concurrency is not None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency must be a positive int, got {max_concurrency!r}")
        if cluster is None:
            raise ConfigurationError("max_concurrency needs a running distributed.Client (it uses the cluster's "
                                     "Semaphore); create one, e.g. Client(LocalCluster())")
        semaphore = (f"llm-connectivity-{uuid.uuid4().hex}", max_concurrency)  # each worker binds its own
    workers = max(1, len(cluster.nthreads())) if cluster is not None else 1
    spec = {"config": config, "semaphore": semaphore, "checkpoint_dir": checkpoint_dir,
            "threads": threads_per_partition, "run": uuid.uuid4().hex, "retry_failed": retry_failed,
            "rpm": _share(requests_per_minute, workers), "tpm": _share(tokens_per_minute, workers)}
    if column is not None:
        from ._dask_frames import map_frame

        return map_frame(collection, column, spec, _run_partition)
    return _map_bag(collection, spec)


def _map_bag(bag: Any, spec: dict[str, Any]) -> Any:
    db = _module("dask.bag")
    delayed = _module("dask").delayed
    if not isinstance(bag, db.Bag):
        raise ConfigurationError(f"map_chat takes a dask.bag.Bag (or a dataframe with column=), got "
                                 f"{type(bag).__name__}")
    parts = [delayed(_run_partition)(part, number, spec) for number, part in enumerate(bag.to_delayed())]
    return db.from_delayed(parts)
