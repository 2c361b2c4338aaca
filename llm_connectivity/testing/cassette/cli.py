"""``llm-connectivity cassette ...``: cassette tools on the command line.

    llm-connectivity cassette import-vcr FILE.yaml DIR [--overwrite]

Exit status: 0 on success, 1 when the import fails (message on stderr), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys

from .errors import CassetteError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-connectivity cassette", description="Cassette tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    vcr = commands.add_parser("import-vcr", help="convert a vcrpy YAML cassette into a cassette directory")
    vcr.add_argument("file", help="the vcrpy cassette (YAML)")
    vcr.add_argument("directory", help="the cassette directory to create")
    vcr.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")
    return parser


def main(argv: list[str]) -> int:
    """Run ``llm-connectivity cassette`` with ``argv`` (the arguments after ``cassette``)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    from .vcr import import_vcr

    try:
        report = import_vcr(args.file, args.directory, overwrite=args.overwrite)
    except CassetteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    merged = f", {len(report.merged)} stored merged (no timing)" if report.merged else ""
    print(f"wrote {report.interactions} interaction(s) to {report.path}{merged}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
