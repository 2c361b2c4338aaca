"""The stream pipeline: an observer that logs each call's lifecycle, a stage that sets
cost_usd on the final response, and a stage that stops a stream over budget.

Runs against the bundled FakeLLMServer (no API key needed); see docs/pipeline.md.

    python examples/pipeline.py
"""

from __future__ import annotations

import dataclasses

from llm_connectivity import LLMClient
from llm_connectivity.errors import LLMError
from llm_connectivity.models import ChatResponse, StreamChunk
from llm_connectivity.pipeline import Notice, Stage, StreamContext
from llm_connectivity.testing import FakeLLMServer, Reply, faults

PRICE_PER_TOKEN = 0.000002  # an example price, USD


def log(notice: Notice) -> None:
    """An observer: print the notices a dashboard would care about."""
    if notice.kind == "retry":
        print(f"  [{notice.call.stream_id}] retry after attempt {notice.attempt} in {notice.delay:.2f}s: {notice.reason}")
    elif notice.kind == "first_byte":
        print(f"  [{notice.call.stream_id}] first byte after {notice.duration * 1000:.1f} ms")
    elif notice.kind == "complete":
        usage = notice.usage.total_tokens if notice.usage else 0
        print(f"  [{notice.call.stream_id}] complete: {notice.chunk_count} chunks, {usage} tokens")
    elif notice.kind == "error":
        print(f"  [{notice.call.stream_id}] error: {type(notice.error).__name__} (retryable: {notice.is_retryable})")


class Cost(Stage):
    """Sets cost_usd on the final response, for chat() and streams alike."""

    def on_response(self, response: ChatResponse, context: StreamContext) -> ChatResponse:
        return dataclasses.replace(response, cost_usd=response.usage.total_tokens * PRICE_PER_TOKEN)


class BudgetExceeded(LLMError):
    """Our own typed error: the stream produced more tokens than we allow."""


class Budget(Stage):
    """Stops a stream once it produced more than ``limit`` tokens (per call, via context.state)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def on_chunk(self, chunk: StreamChunk, context: StreamContext) -> StreamChunk:
        used = context.state.get(self, 0) + chunk.token_count
        context.state[self] = used
        if used > self.limit:
            raise BudgetExceeded(f"over the {self.limit}-token budget", provider=context.info.provider)
        return chunk


def main() -> None:
    with FakeLLMServer() as server, LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-local",
                                              observers=[log], stages=[Cost()]) as client:
        print("a stream that is retried once, then completes:")
        server.add_replies([faults.status(503, headers={"Retry-After": "0.05"}), Reply(text="Hello there, friend.")])
        stream = client.chat_stream("Say hello")
        print("  text:", stream.text(), f"cost_usd={stream.response.cost_usd:.8f}")

        print("a non-streamed call goes through the same notices and stages:")
        server.add_reply(Reply(text="Fine, thanks."))
        print("  chat():", client.chat("How are you?").cost_usd is not None)

        print("a stream stopped by a budget stage, keeping what arrived:")
        server.add_reply(Reply(text=" ".join(["word"] * 50)))
        try:
            client.chat_stream("Talk a lot", stages=[Budget(limit=10)]).text()
        except BudgetExceeded as exc:
            print(f"  stopped: {exc}; kept {len(exc.partial_response.content.split())} words")


if __name__ == "__main__":
    main()
