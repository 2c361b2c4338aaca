"""Cassette behaviour: modes, matching, errors, time limits, abort, threads, decorator."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cassette_support import stream
from cassette_support import openai_client as _client

from llm_connectivity import RetryPolicy
from llm_connectivity.errors import (
    ConnectError,
    RateLimitError,
    ReadTimeoutError,
    StreamInterruptedError,
)
from llm_connectivity.testing import CassetteMismatchError, FakeClock, FakeLLMServer, cassette, faults
from llm_connectivity.testing.cassette import CassetteError, load_cassette
from llm_connectivity.transport import get_interceptor

def test_once_records_when_missing_then_replays(tmp_path: Path) -> None:
    path = tmp_path / "once"
    with FakeLLMServer() as server:
        server.add_reply("first answer")
        with cassette(path) as cas:
            assert _client(server.base_url).chat("Hi").content == "first answer"
        assert cas.records and [i.name for i in cas.recorded] == ["001"]
    with cassette(path) as cas:  # exists now: replay only, the server is gone
        assert _client().chat("Hi").content == "first answer"
        assert not cas.records
        with pytest.raises(CassetteMismatchError):
            _client().chat("Something new")


def test_new_episodes_appends_and_all_replaces(tmp_path: Path) -> None:
    path = tmp_path / "episodes"
    with FakeLLMServer() as server:
        server.add_replies(["one", "two", "three"])
        with cassette(path, mode="all"):
            _client(server.base_url).chat("A")
        with cassette(path, mode="new_episodes") as cas:
            assert _client(server.base_url).chat("A").content == "one"  # replayed
            assert _client(server.base_url).chat("B").content == "two"  # recorded
        assert [i.name for i in cas.replayed] == ["001"] and [i.name for i in cas.recorded] == ["002"]
        assert [i.request["body"]["messages"][0]["content"] for i in load_cassette(path)] == ["A", "B"]
        with cassette(path, mode="all"):
            assert _client(server.base_url).chat("A").content == "three"
    items = load_cassette(path)
    assert [(i.name, i.body.count(b"three")) for i in items] == [("001", 1)]


def test_none_mode_with_no_cassette_says_how_to_record(tmp_path: Path) -> None:
    with cassette(tmp_path / "missing", mode="none"), pytest.raises(CassetteMismatchError) as caught:
        _client().chat("Hi")
    assert "does not exist" in str(caught.value) and "mode='once'" in str(caught.value)
    assert not (tmp_path / "missing").exists()


def test_repeated_identical_requests_replay_in_recorded_order(tmp_path: Path) -> None:
    path = tmp_path / "repeat"
    with FakeLLMServer() as server:
        server.add_replies(["first", "second"])
        with cassette(path):
            _client(server.base_url).chat("Same")
            _client(server.base_url).chat("Same")
    with cassette(path, mode="none"):
        assert [_client().chat("Same").content for _ in range(2)] == ["first", "second"]
        with pytest.raises(CassetteMismatchError) as caught:
            _client().chat("Same")
    assert "already replayed" in str(caught.value)


def test_match_on_fields_and_functions(tmp_path: Path) -> None:
    path = tmp_path / "match"
    with FakeLLMServer() as server:
        server.add_reply("recorded")
        with cassette(path):
            _client(server.base_url).chat("original prompt")
    with cassette(path, mode="none", match_on=("method", "path")):
        assert _client().chat("a different prompt").content == "recorded"

    def same_model(request: dict, recorded: dict) -> bool:
        return bool(request["body"]["model"] == recorded["body"]["model"])

    with cassette(path, mode="none", match_on=same_model):
        assert _client().chat("another prompt").content == "recorded"
    with cassette(path, mode="none", match_on=("method", "path", "body")), pytest.raises(CassetteMismatchError):
        _client().chat("a different prompt")


@pytest.mark.parametrize("kwargs, needle", [
    ({"mode": "sometimes"}, "unknown cassette mode 'sometimes'"),
    ({"speed": -1}, "speed must be a finite number >= 0"),
    ({"match_on": ("method", "verb")}, "unknown match_on field(s) 'verb'"),
    ({"match_on": "path"}, "match_on must be a non-empty tuple"),
])
def test_bad_arguments_fail_before_any_io(tmp_path: Path, kwargs: dict, needle: str) -> None:
    with pytest.raises(CassetteError) as caught:
        cassette(tmp_path / "x", **kwargs)
    assert needle in str(caught.value)


def test_cassettes_do_not_nest(tmp_path: Path) -> None:
    with cassette(tmp_path / "outer") as outer:
        with pytest.raises(CassetteError, match="already active"):
            with cassette(tmp_path / "inner"):
                pass  # pragma: no cover
        assert get_interceptor() is outer
    assert get_interceptor() is None


def test_http_error_status_replays_as_the_same_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "status"
    with FakeLLMServer() as server:
        server.add_reply(faults.status(429, headers={"Retry-After": "7"}))
        with cassette(path), pytest.raises(RateLimitError) as recorded:
            _client(server.base_url).chat("Hi")
    with cassette(path, mode="none"), pytest.raises(RateLimitError) as replayed:
        _client().chat("Hi")
    assert (replayed.value.status_code, replayed.value.retry_after, replayed.value.message) == (
        429, 7.0, recorded.value.message)


def test_retried_attempts_are_recorded_and_replayed_in_order(tmp_path: Path) -> None:
    path = tmp_path / "retried"
    retries = RetryPolicy(max_retries=2, backoff_base=0.01)
    with FakeLLMServer() as server:
        server.add_replies([faults.status(503), faults.status(503), "third time lucky"])
        with cassette(path):
            assert _client(server.base_url, max_retries=retries).chat("Hi").content == "third time lucky"
    assert [item.status for item in load_cassette(path)] == [503, 503, 200]
    with cassette(path, mode="none") as cas:
        assert _client(max_retries=retries).chat("Hi").content == "third time lucky"
    assert [item.name for item in cas.replayed] == ["001", "002", "003"]


def test_bytes_after_the_terminal_event_are_recorded_by_the_drain(tmp_path: Path) -> None:
    events = faults.chat_events("All of it")
    body = b"".join(events) + b": a comment after [DONE]\n\n"
    with FakeLLMServer() as server:
        server.add_raw(body, pieces=[len(b"".join(events)), len(body) - len(b"".join(events))], delay=0.01)
        with cassette(tmp_path / "tail"):
            assert stream(_client(server.base_url), "Hi").text == "All of it"
    [item] = load_cassette(tmp_path / "tail")
    assert item.body == body and item.complete and item.error is None
    assert (tmp_path / "tail" / "001.sse").read_bytes() == body


def test_connect_error_replays(tmp_path: Path) -> None:
    path = tmp_path / "refused"
    with FakeLLMServer() as server:
        dead = server.base_url
    with cassette(path), pytest.raises(ConnectError) as recorded:
        _client(dead).chat("Hi")
    assert load_cassette(path)[0].status is None
    with cassette(path, mode="none"), pytest.raises(ConnectError) as replayed:
        _client(dead).chat("Hi")
    assert replayed.value.message == recorded.value.message


def test_recorded_read_timeout_and_a_gap_longer_than_the_read_limit(tmp_path: Path) -> None:
    path = tmp_path / "stall"
    with FakeLLMServer() as server:
        server.add_reply(faults.stall_after(2, text="Hello there friend"))
        server.add_reply("slow paced answer", delay=0.3)
        client = _client(server.base_url, timeout={"read_timeout": 0.3})
        with cassette(path):
            stalled = stream(client, "stall")
            paced = stream(_client(server.base_url, timeout={"read_timeout": 2.0}), "paced")
    assert isinstance(stalled.error, ReadTimeoutError) and stalled.text == "Hello there"
    assert paced.error is None
    with cassette(path, mode="none", speed=0):
        again = stream(_client(timeout={"read_timeout": 0.3}), "stall")
    assert type(again.error) is ReadTimeoutError and again.text == "Hello there"
    with cassette(path, mode="none", speed=1.0):  # the replay honours a shorter read limit
        stream(_client(timeout={"read_timeout": 0.3}), "stall")
        started = time.monotonic()
        impatient = stream(_client(timeout={"read_timeout": 0.1}), "paced")
        waited = time.monotonic() - started
    assert type(impatient.error) is ReadTimeoutError and "read_timeout (0.1s" in impatient.error.message
    assert impatient.text == "" and 0.09 <= waited < 0.28  # the recorded gap was 0.3 s


def test_close_from_another_thread_wakes_a_replay_gap(tmp_path: Path) -> None:
    path = tmp_path / "abort"
    with FakeLLMServer() as server:
        server.add_reply("one two three", delay=0.4)
        with cassette(path):
            stream(_client(server.base_url), "go")
    with cassette(path, mode="none"):
        chunks = _client().chat_stream("go")
        first = next(chunks)
        while not first.content:
            first = next(chunks)
        closer = threading.Timer(0.05, chunks.close)
        started = time.monotonic()
        closer.start()
        with pytest.raises(StreamInterruptedError, match="closed by the caller"):
            for _ in chunks:
                pass
        closer.join()
    assert time.monotonic() - started < 0.3  # not the 0.4 s recorded gap


def test_replay_runs_on_a_fake_clock(tmp_path: Path) -> None:
    path = tmp_path / "virtual"
    with FakeLLMServer() as server:
        server.add_reply("slow slow quick", delay=0.3)
        with cassette(path):
            recorded = stream(_client(server.base_url), "go")
    clock = FakeClock()
    started = time.monotonic()
    with cassette(path, mode="none"):
        replayed = stream(_client(clock=clock), "go")
    assert replayed.contents == recorded.contents and time.monotonic() - started < 0.25
    assert sum(1 for s in clock.sleeps if 0.24 < s < 0.5) >= 3  # the recorded gaps, in virtual time


def test_threads_record_and_replay_their_own_exchanges(tmp_path: Path) -> None:
    path = tmp_path / "threads"
    prompts = [f"question {i}" for i in range(6)]
    with FakeLLMServer() as server:
        client = _client(server.base_url)
        with cassette(path), ThreadPoolExecutor(3) as pool:
            recorded = list(pool.map(lambda p: client.chat(p).content, prompts))
    client = _client()
    with cassette(path, mode="none") as cas, ThreadPoolExecutor(3) as pool:
        replayed = list(pool.map(lambda p: client.chat(p).content, reversed(prompts)))
    assert replayed == list(reversed(recorded)) and len(cas.replayed) == 6
    assert all("question" in text for text in recorded)


def test_decorator_records_on_the_first_call_and_replays_on_the_second(tmp_path: Path) -> None:
    path = tmp_path / "decorated"
    server = FakeLLMServer().start()
    server.add_reply("decorated answer")
    base_url = server.base_url

    @cassette(path)
    def ask() -> str:
        return _client(base_url).chat("Hi").content

    try:
        assert ask() == "decorated answer"
    finally:
        server.stop()
    assert ask() == "decorated answer"
    assert get_interceptor() is None
