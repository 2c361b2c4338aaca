"""Batch building blocks without sockets: items, checkpoint file, pacing, progress line,
results round trip, and the runner over a scripted fake client (budget, retries)."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from llm_connectivity.batch import BatchLimits, Checkpoint, run_batch
from llm_connectivity.batch.items import normalize_items, request_hash
from llm_connectivity.batch.progress import BatchProgressBar
from llm_connectivity.batch.results import (
    BatchSummary,
    error_from_dict,
    error_to_dict,
    response_from_dict,
)
from llm_connectivity.errors import (
    BadRequestError,
    ConfigurationError,
    InvalidRequestError,
    RateLimitError,
    ServerError,
)
from llm_connectivity.models import ChatResponse, ToolCall, Usage
from llm_connectivity.retry import RetryPolicy


# -- items --------------------------------------------------------------------------------------
def test_items_normalise_strings_lists_and_dicts() -> None:
    msgs = [{"role": "user", "content": "b"}]
    items = normalize_items(["a", msgs, {"id": "x", "messages": "c", "max_tokens": 5, "model": "openai/o"}],
                            "openai/gpt-4o-mini")
    assert [(i.index, i.id, i.messages, i.params) for i in items] == [
        (0, "0", "a", {}), (1, "1", msgs, {}), (2, "x", "c", {"max_tokens": 5, "model": "openai/o"})]
    assert items[2].request == {"messages": "c", "max_tokens": 5, "model": "openai/o"}
    assert items[0].request_hash == request_hash("openai/gpt-4o-mini", "a", {})
    assert items[2].request_hash == request_hash("openai/o", "c", {"max_tokens": 5, "model": "openai/o"})


def test_request_hash_changes_with_model_messages_and_params() -> None:
    base = request_hash("m/a", "hi", {"max_tokens": 5})
    assert base == request_hash("m/a", "hi", {"max_tokens": 5})
    assert len({base, request_hash("m/b", "hi", {"max_tokens": 5}), request_hash("m/a", "ho", {"max_tokens": 5}),
                request_hash("m/a", "hi", {"max_tokens": 6})}) == 4


@pytest.mark.parametrize("items, message", [
    ([1], "batch item 0 is a int"),
    (["ok", ""], "batch item 1 is an empty string"),
    ([{"prompt": "x"}], "batch item 0 is a dict without 'messages'"),
    ([{"messages": "x", "stream": True}], "batch item 0 sets 'stream'"),
    ([{"messages": "x", "api_key": "k"}], "batch item 0 sets 'api_key'"),
    ([{"id": "a", "messages": "x"}, {"id": "a", "messages": "y"}], "batch items 0 and 1 share the id 'a'"),
    (["x", {"id": 0, "messages": "y"}], "batch items 0 and 1 share the id '0'"),
    ([{"id": 1.5, "messages": "x"}], "ids must be strings or ints"),
    ("one prompt", "must be a list of items"),
])
def test_bad_items_raise_before_any_io(items: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        normalize_items(items, "openai/x")


# -- checkpoint ---------------------------------------------------------------------------------
def test_checkpoint_ignores_and_cuts_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"id":"a","status":"ok","hash":"1"}\n'
                     b'not json\n'
                     b'{"id":"b","status":"ok","hash":"2"}\n'
                     b'{"id":"c","sta')
    store = Checkpoint(path)
    assert sorted(store.load()) == ["a", "b"]
    assert store.ignored_lines == 2
    assert path.read_bytes().endswith(b'"hash":"2"}\n')  # torn tail removed before appending
    store.append({"id": "c", "status": "ok", "hash": "3"})
    store.close()
    assert sorted(Checkpoint(path).load()) == ["a", "b", "c"]
    assert path.read_bytes().count(b"\n") == 4


def test_checkpoint_last_record_per_id_wins_and_rewrite_orders(tmp_path: Path) -> None:
    store = Checkpoint(tmp_path / "sub" / "c.jsonl", fsync_interval=0)
    for record in ({"id": "b", "status": "error"}, {"id": "a", "status": "ok"}, {"id": "b", "status": "ok"}):
        store.append(record)
    records = store.load()
    assert records == {"b": {"id": "b", "status": "ok"}, "a": {"id": "a", "status": "ok"}}
    store.rewrite([records["a"], records["b"]])
    lines = (tmp_path / "sub" / "c.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b"]


def test_an_unwritable_checkpoint_fails_before_any_request(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    client = ScriptedClient()
    unusable = r"checkpoint '.*a-file/out.jsonl' cannot be (read|written) \(Not a directory\)"
    with pytest.raises(ConfigurationError, match=unusable):
        run_batch(client, ["a", "b"], checkpoint=blocker / "out.jsonl", progress=False)
    assert client.calls == []  # nothing was spent on answers that could not be kept


def test_checkpoint_refuses_a_file_that_is_not_a_checkpoint(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\nline two\n")
    with pytest.raises(ConfigurationError, match="holds 2 lines and none is a checkpoint record"):
        run_batch(ScriptedClient(), ["a"], checkpoint=notes, progress=False)
    assert notes.read_text() == "my notes\nline two\n"  # not replaced by the results
    torn = tmp_path / "torn.jsonl"
    torn.write_bytes(b'{"id":"0","sta')  # killed while writing its first line: still a checkpoint
    assert [r.status for r in run_batch(ScriptedClient(), ["a"], checkpoint=torn, progress=False)] == ["ok"]


def test_checkpoint_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is a directory"):
        Checkpoint(tmp_path)


# -- results round trip -------------------------------------------------------------------------
def test_response_and_error_survive_the_json_round_trip() -> None:
    response = ChatResponse(content="hi", finish_reason="tool_calls", raw_finish_reason="tool_use",
                            usage=Usage(3, 4, 7, cached_tokens=1, is_estimated=True, confidence=0.5),
                            cost_usd=0.25, tool_calls=[ToolCall("c1", "f", '{"a":1}')], reasoning="r",
                            model="m", provider="p", raw={"dropped": True})
    back = response_from_dict(json.loads(json.dumps(response.to_dict(include_raw=False))))
    assert back == ChatResponse(content="hi", finish_reason="tool_calls", raw_finish_reason="tool_use",
                                usage=Usage(3, 4, 7, cached_tokens=1, is_estimated=True, confidence=0.5),
                                cost_usd=0.25, tool_calls=[ToolCall("c1", "f", '{"a":1}')], reasoning="r",
                                model="m", provider="p")
    error = error_from_dict(json.loads(json.dumps(error_to_dict(RateLimitError("slow", status_code=429)))))
    assert (type(error), str(error), error.status_code) == (RateLimitError, "slow", 429)
    assert error_to_dict(ServerError("boom", status_code=502)) == {
        "type": "ServerError", "message": "boom", "status_code": 502, "retryable": True}


# -- pacing -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"requests_per_minute": 0}, "requests_per_minute must be a positive number"),
    ({"tokens_per_minute": -5}, "tokens_per_minute must be a positive number"),
    ({"requests_per_minute": "60"}, "requests_per_minute must be a positive number"),
])
def test_limits_refuse_bad_rates(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BatchLimits(**kwargs)


def test_requests_per_minute_paces_after_the_one_second_burst() -> None:
    limits = BatchLimits(requests_per_minute=1200)  # 20/s, burst 20
    stop = threading.Event()
    started = time.monotonic()
    assert all(limits.acquire(0, stop) for _ in range(40))
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 5.0  # 20 beyond the burst at 20/s: one second


def test_tokens_per_minute_takes_estimates_and_reconcile_gives_back() -> None:
    limits = BatchLimits(tokens_per_minute=60_000)  # 1,000 a second, burst 1,000
    stop = threading.Event()
    started = time.monotonic()
    assert limits.acquire(1000, stop)  # the whole burst
    limits.reconcile(1000, 100)  # it used 100: 900 come back
    assert limits.acquire(900, stop)
    assert time.monotonic() - started < 0.5  # without the reconcile this waits 0.9 s
    assert limits.acquire(500, stop)
    assert time.monotonic() - started >= 0.45  # now the bucket is empty: 500 at 1,000/s


def test_a_429_pauses_everyone_and_halves_the_rate_then_recovers() -> None:
    limits = BatchLimits(requests_per_minute=6000)
    assert limits.rate_limited(0.3) == 0.3
    assert limits.factor == 0.5
    assert limits.rate_limited(None) == 1.0  # second in a row, no Retry-After: 0.5 * 2
    assert limits.factor == 0.25
    stop = threading.Event()
    started = time.monotonic()
    assert limits.acquire(0, stop)
    assert time.monotonic() - started >= 0.95
    limits.succeeded()
    assert limits.factor == pytest.approx(0.30)
    assert limits.rate_limited(None) == 0.5  # the streak was reset by the success


def test_acquire_gives_up_when_stopped() -> None:
    limits = BatchLimits()
    limits.rate_limited(30.0)
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    assert limits.acquire(0, stop) is False
    assert time.monotonic() - started < 5.0


# -- progress line ------------------------------------------------------------------------------
def test_progress_line_without_tqdm() -> None:
    out = io.StringIO()
    bar = BatchProgressBar(10, 4, file=out, use_tqdm=False)
    summary = BatchSummary(total=10, succeeded=5, failed=1, total_tokens=12345, cost_usd=0.5)
    bar.done = 6
    text = bar.text(summary, now=bar._started + 2.0)
    assert text == "batch 6/10 | ok 5 failed 1 | 12,345 tokens $0.5000 | 1.0/s ETA 4s"
    bar.close(summary)
    assert out.getvalue().startswith("batch 6/10 | ok 5 failed 1")
    assert out.getvalue().endswith("\n")


# -- runner over a scripted client ------------------------------------------------------------
class ScriptedClient:
    """A client-like object: answers each prompt after ``delay``; ``faults`` maps a prompt to
    errors raised on its first attempts."""

    model = "fake/model"

    def __init__(self, *, cost: float | None = 0.01, faults: dict[str, list[Exception]] | None = None,
                 retries: int = 2) -> None:
        self.cost = cost
        self.faults = faults or {}
        self.retry_policy = RetryPolicy(max_retries=retries, backoff_base=0.01, jitter=0)
        self.default_params: dict[str, Any] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def chat(self, messages: str, **params: Any) -> ChatResponse:
        with self.lock:
            self.calls.append((messages, params))
            pending = self.faults.get(messages)
            if pending:
                raise pending.pop(0)
        return ChatResponse(content=messages.upper(), usage=Usage(2, 3, 5), cost_usd=self.cost)


def test_results_in_order_and_one_failure_leaves_the_rest() -> None:
    client = ScriptedClient(faults={"p3": [BadRequestError("bad", status_code=400)]})
    results = run_batch(client, [f"p{i}" for i in range(8)], max_workers=3, progress=False)
    assert [(r.index, r.status, r.content) for r in results] == [
        (i, "error" if i == 3 else "ok", "" if i == 3 else f"P{i}") for i in range(8)]
    assert isinstance(results[3].error, BadRequestError)
    assert sorted(m for m, _ in client.calls) == sorted(f"p{i}" for i in range(8))  # nothing twice
    assert all(params == {"max_retries": 0} for _, params in client.calls)
    s = results.summary
    assert (s.total, s.succeeded, s.failed, s.skipped, s.requests_sent, s.total_tokens) == (8, 7, 1, 0, 8, 35)
    assert s.cost_usd == pytest.approx(0.07)
    assert results.errors == [results[3]]


def test_retryable_errors_follow_the_client_policy() -> None:
    client = ScriptedClient(faults={"a": [ServerError("x", status_code=500)] * 2,
                                    "b": [ServerError("y", status_code=503)] * 3})
    results = run_batch(client, ["a", "b"], max_workers=2, progress=False)
    assert [(r.status, r.attempts) for r in results] == [("ok", 3), ("error", 3)]
    assert [m for m, _ in client.calls].count("b") == 3  # 1 + max_retries=2, never more


def test_per_item_max_retries_overrides_the_policy() -> None:
    client = ScriptedClient(faults={"a": [ServerError("x", status_code=500)]})
    results = run_batch(client, [{"messages": "a", "max_retries": 0}], progress=False)
    assert (results[0].status, results[0].attempts) == ("error", 1)


@pytest.mark.parametrize("bad", ["two", -1])
def test_a_bad_per_item_max_retries_fails_that_item_only(bad: object) -> None:
    client = ScriptedClient()
    results = run_batch(client, [{"messages": "a", "max_retries": bad}, "b"], max_workers=1, progress=False)
    assert [(r.status, r.attempts) for r in results] == [("error", 0), ("ok", 1)]
    assert isinstance(results[0].error, ConfigurationError) and "max_retries" in str(results[0].error)
    assert [call[0] for call in client.calls] == ["b"]
    assert results.summary.requests_sent == 1


def test_budget_stops_submitting() -> None:
    client = ScriptedClient(cost=0.01)
    results = run_batch(client, [f"p{i}" for i in range(20)], max_workers=1, budget_usd=0.05, progress=False)
    assert [r.status for r in results] == ["ok"] * 5 + ["skipped"] * 15
    assert (results.summary.stopped, results.summary.skipped, len(client.calls)) == ("budget", 15, 5)


def test_a_budget_that_cannot_be_enforced_warns_once() -> None:
    client = ScriptedClient(cost=None)  # no price known for the model: cost_usd stays None
    with pytest.warns(UserWarning) as caught:
        results = run_batch(client, [f"p{i}" for i in range(6)], max_workers=2, budget_usd=0.05, progress=False)
    assert [str(w.message) for w in caught] == [
        "budget_usd=0.05 cannot stop this batch: the cost of fake/model answers is unknown (no price for the "
        "model), so nothing is counted against the budget"]
    assert (results.summary.stopped, results.summary.cost_unknown, len(client.calls)) == (None, 6, 6)


@pytest.mark.parametrize("kwargs, message", [
    ({"max_workers": 0}, "max_workers must be a positive int"),
    ({"budget_usd": -1}, "budget_usd must be a positive number"),
    ({"on_result": "print"}, "on_result must be a function"),
    ({"on_chunk": print}, "on_chunk needs stream=True"),
    ({"limits": BatchLimits(), "requests_per_minute": 5}, "pass either limits="),
    ({"max_wrokers": 5}, "unknown batch option 'max_wrokers'; the options are max_workers, requests_per_minute"),
])
def test_bad_options_raise_before_any_request(kwargs: dict[str, Any], message: str) -> None:
    client = ScriptedClient()
    with pytest.raises(ConfigurationError, match=message):
        run_batch(client, ["a"], progress=False, **kwargs)
    assert client.calls == []


def test_on_result_sees_every_result_and_its_exception_stops_the_run() -> None:
    seen: list[int] = []
    results = run_batch(ScriptedClient(), ["a", "b", "c"], progress=False, on_result=lambda r: seen.append(r.index))
    assert sorted(seen) == [0, 1, 2] and len(results) == 3

    def explode(result: object) -> None:
        raise ValueError("my callback broke")

    client = ScriptedClient()
    with pytest.raises(ValueError, match="my callback broke"):
        run_batch(client, [f"p{i}" for i in range(50)], max_workers=1, progress=False, on_result=explode)
    assert len(client.calls) == 1  # no new item started after it
