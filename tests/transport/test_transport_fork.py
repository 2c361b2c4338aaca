"""A client used before ``os.fork()`` never shares a pooled socket with the child: parent and
child stream at the same time and each gets its own answer; the parent's pooled
connection survives the child (nothing closed or shut down in the child touches it)."""

from __future__ import annotations

import multiprocessing
import os
import select
import time
import warnings
from typing import Any

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.testing import FakeLLMServer

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
WATCHDOG_SECONDS = 30.0


def _answer(client: LLMClient, prompt: str) -> str:
    with client.chat_stream(prompt) as stream:
        return stream.text()


def _expected(prompt: str) -> str:
    return f'Hello from FakeLLMServer! You said: "{prompt}".'


def _wait_child(pid: int, within: float) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("the child did not finish in time")


def test_parent_and_child_stream_at_once_after_fork_each_with_its_own_answer() -> None:
    with FakeLLMServer(delay=0.005) as server:
        client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test-fork-0000",
                           max_retries=0, timeout=10.0)
        assert _answer(client, "before the fork").startswith(_expected("before the fork"))  # pools a connection
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() with threads
            pid = os.fork()
        if pid == 0:  # the child: report its answer through the pipe, never return into pytest
            code = 1
            try:
                os.close(read_end)
                text = _answer(client, "I am the child")
                os.write(write_end, text.encode())
                client.close()
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        try:
            parent_text = _answer(client, "I am the parent")
            ready, _, _ = select.select([read_end], [], [], 15)
            child_text = os.read(read_end, 65536).decode() if ready else ""
        finally:
            os.close(read_end)
        exit_code = _wait_child(pid, 15)
        after = _answer(client, "after the child exited")
        client.close()
    assert exit_code == 0
    assert parent_text.startswith(_expected("I am the parent"))
    assert child_text.startswith(_expected("I am the child"))
    assert after.startswith(_expected("after the child exited"))
    by_prompt = {r.json["messages"][0]["content"]: r.connection for r in server.requests}
    assert by_prompt["I am the parent"] == by_prompt["before the fork"]  # the parent kept its socket
    assert by_prompt["after the child exited"] == by_prompt["before the fork"]  # and the child left it alone
    assert by_prompt["I am the child"] != by_prompt["before the fork"]  # the child connected anew


def _child_answers(client: LLMClient, name: str, queue: Any) -> None:
    """In a multiprocessing child: stream tagged prompts, report (prompt, answer) pairs."""
    try:
        queue.put([(f"{name} #{i}", _answer(client, f"{name} #{i}")) for i in range(10)])
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put(repr(exc))


def test_multiprocessing_fork_children_and_the_parent_each_get_their_own_answers() -> None:
    context = multiprocessing.get_context("fork")
    with FakeLLMServer(delay=0.002) as server:
        client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="sk-test-fork-0000",
                           max_retries=0, timeout=10.0)
        assert _answer(client, "warm").startswith(_expected("warm"))
        queue = context.Queue()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() with threads
            children = [context.Process(target=_child_answers, args=(client, f"child {n}", queue)) for n in range(3)]
            for child in children:
                child.start()
        try:
            mine = [(f"parent #{i}", _answer(client, f"parent #{i}")) for i in range(20)]  # while they stream
            reports = [queue.get(timeout=WATCHDOG_SECONDS / 2) for _ in children]
        finally:
            for child in children:
                child.join(10)
                if child.is_alive():
                    child.kill()
                    child.join(5)
        after = _answer(client, "after the children exited")
        client.close()
    assert [child.exitcode for child in children] == [0, 0, 0]
    pairs = mine + [pair for report in reports for pair in report]  # a str report (an error) fails here
    assert len(pairs) == 50
    assert [prompt for prompt, answer in pairs if not answer.startswith(_expected(prompt))] == []
    assert after.startswith(_expected("after the children exited"))
