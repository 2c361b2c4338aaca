"""A provider driver for "ToyLLM", an imaginary line-oriented streaming API, in about 60 lines.

Everything the driver needs comes from ``llm_connectivity.provider_api``, the declared
plugin API (see docs/providers.md).

ToyLLM's wire format (invented for this example):

    POST {base_url}/messages          Authorization: Toy <key>
    {"model": "tiny", "messages": [...], "max_new_tokens": 64, "stream": true}

    data: {"token": "Hello"}                                       one per piece of text
    data: {"done": true, "reason": "stop", "usage": {"input": 3, "output": 5}}
    data: {"error": {"type": "rate_limit_error", "message": "slow down"}}   (instead)

The path ends in ``/messages`` only so that the bundled FakeLLMServer (which answers the
vendor paths ``.../chat/completions``, ``.../responses``, ``.../messages`` and
``:streamGenerateContent``, and 404s anything else) routes it and plays back the raw
event stream queued with ``add_raw``. Run it: ``python examples/custom_provider.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from llm_connectivity.provider_api import (
    ChatResponse,
    HTTPRequest,
    ProviderDriver,
    RequestSpec,
    SSEEvent,
    StreamChunk,
    StreamInterruptedError,
    Usage,
    as_count,
    decode_json,
    error_from_payload,
    join_url,
    make_chunk,
    normalize_finish_reason,
    raw_reason,
    register_provider,
)

FINISH_REASONS = {"stop": "stop", "length": "length"}  # ToyLLM's reasons; any other one is "stop"


def toy_usage(raw: Any) -> Usage | None:
    """ToyLLM's ``{"input": n, "output": m}`` as a Usage (None when absent)."""
    if not isinstance(raw, dict):
        return None
    prompt, completion = as_count(raw.get("input")), as_count(raw.get("output"))
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion, raw=raw)


class ToyLLMDriver(ProviderDriver):
    """Pure translator: RequestSpec -> HTTPRequest, events -> StreamChunks. No I/O here."""

    name = "toyllm"
    api_key_env = ("TOYLLM_API_KEY",)  # tried in order when LLMClient gets no api_key=
    base_url_env = "TOYLLM_BASE_URL"
    default_base_url = "https://api.toyllm.example/v1"

    def build_request(self, spec: RequestSpec) -> HTTPRequest:
        body: dict[str, Any] = {"model": spec.model, "messages": spec.messages, "stream": spec.stream}
        for key, value in spec.params.items():  # rename what ToyLLM spells differently
            body["max_new_tokens" if key == "max_tokens" else key] = value
        headers = {"Content-Type": "application/json"}
        if spec.api_key:
            headers["Authorization"] = f"Toy {spec.api_key}"
        return HTTPRequest("POST", join_url(spec.base_url, "messages"), headers,
                           json.dumps(body).encode(), stream=spec.stream)

    def parse_response(self, payload: Any, spec: RequestSpec) -> ChatResponse:
        if not isinstance(payload, dict) or "error" in payload:
            raise error_from_payload(payload, provider=self.name)
        reason = raw_reason(payload.get("reason")) or "stop"
        return ChatResponse(content=str(payload.get("text") or ""), raw_finish_reason=reason,
                            finish_reason=normalize_finish_reason(reason, FINISH_REASONS),
                            usage=toy_usage(payload.get("usage")) or Usage(), model=spec.model,
                            provider=self.name, raw=payload)

    def translate_events(self, events: Iterable[SSEEvent], spec: RequestSpec) -> Iterator[StreamChunk]:
        for index, event in enumerate(events):  # iter_events() already decoded the event stream
            obj = decode_json(event.data, provider=self.name)
            if not isinstance(obj, dict) or "error" in obj:
                raise error_from_payload(obj, provider=self.name)  # typed: RateLimitError, ...
            if obj.get("done"):
                reason = raw_reason(obj.get("reason")) or "stop"
                yield make_chunk("", normalize_finish_reason(reason, FINISH_REASONS), reason, obj, index,
                                 toy_usage(obj.get("usage")), (), "", 0, {})
                return  # the terminal event: the stream is complete
            yield make_chunk(str(obj.get("token") or ""), None, None, obj, index, None, (), "", 0, {})
        raise StreamInterruptedError(f"{self.name} stream ended before its done event", provider=self.name)


def toy_stream(tokens: list[str], usage: dict[str, int]) -> bytes:
    """A ToyLLM event stream, as the imaginary server would send it."""
    events = [{"token": t} for t in tokens] + [{"done": True, "reason": "stop", "usage": usage}]
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


def main() -> int:
    from llm_connectivity import LLMClient  # using the driver: the client and a local fake server
    from llm_connectivity.testing import FakeLLMServer

    register_provider("toyllm", ToyLLMDriver, replace=True)  # a class is a zero-argument factory
    with FakeLLMServer() as server:
        server.add_raw(toy_stream(["Hello", " from", " ToyLLM", "!"], {"input": 3, "output": 4}),
                       content_type="text/event-stream", pieces=[20, 20, 20])
        client = LLMClient(model="toyllm/tiny", base_url=server.base_url, api_key="toy-local")
        with client, client.chat_stream("Say hello", max_tokens=16) as stream:
            for chunk in stream:
                print(chunk.content, end="", flush=True)
        response = stream.response
        sent = server.requests[-1]
        usage = response.usage
        print(f"\n[POST {sent.path} max_new_tokens={sent.json['max_new_tokens']}] finish_reason="
              f"{response.finish_reason} usage: prompt={usage.prompt_tokens} "
              f"completion={usage.completion_tokens} total={usage.total_tokens}")
    return 0 if response.content == "Hello from ToyLLM!" else 1


if __name__ == "__main__":
    sys.exit(main())
