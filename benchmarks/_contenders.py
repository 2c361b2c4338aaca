"""The contenders of ``benchmarks/run.py``: each streams one Chat Completions answer and
returns how many content chunks it decoded, or makes one non-streamed call.

- ``floor``: a raw socket per thread, hand-written HTTP/1.1 (chunked, Content-Length and
  close-delimited bodies), split on blank lines, ``json.loads``: no Python client can do
  less work per chunk.
- ``requests + sseclient-py``: read as sseclient-py's README shows (``SSEClient(response)``),
  one ``requests.Session``.
- ``llm_connectivity``: ``LLMClient.chat_stream``, consuming full ``StreamChunk`` objects
  (the aggregate is built as it goes).
- ``openai``: the official SDK, when installed (``make bench-peers`` installs it).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any

KEY = "sk-bench-0000000000000000"
MESSAGES = [{"role": "user", "content": "hi"}]


class Floor:
    """Raw sockets (one keep-alive socket per thread)."""

    name = "raw socket + json (floor)"

    def __init__(self, port: int) -> None:
        self.port = port
        self._local = threading.local()
        self._all: list[socket.socket] = []

    def _sock(self) -> socket.socket:
        sock = getattr(self._local, "sock", None)
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", self.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.sock = sock
            self._all.append(sock)
        return sock

    def _request(self, stream: bool) -> tuple[socket.socket, bytes, bytes]:
        body = json.dumps({"model": "gpt-4o-mini", "messages": MESSAGES, "stream": stream}).encode()
        sock = self._sock()
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (KEY.encode(), len(body), body))
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed in the head")
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        return sock, head.lower(), rest

    def _done(self, head: bytes) -> None:
        if b"connection: close" in head:
            self._local.sock.close()
            self._local.sock = None

    def chat(self) -> str:
        sock, head, buf = self._request(False)
        i = head.index(b"content-length:") + 15
        n = int(head[i:head.find(b"\r\n", i) if b"\r\n" in head[i:] else len(head)])
        while len(buf) < n:
            buf += sock.recv(65536)
        self._done(head)
        return str(json.loads(buf[:n])["choices"][0]["message"]["content"])

    def stream(self) -> int:
        sock, head, raw = self._request(True)
        chunked = b"transfer-encoding: chunked" in head
        loads, count, sse, pos, finished = json.loads, 0, b"", 0, False
        while True:
            if chunked:
                parts = [sse]
                while True:  # de-frame every complete HTTP chunk
                    nl = raw.find(b"\r\n", pos)
                    if nl < 0:
                        break
                    size = int(raw[pos:nl], 16)
                    end = nl + 2 + size
                    if end + 2 > len(raw):
                        break
                    parts.append(raw[nl + 2:end])
                    pos = end + 2
                    if size == 0:
                        finished = True
                        break
                sse, raw, pos = b"".join(parts), raw[pos:], 0
            else:
                sse, raw = sse + raw, b""
            *evs, sse = sse.split(b"\n\n")
            for ev in evs:
                data = ev[6:]
                if data == b"[DONE]":
                    finished = finished or not chunked
                    continue
                choices = loads(data)["choices"]
                if choices and choices[0]["delta"].get("content"):
                    count += 1
            if finished:
                self._done(head)
                return count
            data = sock.recv(262144)
            if not data:
                raise ConnectionError("closed mid-stream")
            raw += data

    def close(self) -> None:
        for sock in self._all:
            sock.close()


class RequestsSSE:
    """requests + sseclient-py, as sseclient-py's README reads a stream."""

    name = "requests + sseclient-py"

    def __init__(self, port: int) -> None:
        import requests

        self.session = requests.Session()
        self.url = f"http://127.0.0.1:{port}/v1/chat/completions"

    def stream(self) -> int:
        import sseclient  # type: ignore[import-not-found]

        response = self.session.post(self.url, json={"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True},
                                     headers={"Authorization": f"Bearer {KEY}"}, stream=True)
        count = 0
        try:
            for event in sseclient.SSEClient(response).events():
                if event.data == "[DONE]":
                    continue
                choices = json.loads(event.data)["choices"]
                if choices and choices[0]["delta"].get("content"):
                    count += 1
        finally:
            response.close()
        return count

    def chat(self) -> str:
        response = self.session.post(self.url, json={"model": "gpt-4o-mini", "messages": MESSAGES},
                                     headers={"Authorization": f"Bearer {KEY}"})
        return str(response.json()["choices"][0]["message"]["content"])

    def close(self) -> None:
        self.session.close()


class Ours:
    """llm_connectivity: full StreamChunk objects, aggregated."""

    name = "llm_connectivity"

    def __init__(self, port: int) -> None:
        from llm_connectivity import LLMClient

        self.client = LLMClient("openai/gpt-4o-mini", base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY,
                                max_retries=0, max_concurrency=64)

    def stream(self) -> int:
        count = 0
        for chunk in self.client.chat_stream(MESSAGES):
            if chunk.content:
                count += 1
        return count

    def chat(self) -> str:
        return self.client.chat(MESSAGES).content

    def close(self) -> None:
        self.client.close()


class OpenAISDK:
    """The official openai SDK (sync), when installed."""

    name = "openai SDK"

    def __init__(self, port: int) -> None:
        import openai  # type: ignore[import-not-found]

        self.client = openai.OpenAI(api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)

    def stream(self) -> int:
        count = 0
        for chunk in self.client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
        return count

    def chat(self) -> str:
        return str(self.client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
                   .choices[0].message.content)

    def close(self) -> None:
        self.client.close()


def available(port: int) -> list[Any]:
    """Every contender that can run here (the optional ones when installed)."""
    out: list[Any] = [Floor(port), Ours(port)]
    makers: list[Callable[[int], Any]] = [RequestsSSE, OpenAISDK]
    for make in makers:
        try:
            if make is RequestsSSE:
                import sseclient  # type: ignore[import-not-found]  # noqa: F401
            out.append(make(port))
        except ImportError:
            pass
    return out
