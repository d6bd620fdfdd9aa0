"""The table of GitHub Actions pins shipped with trustyard (``pins.toml``).

Scorecard's Pinned-Dependencies (``checks/raw/pinned_dependencies.go``) and zizmor's
``unpinned-uses`` accept an action only when it is pinned by a full 40-hex commit SHA; the
version tag goes in a trailing comment so that people and Dependabot can read it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from trustyard.errors import InvalidInput

_SHA = re.compile(r"^[0-9a-f]{40}$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_VERSION = re.compile(r"^v\d+(\.\d+)*$")


@dataclass(frozen=True)
class Pin:
    """One action repository pinned at the commit of a release tag."""

    repo: str
    sha: str
    version: str

    def uses(self, path: str = "") -> str:
        """The ``uses:`` value with its version comment, e.g. ``a/b@<sha> # v1.2.3``."""
        target = f"{self.repo}/{path}" if path else self.repo
        return f"{target}@{self.sha} # {self.version}"


PinTable = dict[str, Pin]


def default_pins_path() -> Path:
    """The pins file shipped as package data."""
    return Path(str(resources.files("trustyard.scaffold").joinpath("pins.toml")))


def parse_pins(text: str, source: str = "pins.toml") -> PinTable:
    """Parse and validate a pins table, reporting every bad entry at once."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{source}: not valid TOML: {exc}") from exc
    actions = data.get("actions")
    if not isinstance(actions, dict) or not actions:
        raise InvalidInput(f"{source}: expected a non-empty [actions] table")
    problems: list[str] = []
    table: PinTable = {}
    for repo, entry in actions.items():
        if not _REPO.match(repo):
            problems.append(f"{repo!r}: not an owner/repo name")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{repo}: expected a table with sha and version")
            continue
        sha, version = entry.get("sha"), entry.get("version")
        if not isinstance(sha, str) or not _SHA.match(sha):
            problems.append(f"{repo}: sha must be a 40-hex commit SHA, got {sha!r}")
        if not isinstance(version, str) or not _VERSION.match(version):
            problems.append(f"{repo}: version must look like v1.2.3, got {version!r}")
        if isinstance(sha, str) and isinstance(version, str):
            table[repo] = Pin(repo, sha, version)
    if problems:
        raise InvalidInput(f"{source}: invalid pins:\n  " + "\n  ".join(problems))
    return table


def load_pins(path: Path | None = None) -> PinTable:
    """Load the pins table from ``path`` (default: the shipped one)."""
    target = path or default_pins_path()
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read pins file {target}: {exc.strerror}") from exc
    return parse_pins(text, str(target))


def dump_pins(table: PinTable) -> str:
    """Serialise a pins table in the shipped format (stable order)."""
    lines = [
        "# GitHub Actions used by the generated workflows, pinned by the commit SHA of a"
        " release tag.",
        "# Refreshed by `trustyard workflow update-pins` (GitHub API: latest release -> tag"
        " -> commit).",
        "",
    ]
    for repo in sorted(table):
        pin = table[repo]
        lines += [f'[actions."{repo}"]', f'sha = "{pin.sha}"', f'version = "{pin.version}"', ""]
    return "\n".join(lines)
