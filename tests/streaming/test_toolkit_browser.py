"""A real browser: headless Chromium's EventSource shows exactly the text relayed by
examples/sse_server.py (newlines, Unicode, a line that looks like ``data: injected``),
receives the ``done`` event, and sees no stray events.

Needs Flask and Debian's ``chromium`` package (``.ci/run`` installs it when it can);
skips with the reason otherwise.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _example() -> ModuleType:
    pytest.importorskip("flask", reason="the SSE relay example needs Flask (pip install 'llm_connectivity[toolkit]')")
    spec = importlib.util.spec_from_file_location("sse_server_example", ROOT / "examples" / "sse_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install -y chromium)")
def test_eventsource_in_headless_chromium_shows_the_exact_text(tmp_path: Path) -> None:
    example = _example()
    with example.make_client() as client, example.serving(example.create_app(client)) as url:
        result = subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", f"--user-data-dir={tmp_path}", "--virtual-time-budget=20000", "--dump-dom",
             url + "/"],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    shown = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    status = re.search(r'<p id="status">(.*?)</p>', dom, re.S)
    stray = re.search(r'<p id="stray">(.*?)</p>', dom, re.S)
    assert shown and status and stray, dom[-2000:]
    assert html.unescape(shown.group(1)) == example.LOCAL_ANSWER
    assert "data: injected\n\nevent: done\nid: 42\n" in html.unescape(shown.group(1))
    done = html.unescape(status.group(1))
    assert done.startswith("done "), done
    payload = json.loads(done[len("done "):])
    assert payload["finish_reason"] == "stop" and payload["usage"]["total_tokens"] > 0
    assert stray.group(1) == ""
