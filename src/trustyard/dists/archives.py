"""Safe inspection of uploaded archives: wheels (PEP 427 zip) and sdists (PEP 625 tar.gz).
Behaviour from warehouse ``_is_valid_dist_file`` and ``utils/zipfiles.py``; nothing is extracted.
"""

from __future__ import annotations

import email.parser
import email.policy
import gzip
import posixpath
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from trustyard.dists._zipframing import zip_framing_problem
from trustyard.dists.filenames import SDIST_SUFFIX, DistFilename
from trustyard.errors import InvalidInput

if TYPE_CHECKING:
    from trustyard.dists.zipstream import FollowedMember

__all__ = [
    "MAX_MEMBERS",
    "MAX_METADATA_SIZE",
    "ArchiveContents",
    "InvalidDistribution",
    "inspect_archive",
]

MAX_METADATA_SIZE = 10 * 1024 * 1024
"""The largest PKG-INFO, METADATA or WHEEL file read into memory."""
MAX_MEMBERS = 250_000
"""The most members an archive may have; the names are kept in memory."""
_MAX_EXTENDED_HEADER = 1024 * 1024
_CHUNK_SIZE = 64 * 1024
_MAX_REPORTED = 5
_DRIVE_RE = re.compile(r"[A-Za-z]:")
_SUPPORTED_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_EXTENDED_HEADER_TYPES = frozenset(
    {
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    }
)


class InvalidDistribution(InvalidInput):
    """An uploaded archive that is not a valid, safe distribution file.

    The message is PyPI's "Invalid distribution file. {detail}"; ``detail`` holds the part
    after the prefix.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(f"Invalid distribution file. {detail}")
        self.detail = detail


@dataclass(frozen=True)
class ArchiveContents:
    """What an upload needs from an archive that passed inspection.

    ``metadata`` is the raw PKG-INFO of an sdist or ``.dist-info/METADATA`` of a wheel;
    ``members`` lists every member name in archive order.
    """

    metadata: bytes
    members: tuple[str, ...]


def inspect_archive(
    path: Path,
    dist: DistFilename,
    *,
    max_ratio: int = 50,
    ratio_threshold: int = 64 * 1024 * 1024,
    max_members: int = MAX_MEMBERS,
    followed: Mapping[int, FollowedMember] | None = None,
) -> ArchiveContents:
    """Check the archive at ``path`` (named by ``dist``) and return its core metadata.

    The container follows the extension (zip for ``.whl`` and ``.zip``, gzip'd tar for
    ``.tar.gz``), the layout follows ``dist.filetype``:

    - sdist (PEP 625): one top-level directory ``{name}-{version}`` holding ``PKG-INFO``;
    - wheel (PEP 427): one ``{name}-{version}.dist-info`` with ``WHEEL`` (whose
      ``Wheel-Version`` has major version 1), ``METADATA`` and ``RECORD``.

    The whole archive is decompressed as a stream and never written to disk. Once more than
    ``ratio_threshold`` bytes come out, the ratio to the file's size may not pass
    ``max_ratio`` (PyPI: 50 past 64 MiB); declared sizes are checked first, then the real
    output is counted and reading stops as soon as the limit is passed.

    ``followed``: for a zip, what :class:`~trustyard.dists.zipstream.ZipFollower` saw of its
    members while the file streamed in; a member it proves (same offset, method and sizes, the
    central directory's CRC-32) is not decompressed again, its declared size charged instead.

    Raises :class:`InvalidDistribution` ("Invalid distribution file. {detail}").
    """
    compressed_size = path.stat().st_size
    budget = _Budget(limit=max(ratio_threshold, max_ratio * compressed_size), max_ratio=max_ratio)
    if dist.extension == SDIST_SUFFIX:
        return _inspect_tar(path, dist, budget, max_members)
    return _inspect_zip(path, dist, budget, max_members, followed or {})


class _Budget:
    """The decompressed bytes an archive may produce: the threshold or ratio x its size."""

    def __init__(self, *, limit: int, max_ratio: int) -> None:
        self.limit = limit
        self.max_ratio = max_ratio
        self.used = 0

    def spend(self, amount: int) -> None:
        """Charge ``amount`` decompressed bytes; raise as soon as the limit is passed."""
        self.used += amount
        if self.used > self.limit:
            raise self.exceeded()

    def exceeded(self) -> InvalidDistribution:
        return InvalidDistribution(f"File exceeds compression ratio of {self.max_ratio}")


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class _BudgetedReader:
    """A read-only stream that charges every decompressed byte to a budget."""

    def __init__(self, inner: _Readable, budget: _Budget) -> None:
        self._inner = inner
        self._budget = budget
        self._position = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size if 0 <= size <= _CHUNK_SIZE else _CHUNK_SIZE)
        self._budget.spend(len(data))
        self._position += len(data)
        return data

    def tell(self) -> int:
        return self._position

    def seek(self, pos: int, /) -> int:
        raise OSError("seeking is not supported")

    def write(self, b: bytes, /) -> int:
        raise OSError("the stream is read-only")

    def close(self) -> None:
        """The underlying stream is closed by its owner."""


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses oversized pax and GNU long-name headers before tarfile reads them in memory."""

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _EXTENDED_HEADER_TYPES and self.size > _MAX_EXTENDED_HEADER:
            raise InvalidDistribution(
                f"Tar extended header larger than {_MAX_EXTENDED_HEADER} bytes"
            )
        member: tarfile.TarInfo = super()._proc_member(archive)  # type: ignore[misc]
        return member


def _inspect_zip(
    path: Path,
    dist: DistFilename,
    budget: _Budget,
    max_members: int,
    followed: Mapping[int, FollowedMember],
) -> ArchiveContents:
    """Wheels and ``.zip`` sdists: entry rules, framing, a full streamed read, the layout."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise InvalidDistribution("File is not a zipfile") from exc
    except NotImplementedError as exc:  # zipfile: "zip file version 10.9"
        raise InvalidDistribution(f"File uses a zip feature that is not supported: {exc}") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > max_members:
            raise InvalidDistribution(f"File has more than {max_members} members")
        if sum(info.file_size for info in infos) > budget.limit:  # declared sizes first
            raise budget.exceeded()
        if any(info.compress_type not in _SUPPORTED_COMPRESSION for info in infos):
            raise InvalidDistribution("File does not use a supported compression type")
        if any(info.flag_bits & 0x1 for info in infos):
            raise InvalidDistribution("File contains encrypted members")
        _raise_problems(_zip_entry_problems(infos))
        framing = zip_framing_problem(path, infos, archive.start_dir)
        if framing:
            raise InvalidDistribution(
                f"ZIP archive not accepted: {framing}. "
                "See https://docs.pypi.org/archives for more information"
            )
        names = [info.orig_filename for info in infos]
        files = {info.orig_filename for info in infos if not info.is_dir()}
        wheel_name: str | None = None
        if dist.filetype == "bdist_wheel":
            dist_info = _wheel_dist_info(dist, names, files)
            metadata_name, wheel_name = f"{dist_info}/METADATA", f"{dist_info}/WHEEL"
        else:
            tops = _TopLevel()
            for info in infos:
                tops.add(info.orig_filename, is_dir=info.is_dir())
            metadata_name = _sdist_pkg_info(dist, tops.name)
            if metadata_name not in files:
                raise InvalidDistribution(f"PKG-INFO not found at {metadata_name}")
        wanted = {metadata_name} | ({wheel_name} if wheel_name else set())
        captured = _read_zip_members(archive, infos, budget, wanted, followed)
    if wheel_name:
        _raise_problems(_wheel_file_problems(wheel_name, captured[wheel_name]))
    return ArchiveContents(metadata=captured[metadata_name], members=tuple(names))


def _zip_entry_problems(infos: list[zipfile.ZipInfo]) -> list[str]:
    """Names that are unsafe or repeated, and symbolic links (a Unix mode in external_attr)."""
    problems: list[str] = []
    seen: set[str] = set()
    for info in infos:
        name = info.orig_filename  # ``filename`` hides anything after a NUL
        problems.extend(_name_problems(name))
        if name in seen:
            problems.append(f"Duplicate member name {name!r}")
        seen.add(name)
        if stat.S_ISLNK(info.external_attr >> 16):
            problems.append(f"Symbolic link {name!r} is not allowed")
    return problems


def _read_zip_members(
    archive: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    budget: _Budget,
    wanted: set[str],
    followed: Mapping[int, FollowedMember],
) -> dict[str, bytes]:
    """Decompress every member (verifying its CRC) and keep the ``wanted`` ones, capped; a
    member the stream already read to the central directory's CRC-32 is only charged."""
    captured: dict[str, bytes] = {}
    problems: list[str] = []
    for info in sorted(infos, key=lambda i: i.header_offset):
        keep = info.orig_filename in wanted
        if keep and info.file_size > MAX_METADATA_SIZE:
            problems.append(f"{info.orig_filename} is larger than {MAX_METADATA_SIZE} bytes")
            keep = False
        if not keep and _proven_by_stream(info, followed.get(info.header_offset)):
            budget.spend(info.file_size)  # what reading it would have charged, exactly
            continue
        chunks: list[bytes] = []
        try:
            with archive.open(info) as member:
                while chunk := member.read(_CHUNK_SIZE):
                    budget.spend(len(chunk))
                    if keep:
                        chunks.append(chunk)
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
            raise InvalidDistribution(f"Corrupt data in {info.orig_filename!r}: {exc}") from exc
        except NotImplementedError as exc:  # flag bits 5 and 6: patched data, strong encryption
            raise InvalidDistribution(
                f"Member {info.orig_filename!r} uses a zip feature that is not supported: {exc}"
            ) from exc
        if keep:
            captured[info.orig_filename] = b"".join(chunks)
    _raise_problems(problems)
    return captured


def _proven_by_stream(info: zipfile.ZipInfo, seen: FollowedMember | None) -> bool:
    """Whether decompressing ``info`` again is known to succeed: the stream read a member at
    its offset with its method and sizes to a clean end, with the central directory's CRC."""
    return seen is not None and seen == (
        info.compress_type,
        info.compress_size,
        info.file_size,
        info.CRC,
    )


def _inspect_tar(
    path: Path, dist: DistFilename, budget: _Budget, max_members: int
) -> ArchiveContents:
    """``.tar.gz`` sdists, read once as a stream: member rules, links, layout, end of archive."""
    names: list[str] = []
    problems: list[str] = []
    seen: set[str] = set()
    symlinks: set[str] = set()
    link_targets: list[tuple[str, str]] = []
    tops = _TopLevel()
    metadata: bytes | None = None
    try:
        with path.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            reader = _BudgetedReader(unzipped, budget)
            with tarfile.open(
                fileobj=reader, mode="r|", tarinfo=_BoundedTarInfo, encoding="utf-8"
            ) as tar:
                for member in tar:
                    if len(names) >= max_members:
                        raise InvalidDistribution(f"File has more than {max_members} members")
                    names.append(member.name)
                    member_problems = _tar_member_problems(member)
                    if member.name in seen:
                        member_problems.append(f"Duplicate member name {member.name!r}")
                    seen.add(member.name)
                    if member_problems:
                        problems.extend(member_problems)
                        continue
                    tops.add(member.name, is_dir=member.isdir())
                    if member.issym() or member.islnk():
                        link_targets.append((member.name, _link_path(member)))
                        if member.issym():
                            symlinks.add(member.name)
                    if member.name == f"{tops.name}/PKG-INFO" and member.isfile():
                        metadata = _read_tar_member(tar, member, problems)
                _check_end_of_archive(tar.fileobj)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise InvalidDistribution(f"File is not a valid tar.gz archive: {exc}") from exc
    problems.extend(_links_through_symlinks(link_targets, symlinks))
    _raise_problems(problems)
    metadata_name = _sdist_pkg_info(dist, tops.name)
    if metadata is None:
        raise InvalidDistribution(f"PKG-INFO not found at {metadata_name}")
    return ArchiveContents(metadata=metadata, members=tuple(names))


def _tar_member_problems(member: tarfile.TarInfo) -> list[str]:
    """Unsafe names, special files (devices, FIFOs, sparse files), links leaving the tree."""
    name = member.name
    problems = _name_problems(name)
    if member.issparse():
        problems.append(f"Sparse member {name!r} is not allowed")
    elif member.isdev():
        problems.append(f"Device or FIFO member {name!r} is not allowed")
    elif member.issym() or member.islnk():
        problems.extend(_link_problems(member))
    elif not (member.isfile() or member.isdir()):
        problems.append(f"Member {name!r} has an unsupported type")
    return problems


def _link_problems(member: tarfile.TarInfo) -> list[str]:
    """A link must name a relative target that stays inside the member's top-level directory."""
    top = member.name.split("/", 1)[0]
    target = posixpath.normpath(_link_path(member))
    inside = target == top or target.startswith(f"{top}/")
    if member.linkname and _is_relative(member.linkname) and inside:
        return []
    kind = "Symbolic link" if member.issym() else "Hard link"
    return [f"{kind} {member.name!r} points outside its top-level directory ({member.linkname!r})"]


def _link_path(member: tarfile.TarInfo) -> str:
    """The archive path a link names, not normalized (hard links are relative to the root)."""
    base = posixpath.dirname(member.name) if member.issym() else ""
    return posixpath.join(base, member.linkname)


def _is_relative(linkname: str) -> bool:
    """No absolute path, drive letter, backslash or control character in a link target."""
    return not (
        linkname.startswith("/")
        or _DRIVE_RE.match(linkname)
        or "\\" in linkname
        or any(ord(char) < 32 or ord(char) == 127 for char in linkname)
    )


def _links_through_symlinks(links: list[tuple[str, str]], symlinks: set[str]) -> list[str]:
    """Refuse link paths that pass through a symlink on their way: chains could escape.

    With no symlink in the middle of a path, its lexical resolution (checked per member) is
    its real one. ``links`` holds (member, unnormalized path) pairs; checked once every
    symlink is known, since members may come in any order.
    """
    problems = []
    for name, path in links:
        parts = [part for part in path.split("/") if part not in ("", ".")]
        walked: list[str] = []
        for index, part in enumerate(parts):
            if part == "..":
                walked = walked[:-1]
                continue
            walked.append(part)
            if index < len(parts) - 1 and "/".join(walked) in symlinks:
                problems.append(f"Link {name!r} resolves through another symbolic link")
                break
    return problems


def _read_tar_member(tar: tarfile.TarFile, member: tarfile.TarInfo, problems: list[str]) -> bytes:
    """Read a small member of the current position of a streamed tar, with the size cap."""
    if member.size > MAX_METADATA_SIZE:
        problems.append(f"{member.name} is larger than {MAX_METADATA_SIZE} bytes")
        return b""
    extracted = tar.extractfile(member)
    return extracted.read() if extracted is not None else b""


def _check_end_of_archive(stream: _Readable) -> None:
    """After the last member: the end-of-archive zero blocks (and only zeros) up to EOF.

    Reading to EOF also makes gzip verify its CRC. A missing end marker means truncation;
    non-zero bytes after it could hide members from this reader but not from others.
    """
    trailing = 0
    while chunk := stream.read(_CHUNK_SIZE):
        if chunk.count(0) != len(chunk):
            raise InvalidDistribution("Trailing data after the end of the tar archive")
        trailing += len(chunk)
    if trailing < tarfile.BLOCKSIZE:
        raise InvalidDistribution("Truncated tar archive: no end-of-archive marker")


class _TopLevel:
    """The single top-level directory of an sdist, learned member by member (fails fast)."""

    def __init__(self) -> None:
        self.name: str | None = None

    def add(self, member: str, *, is_dir: bool) -> None:
        top, slash, _ = member.partition("/")
        if (self.name is not None and top != self.name) or (not slash and not is_dir):
            raise InvalidDistribution("Incorrect number of top-level directories in sdist")
        self.name = top


def _sdist_pkg_info(dist: DistFilename, top: str | None) -> str:
    """The path of PKG-INFO in an sdist whose single top-level directory is ``top``.

    The directory must name the same project and version as the filename (compared
    normalized, so ``Foo-1.0`` matches ``foo-1.0.tar.gz``).
    """
    if top is None:
        raise InvalidDistribution("Incorrect number of top-level directories in sdist")
    if not _names_same_release(top, dist):
        expected = dist.filename.removesuffix(dist.extension)
        raise InvalidDistribution(
            f"Top-level directory {top!r} does not match the filename; expected {expected!r}"
        )
    return f"{top}/PKG-INFO"


def _wheel_dist_info(dist: DistFilename, names: list[str], files: set[str]) -> str:
    """The one ``.dist-info`` directory of a wheel, with WHEEL, METADATA and RECORD in it.

    Matched against the filename's name and version like warehouse does, but tolerant of
    spelling: ``Foo_Bar-1.0.dist-info`` serves ``foo_bar-1.0-py3-none-any.whl``.
    """
    version_part = dist.filename.split("-")[1]
    expected = f"{dist.name}-{version_part}.dist-info"
    found = sorted(
        {
            name.split("/", 1)[0]
            for name in names
            if "/" in name and name.split("/", 1)[0].endswith(".dist-info")
        }
    )
    if len(found) > 1:
        raise InvalidDistribution(f"Multiple .dist-info directories found: {', '.join(found)}")
    if not found:
        raise InvalidDistribution(f"WHEEL not found at {expected}/WHEEL")
    dist_info = found[0]
    if not _names_same_release(dist_info.removesuffix(".dist-info"), dist):
        raise InvalidDistribution(
            f"The .dist-info directory {dist_info!r} does not match the filename; "
            f"expected {expected!r}"
        )
    problems = []
    if f"{dist_info}/WHEEL" not in files:
        problems.append(f"WHEEL not found at {dist_info}/WHEEL")
    for required in ("METADATA", "RECORD"):
        if f"{dist_info}/{required}" not in files:
            problems.append(
                f"Wheel '{dist.filename}' does not contain the required {required} file: "
                f"{dist_info}/{required}"
            )
    _raise_problems(problems)
    return dist_info


def _wheel_file_problems(name: str, content: bytes) -> list[str]:
    """PEP 427: WHEEL is an email-header file whose ``Wheel-Version`` has major version 1."""
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(content)
    versions = message.get_all("Wheel-Version") or []
    if len(versions) != 1:
        return [f"{name} must have exactly one Wheel-Version field"]
    match = re.fullmatch(r"(\d+)\.(\d+)", versions[0].strip(), re.ASCII)
    if match is None or match.group(1) != "1":
        return [f"{name} has an unsupported Wheel-Version {versions[0].strip()!r}"]
    return []


def _names_same_release(stem: str, dist: DistFilename) -> bool:
    """Whether ``{name}-{version}`` names the same project and version as the filename."""
    name, dash, version = stem.rpartition("-")
    if not dash or canonicalize_name(name) != canonicalize_name(dist.name):
        return False
    try:
        return Version(version) == dist.version
    except InvalidVersion:
        return False


def _name_problems(name: str) -> list[str]:
    """Member names must be relative POSIX paths without ``..``, backslashes or controls."""
    if not name:
        return ["Empty member name"]
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return [f"Member name {name!r} contains a control character"]
    if any(0xD800 <= ord(char) <= 0xDFFF for char in name):  # surrogate-escaped bytes
        return [f"Member name {name!r} is not valid UTF-8"]
    if "\\" in name:
        return [f"Member name {name!r} contains a backslash"]
    if name.startswith("/") or _DRIVE_RE.match(name):
        return [f"Member name {name!r} is an absolute path"]
    if ".." in name.split("/"):
        return [f"Member name {name!r} contains a '..' segment"]
    return []


def _raise_problems(problems: list[str]) -> None:
    """Report every collected problem in one message (the first few, then a count)."""
    if not problems:
        return
    shown = "; ".join(problems[:_MAX_REPORTED])
    more = len(problems) - _MAX_REPORTED
    raise InvalidDistribution(shown + (f" (and {more} more problems)." if more > 0 else "."))


def __dir__() -> list[str]:
    return __all__
