"""A FakeLLMServer in its own process (so the server's CPU and GIL never touch the
measured client). Prints its port, serves the same reply to every request, and stops
when its stdin closes.

    python benchmarks/_server.py stream <n_events> <framing>
    python benchmarks/_server.py hold <framing>       # first event, 50 ms pause, the rest
"""

from __future__ import annotations

import json
import sys

from llm_connectivity.testing import Action, FakeLLMServer, Reply

SSE = {"Content-Type": "text/event-stream"}


def event(i: int) -> bytes:
    """One Chat Completions content event."""
    chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench",
             "choices": [{"index": 0, "delta": {"content": f" tok{i}"}, "finish_reason": None}]}
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def stream_body(n: int) -> bytes:
    """``n`` content events, a finish event and ``[DONE]``."""
    finish = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench",
              "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    tail = b"data: " + json.dumps(finish).encode() + b"\n\ndata: [DONE]\n\n"
    return b"".join(event(i) for i in range(n)) + tail


def main() -> None:
    mode = sys.argv[1]
    if mode == "stream":
        reply = Reply(body=stream_body(int(sys.argv[2])), framing=sys.argv[3])
    else:
        reply = Reply(framing=sys.argv[2], headers=SSE, actions=[
            Action("send", event(0)), Action("sleep", seconds=0.05), Action("send", stream_body(1))])
    with FakeLLMServer(default_reply=reply) as server:
        print(server.port, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
