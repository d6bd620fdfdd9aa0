"""``trustyard policy ...``: the policy gate's rules (issue 18). Each rule family registers
its actions on this group from its own module (publisher continuity:
:mod:`trustyard.cli.policy_continuity`)."""

from __future__ import annotations

import argparse
from typing import Any

from trustyard.cli import policy_continuity


def register(commands: Any) -> None:
    """Add the ``policy`` command family."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "policy",
        help="the policy gate: held files, publisher pins",
        description="Inspect and decide what the index's policy gate holds back.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    policy_continuity.register(actions)
