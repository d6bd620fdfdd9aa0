"""Atomic, durable file replacement: a reader sees the old file or the whole new one, never part.

The new bytes go to a temporary file in the target's own directory (the same filesystem, so
``rename(2)`` is atomic), which is fsynced, renamed over the target with :func:`os.replace`,
and then the directory is fsynced so that the rename itself survives a power loss (fsync(2):
syncing a file "does not necessarily ensure that the entry in the directory containing the
file has also reached disk"). A crash leaves at most a ``.<name>.<random>.tmp`` file beside
the target, never a partial file under the target's name.

The temporary file is created with ``mode`` (less the umask, as :func:`open` does), so a
secret is never readable by others, not even for the moment before a ``chmod``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, BinaryIO, TextIO, overload


def fsync_directory(path: Path) -> None:
    """Flush ``path``'s entries (a rename or a new name in it) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(source: Path, target: Path) -> None:
    """Rename the finished, fsynced file ``source`` over ``target`` (same filesystem) and
    flush ``target``'s directory, so that the new name survives a crash."""
    os.replace(source, target)
    fsync_directory(target.parent)


def _create_temporary(path: Path, mode: int) -> tuple[int, Path]:
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), temporary
        except FileExistsError:  # pragma: no cover - 48 random bits colliding
            continue


@overload
def atomic_writer(
    path: Path, *, mode: int = 0o666, encoding: None = None
) -> AbstractContextManager[BinaryIO]: ...


@overload
def atomic_writer(
    path: Path, *, mode: int = 0o666, encoding: str
) -> AbstractContextManager[TextIO]: ...


def atomic_writer(
    path: Path, *, mode: int = 0o666, encoding: str | None = None
) -> AbstractContextManager[BinaryIO] | AbstractContextManager[TextIO]:
    """A stream whose content replaces ``path`` when the ``with`` block ends without error;
    on an error, ``path`` is untouched and the temporary file removed.

    Binary unless ``encoding`` is given (then text with ``\\n`` line ends on every platform).
    """
    return _writer(path, mode, encoding)  # type: ignore[return-value]


@contextmanager
def _writer(path: Path, mode: int, encoding: str | None) -> Iterator[IO[bytes] | IO[str]]:
    fd, temporary = _create_temporary(path, mode)
    try:
        stream: IO[bytes] | IO[str] = (
            os.fdopen(fd, "wb")
            if encoding is None
            else os.fdopen(fd, "w", encoding=encoding, newline="\n")
        )
    except BaseException:
        os.close(fd)
        temporary.unlink(missing_ok=True)
        raise
    try:
        with stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        replace_durably(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes | str, *, mode: int = 0o666) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) atomically and durably."""
    with atomic_writer(path, mode=mode) as out:
        out.write(data.encode("utf-8") if isinstance(data, str) else data)
