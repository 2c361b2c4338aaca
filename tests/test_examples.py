"""Every example runs offline, and every tutorial links to its example.

Each ``examples/*.py`` (files added later included) runs in a subprocess with no provider
keys or base URLs in its environment, so it must use the bundled FakeLLMServer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
TUTORIALS = {
    "01-basic-usage.md": "examples/basic_usage.py",
    "04-streaming.md": "examples/streaming.py",
}


def _offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_examples_exist() -> None:
    names = {path.name for path in EXAMPLES}
    assert {"quickstart.py", "basic_usage.py", "streaming.py"} <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs_offline(example: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(example)],
        cwd=ROOT,
        env=_offline_env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"{example.name} exited {result.returncode}:\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{example.name} printed nothing"


@pytest.mark.parametrize("tutorial, example", sorted(TUTORIALS.items()))
def test_tutorial_links_to_its_example(tutorial: str, example: str) -> None:
    path = ROOT / "docs" / "tutorials" / tutorial
    assert path.is_file(), f"missing {path.relative_to(ROOT)}"
    assert (ROOT / example).is_file(), f"missing {example}"
    assert f"(../../{example})" in path.read_text(encoding="utf-8"), f"{tutorial} does not link to {example}"
