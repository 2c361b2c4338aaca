"""Dask: chat every item of a Dask bag on a cluster, with a cluster-wide concurrency cap,
an RPM budget split across the workers, and per-partition checkpoints.

Runs on an in-process ``distributed.LocalCluster`` against the bundled FakeLLMServer
(no API key, no network). Needs the optional extra: ``pip install 'llm_connectivity[dask]'``.

    python examples/dask_batch.py
"""

from __future__ import annotations

import sys
import tempfile


def main() -> int:
    try:
        import dask.bag as db
        from distributed import Client, LocalCluster
    except ImportError:
        print("this example needs Dask: pip install 'llm_connectivity[dask]'")
        return 0
    from llm_connectivity.integrations.dask import ClientConfig, map_chat
    from llm_connectivity.testing import FakeLLMServer

    prompts = [f"Summarise document {i}" for i in range(40)]
    with FakeLLMServer() as server, tempfile.TemporaryDirectory() as checkpoints, \
            LocalCluster(n_workers=2, threads_per_worker=2, processes=False, dashboard_address="127.0.0.1:0") as cluster, \
            Client(cluster):
        # The key is read from the environment on each worker when api_key is not given.
        config = ClientConfig("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-local-demo",
                              params={"max_tokens": 100})
        bag = db.from_sequence(prompts, npartitions=4)
        rows = map_chat(bag, config, max_concurrency=8, requests_per_minute=6_000,
                        checkpoint_dir=checkpoints).compute()
        print(f"{sum(r['status'] == 'ok' for r in rows)} of {len(rows)} ok, "
              f"{sum(r['total_tokens'] for r in rows)} tokens, {len(server.requests)} requests")
        print("first row:", {k: rows[0][k] for k in ("partition", "id", "status")}, rows[0]["content"][:50] + "...")
        map_chat(bag, config, checkpoint_dir=checkpoints).compute()
        print(f"re-run with the same checkpoints: {len(server.requests)} requests in total (nothing re-sent)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
