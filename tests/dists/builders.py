"""Builders of small, valid, reproducible distributions for tests: wheels (PEP 427), sdists (PEP 625).
Output bytes depend only on the arguments (fixed timestamps, modes and owners).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

from packaging.tags import parse_tag
from packaging.utils import canonicalize_name
from packaging.version import Version

__all__ = ["build_sdist", "build_wheel", "core_metadata"]

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def core_metadata(
    name: str, version: str, *, metadata_extra: str = "", metadata_version: str = "2.4"
) -> str:
    """A valid core metadata document (PKG-INFO / METADATA; Metadata-Version 2.4 unless
    ``metadata_version`` says otherwise) with extra header lines."""
    extra = (
        metadata_extra
        if not metadata_extra or metadata_extra.endswith("\n")
        else metadata_extra + "\n"
    )
    return (
        f"Metadata-Version: {metadata_version}\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        f"Summary: The {name} test package\n"
        f"{extra}"
    )


def build_wheel(
    dir: Path,
    name: str,
    version: str,
    *,
    tag: str = "py3-none-any",
    metadata_extra: str = "",
    files: dict[str, bytes] | None = None,
) -> Path:
    """Write ``{name}-{version}-{tag}.whl`` into ``dir``, installable by pip, and return it.

    The wheel holds ``{module}/__init__.py`` (with ``__version__``), any ``files`` (paths
    from the wheel's root) and a ``.dist-info`` with METADATA, WHEEL and a RECORD of sha256
    hashes. The name is normalized (PEP 503, ``-`` as ``_``), the version too (PEP 440).
    """
    dir.mkdir(parents=True, exist_ok=True)
    dist_name = _dist_name(name)
    normalized_version = str(Version(version))
    dist_info = f"{dist_name}-{normalized_version}.dist-info"
    tags = sorted(str(t) for t in parse_tag(tag))
    purelib = all(t.endswith("-none-any") for t in tags)
    contents: dict[str, bytes] = {
        f"{dist_name}/__init__.py": f'__version__ = "{normalized_version}"\n'.encode(),
        **(files or {}),
    }
    contents[f"{dist_info}/METADATA"] = core_metadata(
        name, normalized_version, metadata_extra=metadata_extra
    ).encode()
    contents[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\n"
        "Generator: trustyard-tests\n"
        f"Root-Is-Purelib: {'true' if purelib else 'false'}\n"
        + "".join(f"Tag: {t}\n" for t in tags)
    ).encode()
    record = "".join(
        f"{path},{_record_hash(data)},{len(data)}\n" for path, data in contents.items()
    )
    contents[f"{dist_info}/RECORD"] = f"{record}{dist_info}/RECORD,,\n".encode()

    path = dir / f"{dist_name}-{normalized_version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in contents.items():
            info = zipfile.ZipInfo(member, date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


def build_sdist(
    dir: Path,
    name: str,
    version: str,
    *,
    metadata_extra: str = "",
    files: dict[str, bytes] | None = None,
    metadata_version: str = "2.4",
) -> Path:
    """Write ``{name}-{version}.tar.gz`` (PEP 625 normalized) into ``dir`` and return it.

    One top-level directory ``{name}-{version}`` holds PKG-INFO, a ``pyproject.toml``,
    ``{module}/__init__.py`` and any ``files`` (paths inside the top-level directory). It
    builds with a tiny in-tree PEP 517 backend (``backend-path``) that needs nothing from any
    index, so pip and uv can build it offline from a test index.
    """
    dir.mkdir(parents=True, exist_ok=True)
    dist_name = _dist_name(name)
    normalized_version = str(Version(version))
    top = f"{dist_name}-{normalized_version}"
    pyproject = (
        '[build-system]\nrequires = []\nbuild-backend = "intree_backend"\nbackend-path = ["."]\n'
    )
    contents: dict[str, bytes] = {
        "PKG-INFO": core_metadata(
            name,
            normalized_version,
            metadata_extra=metadata_extra,
            metadata_version=metadata_version,
        ).encode(),
        "pyproject.toml": pyproject.encode(),
        "intree_backend.py": _INTREE_BACKEND.encode(),
        f"{dist_name}/__init__.py": f'__version__ = "{normalized_version}"\n'.encode(),
        **(files or {}),
    }

    path = dir / f"{top}.tar.gz"
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        archive.addfile(_tar_info(top, directory=True))
        for member, data in contents.items():
            archive.addfile(_tar_info(f"{top}/{member}", size=len(data)), io.BytesIO(data))
    return path


# A PEP 517 backend that turns the sdist's PKG-INFO and package directory into a wheel.
_INTREE_BACKEND = """\
import base64, hashlib, pathlib, zipfile
from email.parser import Parser

def _meta():
    return Parser().parsestr(pathlib.Path("PKG-INFO").read_text())

def _norm(name):
    return name.lower().replace("-", "_").replace(".", "_")

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    meta = _meta()
    name, version = _norm(meta["Name"]), meta["Version"]
    info = f"{name}-{version}.dist-info"
    files = {p.as_posix(): p.read_bytes() for p in pathlib.Path(name).rglob("*") if p.is_file()}
    files[f"{info}/METADATA"] = pathlib.Path("PKG-INFO").read_bytes()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\\nGenerator: intree\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\\n"
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\\n").encode()
    filename = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / filename, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return filename
"""


def _dist_name(name: str) -> str:
    return canonicalize_name(name).replace("-", "_")


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def _tar_info(name: str, *, size: int = 0, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if directory:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.mode = 0o644
    return info
