"""Seed corpora for the fuzz targets, made from real small distributions.
Wheels and sdists come from ``tests/dists/builders.py``; upload bodies are encoded as twine does.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from tests.dists.builders import build_sdist, build_wheel

_BOUNDARY = b"trustyardfuzzboundary"


def archive_seeds() -> Iterator[tuple[str, bytes]]:
    """Inputs for ``fuzz_archives.py``: a mode byte, then an archive (see its docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wheel = build_wheel(work / "w", "demo", "1.0").read_bytes()
        wheel_more = build_wheel(
            work / "w2",
            "demo",
            "1.0",
            metadata_extra="Requires-Dist: packaging>=24\nClassifier: Private :: Test\n",
            files={"demo/sub/data.txt": b"data\n", "demo-1.0.data/scripts/tool": b"#!python\n"},
        ).read_bytes()
        sdist = build_sdist(work / "s", "demo", "1.0").read_bytes()
        sdist_tar = gzip.decompress(sdist)
    yield "wheel-deflated", b"\x00" + wheel
    yield "wheel-stored", b"\x00" + _restored(wheel)
    yield "wheel-more-stored", b"\x00" + _restored(wheel_more)
    yield "sdist-targz", b"\x01" + sdist
    yield "sdist-tar", b"\x02" + sdist_tar
    yield "sdist-tar-links", b"\x02" + _tar_with_links(sdist_tar)
    yield "sdist-tar-gnu", b"\x02" + _tar_in_format(sdist_tar, tarfile.GNU_FORMAT)
    yield "sdist-zip", b"\x03" + _tar_as_zip(sdist_tar)


def multipart_seeds() -> Iterator[tuple[str, bytes]]:
    """Inputs for ``fuzz_multipart.py``: a control byte, then an upload body as twine sends it."""
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp), "demo", "1.0").read_bytes()
    fields = [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("metadata_version", "2.4"),
        ("name", "demo"),
        ("version", "1.0"),
        ("filetype", "bdist_wheel"),
        ("pyversion", "py3"),
        ("summary", "The demo test package"),
        ("requires_dist", "packaging>=24"),
        ("requires_dist", "rich; extra == 'cli'"),
        ("project_urls", "Homepage, https://example.org/demo"),
        ("sha256_digest", hashlib.sha256(wheel).hexdigest()),
    ]
    body = _form_body(fields, ("demo-1.0-py3-none-any.whl", wheel))
    yield "upload-whole", b"\x00" + body
    yield "upload-chunks-7", bytes([7 << 2]) + body
    yield "upload-quoted-boundary", b"\x01" + body
    header = b"multipart/form-data; boundary=" + _BOUNDARY + b"\n"
    yield "upload-header-line", b"\x02" + header + body
    yield "fields-only", b"\x00" + _form_body(fields[:6], None)


def write_seeds(target: str, directory: Path) -> int:
    """Write the seeds of ``target`` into ``directory``; return how many."""
    seeds = {"archives": archive_seeds, "multipart": multipart_seeds}.get(target)
    if seeds is None:
        return 0
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, data in seeds():
        (directory / f"seed-{name}").write_bytes(data)
        count += 1
    return count


def _form_body(fields: list[tuple[str, str]], file: tuple[str, bytes] | None) -> bytes:
    """A multipart/form-data body (RFC 7578) with CRLF line ends, as twine encodes one."""
    out = io.BytesIO()
    for name, value in fields:
        out.write(b"--" + _BOUNDARY + b"\r\n")
        out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    if file is not None:
        filename, content = file
        out.write(b"--" + _BOUNDARY + b"\r\n")
        out.write(
            f'Content-Disposition: form-data; name="content"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        out.write(content + b"\r\n")
    out.write(b"--" + _BOUNDARY + b"--\r\n")
    return out.getvalue()


def _restored(zip_bytes: bytes) -> bytes:
    """The same zip with every member stored, so mutations reach member data and headers."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(zip_bytes)) as source,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            info.compress_type = zipfile.ZIP_STORED
            target.writestr(info, data)
    return out.getvalue()


def _tar_members(tar_bytes: bytes) -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as source:
        for member in source.getmembers():
            extracted = source.extractfile(member)
            yield member, extracted.read() if extracted is not None else None


def _tar_in_format(
    tar_bytes: bytes, tar_format: int, extra: list[tarfile.TarInfo] | None = None
) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tar_format) as target:
        for member, data in _tar_members(tar_bytes):
            target.addfile(member, io.BytesIO(data) if data is not None else None)
        for member in extra or []:
            target.addfile(member)
    return out.getvalue()


def _tar_with_links(tar_bytes: bytes) -> bytes:
    """The sdist plus a relative symbolic link and a hard link, both inside the tree."""
    symlink = tarfile.TarInfo("demo-1.0/demo/link.py")
    symlink.type, symlink.linkname = tarfile.SYMTYPE, "__init__.py"
    hardlink = tarfile.TarInfo("demo-1.0/demo/hard.py")
    hardlink.type, hardlink.linkname = tarfile.LNKTYPE, "demo-1.0/demo/__init__.py"
    return _tar_in_format(tar_bytes, tarfile.PAX_FORMAT, [symlink, hardlink])


def _tar_as_zip(tar_bytes: bytes) -> bytes:
    """The sdist's members in a zip (a ``.zip`` sdist), stored."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
        for member, data in _tar_members(tar_bytes):
            if member.isdir():
                target.writestr(zipfile.ZipInfo(member.name + "/"), b"")
            elif data is not None:
                target.writestr(zipfile.ZipInfo(member.name), data)
    return out.getvalue()
