"""``trustyard workflow``: the release workflow alone, and the action pins it uses."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from trustyard.errors import Conflict, InvalidInput
from trustyard.scaffold.backends import detect_project
from trustyard.scaffold.pins import default_pins_path, dump_pins, load_pins
from trustyard.scaffold.update_pins import GITHUB_API, update_pins
from trustyard.scaffold.workflow import builder_config, release_workflow


def register(commands: Any) -> None:
    """Add ``workflow generate [PATH]`` and ``workflow update-pins``."""
    workflow = commands.add_parser("workflow", help="the hardened release workflow")
    actions = workflow.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser(
        "generate", help="write .github/workflows/release.yml for an existing project"
    )
    p.add_argument("path", nargs="?", type=Path, default=Path(), help="the project (default: .)")
    p.add_argument("--force", action="store_true", help="replace an existing release.yml")
    p.add_argument("--stdout", action="store_true", help="print the workflow instead")
    p.add_argument("--pins", type=Path, help="a pins table (default: trustyard's own)")
    p.set_defaults(run=generate)
    p = actions.add_parser(
        "update-pins", help="move every pinned action to its latest release (needs GitHub)"
    )
    p.add_argument("--pins", type=Path, help="the pins file to update (default: trustyard's own)")
    p.add_argument("--github-api-url", default=GITHUB_API, help="GitHub REST API base URL")
    p.set_defaults(run=update)


def generate(args: argparse.Namespace) -> int:
    root: Path = args.path
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a directory")
    shape = detect_project(root)
    builder = builder_config(root)
    text = release_workflow(
        shape.name, extension=shape.has_extension, pins=load_pins(args.pins), builder=builder
    )
    if args.stdout:
        print(text, end="")
        return 0
    target = root / ".github" / "workflows" / "release.yml"
    if target.exists() and not args.force:
        raise Conflict(f"{target} exists; pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    kind = "with extension wheels (cibuildwheel)" if shape.has_extension else "pure Python"
    how = ", built by trustyard build --check" if builder is not None else ""
    print(f"wrote {target}: backend {shape.backend.name}, {kind}{how}")
    return 0


def update(args: argparse.Namespace) -> int:
    path: Path = args.pins or default_pins_path()
    table = load_pins(path)
    fresh = update_pins(table, args.github_api_url, os.environ.get("GITHUB_TOKEN"))
    for repo, pin in fresh.items():
        old = table[repo]
        if old != pin:
            print(f"{repo}: {old.version} ({old.sha[:12]}) -> {pin.version} ({pin.sha[:12]})")
    path.write_text(dump_pins(fresh), encoding="utf-8")
    print(f"updated {path}")
    return 0
