"""Unpacking tar archives with PEP 706's "data" rules, on every Python 3.11.

``extract_checked`` is what runs where the standard library has no extraction filters
(before 3.11.4); it is tested here directly, on whatever interpreter runs the suite, and each
refusal must leave the destination empty (the members are checked before any is written).
"""

from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

import pytest

from trustyard.dists.extract import UnsafeMember, extract_checked, extract_tar


def _archive(*members: tuple[tarfile.TarInfo, bytes]) -> tarfile.TarFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        for info, data in members:
            info.size = len(data)
            out.addfile(info, io.BytesIO(data) if info.isfile() else None)
    buffer.seek(0)
    return tarfile.open(fileobj=buffer, mode="r")


def _file(name: str, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.uid, info.uname = 4242, "stranger"
    return info, f"content of {name}".encode()


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, b""


def _special(name: str, kind: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, b""


@pytest.mark.parametrize("extract", [extract_checked, extract_tar])
def test_plain_members_are_extracted_with_safe_modes(tmp_path: Path, extract: object) -> None:
    archive = _archive(
        _file("pkg/a.py"),
        _file("pkg/run.sh", 0o4777),  # setuid, world-writable
        _file("pkg/secret", 0o600),
        _link("pkg/alias.py", "a.py"),
        _link("pkg/hard.py", "pkg/a.py", tarfile.LNKTYPE),
    )
    assert callable(extract)
    extract(archive, tmp_path)
    assert (tmp_path / "pkg/a.py").read_text() == "content of pkg/a.py"
    assert (tmp_path / "pkg/alias.py").read_text() == "content of pkg/a.py"
    assert (tmp_path / "pkg/hard.py").read_text() == "content of pkg/a.py"
    assert stat.S_IMODE((tmp_path / "pkg/run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "pkg/a.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "pkg/secret").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (_file("/etc/evil"), "absolute path"),
        (_file("pkg/../../evil"), "outside the destination"),
        (_file("../evil"), "outside the destination"),
        (_link("pkg/up", "../../etc/passwd"), "links outside"),
        (_link("pkg/deep", "a/../../../x"), "links outside"),
        (_link("pkg/abs", "/etc/passwd"), "link to an absolute path"),
        (_link("pkg/hard", "../outside", tarfile.LNKTYPE), "links outside"),
        (_special("pkg/dev", tarfile.CHRTYPE), "special file"),
        (_special("pkg/fifo", tarfile.FIFOTYPE), "special file"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_escaping_or_special_members_are_refused_before_anything_is_written(
    tmp_path: Path, member: tuple[tarfile.TarInfo, bytes], problem: str
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    archive = _archive(_file("pkg/first.py"), member)
    with pytest.raises(UnsafeMember, match=problem):
        extract_checked(archive, dest)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "evil").exists()


def test_a_link_through_an_earlier_symlink_is_refused(tmp_path: Path) -> None:
    """A symlink to a directory inside, then a member written through it: refused, as a
    later link could be swapped in where the first pointed (the check is lexical)."""
    dest = tmp_path / "dest"
    dest.mkdir()
    archive = _archive(_link("pkg/sub", "."), _file("pkg/sub/evil"))
    with pytest.raises(UnsafeMember, match="through a symbolic link"):
        extract_checked(archive, dest)
    assert list(dest.iterdir()) == []
