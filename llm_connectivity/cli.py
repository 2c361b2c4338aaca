"""``llm-connectivity``: stream one answer to the terminal.

    llm-connectivity "Count to 5"                       # openai/gpt-4o-mini, key from OPENAI_API_KEY
    llm-connectivity -m anthropic/claude-sonnet-4-5 "Hi"
    llm-connectivity --local "Hi"                        # from a FakeLLMServer on 127.0.0.1, no key

Exit status: 0 on success, 1 on an LLMError (printed, with any partial answer kept), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from . import LLMClient
from .errors import LLMError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-connectivity", description="Stream an LLM answer to stdout.")
    parser.add_argument("prompt", nargs="+", help="the prompt text")
    parser.add_argument("-m", "--model", default="openai/gpt-4o-mini", help="provider/model (default: %(default)s)")
    parser.add_argument("--base-url", default=None, help="override the provider's base URL")
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--local", action="store_true", help="answer from a local FakeLLMServer (no API key)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``llm-connectivity`` command."""
    args = _parser().parse_args(argv)
    with contextlib.ExitStack() as stack:
        base_url, api_key = args.base_url, None
        if args.local:
            from .testing import FakeLLMServer

            server = stack.enter_context(FakeLLMServer(delay=0.02))
            base_url, api_key = server.base_url_for(args.model.split("/", 1)[0]), "sk-local-cli"
        try:
            client = stack.enter_context(LLMClient(args.model, base_url=base_url, api_key=api_key))
            for piece in client.stream(" ".join(args.prompt), max_tokens=args.max_tokens):
                print(piece, end="", flush=True)
        except LLMError as exc:
            print(f"\nerror: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
