"""The issue's acceptance check, as a new user would run it: record a paced stream and a
stream that breaks mid-way against a loopback server, stop the server, replay."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.errors import StreamInterruptedError
from llm_connectivity.testing import CassetteMismatchError, FakeLLMServer, cassette, faults

from cassette_support import KEY, Run, files_of, stream

GAP = 0.1  # seconds between the server's events (20% of it: the tolerance)


def _both(client: LLMClient) -> tuple[Run, Run]:
    return stream(client, "Count to five", max_tokens=20), stream(client, "Tell me more")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, tuple[Run, Run]]:
    path = tmp_path_factory.mktemp("acceptance") / "paced-and-broken"
    with FakeLLMServer() as server:
        server.add_reply("One two three four five six", delay=GAP)
        server.add_reply(faults.drop_after(3, text="Hello there, this stream is cut off"))
        base_url = server.base_url
        client = LLMClient("openai/gpt-4o-mini", base_url=base_url, api_key=KEY, max_retries=0)
        with cassette(path) as cas:
            runs = _both(client)
        assert cas.records and len(cas.recorded) == 2
    return path, base_url, runs  # the server is stopped from here on


def _replay(path: Path, base_url: str, speed: float) -> tuple[Run, Run]:
    client = LLMClient("openai/gpt-4o-mini", base_url=base_url, api_key="test", max_retries=0)
    with cassette(path, mode="none", speed=speed) as cas:
        runs = _both(client)
    assert [item.name for item in cas.replayed] == ["001", "002"]
    return runs


def test_the_recording_saw_a_paced_stream_and_a_break(recorded: tuple[Path, str, tuple[Run, Run]]) -> None:
    _, _, (paced, broken) = recorded
    assert paced.text == "One two three four five six" and paced.error is None
    assert paced.usage.completion_tokens == 6 and not paced.usage.is_estimated
    assert isinstance(broken.error, StreamInterruptedError) and broken.text == "Hello there, this"


@pytest.mark.parametrize("speed", [1.0, 0.0])
def test_replay_gives_the_same_chunks_text_usage_and_error(recorded: tuple[Path, str, tuple[Run, Run]],
                                                           speed: float) -> None:
    path, base_url, (paced, broken) = recorded
    again, broken_again = _replay(path, base_url, speed)
    assert again.contents == paced.contents
    assert again.text == paced.text and again.usage == paced.usage and again.error is None
    assert broken_again.contents == broken.contents == ["Hello", " there,", " this"]
    assert type(broken_again.error) is StreamInterruptedError
    assert broken_again.error.message == broken.error.message  # type: ignore[union-attr]
    assert broken_again.text == "Hello there, this"


def test_replay_keeps_the_gaps_at_speed_1_and_drops_them_at_speed_0(
        recorded: tuple[Path, str, tuple[Run, Run]]) -> None:
    path, base_url, (paced, _) = recorded
    content_gaps = paced.gaps[1:6]  # between the six word chunks, each paced by the server
    assert all(gap > GAP * 0.8 for gap in content_gaps), content_gaps
    real_speed, _ = _replay(path, base_url, 1.0)
    for recorded_gap, replayed_gap in zip(content_gaps, real_speed.gaps[1:6]):
        assert abs(replayed_gap - recorded_gap) <= 0.2 * recorded_gap, (content_gaps, real_speed.gaps)
    no_gaps, _ = _replay(path, base_url, 0.0)
    assert max(no_gaps.gaps) < 0.2 * GAP, no_gaps.gaps
    tenfold = Run()
    client = LLMClient("openai/gpt-4o-mini", base_url=base_url, api_key="test")
    with cassette(path, mode="none", speed=10):
        tenfold = stream(client, "Count to five", max_tokens=20)
    assert statistics.median(tenfold.gaps[1:6]) < GAP / 2


def test_no_key_value_in_any_cassette_file(recorded: tuple[Path, str, tuple[Run, Run]]) -> None:
    path, _, _ = recorded
    files = files_of(path)
    assert sorted(files) == ["001.json", "001.request.json", "001.sse", "002.json", "002.request.json", "002.sse",
                             "timings.json"]
    for name, data in files.items():
        assert KEY.encode() not in data, name
        assert KEY[-8:].encode() not in data, name


def test_an_unrecorded_request_in_none_mode_raises_mismatch(recorded: tuple[Path, str, tuple[Run, Run]]) -> None:
    path, base_url, _ = recorded
    client = LLMClient("openai/gpt-4o-mini", base_url=base_url, api_key="test")
    with cassette(path, mode="none", speed=0), pytest.raises(CassetteMismatchError) as caught:
        client.chat("Count to six", max_tokens=20)
    message = str(caught.value)
    assert "POST /v1/chat/completions" in message and "closest recorded: 001" in message
    assert '-   "content": "Count to five",' in message and '+   "content": "Count to six",' in message
    assert '\n- "stream": true,\n' in message  # the recording streamed, this call does not
