"""``trustyard admin project visibility P [private|public]``: show or set whether a project is
private (issue 20: readable only by its collaborators, its teams and tokens that may read it),
with the host's authority."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trustyard.cli.options import add_index_options, settings_from
from trustyard.index.context import open_index
from trustyard.index.services import read_access
from trustyard.index.services.projects import get_project
from trustyard.index.services.roles import HOST

HELP = "show or set a project's visibility (private: only those who may read it see it)"


def register(projects: Any) -> None:
    """Add ``visibility`` to the ``admin project`` actions."""
    p: argparse.ArgumentParser = projects.add_parser("visibility", help=HELP, description=HELP)
    add_index_options(p)
    p.set_defaults(run=project_visibility)
    p.add_argument("project")
    p.add_argument(
        "visibility",
        nargs="?",
        choices=[v.value for v in read_access.Visibility],
        help="the new visibility; without it, print the current one",
    )


def project_visibility(args: argparse.Namespace) -> int:
    """Print the project's visibility, or set it (journalled as the host's ``admin``); an
    unknown project or no change is a one-line error."""
    ctx = open_index(settings_from(args))
    if args.visibility is None:
        with ctx.db.read() as session:
            print(get_project(session, args.project).visibility)
        return 0
    with ctx.db.write() as session:
        project = read_access.set_visibility(session, args.project, args.visibility, actor=HOST)
        name = project.name
    print(f"{name}: {args.visibility}", file=sys.stderr)
    return 0
