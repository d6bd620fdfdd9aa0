"""Rewrite sdists and wheels so their bytes depend only on the files they hold.
OSS Rebuild's stabilisers (order, times, modes, owners, gzip header), keeping output valid.
"""

from __future__ import annotations

import base64
import calendar
import csv
import gzip
import hashlib
import io
import tarfile
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from trustyard.dists.filenames import SDIST_SUFFIX, WHEEL_SUFFIX, ZIP_SDIST_SUFFIX
from trustyard.errors import InvalidInput

__all__ = [
    "ZIP_MIN_EPOCH",
    "InvalidArchive",
    "Member",
    "NormalSdist",
    "gzip_sdist",
    "normal_sdist",
    "normal_sdist_tar",
    "normalize_archive",
    "normalize_checked_wheel",
    "normalize_sdist",
    "normalize_wheel",
    "read_members",
    "record_problems",
]

ZIP_MIN_EPOCH = 315532800
"""1980-01-01T00:00:00Z, the earliest time a zip header can hold."""
_GZIP_LEVEL = 9


class InvalidArchive(InvalidInput):
    """A file that should be an sdist or a wheel cannot be read as one."""


@dataclass(frozen=True)
class Member:
    """One archive member with everything that can make two archives' bytes differ."""

    name: str
    kind: str  # "file", "dir", "symlink", "hardlink", "other"
    data: bytes
    mode: int
    mtime: float
    owner: str  # "uid/gid uname/gname" for tar, "" for zip
    link: str
    extra: str  # zip: compression, create_system, flags, extra field; tar: pax headers


def read_members(path: Path) -> tuple[list[Member], dict[str, str]]:
    """Every member of a ``.tar.gz`` or ``.whl``/``.zip`` in archive order, plus container facts.

    Container facts are the gzip header (``gzip.mtime``, ``gzip.name``) or the zip comment.
    """
    try:
        if path.name.endswith(SDIST_SUFFIX):
            return _read_tar(path)
        if path.name.endswith((WHEEL_SUFFIX, ZIP_SDIST_SUFFIX)):
            return _read_zip(path)
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, ValueError) as exc:
        raise InvalidArchive(f"{path.name} is not a readable archive: {exc}") from exc
    raise InvalidArchive(f"{path.name}: expected a .tar.gz sdist or a .whl wheel")


def _read_tar(path: Path) -> tuple[list[Member], dict[str, str]]:
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        raise InvalidArchive(f"{path.name} is not gzip-compressed")
    facts = {"gzip.mtime": str(int.from_bytes(raw[4:8], "little")), "gzip.name": ""}
    flags = raw[3]
    if flags & 0x08:  # FNAME (RFC 1952 section 2.3.1)
        start = 10 + (2 + int.from_bytes(raw[10:12], "little") if flags & 0x04 else 0)
        end = raw.index(b"\0", start)
        facts["gzip.name"] = raw[start:end].decode("latin-1")
    members: list[Member] = []
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(raw)), mode="r:") as archive:
        facts["tar.format"] = str(archive.format)
        for info in archive.getmembers():
            data = b""
            if info.isfile():
                extracted = archive.extractfile(info)
                data = extracted.read() if extracted is not None else b""
            kind = (
                "file"
                if info.isfile()
                else "dir"
                if info.isdir()
                else "symlink"
                if info.issym()
                else "hardlink"
                if info.islnk()
                else "other"
            )
            members.append(
                Member(
                    name=info.name,
                    kind=kind,
                    data=data,
                    mode=info.mode,
                    mtime=info.mtime,
                    owner=f"{info.uid}/{info.gid} {info.uname}/{info.gname}",
                    link=info.linkname,
                    extra=" ".join(f"{k}={v}" for k, v in sorted(info.pax_headers.items())),
                )
            )
    return members, facts


def _read_zip(path: Path) -> tuple[list[Member], dict[str, str]]:
    members: list[Member] = []
    with zipfile.ZipFile(path) as archive:
        facts = {"zip.comment": archive.comment.decode("latin-1")}
        for info in archive.infolist():
            mode = info.external_attr >> 16
            kind = "dir" if info.is_dir() else "file"
            members.append(
                Member(
                    name=info.filename,
                    kind=kind,
                    data=b"" if info.is_dir() else archive.read(info),
                    mode=mode,
                    mtime=calendar.timegm((*info.date_time, 0, 0, 0)),
                    owner="",
                    link="",
                    extra=(
                        f"compress={info.compress_type} system={info.create_system} "
                        f"version={info.create_version}/{info.extract_version} "
                        f"flags={info.flag_bits:#x} attr={info.external_attr:#x} "
                        f"extra={info.extra.hex()} comment={info.comment.hex()}"
                    ),
                )
            )
    return members, facts


def normalize_archive(source: Path, dest: Path, source_date_epoch: int) -> Path:
    """Normalise ``source`` by its extension into ``dest`` (a file path); return ``dest``."""
    if source.name.endswith(SDIST_SUFFIX):
        normalize_sdist(source, dest, source_date_epoch)
    elif source.name.endswith(WHEEL_SUFFIX):
        normalize_wheel(source, dest, source_date_epoch)
    else:
        raise InvalidArchive(f"{source.name}: expected a .tar.gz sdist or a .whl wheel")
    return dest


def _mode(member: Member) -> int:
    """0755 for directories and anything executable by someone, 0644 otherwise."""
    return 0o755 if member.kind == "dir" or member.mode & 0o111 else 0o644


def _sort_key(name: str) -> tuple[str, ...]:
    """Path-component order, so a directory always comes right before its contents."""
    return tuple(name.rstrip("/").split("/"))


def normalize_sdist(source: Path, dest: Path, source_date_epoch: int) -> None:
    """PEP 625 sdist: sorted members, mtime = SDE, owner 0/0 with empty names, 0644/0755,
    PAX format without extra headers, gzip with no file name and mtime = SDE (RFC 1952).
    """
    dest.write_bytes(gzip_sdist(normal_sdist_tar(source, source_date_epoch), source_date_epoch))


@dataclass(frozen=True)
class NormalSdist:
    """A normalised sdist before compression: its tar, and its members in tar order as they
    are in it (names without a trailing ``/``, mode 0644/0755/0777, mtime = SDE)."""

    tar: bytes
    members: tuple[Member, ...]


def normal_sdist_tar(source: Path, source_date_epoch: int) -> bytes:
    """The uncompressed tar of :func:`normalize_sdist`."""
    return normal_sdist(source, source_date_epoch).tar


def normal_sdist(source: Path, source_date_epoch: int) -> NormalSdist:
    """The uncompressed tar of :func:`normalize_sdist` and its members: a build gets the
    wheel's source tree from them while :func:`gzip_sdist` compresses the tar, instead of
    unpacking the compressed file afterwards."""
    members, _ = read_members(source)
    if any(m.kind == "other" for m in members):
        odd = ", ".join(m.name for m in members if m.kind == "other")
        raise InvalidArchive(
            f"{source.name} holds devices or fifos, not allowed in an sdist: {odd}"
        )
    tar_bytes = io.BytesIO()
    written: list[Member] = []
    with tarfile.open(fileobj=tar_bytes, mode="w:", format=tarfile.PAX_FORMAT) as archive:
        for member in sorted(_unique(members), key=lambda m: _sort_key(m.name)):
            info = tarfile.TarInfo(member.name.rstrip("/"))
            info.mtime = source_date_epoch
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = _mode(member)
            if member.kind == "dir":
                info.type = tarfile.DIRTYPE
            elif member.kind == "symlink":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, member.link, 0o777
            elif member.kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, member.link
            else:
                info.size = len(member.data)
            archive.addfile(info, io.BytesIO(member.data) if member.kind == "file" else None)
            written.append(
                replace(
                    member,
                    name=info.name,
                    mode=info.mode,
                    mtime=source_date_epoch,
                    owner="0/0 /",
                    extra="",
                )
            )
    return NormalSdist(tar_bytes.getvalue(), tuple(written))


def gzip_sdist(tar: bytes, source_date_epoch: int) -> bytes:
    """``tar`` compressed as a normalised sdist is: level 9, no file name, mtime = SDE.
    zlib releases the GIL while it compresses, so this may run beside other work."""
    compressed = io.BytesIO()
    with gzip.GzipFile(
        filename="",
        mode="wb",
        fileobj=compressed,
        compresslevel=_GZIP_LEVEL,
        mtime=source_date_epoch,
    ) as stream:
        stream.write(tar)
    return compressed.getvalue()


def normalize_wheel(source: Path, dest: Path, source_date_epoch: int) -> None:
    """PEP 427 wheel: contents first, ``.dist-info`` last with RECORD at the very end (the
    spec's recommendation), times = SDE (in UTC, clamped to 1980), 0644/0755 Unix modes,
    deflate, no extra fields or comments. File contents are untouched, so RECORD stays valid.
    """
    members, _ = read_members(source)
    _write_normal_wheel(members, source.name, dest, source_date_epoch)


def normalize_checked_wheel(source: Path, dest: Path, source_date_epoch: int) -> list[str]:
    """:func:`normalize_wheel`, and the :func:`record_problems` of the result, found in the
    members already read rather than by reading the written wheel again."""
    members, _ = read_members(source)
    _write_normal_wheel(members, source.name, dest, source_date_epoch)
    return _record_problems(_unique(members))


def _write_normal_wheel(
    members: list[Member], name: str, dest: Path, source_date_epoch: int
) -> None:
    """Write the wheel ``name`` made of ``members`` normalised (see :func:`normalize_wheel`)."""
    record = _record_name(name, members)
    date_time = time.gmtime(max(source_date_epoch, ZIP_MIN_EPOCH))[:6]

    def order(member: Member) -> tuple[int, tuple[str, ...]]:
        top = member.name.split("/", 1)[0]
        rank = 2 if member.name == record else 1 if top.endswith(".dist-info") else 0
        return rank, _sort_key(member.name)

    with zipfile.ZipFile(dest, "w") as archive:
        for member in sorted(_unique(members), key=order):
            info = zipfile.ZipInfo(member.name, date_time=date_time)
            info.create_system = 3
            if member.kind == "dir":
                info.external_attr = (0o040000 | 0o755) << 16 | 0x10
                info.compress_type = zipfile.ZIP_STORED
            else:
                info.external_attr = (0o100000 | _mode(member)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.data, compresslevel=_GZIP_LEVEL)


def _unique(members: list[Member]) -> list[Member]:
    """One member per name, the last one, which is what tarfile, GNU tar, pip and zipfile
    extract. Hatchling writes PKG-INFO twice when it builds an sdist from an sdist."""
    last: dict[str, Member] = {}
    for member in members:
        last.pop(member.name.rstrip("/"), None)
        last[member.name.rstrip("/")] = member
    return list(last.values())


def _record_name(name: str, members: list[Member]) -> str:
    records = [m.name for m in members if _is_record(m.name)]
    if len(records) != 1:
        raise InvalidArchive(
            f"{name} must hold exactly one .dist-info/RECORD (PEP 427), found {len(records)}"
        )
    return records[0]


def _is_record(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "RECORD"


def record_problems(path: Path) -> list[str]:
    """What is wrong with a wheel's RECORD: files missing from it, listed but absent, or hashed
    wrong (PEP 376/PEP 427: sha256, urlsafe base64 without padding, and the size).
    """
    members, _ = read_members(path)
    return _record_problems(members)


def _record_problems(members: list[Member]) -> list[str]:
    records = [m for m in members if _is_record(m.name)]
    if len(records) != 1:
        return [f"expected one .dist-info/RECORD, found {len(records)}"]
    record = records[0]
    files = {m.name: m.data for m in members if m.kind == "file"}
    problems: list[str] = []
    listed: set[str] = set()
    for row in csv.reader(io.StringIO(record.data.decode("utf-8", "replace"))):
        if not row:
            continue
        if len(row) != 3:
            problems.append(f"RECORD row {row!r} does not have 3 fields")
            continue
        name, digest, size = row
        listed.add(name)
        if name == record.name:
            continue
        if name not in files:
            problems.append(f"{name} is listed in RECORD but not in the wheel")
            continue
        data = files[name]
        actual = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()
        if digest != actual.rstrip("="):
            problems.append(f"{name}: RECORD says {digest or 'no hash'}, content is {actual}")
        elif size != str(len(data)):
            problems.append(f"{name}: RECORD says {size} bytes, content is {len(data)}")
    problems += [
        f"{name} is in the wheel but not in RECORD" for name in sorted(set(files) - listed)
    ]
    return problems


def __dir__() -> list[str]:
    return __all__
