"""The on-disk layout (same shape as tests/fixtures/recorded, both directions) and secrets."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import fixture_support
import pytest
from cassette_support import KEY, files_of, stream
from fixture_support import check_response, load_fixtures

from llm_connectivity import LLMClient
from llm_connectivity.testing import FakeLLMServer, cassette
from llm_connectivity.testing.cassette import CassetteSecretError, load_cassette
from llm_connectivity.testing.cassette.redaction import redact_url, request_secrets

MODELS = {"openai": "openai/gpt-4o-mini", "anthropic": "anthropic/claude-haiku-4-5", "gemini": "gemini/gemini-2.5-flash"}
KEY_HEADERS = {"openai": "authorization", "anthropic": "x-api-key", "gemini": "x-goog-api-key"}


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_recorded_files_hold_no_key_and_only_allow_listed_headers(tmp_path: Path, provider: str) -> None:
    path = tmp_path / provider
    with FakeLLMServer() as server:
        server.add_reply("Hello from the fake", delay=0.01)
        client = LLMClient(MODELS[provider], base_url=server.base_url_for(provider), api_key=KEY)
        with cassette(path):
            recorded = stream(client, "Hi")
        assert KEY_HEADERS[provider] in server.requests[0].headers  # the key did travel
    files = files_of(path)
    assert not [name for name, data in files.items() if KEY.encode() in data or KEY[-10:].encode() in data]
    request = json.loads(files["001.request.json"])
    assert set(request["headers"]) <= {"content-type", "accept", "accept-encoding", "anthropic-version"}
    assert request["body"] and request["method"] == "POST"
    sidecar = json.loads(files["001.json"])
    assert sidecar["provider"] == provider and sidecar["recording"]["status"] == 200
    assert sidecar["body_sha256"] == hashlib.sha256(files[sidecar["body_file"]]).hexdigest()
    with cassette(path, mode="none", speed=0):
        dead = "http://127.0.0.1:9" + ("/v1" if provider == "openai" else "")
        again = stream(LLMClient(MODELS[provider], base_url=dead, api_key="test"), "Hi")
    assert (again.contents, again.text, again.usage) == (recorded.contents, recorded.text, recorded.usage)


def test_a_key_echoed_into_a_file_stops_the_write_and_names_the_file(tmp_path: Path) -> None:
    with FakeLLMServer() as server:
        server.add_raw(b'data: {"choices":[{"delta":{"content":"your key is ' + KEY.encode() + b'"}}]}\n\n'
                       b"data: [DONE]\n\n")
        client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key=KEY)
        with pytest.raises(CassetteSecretError) as caught, cassette(tmp_path / "echo"):
            stream(client, "Hi")
    assert "001.sse contains an API key" in str(caught.value) and KEY not in str(caught.value)
    assert KEY[-4:] not in str(caught.value)
    assert not (tmp_path / "echo").exists() and list(tmp_path.iterdir()) == []  # no temp dir left either
    with FakeLLMServer() as server:  # in the request body (the prompt) as well
        client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key=KEY)
        with pytest.raises(CassetteSecretError, match="001.request.json"), cassette(tmp_path / "prompt"):
            client.chat(f"my key is {KEY}")


def test_url_and_header_secrets_are_redacted_and_collected() -> None:
    url = "https://bob:pa55-word-0001@example.com:8443/v1beta/models/m:streamGenerateContent?alt=sse&key=AIzaSECRET12345"
    assert redact_url(url) == "https://bob:***@example.com:8443/v1beta/models/m:streamGenerateContent?alt=sse&key=***"
    headers = {"Authorization": "Bearer sk-abcdefgh1234", "x-api-key": "ant-key-99999", "Cookie": "session=abcdef123",
               "X-Portkey-Api-Key": "pk-0123456789", "Content-Type": "application/json", "x-goog-api-key": "short"}
    assert set(request_secrets(headers, url)) == {
        "Bearer sk-abcdefgh1234", "sk-abcdefgh1234", "ant-key-99999", "session=abcdef123", "pk-0123456789",
        "AIzaSECRET12345", "pa55-word-0001",
        "Ym9iOnBhNTUtd29yZC0wMDAx"}  # base64 of bob:pa55-word-0001, as the Basic credentials the transport sends
    # ("short", < 8 characters, is a placeholder, not a secret)


def test_a_project_fixture_replays_through_a_cassette(tmp_path: Path) -> None:
    fx = next(f for f in load_fixtures("anthropic-messages") if f.name == "haiku45-say-hello")
    for suffix in (".sse", ".json"):
        shutil.copy(fixture_support.FIXTURE_DIR / "anthropic" / f"{fx.name}{suffix}", tmp_path)
    [item] = load_cassette(tmp_path)
    assert (item.name, item.provider, item.status, item.body) == (fx.name, "anthropic", 200, fx.body)
    client = LLMClient("anthropic/claude-haiku-4-5", base_url="http://127.0.0.1:9", api_key="test", max_retries=0)
    with cassette(tmp_path, mode="none", match_on=("method", "path"), speed=0):
        with client.chat_stream("anything", max_tokens=64) as chunks:
            texts = [chunk.content for chunk in chunks if chunk.content]
            response = chunks.response
    assert texts == ["Hello"]
    check_response(fx, response)


def test_a_recording_becomes_a_regression_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeLLMServer() as server:
        server.add_reply("Recorded once, checked forever")
        client = LLMClient("anthropic/claude-haiku-4-5", base_url=server.url, api_key=KEY)
        with cassette(tmp_path / "cas"):
            recorded = stream(client, "Hi")
    fixtures = tmp_path / "recorded" / "anthropic"
    fixtures.mkdir(parents=True)
    shutil.copy(tmp_path / "cas" / "001.sse", fixtures / "greeting.sse")
    sidecar = json.loads((tmp_path / "cas" / "001.json").read_text())
    sidecar.update(name="greeting", body_file="greeting.sse", expected={
        "text": recorded.text, "finish_reason": "end_turn", "tool_calls": [],
        "usage": {"input_tokens": recorded.usage.prompt_tokens, "output_tokens": recorded.usage.completion_tokens,
                  "total_tokens": None}})
    (fixtures / "greeting.json").write_text(json.dumps(sidecar, indent=2))
    monkeypatch.setattr(fixture_support, "FIXTURE_DIR", tmp_path / "recorded")
    [fx] = fixture_support.load_fixtures("anthropic-messages")
    assert fx.id == "anthropic/greeting" and fx.content_type.startswith("text/event-stream")
    with FakeLLMServer() as server:  # as tests/integration/test_recorded_streams.py replays fixtures
        server.add_raw(fx.body, content_type=fx.content_type, pieces=[7] * (len(fx.body) // 7 + 1))
        with LLMClient("anthropic/claude-haiku-4-5", base_url=server.url, api_key="test") as client:
            with client.chat_stream("replay") as chunks:
                list(chunks)
                check_response(fx, chunks.response)
