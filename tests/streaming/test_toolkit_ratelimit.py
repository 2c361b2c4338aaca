"""Rate limiting: exact waits with an injected clock, big chunks split rather than blocked,
a shared limiter across threads, and the acceptance timing over a loopback stream."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from toolkit_support import ClosableSource, FakeClock, QuarterCounter, contents, text_chunks

from llm_connectivity import LLMClient
from llm_connectivity.errors import ConfigurationError
from llm_connectivity.models import StreamChunk, Usage
from llm_connectivity.streaming import RateLimiter, rate_limit
from llm_connectivity.testing import FakeLLMServer, Reply


def test_limiter_keeps_rate_as_an_alias() -> None:
    clock = FakeClock()
    assert RateLimiter(rate=5, clock=clock).tokens_per_second == 5.0
    assert RateLimiter(tokens_per_second=5, clock=clock).rate == 5.0
    assert RateLimiter(5, clock=clock).burst == 5.0
    with pytest.raises(ConfigurationError, match="exactly once"):
        RateLimiter(5, rate=5)
    with pytest.raises(ConfigurationError, match="exactly once"):
        RateLimiter()


def test_waits_follow_the_bucket() -> None:
    clock = FakeClock(0.0)
    chunks = text_chunks(["abcd"] * 6)  # 1 token each
    out = list(rate_limit(chunks, tokens_per_second=2, burst=2, clock=clock, sleep=clock.sleep))
    assert contents(out) == ["abcd"] * 6
    assert clock.sleeps == [0.5, 0.5, 0.5, 0.5]
    assert clock.now == 2.0


class EagerBucket:
    """The textbook token bucket, refilled at every take: the reference the lazily refilled
    RateLimiter must never be more permissive than."""

    def __init__(self, rate: float, burst: float, clock: FakeClock) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.level, self.stamp = burst, clock()

    def reserve(self, amount: float) -> float:
        now = self.clock()
        self.level = min(self.burst, self.level + (now - self.stamp) * self.rate) - amount
        self.stamp = now
        return 0.0 if self.level >= 0 else -self.level / self.rate


@pytest.mark.parametrize("seed", range(20))
def test_lazy_refill_never_grants_more_than_an_eager_bucket(seed: int) -> None:
    import random

    rng = random.Random(seed)
    clock = FakeClock(0.0)
    lazy, eager = RateLimiter(10, burst=5, clock=clock), EagerBucket(10, 5, clock)
    for _ in range(300):
        clock.advance(rng.choice([0.0, 0.0, 0.01, 0.05, 0.3, 2.0]))
        amount = rng.choice([0.5, 1, 1, 2, 4, 7])
        lazy_wait, eager_wait = lazy.reserve(amount), eager.reserve(amount)
        assert lazy_wait >= eager_wait - 1e-9  # never more permissive...
        assert lazy_wait <= eager_wait + 5 / 10 + 1e-9  # ...and stricter by at most one burst's worth
        if rng.random() < 0.5:  # a caller that honours the wait
            clock.advance(lazy_wait)


def test_a_paced_stream_takes_the_eager_time_and_pause_holds_everyone() -> None:
    clock = FakeClock(0.0)
    limiter = RateLimiter(50, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        limiter.acquire(1)
    assert clock.now == pytest.approx(95 / 50)  # 5 free, then 50 a second
    limiter.pause(3.0)
    assert not limiter.try_acquire(0.001)
    assert limiter.reserve(1) == pytest.approx(3.0 + 1 / 50)  # the bucket refills from the end of the pause
    clock.advance(10.0)
    assert limiter.try_acquire(5) and not limiter.try_acquire(1)  # refilled to the burst, no more
    limiter.adjust(-2)  # an estimate given back
    assert limiter.try_acquire(2)


def test_non_text_chunks_pass_freely() -> None:
    clock = FakeClock(0.0)
    chunks = [StreamChunk(finish_reason="stop"), StreamChunk(usage=Usage(total_tokens=5), is_complete=True)] * 3
    out = list(rate_limit(chunks, tokens_per_second=1, burst=1, clock=clock, sleep=clock.sleep))
    assert out == chunks and clock.sleeps == []


def test_a_chunk_bigger_than_the_burst_is_split_and_released() -> None:
    clock = FakeClock(0.0)
    big = StreamChunk(content="word " * 20, finish_reason="stop", index=4)  # 20 * 5 chars: 25 tokens
    out = list(rate_limit([big], tokens_per_second=10, burst=5, clock=clock, sleep=clock.sleep,
                          counter=QuarterCounter()))
    assert "".join(c.content for c in out) == big.content
    assert len(out) == 5 and all(c.content.endswith(" ") for c in out)
    assert [c.finish_reason for c in out] == [None, None, None, None, "stop"]  # the last piece keeps the rest
    assert clock.now == pytest.approx(2.0)  # 25 tokens at 10/s with 5 free


def test_unlimited_passes_the_same_objects_and_closes() -> None:
    chunks = text_chunks(["a", "b"])
    source = ClosableSource(chunks)
    assert list(rate_limit(source, tokens_per_second=float("inf"))) == chunks
    assert source.closed == 1


def test_one_limiter_paces_many_threads() -> None:
    limiter = RateLimiter(tokens_per_second=200, burst=1)
    start = time.monotonic()

    def consume() -> None:
        for _ in rate_limit(text_chunks(["abcd"] * 20), limiter=limiter):
            pass

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    elapsed = time.monotonic() - start
    assert 0.3 <= elapsed < 10  # 80 tokens at 200/s shared: about 0.4 s, not 0.1 s


def test_bad_rate_limit_options() -> None:
    with pytest.raises(ConfigurationError, match="exactly one"):
        rate_limit([])
    with pytest.raises(ConfigurationError, match="positive"):
        rate_limit([], tokens_per_second=0)
    with pytest.raises(ConfigurationError, match="burst"):
        rate_limit([], limiter=RateLimiter(1), burst=3)


def _timed(stream: Iterator[StreamChunk]) -> tuple[float, str]:
    start = time.monotonic()
    text = "".join(c.content for c in stream)
    return time.monotonic() - start, text


def test_acceptance_50_tokens_per_second_over_loopback() -> None:
    """100 tokens at 50 tokens/s take about 2 s; the same stream unthrottled takes well under 0.3 s."""
    text = "abc " * 100  # 100 pieces of one estimated token each
    with FakeLLMServer() as server, LLMClient("openai/gpt-4o-mini", base_url=server.base_url,
                                              api_key="sk-test") as client:
        server.add_reply(Reply(chunks=["abc "] * 100))
        server.add_reply(Reply(chunks=["abc "] * 100))
        server.add_reply(Reply(chunks=["abc "] * 100))
        client.chat_stream("hi").text()  # warm-up: connection, and the client's background loading of prices
        fast, fast_text = _timed(rate_limit(client.chat_stream("hi"), tokens_per_second=float("inf")))
        slow, slow_text = _timed(rate_limit(client.chat_stream("hi"), tokens_per_second=50))
    assert fast_text == slow_text == text
    assert 1.7 <= slow <= 4.0, slow  # (100 - 5 burst) / 50 = 1.9 s
    assert fast < 0.3, fast


def test_callers_queued_during_a_pause_are_released_at_the_rate_after_it() -> None:
    clock = FakeClock(0.0)
    limiter = RateLimiter(10, burst=10, clock=clock)
    limiter.pause(60)
    released = []
    for t in (0, 10, 20, 30, 40, 50, 60):  # one caller of 10 tokens every 10 s of the pause
        clock.now = float(t)
        released.append(t + limiter.reserve(10))
    assert released == pytest.approx([61, 62, 63, 64, 65, 66, 67])  # not 70 tokens at once at 60
    limiter = RateLimiter(10, burst=10, clock=clock)
    limiter.pause(10)
    clock.now = 65.0
    limiter.adjust(-100)  # giving back during the pause does not fill the bucket early
    assert not limiter.try_acquire(1)
    clock.now = 70.0 + 0.2  # after it: refilled at the rate from the end of the pause
    assert limiter.try_acquire(2) and not limiter.try_acquire(1)


def test_a_big_chunk_is_paced_like_the_same_text_in_small_chunks() -> None:
    def paced(chunks: list[StreamChunk]) -> float:
        clock = FakeClock(0.0)
        assert "".join(contents(rate_limit(chunks, tokens_per_second=50, clock=clock, sleep=clock.sleep))) == \
            "".join(c.content for c in chunks)
        return clock.now

    whole = StreamChunk(content="word " * 100, token_count=100)
    assert paced([whole]) == pytest.approx(95 / 50)  # 100 tokens, 5 free, 50 a second
    assert paced([StreamChunk(content=" word", token_count=1) for _ in range(100)]) == pytest.approx(95 / 50)
