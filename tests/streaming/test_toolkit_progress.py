"""Progress: exact snapshots, throttled monotone callbacks with a final call, estimates
from the request's max_tokens, thread-safe reads, and the terminal display."""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Iterator

import pytest
from toolkit_support import Boom, ClosableSource, FakeClock, QuarterCounter, text_chunks

from llm_connectivity.errors import ConfigurationError
from llm_connectivity.models import StreamChunk, Usage
from llm_connectivity.streaming import (
    ProgressTracker,
    StreamProgress,
    buffer_words,
    progress_bar,
    track_progress,
)
from llm_connectivity.streaming.progress_bar import format_progress


def test_tracker_snapshot_values() -> None:
    clock = FakeClock(0.0)
    tracker = ProgressTracker(100, clock=clock, counter=QuarterCounter())
    tracker.start()
    clock.advance(2.0)
    tracker.update(StreamChunk(content="x" * 80))  # 20 estimated tokens
    clock.advance(2.0)
    assert tracker.get_progress() == StreamProgress(20, 100, 20.0, 4.0, 16.0, 5.0)
    tracker.update(200)
    assert tracker.get_progress() == StreamProgress(220, 100, 100.0, 4.0, 0.0, 55.0)
    clock.advance(1.0)
    tracker.finish()
    clock.advance(5.0)  # the clock stops at finish
    assert tracker.get_progress() == StreamProgress(220, 220, 100.0, 5.0, 0.0, 44.0, finished=True)


def test_tracker_without_an_estimate_has_no_percentage() -> None:
    clock = FakeClock(0.0)
    tracker = ProgressTracker(clock=clock)
    tracker.start()
    clock.advance(1.0)
    tracker.update(7)
    assert tracker.get_progress() == StreamProgress(7, None, None, 1.0, None, 7.0)


def test_reported_usage_raises_the_count_but_never_lowers_it() -> None:
    tracker = ProgressTracker(50, clock=FakeClock())
    tracker.update(StreamChunk(content="abcd" * 5))  # 5 estimated
    tracker.update(StreamChunk(usage=Usage(completion_tokens=9)))
    assert tracker.get_progress().tokens_received == 9
    tracker.update(StreamChunk(usage=Usage(completion_tokens=3)))
    tracker.update(StreamChunk(usage=Usage(completion_tokens=30, is_estimated=True)))
    assert tracker.get_progress().tokens_received == 9


def test_a_usage_report_on_every_chunk_is_not_added_to_the_running_count() -> None:
    # Gemini reports the completion tokens so far with every chunk: the report replaces the
    # estimate of the text it covers instead of being topped up by it
    chunks = [StreamChunk(content="word " * 3, usage=Usage(completion_tokens=n)) for n in (3, 6, 9)]
    chunks += [StreamChunk(content="tail"), StreamChunk(finish_reason="stop", usage=Usage(completion_tokens=10))]
    seen: list[StreamProgress] = []
    ticking = itertools.count(0.0, 1.0).__next__  # a second per reading: a callback after every chunk
    list(track_progress(chunks, estimated_tokens=20, on_progress=seen.append, interval=0.5, clock=ticking))
    assert [p.tokens_received for p in seen] == [3, 6, 9, 10, 10, 10]
    gemini_fake = [StreamChunk(content="word ", usage=Usage(completion_tokens=4)) for _ in range(4)]
    tracker = ProgressTracker()
    list(track_progress(gemini_fake, tracker=tracker))
    assert tracker.get_progress().tokens_received == 4


def test_callbacks_are_throttled_monotone_clamped_and_final() -> None:
    clock = FakeClock(0.0)

    def source() -> Iterator[StreamChunk]:
        for _ in range(40):
            clock.advance(0.03)
            yield StreamChunk(content="abcd")  # 1 token each, 40 in all vs an estimate of 30

    seen: list[StreamProgress] = []
    out = list(track_progress(source(), estimated_tokens=30, on_progress=seen.append, interval=0.1, clock=clock))
    assert len(out) == 40
    assert 9 <= len(seen) <= 14  # 1.2 s of stream at most one call per 0.1 s, plus the final one
    percentages = [p.percentage for p in seen]
    assert percentages == sorted(percentages)  # type: ignore[type-var]
    assert all(0.0 <= p <= 100.0 for p in percentages)  # type: ignore[operator]
    assert [p.tokens_received for p in seen] == sorted(p.tokens_received for p in seen)
    assert seen[-1] == StreamProgress(40, 40, 100.0, pytest.approx(1.2), 0.0, pytest.approx(40 / 1.2), True)
    assert all(not p.finished for p in seen[:-1])
    assert all(p.eta is not None and p.eta >= 0 for p in seen)


def test_a_failing_stream_reports_progress_then_raises() -> None:
    seen: list[StreamProgress] = []
    source = ClosableSource(text_chunks(["abcd"] * 3), fail=Boom("lost"))
    with pytest.raises(Boom):
        list(track_progress(source, estimated_tokens=10, on_progress=seen.append, clock=FakeClock()))
    assert seen[-1].tokens_received == 3 and not seen[-1].finished and seen[-1].percentage == 30.0
    assert source.closed == 1


class _StreamWithMaxTokens(ClosableSource):
    max_tokens = 64  # what ChatStream is asked to expose (the request's max_tokens)


def test_estimate_defaults_to_max_tokens_through_a_chain() -> None:
    seen: list[StreamProgress] = []
    source = _StreamWithMaxTokens(text_chunks(["abcd " * 4]))
    list(track_progress(buffer_words(source), on_progress=seen.append, clock=FakeClock()))
    assert seen[-1].total_tokens == 64 and seen[-1].tokens_received == 5  # 4 words and the final space: 1 estimated token each


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
def test_a_real_chat_stream_gives_its_max_tokens_as_the_estimate(limit: str) -> None:
    from llm_connectivity import LLMClient
    from llm_connectivity.testing import FakeLLMServer

    seen: list[StreamProgress] = []
    with FakeLLMServer() as server, LLMClient("openai/m", base_url=server.base_url, api_key="k") as client:
        stream = client.chat_stream("hi", **{limit: 400})
        assert stream.max_tokens == 400
        list(track_progress(buffer_words(stream), on_progress=seen.append, interval=1e-6))
        assert client.chat_stream("hi").max_tokens is None
    assert {p.total_tokens for p in seen} == {400} and any(0 < (p.percentage or 0) < 100 for p in seen)
    assert seen[-1].percentage == 100.0 and seen[-1].finished


def test_progress_can_be_read_from_another_thread() -> None:
    tracker = ProgressTracker(1000)
    produced = threading.Event()
    resume = threading.Event()
    readings: list[int] = []

    def source() -> Iterator[StreamChunk]:
        for _ in range(10):
            yield StreamChunk(content="abcd")
        produced.set()
        resume.wait(10)

    def reader() -> None:
        produced.wait(10)
        readings.append(tracker.get_progress().tokens_received)
        resume.set()

    thread = threading.Thread(target=reader)
    thread.start()
    list(track_progress(source(), tracker=tracker))
    thread.join(10)
    assert readings == [10]
    assert tracker.get_progress().finished


def test_bad_progress_options() -> None:
    with pytest.raises(ConfigurationError, match="estimated_tokens"):
        ProgressTracker(0)
    with pytest.raises(ConfigurationError, match="interval"):
        track_progress([], interval=0)


# -- the terminal display -------------------------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _ticking(clock: FakeClock, n: int, step: float) -> Iterator[StreamChunk]:
    for _ in range(n):
        clock.advance(step)
        yield StreamChunk(content="abcd")


def test_progress_bar_on_a_file_writes_plain_periodic_lines() -> None:
    clock = FakeClock(0.0)
    out = io.StringIO()
    chunks = list(progress_bar(_ticking(clock, 10, 0.5), estimated_tokens=20, file=out, use_tqdm=False,
                               clock=clock))
    assert len(chunks) == 10
    assert out.getvalue().splitlines() == [
        "20% 4/20 tokens, 2.0 tok/s, ETA 8.0s",
        "40% 8/20 tokens, 2.0 tok/s, ETA 6.0s",
        "done, 10 tokens in 5.0s, 2.0 tok/s",
    ]


def test_progress_bar_on_a_terminal_redraws_one_line() -> None:
    clock = FakeClock(0.0)
    out = _Terminal()
    list(progress_bar(_ticking(clock, 3, 0.2), file=out, use_tqdm=False, desc="answer", clock=clock))
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert text.split("\r")[1:] == ["answer: 1 tokens, 5.0 tok/s", "answer: 2 tokens, 5.0 tok/s",
                                    "answer: 3 tokens, 5.0 tok/s", "answer: done, 3 tokens in 0.6s, 5.0 tok/s\n"]


def test_progress_bar_uses_tqdm_when_asked() -> None:
    pytest.importorskip("tqdm")
    clock = FakeClock(0.0)
    out = io.StringIO()
    list(progress_bar(_ticking(clock, 5, 0.5), estimated_tokens=5, file=out, use_tqdm=True, clock=clock))
    assert "5/5" in out.getvalue()
    out = io.StringIO()  # a stream shorter than the estimate still ends at 100%
    list(progress_bar(_ticking(clock, 3, 0.5), estimated_tokens=10, file=out, use_tqdm=True, clock=clock))
    final = out.getvalue().rstrip("\n").split("\r")[-1]
    assert final.startswith("100%") and "3/3" in final, out.getvalue()


def test_format_progress_with_unknown_eta() -> None:
    assert format_progress(StreamProgress(0, 10, 0.0, 0.1, None, 0.0)) == "0% 0/10 tokens, 0.0 tok/s, ETA ?"


def test_progress_bar_ends_its_line_when_the_stream_fails() -> None:
    clock = FakeClock(0.0)
    out = _Terminal()
    source = ClosableSource([StreamChunk(content="abcd")] * 3, fail=Boom("lost"))
    with pytest.raises(Boom):
        list(progress_bar(source, file=out, use_tqdm=False, interval=0.001, clock=clock))
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1
    assert source.closed == 1


def test_progress_bar_with_tqdm_closes_the_bar_when_the_stream_fails() -> None:
    pytest.importorskip("tqdm")
    out = _Terminal()
    source = ClosableSource([StreamChunk(content="abcd")] * 3, fail=Boom("lost"))
    with pytest.raises(Boom):
        list(progress_bar(source, estimated_tokens=10, file=out, use_tqdm=True, interval=0.001, clock=FakeClock()))
    assert out.getvalue().endswith("\n") and "3/10" in out.getvalue().split("\r")[-1]
