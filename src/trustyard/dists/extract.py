"""Unpacking a tar archive into a directory, and nowhere else (PEP 706's "data" filter).

Python's extraction filters came with 3.11.4 (and 3.12). On an older 3.11, ``extractall``
trusts member names and links, so the same rules are applied here before extracting: only
files, directories and links, no absolute or ``..`` names, links that stay inside the
destination, no set-id bits or group/other write permission, and no ownership taken from the
archive. With a filter-capable interpreter the standard library's own filter does the work.
"""

from __future__ import annotations

import copy
import os
import posixpath
import tarfile
from pathlib import Path


class UnsafeMember(tarfile.TarError):
    """A member that would be written outside the destination, or is not plain data."""


def extract_tar(archive: tarfile.TarFile, dest: Path) -> None:
    """Extract every member of ``archive`` under ``dest`` with the "data" filter's rules."""
    if hasattr(tarfile, "data_filter"):
        archive.extractall(dest, filter="data")
    else:
        extract_checked(archive, dest)


def extract_checked(archive: tarfile.TarFile, dest: Path) -> None:
    """What :func:`extract_tar` does on interpreters without extraction filters. Every member
    is checked before the first is written, so the checks are lexical and stricter than the
    filter's: no ``..`` in a name, no member written through one of the archive's symbolic
    links, and links whose target stays inside the destination."""
    members = archive.getmembers()
    symlinks = {posixpath.normpath(m.name) for m in members if m.issym()}
    checked = [_data_member(m, symlinks) for m in members]
    archive.extractall(dest, members=checked)  # noqa: S202 - every member checked above


def link_stays_inside(name: str, target: str, links: set[str]) -> bool:
    """Whether the symbolic link ``name`` -> ``target`` (paths relative to the destination)
    resolves inside the destination by reading it alone: a relative target that no ``..``
    takes out, and that passes through none of ``links`` (the other links being written),
    so that ``realpath`` (the "data" filter's check) resolves it the same way. A ``False``
    is not a verdict: the caller leaves such links to :func:`extract_tar`."""
    if not target or target.startswith("/") or os.path.isabs(target) or "\0" in target:
        return False
    walked: list[str] = []
    for part in [*name.split("/")[:-1], *target.split("/")]:
        if part == "..":
            if not walked:
                return False
            walked.pop()
        elif part not in ("", "."):
            walked.append(part)
            if "/".join(walked) in links:
                return False
    return bool(walked)


def _escapes(path: str) -> bool:
    return path == ".." or path.startswith("../")


def _data_member(member: tarfile.TarInfo, symlinks: set[str]) -> tarfile.TarInfo:
    """A copy of ``member`` as PEP 706's data filter would let it through, or UnsafeMember."""
    name = member.name
    if name.startswith("/") or os.path.isabs(name):
        raise UnsafeMember(f"{name!r} is an absolute path")
    if ".." in name.split("/"):
        raise UnsafeMember(f"{name!r} would be extracted outside the destination")
    normal = posixpath.normpath(name)
    parents = normal.split("/")[:-1]
    if any("/".join(parents[: i + 1]) in symlinks for i in range(len(parents))):
        raise UnsafeMember(f"{name!r} would be written through a symbolic link")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeMember(f"{name!r} is a special file")
    if member.issym() or member.islnk():
        if member.linkname.startswith("/"):
            raise UnsafeMember(f"{name!r} is a link to an absolute path")
        base = posixpath.dirname(normal) if member.issym() else ""
        if _escapes(posixpath.normpath(posixpath.join(base, member.linkname))):
            raise UnsafeMember(f"{name!r} links outside the destination")
    safe = copy.copy(member)
    if member.isfile() or member.isdir():
        mode = member.mode & 0o755  # no set-id, sticky, group or other write bits
        if member.isfile() and not mode & 0o100:
            mode &= 0o644  # not executable by its owner: executable by no one
        safe.mode = mode | (0o600 if member.isfile() else 0o700)
    safe.uid = safe.gid = -1
    safe.uname = safe.gname = ""
    return safe
