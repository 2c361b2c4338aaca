"""Regressions found by the fresh-eyes review of the cassette recorder (issue 18)."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest
from cassette_support import openai_client as _client
from cassette_support import record_chats

from llm_connectivity import LLMClient
from llm_connectivity.errors import AuthenticationError, ConfigurationError, StreamInterruptedError
from llm_connectivity.testing import CassetteMismatchError, FakeLLMServer, cassette, faults
from llm_connectivity.testing.cassette import CassetteError, CassetteSecretError, Interaction, load_cassette
from llm_connectivity.testing.cassette.storage import write_cassette
from llm_connectivity.testing.cassette.vcr import import_vcr


def test_a_stream_the_caller_closed_is_recorded_as_unfinished_not_as_a_server_fault(tmp_path: Path) -> None:
    path = tmp_path / "closed"
    with FakeLLMServer() as server:
        server.add_reply("one two three four five", delay=0.2)
        with cassette(path):
            chunks = _client(server.base_url).chat_stream("go")
            seen = []
            with pytest.raises(StreamInterruptedError, match="closed by the caller"):
                for chunk in chunks:
                    if chunk.content:
                        seen.append(chunk.content)
                    if len(seen) == 2:  # a read is now waiting for " three": close it from elsewhere
                        threading.Timer(0.05, chunks.close).start()
    [item] = load_cassette(path)
    assert seen == ["one", " two"]
    assert (item.error, item.complete) == (None, False)  # the server never broke anything
    with cassette(path, mode="none", speed=0), pytest.raises(CassetteError, match="stops after 3 body pieces"):
        for _ in _client().chat_stream("go"):  # reads on: the recording cannot say what came next
            pass


def test_a_client_side_configuration_error_is_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "misconfigured"
    with FakeLLMServer() as server:
        server.add_reply("the answer")
        with_password = server.base_url.replace("http://", "http://bob:hunter2-password@")
        with cassette(path) as cas, pytest.raises(ConfigurationError, match="carries credentials"):
            _client(with_password).chat("Hi")  # userinfo and an api_key: refused before any I/O
        assert not path.exists() and cas.recorded == []
        with cassette(path):  # fixed: this run records the real answer
            assert _client(server.base_url).chat("Hi").content == "the answer"
    with cassette(path, mode="none", speed=0):
        assert _client().chat("Hi").content == "the answer"


@pytest.mark.parametrize("mode", ["all", "new_episodes"])
def test_recording_never_deletes_files_that_are_not_part_of_a_cassette(tmp_path: Path, mode: str) -> None:
    project = tmp_path / "tests"  # a mistaken path: a directory of the user's own files
    (project / "unit").mkdir(parents=True)
    (project / "notes.txt").write_text("mine")
    (project / "unit" / "test_x.py").write_text("mine too")
    with pytest.raises(CassetteError, match=r"tests is not a cassette directory: it holds notes.txt, unit, which "):
        with cassette(project, mode=mode):
            pass
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(CassetteError, match="is a file, not a cassette directory"):
        with cassette(tmp_path / "a-file"):
            pass
    assert sorted(p.name for p in project.rglob("*")) == ["notes.txt", "test_x.py", "unit"]
    assert (tmp_path / "a-file").read_text() == "mine"


def test_re_recording_a_cassette_keeps_its_hidden_files(tmp_path: Path) -> None:
    path = tmp_path / "kept"
    with FakeLLMServer() as server:
        server.add_replies(["first", "second"])
        with cassette(path):
            _client(server.base_url).chat("Hi")
        (path / ".gitkeep").write_text("")
        with cassette(path, mode="all"):
            assert _client(server.base_url).chat("Hi").content == "second"
    assert sorted(p.name for p in path.iterdir()) == [".gitkeep", "001.body", "001.json", "001.request.json",
                                                     "timings.json"]


def test_import_vcr_overwrite_replaces_a_cassette_but_not_other_files(tmp_path: Path) -> None:
    vcr_file = Path(__file__).resolve().parent / "vcr" / "openai_stream.yaml"
    import_vcr(vcr_file, tmp_path / "imported")
    assert import_vcr(vcr_file, tmp_path / "imported", overwrite=True).interactions == 2
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(CassetteError, match="taken is not a cassette directory: it holds file,"):
        import_vcr(vcr_file, tmp_path / "taken", overwrite=True)
    assert (tmp_path / "taken" / "file").read_text() == "x"


def test_the_already_replayed_hint_only_for_a_repeat_of_a_used_recording(tmp_path: Path) -> None:
    path = tmp_path / "hint"
    record_chats(path, {"A": "to A", "C": "to C"})
    with cassette(path, mode="none", speed=0):
        assert _client().chat("A").content == "to A"
        with pytest.raises(CassetteMismatchError) as different:
            _client().chat("B")  # as close to the used 001 as to 002: but it is no repeat of either
        with pytest.raises(CassetteMismatchError) as repeated:
            _client().chat("A")
    assert "already replayed" not in str(different.value) and '+   "content": "B",' in str(different.value)
    assert "closest recorded: 001 POST /v1/chat/completions (already replayed: each recording answers one " \
        "request; repeated requests need one each)\nno difference in method, path, query or body" \
        in str(repeated.value)


@pytest.mark.parametrize("speed", [float("nan"), float("inf")])
def test_speed_must_be_finite(tmp_path: Path, speed: float) -> None:
    with pytest.raises(CassetteError, match="speed must be a finite number >= 0"):
        cassette(tmp_path / "x", speed=speed)


def test_re_entering_an_active_cassette_keeps_what_it_recorded(tmp_path: Path) -> None:
    path = tmp_path / "twice"
    with FakeLLMServer() as server:
        server.add_reply("kept")
        with cassette(path) as cas:
            _client(server.base_url).chat("Hi")
            with pytest.raises(CassetteError, match="already active"):
                with cas:
                    pass
            assert [item.name for item in cas.recorded] == ["001"]
    assert [item.name for item in load_cassette(path)] == ["001"]


def test_interactions_past_999_load_in_recorded_order(tmp_path: Path) -> None:
    items = [Interaction(name=f"{n:03d}", request={"method": "POST", "url": "http://h/v1/chat/completions",
                                                     "headers": {}, "body": {"n": n}}, status=200)
             for n in (998, 999, 1000, 1001)]
    write_cassette(tmp_path / "long", items, [])
    assert [item.name for item in load_cassette(tmp_path / "long")] == ["998", "999", "1000", "1001"]


def test_a_stream_still_open_when_the_cassette_ends_is_recorded_as_unfinished(tmp_path: Path) -> None:
    path = tmp_path / "open"
    with FakeLLMServer() as server:
        server.add_reply("one two three four", delay=0.05)
        with cassette(path):
            chunks = _client(server.base_url).chat_stream("Hi")
            first = [next(chunks).content, next(chunks).content]
        chunks.close()  # after the cassette was written
    [item] = load_cassette(path)
    assert first == ["", "one"] and item.complete is False and item.error is None
    with cassette(path, mode="none", speed=0):
        again = _client().chat_stream("Hi")
        assert [next(again).content, next(again).content] == first
        with pytest.raises(CassetteError, match=r"interaction 001 stops after 2 body pieces"):
            next(again)  # not a made-up StreamInterruptedError: the recording just ends here


def test_a_damaged_cassette_names_the_interaction_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "edited"
    record_chats(path, {"one": "first answer", "two": "second answer"})
    with (path / "001.body").open("ab") as body:
        body.write(b"\n")
    with pytest.raises(CassetteError, match=rf"^cassette {path}, interaction 001: its timings.json pieces cover "
                                            r"\d+ bytes but the body file has \d+ \(was it edited\?\)\. Re-record"):
        load_cassette(path)
    timings = json.loads((path / "timings.json").read_text())
    del timings["interactions"]["001"]
    (path / "timings.json").write_text(json.dumps(timings))
    with cassette(path, mode="none", speed=0):  # as the message says: the edited body replays as one piece
        assert _client().chat("one").content == "first answer"
    (path / "002.body").unlink()
    with pytest.raises(CassetteError, match=rf"^cassette {path}, interaction 002: cannot read its body file "
                                            "'002.body': No such file or directory"):
        load_cassette(path)


def test_basic_credentials_made_from_url_userinfo_and_echoed_back_stop_the_write(tmp_path: Path) -> None:
    basic = base64.b64encode(b"bob:hunter2-password").decode()
    with FakeLLMServer() as server:  # an echoing proxy: it repeats the Authorization header it got
        server.add_reply(faults.status(401, body=json.dumps({"error": {"message": f"bad credentials: Basic {basic}"}})))
        url = server.url.replace("http://", "http://bob:hunter2-password@")
        client = LLMClient("anthropic/claude-haiku-4-5", base_url=url, api_key="placeholder", max_retries=0)
        with pytest.raises(CassetteSecretError, match="001.body contains an API key"):
            with cassette(tmp_path / "echo"), pytest.raises(AuthenticationError):
                client.chat("Hi")
    assert not (tmp_path / "echo").exists()
