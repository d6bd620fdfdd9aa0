"""Options shared by every command that opens an index, and the settings they produce."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trustyard.settings import Settings, load_settings


def add_index_options(parser: argparse.ArgumentParser) -> None:
    """``--data``, ``--database``, ``--storage``, ``--config``: where the index keeps its state."""
    parser.add_argument(
        "--data", type=Path, default=None, help="data directory (default ./trustyard-data)"
    )
    parser.add_argument(
        "--database", default=None, help="SQLAlchemy database URL (default: SQLite in --data)"
    )
    parser.add_argument(
        "--storage",
        default=None,
        help="file store: s3://BUCKET/PREFIX, credentials from AWS_* (default: files in --data)",
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="a trustyard.toml (default: DATA/trustyard.toml)"
    )


def settings_from(args: argparse.Namespace, **extra: object) -> Settings:
    """The settings for this run: defaults, file, environment, then these flags."""
    overrides = {"data_dir": args.data, "database": args.database, "storage": args.storage, **extra}
    return load_settings(overrides, config_file=args.config)


def subcommand(group: Any, name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
    """A subcommand of ``group`` that opens the index and runs ``run(args)``: the shape of
    every ``trustyard admin`` family (org, team, namespace, ...)."""
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text, description=help_text)
    add_index_options(parser)
    parser.set_defaults(run=run)
    return parser
