"""The pytest plugin, run as a user runs it: the first run records against a FakeLLMServer,
the second replays with the server stopped and no API key in the environment."""

from __future__ import annotations

import json

import pytest
from cassette_support import KEY

from llm_connectivity.testing import FakeLLMServer

pytest_plugins = ["pytester"]  # here, not in a conftest: pytest refuses it in non-root conftests

USER_TESTS = '''
import os

import pytest

from llm_connectivity import LLMClient


@pytest.mark.llm_cassette
def test_marked():
    client = LLMClient("openai/gpt-4o-mini", base_url=os.environ["FAKE_OPENAI_URL"])
    assert client.chat("Hi").content == "recorded answer"


@pytest.mark.llm_cassette("shared-name", speed=0)
def test_named():
    client = LLMClient("openai/gpt-4o-mini", base_url=os.environ["FAKE_OPENAI_URL"])
    assert "".join(client.stream("Stream please")) == "streamed answer"


class TestGroup:
    def test_fixture(self, llm_cassette):
        client = LLMClient("anthropic/claude-haiku-4-5", base_url=os.environ["FAKE_ROOT_URL"])
        assert client.chat("Hello Claude").content == "anthropic answer"
        assert llm_cassette.mode == os.environ["EXPECTED_MODE"]
'''


def _env(monkeypatch: pytest.MonkeyPatch, server_url: str, mode: str, key: str | None) -> None:
    monkeypatch.setenv("FAKE_OPENAI_URL", server_url + "/v1")
    monkeypatch.setenv("FAKE_ROOT_URL", server_url)
    monkeypatch.setenv("EXPECTED_MODE", mode)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        if key is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, key)


def test_first_run_records_second_run_replays_without_server_or_key(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    with FakeLLMServer() as server:
        server.add_replies(["recorded answer", "streamed answer", "anthropic answer"])
        url = server.url
        _env(monkeypatch, url, "once", KEY)
        pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)
        assert len(server.requests) == 3
    root = pytester.path / "cassettes" / "test_user"
    assert sorted(p.name for p in root.iterdir()) == ["TestGroup.test_fixture", "shared-name", "test_marked"]
    assert json.loads((root / "TestGroup.test_fixture" / "001.json").read_text())["provider"] == "anthropic"
    for path in root.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path

    _env(monkeypatch, url, "none", None)  # the server is stopped and no key is set
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-record-mode=none")
    result.assert_outcomes(passed=3)


def test_none_mode_fails_a_test_whose_request_was_not_recorded(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_new='''
import pytest
from llm_connectivity import LLMClient

@pytest.mark.llm_cassette
def test_unrecorded():
    LLMClient("openai/gpt-4o-mini", base_url="http://127.0.0.1:9/v1").chat("Hi")
''')
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-record-mode=none")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*CassetteMismatchError: cassette *test_unrecorded does not exist*"])
    assert not (pytester.path / "cassettes").exists()


def test_the_command_line_mode_beats_the_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marker_mode='''
import pytest

@pytest.mark.llm_cassette(mode="all")
def test_mode(llm_cassette):
    assert llm_cassette.mode == "all"
''')
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-record-mode=none").assert_outcomes(failed=1)


def test_xdist_workers_record_their_own_cassettes(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_parallel='''
import os
import pytest
from llm_connectivity import LLMClient

@pytest.mark.parametrize("n", range(4))
def test_ask(n, llm_cassette):
    client = LLMClient("openai/gpt-4o-mini", base_url=os.environ["FAKE_OPENAI_URL"])
    assert client.chat(f"question {n}").content.startswith("answer")
''')
    with FakeLLMServer() as server:
        server.add_replies([f"answer {i}" for i in range(4)])
        url = server.url
        _env(monkeypatch, url, "once", KEY)
        pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2").assert_outcomes(passed=4)
    names = sorted(p.name for p in (pytester.path / "cassettes" / "test_parallel").iterdir())
    assert names == [f"test_ask_{n}" for n in range(4)]
    _env(monkeypatch, url, "none", None)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--llm-record-mode=none").assert_outcomes(
        passed=4)


def test_a_relative_marker_path_is_next_to_the_test_module_wherever_pytest_starts(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.mkpydir("pkg")
    (pytester.path / "pkg" / "test_rel.py").write_text('''
import os
import pytest
from llm_connectivity import LLMClient

@pytest.mark.llm_cassette(path="shared/greeting")
def test_rel(llm_cassette):
    client = LLMClient("openai/gpt-4o-mini", base_url=os.environ["FAKE_OPENAI_URL"])
    assert client.chat("Hi").content == "relative answer"
''')
    with FakeLLMServer() as server:
        server.add_reply("relative answer")
        _env(monkeypatch, server.url, "once", KEY)
        pytester.runpytest_subprocess("-p", "no:cacheprovider", "pkg").assert_outcomes(passed=1)
    assert sorted(p.name for p in (pytester.path / "pkg" / "shared" / "greeting").iterdir()) == [
        "001.body", "001.json", "001.request.json", "timings.json"]
    monkeypatch.chdir(pytester.path / "pkg")  # started elsewhere: the same cassette replays
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-record-mode=none", "test_rel.py",
                                  "--rootdir", str(pytester.path)).assert_outcomes(passed=1)
