"""The ``trustyard`` command: parse, call one function, print, exit code. No logic here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trustyard import __version__
from trustyard.cli import admin, issuer, serve
from trustyard.cli import build as build_command
from trustyard.cli import verify as verify_command
from trustyard.errors import Error


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(
        prog="trustyard", description="A secure release system for Python packages."
    )
    parser.add_argument("--version", action="version", version=f"trustyard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.register(commands)
    admin.register(commands)
    issuer.register(commands)
    build_command.register(commands)
    verify_command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; every trustyard error is reported here, once, as one line on stderr."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except Error as exc:
        print(f"trustyard: error: {exc.diagnostics()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
