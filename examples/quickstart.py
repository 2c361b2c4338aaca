"""Quickstart: stream a chat completion token by token to the terminal.

With OPENAI_API_KEY set it talks to the real OpenAI API. Without it, it starts the
bundled FakeLLMServer on 127.0.0.1 and streams from it over real HTTP.

    python examples/quickstart.py ["your prompt"]
"""

from __future__ import annotations

import contextlib
import os
import sys

from llm_connectivity import LLMClient
from llm_connectivity.testing import FakeLLMServer


def main() -> int:
    prompt = " ".join(sys.argv[1:]) or "Explain in two sentences why streaming matters for chat UIs."
    with contextlib.ExitStack() as stack:
        if os.environ.get("OPENAI_API_KEY"):
            client = LLMClient(model="openai/gpt-4o-mini")
        else:
            server = stack.enter_context(FakeLLMServer(delay=0.03))
            print(f"(no OPENAI_API_KEY: streaming from the local FakeLLMServer at {server.base_url})")
            client = LLMClient(model="openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-local-demo")
        stack.enter_context(client)
        with client.chat_stream(prompt, max_tokens=200) as stream:
            for chunk in stream:
                print(chunk.content, end="", flush=True)
        response = stream.response
        print(f"\n\n[finish_reason={response.finish_reason} tokens={response.usage['total_tokens']}"
              f"{' (estimated)' if response.usage.is_estimated else ''}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
