"""The ``llm-connectivity`` command, used as a person would: in-process for the quick
checks, as a subprocess (pipes, a pseudo-terminal, signals) for the ways a program ends."""

from __future__ import annotations

import json
import os
import pty
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_connectivity import LLMClient, __version__, streaming
from llm_connectivity.cli import main
from llm_connectivity.testing import FakeLLMServer, Reply

ROOT = Path(__file__).resolve().parent.parent
LONG = " ".join(f"word{i}" for i in range(400))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "llm_connectivity", *args]


@pytest.fixture()
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as srv:
        yield srv


# -- chat ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"])
def test_local_mode_streams_an_answer(model: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--local", "-m", model, "hello", "there"]) == 0
    out = capsys.readouterr().out
    assert 'You said: "hello there"' in out


def test_chat_subcommand_with_options_and_usage(server: FakeLLMServer, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server.add_reply("Fine, thanks.")
    assert main(["chat", "How", "are", "you?", "--base-url", server.base_url, "--system", "Be brief",
                 "--max-tokens", "20", "--temperature", "0.5", "--usage"]) == 0
    out, err = capsys.readouterr()
    assert out == "Fine, thanks.\n"
    body = server.requests[0].json
    assert body["messages"] == [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "How are you?"}]
    assert (body["temperature"], body["max_completion_tokens"]) == (0.5, 20)
    assert err == "usage: 5 prompt + 2 completion = 7 tokens; cost $0.000002\n"  # gpt-4o-mini: $0.15 / $0.60 per 1M


def test_chat_json_prints_one_object(server: FakeLLMServer, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server.add_reply("Hi!")
    assert main(["chat", "--json", "--base-url", server.base_url, "hello"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["content"], data["finish_reason"], data["provider"]) == ("Hi!", "stop", "openai")
    assert data["usage"]["completion_tokens"] == 1


def test_prompt_from_stdin(server: FakeLLMServer) -> None:
    server.add_reply("got it")
    result = subprocess.run(_cli("chat", "-", "--base-url", server.base_url), input="a prompt\nfrom a pipe\n",
                            capture_output=True, text=True, timeout=60, env=_env(OPENAI_API_KEY="sk-test"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "got it\n", "")
    assert server.requests[0].json["messages"][-1]["content"] == "a prompt\nfrom a pipe"


def test_missing_key_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-m", "openai/gpt-4o-mini", "hi"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("llm-connectivity: error: MissingAPIKeyError: ")
    assert "OPENAI_API_KEY" in err


def test_unknown_provider_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-m", "nope/x", "hi"]) == 1
    err = capsys.readouterr().err
    assert "unknown provider 'nope'" in err and err.count("\n") == 1


def test_a_server_error_is_one_line_with_exit_1(server: FakeLLMServer, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server.add_reply(Reply(status=401))
    assert main(["chat", "--base-url", server.base_url, "hi"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("llm-connectivity: error: AuthenticationError: ") and err.count("\n") == 1
    assert "sk-test" not in err


def test_local_conflicts_with_base_url(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["chat", "--local", "--base-url", "http://127.0.0.1:9/v1", "hi"])
    assert exit_info.value.code == 2
    assert "--local and --base-url cannot be used together" in capsys.readouterr().err


def test_no_prompt_is_a_usage_error(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with open(os.devnull) as empty, pytest.raises(SystemExit) as exit_info:
        monkeypatch.setattr(sys, "stdin", empty)
        main(["chat", "--local"])
    assert exit_info.value.code == 2
    assert "no prompt" in capsys.readouterr().err


@pytest.mark.parametrize("option, name", [("--buffer=word", "buffer_words"), ("--buffer=sentence", "buffer_sentences"),
                                          ("--rate=1000", "rate_limit"), ("--progress", "progress_bar")])
def test_output_wrappers(option: str, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    if hasattr(streaming, name):
        assert main(["chat", "--local", option, "hello"]) == 0
        assert 'You said: "hello"' in capsys.readouterr().out
    else:
        with pytest.raises(SystemExit) as exit_info:
            main(["chat", "--local", option, "hello"])
        assert exit_info.value.code == 2
        assert f"needs llm_connectivity.streaming.{name}" in capsys.readouterr().err


# -- help, version, dispatch --------------------------------------------------------------------
def test_version_and_top_level_help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"llm-connectivity {__version__}\n"
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("chat", "batch", "providers", "serve-fake", "cassette"))
    with open(os.devnull) as tty:
        monkeypatch.setattr(sys, "stdin", tty)
        monkeypatch.setattr(tty, "isatty", lambda: True)
        assert main([]) == 2
    assert "usage: llm-connectivity" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["chat", "batch", "providers", "serve-fake"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: llm-connectivity {command}")


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(_cli("--version"), capture_output=True, text=True, timeout=60, env=_env())
    assert (result.returncode, result.stdout) == (0, f"llm-connectivity {__version__}\n")


def test_cassette_subcommand_without_the_module_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        import llm_connectivity.testing.cassette.cli  # noqa: F401
    except ModuleNotFoundError:
        assert main(["cassette", "--help"]) == 1
        assert capsys.readouterr().err.count("\n") == 1
    else:
        pytest.skip("the cassette tool is installed; its own tests cover it")


# -- providers ----------------------------------------------------------------------------------
def test_providers_lists_env_variables_and_key_status_never_the_key(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret-123")
    assert main(["providers"]) == 0
    out = capsys.readouterr().out
    assert "sk-ant-very-secret" not in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows["anthropic"][:2] == ["set", "ANTHROPIC_API_KEY"]
    assert rows["openai"][:3] == ["not", "set", "OPENAI_API_KEY"]
    assert rows["ollama"][:3] == ["not", "needed", "OLLAMA_API_KEY"]
    assert main(["providers", "--json"]) == 0
    data = {row["provider"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert data["anthropic"] == {"provider": "anthropic", "api_key_env": ["ANTHROPIC_API_KEY"], "api_key": "set",
                                 "base_url_env": "ANTHROPIC_BASE_URL", "base_url": "https://api.anthropic.com"}
    assert set(data) == set(LLMClient.providers())


# -- batch --------------------------------------------------------------------------------------
def test_batch_file_in_file_out_and_resume(server: FakeLLMServer, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    source = tmp_path / "in.jsonl"
    source.write_text('"first"\n\n[{"role": "user", "content": "second"}]\n{"id": "t", "messages": "third"}\n')
    out = tmp_path / "out.jsonl"
    args = ["batch", str(source), str(out), "--base-url", server.base_url, "--workers", "2", "--rpm", "6000",
            "--max-tokens", "30"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "3 ok, 0 failed, 0 skipped of 3" in err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["status"]) for r in records] == [("0", "ok"), ("1", "ok"), ("t", "ok")]
    assert 'You said: "third"' in records[2]["response"]["content"]
    assert all(r.json["max_completion_tokens"] == 30 for r in server.requests)
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "3 from checkpoint" in err and "3/3" in err and "4/3" not in err
    assert len(server.requests) == 3  # the re-run sent nothing


def test_batch_1000_prompts_16_workers_rpm_limit(server: FakeLLMServer, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    prompts = [f"question {i}" for i in range(1000)]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(p) + "\n" for p in prompts))
    out = tmp_path / "out.jsonl"
    rpm = 24_000  # 400/s after a one-second burst of 400: at least 1.5 s for the other 600
    started = time.monotonic()
    assert main(["batch", str(source), str(out), "--base-url", server.base_url, "--workers", "16",
                 "--rpm", str(rpm), "--no-progress"]) == 0
    elapsed = time.monotonic() - started
    assert 1.5 * 0.95 <= elapsed < 60
    sent = [r.json["messages"][-1]["content"] for r in server.requests]
    assert len(sent) == len(set(sent)) == 1000  # no duplicates
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["index"] for r in records] == list(range(1000))  # in input order
    assert all(f'You said: "{p}"' in r["response"]["content"] for r, p in zip(records, prompts))
    assert "1000 ok, 0 failed, 0 skipped of 1000" in capsys.readouterr().err


def test_batch_bad_input_line_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('"ok"\n{broken\n')
    assert main(["batch", str(source), str(tmp_path / "o.jsonl"), "--local"]) == 1
    assert capsys.readouterr().err.startswith(f"llm-connectivity: error: {source} line 2 is not JSON")


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_batch_interrupt_keeps_every_finished_item_and_resumes(signum: int, status: int, tmp_path: Path) -> None:
    total = 60
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(f"item {i}") + "\n" for i in range(total)))
    out = tmp_path / "out.jsonl"
    with FakeLLMServer(delay=0.01) as srv:
        cmd = _cli("batch", str(source), str(out), "--base-url", srv.base_url, "--workers", "4", "--no-progress")
        proc = subprocess.Popen(cmd, env=_env(OPENAI_API_KEY="sk-test"), stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (out.exists() and out.read_text().count("\n") >= 8):
            time.sleep(0.02)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == status, err
        assert "Traceback" not in err and "run the same command again" in err
        written = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(written) == len(srv.requests) < total  # in-flight items finished and were written
        rerun = subprocess.run(cmd, env=_env(OPENAI_API_KEY="sk-test"), capture_output=True, text=True, timeout=60)
        assert rerun.returncode == 0, rerun.stderr
        assert len(srv.requests) == total  # nothing was sent twice
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [str(i) for i in range(total)]


# -- serve-fake ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_lines(stream: Any, count: int, seconds: float) -> list[str]:
    """``count`` lines from a child's text pipe, failing (not hanging) after ``seconds``."""
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(stream.readline()) for _ in range(count)], daemon=True)
    reader.start()
    got: list[str] = []
    deadline = time.monotonic() + seconds
    while len(got) < count:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"only {len(got)} of {count} lines after {seconds}s: {got}") from None
        assert line, f"the command ended after {len(got)} lines: {got}"
        got.append(line)
    return got


def test_serve_fake_answers_a_streamed_chat_and_stops_on_sigterm() -> None:
    port = _free_port()
    proc = subprocess.Popen(_cli("serve-fake", "--port", str(port), "--delay", "0"), env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = _read_lines(proc.stdout, 8, 30)
        assert lines[0].startswith(f"FakeLLMServer listening on http://127.0.0.1:{port}")
        exports = dict(line.strip().removeprefix("export ").split("=", 1) for line in lines[1:])
        assert exports["OPENAI_BASE_URL"] == f"http://127.0.0.1:{port}/v1"
        assert exports["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{port}"
        client = LLMClient("openai/gpt-4o-mini", base_url=exports["OPENAI_BASE_URL"],
                           api_key=exports["OPENAI_API_KEY"])
        with client, client.chat_stream("ping") as stream:
            pieces = [chunk.content for chunk in stream]
        assert len([p for p in pieces if p]) > 5 and 'You said: "ping"' in "".join(pieces)
        for model in ("openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "gemini/gemini-2.5-flash",
                      "openai-compatible/my-model"):  # the exported variables are all a program needs
            used = subprocess.run(_cli("-m", model, "hi"), env=_env(**exports), capture_output=True, text=True,
                                  timeout=60)
            assert (used.returncode, used.stderr) == (0, ""), model
            assert 'You said: "hi"' in used.stdout
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert "FakeLLMServer stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def test_serve_fake_port_in_use_is_one_line() -> None:
    with FakeLLMServer() as busy:
        port = busy.port
        result = subprocess.run(_cli("serve-fake", "--port", str(port)), env=_env(), capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"llm-connectivity: error: cannot listen on 127.0.0.1:{port}")


# -- pipes and terminals ------------------------------------------------------------------------
def test_piping_into_head_prints_no_traceback() -> None:
    with FakeLLMServer(default_reply=Reply(text=LONG, delay=0.002)) as srv:
        proc = subprocess.Popen(_cli("chat", "--base-url", srv.base_url, "go"), env=_env(OPENAI_API_KEY="sk-test"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.read(20)
        proc.stdout.close()  # like `head -c 20` exiting
        err = proc.stderr.read().decode()
        proc.stderr.close()
        code = proc.wait(30)
    assert first.startswith(b"word0 word1")
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert code == 141


def _read_pty(fd: int, until: bytes, seconds: float) -> bytes:
    data = b""
    deadline = time.monotonic() + seconds
    while until not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                piece = os.read(fd, 4096)
            except OSError:
                break
            if not piece:
                break
            data += piece
    return data


def test_ctrl_c_in_a_terminal_prints_what_was_received_and_exits_130() -> None:
    with FakeLLMServer(default_reply=Reply(text=LONG, delay=0.02)) as srv:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the command in a pseudo-terminal
            os.execve(sys.executable, _cli("chat", "--base-url", srv.base_url, "go"), _env(OPENAI_API_KEY="sk-test"))
        try:
            seen = _read_pty(fd, b"word20 ", 30)
            assert b"word20 " in seen, seen
            os.write(fd, b"\x03")  # Ctrl-C, delivered by the terminal as SIGINT
            seen += _read_pty(fd, b"interrupted", 30)
            _, status = os.waitpid(pid, 0)
        finally:
            os.close(fd)
    text = seen.decode(errors="replace")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    assert "interrupted" in text and "word399" not in text


# -- review regressions -------------------------------------------------------------------------
def test_batch_refuses_to_write_its_results_over_its_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "prompts.jsonl"
    source.write_text('"a"\n"b"\n')
    with pytest.raises(SystemExit) as exc:
        main(["batch", str(source), str(tmp_path / "." / "prompts.jsonl"), "--local"])
    assert exc.value.code == 2
    assert "is also the input" in capsys.readouterr().err
    assert source.read_text() == '"a"\n"b"\n'  # the prompts are still there


def test_local_batch_answers_every_provider_locally(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('"a"\n{"messages": "b", "model": "anthropic/claude-haiku-4-5"}\n'
                      '{"messages": "c", "model": "gemini/gemini-2.5-flash"}\n')
    out = tmp_path / "out.jsonl"
    with FakeLLMServer() as elsewhere:  # stands in for the vendors: --local must never reach it
        monkeypatch.setenv("ANTHROPIC_BASE_URL", elsewhere.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-real-key")
        monkeypatch.setenv("GEMINI_BASE_URL", elsewhere.url)
        assert main(["batch", str(source), str(out), "--local", "--no-progress"]) == 0
        assert elsewhere.requests == []
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["status"], r["response"]["provider"]) for r in records] == [
        ("ok", "openai"), ("ok", "anthropic"), ("ok", "gemini")]
    assert "3 ok, 0 failed" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["providers", "--json"], ["providers"], ["--help"], ["chat", "--help"]])
def test_a_reader_that_went_away_gets_no_traceback_from_any_command(args: list[str]) -> None:
    proc = subprocess.Popen(_cli(*args), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # like `| head -n 0`: gone before the command wrote anything
    _, err = proc.communicate(timeout=60)
    assert err.decode() == ""
    # argparse swallows the failed write of a long --help itself, and exits 0
    assert proc.returncode == 141 or (args[-1] == "--help" and proc.returncode == 0)


class _InterruptedFlush:
    """stdout whose first flush after the answer was written raises KeyboardInterrupt: a
    Ctrl-C that lands while the final output is being printed."""

    def __init__(self) -> None:
        self.text = ""
        self.fired = False

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        if self.text and not self.fired:
            self.fired = True
            raise KeyboardInterrupt

    def isatty(self) -> bool:
        return False


def test_ctrl_c_while_the_answer_is_printed_does_not_print_it_twice(
        server: FakeLLMServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server.add_reply("Hi!")
    out = _InterruptedFlush()
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["chat", "--json", "--base-url", server.base_url, "hello"]) == 130
    assert out.text.count('"content"') == 1
    assert json.loads(out.text)["content"] == "Hi!"
    assert capsys.readouterr().err == "interrupted\n"


def test_ctrl_c_before_the_answer_starts_says_interrupted(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("llm_connectivity.cli.chat.open_client", interrupted)
    assert main(["chat", "--local", "hello"]) == 130
    assert capsys.readouterr() == ("", "interrupted\n")


def test_providers_never_shows_a_password_or_key_in_a_base_url(capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://bob:hunter2pw@127.0.0.1:8080/v1")
    monkeypatch.setenv("GEMINI_BASE_URL", "https://gw.example/gemini?key=AIzaSECRET")
    assert main(["providers"]) == 0
    table = capsys.readouterr().out
    assert main(["providers", "--json"]) == 0
    rows = {row["provider"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert "hunter2pw" not in table and "AIzaSECRET" not in table
    assert rows["openai"]["base_url"] == "http://bob:***@127.0.0.1:8080/v1"
    assert rows["gemini"]["base_url"] == "https://gw.example/gemini?key=***"


def test_batch_output_that_cannot_be_written_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('"a"\n')
    assert main(["batch", str(source), str(source / "out.jsonl"), "--local"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("llm-connectivity: error: ConfigurationError: checkpoint") and err.count("\n") == 1


def test_batch_disk_full_mid_run_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: object, record: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("llm_connectivity.batch.checkpoint.Checkpoint.append", full)
    source = tmp_path / "in.jsonl"
    source.write_text('"a"\n')
    assert main(["batch", str(source), str(tmp_path / "out.jsonl"), "--local", "--no-progress"]) == 1
    assert capsys.readouterr().err == (f"llm-connectivity: error: cannot write {tmp_path / 'out.jsonl'}: "
                                       "No space left on device\n")


def test_no_arguments_with_a_pipe_on_stdin_chats_with_it(server: FakeLLMServer) -> None:
    server.add_reply("piped")
    result = subprocess.run(_cli(), input="a question\n", capture_output=True, text=True, timeout=60,
                            env=_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=server.base_url))
    assert (result.returncode, result.stdout, result.stderr) == (0, "piped\n", "")
    assert server.requests[0].json["messages"][-1]["content"] == "a question"


@pytest.mark.filterwarnings("default")
def test_warnings_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('"a"\n')
    assert main(["batch", str(source), str(tmp_path / "out.jsonl"), "--local", "-m", "openai-compatible/my-model",
                 "--budget", "1", "--no-progress"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("llm-connectivity: warning: UserWarning: budget_usd=1 cannot stop this batch: the cost of "
                      "openai-compatible/my-model answers is unknown (no price for the model), so nothing is "
                      "counted against the budget")
    assert err[1].startswith("1 ok, 0 failed") and len(err) == 2


def test_batch_stopped_by_a_long_retry_after_says_what_to_do(server: FakeLLMServer, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server.add_reply(Reply(status=429, headers={"Retry-After": "7200"}))
    source = tmp_path / "in.jsonl"
    source.write_text('"a"\n"b"\n')
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(source), str(out), "--base-url", server.base_url, "--workers", "1",
                 "--no-progress"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("0 ok, 1 failed, 1 skipped of 2") and err[0].endswith("stopped: rate_limited")
    assert err[-1] == (f"stopped: the provider asked to wait 7200s (Retry-After); run the same command again "
                       f"later to do the rest (finished items are in {out})")


@pytest.mark.parametrize("line, message", [
    ("5", "in.jsonl line 3: batch item 1 is a int;"),
    ('""', "in.jsonl line 3: batch item 1 is an empty string;"),
    ('{"prompt": "x"}', "in.jsonl line 3: batch item 1 is a dict without 'messages';"),
])
def test_batch_item_that_is_not_a_prompt_names_its_line(line: str, message: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(f'"a"\n\n{line}\n')
    assert main(["batch", str(source), str(tmp_path / "o.jsonl"), "--local"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"llm-connectivity: error: {tmp_path / message}") and err.count("\n") == 1
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("option", ["--rpm", "--tpm", "--budget"])
def test_batch_limits_must_be_positive(option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["batch", str(tmp_path / "in.jsonl"), str(tmp_path / "o.jsonl"), "--local", option, "0"])
    assert exc.value.code == 2
    assert f"{option} must be a positive number, got 0" in capsys.readouterr().err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["providers"], ["--local", "hi"]])
def test_a_full_disk_on_stdout_is_one_line(args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(_cli(*args), env=_env(), stdout=full, stderr=subprocess.PIPE, text=True,
                                timeout=60)
    assert (result.returncode, result.stderr) == (
        1, "llm-connectivity: error: OSError: [Errno 28] No space left on device\n")


def test_batch_output_cannot_be_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text('"a"\n')
    with pytest.raises(SystemExit) as exc:
        main(["batch", "in.jsonl", "-", "--local"])
    assert exc.value.code == 2
    assert "OUT.jsonl is the checkpoint: give a file, not '-'" in capsys.readouterr().err
    assert not (tmp_path / "-").exists()


def test_answers_from_local_are_not_taken_for_real_ones(server: FakeLLMServer, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text('"a"\n"b"\n')
    assert main(["batch", str(source), str(out), "--local", "--no-progress"]) == 0  # a dry run first
    assert main(["batch", str(source), str(out), "--local", "--no-progress"]) == 0
    assert "2 from checkpoint" in capsys.readouterr().err  # --local runs resume each other
    assert main(["batch", str(source), str(out), "--base-url", server.base_url, "--no-progress"]) == 0
    assert len(server.requests) == 2  # the real endpoint answers every item
    assert "(0 from checkpoint)" in capsys.readouterr().err


@pytest.mark.parametrize("delay", ["nan", "inf", "-1"])
def test_serve_fake_delay_must_be_a_finite_number(delay: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve-fake", "--delay", delay])
    assert exc.value.code == 2
    assert f"--delay must be a finite number of seconds >= 0, got {delay}" in capsys.readouterr().err
