"""The files of a repository that an audit looks at: what git tracks, as Scorecard sees a repo.

Scorecard reads the repository's content, not a checkout's build output; in a git checkout that
is ``git ls-files`` (so ignored files such as virtualenvs and benchmark scratch are skipped).
Outside git, every file below the root except ``.git``. Paths the repository excludes in its
audit configuration (:mod:`trustyard.audit.config`) are left out, and the report says so.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Exclusions:
    """Repository-relative POSIX paths (a file, or a folder and all below it) not audited."""

    paths: tuple[str, ...] = ()

    def covers(self, relative: str) -> bool:
        return any(relative == p or relative.startswith(p + "/") for p in self.paths)


NOTHING = Exclusions()


def all_tracked_files(root: Path) -> list[Path]:
    """Every file of the repository, sorted, exclusions not applied."""
    if (root / ".git").exists():
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=False
        )
        if listed.returncode == 0:
            names = [n for n in listed.stdout.decode("utf-8", "replace").split("\0") if n]
            return sorted(root / n for n in names if (root / n).is_file())
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(root).parts
    )


def tracked_files(root: Path, exclude: Exclusions = NOTHING) -> list[Path]:
    """The repository's files that the audit reads, sorted."""
    return [
        path
        for path in all_tracked_files(root)
        if not exclude.covers(path.relative_to(root).as_posix())
    ]
