"""Batches against a real loopback FakeLLMServer, as a user runs them: timing under an RPM
limit, no duplicates, order, failures, 429 back-off, streaming, checkpoint resume, kill -9."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.errors import BadRequestError, InvalidRequestError, RateLimitError
from llm_connectivity.models import StreamChunk
from llm_connectivity.testing import FakeLLMServer, Reply

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as srv:
        yield srv


def _client(server: FakeLLMServer, **kwargs: object) -> LLMClient:
    return LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test", **kwargs)  # type: ignore[arg-type]


def _prompts_sent(server: FakeLLMServer) -> list[str]:
    return [r.json["messages"][-1]["content"] for r in server.requests]


def test_1000_prompts_16_workers_under_an_rpm_limit(server: FakeLLMServer) -> None:
    prompts = [f"prompt number {i}" for i in range(1000)]
    rpm = 24_000  # 400 a second, bursts of one second: the last 600 need at least 1.5 s
    with _client(server, max_concurrency=16) as client:
        started = time.monotonic()
        results = client.batch_chat(prompts, max_workers=16, requests_per_minute=rpm, progress=False)
        elapsed = time.monotonic() - started
    assert elapsed >= (1000 - rpm / 60) / (rpm / 60) * 0.95
    assert elapsed < 60
    sent = _prompts_sent(server)
    assert len(sent) == 1000 and sorted(sent) == sorted(prompts)  # each sent exactly once
    assert [r.index for r in results] == list(range(1000))
    assert all(r.ok and f'You said: "{p}"' in r.content for r, p in zip(results, prompts))
    assert results.summary.succeeded == 1000 and results.summary.requests_sent == 1000
    assert results.summary.total_tokens == sum(r.response.usage.total_tokens for r in results if r.response)


def test_a_failing_item_leaves_the_others_intact(server: FakeLLMServer) -> None:
    server.add_replies(["first", "second", Reply(status=400)])
    items = [f"p{i}" for i in range(6)] + [{"id": "bad-param", "messages": "x", "max_tokens": 0}]
    with _client(server) as client:
        results = client.batch_chat(items, max_workers=1, progress=False)
    assert [r.status for r in results] == ["ok", "ok", "error", "ok", "ok", "ok", "error"]
    assert [results[0].content, results[1].content] == ["first", "second"]
    assert isinstance(results[2].error, BadRequestError) and results[2].error.status_code == 400
    assert isinstance(results[6].error, InvalidRequestError) and results[6].id == "bad-param"
    assert _prompts_sent(server) == [f"p{i}" for i in range(6)]  # the invalid one never left


def test_a_max_tokens_that_is_not_a_number_fails_that_item_only(server: FakeLLMServer) -> None:
    with _client(server) as client:
        results = client.batch_chat([{"messages": "a", "max_tokens": "abc"}, "b"], tokens_per_minute=60_000,
                                    progress=False)
    assert [r.status for r in results] == ["error", "ok"]
    assert isinstance(results[0].error, InvalidRequestError) and "max_tokens" in str(results[0].error)
    assert _prompts_sent(server) == ["b"]


def test_a_429_pauses_the_whole_batch_for_retry_after(server: FakeLLMServer) -> None:
    server.add_reply(Reply(status=429, headers={"Retry-After": "1"}))
    with _client(server) as client:
        results = client.batch_chat([f"p{i}" for i in range(12)], max_workers=4, progress=False)
    assert all(r.ok for r in results)
    assert (results.summary.rate_limited, results.summary.requests_sent) == (1, 13)
    times = [r.received_at for r in server.requests]
    t429 = times[0]
    assert not [t for t in times if t429 + 0.5 < t < t429 + 0.95]  # nobody sent during the pause
    assert sum(1 for t in times if t >= t429 + 0.95) >= 13 - 8  # at most two rounds went before it
    assert sum(1 for r in results if r.attempts == 2) == 1


def test_a_retry_after_beyond_the_cap_stops_the_batch_instead_of_stalling_it(server: FakeLLMServer) -> None:
    server.add_reply(Reply(status=429, headers={"Retry-After": "3600"}))  # e.g. a daily quota used up
    finished = threading.Event()
    outcome: list[Any] = []

    def run() -> None:
        with _client(server) as client:
            outcome.append(client.batch_chat([f"p{i}" for i in range(5)], max_workers=1, progress=False))
        finished.set()

    threading.Thread(target=run, daemon=True).start()
    assert finished.wait(20), "the batch waited for the hour the server asked for"
    (results,) = outcome
    assert [r.status for r in results] == ["error", "skipped", "skipped", "skipped", "skipped"]
    assert isinstance(results[0].error, RateLimitError)
    assert (results.summary.stopped, len(server.requests)) == ("rate_limited", 1)
    assert "stopped: rate_limited" in results.summary.line()


def test_stream_items_with_on_chunk(server: FakeLLMServer) -> None:
    seen: dict[str, list[str]] = {}

    def on_chunk(item: object, chunk: StreamChunk) -> None:
        seen.setdefault(item.id, []).append(chunk.content)  # type: ignore[attr-defined]

    with _client(server) as client:
        results = client.batch_chat(["a b c", "d e"], stream=True, on_chunk=on_chunk, max_workers=2, progress=False)
    assert [r.ok for r in results] == [True, True]
    assert "".join(seen["0"]) == results[0].content and len(seen["0"]) > 5
    assert all(r.json["stream"] is True for r in server.requests)


def test_iter_batch_yields_as_items_finish(server: FakeLLMServer) -> None:
    server.add_replies([Reply(text="slow", first_delay=0.5), "fast"])
    with _client(server) as client:
        order = [r.content for r in client.iter_batch(["a", "b"], max_workers=2, stream=True, progress=False)]
    assert order == ["fast", "slow"]


def test_checkpoint_resume_skips_finished_and_redoes_changed(server: FakeLLMServer, tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with _client(server) as client:
        first = client.batch_chat([f"p{i}" for i in range(5)], checkpoint=path, progress=False)
        assert all(r.ok for r in first) and len(server.requests) == 5
        items = [f"p{i}" for i in range(5)] + ["p5", "p6"]
        items[2] = "p2 changed"
        second = client.batch_chat(items, checkpoint=path, progress=False)
    assert [r.from_checkpoint for r in second] == [True, True, False, True, True, False, False]
    assert sorted(_prompts_sent(server)[5:]) == ["p2 changed", "p5", "p6"]
    assert second[0].content == first[0].content
    assert (second.summary.resumed, second.summary.requests_sent) == (4, 3)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["id"] for line in lines] == [str(i) for i in range(7)]  # rewritten in input order
    assert "sk-test" not in path.read_text()


def test_a_changed_client_default_redoes_the_items_it_changes(server: FakeLLMServer, tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    items = ["a", {"messages": "b", "max_tokens": 7}]
    with _client(server, max_tokens=5) as short:
        short.batch_chat(items, checkpoint=path, progress=False)
    with _client(server, max_tokens=5) as same:
        assert [r.from_checkpoint for r in same.batch_chat(items, checkpoint=path, progress=False)] == [True, True]
    with _client(server, max_tokens=500) as longer:  # what `batch --max-tokens 500` does on a re-run
        again = longer.batch_chat(items, checkpoint=path, progress=False)
    assert [r.from_checkpoint for r in again] == [False, True]  # the item's own max_tokens still wins
    assert sorted(r.json["max_completion_tokens"] for r in server.requests) == [5, 7, 500]


def test_failed_items_are_redone_unless_retry_failed_is_false(server: FakeLLMServer, tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    server.add_reply(Reply(status=400))
    with _client(server) as client:
        assert client.batch_chat(["a"], checkpoint=path, progress=False)[0].status == "error"
        kept = client.batch_chat(["a"], checkpoint=path, progress=False, retry_failed=False)
        assert (kept[0].status, kept[0].from_checkpoint, type(kept[0].error)) == ("error", True, BadRequestError)
        assert len(server.requests) == 1
        redone = client.batch_chat(["a"], checkpoint=path, progress=False)
    assert (redone[0].status, len(server.requests)) == ("ok", 2)


_CHILD = textwrap.dedent("""
    import sys
    from llm_connectivity import LLMClient
    client = LLMClient("openai/gpt-4o-mini", base_url=sys.argv[1], api_key="sk-test")
    client.batch_chat([f"item {i}" for i in range(int(sys.argv[3]))], max_workers=4,
                      checkpoint=sys.argv[2], progress=False)
""")


def _wait_for_lines(path: Path, count: int, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"the child wrote fewer than {count} lines (exit {proc.poll()})")


def test_kill_9_halfway_then_rerun_finishes_without_redoing(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    total = 120
    with FakeLLMServer(delay=0.004) as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, server.base_url, str(path), str(total)], env=env)
        try:
            _wait_for_lines(path, 30, proc)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        with open(path, "ab") as handle:
            handle.write(b'{"id":"9999","status":"o')  # as if killed in the middle of a write
        done = {json.loads(line)["id"] for line in path.read_bytes().splitlines()[:-1]}
        assert 30 <= len(done) < total
        before = len(server.requests)
        with LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test") as client:
            results = client.batch_chat([f"item {i}" for i in range(total)], max_workers=4,
                                        checkpoint=path, progress=False)
        resent = _prompts_sent(server)[before:]
    assert all(r.ok for r in results) and len(results) == total
    assert len(resent) == total - len(done)  # finished items were not sent again
    assert not {p.split()[1] for p in resent} & done
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == [str(i) for i in range(total)]


def test_stopping_iteration_early_writes_every_item_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with FakeLLMServer(delay=0.005) as server, _client(server) as client:
        results = client.iter_batch([f"p{i}" for i in range(40)], max_workers=4, checkpoint=path, progress=False)
        for number, _ in enumerate(results, 1):
            if number == 5:
                break
        results.close()  # type: ignore[attr-defined]
        written = [json.loads(line) for line in path.read_text().splitlines()]
        assert 5 <= len(written) == len(server.requests) < 40  # no new item started, in-flight ones kept
        assert all(record["status"] == "ok" for record in written)


def test_progress_line_on_stderr(server: FakeLLMServer, capsys: pytest.CaptureFixture[str]) -> None:
    with _client(server) as client:
        results = client.batch_chat([f"p{i}" for i in range(10)], max_workers=2)
    err = capsys.readouterr().err
    assert results.summary.succeeded == 10
    assert err.splitlines()[-1].startswith("batch 10/10 | ok 10 failed 0 | ")  # not a terminal: plain lines


_STREAMING_CHILD = textwrap.dedent("""
    import sys
    from llm_connectivity import LLMClient
    client = LLMClient("openai/gpt-4o-mini", base_url=sys.argv[1], api_key="sk-test")
    try:
        client.batch_chat([f"item {i}" for i in range(8)], max_workers=4, stream=True,
                          checkpoint=sys.argv[2], progress=False)
    except KeyboardInterrupt:
        sys.exit(130)
""")


def _interrupt_twice(cmd: list[str], server: FakeLLMServer, in_flight: int, signum: int) -> tuple[int, str, float]:
    """Run ``cmd``; once ``in_flight`` requests arrived signal it twice (0.3 s apart); return
    its exit status, stderr and the seconds from the first signal to its end."""
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-test"},
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(server.requests) < in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(server.requests) == in_flight
        started = time.monotonic()
        proc.send_signal(signum)  # first: stop starting items, wait for those in flight
        time.sleep(0.3)
        proc.send_signal(signum)  # second: stop waiting, close the streams
        _, err = proc.communicate(timeout=60)
        return proc.returncode, err, time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def test_a_second_ctrl_c_closes_open_streams_at_once(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    slow = Reply(text=" ".join(["word"] * 200), delay=0.1)  # 20 s an item
    with FakeLLMServer(default_reply=slow) as server:
        code, err, elapsed = _interrupt_twice([sys.executable, "-c", _STREAMING_CHILD, server.base_url, str(path)],
                                              server, 4, signal.SIGINT)
        assert code == 130, err
        assert elapsed < 10  # not the 20 s the streams needed, nor the 30 s grace
        assert len(server.requests) == 4
    assert not path.exists() or path.read_text() == ""  # nothing finished, nothing written


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_second_signal_ends_the_cli_at_once_with_many_calls_in_flight(signum: int, status: int,
                                                                        tmp_path: Path) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(f"item {i}") + "\n" for i in range(20)))
    with FakeLLMServer(default_reply=Reply(text="slow", first_delay=60)) as server:  # never answers in time
        cmd = [sys.executable, "-m", "llm_connectivity", "batch", str(source), str(out), "--base-url",
               server.base_url, "--workers", "8", "--no-progress"]
        code, err, elapsed = _interrupt_twice(cmd, server, 8, signum)
    assert code == status and "Traceback" not in err, err
    assert elapsed < 6  # not 2 s for each of the 8 workers in turn (non-streamed calls cannot be closed)
    assert out.read_text() == ""  # nothing finished, nothing written


def test_tqdm_bar_on_a_terminal(server: FakeLLMServer, tmp_path: Path) -> None:
    tqdm = pytest.importorskip("tqdm")
    del tqdm
    from llm_connectivity.batch.progress import BatchProgressBar
    from llm_connectivity.batch.results import BatchSummary

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    bar = BatchProgressBar(2, file=out)
    bar.update(BatchSummary(total=2, succeeded=1))
    bar.update(BatchSummary(total=2, succeeded=1, failed=1))
    bar.close(BatchSummary(total=2, succeeded=1, failed=1))
    final = out.getvalue().rstrip().rsplit("\r", 1)[-1]
    assert final.startswith("batch: 100%") and "2/2" in final and "failed=1" in final and "ok=1" in final
