"""``llm-connectivity providers``: every provider, its environment variables, and whether
a key is set (the key itself is never printed)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from ..errors import LLMError
from .common import describe, fail

__all__ = ["parser", "rows", "run"]


def parser() -> argparse.ArgumentParser:
    """The ``providers`` argument parser."""
    p = argparse.ArgumentParser(prog="llm-connectivity providers",
                                description="List providers, their environment variables and whether a key is set.")
    p.add_argument("--json", action="store_true", help="one JSON object per provider")
    return p


def rows() -> list[dict[str, Any]]:
    """One dict per provider: name, key variables, key status, base-URL variable, URL
    (a password or key in the URL shown as ``***``)."""
    from ..registry import known_providers, resolve_driver
    from ..security import redact_url

    result = []
    for name in known_providers():
        driver = resolve_driver(name)
        key_vars = list(driver.api_key_env)
        is_set = any(os.environ.get(var, "").strip() for var in key_vars)
        status = "set" if is_set else ("not set" if driver.requires_api_key else "not needed")
        base_env = driver.base_url_env
        result.append({"provider": name, "api_key_env": key_vars, "api_key": status, "base_url_env": base_env,
                       "base_url": redact_url((os.environ.get(base_env) if base_env else None)
                                              or driver.default_base_url or "") or None})
    return result


def run(argv: list[str]) -> int:
    """Run ``providers``; return the exit status."""
    args = parser().parse_args(argv)
    try:
        table = rows()
    except LLMError as exc:
        return fail(describe(exc))
    if args.json:
        for row in table:
            print(json.dumps(row))
        return 0
    print(f"{'PROVIDER':<18} {'KEY':<11} {'KEY VARIABLE':<37} {'BASE URL VARIABLE':<26} BASE URL")
    for row in table:
        print(f"{row['provider']:<18} {row['api_key']:<11} {' or '.join(row['api_key_env']) or '-':<37} "
              f"{row['base_url_env'] or '-':<26} {row['base_url'] or '(give --base-url)'}")
    return 0
