"""Testing code that uses llm_connectivity with no network and no waiting:
MemoryTransport scripts the provider's answers, FakeClock makes timeouts and retry
backoffs instant (see docs/pipeline.md, "Testing without sockets or sleeps").

    python examples/testing_offline.py
"""

from __future__ import annotations

from llm_connectivity import LLMClient
from llm_connectivity.errors import ReadTimeoutError
from llm_connectivity.testing import FakeClock, MemoryResponse, MemoryTransport, Reply

SSE = [b'data: {"choices": [{"index": 0, "delta": {"content": "Hel"}}]}\n\n',
       b'data: {"choices": [{"index": 0, "delta": {"content": "lo"}}]}\n\n',
       b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n',
       b"data: [DONE]\n\n"]


def main() -> None:
    clock = FakeClock()
    transport = MemoryTransport([
        MemoryResponse(503, b'{"error": {"message": "busy"}}'),  # retried after a (virtual) backoff
        MemoryResponse(body=SSE),                                 # exact bytes, one piece per event
        Reply(text="rendered in each provider's format"),         # what FakeLLMServer would send
        MemoryResponse(body=SSE, delays=[0, 45.0]),               # 45 s of silence before "lo"
    ])
    client = LLMClient("openai/gpt-4o-mini", api_key="sk-test", transport=transport, clock=clock)

    print("retried, then streamed:", client.chat_stream("hi").text())
    print("backoffs not slept:", [round(s, 2) for s in clock.sleeps])
    print("requests recorded:", len(transport.requests), transport.requests[0].json["messages"])
    print("chat():", client.chat("hi").content)
    try:
        client.chat_stream("hi", timeout=30).text()
    except ReadTimeoutError as exc:
        print(f"read timeout on virtual time: {exc} (kept {exc.partial_response.content!r})")
    print("responses left open:", transport.open_responses)


if __name__ == "__main__":
    main()
