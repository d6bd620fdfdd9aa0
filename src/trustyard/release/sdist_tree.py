"""The wheel's source tree made from the export the sdist was just built from.

pip and ``build`` build the wheel from the unpacked sdist, and so does ``trustyard build``.
Most of an sdist is the export it was built from, file for file, so instead of writing every
member again (and deleting the export afterwards: thousands of file creations and deletions,
which dominate a large project's build on a slow file system) the export is moved to where
unpacking would put it and made to hold exactly the sdist's members: what the backend added
and the sdist leaves out is removed, what differs is written again. The result is what
:func:`trustyard.dists.extract.extract_tar` of the normalised tar gives, then the modes a
checkout under the build's umask gives: the same names, types, bytes and modes, files and
member directories at the sdist's mtime (SOURCE_DATE_EPOCH), the same symbolic links. Anything
this does not handle (hard links, symbolic links that are not plainly inside the tree, members
outside one top-level directory) is left to unpacking.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trustyard.dists.extract import link_stays_inside
from trustyard.release.normalize import Member

__all__ = ["adopt_export"]


@dataclass(frozen=True)
class _Layout:
    """The sdist's members below its single top-level directory, by relative path."""

    top: str
    files: dict[str, Member]
    links: dict[str, str]  # symbolic links: path -> target
    dirs: frozenset[str]  # every directory, listed or implied by a deeper member
    listed_dirs: tuple[str, ...]  # directories the tar holds as members (they get the mtime)


def adopt_export(
    export: Path, members: Sequence[Member], dest: Path, *, umask: int, mtime: int
) -> Path | None:
    """Move ``export`` to ``dest/<top>`` and make it the unpacked sdist of ``members`` (the
    normalised sdist's); return that directory, or ``None`` (nothing moved) when the members
    are not files, directories and inside links under one top-level directory. ``dest`` is emptied
    first. An ``OSError`` part-way leaves ``dest`` to be emptied and unpacked by the caller.
    """
    layout = _layout(members)
    if layout is None:
        return None
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    root = dest / layout.top
    export.rename(root)
    dir_mode = 0o777 & ~umask
    kept = _prune(root, "", layout, umask, mtime)
    for rel in sorted(layout.dirs):
        path = root / rel if rel else root
        path.mkdir(exist_ok=True)  # no link is left under root: mkdir cannot leave it
        if stat.S_IMODE(path.lstat().st_mode) != dir_mode:
            path.chmod(dir_mode)
    for rel, member in layout.files.items():
        if rel not in kept:
            _write(root / rel, member.data, _file_mode(member, umask), mtime)
    for rel, target in layout.links.items():
        if rel not in kept:
            os.symlink(target, root / rel)
    for rel in layout.listed_dirs:  # last: writing into a directory changes its mtime
        os.utime(root / rel if rel else root, (mtime, mtime))
    return root


def _layout(members: Sequence[Member]) -> _Layout | None:
    """The members as paths below one top directory, or ``None`` when unpacking must do."""
    tops: set[str] = set()
    files: dict[str, Member] = {}
    links: dict[str, str] = {}
    dirs: set[str] = {""}
    listed: list[str] = []
    for member in members:
        parts = member.name.split("/")
        if member.name.startswith("/") or any(p in ("", ".", "..") for p in parts):
            return None
        if "\0" in member.name or member.kind not in ("file", "dir", "symlink"):
            return None
        tops.add(parts[0])
        rel = "/".join(parts[1:])
        if len(parts) == 1 and member.kind == "file":
            return None  # a file beside the top directory
        for depth in range(1, len(parts) - 1):
            dirs.add("/".join(parts[1 : depth + 1]))
        if member.kind == "dir":
            dirs.add(rel)
            listed.append(rel)
        elif member.kind == "symlink":
            links[rel] = member.link
        else:
            files[rel] = member
    if len(tops) != 1 or dirs & (files.keys() | links.keys()) or "" in links:
        return None
    if not all(link_stays_inside(rel, target, set(links)) for rel, target in links.items()):
        return None  # nor may a member be written through a link
    return _Layout(tops.pop(), files, links, frozenset(dirs), tuple(listed))


def _prune(root: Path, rel: str, layout: _Layout, umask: int, mtime: int) -> set[str]:
    """Remove everything under ``root/rel`` that is not one of the sdist's files,
    directories or links with the same bytes or target (other links, other files, files with
    other content or more than one name), fix the modes and mtimes of the files that stay;
    return the files and links kept."""
    kept: set[str] = set()
    with os.scandir(root / rel if rel else root) as entries:
        listing = list(entries)
    for entry in listing:
        path = f"{rel}{entry.name}"
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            if path in layout.dirs:
                kept |= _prune(root, f"{path}/", layout, umask, mtime)
            else:
                shutil.rmtree(entry.path)
            continue
        if stat.S_ISLNK(info.st_mode) and layout.links.get(path) == os.readlink(entry.path):
            kept.add(path)
            continue
        member = layout.files.get(path)
        if (
            member is None
            or not stat.S_ISREG(info.st_mode)
            or info.st_nlink != 1
            or info.st_size != len(member.data)
            or not _holds(entry.path, member.data)
        ):
            os.unlink(entry.path)
            continue
        mode = _file_mode(member, umask)
        if stat.S_IMODE(info.st_mode) != mode:
            os.chmod(entry.path, mode)
        if info.st_mtime != mtime:
            os.utime(entry.path, (mtime, mtime))
        kept.add(path)
    return kept


def _holds(path: str, data: bytes) -> bool:
    """Whether the regular file at ``path`` holds exactly ``data``."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as stream:
        return stream.read(len(data) + 1) == data


def _write(path: Path, data: bytes, mode: int, mtime: int) -> None:
    """Create ``path`` (never through an existing file or link) holding ``data``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as stream:
        stream.write(data)
        os.fchmod(stream.fileno(), mode)
    os.utime(path, (mtime, mtime))


def _file_mode(member: Member, umask: int) -> int:
    """The mode unpacking then a checkout's umask give: 0777 or 0666 less the umask."""
    return (0o777 if member.mode & 0o111 else 0o666) & ~umask


def __dir__() -> list[str]:
    return __all__
