"""Cassettes: record a real exchange once (bytes, timing, errors; no key on disk), replay it.

Records against the local FakeLLMServer (no API key needed), stops it, then replays:

    python examples/cassette.py

With a real key, point the client at the real provider instead and record once; the
replay below then needs neither the network nor the key.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from llm_connectivity import LLMClient
from llm_connectivity.errors import LLMError
from llm_connectivity.testing import CassetteMismatchError, FakeLLMServer, cassette, faults


def conversation(client: LLMClient) -> None:
    """A paced streamed answer, then a stream that breaks mid-way."""
    started = time.perf_counter()
    for chunk in client.chat_stream("Count to five", max_tokens=20):
        if chunk.content:
            print(f"  {time.perf_counter() - started:5.2f}s {chunk.content!r}")
    try:
        for _ in client.chat_stream("Tell me a story"):
            pass
    except LLMError as exc:
        partial = exc.partial_response.content if exc.partial_response else ""
        print(f"  then {type(exc).__name__} after {partial!r}")


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        record_and_replay(folder / "count-and-break")
    finally:
        shutil.rmtree(folder)


def record_and_replay(path: Path) -> None:
    """Record two exchanges into ``path``, then replay them with the server stopped."""
    with FakeLLMServer() as server:
        server.add_reply("One two three four five", delay=0.1)  # paced events: 100 ms apart
        server.add_reply(faults.drop_after(3, text="Once upon a time, far away"))
        base_url = server.base_url
        client = LLMClient("openai/gpt-4o-mini", base_url=base_url, api_key="sk-example-key-000000")
        print(f"recording into {path}")
        with cassette(path):  # mode="once": records because the cassette does not exist yet
            conversation(client)
    print("files:", " ".join(sorted(p.name for p in path.iterdir())))

    # The server is gone and the key is a placeholder: everything comes from the cassette.
    offline = LLMClient("openai/gpt-4o-mini", base_url=base_url, api_key="test")
    for speed in (1.0, 0):
        print(f"replaying at speed={speed}")
        with cassette(path, mode="none", speed=speed):
            conversation(offline)

    with cassette(path, mode="none"):
        try:
            offline.chat("A question nobody recorded")
        except CassetteMismatchError as exc:
            print("unrecorded request:", str(exc).splitlines()[0][:100], "...")


if __name__ == "__main__":
    main()
