"""Configuration: StreamingOptions, presets, the environment and precedence.

Runs against the bundled FakeLLMServer on 127.0.0.1 (no key, no network); every pattern
of docs/configuration.md, in order.

    python examples/configuration.py
"""

from __future__ import annotations

import os
import warnings

from llm_connectivity import ConfigurationError, LLMClient, StreamingOptions
from llm_connectivity.options import (
    HIGH_RELIABILITY_OPTIONS,
    HIGH_THROUGHPUT_OPTIONS,
    JSON_MODE_OPTIONS,
    LOW_LATENCY_OPTIONS,
    resolve_options,
)
from llm_connectivity.testing import FakeLLMServer, Reply


def heading(title: str) -> None:
    print(f"\n== {title} ==")


def show(options: StreamingOptions, *names: str) -> str:
    return ", ".join(f"{name}={getattr(options, name)!r}" for name in names)


def main() -> None:
    heading("defaults: never hangs, waits for slow reasoning models")
    print(show(StreamingOptions(), "connection_timeout", "read_timeout", "content_idle_timeout", "total_timeout"))

    heading("frozen, with replace()")
    options = StreamingOptions(read_timeout=120.0)
    shorter = options.replace(total_timeout=300.0, max_cost_usd=0.05)
    print(show(shorter, "read_timeout", "total_timeout", "max_cost_usd"))
    print("explicitly set:", sorted(shorter.explicit_fields))

    heading("presets")
    for name, preset in [("JSON_MODE_OPTIONS", JSON_MODE_OPTIONS), ("HIGH_THROUGHPUT_OPTIONS", HIGH_THROUGHPUT_OPTIONS),
                         ("LOW_LATENCY_OPTIONS", LOW_LATENCY_OPTIONS),
                         ("HIGH_RELIABILITY_OPTIONS", HIGH_RELIABILITY_OPTIONS)]:
        print(f"{name}: {', '.join(f'{f}={getattr(preset, f)!r}' for f in sorted(preset.explicit_fields))}")

    heading("environment variables")
    os.environ["STREAMING_READ_TIMEOUT"] = "45"
    os.environ["STREAMING_ENABLE_JSON_HANDLER"] = "true"
    print(show(StreamingOptions.from_env(), "read_timeout", "enable_json_handler"))
    os.environ["STREAMING_MAX_RECONNECTS"] = "several"
    try:
        StreamingOptions.from_env()
    except ConfigurationError as error:
        print("invalid:", error)
    del os.environ["STREAMING_MAX_RECONNECTS"]

    heading("precedence: per call > client > environment > default")
    with FakeLLMServer() as server:
        client = LLMClient("openai/gpt-4o-mini", base_url=server.base_url, api_key="local",
                           streaming_options=StreamingOptions(read_timeout=90.0, connection_timeout=3.0))
        print("client:", show(client.options, "read_timeout", "connection_timeout", "enable_json_handler"))
        per_call = StreamingOptions(read_timeout=20.0)
        merged = resolve_options(per_call, client.options)
        print("call:  ", show(merged, "read_timeout", "connection_timeout", "enable_json_handler"))
        server.add_reply(Reply('{"ok": true}'))
        result = client.stream_with_usage("Answer in JSON", streaming_options=per_call)
        print("the call ran with the merged options; get_json() =", result.get_json())
        client.close()
    del os.environ["STREAMING_READ_TIMEOUT"], os.environ["STREAMING_ENABLE_JSON_HANDLER"]

    heading("options that mean nothing here are refused loudly")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        StreamingOptions(enable_compression=True)
    print("warning:", caught[0].message)


if __name__ == "__main__":
    main()
