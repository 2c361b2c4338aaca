"""What every subcommand shares: the connection options, opening a client (or a local
FakeLLMServer), one-line errors, and a quiet exit when stdout is a closed pipe."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from typing import Any

__all__ = ["DEFAULT_MODEL", "EXIT_INTERRUPTED", "EXIT_PIPE", "LOCAL_KEY", "LocalClients", "add_connection_options",
           "check_connection_options", "describe", "fail", "open_client", "quiet_broken_pipe", "silence_stdout"]

DEFAULT_MODEL = "openai/gpt-4o-mini"
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141  # 128 + SIGPIPE, what `yes | head` reports
LOCAL_KEY = "sk-local-cli"  # the dummy key --local clients send to their FakeLLMServer


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


class LocalClients:
    """``--local``: one LLMClient per provider, every one pointed at the same FakeLLMServer,
    so an item naming another provider's model (``{"model": "anthropic/..."}``) is answered
    locally too, never by the vendor with a key from the environment. It has what a batch
    needs of a client: ``model``, ``retry_policy``, ``default_params``, ``chat()`` and
    ``chat_stream()``."""

    def __init__(self, stack: contextlib.ExitStack, server: Any, model: str, defaults: dict[str, Any]) -> None:
        self._stack, self._server, self._defaults = stack, server, defaults
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        first = self.client_for(model)
        self.model, self.retry_policy, self.default_params = model, first.retry_policy, first.default_params
        self.endpoint = "local"  # the batch checkpoint's mark: the port changes from run to run

    def client_for(self, model: str) -> Any:
        """The client for ``model``'s provider (made on first use)."""
        from .. import LLMClient

        provider = model.split("/", 1)[0]
        with self._lock:
            client = self._clients.get(provider)
            if client is None:
                client = self._clients[provider] = self._stack.enter_context(LLMClient(
                    model, base_url=self._server.base_url_for(provider), api_key=LOCAL_KEY, **self._defaults))
            return client

    def chat(self, messages: Any, *, model: str | None = None, **params: Any) -> Any:
        """``chat`` on the client of ``model``'s provider."""
        model = model or self.model
        return self.client_for(model).chat(messages, model=model, **params)

    def chat_stream(self, messages: Any, *, model: str | None = None, **params: Any) -> Any:
        """``chat_stream`` on the client of ``model``'s provider."""
        model = model or self.model
        return self.client_for(model).chat_stream(messages, model=model, **params)


def open_client(stack: contextlib.ExitStack, args: argparse.Namespace, *, delay: float = 0.0,
                **params: Any) -> Any:
    """An LLMClient for ``args`` (closed with ``stack``); ``--local`` starts a FakeLLMServer
    and answers every provider from it (:class:`LocalClients`)."""
    defaults = {k: v for k, v in params.items() if v is not None}
    if args.local:
        from ..testing import FakeLLMServer

        server = stack.enter_context(FakeLLMServer(delay=delay))
        return LocalClients(stack, server, args.model, defaults)
    from .. import LLMClient

    return stack.enter_context(LLMClient(args.model, base_url=args.base_url, **defaults))


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush of what could not be
    written raises nothing."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def quiet_broken_pipe() -> int:
    """stdout's reader went away (``| head``): silence stdout and return the exit status."""
    silence_stdout()
    return EXIT_PIPE

