"""The ``llm-connectivity`` command."""

from __future__ import annotations

import pytest

from llm_connectivity.cli import main


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"])
def test_local_mode_streams_an_answer(model: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--local", "-m", model, "hello", "there"]) == 0
    out = capsys.readouterr().out
    assert 'You said: "hello there"' in out


def test_missing_key_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-m", "openai/gpt-4o-mini", "hi"]) == 1
    assert "OPENAI_API_KEY" in capsys.readouterr().err


def test_unknown_provider_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-m", "nope/x", "hi"]) == 1
    assert "unknown provider 'nope'" in capsys.readouterr().err
