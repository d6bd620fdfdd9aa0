"""Tests for archive inspection, on real (and really hostile) archives built in tmp_path.
Spec: PEP 427 (wheel), PEP 625 (sdist), warehouse ``_is_valid_dist_file`` and ``zipfiles.py``.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import struct
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.dists.builders import build_sdist, build_wheel, core_metadata
from trustyard.dists import archives
from trustyard.dists.archives import ArchiveContents, InvalidDistribution, inspect_archive
from trustyard.dists.filenames import parse_dist_filename
from trustyard.dists.zipstream import FollowedMember, ZipFollower
from trustyard.errors import InvalidInput

WHEEL_FILE = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
MiB = 1024 * 1024

ZipEntry = tuple[str | zipfile.ZipInfo, bytes]
TarEntry = tuple[tarfile.TarInfo, bytes | None]


# -- helpers -------------------------------------------------------------------------------


def inspect(path: Path, **limits: Any) -> ArchiveContents:
    return inspect_archive(path, parse_dist_filename(path.name), **limits)


def refused(path: Path, **limits: Any) -> str:
    """Inspect, expect a refusal, return its detail (the message after the PyPI prefix)."""
    with pytest.raises(InvalidDistribution) as caught:
        inspect(path, **limits)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.message == f"Invalid distribution file. {error.detail}"
    return error.detail


def dist_info(name: str = "foo-1.0.dist-info", *, skip: Iterable[str] = ()) -> list[ZipEntry]:
    files = {
        "METADATA": core_metadata("foo", "1.0").encode(),
        "WHEEL": WHEEL_FILE,
        "RECORD": b"",
    }
    return [(f"{name}/{key}", data) for key, data in files.items() if key not in skip]


def make_zip(
    path: Path, entries: Iterable[ZipEntry], *, compression: int = zipfile.ZIP_DEFLATED
) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for entry, data in entries:
            archive.writestr(entry, data)
    return path


def make_wheel(tmp_path: Path, extra: Iterable[ZipEntry] = (), **kwargs: int) -> Path:
    """foo-1.0-py3-none-any.whl with a valid .dist-info plus ``extra`` entries."""
    entries = [*extra, ("foo/__init__.py", b""), *dist_info()]
    return make_zip(tmp_path / "foo-1.0-py3-none-any.whl", entries, **kwargs)


def zip_info(
    name: str, *, mode: int = 0o644, compress_type: int = zipfile.ZIP_DEFLATED
) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    info.compress_type = compress_type
    return info


def tar_member(
    name: str,
    data: bytes | None = b"",
    *,
    type: bytes = tarfile.REGTYPE,
    linkname: str = "",
    mode: int = 0o644,
) -> TarEntry:
    info = tarfile.TarInfo(name)
    info.type = type
    info.linkname = linkname
    info.mode = mode
    info.size = len(data) if data is not None and type == tarfile.REGTYPE else 0
    return info, data if type == tarfile.REGTYPE else None


def sdist_members(top: str = "foo-1.0") -> list[TarEntry]:
    return [
        tar_member(top, type=tarfile.DIRTYPE, mode=0o755),
        tar_member(f"{top}/PKG-INFO", core_metadata("foo", "1.0").encode()),
        tar_member(f"{top}/foo/__init__.py", b""),
    ]


def tar_bytes(
    members: Iterable[TarEntry], *, format: int = tarfile.PAX_FORMAT, encoding: str = "utf-8"
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=format, encoding=encoding) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def make_sdist(
    tmp_path: Path,
    members: Iterable[TarEntry] | None = None,
    *,
    filename: str = "foo-1.0.tar.gz",
    raw_tar: bytes | None = None,
) -> Path:
    path = tmp_path / filename
    data = (
        raw_tar
        if raw_tar is not None
        else tar_bytes(sdist_members() if members is None else members)
    )
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


# -- valid distributions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "tag"),
    [
        ("foo", "1.0", "py3-none-any"),
        ("Foo.Bar", "2.0.post1", "py2.py3-none-any"),
        ("foo-bar", "1.0rc1", "cp312-abi3-manylinux_2_17_x86_64"),
    ],
)
def test_valid_wheel(tmp_path: Path, name: str, version: str, tag: str) -> None:
    path = build_wheel(tmp_path, name, version, tag=tag, files={"data/x.json": b"{}"})
    contents = inspect(path)
    dist_name = name.lower().replace(".", "_").replace("-", "_")
    dist_info_dir = f"{dist_name}-{version}.dist-info"
    with zipfile.ZipFile(path) as archive:
        assert contents.metadata == archive.read(f"{dist_info_dir}/METADATA")
        assert contents.members == tuple(archive.namelist())
    assert f"{dist_info_dir}/RECORD" in contents.members


@pytest.mark.parametrize(("name", "version"), [("foo", "1.0"), ("Foo.Bar-baz", "3.1.4.dev2")])
def test_valid_sdist(tmp_path: Path, name: str, version: str) -> None:
    path = build_sdist(tmp_path, name, version, files={"README.md": b"# hi\n"})
    contents = inspect(path)
    with tarfile.open(path) as archive:
        top = path.name.removesuffix(".tar.gz")
        extracted = archive.extractfile(f"{top}/PKG-INFO")
        assert extracted is not None
        assert contents.metadata == extracted.read()
        assert contents.members == tuple(archive.getnames())
    assert b"Name: " + name.encode() in contents.metadata


def test_valid_zip_sdist(tmp_path: Path) -> None:
    metadata = core_metadata("foo", "1.0").encode()
    path = make_zip(
        tmp_path / "foo-1.0.zip", [("foo-1.0/PKG-INFO", metadata), ("foo-1.0/x.py", b"")]
    )
    assert inspect(path).metadata == metadata


def test_builders_are_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for build in (build_wheel, build_sdist):
        one, two = build(first, "foo", "1.0"), build(second, "foo", "1.0")
        assert one.read_bytes() == two.read_bytes()


@pytest.mark.slow
def test_built_wheel_installs_with_pip(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "Foo-Bar", "1.2.3", metadata_extra="Requires-Python: >=3.8\n")
    target = tmp_path / "target"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    assert (target / "foo_bar" / "__init__.py").read_text() == '__version__ = "1.2.3"\n'
    assert (target / "foo_bar-1.2.3.dist-info" / "METADATA").is_file()


@pytest.mark.slow
@pytest.mark.builds
def test_built_sdist_builds_offline(tmp_path: Path) -> None:
    """The sdist builder's in-tree backend needs no index: pip builds it with --no-index."""
    path = build_sdist(tmp_path, "Foo-Bar", "1.0")
    with tarfile.open(path) as archive:
        member = archive.extractfile("foo_bar-1.0/pyproject.toml")
        assert member is not None
        pyproject = tomllib.loads(member.read().decode())
    assert pyproject["build-system"] == {
        "requires": [],
        "build-backend": "intree_backend",
        "backend-path": ["."],
    }
    out = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-index",
            "--no-deps",
            "-w",
            str(out),
            str(path),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    wheel = out / "foo_bar-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as built:
        assert built.read("foo_bar/__init__.py") == b'__version__ = "1.0"\n'
        assert b"Name: Foo-Bar" in built.read("foo_bar-1.0.dist-info/METADATA")


# -- compression bombs ------------------------------------------------------------------------


def test_zip_bomb_refused_from_declared_sizes(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, [("foo/zeros.bin", bytes(4 * MiB))])
    assert path.stat().st_size < 64 * 1024
    assert refused(path, ratio_threshold=MiB) == "File exceeds compression ratio of 50"


def test_zip_below_threshold_may_compress_well(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, [("foo/zeros.bin", bytes(4 * MiB))])
    inspect(path, ratio_threshold=8 * MiB)


def test_zip_ratio_limit_is_configurable(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, [("foo/zeros.bin", bytes(4 * MiB))])
    inspect(path, ratio_threshold=MiB, max_ratio=10_000)
    assert refused(path, ratio_threshold=MiB, max_ratio=100) == (
        "File exceeds compression ratio of 100"
    )


def test_zip_lying_about_sizes_is_caught_while_reading(tmp_path: Path) -> None:
    """Declared sizes shrunk in both headers: the real data no longer fits its CRC."""
    path = make_wheel(tmp_path, [(zip_info("foo/big.bin"), bytes(2 * MiB))])
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("foo/big.bin")
        start_dir = archive.start_dir
    struct.pack_into("<L", data, info.header_offset + 22, 10)  # local uncompressed size
    (central,) = (
        offset
        for offset in _central_offsets(bytes(data), start_dir)
        if data[offset + 46 : offset + 57] == b"foo/big.bin"
    )
    struct.pack_into("<L", data, central + 24, 10)  # central uncompressed size
    path.write_bytes(bytes(data))
    assert refused(path).startswith("Corrupt data in 'foo/big.bin'")


def followed(path: Path, piece: int = 4096, **limits: int) -> Mapping[int, FollowedMember]:
    """What the upload's stream sees of the zip at ``path``, fed in ``piece``-byte buffers."""
    follower = ZipFollower(**limits)
    data = path.read_bytes()
    follower.feed(memoryview(data)[start : start + piece] for start in range(0, len(data), piece))
    return follower.members


def _flip_data_byte(path: Path, member: str, at: int = 1000) -> None:
    """Damage one byte of ``member``'s stored data; its headers still promise the old CRC."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    data = bytearray(path.read_bytes())
    data[info.header_offset + 30 + len(member.encode()) + len(info.extra) + at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_members_the_stream_followed_are_not_read_again(tmp_path: Path) -> None:
    """A member the stream read to the central directory's CRC is charged, not re-read: the
    spool file is those very bytes (here they are changed behind the check's back to show it).
    Without the stream's account the same file is refused."""
    path = make_wheel(tmp_path, [("foo/blob.bin", os.urandom(200_000))])
    seen = followed(path)
    _flip_data_byte(path, "foo/blob.bin")
    assert inspect(path, followed=seen).metadata.startswith(b"Metadata-Version")
    assert refused(path).startswith("Corrupt data in 'foo/blob.bin'")


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_wrong_member_crc_is_refused_the_same_with_the_stream(
    tmp_path: Path, compression: int
) -> None:
    """Both headers carry a CRC-32 the data does not have: the stream's account does not match
    the central directory, so the member is read again and refused with today's message."""
    path = make_wheel(tmp_path, [("foo/blob.bin", os.urandom(200_000))], compression=compression)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("foo/blob.bin")
        start_dir = archive.start_dir
    struct.pack_into("<L", data, info.header_offset + 14, info.CRC ^ 1)  # local CRC-32
    (central,) = (
        offset
        for offset in _central_offsets(bytes(data), start_dir)
        if data[offset + 46 : offset + 58] == b"foo/blob.bin"
    )
    struct.pack_into("<L", data, central + 16, info.CRC ^ 1)  # central CRC-32
    path.write_bytes(bytes(data))
    expected = "Corrupt data in 'foo/blob.bin': Bad CRC-32 for file 'foo/blob.bin'"
    assert refused(path) == expected
    assert refused(path, followed=followed(path)) == expected


def test_members_the_stream_could_not_follow_are_read_again(tmp_path: Path) -> None:
    """A valid wheel whose first member inflates past what the stream may spend before the
    rest has arrived: the stream stops following there, and everything from there on is
    checked by reading it, damage included."""
    path = make_wheel(
        tmp_path,
        [(zip_info("foo/zeros.bin"), bytes(4 * MiB)), ("foo/blob.bin", os.urandom(200_000))],
    )
    limits = {"ratio_threshold": MiB, "max_ratio": 50}
    seen = followed(path, **limits)
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("foo/zeros.bin").header_offset not in seen
        assert archive.getinfo("foo/blob.bin").header_offset not in seen
    inspect(path, followed=seen, **limits)
    _flip_data_byte(path, "foo/blob.bin")
    assert refused(path, followed=seen, **limits).startswith("Corrupt data in 'foo/blob.bin'")


def _central_offsets(data: bytes, start: int) -> list[int]:
    offsets, position = [], start
    while data[position : position + 4] == b"PK\x01\x02":
        offsets.append(position)
        name, extra, comment = struct.unpack("<HHH", data[position + 28 : position + 34])
        position += 46 + name + extra + comment
    return offsets


def test_tar_bomb_refused_while_decompressing(tmp_path: Path) -> None:
    members = [*sdist_members(), tar_member("foo-1.0/zeros.bin", bytes(4 * MiB))]
    path = make_sdist(tmp_path, members)
    assert refused(path, ratio_threshold=MiB) == "File exceeds compression ratio of 50"
    inspect(path, ratio_threshold=8 * MiB)


def _multi_member_gzip_bomb(path: Path, gibibytes: int) -> None:
    """A .tar.gz whose one member claims and holds ``gibibytes`` GiB of zeros, in ~1 MB."""
    header = tar_bytes([tar_member("foo-1.0", type=tarfile.DIRTYPE)])[:512]
    info = tarfile.TarInfo("foo-1.0/zeros.bin")
    info.size = gibibytes * 1024 * MiB
    block = gzip.compress(bytes(MiB), mtime=0)
    with path.open("wb") as stream:
        stream.write(gzip.compress(header + info.tobuf(tarfile.PAX_FORMAT), mtime=0))
        for _ in range(gibibytes * 1024):
            stream.write(block)


def test_real_bomb_stops_soon_after_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "foo-1.0.tar.gz"
    _multi_member_gzip_bomb(path, gibibytes=4)
    assert path.stat().st_size < 8 * MiB
    spent: list[int] = []

    class RecordingBudget(archives._Budget):
        def spend(self, amount: int) -> None:
            spent.append(self.used + amount)
            super().spend(amount)

    monkeypatch.setattr(archives, "_Budget", RecordingBudget)
    assert refused(path) == "File exceeds compression ratio of 50"
    limit = max(64 * MiB, 50 * path.stat().st_size)  # far below the 4 GiB inside
    assert limit < 256 * MiB
    assert limit < max(spent) <= limit + archives._CHUNK_SIZE  # stopped right at the limit


def test_budgeted_reader_is_a_forward_only_stream() -> None:
    budget = archives._Budget(limit=8, max_ratio=50)
    reader = archives._BudgetedReader(io.BytesIO(b"0123456789"), budget)
    assert reader.read(4) == b"0123"
    assert reader.tell() == 4
    with pytest.raises(OSError, match="seeking"):
        reader.seek(0)
    with pytest.raises(OSError, match="read-only"):
        reader.write(b"x")
    reader.close()
    assert reader.read(4) == b"4567"
    with pytest.raises(InvalidDistribution, match="compression ratio of 50"):
        reader.read()


# -- zip container rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"", b"not a zip at all", b"PK\x03\x04" + bytes(100), gzip.compress(b"hello", mtime=0)],
)
def test_not_a_zip(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "foo-1.0-py3-none-any.whl"
    path.write_bytes(content)
    assert refused(path) == "File is not a zipfile"


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_truncated_zip(tmp_path: Path, keep: float) -> None:
    path = make_wheel(tmp_path, [("foo/data.bin", bytes(range(256)) * 100)])
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    assert refused(path) == "File is not a zipfile"


def test_corrupt_deflate_data(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 400
    path = make_wheel(tmp_path, [("foo/data.bin", payload)])
    data = bytearray(path.read_bytes())
    start = data.index(b"foo/data.bin") + len(b"foo/data.bin") + 100
    data[start : start + 50] = bytes(50)
    path.write_bytes(bytes(data))
    assert refused(path).startswith("Corrupt data in 'foo/data.bin'")


@pytest.mark.parametrize("compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_unsupported_compression(tmp_path: Path, compression: int) -> None:
    path = make_wheel(tmp_path, [(zip_info("foo/x.py", compress_type=compression), b"x = 1\n")])
    assert refused(path) == "File does not use a supported compression type"


def test_stored_members_are_fine(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, compression=zipfile.ZIP_STORED)
    inspect(path)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../evil.py", "Member name '../evil.py' contains a '..' segment."),
        ("foo/../../evil.py", "Member name 'foo/../../evil.py' contains a '..' segment."),
        ("foo/..", "Member name 'foo/..' contains a '..' segment."),
        ("/etc/passwd", "Member name '/etc/passwd' is an absolute path."),
        ("C:/Windows/evil.dll", "Member name 'C:/Windows/evil.dll' is an absolute path."),
        ("foo\\..\\evil.py", "Member name 'foo\\\\..\\\\evil.py' contains a backslash."),
        ("foo/\x01evil.py", "Member name 'foo/\\x01evil.py' contains a control character."),
        ("foo/\x7fevil.py", "Member name 'foo/\\x7fevil.py' contains a control character."),
        ("", "Empty member name."),
    ],
)
def test_unsafe_zip_member_names(tmp_path: Path, name: str, problem: str) -> None:
    path = make_wheel(tmp_path, [(zip_info(name), b"x")])
    assert refused(path) == problem


def test_nul_in_zip_member_name(tmp_path: Path) -> None:
    """zipfile's ``filename`` stops at a NUL; the stored name must be checked."""
    path = make_wheel(tmp_path, [(zip_info("foo/evilXtxt.py"), b"x")])
    path.write_bytes(path.read_bytes().replace(b"evilXtxt", b"evil\x00txt"))
    assert refused(path) == "Member name 'foo/evil\\x00txt.py' contains a control character."


def test_duplicate_zip_members(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = make_wheel(tmp_path, [("foo/a.py", b"one"), ("foo/a.py", b"two")])
    assert refused(path) == "Duplicate member name 'foo/a.py'."


@pytest.mark.parametrize("target", [b"/etc/passwd", b"../../x", b"foo/__init__.py"])
def test_zip_symlinks_refused(tmp_path: Path, target: bytes) -> None:
    path = make_wheel(tmp_path, [(zip_info("foo/link", mode=stat.S_IFLNK | 0o777), target)])
    assert refused(path) == "Symbolic link 'foo/link' is not allowed."


def test_zip_needing_a_newer_version_to_extract(tmp_path: Path) -> None:
    """Found by fuzz/fuzz_archives.py: zipfile raised NotImplementedError("zip file version")."""
    path = make_wheel(tmp_path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        start_dir = archive.start_dir
    struct.pack_into("<H", data, _central_offsets(bytes(data), start_dir)[0] + 6, 109)
    path.write_bytes(bytes(data))
    assert refused(path) == ("File uses a zip feature that is not supported: zip file version 10.9")


@pytest.mark.parametrize(
    ("flag", "feature"),
    [(0x20, "compressed patched data (flag bit 5)"), (0x40, "strong encryption (flag bit 6)")],
)
def test_zip_members_with_unsupported_flags(tmp_path: Path, flag: int, feature: str) -> None:
    """Found by fuzz/fuzz_archives.py: zipfile's open() raised NotImplementedError."""
    path = make_wheel(tmp_path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        start_dir = archive.start_dir
    data[_central_offsets(bytes(data), start_dir)[0] + 8] |= flag
    path.write_bytes(bytes(data))
    assert refused(path) == (
        f"Member 'foo/__init__.py' uses a zip feature that is not supported: {feature}"
    )


def test_all_problems_reported_together(tmp_path: Path) -> None:
    entries = [(zip_info(f"../evil{i}.py"), b"") for i in range(7)]
    detail = refused(make_wheel(tmp_path, entries))
    assert detail.startswith("Member name '../evil0.py' contains a '..' segment; ")
    assert detail.endswith("(and 2 more problems).")
    assert detail.count("contains a '..' segment") == 5


def test_encrypted_members(tmp_path: Path) -> None:
    path = make_wheel(
        tmp_path, [(zip_info("foo/secret.py", compress_type=zipfile.ZIP_STORED), b"x")]
    )
    data = bytearray(path.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = -1
        while (position := data.find(signature, position + 1)) >= 0:
            data[position + flag_offset] |= 0x1
    path.write_bytes(bytes(data))
    assert refused(path) == "File contains encrypted members"


def test_too_many_members(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, [(f"foo/m{i}.py", b"") for i in range(10)])
    inspect(path, max_members=20)
    assert refused(path, max_members=12) == "File has more than 12 members"


# -- zip framing (parser differentials) ----------------------------------------------------


def framing(problem: str) -> str:
    return (
        f"ZIP archive not accepted: {problem}. "
        "See https://docs.pypi.org/archives for more information"
    )


def test_prepended_data(tmp_path: Path) -> None:
    path = make_wheel(tmp_path)
    path.write_bytes(b"#!/bin/sh\nexit 0\n" + path.read_bytes())
    assert refused(path) == framing("Gap or overlap between file records")


@pytest.mark.parametrize("trailer", [b"x", b"PK\x03\x04" + bytes(40), bytes(1000)])
def test_trailing_data(tmp_path: Path, trailer: bytes) -> None:
    path = make_wheel(tmp_path)
    path.write_bytes(path.read_bytes() + trailer)
    assert refused(path) == framing("Trailing data")


def test_archive_comment_is_fine(tmp_path: Path) -> None:
    path = make_wheel(tmp_path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.comment = b"built by a test"
    inspect(path)


def test_central_directory_comment(tmp_path: Path) -> None:
    info = zip_info("foo/x.py")
    info.comment = b"hidden"
    assert refused(make_wheel(tmp_path, [(info, b"")])) == framing("Comment in central directory")


def test_data_descriptor(tmp_path: Path) -> None:
    class Unseekable:
        def __init__(self) -> None:
            self.buffer = io.BytesIO()

        def write(self, data: bytes, /) -> int:
            return self.buffer.write(data)

        def flush(self) -> None:
            pass

        def close(self) -> None:
            pass

    stream = Unseekable()  # zipfile falls back to data descriptors
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in [("foo/__init__.py", b""), *dist_info()]:
            archive.writestr(zip_info(str(name)), data)
    path = tmp_path / "foo-1.0-py3-none-any.whl"
    path.write_bytes(stream.buffer.getvalue())
    assert refused(path) == framing("ZIP contains a data descriptor")


def test_local_name_differs_from_central_directory(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, [(zip_info("foo/inno.py"), b"x")])
    data = path.read_bytes()
    first = data.index(b"foo/inno.py")  # the local header comes first
    path.write_bytes(data[:first] + b"foo/evil.py" + data[first + len(b"foo/inno.py") :])
    assert refused(path) == framing("Local file name differs from the central directory")


def test_local_size_differs_from_central_directory(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, [(zip_info("foo/a.py"), b"x" * 100)])
    data = bytearray(path.read_bytes())
    struct.pack_into("<L", data, 22, 99)  # the first local header's uncompressed size
    path.write_bytes(bytes(data))
    assert refused(path) == framing("Mis-matched data size")


def _patched(path: Path, offset: int, fmt: str, *values: int | bytes) -> Path:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, *values)
    path.write_bytes(bytes(data))
    return path


def test_data_before_the_central_directory(tmp_path: Path) -> None:
    """The end record is fixed up so zipfile finds the central directory after the junk."""
    path = make_wheel(tmp_path)
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        start_dir = archive.start_dir
    junk = b"hidden payload"
    data = data[:start_dir] + junk + data[start_dir:]
    path.write_bytes(data)
    _patched(path, len(data) - 22 + 16, "<L", start_dir + len(junk))
    assert refused(path) == framing("Data between the last file record and the central directory")


def test_bad_local_header_signature(tmp_path: Path) -> None:
    path = _patched(make_wheel(tmp_path), 0, "<4s", b"PK\x07\x08")
    assert refused(path) == framing("Malformed local file header")


def test_local_extra_field_past_the_end(tmp_path: Path) -> None:
    path = _patched(make_wheel(tmp_path), 28, "<H", 0xFFFF)  # first local extra length
    assert refused(path) == framing("Malformed zip file")


def test_local_name_flagged_utf8_but_not(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "foo-1.0-py3-none-any.whl", [(zip_info("foo/abc.py"), b""), *dist_info()]
    )
    _patched(path, 6, "<H", 0x800)  # first local header: UTF-8 flag...
    _patched(path, 30 + 4, "<B", 0xFF)  # ...and a byte that is no UTF-8
    assert refused(path) == framing("Filename not valid UTF-8")


def test_local_method_differs_from_central_directory(tmp_path: Path) -> None:
    path = _patched(make_wheel(tmp_path), 8, "<H", zipfile.ZIP_STORED)
    assert refused(path) == framing("Local compression method differs from the central directory")


def test_zip64_sentinel_without_zip64_extra(tmp_path: Path) -> None:
    path = _patched(make_wheel(tmp_path), 18, "<LL", 0xFFFFFFFF, 0xFFFFFFFF)
    assert refused(path) == framing("Malformed zip file")


def _with_zip64_local_header(path: Path, extra: bytes) -> None:
    """Give the first local header ZIP64 sentinel sizes and ``extra``; shift what follows."""
    data = bytearray(path.read_bytes())
    (name_size,) = struct.unpack("<H", data[26:28])
    header = data[: 30 + name_size]
    struct.pack_into("<LLHH", header, 18, 0xFFFFFFFF, 0xFFFFFFFF, name_size, len(extra))
    data = header + extra + data[30 + name_size :]
    eocd = len(data) - 22
    (start_dir,) = struct.unpack("<L", data[eocd + 16 : eocd + 20])
    start_dir += len(extra)
    struct.pack_into("<L", data, eocd + 16, start_dir)
    for offset in _central_offsets(bytes(data), start_dir):
        (header_offset,) = struct.unpack("<L", data[offset + 42 : offset + 46])
        if header_offset:  # every record after the first moved
            struct.pack_into("<L", data, offset + 42, header_offset + len(extra))
    path.write_bytes(bytes(data))


ZIP64_6_6 = struct.pack("<HHQQ", 1, 16, 6, 6)  # uncompressed 6, compressed 6


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (ZIP64_6_6, None),
        (struct.pack("<HH4s", 0x5455, 4, b"time") + ZIP64_6_6, None),  # after another field
        (struct.pack("<HHQ", 1, 8, 6), "Malformed zip file"),  # one size where two are due
        (struct.pack("<HH", 1, 0), "Malformed zip file"),  # no size at all
        (struct.pack("<HHQQ", 1, 16, 7, 6), "Mis-matched data size"),
    ],
)
def test_zip64_local_extra_fields(tmp_path: Path, extra: bytes, problem: str | None) -> None:
    path = make_zip(
        tmp_path / "foo-1.0-py3-none-any.whl",
        [(zip_info("foo/x.py", compress_type=zipfile.ZIP_STORED), b"x = 1\n"), *dist_info()],
        compression=zipfile.ZIP_STORED,
    )
    _with_zip64_local_header(path, extra)
    if problem is None:
        inspect(path)
    else:
        assert refused(path) == framing(problem)


def _with_zip64_end_records(path: Path, *, record_size: int = 44) -> None:
    """Insert a ZIP64 end record and locator before the end record, as big archives have."""
    data = path.read_bytes()
    eocd = len(data) - 22
    entries, cd_size, cd_offset = struct.unpack("<10xHLL", data[eocd : eocd + 20])
    eocd64 = struct.pack(
        "<4sQHHLLQQQQ",
        b"PK\x06\x06",
        record_size,
        45,
        45,
        0,
        0,
        entries,
        entries,
        cd_size,
        cd_offset,
    )
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, eocd, 1)
    path.write_bytes(data[:eocd] + eocd64 + locator + data[eocd:])


def test_zip64_end_records_are_fine(tmp_path: Path) -> None:
    path = make_wheel(tmp_path)
    _with_zip64_end_records(path)
    inspect(path)


def test_zip64_extensible_data_refused(tmp_path: Path) -> None:
    path = make_wheel(tmp_path)
    _with_zip64_end_records(path, record_size=50)
    assert refused(path) == framing("ZIP64 extensible data not allowed")


def test_zip64_local_headers_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "foo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(zip_info("foo/__init__.py"), "w", force_zip64=True) as member:
            member.write(b"x = 1\n" * 100)
        for name, data in dist_info():
            archive.writestr(name, data)
    header = bytearray(path.read_bytes())
    # Python before 3.11.4 wrote the real sizes beside the ZIP64 extra field; newer ones write
    # the sentinels, which is the form this test is about: make it so on every interpreter.
    name_length = int.from_bytes(header[26:28], "little")
    assert header[30 + name_length : 32 + name_length] == b"\x01\x00"  # the ZIP64 extra field
    header[18:26] = b"\xff" * 8  # sentinel sizes in the local header
    path.write_bytes(bytes(header))
    inspect(path)


# -- wheel layout ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("skip", "problem"),
    [
        (
            {"RECORD"},
            "Wheel 'foo-1.0-py3-none-any.whl' does not contain the required RECORD file: "
            "foo-1.0.dist-info/RECORD.",
        ),
        (
            {"METADATA"},
            "Wheel 'foo-1.0-py3-none-any.whl' does not contain the required METADATA file: "
            "foo-1.0.dist-info/METADATA.",
        ),
        ({"WHEEL"}, "WHEEL not found at foo-1.0.dist-info/WHEEL."),
        (
            {"WHEEL", "RECORD"},
            "WHEEL not found at foo-1.0.dist-info/WHEEL; Wheel 'foo-1.0-py3-none-any.whl' does "
            "not contain the required RECORD file: foo-1.0.dist-info/RECORD.",
        ),
    ],
)
def test_wheel_missing_files(tmp_path: Path, skip: set[str], problem: str) -> None:
    path = make_zip(
        tmp_path / "foo-1.0-py3-none-any.whl", [("foo/x.py", b""), *dist_info(skip=skip)]
    )
    assert refused(path) == problem


def test_wheel_without_dist_info(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "foo-1.0-py3-none-any.whl", [("foo/x.py", b"")])
    assert refused(path) == "WHEEL not found at foo-1.0.dist-info/WHEEL"


def test_wheel_with_two_dist_infos(tmp_path: Path) -> None:
    entries = [*dist_info(), *dist_info("bar-2.0.dist-info")]
    path = make_zip(tmp_path / "foo-1.0-py3-none-any.whl", entries)
    assert refused(path) == (
        "Multiple .dist-info directories found: bar-2.0.dist-info, foo-1.0.dist-info"
    )


@pytest.mark.parametrize("directory", ["bar-1.0.dist-info", "foo-2.0.dist-info", "foo.dist-info"])
def test_wheel_dist_info_for_another_release(tmp_path: Path, directory: str) -> None:
    path = make_zip(tmp_path / "foo-1.0-py3-none-any.whl", dist_info(directory))
    assert refused(path) == (
        f"The .dist-info directory {directory!r} does not match the filename; "
        "expected 'foo-1.0.dist-info'"
    )


@pytest.mark.parametrize(
    "directory", ["Foo-1.0.dist-info", "foo-1.0.0.dist-info", "FOO-1.0.dist-info"]
)
def test_wheel_dist_info_matched_tolerantly(tmp_path: Path, directory: str) -> None:
    path = make_zip(tmp_path / "foo-1.0-py3-none-any.whl", dist_info(directory))
    assert inspect(path).metadata == core_metadata("foo", "1.0").encode()


@pytest.mark.parametrize(
    ("wheel_file", "problem"),
    [
        (b"Generator: x\n", "foo-1.0.dist-info/WHEEL must have exactly one Wheel-Version field."),
        (
            b"Wheel-Version: 1.0\nWheel-Version: 1.0\n",
            "foo-1.0.dist-info/WHEEL must have exactly one Wheel-Version field.",
        ),
        (
            b"Wheel-Version: 2.0\n",
            "foo-1.0.dist-info/WHEEL has an unsupported Wheel-Version '2.0'.",
        ),
        (
            b"Wheel-Version: one\n",
            "foo-1.0.dist-info/WHEEL has an unsupported Wheel-Version 'one'.",
        ),
        (b"", "foo-1.0.dist-info/WHEEL must have exactly one Wheel-Version field."),
    ],
)
def test_wheel_file_must_parse(tmp_path: Path, wheel_file: bytes, problem: str) -> None:
    entries = [*dist_info(skip={"WHEEL"}), ("foo-1.0.dist-info/WHEEL", wheel_file)]
    path = make_zip(tmp_path / "foo-1.0-py3-none-any.whl", entries)
    assert refused(path) == problem


@pytest.mark.parametrize("version", ["1.0", "1.9"])
def test_wheel_file_minor_versions_are_fine(tmp_path: Path, version: str) -> None:
    entries = [
        *dist_info(skip={"WHEEL"}),
        ("foo-1.0.dist-info/WHEEL", f"Wheel-Version: {version}\n".encode()),
    ]
    inspect(make_zip(tmp_path / "foo-1.0-py3-none-any.whl", entries))


def test_metadata_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archives, "MAX_METADATA_SIZE", 50)
    path = make_wheel(tmp_path)
    assert refused(path) == (
        "foo-1.0.dist-info/METADATA is larger than 50 bytes; "
        "foo-1.0.dist-info/WHEEL is larger than 50 bytes."
    )


def test_zip_sdist_layout(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "foo-1.0.zip", [("foo-1.0/setup.py", b"")])
    assert refused(path) == "PKG-INFO not found at foo-1.0/PKG-INFO"
    two_tops = make_zip(tmp_path / "foo-1.1.zip", [("foo-1.1/PKG-INFO", b""), ("other/x", b"")])
    assert refused(two_tops) == "Incorrect number of top-level directories in sdist"


# -- tar container rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"", b"not gzip", gzip.compress(b"not a tar", mtime=0), gzip.compress(bytes(10), mtime=0)],
)
def test_not_a_tar_gz(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "foo-1.0.tar.gz"
    path.write_bytes(content)
    assert refused(path).startswith(("File is not a valid tar.gz archive", "Truncated tar"))


def test_uncompressed_tar_named_tar_gz(tmp_path: Path) -> None:
    path = tmp_path / "foo-1.0.tar.gz"
    path.write_bytes(tar_bytes(sdist_members()))
    assert refused(path).startswith("File is not a valid tar.gz archive: Not a gzipped file")


def test_zip_named_tar_gz(tmp_path: Path) -> None:
    zipped = make_wheel(tmp_path)
    path = tmp_path / "foo-1.0.tar.gz"
    path.write_bytes(zipped.read_bytes())
    assert refused(path).startswith("File is not a valid tar.gz archive")


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_gzip(tmp_path: Path, keep: float) -> None:
    members = [*sdist_members(), tar_member("foo-1.0/data.bin", bytes(range(256)) * 200)]
    path = make_sdist(tmp_path, members)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    assert refused(path).startswith("File is not a valid tar.gz archive")


def test_gzip_crc_is_checked(tmp_path: Path) -> None:
    path = make_sdist(tmp_path)
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    path.write_bytes(bytes(data))
    assert refused(path).startswith("File is not a valid tar.gz archive: CRC check failed")


def test_tar_truncated_inside_a_member(tmp_path: Path) -> None:
    raw = tar_bytes([*sdist_members(), tar_member("foo-1.0/data.bin", bytes(10_000))])
    cut = raw.index(b"data.bin") + 2048  # well inside the member's data
    assert refused(make_sdist(tmp_path, raw_tar=raw[:cut])) == (
        "File is not a valid tar.gz archive: unexpected end of data"
    )


def test_tar_without_end_of_archive_marker(tmp_path: Path) -> None:
    raw = tar_bytes(sdist_members())
    end = len(raw.rstrip(b"\0"))
    end += -end % 512  # keep the last member's padded data, drop the zero blocks
    assert refused(make_sdist(tmp_path, raw_tar=raw[:end])) == (
        "Truncated tar archive: no end-of-archive marker"
    )


@pytest.mark.parametrize(
    "trailer",
    [
        b"x" * 512,
        tar_bytes([tar_member("foo-1.0/hidden.py", b"import os")]),  # a second archive
    ],
)
def test_data_after_the_end_of_archive(tmp_path: Path, trailer: bytes) -> None:
    raw = tar_bytes(sdist_members())
    path = make_sdist(tmp_path, raw_tar=raw + trailer)
    assert refused(path) == "Trailing data after the end of the tar archive"


def test_members_hidden_behind_a_bad_header(tmp_path: Path) -> None:
    raw = tar_bytes(sdist_members())
    hidden = tar_bytes([tar_member("foo-1.0/hidden.py", b"import os")])
    end = len(raw.rstrip(b"\0")) + (-len(raw.rstrip(b"\0")) % 512)
    path = make_sdist(tmp_path, raw_tar=raw[:end] + b"garbage".ljust(512, b"!") + hidden)
    assert refused(path) == "Trailing data after the end of the tar archive"


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (
            tar_member("foo-1.0/../evil.py"),
            "Member name 'foo-1.0/../evil.py' contains a '..' segment.",
        ),
        (tar_member("../evil.py"), "Member name '../evil.py' contains a '..' segment."),
        (tar_member("/etc/passwd"), "Member name '/etc/passwd' is an absolute path."),
        (tar_member("foo-1.0\\evil.py"), "Member name 'foo-1.0\\\\evil.py' contains a backslash."),
        (
            tar_member("foo-1.0/\x1b[2J.py"),
            "Member name 'foo-1.0/\\x1b[2J.py' contains a control character.",
        ),
        (
            tar_member("foo-1.0/dev", type=tarfile.CHRTYPE),
            "Device or FIFO member 'foo-1.0/dev' is not allowed.",
        ),
        (
            tar_member("foo-1.0/blk", type=tarfile.BLKTYPE),
            "Device or FIFO member 'foo-1.0/blk' is not allowed.",
        ),
        (
            tar_member("foo-1.0/fifo", type=tarfile.FIFOTYPE),
            "Device or FIFO member 'foo-1.0/fifo' is not allowed.",
        ),
        (
            tar_member("foo-1.0/link", type=tarfile.SYMTYPE, linkname="../../etc/passwd"),
            "Symbolic link 'foo-1.0/link' points outside its top-level directory "
            "('../../etc/passwd').",
        ),
        (
            tar_member("foo-1.0/link", type=tarfile.SYMTYPE, linkname="/etc/passwd"),
            "Symbolic link 'foo-1.0/link' points outside its top-level directory ('/etc/passwd').",
        ),
        (
            tar_member("foo-1.0/link", type=tarfile.SYMTYPE, linkname="../other-1.0/x"),
            "Symbolic link 'foo-1.0/link' points outside its top-level directory "
            "('../other-1.0/x').",
        ),
        (
            tar_member("foo-1.0/a/link", type=tarfile.SYMTYPE, linkname="../.."),
            "Symbolic link 'foo-1.0/a/link' points outside its top-level directory ('../..').",
        ),
        (
            tar_member("foo-1.0/link", type=tarfile.SYMTYPE, linkname=""),
            "Symbolic link 'foo-1.0/link' points outside its top-level directory ('').",
        ),
        (
            tar_member("foo-1.0/link", type=tarfile.SYMTYPE, linkname="C:\\Windows"),
            "Symbolic link 'foo-1.0/link' points outside its top-level directory "
            "('C:\\\\Windows').",
        ),
        (
            tar_member("foo-1.0/hard", type=tarfile.LNKTYPE, linkname="etc/passwd"),
            "Hard link 'foo-1.0/hard' points outside its top-level directory ('etc/passwd').",
        ),
        (
            tar_member("foo-1.0/hard", type=tarfile.LNKTYPE, linkname="foo-1.0/../../x"),
            "Hard link 'foo-1.0/hard' points outside its top-level directory ('foo-1.0/../../x').",
        ),
        (
            tar_member("foo-1.0/hard", type=tarfile.LNKTYPE, linkname="/etc/shadow"),
            "Hard link 'foo-1.0/hard' points outside its top-level directory ('/etc/shadow').",
        ),
        (tar_member("foo-1.0/odd", type=b"Z"), "Member 'foo-1.0/odd' has an unsupported type."),
    ],
)
def test_unsafe_tar_members(tmp_path: Path, member: TarEntry, problem: str) -> None:
    assert refused(make_sdist(tmp_path, [*sdist_members(), member])) == problem


@pytest.mark.parametrize(
    "member",
    [
        tar_member("foo-1.0/docs/readme", type=tarfile.SYMTYPE, linkname="../PKG-INFO"),
        tar_member("foo-1.0/self", type=tarfile.SYMTYPE, linkname="."),
        tar_member("foo-1.0/hard", type=tarfile.LNKTYPE, linkname="foo-1.0/PKG-INFO"),
    ],
)
def test_links_inside_the_tree_are_fine(tmp_path: Path, member: TarEntry) -> None:
    inspect(make_sdist(tmp_path, [*sdist_members(), member]))


def test_symlink_chains_refused(tmp_path: Path) -> None:
    """``b -> a/..`` looks inside, but ``a -> ..`` makes it land outside when followed."""
    members = [
        *sdist_members(),
        tar_member("foo-1.0/sub", type=tarfile.DIRTYPE),
        tar_member("foo-1.0/sub/a", type=tarfile.SYMTYPE, linkname=".."),
        tar_member("foo-1.0/sub/b", type=tarfile.SYMTYPE, linkname="a/../.."),
    ]
    assert refused(make_sdist(tmp_path, members)) == (
        "Link 'foo-1.0/sub/b' resolves through another symbolic link."
    )


@pytest.mark.parametrize(
    "members",
    [
        # through a symlink later in the archive
        [
            tar_member("foo-1.0/b", type=tarfile.SYMTYPE, linkname="a/x"),
            tar_member("foo-1.0/a", type=tarfile.SYMTYPE, linkname="."),
        ],
        # a link placed inside a symlinked directory resolves from the link's real home
        [
            tar_member("foo-1.0/s", type=tarfile.SYMTYPE, linkname="."),
            tar_member("foo-1.0/s/x", type=tarfile.SYMTYPE, linkname="../y"),
        ],
        # hard links are resolved from the root, through symlinks too
        [
            tar_member("foo-1.0/s", type=tarfile.SYMTYPE, linkname="."),
            tar_member("foo-1.0/h", type=tarfile.LNKTYPE, linkname="foo-1.0/s/PKG-INFO"),
        ],
    ],
)
def test_links_through_symlinks_refused(tmp_path: Path, members: list[TarEntry]) -> None:
    assert refused(make_sdist(tmp_path, [*sdist_members(), *members])).endswith(
        "resolves through another symbolic link."
    )


def test_sparse_member(tmp_path: Path) -> None:
    members = [*sdist_members(), tar_member("foo-1.0/sparse", type=tarfile.GNUTYPE_SPARSE)]
    raw = tar_bytes(members, format=tarfile.GNU_FORMAT)
    assert refused(make_sdist(tmp_path, raw_tar=raw)) == (
        "Sparse member 'foo-1.0/sparse' is not allowed."
    )


def test_duplicate_tar_members(tmp_path: Path) -> None:
    members = [*sdist_members(), tar_member("foo-1.0/PKG-INFO", b"Name: evil\n")]
    assert refused(make_sdist(tmp_path, members)) == "Duplicate member name 'foo-1.0/PKG-INFO'."


def test_non_utf8_tar_member_name(tmp_path: Path) -> None:
    members = [*sdist_members(), tar_member("foo-1.0/\xff.py")]
    raw = tar_bytes(members, format=tarfile.GNU_FORMAT, encoding="latin-1")
    assert refused(make_sdist(tmp_path, raw_tar=raw)) == (
        "Member name 'foo-1.0/\\udcff.py' is not valid UTF-8."
    )


def test_oversized_pax_header(tmp_path: Path) -> None:
    info, data = tar_member("foo-1.0/x.py", b"")
    info.pax_headers = {"comment": "x" * (2 * MiB)}
    assert refused(make_sdist(tmp_path, [*sdist_members(), (info, data)])) == (
        "Tar extended header larger than 1048576 bytes"
    )


def test_pax_headers_of_normal_size_are_fine(tmp_path: Path) -> None:
    info, data = tar_member("foo-1.0/" + "long-name/" * 20 + "x.py", b"")
    info.pax_headers = {"comment": "fine"}
    inspect(make_sdist(tmp_path, [*sdist_members(), (info, data)]))


def test_too_many_tar_members(tmp_path: Path) -> None:
    members = [*sdist_members(), *(tar_member(f"foo-1.0/m{i}.py") for i in range(10))]
    path = make_sdist(tmp_path, members)
    inspect(path, max_members=20)
    assert refused(path, max_members=5) == "File has more than 5 members"


# -- sdist layout ---------------------------------------------------------------------------


def test_two_top_level_directories(tmp_path: Path) -> None:
    members = [*sdist_members(), tar_member("bar-1.0/evil.py")]
    assert refused(make_sdist(tmp_path, members)) == (
        "Incorrect number of top-level directories in sdist"
    )


def test_file_at_the_top_level(tmp_path: Path) -> None:
    members = [*sdist_members(), tar_member("setup.py")]
    assert refused(make_sdist(tmp_path, members)) == (
        "Incorrect number of top-level directories in sdist"
    )


def test_empty_tar(tmp_path: Path) -> None:
    assert refused(make_sdist(tmp_path, [])) == "Incorrect number of top-level directories in sdist"


def test_missing_pkg_info(tmp_path: Path) -> None:
    members = [tar_member("foo-1.0", type=tarfile.DIRTYPE), tar_member("foo-1.0/setup.py")]
    assert refused(make_sdist(tmp_path, members)) == "PKG-INFO not found at foo-1.0/PKG-INFO"


@pytest.mark.parametrize(
    "member",
    [
        tar_member("foo-1.0/sub/PKG-INFO", core_metadata("foo", "1.0").encode()),
        tar_member("foo-1.0/PKG-INFO", type=tarfile.SYMTYPE, linkname="sub/PKG-INFO"),
        tar_member("foo-1.0/PKG-INFO", type=tarfile.DIRTYPE),
    ],
)
def test_pkg_info_must_be_a_top_level_file(tmp_path: Path, member: TarEntry) -> None:
    members = [tar_member("foo-1.0", type=tarfile.DIRTYPE), member]
    assert refused(make_sdist(tmp_path, members)) == "PKG-INFO not found at foo-1.0/PKG-INFO"


@pytest.mark.parametrize("top", ["bar-1.0", "foo-1.1", "foo", "foo-x"])
def test_top_level_directory_must_match_the_filename(tmp_path: Path, top: str) -> None:
    assert refused(make_sdist(tmp_path, sdist_members(top))) == (
        f"Top-level directory {top!r} does not match the filename; expected 'foo-1.0'"
    )


@pytest.mark.parametrize("top", ["Foo-1.0", "foo-1.0.0", "FOO-1.0"])
def test_top_level_directory_matched_tolerantly(tmp_path: Path, top: str) -> None:
    inspect(make_sdist(tmp_path, sdist_members(top)))


def test_top_level_without_directory_entry(tmp_path: Path) -> None:
    inspect(make_sdist(tmp_path, sdist_members()[1:]))


def test_pkg_info_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archives, "MAX_METADATA_SIZE", 50)
    assert refused(make_sdist(tmp_path)) == "foo-1.0/PKG-INFO is larger than 50 bytes."


def test_errors_are_raised_from_their_cause(tmp_path: Path) -> None:
    path = tmp_path / "foo-1.0.tar.gz"
    path.write_bytes(b"nope")
    with pytest.raises(InvalidDistribution) as caught:
        inspect(path)
    assert isinstance(caught.value.__cause__, OSError)
    zipped = tmp_path / "foo-1.0-py3-none-any.whl"
    zipped.write_bytes(b"nope")
    with pytest.raises(InvalidDistribution) as caught:
        inspect(zipped)
    assert isinstance(caught.value.__cause__, zipfile.BadZipFile)
