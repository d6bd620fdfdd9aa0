"""``trustyard init``: create a new project with a secure release set-up."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trustyard.scaffold.backends import BACKENDS
from trustyard.scaffold.project import make_spec, write_project


def register(commands: Any) -> None:
    """Add ``init NAME [--dir D] [--backend B] [--extension]``."""
    p = commands.add_parser("init", help="create a new project with a hardened release workflow")
    p.add_argument("name", help="the project's distribution name")
    p.add_argument("--dir", type=Path, help="where to create it (default: ./NAME)")
    p.add_argument("--backend", default="hatchling", choices=sorted(BACKENDS))
    p.add_argument(
        "--extension", action="store_true", help="a C extension, wheels built with cibuildwheel"
    )
    p.add_argument("--owner", default="@OWNER", help="CODEOWNERS owner, e.g. @me or @org/team")
    p.add_argument("--repository", help="GitHub OWNER/REPO (default: OWNER/NAME)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    spec = make_spec(
        args.name,
        args.backend,
        extension=args.extension,
        owner=args.owner,
        repository=args.repository,
    )
    target: Path = args.dir or Path(spec.name)
    written = write_project(spec, target)
    print(f"created {spec.name} in {target} ({len(written)} files, backend {args.backend})")
    if spec.owner == "@OWNER":
        print("next: replace @OWNER in .github/CODEOWNERS with a real GitHub user or team")
    return 0
