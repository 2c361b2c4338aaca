"""Cost: usage you can trust, cost in USD, a per-stream cost limit and a client budget.

Runs against the bundled FakeLLMServer on 127.0.0.1 (no key, no network); every pattern
of docs/tutorials/05-cost-optimization.md, in order.

    python examples/cost.py
"""

from __future__ import annotations

from llm_connectivity import LLMClient, StreamingOptions
from llm_connectivity.budget import BudgetExceededError
from llm_connectivity.pricing import cost_usd
from llm_connectivity.testing import FakeLLMServer, Reply
from llm_connectivity.tokens import count_tokens

ANSWER = "Streaming shows the first words within milliseconds, so people read instead of waiting."


def heading(title: str) -> None:
    print(f"\n== {title} ==")


def main() -> None:
    with FakeLLMServer() as server:
        client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="local")

        heading("usage and cost of a stream")
        server.add_reply(Reply(ANSWER))  # the server reports usage, as OpenAI does
        result = client.stream_with_usage("Why stream?")
        print(result.get_text())
        print(f"usage: {result.usage.prompt_tokens} in, {result.usage.completion_tokens} out, "
              f"estimated={result.usage.is_estimated}; cost ${result.cost_usd:.8f}")

        heading("a server that reports no usage: an honest estimate")
        server.add_reply(Reply(ANSWER, usage=False))
        usage = client.stream_with_usage("Why stream?").usage
        print(f"{usage.completion_tokens} completion tokens, is_estimated={usage.is_estimated}, "
              f"confidence={usage.confidence} ({usage.raw['estimated_by']} count)")
        print("count_tokens('你好，世界', 'openai/gpt-4o') =", count_tokens("你好，世界", "openai/gpt-4o"))

        heading("cost of any usage, and your own prices")
        print("gpt-4o-mini, 1M in + 1M out:", cost_usd(result.usage.replace(prompt_tokens=1_000_000,
                                                                             completion_tokens=1_000_000),
                                                       "openai/gpt-4o-mini"))
        tuned = LLMClient("openai/my-fine-tune", base_url=server.base_url, api_key="local",
                          pricing={"openai/my-fine-tune": {"input": 0.30, "output": 1.20}})
        server.add_reply(Reply(ANSWER))
        print(f"my-fine-tune: ${tuned.stream_with_usage('Why stream?').cost_usd:.8f}")
        server.add_reply(Reply(ANSWER))
        unknown = LLMClient("openai/not-a-real-model", base_url=server.base_url, api_key="local")
        print("a model with no known price costs:", unknown.stream_with_usage("Why stream?").cost_usd)

        heading("stop a stream at a cost limit")
        pricey = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="local",
                           pricing={"openai/gpt-4o-mini": {"input": 0.0, "output": 100.0}})
        server.add_reply(Reply(" ".join(["token"] * 500), usage=False))
        try:
            pricey.stream_with_usage("Write a lot", streaming_options=StreamingOptions(max_cost_usd=0.002))
        except BudgetExceededError as error:
            partial = error.partial_response
            print(f"stopped: {error}")
            print(f"kept {len(partial.content)} characters, {partial.usage.completion_tokens} tokens, "
                  f"${partial.cost_usd:.6f}")

        heading("a budget shared by every call of a client")
        budgeted = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="local", budget_usd=0.0005,
                             pricing={"openai/gpt-4o-mini": {"input": 0.0, "output": 20.0}})
        for attempt in range(1, 4):
            sent_before = len(server.requests)
            if budgeted.budget.remaining_usd > 0:  # type: ignore[union-attr]
                server.add_reply(Reply(ANSWER))
            try:
                budgeted.stream_with_usage("Why stream?")
                print(f"call {attempt}: ok, ${budgeted.budget.spent_usd:.6f} spent")  # type: ignore[union-attr]
            except BudgetExceededError as error:
                sent = "stopped mid-stream" if len(server.requests) > sent_before else "refused before sending"
                print(f"call {attempt}: {sent}: {error}")
        for each in (client, tuned, unknown, pricey, budgeted):
            each.close()


if __name__ == "__main__":
    main()
