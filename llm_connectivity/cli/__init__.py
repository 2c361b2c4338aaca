"""``llm-connectivity`` (also ``python -m llm_connectivity``): the command line.

    llm-connectivity chat "Count to 5" -m openai/gpt-4o-mini   # stream an answer
    llm-connectivity "Count to 5"                               # the same: chat is the default
    llm-connectivity batch in.jsonl out.jsonl -m ... --workers 8 --rpm 500
    llm-connectivity providers                                  # providers, env variables, key set?
    llm-connectivity serve-fake --port 8080                     # a FakeLLMServer for other programs
    llm-connectivity cassette ...                               # record / replay cassettes

Exit status: 0 on success, 1 on an error (one line on stderr), 2 on usage errors,
130 after Ctrl-C. One module per subcommand, each with ``run(argv) -> int``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from importlib import import_module
from typing import Any

__all__ = ["COMMANDS", "main"]

#: subcommand -> (module, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "chat": ("chat", "stream one answer to the terminal (the default command)"),
    "batch": ("batch", "run a JSONL file of prompts with rate limits, resumable"),
    "providers": ("providers", "list providers, their environment variables and whether a key is set"),
    "serve-fake": ("serve_fake", "run a FakeLLMServer on 127.0.0.1 for other programs to test against"),
    "cassette": ("cassette", "record and replay HTTP exchanges (cassettes)"),
}


def _usage() -> str:
    lines = ["usage: llm-connectivity [chat] PROMPT... [options]", "       llm-connectivity COMMAND [--help]", "",
             "commands:"]
    lines += [f"  {name:<11} {about}" for name, (_, about) in COMMANDS.items()]
    lines += ["", "options:", "  -h, --help  show this help and exit", "  --version   show the version and exit",
              "", "A plain `llm-connectivity \"prompt\"` runs chat; `llm-connectivity chat --help` lists its options."]
    return "\n".join(lines)


def _interactive() -> bool:
    try:
        return sys.stdin is None or sys.stdin.isatty()
    except ValueError:  # closed
        return True


def _version() -> str:
    from .. import __version__

    return f"llm-connectivity {__version__}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``llm-connectivity`` command; returns the exit status.

    Whatever the subcommand: a reader of stdout that went away (``| head``) ends it quietly
    with 141, and Ctrl-C with ``interrupted`` on stderr and 130, never a traceback. stdout
    is flushed here, so nothing is left for the interpreter's own flush at exit to fail on.
    """
    from .common import EXIT_INTERRUPTED, describe, fail, quiet_broken_pipe, silence_stdout

    try:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return _dispatch(list(sys.argv[1:] if argv is None else argv))
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        return quiet_broken_pipe()
    except OSError as exc:  # e.g. stdout on a full disk: one line, and nothing left to flush at exit
        silence_stdout()
        return fail(describe(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """Warnings as one line on stderr (not Python's file:line and source)."""
    print(f"llm-connectivity: warning: {category.__name__}: {' '.join(str(message).split())}", file=sys.stderr,
          flush=True)


def _dispatch(args: list[str]) -> int:
    if not args and _interactive():  # with a pipe on stdin, no arguments is `chat -`
        print(_usage(), file=sys.stderr)
        return 2
    if args[:1] in (["-h"], ["--help"]):
        print(_usage())
        return 0
    if args[:1] == ["--version"]:
        print(_version())
        return 0
    name, rest = (args[0], args[1:]) if args and args[0] in COMMANDS else ("chat", args)
    module = import_module(f".{COMMANDS[name][0]}", __name__)
    run: Callable[[list[str]], int] = module.run
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
