"""Every ```python block of docs/streaming-toolkit.md runs as written.

Each block runs in its own interpreter (bounded by a timeout, so a hung server cannot hang
the suite), with ``__name__`` other than ``"__main__"`` (so the Flask block defines its app
without serving) and with no API key or base URL in the environment (so a block cannot
reach a real provider). A block that raises fails its test with the block's traceback.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llm_connectivity.sse import iter_sse
from llm_connectivity.streaming import buffer_words

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "streaming-toolkit.md"
TIMEOUT = 60  # seconds per block; each takes well under 5 s

# a fence at any indentation (blocks inside list items are indented), closed at the same one
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)

# Runs one block in a fresh namespace; then, if the block made a Flask app, requests
# /stream from it in-process and prints the body after a marker; then stops what it started.
_RUNNER = r'''
import sys
source, label, marker = sys.stdin.read(), sys.argv[1], sys.argv[2]
namespace = {"__name__": "streaming_toolkit_docs"}
try:
    exec(compile(source, label, "exec"), namespace)
    app = namespace.get("app")
    if app is not None and hasattr(app, "test_client"):
        body = app.test_client().get("/stream?prompt=Hi").get_data(as_text=True)
        print(marker + body, end="")
finally:
    from llm_connectivity import LLMClient
    from llm_connectivity.testing import FakeLLMServer
    for value in namespace.values():
        if isinstance(value, LLMClient):
            value.close()
        elif isinstance(value, FakeLLMServer):
            value.stop()
'''
_MARKER = "\n--- GET /stream ---\n"


def python_blocks(text: str) -> list[tuple[int, str, str]]:
    """(line number, section heading, dedented source) of every ```python block."""
    blocks = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        headings = re.findall(r"^## (.+)$|^# (.+)$", text[:match.start()], re.M)
        section = next(h for pair in reversed(headings) for h in pair if h) if headings else ""
        blocks.append((line, section, textwrap.dedent(match.group("body"))))
    return blocks


BLOCKS = python_blocks(PAGE.read_text(encoding="utf-8"))


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run_block(line: int, source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _RUNNER, f"streaming-toolkit.md:{line}", _MARKER],
                          input=source, capture_output=True, text=True, encoding="utf-8", timeout=TIMEOUT,
                          cwd=ROOT, env=_child_env())


def test_the_page_has_a_python_block_in_each_section_that_shows_code() -> None:
    sections = {section for _, section, _ in BLOCKS}
    assert {"The streaming toolkit", "What every wrapper does", "Progress", "Rate limiting",
            "Re-serving a stream to browsers: `to_sse`"} <= sections
    assert any("closing(buffer_words(" in source for _, _, source in BLOCKS)


@pytest.mark.parametrize("line, section, source", BLOCKS, ids=[f"line{line}" for line, _, _ in BLOCKS])
def test_block_runs_as_written(line: int, section: str, source: str) -> None:
    if re.search(r"^\s*(from|import) flask\b", source, re.M) and importlib.util.find_spec("flask") is None:
        pytest.skip("this block needs flask (pip install 'llm_connectivity[toolkit]')")
    result = run_block(line, source)
    assert result.returncode == 0, f"block at line {line} ({section}) failed:\n{result.stderr}"
    output, _, body = result.stdout.partition(_MARKER)
    if "app.run(" in source:  # the Flask relay: its app serves the stand-in's answer as SSE
        events = list(iter_sse([body.encode("utf-8")]))
        assert "".join(e.data for e in events if e.event == "chunk") == "Hello from the relay!\ndata: injected"
        assert [e.event for e in events][-1] == "done"
        assert json.loads(events[-1].data)["finish_reason"] == "stop"
    else:
        assert output.strip() != ""  # every other block shows something


def test_the_closing_example_stops_reading_early() -> None:
    line, _, source = next(b for b in BLOCKS if "closing(buffer_words(" in b[2])
    result = run_block(line, source)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "one two three\nread to the end: False\n"


def test_a_wrapper_is_not_a_context_manager_as_the_page_says() -> None:
    with pytest.raises(TypeError):
        with buffer_words([]):  # type: ignore[attr-defined]
            pass
