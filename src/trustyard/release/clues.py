"""What a release's published files say about how they were built: the backend and its version
(the wheel's ``WHEEL`` ``Generator``, PEP 427), the metadata's fields, the sdist's gzip header
and member times, and the upload time (PEP 700 ``upload-time``). Recipe inference reads these.
"""

from __future__ import annotations

import calendar
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from email.parser import HeaderParser
from pathlib import Path

from packaging.utils import canonicalize_name

from trustyard.dists.filenames import SDIST_SUFFIX, WHEEL_SUFFIX
from trustyard.release.normalize import InvalidArchive, read_members
from trustyard.release.zones import builder_zones

__all__ = ["HATCHLING_DEFAULT_EPOCH", "Clues", "backend_pin", "read_clues"]

HATCHLING_DEFAULT_EPOCH = 1580601600
"""2020-02-02T00:00:00Z: hatchling's (and poetry-core's) fixed time without SOURCE_DATE_EPOCH."""
_ZIP_EPOCHS = {0, 315532800}  # 1970 and 1980-01-01, what other backends write without SDE

# ``Generator`` values as backends write them (PEP 427 leaves the form free):
# flit "flit 3.7.1", hatchling "hatchling 1.11.1", poetry-core "poetry-core 1.9.0",
# pdm-backend "pdm-backend (2.4.9)", setuptools "setuptools (75.1.0)" / "bdist_wheel (0.43.0)",
# uv_build "uv 0.7.3".
_GENERATOR_RE = re.compile(r"^\s*(?P<name>[A-Za-z0-9][\w.-]*)\s*\(?(?P<version>[0-9][^\s)]*)\)?")
_DISTRIBUTION = {
    "flit": "flit-core",
    "hatchling": "hatchling",
    "poetry-core": "poetry-core",
    "poetry": "poetry-core",
    "pdm-backend": "pdm-backend",
    "setuptools": "setuptools",
    "bdist-wheel": "wheel",
    "uv": "uv-build",
}


@dataclass(frozen=True)
class Clues:
    """Facts read from the published files; ``None``/empty where a file does not say."""

    generator: str | None = None
    metadata_version: str | None = None
    requires_python: str | None = None
    sdist_gzip_mtime: int | None = None
    sdist_mtimes: frozenset[int] = frozenset()
    upload_time: datetime | None = None
    wheel_times: tuple[tuple[str, int], ...] = ()
    """The pure wheel's file members and their zip times, read as if UTC (they have no zone)."""
    sdist_times: tuple[tuple[str, int], ...] = ()
    """The sdist's file members (below its top directory) and their mtimes."""

    @property
    def backend_pin(self) -> str | None:
        """The backend version the wheel names, as a constraint: ``flit-core==3.7.1``."""
        return backend_pin(self.generator)

    def sde_unset_first(self, commit_time: int) -> bool:
        """Whether the sdist looks built without ``SOURCE_DATE_EPOCH``: its members carry a
        backend's fixed default time (hatchling, poetry-core) or checkout times, not the
        commit's."""
        if not self.sdist_mtimes or commit_time in self.sdist_mtimes:
            return False
        return bool(self.sdist_mtimes & {HATCHLING_DEFAULT_EPOCH, *_ZIP_EPOCHS}) or (
            len(self.sdist_mtimes) > 1
        )

    def zones(self, commit_time: int | None) -> list[str]:
        """The ``TZ`` values the wheel's local zip times say it was built in (empty: UTC)."""
        return builder_zones(dict(self.wheel_times), dict(self.sdist_times), commit_time)


def backend_pin(generator: str | None) -> str | None:
    """``flit 3.7.1`` -> ``flit-core==3.7.1``; ``None`` for a generator we do not know."""
    if not generator:
        return None
    match = _GENERATOR_RE.match(generator)
    if match is None:
        return None
    distribution = _DISTRIBUTION.get(str(canonicalize_name(match["name"])))
    return f"{distribution}=={match['version']}" if distribution else None


def read_clues(files: list[Path], upload_time: datetime | None) -> Clues:
    """The clues of a release's downloaded files (unreadable files only give fewer clues)."""
    generator = metadata_version = requires_python = None
    gzip_mtime: int | None = None
    mtimes: frozenset[int] = frozenset()
    wheel_times: tuple[tuple[str, int], ...] = ()
    sdist_times: tuple[tuple[str, int], ...] = ()
    # the pure wheel first: a project's platform wheels may come from another backend
    # (tomli 2.4.0: flit's pure wheel, setuptools' mypyc wheels)
    for path in sorted(files, key=lambda p: not p.name.endswith("-none-any" + WHEEL_SUFFIX)):
        if path.name.endswith(WHEEL_SUFFIX) and generator is None:
            generator, metadata = _wheel_fields(path)
            metadata_version = metadata.get("Metadata-Version", metadata_version)
            requires_python = metadata.get("Requires-Python", requires_python)
            wheel_times = _zip_times(path)
        elif path.name.endswith(SDIST_SUFFIX) and gzip_mtime is None:
            try:
                members, facts = read_members(path)
            except InvalidArchive:
                continue
            gzip_mtime = int(facts.get("gzip.mtime", "0"))
            files_only = [m for m in members if m.kind == "file"]
            mtimes = frozenset(int(m.mtime) for m in files_only)
            sdist_times = tuple(
                (m.name.partition("/")[2], int(m.mtime)) for m in files_only if "/" in m.name
            )
    return Clues(
        generator,
        metadata_version,
        requires_python,
        gzip_mtime,
        mtimes,
        upload_time,
        wheel_times,
        sdist_times,
    )


def _zip_times(path: Path) -> tuple[tuple[str, int], ...]:
    """Each file member's zip time as seconds since the epoch, read as if UTC."""
    try:
        with zipfile.ZipFile(path) as archive:
            return tuple(
                (info.filename, calendar.timegm((*info.date_time, 0, 0, 0)))
                for info in archive.infolist()
                if not info.is_dir()
            )
    except (OSError, zipfile.BadZipFile, ValueError):
        return ()


def _wheel_fields(path: Path) -> tuple[str | None, dict[str, str]]:
    """``Generator`` of ``*.dist-info/WHEEL`` and the headers of ``METADATA``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            wheel = next((n for n in names if n.endswith(".dist-info/WHEEL")), None)
            meta = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
            wheel_text = archive.read(wheel).decode("utf-8", "replace") if wheel else ""
            meta_text = archive.read(meta).decode("utf-8", "replace") if meta else ""
    except (OSError, zipfile.BadZipFile, KeyError):
        return None, {}
    generator = HeaderParser().parsestr(wheel_text).get("Generator")
    metadata = HeaderParser().parsestr(meta_text)
    return (str(generator) if generator else None), {k: str(v) for k, v in metadata.items()}


def __dir__() -> list[str]:
    return __all__
