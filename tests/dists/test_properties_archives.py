"""Property tests (hypothesis) for archive inspection: any bytes, hostile members, damaged dists.
Spec: PEP 427 (wheel zip), PEP 625 (sdist tar.gz); warehouse ``_is_valid_dist_file``.

Invariants: any input gives :class:`ArchiveContents` or :class:`InvalidDistribution`; an
archive that inspection accepts has no member outside its root (names, and tar links followed
through the archive's own symbolic links), and ``tarfile``'s ``data`` filter accepts it too.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.dists.builders import build_sdist, build_wheel, core_metadata
from trustyard.dists.archives import ArchiveContents, InvalidDistribution, inspect_archive
from trustyard.dists.filenames import parse_dist_filename

WHEEL = "demo-1.0-py3-none-any.whl"
SDIST = "demo-1.0.tar.gz"
TOP = "demo-1.0"
DIST_INFO = "demo-1.0.dist-info"
WHEEL_FILE = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
METADATA = core_metadata("demo", "1.0").encode()

# Path segments an attacker would try, and ordinary ones.
segments = st.sampled_from(
    [TOP, "demo", "..", ".", "", "a", "PKG-INFO", "C:", "a\\b", "x\x00y", "\x7f", "\xfc", " "]
)
member_names = st.lists(segments, min_size=1, max_size=4).map("/".join)
link_targets = member_names | st.sampled_from(["/etc/passwd", "../../x", "C:/x", "demo"])


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("archives")


def inspected(path: Path) -> ArchiveContents | None:
    """Inspect with small limits; None for a refusal (only ours may escape)."""
    try:
        return inspect_archive(path, parse_dist_filename(path.name), ratio_threshold=1 << 20)
    except InvalidDistribution as exc:
        error = exc
    assert error.message == f"Invalid distribution file. {error.detail}"
    return None


def assert_contained(contents: ArchiveContents, path: Path) -> None:
    """No accepted member (or tar link, followed through the archive) leaves the root."""
    for name in contents.members:
        normal = posixpath.normpath(name)
        assert not name.startswith("/")
        assert normal != ".."
        assert not normal.startswith("../")
    if not path.name.endswith(".tar.gz"):
        return
    with tarfile.open(path, "r:gz") as archive:
        members = archive.getmembers()
    symlinks = {m.name: m.linkname for m in members if m.issym()}
    top = contents.members[0].split("/", 1)[0]
    for member in members:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: the standard library agrees
            tarfile.data_filter(member, "/nonexistent/root")  # raises FilterError if it escapes
        if member.issym() or member.islnk():
            base = posixpath.dirname(member.name) if member.issym() else ""
            resolved = resolve(posixpath.join(base, member.linkname), symlinks)
            if resolved is not None:  # None: a loop, which leads nowhere (ELOOP), not out
                assert resolved == top or resolved.startswith(f"{top}/"), (member.name, resolved)


def resolve(path: str, symlinks: dict[str, str], hops: int = 40) -> str | None:
    """Where a path inside the archive leads, following the archive's symbolic links.

    ``../`` when it leaves the root, None when it loops (as the kernel gives up with ELOOP).
    """
    parts: list[str] = []
    pending = [p for p in path.split("/") if p not in ("", ".")]
    while pending:
        part = pending.pop(0)
        if part == "..":
            if not parts:
                return "../"  # above the root
            parts.pop()
            continue
        parts.append(part)
        target = symlinks.get("/".join(parts))
        if target is not None:
            if hops == 0:
                return None
            hops -= 1
            parts.pop()
            pending = [p for p in target.split("/") if p not in ("", ".")] + pending
    return "/".join(parts)


# -- any bytes ---------------------------------------------------------------------------------


@given(data=st.binary(max_size=2048), filename=st.sampled_from([WHEEL, SDIST, "demo-1.0.zip"]))
def test_any_bytes_are_inspected_or_refused(data: bytes, filename: str, work: Path) -> None:
    path = work / filename
    path.write_bytes(data)
    contents = inspected(path)
    if contents is not None:
        assert_contained(contents, path)


@given(data=st.binary(max_size=4096))
def test_any_tar_in_gzip_is_inspected_or_refused(data: bytes, work: Path) -> None:
    path = work / SDIST
    path.write_bytes(gzip.compress(data, mtime=0))
    contents = inspected(path)
    if contents is not None:
        assert_contained(contents, path)


# -- hostile members ---------------------------------------------------------------------------


@given(entries=st.lists(st.tuples(member_names, st.binary(max_size=8), st.booleans()), max_size=6))
def test_hostile_wheel_members(entries: list[tuple[str, bytes, bool]], work: Path) -> None:
    path = work / WHEEL
    with zipfile.ZipFile(path, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": repeats are hostile too
        for name, data, is_symlink in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 if is_symlink else 0o100644) << 16
            archive.writestr(info, data)
        archive.writestr(f"{DIST_INFO}/WHEEL", WHEEL_FILE)
        archive.writestr(f"{DIST_INFO}/METADATA", METADATA)
        archive.writestr(f"{DIST_INFO}/RECORD", b"")
    contents = inspected(path)
    event("accepted" if contents is not None else "refused")
    if contents is not None:
        assert_contained(contents, path)
        assert contents.metadata == METADATA
        assert not any(is_symlink for _, _, is_symlink in entries)


tar_types = st.sampled_from(
    [
        tarfile.REGTYPE,
        tarfile.DIRTYPE,
        tarfile.SYMTYPE,
        tarfile.LNKTYPE,
        tarfile.FIFOTYPE,
        tarfile.CHRTYPE,
    ]
)


@given(
    members=st.lists(st.tuples(member_names, tar_types, link_targets), max_size=6),
    prefix_top=st.booleans(),
    tar_format=st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]),
)
def test_hostile_sdist_members(
    members: list[tuple[str, bytes, str]], prefix_top: bool, tar_format: int, work: Path
) -> None:
    path = work / SDIST
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as archive:
        entries: list[tuple[str, bytes, str]] = [(f"{TOP}/PKG-INFO", tarfile.REGTYPE, ""), *members]
        for name, kind, target in entries:
            info = tarfile.TarInfo(
                f"{TOP}/{name}" if prefix_top and name != entries[0][0] else name
            )
            info.type = kind
            data = METADATA if name == entries[0][0] else b""
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = target
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    contents = inspected(path)
    event("accepted" if contents is not None else "refused")
    if contents is not None:
        assert_contained(contents, path)
        assert contents.metadata == METADATA


# -- damaged real distributions ------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_dists(work: Path) -> dict[str, bytes]:
    files = {"demo/sub/data.txt": b"data\n"}
    return {
        WHEEL: build_wheel(work / "built", "demo", "1.0", files=files).read_bytes(),
        SDIST: build_sdist(work / "built", "demo", "1.0", files=files).read_bytes(),
    }


@given(
    filename=st.sampled_from([WHEEL, SDIST]),
    changes=st.lists(
        st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=4
    ),
    cut=st.none() | st.integers(min_value=0),
)
def test_damaged_real_dists_are_inspected_or_refused(
    filename: str,
    changes: list[tuple[int, int]],
    cut: int | None,
    real_dists: dict[str, bytes],
    work: Path,
) -> None:
    data = bytearray(real_dists[filename])
    for position, value in changes:
        data[position % len(data)] = value
    if cut is not None:
        del data[cut % len(data) :]
    path = work / filename
    path.write_bytes(bytes(data))
    contents = inspected(path)
    if contents is not None:
        assert_contained(contents, path)


def test_real_dists_pass(real_dists: dict[str, bytes], work: Path) -> None:
    """The properties above are not vacuous: undamaged, the same dists are accepted."""
    for filename, data in real_dists.items():
        path = work / filename
        path.write_bytes(data)
        contents = inspected(path)
        assert contents is not None
        assert contents.metadata == METADATA
        assert_contained(contents, path)
