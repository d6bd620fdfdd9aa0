"""Files on local disk, written atomically: temporary name, fsync, rename, fsync of the directory.

A reader sees either no file or the whole file; a crash leaves at most a stray temporary file,
which :meth:`LocalStorage.sweep_temporary` removes at start-up (:mod:`.spool`).
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from trustyard.atomicfiles import replace_durably
from trustyard.errors import InvalidInput
from trustyard.index.storage.base import StoredObject, Streamed
from trustyard.index.storage.spool import Spool


class LocalStorage:
    """A directory of content-addressed files plus a spool for uploads in progress."""

    spool_is_stored = True

    def __init__(self, root: Path, spool: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.spool = Spool(spool)

    def _path(self, key: str) -> Path:
        pure = PurePosixPath(key)
        if pure.is_absolute() or ".." in pure.parts or "\\" in key or "\x00" in key:
            raise InvalidInput(f"invalid storage key {key!r}")
        return self.root.joinpath(*pure.parts)

    def spool_file(self) -> tuple[int, Path]:
        """A new temporary file in the spool (same filesystem as the store: rename is atomic)."""
        return self.spool.file()

    def put(self, key: str, source: Path) -> bool:
        """Move ``source`` (already fsynced by its writer) to ``key`` atomically."""
        target = self._path(key)
        if target.exists():
            source.unlink(missing_ok=True)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_durably(source, target)
        return True

    def put_deferred(self, key: str, source: Path) -> None:
        """Move ``source`` (not necessarily fsynced) to ``key``, replacing what is there;
        durable after :meth:`sync`."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def sync(self) -> None:
        """Flush every written file and directory to disk (sync(2): one wait for all)."""
        os.sync()

    def put_bytes(self, key: str, data: bytes) -> bool:
        """Store small content (core metadata) the same atomic way."""
        fd, tmp = self.spool_file()
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return self.put(key, tmp)

    def delete(self, key: str) -> None:
        """Remove a stored file, if present."""
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        """Whether a file is stored under ``key``."""
        return self._path(key).is_file()

    def local_path(self, key: str) -> Path | None:
        """The file's path on disk."""
        return self._path(key)

    def download_url(self, key: str, filename: str, *, expires: int | None = None) -> str | None:
        """None: local files are served by the index itself (sendfile, ranges)."""
        return None

    def read_to(self, key: str, target: Path) -> None:
        """Copy the stored file to ``target``."""
        shutil.copyfile(self._path(key), target)

    def stream(self, key: str, byte_range: str | None, *, body: bool = True) -> Streamed | None:
        """None: local files are served from :meth:`local_path` (sendfile, ranges)."""
        return None

    def sweep_temporary(self) -> int:
        """Remove spool files left by a crash; returns how many were removed."""
        return self.spool.sweep()

    def inventory(self) -> Iterator[StoredObject]:
        """Every stored file with its size and mtime (os.walk: far faster than rglob)."""
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                path = Path(folder, name)
                try:
                    status = path.lstat()
                except FileNotFoundError:  # deleted while we walked
                    continue
                if not stat.S_ISREG(status.st_mode):  # symbolic links are not ours
                    continue
                yield StoredObject(
                    key=path.relative_to(self.root).as_posix(),
                    size=status.st_size,
                    modified=datetime.fromtimestamp(status.st_mtime, UTC),
                )

    def keys(self) -> set[str]:
        """Every stored key (for consistency checks)."""
        return {stored.key for stored in self.inventory()}
