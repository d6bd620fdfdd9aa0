"""The files of a repository that an audit looks at: what git tracks, as Scorecard sees a repo.

Scorecard reads the repository's content, not a checkout's build output; in a git checkout that
is ``git ls-files`` (so ignored files such as virtualenvs and benchmark scratch are skipped).
Outside git, every file below the root except ``.git``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def tracked_files(root: Path) -> list[Path]:
    """The repository's files, sorted."""
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
