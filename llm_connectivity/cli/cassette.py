"""``llm-connectivity cassette ...``: hands the rest of the command line to
``llm_connectivity.testing.cassette.cli.main`` (imported only when used)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from .common import fail

__all__ = ["run"]

_MODULE = "llm_connectivity.testing.cassette.cli"


def run(argv: list[str]) -> int:
    """Run the cassette tool with ``argv``; return its exit status."""
    try:
        module = import_module(_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and _MODULE.startswith(exc.name):
            return fail("the cassette command is not available in this version of llm_connectivity "
                        f"({_MODULE} is missing)")
        raise
    main: Callable[[list[str]], int] = module.main
    return main(argv)
