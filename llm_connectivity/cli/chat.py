"""``llm-connectivity chat``: stream one answer to the terminal.

    llm-connectivity chat "Count to 5" -m anthropic/claude-sonnet-4-5 --max-tokens 50
    echo "Summarise this" | llm-connectivity chat - --system "Be brief" --usage
    llm-connectivity chat --local "Hi"          # a FakeLLMServer on 127.0.0.1: no key

Ctrl-C stops the stream, prints the rest of what was received, exits 130. ``--json``
prints the whole response as one JSON object instead of streaming text.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from ..errors import LLMError
from ..models import ChatResponse, StreamChunk
from .common import (
    EXIT_INTERRUPTED,
    add_connection_options,
    check_connection_options,
    describe,
    fail,
    open_client,
    quiet_broken_pipe,
)

__all__ = ["parser", "run"]

Stage = Callable[[Iterator[StreamChunk]], Iterator[StreamChunk]]


def parser() -> argparse.ArgumentParser:
    """The ``chat`` argument parser."""
    p = argparse.ArgumentParser(prog="llm-connectivity chat", description="Stream one LLM answer to stdout.")
    p.add_argument("prompt", nargs="*", help="the prompt (words are joined); '-' or nothing: read stdin")
    add_connection_options(p)
    p.add_argument("--system", default=None, help="a system message")
    p.add_argument("--max-tokens", type=int, default=None, metavar="N")
    p.add_argument("--temperature", type=float, default=None, metavar="T")
    p.add_argument("--buffer", choices=("word", "sentence"), default=None, help="print whole words or sentences")
    p.add_argument("--rate", type=float, default=None, metavar="TOKENS_PER_S", help="print at most this fast")
    p.add_argument("--progress", action="store_true", help="a progress line on stderr")
    p.add_argument("--json", action="store_true", help="print the whole response as one JSON object")
    p.add_argument("--usage", action="store_true", help="print token usage and cost on stderr at the end")
    p.add_argument("--version", action="version", version=_version())
    return p


def _version() -> str:
    from .. import __version__

    return f"llm-connectivity {__version__}"


def _read_prompt(words: list[str]) -> str:
    if words and words != ["-"]:
        return " ".join(words)
    if not words and sys.stdin.isatty():
        return ""
    return sys.stdin.read().strip()


def _toolkit(name: str, option: str) -> Callable[..., Iterator[StreamChunk]]:
    from .. import streaming

    found = getattr(streaming, name, None)
    if found is None:
        raise _UsageError(f"{option} needs llm_connectivity.streaming.{name}, which this version does not have")
    stage: Callable[..., Iterator[StreamChunk]] = found
    return stage


class _UsageError(Exception):
    """A usage problem found after parsing (exit 2)."""


def _stages(args: argparse.Namespace) -> list[Stage]:
    """The output wrappers the options ask for, resolved before anything is sent."""
    stages: list[Stage] = []
    if args.rate is not None:
        if not args.rate > 0:
            raise _UsageError(f"--rate must be a positive number of tokens per second, got {args.rate:g}")
        stages.append(partial(_toolkit("rate_limit", "--rate"), tokens_per_second=args.rate))
    if args.buffer:
        stages.append(_toolkit(f"buffer_{args.buffer}s", "--buffer"))
    if args.progress:
        stages.append(partial(_toolkit("progress_bar", "--progress"), estimated_tokens=args.max_tokens,
                              file=args.progress_file))
    return stages


def _messages(args: argparse.Namespace, prompt: str) -> list[dict[str, Any]]:
    system = [{"role": "system", "content": args.system}] if args.system else []
    return [*system, {"role": "user", "content": prompt}]


def run(argv: list[str]) -> int:
    """Run ``chat`` with ``argv``; return the exit status."""
    p = parser()
    args = p.parse_args(argv)
    check_connection_options(p, args)
    # On a terminal the answer and a live bar would share the screen: hold the bar's lines
    # and show its last one after the answer; with stdout redirected, show it live.
    args.progress_file = io.StringIO() if sys.stdout.isatty() else sys.stderr
    try:
        stages = _stages(args)
        prompt = _read_prompt(args.prompt)
        if not prompt:
            raise _UsageError("no prompt: give it as arguments, or pipe it in and pass '-'")
    except _UsageError as exc:
        p.error(str(exc))
    with contextlib.ExitStack() as stack:  # a Ctrl-C before the answer starts: main() says "interrupted"
        try:
            client = open_client(stack, args, delay=0.02)
            params = {"max_tokens": args.max_tokens, "temperature": args.temperature}
            stream = stack.enter_context(client.chat_stream(_messages(args, prompt),
                                                            **{k: v for k, v in params.items() if v is not None}))
        except LLMError as exc:
            return fail(describe(exc))
        return _Printer(args, stream).run(stages)
    return 0  # pragma: no cover - the with block always returns


class _Printer:
    """Streams the answer to stdout and handles the ways it can end."""

    def __init__(self, args: argparse.Namespace, stream: Any) -> None:
        self.args = args
        self.stream = stream
        self.printed = 0  # characters of the answer written so far
        self.shown = False  # the final output (rest of the text, or the JSON object) is written

    def run(self, stages: list[Stage]) -> int:
        """Print the answer through ``stages``; return the exit status."""
        chunks: Iterator[StreamChunk] = iter(self.stream)
        for stage in stages:
            chunks = stage(chunks)
        try:
            for chunk in chunks:
                if chunk.content and not self.args.json:
                    sys.stdout.write(chunk.content)
                    sys.stdout.flush()
                    self.printed += len(chunk.content)
            self._finish(self.stream.response, interrupted=False)
        except KeyboardInterrupt:
            with contextlib.suppress(BrokenPipeError):
                self._finish(self.stream.response, interrupted=True)
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            self.stream.close()
            return quiet_broken_pipe()
        except LLMError as exc:
            with contextlib.suppress(BrokenPipeError):
                self._finish(exc.partial_response, interrupted=False, failed=True)
            return fail(describe(exc))
        return 0

    def _finish(self, response: ChatResponse | None, *, interrupted: bool, failed: bool = False) -> None:
        """Print what was received but not yet shown, then the usage line (once, even when
        a Ctrl-C lands while it is being printed and this runs again)."""
        if not self.shown:
            self.shown = True
            if self.args.json:
                if response is not None:
                    data = {**response.to_dict(include_raw=False), **({"interrupted": True} if interrupted else {})}
                    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
            else:
                rest = response.content[self.printed:] if response is not None else ""
                if self.printed or rest:
                    sys.stdout.write(rest + "\n")
        sys.stdout.flush()
        held = self.args.progress_file
        if self.args.progress and isinstance(held, io.StringIO) and held.getvalue().strip():
            print(held.getvalue().replace("\r", "\n").strip().splitlines()[-1].strip(), file=sys.stderr)
        if interrupted:
            print("interrupted", file=sys.stderr, flush=True)
        if self.args.usage and response is not None and not failed:
            print(_usage_line(response), file=sys.stderr, flush=True)


def _usage_line(response: ChatResponse) -> str:
    usage = response.usage
    estimated = " (estimated)" if usage.is_estimated else ""
    cost = f"${response.cost_usd:.6f}" if response.cost_usd is not None else "unknown"
    return (f"usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion = "
            f"{usage.total_tokens} tokens{estimated}; cost {cost}")
