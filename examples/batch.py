"""Batch: 200 prompts on 16 threads under a requests-per-minute limit, with a checkpoint.

Runs against the bundled FakeLLMServer on 127.0.0.1 (no API key). The second run reads
the checkpoint and sends nothing: that is how a crashed or interrupted job resumes.

    python examples/batch.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from llm_connectivity import LLMClient
from llm_connectivity.testing import FakeLLMServer, Reply


def main() -> int:
    items: list[Any] = [f"Give me fact number {i} about the sea." for i in range(199)]
    items.append({"id": "short-one", "messages": "One word about the sea.", "max_tokens": 5})  # per-item params
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer() as server:
        server.add_reply(Reply(status=429, headers={"Retry-After": "0.2"}))  # the first answer: slow down
        server.add_reply(Reply(status=400))  # and the second request is refused: that item fails
        checkpoint = Path(tmp) / "results.jsonl"
        with LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-local-demo") as client:
            results = client.batch_chat(items, max_workers=16, requests_per_minute=12_000,
                                        checkpoint=checkpoint, progress=False)
            print("first run: ", results.summary.line())
            for result in [r for r in results if r.ok][:2] + results[-1:]:
                print(f"  [{result.id}] {result.content[:60]}...")
            for result in results.errors:
                print(f"  [{result.id}] failed: {type(result.error).__name__}: {result.error}")

            again = client.batch_chat(items, max_workers=16, checkpoint=checkpoint, progress=False,
                                      retry_failed=False)
            print("second run:", again.summary.line())
        print(f"requests the server received: {len(server.requests)} "
              f"(200 items + 1 retry after the 429; the second run sent none)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
