"""``trustyard admin user reset-2fa NAME``: a user who lost their authenticator app, security
keys and recovery codes signs in with the password alone again (and, under ``require_2fa``,
is sent to set up a new factor at once). Journalled as the host's act."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trustyard.cli.options import add_index_options, settings_from
from trustyard.index.context import open_index
from trustyard.index.services import second_factor


def register(users: Any) -> None:
    """Add ``admin user reset-2fa`` to the ``admin user`` group."""
    help_text = "remove a user's second factors and recovery codes (a lost device)"
    parser: argparse.ArgumentParser = users.add_parser(
        "reset-2fa", help=help_text, description=help_text
    )
    parser.add_argument("name")
    add_index_options(parser)
    parser.set_defaults(run=reset_2fa)


def reset_2fa(args: argparse.Namespace) -> int:
    """Remove every factor of the user; 409 (an error) when there was none."""
    ctx = open_index(settings_from(args))
    with ctx.db.write() as session:
        removed = second_factor.reset(session, args.name, actor=None)
    print(
        f"removed {removed} second factors and recovery codes of {args.name}: the password"
        " alone signs in until a new factor is set up",
        file=sys.stderr,
    )
    return 0
