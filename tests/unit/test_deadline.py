"""Deadline: which limit the next read may wait for, on a FakeClock (no real sleeps)."""

from __future__ import annotations

import pytest

from llm_connectivity.deadline import TERMINAL_GRACE, Deadline
from llm_connectivity.errors import ContentIdleTimeoutError, ReadTimeoutError, TotalTimeoutError
from llm_connectivity.testing import FakeClock


def deadline(clock: FakeClock, **limits: float | None) -> Deadline:
    limits.setdefault("read_timeout", 10.0)
    return Deadline(clock=clock, provider="openai", **limits)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=100.0)


@pytest.mark.parametrize(("limits", "expected"), [
    ({"read_timeout": 12.0}, (12.0, "read_timeout")),
    ({"read_timeout": None}, (None, "read_timeout")),
    ({"total_timeout": 0.5}, (0.5, "total_timeout")),
    ({"read_timeout": 0.25, "total_timeout": 10.0, "content_idle_timeout": 5.0}, (0.25, "read_timeout")),
    ({"total_timeout": 5.0, "content_idle_timeout": 0.5}, (0.5, "content_idle_timeout")),
    ({"read_timeout": None, "total_timeout": 3.0}, (3.0, "total_timeout")),
])
def test_next_timeout_is_the_nearest_limit(clock: FakeClock, limits: dict[str, float | None],
                                           expected: tuple[float | None, str]) -> None:
    assert deadline(clock, **limits).next_timeout() == expected


@pytest.mark.parametrize(("limits", "cls", "name"), [
    ({"total_timeout": 0.02}, TotalTimeoutError, "total_timeout"),
    ({"content_idle_timeout": 0.02}, ContentIdleTimeoutError, "content_idle_timeout"),
])
def test_a_passed_limit_raises_its_error(clock: FakeClock, limits: dict[str, float], cls: type, name: str) -> None:
    d = deadline(clock, **limits)
    clock.advance(0.04)
    with pytest.raises(cls) as info:
        d.next_timeout()
    assert (info.value.seconds, info.value.provider, d.fired) == (0.02, "openai", name)
    assert f"{name} (0.02s; 0.04s since the request started)" in str(info.value)


def test_mark_content_restarts_the_idle_clock_but_not_the_total(clock: FakeClock) -> None:
    d = deadline(clock, total_timeout=0.5, content_idle_timeout=0.15)
    clock.advance(0.1)
    d.mark_content()
    clock.advance(0.1)
    assert d.next_timeout() == (pytest.approx(0.05), "content_idle_timeout")
    d.mark_content()
    clock.advance(0.25)
    d.mark_content()
    clock.advance(0.1)
    with pytest.raises(TotalTimeoutError):
        d.next_timeout()


def test_mark_content_without_idle_limit_changes_nothing(clock: FakeClock) -> None:
    d = deadline(clock, read_timeout=1.0)
    d.mark_content()
    assert d.idle_at is None and d.next_timeout() == (1.0, "read_timeout")


def test_pause_gives_the_consumers_time_back_to_idle_and_grace_only(clock: FakeClock) -> None:
    d = deadline(clock, total_timeout=10.0, content_idle_timeout=1.0)
    clock.advance(3.0)  # the consumer held the stream
    d.pause(3.0)
    assert d.next_timeout() == (1.0, "content_idle_timeout")
    assert d.remaining() == 7.0


@pytest.mark.parametrize(("read_timeout", "grace"), [(60.0, TERMINAL_GRACE), (0.5, 0.5), (None, TERMINAL_GRACE)])
def test_terminal_grace_is_the_shorter_of_read_timeout_and_two_seconds(clock: FakeClock, read_timeout: float | None,
                                                                        grace: float) -> None:
    d = deadline(clock, read_timeout=read_timeout)
    d.start_grace()
    assert d.next_timeout()[0] == grace
    clock.advance(grace)
    with pytest.raises(ReadTimeoutError, match="terminal event did not follow its finish reason"):
        d.next_timeout()
    assert d.fired == "terminal_grace"


def test_timeout_error_classes(clock: FakeClock) -> None:
    d = deadline(clock, read_timeout=1.0, total_timeout=2.0, content_idle_timeout=3.0)
    assert [(type(d.timeout_error(n)), d.timeout_error(n).seconds) for n in
            ("read_timeout", "total_timeout", "content_idle_timeout")] == [
        (ReadTimeoutError, 1.0), (TotalTimeoutError, 2.0), (ContentIdleTimeoutError, 3.0)]


def test_the_system_clock_is_the_default() -> None:
    import time

    before = time.monotonic()
    d = Deadline(read_timeout=1.0, total_timeout=5.0)
    assert before <= d.started <= time.monotonic()
