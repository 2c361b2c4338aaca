"""The batch runner: worker threads that pace, send, retry and record each item.

Workers take items in input order, wait for the shared :class:`BatchLimits`, send the item
once per attempt (``max_retries=0`` on the call, so that the batch applies the client's
:class:`~llm_connectivity.retry.RetryPolicy` itself and a 429 can pause every worker), and
write each finished item to the checkpoint before anything else sees it. The thread that
iterates the run only collects results; when it is interrupted (Ctrl-C, SIGTERM, the
consumer stopping) no new item starts, items in flight get ``_GRACE`` seconds to finish
(a second Ctrl-C cuts that short), then open streams are closed. Unfinished items are
never written, so a re-run does them.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from ..errors import ConfigurationError, LLMError, RateLimitError
from ..models import ChatResponse, StreamChunk
from ..retry import RetryPolicy
from ..tokens import get_counter
from .checkpoint import Checkpoint
from .items import BatchItem, prompt_text
from .pacing import BatchLimits
from .progress import BatchProgressBar
from .results import BatchResult, BatchSummary, error_to_dict
from .setup import BatchSetup

__all__ = ["BatchRun"]

_GRACE = 30.0  # seconds in-flight items get to finish after an interruption
_POLL = 0.5
_CLOSE_WAIT = 2.0  # seconds, for all workers together, after open streams were closed


class BatchRun:
    """One run of a batch over a client; iterate :meth:`results` to drive it."""

    def __init__(self, client: Any, setup: BatchSetup) -> None:
        self.client = client
        self.setup = setup
        self.summary = BatchSummary(total=len(setup.items))
        self.restored = setup.restored
        self._todo: deque[BatchItem] = deque(setup.todo)
        self._queue: queue.Queue[BatchResult | None] = queue.Queue()
        self._stop = threading.Event()
        self._cancelling = threading.Event()  # set when open streams are being closed
        self._lock = threading.Lock()  # summary, checkpoint order, callbacks
        self._streams: set[Any] = set()
        self._workers: list[threading.Thread] = []
        self._crash: BaseException | None = None
        self._started = time.monotonic()
        self._bar: BatchProgressBar | None = None
        self._budget_warned = False  # warned that budget_usd cannot count unpriced answers

    # -- the consumer side --------------------------------------------------------------------
    def results(self) -> Iterator[BatchResult]:
        """Yield restored results, then each result as it finishes (then the skipped)."""
        setup = self.setup
        if setup.progress:
            self._bar = BatchProgressBar(len(setup.items), len(self.restored))
        for result in self.restored:
            self._record(result)
            yield result
        previous = _install_sigterm()
        try:
            yield from self._collect()
        except BaseException:
            self._interrupt()
            raise
        finally:
            _restore_sigterm(previous)
            self._finish()
        for item in self._todo:
            result = BatchResult(item.index, item.id, item.request, status="skipped")
            self.summary.add(result)
            yield result

    def _collect(self) -> Iterator[BatchResult]:
        count = min(self.setup.max_workers, len(self._todo))
        for number in range(count):
            worker = threading.Thread(target=self._work, name=f"llm-batch-{number}", daemon=True)
            self._workers.append(worker)
            worker.start()
        running = count
        while running:
            try:
                result = self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue
            if result is None:
                running -= 1
                continue
            yield result
        if self._crash is not None:
            raise self._crash

    def _interrupt(self) -> None:
        """Stop submitting, let in-flight items finish (bounded), then close open streams."""
        self._stop.set()
        with self._lock:
            self.summary.stopped = self.summary.stopped or "interrupted"
        deadline = time.monotonic() + _GRACE
        try:
            for worker in self._workers:
                worker.join(max(0.0, deadline - time.monotonic()))
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting
        self._cancelling.set()
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.close()
        deadline = time.monotonic() + _CLOSE_WAIT  # one wait for all: a non-streamed call cannot be
        for worker in self._workers:              # closed, and its worker is a daemon thread
            worker.join(max(0.0, deadline - time.monotonic()))

    def _finish(self) -> None:
        self.summary.duration = time.monotonic() - self._started
        checkpoint = self.setup.checkpoint
        if checkpoint is not None:
            checkpoint.close()
            if not self._todo and not self._stop.is_set() and self._crash is None:
                _sort_checkpoint(checkpoint, self.setup.items)
        if self._bar is not None:
            self._bar.close(self.summary)

    # -- the worker side ----------------------------------------------------------------------
    def _work(self) -> None:
        try:
            while True:
                item = self._next_item()
                if item is None:
                    return
                result = self._run_item(item)
                if result is None:  # interrupted before it finished: not recorded, redone next run
                    with self._lock:
                        self._todo.append(item)
                    continue
                self._record(result)
                self._queue.put(result)
        except BaseException as exc:  # noqa: BLE001 - a crashed worker must not hang the run
            self._crash = exc
            self._stop.set()
        finally:
            self._queue.put(None)

    def _next_item(self) -> BatchItem | None:
        with self._lock:
            if self._stop.is_set() or not self._todo:
                return None
            budget = self.setup.budget_usd
            if budget is not None and self.summary.cost_usd >= budget:
                self.summary.stopped = "budget"
                self._stop.set()
                return None
            return self._todo.popleft()

    def _plan(self, item: BatchItem) -> tuple[dict[str, Any], RetryPolicy, int]:
        """The call's parameters, its retry policy and its token estimate."""
        params = dict(item.params)
        policy: RetryPolicy = RetryPolicy.from_value(params.pop("max_retries")) if "max_retries" in params \
            else self.client.retry_policy
        model = str(params.get("model") or self.client.model)
        max_tokens = params.get("max_tokens") or getattr(self.client, "default_params", {}).get("max_tokens") or 0
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
            max_tokens = 0  # not a count: the client refuses the item with a clear error
        return params, policy, get_counter(model).count(prompt_text(item.messages)) + max_tokens

    def _run_item(self, item: BatchItem) -> BatchResult | None:
        """Send one item (and its retries); None if the run stopped before it finished."""
        try:
            params, policy, estimate = self._plan(item)
        except ConfigurationError as exc:  # the item's own max_retries is refused: that item fails, unsent
            return BatchResult(item.index, item.id, item.request, error=exc, status="error")
        limits = self.setup.limits
        started = time.monotonic()
        attempts = 0
        while True:
            if not limits.acquire(estimate, self._stop):
                return None
            attempts += 1
            with self._lock:
                self.summary.requests_sent += 1
            try:
                response = self._send(item, params)
            except LLMError as exc:
                verdict = self._failed(exc, attempts, estimate, policy)
                if verdict == "retry":
                    continue
                if verdict == "cancelled":
                    return None
                return BatchResult(item.index, item.id, item.request, error=exc, status="error",
                                   attempts=attempts if verdict == "error" else 0,
                                   duration=time.monotonic() - started)
            limits.reconcile(estimate, response.usage.total_tokens)
            limits.succeeded()
            return BatchResult(item.index, item.id, item.request, response=response, status="ok",
                               attempts=attempts, duration=time.monotonic() - started)

    def _failed(self, exc: LLMError, attempts: int, estimate: int, policy: RetryPolicy) -> str:
        """Account for a failed attempt; say ``"retry"`` (after waiting the backoff),
        ``"error"``, ``"refused"`` (never sent) or ``"cancelled"`` (the run stopped)."""
        limits = self.setup.limits
        if isinstance(exc, ConfigurationError):  # refused before anything was sent
            with self._lock:
                self.summary.requests_sent -= 1
            limits.reconcile(estimate, None)
            return "refused"
        partial = exc.partial_response
        limits.reconcile(estimate, partial.usage.total_tokens if partial is not None else None)
        if isinstance(exc, RateLimitError):
            with self._lock:
                self.summary.rate_limited += 1
                if exc.retry_after is not None and exc.retry_after > policy.max_retry_after:
                    # longer than the policy ever waits (a quota used up): pausing every worker
                    # that long would stall the run; stop starting items, a re-run does the rest
                    self.summary.stopped = self.summary.stopped or "rate_limited"
                    self._stop.set()
                    return "error"
            limits.rate_limited(exc.retry_after)
        if self._cancelling.is_set():
            return "cancelled"  # closed by the interruption: not finished
        decision = policy.decide(exc, attempts, getattr(exc, "headers", None))
        if not decision.retry or (partial is not None and partial.content):
            return "error"
        delay = 0.0 if isinstance(exc, RateLimitError) else decision.delay  # the pause covers a 429
        return "cancelled" if self._stop.wait(delay) else "retry"

    def _send(self, item: BatchItem, params: dict[str, Any]) -> ChatResponse:
        if not self.setup.stream:
            response: ChatResponse = self.client.chat(item.messages, max_retries=0, **params)
            return response
        on_chunk: Callable[[BatchItem, StreamChunk], None] | None = self.setup.on_chunk
        stream = self.client.chat_stream(item.messages, max_retries=0, **params)
        with self._lock:
            self._streams.add(stream)
        try:
            with stream:
                for chunk in stream:
                    if on_chunk is not None:
                        on_chunk(item, chunk)
                final: ChatResponse = stream.response
                return final
        finally:
            with self._lock:
                self._streams.discard(stream)

    def _record(self, result: BatchResult) -> None:
        """Checkpoint (unless restored), count, show and report one finished result."""
        with self._lock:
            checkpoint = self.setup.checkpoint
            if checkpoint is not None and not result.from_checkpoint:
                checkpoint.append(_record_of(result, self.setup.items[result.index]))
            self.summary.add(result)
            if self.setup.budget_usd is not None and result.response is not None \
                    and result.response.cost_usd is None and not self._budget_warned:
                self._budget_warned = True
                model = result.request.get("model") or self.client.model
                warnings.warn(f"budget_usd={self.setup.budget_usd:g} cannot stop this batch: the cost of {model} "
                              "answers is unknown (no price for the model), so nothing is counted against "
                              "the budget", UserWarning, stacklevel=2)
            if self._bar is not None and not result.from_checkpoint:  # those are its starting count
                self._bar.update(self.summary)
            if self.setup.on_result is not None:
                self.setup.on_result(result)


def _record_of(result: BatchResult, item: BatchItem) -> dict[str, Any]:
    record: dict[str, Any] = {"id": item.id, "index": item.index, "hash": item.request_hash,
                              "status": result.status}
    if result.response is not None:
        record["response"] = result.response.to_dict(include_raw=False)
    if result.error is not None:
        record["error"] = error_to_dict(result.error)
    return record


def _sort_checkpoint(checkpoint: Checkpoint, items: list[BatchItem]) -> None:
    """Rewrite a finished run's checkpoint in input order (other ids kept after)."""
    records = checkpoint.load()
    ordered = [records.pop(item.id) for item in items if item.id in records]
    checkpoint.rewrite(ordered + list(records.values()))


def _install_sigterm() -> Any:
    """Make SIGTERM raise SystemExit(143) in the main thread (graceful stop), if unset."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    return signal.SIG_DFL


def _restore_sigterm(previous: Any) -> None:
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)
