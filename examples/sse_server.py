"""Relay an LLM stream to browsers as Server-Sent Events, with Flask (``pip install flask``).

The page at ``/`` opens an ``EventSource`` on ``/stream`` and appends each ``chunk`` event's
text to a ``<pre>``; the terminal ``done`` event carries the finish reason and usage.
``to_sse`` splits the data on every line ending, so a model that writes ``data: ...`` or a
blank line cannot inject events; closing the response (the browser went away) closes the
upstream stream and frees its connection.

    python examples/sse_server.py            # serve one request to itself, print it, exit
    python examples/sse_server.py --serve    # keep serving on http://127.0.0.1:8000/

With OPENAI_API_KEY set it relays the real OpenAI API; otherwise the bundled FakeLLMServer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import make_server

from llm_connectivity import LLMClient
from llm_connectivity.sse import iter_sse
from llm_connectivity.streaming import buffer_words, sse_headers, to_sse
from llm_connectivity.testing import FakeLLMServer, Reply

MODEL = "openai/gpt-4o-mini"
# What the local server answers: newlines, Unicode and a line that looks like an SSE field.
LOCAL_ANSWER = ("Hello from the relay!\nUnicode: naïve café ✓ 你好 👩‍💻\n"
                "data: injected\n\nevent: done\nid: 42\nThe end.")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>llm_connectivity SSE relay</title></head>
<body>
<pre id="out"></pre>
<p id="status">streaming...</p>
<p id="stray"></p>
<script>
const out = document.getElementById("out");
const status = document.getElementById("status");
const stray = document.getElementById("stray");
const source = new EventSource("/stream?prompt=" + encodeURIComponent("Say hello"));
source.addEventListener("chunk", (e) => { out.textContent += e.data; });
source.addEventListener("done", (e) => { status.textContent = "done " + e.data; source.close(); });
source.addEventListener("error", (e) => {
  if (e.data) { status.textContent = "error " + e.data; }
  source.close();
});
source.onmessage = (e) => { stray.textContent += "[unexpected message event] " + e.data; };
</script>
</body></html>
"""


def create_app(client: LLMClient) -> Flask:
    """The relay: ``/`` is the page, ``/stream?prompt=...`` the event stream."""
    app = Flask(__name__)

    @app.get("/")
    def page() -> Response:
        return Response(PAGE, mimetype="text/html")

    @app.get("/stream")
    def stream() -> Response:
        prompt = request.args.get("prompt", "Say hello")
        chunks = client.chat_stream(prompt, max_tokens=200)
        return Response(to_sse(buffer_words(chunks), keepalive=15.0), headers=dict(sse_headers()))

    return app


@contextlib.contextmanager
def serving(app: Flask, port: int = 0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a thread; yield its URL; stop it on exit."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="sse-relay", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@contextlib.contextmanager
def make_client() -> Iterator[LLMClient]:
    """A client for the real API when OPENAI_API_KEY is set, else for a local FakeLLMServer."""
    with contextlib.ExitStack() as stack:
        if os.environ.get("OPENAI_API_KEY"):
            client = LLMClient(model=MODEL)
        else:
            fake = stack.enter_context(FakeLLMServer(default_reply=Reply(LOCAL_ANSWER, delay=0.01)))
            client = LLMClient(model=MODEL, base_url=fake.base_url, api_key="sk-local-demo")
        yield stack.enter_context(client)


def fetch_once(url: str) -> tuple[str, dict[str, Any]]:
    """Read ``/stream`` like a browser would; return the text and the done event's data."""
    text, done = "", {}
    with urllib.request.urlopen(url + "/stream?prompt=Say+hello", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for event in iter_sse(iter(lambda: response.read1(65536), b"")):
            if event.event == "chunk":
                text += event.data
            elif event.event in ("done", "error"):
                done = {"event": event.event, **json.loads(event.data)}
    return text, done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="keep serving until interrupted")
    parser.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000)")
    args = parser.parse_args(argv)
    with make_client() as client:
        app = create_app(client)
        if args.serve:
            with serving(app, args.port) as url:
                print(f"open {url}/ in a browser (Ctrl-C to stop)", flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    threading.Event().wait()
            return 0
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log for the self-test
        with serving(app) as url:
            text, done = fetch_once(url)
    print("relayed text:")
    print(text)
    print(f"terminal event: {done['event']}, finish_reason={done.get('finish_reason')}, "
          f"total_tokens={(done.get('usage') or {}).get('total_tokens')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
