"""What every subcommand shares: the connection options, opening a client (or a local
FakeLLMServer), one-line errors, and a quiet exit when stdout is a closed pipe."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any

__all__ = ["DEFAULT_MODEL", "EXIT_INTERRUPTED", "EXIT_PIPE", "add_connection_options", "check_connection_options",
           "describe", "fail", "open_client", "quiet_broken_pipe"]

DEFAULT_MODEL = "openai/gpt-4o-mini"
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141  # 128 + SIGPIPE, what `yes | head` reports


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """``-m/--model``, ``--base-url`` and ``--local``."""
    parser.add_argument("-m", "--model", default=DEFAULT_MODEL, help="provider/model (default: %(default)s)")
    parser.add_argument("--base-url", default=None, help="the provider's endpoint (default: its env var or the vendor's)")
    parser.add_argument("--local", action="store_true",
                        help="answer from a FakeLLMServer started on 127.0.0.1 (no API key, no network)")


def check_connection_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse contradictory options with a usage error (exit 2)."""
    if args.local and args.base_url:
        parser.error("--local and --base-url cannot be used together: --local answers from its own server "
                     "on 127.0.0.1; drop one of them")


def describe(exc: BaseException) -> str:
    """``Type: message`` on one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def fail(message: str, status: int = 1) -> int:
    """Print ``llm-connectivity: error: message`` (one line) on stderr; return ``status``."""
    print(f"llm-connectivity: error: {' '.join(message.split())}", file=sys.stderr, flush=True)
    return status


def open_client(stack: contextlib.ExitStack, args: argparse.Namespace, *, delay: float = 0.0,
                **params: Any) -> Any:
    """An LLMClient for ``args`` (closed with ``stack``); ``--local`` starts a FakeLLMServer."""
    from .. import LLMClient

    base_url, api_key = args.base_url, None
    if args.local:
        from ..testing import FakeLLMServer

        server = stack.enter_context(FakeLLMServer(delay=delay))
        base_url, api_key = server.base_url_for(args.model.split("/", 1)[0]), "sk-local-cli"
    defaults = {k: v for k, v in params.items() if v is not None}
    return stack.enter_context(LLMClient(args.model, base_url=base_url, api_key=api_key, **defaults))


def quiet_broken_pipe() -> int:
    """stdout's reader went away (``| head``): point stdout at /dev/null so the interpreter's
    final flush raises nothing, and return the exit status."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_PIPE

