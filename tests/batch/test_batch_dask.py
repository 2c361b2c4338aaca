"""The Dask integration on a real ``distributed.LocalCluster`` (127.0.0.1, in-process
workers) against a FakeLLMServer: per-row results, the cluster-wide concurrency cap, and
per-partition checkpoints that make a re-run send nothing."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_connectivity.errors import ConfigurationError
from llm_connectivity.testing import FakeLLMServer, Reply

db = pytest.importorskip("dask.bag")
distributed = pytest.importorskip("distributed")

from llm_connectivity.integrations.dask import ClientConfig, map_chat  # noqa: E402


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                                  dashboard_address="127.0.0.1:0") as local, distributed.Client(local) as client:
        yield client


def test_config_pickles_without_leaking_the_key_in_its_repr() -> None:
    config = ClientConfig("openai/gpt-4o-mini", base_url="http://127.0.0.1:1/v1", api_key="sk-secret",
                          params={"max_tokens": 5})
    assert pickle.loads(pickle.dumps(config)) == config
    assert "sk-secret" not in repr(config)
    assert config.params == (("max_tokens", 5),)


def test_bag_rows_failures_and_resume(cluster: Any, tmp_path: Path) -> None:
    items = [f"prompt {i}" for i in range(23)] + [{"id": "bad", "messages": "x", "max_tokens": 0}]
    with FakeLLMServer() as server:
        config = ClientConfig("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test")
        bag = db.from_sequence(items, npartitions=4)
        rows = map_chat(bag, config, checkpoint_dir=str(tmp_path), requests_per_minute=60_000).compute()
        assert len(server.requests) == 23
        again = map_chat(bag, config, checkpoint_dir=str(tmp_path)).compute()
        assert len(server.requests) == 23  # every partition was finished: nothing re-sent
    assert len(rows) == 24
    ok = [r for r in rows if r["status"] == "ok"]
    assert sorted(r["content"].split('"')[1] for r in ok) == sorted(items[:23])
    (bad,) = [r for r in rows if r["status"] == "error"]
    assert (bad["id"], bad["error_type"]) == ("bad", "InvalidRequestError")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"part-{i:05d}.jsonl" for i in range(4)]
    assert [r["content"] for r in again] == [r["content"] for r in rows]


def test_a_row_that_is_not_a_prompt_is_an_error_row_not_a_failed_partition(cluster: Any, tmp_path: Path) -> None:
    items = ["a", "", None, {"messages": "x", "stream": True}, {"id": "k", "messages": "e"}, "f"]
    with FakeLLMServer() as server:
        config = ClientConfig("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test")
        bag = db.from_sequence(items, npartitions=2)  # [a, "", None] and [{stream}, {k}, f]
        rows = map_chat(bag, config, checkpoint_dir=str(tmp_path)).compute()
        assert sorted(r.json["messages"][-1]["content"] for r in server.requests) == ["a", "e", "f"]
        again = map_chat(bag, config, checkpoint_dir=str(tmp_path)).compute()
        assert len(server.requests) == 3  # the good rows were checkpointed under the same ids
    assert [(r["partition"], r["index"], r["id"], r["status"], r["error_type"]) for r in rows] == [
        (0, 0, "0", "ok", None), (0, 1, "1", "error", "InvalidRequestError"),
        (0, 2, "2", "error", "InvalidRequestError"), (1, 0, "0", "error", "InvalidRequestError"),
        (1, 1, "k", "ok", None), (1, 2, "2", "ok", None)]
    assert "empty string" in rows[1]["error"] and "sets 'stream'" in rows[3]["error"]
    assert [r["status"] for r in again] == [r["status"] for r in rows]


def test_list_and_dict_params_in_the_config(cluster: Any) -> None:
    with FakeLLMServer() as server:
        config = ClientConfig("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test",
                              params={"stop": ["\n\n"], "response_format": {"type": "json_object"}})
        rows = map_chat(db.from_sequence(["a", "b"], npartitions=2), config).compute()
        assert [r["status"] for r in rows] == ["ok", "ok"]
        assert [(r.json["stop"], r.json["response_format"]) for r in server.requests] == [
            (["\n\n"], {"type": "json_object"})] * 2


def test_cluster_wide_concurrency_cap(cluster: Any) -> None:
    service = 0.25
    with FakeLLMServer(default_reply=Reply(text="ok", first_delay=service)) as server:
        config = ClientConfig("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test")
        bag = db.from_sequence([f"p{i}" for i in range(12)], npartitions=4)
        started = time.monotonic()
        rows = map_chat(bag, config, max_concurrency=2, threads_per_partition=4).compute()
        elapsed = time.monotonic() - started
        received = sorted(r.received_at for r in server.requests)
    assert [r["status"] for r in rows] == ["ok"] * 12
    assert elapsed >= 12 / 2 * service * 0.9  # 16 threads could do it in one round
    # no more than 2 requests can start within less than one service time
    assert max(sum(1 for t in received if start <= t < start + service * 0.6) for start in received) <= 2


def test_worker_processes_share_the_cap_through_the_scheduler() -> None:
    service = 0.25
    with FakeLLMServer(default_reply=Reply(text="ok", first_delay=service)) as server, \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address="127.0.0.1:0") as local, distributed.Client(local):
        config = ClientConfig("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test")
        rows = map_chat(db.from_sequence([f"p{i}" for i in range(8)], npartitions=2), config,
                        max_concurrency=1, threads_per_partition=4).compute()
        received = sorted(r.received_at for r in server.requests)
    assert [r["status"] for r in rows] == ["ok"] * 8
    assert all(b - a >= service * 0.8 for a, b in zip(received, received[1:]))  # one at a time, cluster-wide


def test_the_rpm_budget_is_split_across_workers(cluster: Any) -> None:
    with FakeLLMServer() as server:
        config = ClientConfig("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test")
        bag = db.from_sequence([f"p{i}" for i in range(40)], npartitions=4)
        started = time.monotonic()
        rows = map_chat(bag, config, requests_per_minute=1200).compute()  # 2 workers: 10/s each, bursts of 10
        elapsed = time.monotonic() - started
    assert [r["status"] for r in rows] == ["ok"] * 40
    assert elapsed >= (40 - 20) / 20 * 0.9  # unsplit, each worker would allow 20/s: about no wait at all
    assert elapsed < 30


def test_bad_arguments_are_refused_before_anything_runs() -> None:
    config = ClientConfig("openai/gpt-4o-mini", base_url="http://127.0.0.1:1/v1", api_key="k")
    bag = db.from_sequence(["a"])
    with pytest.raises(ConfigurationError, match="config must be a ClientConfig"):
        map_chat(bag, {"model": "x"})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="requests_per_minute must be a positive number"):
        map_chat(bag, config, requests_per_minute=0)
    with pytest.raises(ConfigurationError, match="threads_per_partition must be a positive int"):
        map_chat(bag, config, threads_per_partition=0)
    with pytest.raises(ConfigurationError, match="map_chat takes a dask.bag.Bag"):
        map_chat([1, 2], config)


def test_dataframe_column(cluster: Any) -> None:
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    frame = dd.from_pandas(pd.DataFrame({"q": [f"question {i}" for i in range(6)], "n": range(6)}), npartitions=2)
    with FakeLLMServer() as server:
        config = ClientConfig("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test")
        result = map_chat(frame, config, column="q").compute()
    assert list(result["n"]) == list(range(6))
    assert list(result["llm_status"]) == ["ok"] * 6
    assert all(f'"question {i}"' in text for i, text in enumerate(result["llm_content"]))
