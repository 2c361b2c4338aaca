"""One LLMClient shared by many threads against one FakeLLMServer: every stream gets exactly
its own answer (the server's default reply quotes the prompt), nothing is mixed up or lost."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.testing import FakeLLMServer

WATCHDOG_SECONDS = 40.0
JOIN_SECONDS = 30.0
MARKER = "PROMPT-MARKER-0"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as srv:
        yield srv


def run_threads(n: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run ``work(i)`` in ``n`` threads released together; return the errors they raised."""
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(n, timeout=JOIN_SECONDS)

    def body(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True, name=f"worker-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_SECONDS)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads still running after {JOIN_SECONDS}s: {stuck}"
    return errors


def expected_for(client: LLMClient, server: FakeLLMServer) -> Callable[[str], str]:
    """The default answer quotes the prompt: learn its shape once, serially."""
    reference = client.chat_stream(MARKER).text()
    assert MARKER in reference
    return lambda prompt: reference.replace(MARKER, prompt)


def test_32_threads_x_20_streams_on_one_client(server: FakeLLMServer) -> None:
    threads, per_thread = 32, 20
    with LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test-concurrency-0000",
                   max_retries=0, timeout=10) as client:
        expected = expected_for(client, server)
        before = len(server.requests)
        results: dict[str, tuple[str, bool, int]] = {}
        lock = threading.Lock()

        def work(i: int) -> None:
            for j in range(per_thread):
                prompt = f"thread {i} stream {j}"
                stream = client.chat_stream(prompt)
                pieces = [chunk.content for chunk in stream]
                text = "".join(pieces)
                assert text == stream.response.content
                with lock:
                    results[prompt] = (text, stream.is_complete, stream.response.usage.completion_tokens)

        errors = run_threads(threads, work)
    assert not errors, f"{len(errors)} threads failed, first: {errors[0]!r}"
    assert len(results) == threads * per_thread
    for prompt, (text, complete, tokens) in results.items():
        assert text == expected(prompt), prompt
        assert complete, prompt
        assert tokens > 0
    assert len(server.requests) - before == threads * per_thread


def test_8_threads_non_streaming_chat(server: FakeLLMServer) -> None:
    threads, per_thread = 8, 15
    with LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test-concurrency-0000",
                   max_retries=0, timeout=10) as client:
        expected = expected_for(client, server)
        results: dict[str, str] = {}
        lock = threading.Lock()

        def work(i: int) -> None:
            for j in range(per_thread):
                prompt = f"chat {i}/{j}"
                response = client.chat(prompt)
                with lock:
                    results[prompt] = response.content

        errors = run_threads(threads, work)
    assert not errors, f"{len(errors)} threads failed, first: {errors[0]!r}"
    assert len(results) == threads * per_thread
    for prompt, text in results.items():
        assert text == expected(prompt), prompt


def test_threads_mixing_complete_and_abandoned_streams(server: FakeLLMServer) -> None:
    # Abandoned streams close their connections; completed ones go back to the pool. The
    # pool must never hand a half-read connection to another thread.
    threads, per_thread = 8, 20
    with LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test-concurrency-0000",
                   max_retries=0, timeout=10, max_concurrency=4) as client:
        expected = expected_for(client, server)
        results: dict[str, str] = {}
        lock = threading.Lock()

        def work(i: int) -> None:
            for j in range(per_thread):
                prompt = f"mixed {i}/{j}"
                with client.chat_stream(prompt) as stream:
                    if j % 2:
                        first = next(stream)
                        assert first.content in ("", "Hello")
                        continue  # leave the with block mid-stream
                    text = "".join(chunk.content for chunk in stream)
                with lock:
                    results[prompt] = text

        errors = run_threads(threads, work)
    assert not errors, f"{len(errors)} threads failed, first: {errors[0]!r}"
    assert len(results) == threads * per_thread // 2
    for prompt, text in results.items():
        assert text == expected(prompt), prompt
