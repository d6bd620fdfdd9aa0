"""The ``trustyard`` command: parse, call one function, print, exit code. No logic here.

Each command lives in its own module under ``trustyard.cli`` with a ``register(commands)``
function; only the module of the command being run is imported, so that ``trustyard admin``
does not pay for the build or audit machinery.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from trustyard import __version__
from trustyard.errors import Error

# command name -> module in trustyard.cli, in the order --help lists them
COMMANDS = {
    "serve": "serve",
    "migrate": "migrate",
    "admin": "admin",
    "publisher": "publisher",
    "reader": "reader",
    "issuer": "issuer",
    "upstream": "upstream",
    "policy": "policy",
    "build": "build",
    "attest": "attest",
    "verify": "verify",
    "publish": "publish",
    "ci": "ci",
    "release": "release",
    "init": "init",
    "workflow": "workflow",
    "audit": "audit",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command tree (just one command's branch when ``only`` names it)."""
    parser = argparse.ArgumentParser(
        prog="trustyard", description="A secure release system for Python packages."
    )
    parser.add_argument("--version", action="version", version=f"trustyard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(f"trustyard.cli.{module}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; every trustyard error is reported here, once, as one line on stderr."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in arguments if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(arguments)
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
