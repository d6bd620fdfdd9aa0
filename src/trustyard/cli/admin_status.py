"""``trustyard admin project status P [STATUS --reason R]``: show or set a project's PEP 792
status (active, archived, deprecated, quarantined), with the host's authority."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from trustyard.cli.options import add_index_options, settings_from
from trustyard.index.context import open_index
from trustyard.index.project_status import ProjectStatus, status_json
from trustyard.index.services import statuses
from trustyard.index.services.projects import get_project
from trustyard.index.services.roles import HOST

HELP = "show or set a project's PEP 792 status (archived, deprecated, quarantined, active)"


def register(projects: Any) -> None:
    """Add ``status`` to the ``admin project`` actions."""
    p: argparse.ArgumentParser = projects.add_parser("status", help=HELP, description=HELP)
    add_index_options(p)
    p.set_defaults(run=project_status)
    p.add_argument("project")
    p.add_argument(
        "status",
        nargs="?",
        choices=[s.value for s in ProjectStatus],
        help="the new status; without it, print the current one",
    )
    p.add_argument(
        "--reason",
        default="",
        help="why, shown to installers (required for any status but active; journalled)",
    )


def project_status(args: argparse.Namespace) -> int:
    """Print the project's status as the simple API's JSON shows it, or set it (journalled as
    the host's ``admin``); a bad status or reason, or no change, is a one-line error."""
    ctx = open_index(settings_from(args))
    if args.status is None:
        with ctx.db.read() as session:
            project = get_project(session, args.project)
            marker = statuses.status_of(session, project.id)
        print(json.dumps(status_json(marker.status.value, marker.reason)))
        return 0
    with ctx.db.write() as session:
        change = statuses.set_status(
            ctx.db, session, args.project, args.status, reason=args.reason, actor=HOST
        )
    print(
        f"{change.project}: {change.before.describe()} -> {change.after.describe()}",
        file=sys.stderr,
    )
    return 0
