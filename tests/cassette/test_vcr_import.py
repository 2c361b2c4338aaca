"""``llm-connectivity cassette import-vcr``: vcrpy YAML (string bodies, !!binary gzip,
header lists) into the cassette layout, streams split into events and flagged merged."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from cassette_support import files_of, stream

from llm_connectivity import LLMClient
from llm_connectivity.errors import RateLimitError
from llm_connectivity.testing import cassette
from llm_connectivity.testing.cassette import CassetteError, load_cassette
from llm_connectivity.testing.cassette.cli import main
from llm_connectivity.testing.cassette.vcr import import_vcr, split_events

VCR = Path(__file__).resolve().parent / "vcr"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "anthropic" / "haiku45-say-hello.sse"


def test_split_events_keeps_every_byte() -> None:
    body = b"data: a\n\ndata: b\r\n\r\n: comment\n\ndata: tail-without-end"
    assert split_events(body) == [b"data: a\n\n", b"data: b\r\n\r\n", b": comment\n\n", b"data: tail-without-end"]


def test_openai_stream_and_json_body(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "openai"
    assert main(["import-vcr", str(VCR / "openai_stream.yaml"), str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"wrote 2 interaction(s) to {out}, 1 stored merged (no timing)"
    assert "warning: interaction 001: the stream was stored merged (one blob, no timing): split into 9 events" \
        in captured.err
    files = files_of(out)
    assert sorted(files) == ["001.json", "001.request.json", "001.sse", "002.body", "002.json", "002.request.json",
                             "timings.json"]
    assert not [name for name, data in files.items() if b"VCRSECRET" in data or b"abcdefghijklmnop" in data]
    request = json.loads(files["001.request.json"])
    assert request["headers"] == {"accept": "application/json", "accept-encoding": "gzip, deflate",
                                  "content-type": "application/json"}
    sidecar = json.loads(files["001.json"])
    assert (sidecar["merged"], sidecar["provider"], sidecar["wire_format"]) == (True, "openai",
                                                                                 "openai-chat-completions")
    assert sidecar["recording"]["headers"]["set-cookie"] == "REDACTED"
    assert json.loads(files["002.json"])["merged"] is False
    first, second = load_cassette(out)
    assert len(first.pieces) == 9 and all(p.data.endswith(b"\n\n") for p in first.pieces)
    client = LLMClient("openai/gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="test")
    with cassette(out, mode="none", speed=0, match_on=("method", "path")):
        run = stream(client, "Say hello")
        answer = client.chat("Say hello")
    assert run.contents[:6] == ["", "Hello", " from", " a", " vcr", " cassette"]
    assert (run.text, run.usage.total_tokens, run.usage.is_estimated) == ("Hello from a vcr cassette", 14, False)
    assert (answer.content, answer.usage.total_tokens) == ("Hello there!", 12)


def test_binary_gzip_body_is_decompressed_byte_exact(tmp_path: Path) -> None:
    report = import_vcr(VCR / "anthropic_gzip.yaml", tmp_path / "anthropic")
    assert (report.interactions, report.merged) == (1, ["001"])
    [item] = load_cassette(tmp_path / "anthropic")
    assert item.body == FIXTURE.read_bytes() and len(item.pieces) == 7
    assert json.loads((tmp_path / "anthropic" / "001.json").read_text())["recording"]["content_encoding_on_wire"] \
        == "gzip"
    client = LLMClient("anthropic/claude-haiku-4-5", base_url="http://127.0.0.1:9", api_key="test")
    with cassette(tmp_path / "anthropic", mode="none", speed=0, match_on=("method", "path")):
        run = stream(client, "Say hello")
    assert (run.text, run.usage.completion_tokens) == ("Hello", 4)


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-vcr"]) == 2
    assert main(["import-vcr", str(tmp_path / "missing.yaml"), str(tmp_path / "out")]) == 1
    assert "cannot read vcrpy cassette" in capsys.readouterr().err
    (tmp_path / "not-vcr.yaml").write_text("just: a mapping\n")
    assert main(["import-vcr", str(tmp_path / "not-vcr.yaml"), str(tmp_path / "out")]) == 1
    assert "is not a vcrpy cassette" in capsys.readouterr().err
    assert import_vcr(VCR / "openai_stream.yaml", tmp_path / "taken").interactions == 2
    with pytest.raises(CassetteError, match="already exists"):
        import_vcr(VCR / "openai_stream.yaml", tmp_path / "taken")
    assert import_vcr(VCR / "openai_stream.yaml", tmp_path / "taken", overwrite=True).interactions == 2


PARSED_BODY_YAML = """\
interactions:
- request:
    headers:
      content-type:
      - application/json
    method: POST
    parsed_body:
      messages:
      - content: What is 2+2?
        role: user
      model: gpt-4o
      stream: false
    uri: https://api.openai.com/v1/chat/completions
  response:
    headers:
      content-type:
      - application/json
    parsed_body:
      choices:
      - finish_reason: stop
        index: 0
        message:
          content: '4'
          role: assistant
      model: gpt-4o-2024-08-06
      object: chat.completion
      usage:
        completion_tokens: 1
        prompt_tokens: 14
        total_tokens: 15
    status:
      code: 200
      message: OK
version: 1
"""


def test_parsed_body_cassettes(tmp_path: Path) -> None:
    (tmp_path / "parsed.yaml").write_text(PARSED_BODY_YAML)
    report = import_vcr(tmp_path / "parsed.yaml", tmp_path / "out")
    assert (report.interactions, report.merged, report.warnings) == (1, [], [])
    [item] = load_cassette(tmp_path / "out")
    assert item.request["body"] == {"messages": [{"content": "What is 2+2?", "role": "user"}], "model": "gpt-4o",
                                    "stream": False}
    client = LLMClient("openai/gpt-4o", base_url="http://127.0.0.1:9/v1", api_key="test")
    with cassette(tmp_path / "out", mode="none", speed=0, match_on=("method", "path")):
        answer = client.chat("What is 2+2?")
    assert (answer.content, answer.usage.total_tokens) == ("4", 15)


def test_gemini_json_array_stream_is_kept_whole_and_flagged(tmp_path: Path) -> None:
    report = import_vcr(VCR / "gemini_json_array.yaml", tmp_path / "gemini")
    assert report.merged == ["001"] and "kept as one piece" in report.warnings[0]
    assert sorted(p.name for p in (tmp_path / "gemini").iterdir()) == [
        "001.json", "001.json-stream", "001.request.json", "timings.json"]
    sidecar = json.loads((tmp_path / "gemini" / "001.json").read_text())
    assert (sidecar["wire_format"], sidecar["merged"], sidecar["recording"]["headers"]["vary"]) == (
        "gemini-json-array", True, "Origin, X-Origin, Referer")
    fixture = FIXTURE.parents[1] / "gemini" / "jsonarray-flash-hi.json-stream"
    assert (tmp_path / "gemini" / "001.json-stream").read_bytes() == fixture.read_bytes()
    client = LLMClient("gemini/gemini-flash-latest", base_url="http://127.0.0.1:9", api_key="test")
    with cassette(tmp_path / "gemini", mode="none", speed=0, match_on=("method", "path")):
        run = stream(client, "hi")
    assert (run.text, run.usage.total_tokens) == ("Hello! How can I help you today?", 190)


def test_the_llm_connectivity_command_dispatches_to_the_importer(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from llm_connectivity.cli import main as llm_connectivity

    assert llm_connectivity(["cassette", "import-vcr", str(VCR / "anthropic_gzip.yaml"), str(tmp_path / "c")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 1 interaction(s) to {tmp_path / 'c'}, 1 stored merged (no timing)"
    assert [item.name for item in load_cassette(tmp_path / "c")] == ["001"]


def test_httpx_format_cassettes_keep_their_bodies_and_statuses(tmp_path: Path) -> None:
    """vcrpy's httpx serializer (OpenAI and Anthropic SDK cassettes): ``status_code`` and
    ``content`` (already decompressed by httpx, though the headers still say gzip)."""
    report = import_vcr(VCR / "openai_httpx_format.yaml", tmp_path / "httpx")
    assert (report.interactions, report.merged, report.warnings[1:]) == (2, ["001"], [])
    stream_item, error_item = load_cassette(tmp_path / "httpx")
    assert (stream_item.status, len(stream_item.pieces), stream_item.body.endswith(b"data: [DONE]\n\n")) == (
        200, 3, True)
    assert (error_item.status, error_item.headers["retry-after"]) == (429, "7")
    assert json.loads(error_item.body)["error"]["code"] == "rate_limit_exceeded"
    client = LLMClient("openai/gpt-4o-mini", api_key="test", max_retries=0)
    with cassette(tmp_path / "httpx", mode="none", speed=0):
        assert stream(client, "Say hello").text == "Hello"
        with pytest.raises(RateLimitError) as caught:
            client.chat("again")
    assert caught.value.retry_after == 7.0 and "Rate limit reached" in caught.value.message


def _brotli_cassette(tmp_path: Path, encoding: str = "br") -> Path:
    text = (VCR / "openai_stream.yaml").read_text()
    interactions = text.split("- request:")
    assert "text/event-stream" in interactions[1]
    yaml_file = tmp_path / "br.yaml"
    yaml_file.write_text(text.replace("      Content-Type:\n      - text/event-stream",
                                      f"      Content-Encoding:\n      - {encoding}\n      Content-Type:\n"
                                      "      - text/event-stream", 1))
    return yaml_file


def test_a_brotli_body_is_decoded_with_brotli_or_refused_clearly(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    yaml_file = _brotli_cassette(tmp_path)
    monkeypatch.setitem(sys.modules, "brotli", None)  # not installed
    monkeypatch.setitem(sys.modules, "brotlicffi", None)
    with pytest.raises(CassetteError, match=r"interaction 001: its body is brotli-compressed .* pip install brotli"):
        import_vcr(yaml_file, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    decoded = []
    fake = types.ModuleType("brotli")
    fake.decompress = lambda data: decoded.append(data) or data  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "brotli", fake)
    report = import_vcr(yaml_file, tmp_path / "decoded")
    assert report.interactions == 2 and len(decoded) == 1
    with pytest.raises(CassetteError, match=r"Content-Encoding 'zstd', which the import cannot decode"):
        import_vcr(_brotli_cassette(tmp_path, "zstd"), tmp_path / "zstd")
