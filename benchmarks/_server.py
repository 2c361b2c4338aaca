"""A FakeLLMServer in its own process (so the server's CPU and GIL never touch the
measured client). Prints its port, then serves until its stdin closes.

    python benchmarks/_server.py <framing> <n_events> [--hold]
    python benchmarks/_server.py chat 0              # non-streamed JSON answers

Every streamed request gets ``n_events`` realistic Chat Completions chunks (the shape of
the recorded OpenAI streams: id, model, service_tier, system_fingerprint, logprobs,
``obfuscation`` padding), a finish chunk, a usage chunk and ``[DONE]``. Framings:

- ``chunked``: one HTTP/1.1 chunk per SSE event, as the providers and their proxies send
  them (pre-rendered and written in large pieces, so the server is never the bottleneck);
- ``bigwrite``: the whole body as ONE HTTP chunk (the old, unrealistic benchmark framing);
- ``close``: a connection-close delimited body; ``length``: a Content-Length body.

``--hold``: the first content event, then a 50 ms pause, then the rest (time to first
chunk). ``chat``: every request gets a Chat Completions JSON body (Content-Length).
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from llm_connectivity.testing import Action, FakeLLMServer, Reply

SSE = {"Content-Type": "text/event-stream", "openai-processing-ms": "120", "x-request-id": "req_bench"}
_BASE = {"id": "chatcmpl-C6bjxzOr3Oz1rTiafksd6himIit3q", "object": "chat.completion.chunk",
         "created": 1755691077, "model": "gpt-4o-mini-2024-07-18", "service_tier": "default",
         "system_fingerprint": "fp_560af6e559"}
_WORDS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".", " Ça",
          " coûte", " 3", ",", "14", " €", " —", " naïve", " café", "\n"]


def _event(delta: dict[str, Any], finish: str | None, rng: random.Random, usage: Any = None) -> bytes:
    chunk = dict(_BASE, choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                 usage=usage, obfuscation="".join(rng.choice("abcdefghijkLMNOP0123") for _ in range(rng.randint(2, 12))))
    return b"data: " + json.dumps(chunk, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def events(n: int) -> list[bytes]:
    """The SSE events of one realistic stream with ``n`` content chunks."""
    rng = random.Random(7)
    out = [_event({"role": "assistant", "content": "", "refusal": None}, None, rng)]
    out += [_event({"content": _WORDS[i % len(_WORDS)]}, None, rng) for i in range(n)]
    out.append(_event({}, "stop", rng))
    rng2 = random.Random(8)
    usage = {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": n + 12}
    out.append(b"data: " + json.dumps(dict(_BASE, choices=[], usage=usage,
                                           obfuscation="x" * rng2.randint(2, 9))).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return out


def expected_text(n: int) -> str:
    """The text a client must reassemble from ``n`` content chunks."""
    return "".join(_WORDS[i % len(_WORDS)] for i in range(n))


def _chunked(pieces: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)


def stream_reply(framing: str, n: int, hold: bool) -> Reply:
    """The Reply for one streamed request (see the module docstring)."""
    evs = events(n)
    if hold:
        head, rest = evs[:2], evs[2:]
        wire = "close" if framing == "close" else ("length" if framing == "length" else "chunked")
        if wire == "chunked":
            acts = [Action("raw", _chunked(head)), Action("sleep", seconds=0.05), Action("raw", _chunked(rest))]
        else:
            acts = [Action("send", b"".join(head)), Action("sleep", seconds=0.05), Action("send", b"".join(rest))]
        return Reply(framing=wire, headers=SSE, actions=acts)
    if framing == "chunked":  # one HTTP chunk per event, written in large pieces
        return Reply(framing="chunked", headers=SSE, actions=[Action("raw", _chunked(evs))])
    wire = "chunked" if framing == "bigwrite" else framing
    return Reply(framing=wire, headers=SSE, actions=[Action("send", b"".join(evs))])


def chat_body() -> bytes:
    """A realistic non-streamed Chat Completions body."""
    body = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1755691077,
            "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_560af6e559", "service_tier": "default",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": expected_text(40), "refusal": None,
                                                 "annotations": []}, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 40, "total_tokens": 52,
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}}}
    return json.dumps(body).encode()


def main() -> None:
    framing, n = sys.argv[1], int(sys.argv[2])
    if framing == "chat":
        reply = Reply(framing="length", headers={"Content-Type": "application/json"},
                      actions=[Action("send", chat_body())])
    else:
        reply = stream_reply(framing, n, "--hold" in sys.argv)
    with FakeLLMServer(default_reply=reply) as server:
        print(server.port, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
