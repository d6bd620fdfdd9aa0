"""``trustyard admin secrets``: the key file that seals secrets at rest (issue 20).

``rotate-key`` puts a new key first in the file, keeps the old ones below it (they still open
what they sealed) and seals every TOTP key again with the new one, in one transaction. With
several instances, give every instance the new file: an instance meeting a value sealed with a
key it lacks reads its file again. Once every instance has the new file, the old lines may be
deleted from it (no value names them any more).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trustyard.cli.options import add_index_options, settings_from
from trustyard.index.context import open_index
from trustyard.index.services import second_factor
from trustyard.index.services.secret_keys import key_id


def register(groups: Any) -> None:
    """Add ``admin secrets rotate-key``."""
    actions = groups.add_parser(
        "secrets", help="the key file that seals TOTP keys at rest"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    help_text = "put a new key first in the secrets key file and seal every TOTP key with it"
    parser: argparse.ArgumentParser = actions.add_parser(
        "rotate-key", help=help_text, description=help_text
    )
    add_index_options(parser)
    parser.set_defaults(run=rotate_key)


def rotate_key(args: argparse.Namespace) -> int:
    """Rotate, then reseal; prints the new key's id and what the old keys are."""
    ctx = open_index(settings_from(args))
    keys = ctx.secret_keys
    ring = keys.rotate()
    with ctx.db.write() as session:
        resealed = second_factor.reseal_totp_secrets(session, keys)
    old = ", ".join(key_id(key) for key in ring.keys[1:])
    print(
        f"{keys.path}: new key {ring.current} seals from now on; {resealed} TOTP key(s) sealed"
        f" again with it. The old key(s) ({old}) stay in the file below it: copy the file to"
        " every instance, then the old lines may be deleted.",
        file=sys.stderr,
    )
    return 0
