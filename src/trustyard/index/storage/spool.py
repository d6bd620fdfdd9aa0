"""The spool: local files being received (uploads, an import's copies, scratch databases).

Every backend keeps one: for local files it is on the store's filesystem, so that a finished
file is renamed into place (:func:`trustyard.atomicfiles.replace_durably`); for S3 it is where
a file waits for its PUT. A file in the spool is never a stored file, so a crash can only
leave spool files behind, and :meth:`Spool.sweep` removes them at start-up.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

PREFIX = "upload-"


class Spool:
    """A directory of temporary files, each named ``upload-*``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.directory.mkdir(parents=True, exist_ok=True)

    def file(self) -> tuple[int, Path]:
        """A new, empty, private (0600) file: its open descriptor and its path."""
        fd, name = tempfile.mkstemp(dir=self.directory, prefix=PREFIX)
        return fd, Path(name)

    def sweep(self) -> int:
        """Remove files left by a crash (only at start-up: nothing is being received);
        returns how many were removed."""
        removed = 0
        for leftover in self.directory.glob(f"{PREFIX}*"):
            leftover.unlink(missing_ok=True)
            removed += 1
        return removed
