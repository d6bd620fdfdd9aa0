"""The wheel's source tree made from the export: exactly what unpacking the sdist gives, and
nothing written outside it, whatever the backend left in the export."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from trustyard.dists.extract import extract_tar
from trustyard.release.normalize import Member, normal_sdist
from trustyard.release.sdist_tree import adopt_export

EPOCH = 1700000000
UMASK = 0o002


def make_sdist(path: Path, members: list[tuple[str, str, bytes, int]]) -> Path:
    """A gzipped tar of (name, kind, data or link target, mode) members, as a backend writes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:", format=tarfile.PAX_FORMAT) as archive:
        for name, kind, data, mode in members:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, 1234
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data.decode()
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, data.decode()
            else:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if kind == "file" else None)
    path.write_bytes(gzip.compress(raw.getvalue()))
    return path


def snapshot(root: Path) -> dict[str, tuple[int, float | None, bytes | None]]:
    """Every path under ``root``: mode, mtime (files only: unlisted directories get the time
    they were made) and bytes."""
    found: dict[str, tuple[int, float | None, bytes | None]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        plain = path.is_file() and not path.is_symlink()
        found[path.relative_to(root).as_posix()] = (
            info.st_mode,
            info.st_mtime if plain else None,
            path.read_bytes() if plain else None,
        )
    return found


def unpacked(tar: bytes, dest: Path) -> Path:
    """What unpacking gives (``build._unpack``'s steps): extraction, then the checkout modes."""
    dest.mkdir()
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
        extract_tar(archive, dest)
    (top,) = dest.iterdir()
    for path in [top, *top.rglob("*")]:
        executable = path.is_dir() or bool(path.stat().st_mode & 0o111)
        path.chmod((0o777 if executable else 0o666) & ~UMASK)
    return top


SDIST = [
    ("pkg-1.0", "dir", b"", 0o755),
    ("pkg-1.0/PKG-INFO", "file", b"Name: pkg\nVersion: 1.0\n", 0o644),
    ("pkg-1.0/pyproject.toml", "file", b"[project]\nname = 'pkg'\n", 0o644),
    ("pkg-1.0/src/pkg/__init__.py", "file", b"VERSION = '1.0'\n", 0o644),
    ("pkg-1.0/src/pkg/data/table.csv", "file", b"a,b\n", 0o600),
    ("pkg-1.0/bin/tool", "file", b"#!/bin/sh\n", 0o700),
    ("pkg-1.0/docs", "dir", b"", 0o700),
    ("pkg-1.0/was-a-dir", "file", b"now a file\n", 0o644),
    ("pkg-1.0/was-a-file/inner.txt", "file", b"now a directory\n", 0o644),
    ("pkg-1.0/linked.txt", "file", b"same bytes\n", 0o644),
    ("pkg-1.0/docs/index.txt", "symlink", b"../pyproject.toml", 0o777),
    ("pkg-1.0/src/pkg/same-link", "symlink", b"__init__.py", 0o777),
    ("pkg-1.0/src/pkg/new-link", "symlink", b"data/table.csv", 0o777),
]


def export_with_leftovers(export: Path, outside: Path) -> None:
    """An export the sdist was built from, after the backend ran in it: most files as in the
    sdist, others changed, extra, of the wrong type, or links out of the tree."""
    (export / "src/pkg").mkdir(parents=True)
    (export / "bin").mkdir()
    (export / "pyproject.toml").write_bytes(b"[project]\nname = 'pkg'\n")
    (export / "src/pkg/__init__.py").write_bytes(b"VERSION = 'dev'\n")  # differs
    (export / "bin/tool").write_bytes(b"#!/bin/sh\n")
    (export / "bin/tool").chmod(0o644)  # the sdist makes it executable
    (export / ".gitignore").write_bytes(b"build/\n")  # not in the sdist
    (export / "build/lib").mkdir(parents=True)
    (export / "build/lib/junk.py").write_bytes(b"")
    (export / "was-a-dir").mkdir()
    (export / "was-a-dir/x").write_bytes(b"")
    (export / "was-a-file").write_bytes(b"")
    outside.mkdir()
    (outside / "secret").write_bytes(b"keep me\n")
    (export / "src/pkg/data").symlink_to(outside)  # the sdist writes data/table.csv
    (export / "src/pkg/same-link").symlink_to("__init__.py")
    (export / "src/pkg/new-link").symlink_to("../pkg/data/table.csv")  # another target
    (outside / "linked.txt").write_bytes(b"same bytes\n")
    os.link(outside / "linked.txt", export / "linked.txt")  # a second name of a file outside
    for path in [export, *export.rglob("*")]:
        if not path.is_symlink():
            os.utime(path, (EPOCH - 50, EPOCH - 50))


def test_adopted_export_is_the_unpacked_sdist(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "pkg-1.0.tar.gz", SDIST)
    normal = normal_sdist(sdist, EPOCH)
    export = tmp_path / "work/source"
    export_with_leftovers(export, tmp_path / "outside")
    tree = adopt_export(
        export, normal.members, tmp_path / "work/from-sdist", umask=UMASK, mtime=EPOCH
    )
    assert tree == tmp_path / "work/from-sdist/pkg-1.0"
    assert not export.exists()
    expected = unpacked(normal.tar, tmp_path / "reference")
    assert snapshot(tree) == snapshot(expected)
    assert (tree / "bin/tool").stat().st_mode & 0o777 == 0o775
    assert (tree / "docs").stat().st_mtime == EPOCH  # a listed directory, as extraction sets it
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["linked.txt", "secret"]
    assert (tmp_path / "outside/secret").read_bytes() == b"keep me\n"
    assert (tmp_path / "outside/linked.txt").stat().st_nlink == 1  # ours is a file of its own
    assert os.readlink(tree / "src/pkg/new-link") == "data/table.csv"


def test_files_already_right_are_kept(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "pkg-1.0.tar.gz", SDIST[:3])
    normal = normal_sdist(sdist, EPOCH)
    export = tmp_path / "source"
    export.mkdir()
    (export / "pyproject.toml").write_bytes(b"[project]\nname = 'pkg'\n")
    before = (export / "pyproject.toml").stat().st_ino
    tree = adopt_export(export, normal.members, tmp_path / "dest", umask=UMASK, mtime=EPOCH)
    assert tree is not None
    assert (tree / "pyproject.toml").stat().st_ino == before
    assert snapshot(tree) == snapshot(unpacked(normal.tar, tmp_path / "reference"))


@pytest.mark.parametrize(
    "members",
    [
        [("pkg-1.0/a", "file", b"", 0o644), ("pkg-1.0/b", "symlink", b"../../a", 0o777)],
        [("pkg-1.0/a", "file", b"", 0o644), ("pkg-1.0/b", "symlink", b"/etc/passwd", 0o777)],
        [("pkg-1.0/a", "symlink", b"b", 0o777), ("pkg-1.0/a/x", "file", b"", 0o644)],
        [("pkg-1.0/a", "symlink", b".", 0o777), ("pkg-1.0/b", "symlink", b"a/../c", 0o777)],
        [("pkg-1.0/a", "file", b"", 0o644), ("pkg-1.0/b", "hardlink", b"pkg-1.0/a", 0o644)],
        [("pkg-1.0/a", "file", b"", 0o644), ("README", "file", b"", 0o644)],
        [("pkg-1.0/a", "file", b"", 0o644), ("other-1.0/a", "file", b"", 0o644)],
        [("pkg-1.0/../a", "file", b"", 0o644)],
    ],
    ids=[
        "link-out",
        "absolute-link",
        "through-a-link",
        "link-via-a-link",
        "hard-link",
        "file-beside-the-top",
        "two-tops",
        "dot-dot",
    ],
)
def test_what_only_unpacking_handles_is_left_alone(
    tmp_path: Path, members: list[tuple[str, str, bytes, int]]
) -> None:
    sdist = make_sdist(tmp_path / "pkg-1.0.tar.gz", members)
    export = tmp_path / "source"
    export.mkdir()
    (export / "a").write_bytes(b"")
    normal_members: tuple[Member, ...] = normal_sdist(sdist, EPOCH).members
    dest = tmp_path / "dest"
    assert adopt_export(export, normal_members, dest, umask=UMASK, mtime=EPOCH) is None
    assert (export / "a").is_file()
    assert not dest.exists()
