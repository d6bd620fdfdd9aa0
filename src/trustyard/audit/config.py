"""A repository's audit configuration: ``[tool.trustyard.audit]`` in its ``pyproject.toml``.

Scorecard ignores nothing; tools that read a whole tree let a repository name what is not its
own set-up (zizmor's ``zizmor.yml`` ignores, Bandit's ``exclude_dirs``, ruff's
``extend-exclude``). trustyard takes the narrowest form of that: ``exclude``, a list of
repository-relative paths (a file, or a folder and everything below it; no globs), which the
checks that walk the whole tree skip (Binary-Artifacts, Pinned-Dependencies' scripts and
Dockerfiles, Fuzzing). Deliberately bad test fixtures are the use::

    [tool.trustyard.audit]
    exclude = ["tests/audit/fixtures"]

The report lists every excluded path with the number of files it took out, so an exclusion is
never silent; ``trustyard audit --no-exclude`` audits everything. Workflows are read only from
``.github/workflows/`` at the root (as Scorecard and zizmor read them) and ``.github`` cannot be
excluded, so a repository cannot hide its own workflows.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from trustyard.audit.tree import Exclusions
from trustyard.errors import InvalidInput

SECTION = "[tool.trustyard.audit]"
EXCLUDABLE_CHECKS = ("Binary-Artifacts", "Pinned-Dependencies", "Fuzzing")
_KEYS = {"exclude"}
_GLOB = set("*?[]")


def load_exclusions(root: Path) -> Exclusions:
    """The exclusions ``root/pyproject.toml`` declares (none without the file or the table)."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return Exclusions()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return Exclusions()  # Build-Backend-Pinned reports an unreadable pyproject.toml
    tool: Any = data.get("tool", {})
    ours: Any = tool.get("trustyard", {}) if isinstance(tool, dict) else {}
    table: Any = ours.get("audit") if isinstance(ours, dict) else None
    if table is None:
        return Exclusions()
    return parse_exclusions(table, f"{path.name} {SECTION}")


def parse_exclusions(table: Any, source: str) -> Exclusions:
    """Validate the table; report every problem at once."""
    if not isinstance(table, dict):
        raise InvalidInput(f"{source}: expected a table")
    problems = [f"unknown key {key!r} (known: exclude)" for key in sorted(set(table) - _KEYS)]
    entries = table.get("exclude", [])
    if not isinstance(entries, list):
        problems.append("exclude must be a list of paths")
        entries = []
    paths: list[str] = []
    for entry in entries:
        problem = _path_problem(entry)
        if problem:
            problems.append(f"exclude {entry!r}: {problem}")
        else:
            paths.append(str(entry).rstrip("/"))
    if problems:
        raise InvalidInput(f"{source}:\n  " + "\n  ".join(problems))
    return Exclusions(tuple(paths))


def _path_problem(entry: object) -> str | None:
    if not isinstance(entry, str) or not entry.strip("/"):
        return "must be a non-empty repository-relative path"
    if entry.startswith("/") or "\\" in entry:
        return "must be relative to the repository root, with / separators"
    parts = entry.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "must not contain empty, '.' or '..' parts"
    if _GLOB & set(entry):
        return "globs are not accepted: name the folder or file"
    if parts[0] == ".github":
        return "the repository's own .github set-up cannot be excluded"
    return None
