"""``llm-connectivity batch IN.jsonl OUT.jsonl``: run a file of prompts, resumably.

Each input line is a JSON string (a prompt), a messages list, or an object with
``messages`` and per-item parameters (``id``, ``model``, ``max_tokens``...). The output
file is the checkpoint: one JSON line per finished item, appended as items finish; run
the same command again after a crash or Ctrl-C and only the rest is sent. When the run
completes the file is rewritten in input order. Progress and the summary go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import IO, Any

from ..batch import run_batch
from ..batch.items import split_item
from ..errors import InvalidRequestError, LLMError, RateLimitError
from .common import (
    EXIT_INTERRUPTED,
    add_connection_options,
    check_connection_options,
    describe,
    fail,
    open_client,
)

__all__ = ["parser", "read_items", "run"]


def parser() -> argparse.ArgumentParser:
    """The ``batch`` argument parser."""
    p = argparse.ArgumentParser(prog="llm-connectivity batch",
                                description="Run a JSONL file of prompts; OUT.jsonl is also the checkpoint.")
    p.add_argument("input", help="JSONL input ('-' for stdin): prompts, messages lists or objects")
    p.add_argument("output", help="JSONL results, appended as items finish; re-run to resume")
    add_connection_options(p)
    p.add_argument("--workers", type=int, default=8, metavar="N", help="requests in flight (default: %(default)s)")
    p.add_argument("--rpm", type=float, default=None, metavar="N", help="requests per minute at most")
    p.add_argument("--tpm", type=float, default=None, metavar="N", help="tokens per minute at most")
    p.add_argument("--max-tokens", type=int, default=None, metavar="N", help="default max_tokens per item")
    p.add_argument("--temperature", type=float, default=None, metavar="T")
    p.add_argument("--budget", type=float, default=None, metavar="USD", help="stop starting items after this cost")
    p.add_argument("--keep-failed", action="store_true",
                   help="on resume, keep items that failed before instead of sending them again")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def read_items(handle: IO[str], name: str) -> list[Any]:
    """The items of a JSONL input (blank lines skipped); ValueError names the bad line
    (not JSON, or not a prompt, a messages list or an object with ``messages``)."""
    items: list[Any] = []
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{name} line {number} is not JSON ({exc.args[0]})") from None
        try:
            split_item(len(items), item)
        except InvalidRequestError as exc:
            raise ValueError(f"{name} line {number}: {exc}") from None
        items.append(item)
    return items


def _load(path: str) -> list[Any]:
    if path == "-":
        return read_items(sys.stdin, "stdin")
    with open(path, encoding="utf-8") as handle:
        return read_items(handle, path)


def _same_file(first: str, second: str) -> bool:
    if first == "-":
        return False
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(first) == os.path.realpath(second)


def run(argv: list[str]) -> int:
    """Run ``batch`` with ``argv``; return the exit status (1 if any item failed)."""
    p = parser()
    args = p.parse_args(argv)
    check_connection_options(p, args)
    if args.workers < 1:
        p.error(f"--workers must be at least 1, got {args.workers}")
    for option, value in (("--rpm", args.rpm), ("--tpm", args.tpm), ("--budget", args.budget)):
        if value is not None and not value > 0:  # also refuses nan
            p.error(f"{option} must be a positive number, got {value:g}")
    if args.output == "-":
        p.error("OUT.jsonl is the checkpoint: give a file, not '-' (read it as it grows with `tail -f`)")
    if _same_file(args.input, args.output):
        p.error(f"{args.output} is also the input: the results (the checkpoint) would overwrite the prompts; "
                "give another output file")
    try:
        items = _load(args.input)
    except (OSError, ValueError) as exc:
        return fail(str(exc) if isinstance(exc, ValueError) else f"cannot read {args.input}: {exc.strerror}")
    if not items:
        return fail(f"{args.input} has no items")
    with contextlib.ExitStack() as stack:
        try:
            client = open_client(stack, args, max_tokens=args.max_tokens, temperature=args.temperature,
                                 max_concurrency=max(16, args.workers))
            results = run_batch(client, items, max_workers=args.workers, requests_per_minute=args.rpm,
                                tokens_per_minute=args.tpm, budget_usd=args.budget,
                                checkpoint=args.output, progress=not args.no_progress,
                                retry_failed=not args.keep_failed)
        except LLMError as exc:
            return fail(describe(exc))
        except OSError as exc:  # the checkpoint: disk full, removed directory...
            return fail(f"cannot write {args.output}: {exc.strerror or exc}")
        except (KeyboardInterrupt, SystemExit) as exc:
            code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else EXIT_INTERRUPTED
            print(f"interrupted: finished items are in {args.output}; run the same command again to do the rest",
                  file=sys.stderr, flush=True)
            return code
    summary = results.summary
    print(summary.line(), file=sys.stderr, flush=True)
    for result in results.errors[:5]:
        print(f"  item {result.id}: {describe(result.error) if result.error else 'failed'}", file=sys.stderr)
    waits = [r.error.retry_after for r in results.errors if isinstance(r.error, RateLimitError)]
    if summary.stopped == "rate_limited":
        wait = max((w for w in waits if w is not None), default=0.0)
        print(f"stopped: the provider asked to wait {wait:.0f}s (Retry-After); run the same command again later "
              f"to do the rest (finished items are in {args.output})", file=sys.stderr)
    return 0 if summary.failed == summary.skipped == 0 else 1
