"""``admin import-dir``: distribution files already published elsewhere, taken in as they are.

A pypiserver directory (flat, or one directory per project), a devpi export (``devpi-server
--export``: ``user/index/project[/version]/file`` and a ``dataindex.json`` naming each file, its
type and the time devpi recorded for it) or any tree of ``.whl``/``.tar.gz``/``.zip`` files. Each
file is checked for integrity and parseability only: the archive reads and has the layout of
its kind, its filename parses and names the project and version its own metadata names, its
digests are computed over the very bytes stored. It is *not* re-judged by today's upload rules
(PyPI's either: files it accepted years ago stay on it), so ``License-File`` under
Metadata-Version 2.1, Metadata-Version 2.0, legacy ``.zip`` sdists, classifiers PyPI no longer
lists, platform tags off today's allow-list and descriptions that no longer render are kept; a
metadata field that does not parse is left out of the JSON API's ``info`` (installers read the
file's own metadata, served as it is).

Files are stored by :func:`~trustyard.index.services.uploads.store_file`, the upload's own
storing step: content-addressed, one transaction per file with its release and journal entry,
nothing left behind for a refused file. A project is created owned by the owner given, in a
reserved namespace only if that user owns it (PEP 752).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from packaging.metadata import Metadata, RawMetadata, parse_email
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from trustyard.dists.archives import inspect_archive
from trustyard.dists.digests import StreamingDigests
from trustyard.dists.filenames import (
    DIST_SUFFIXES,
    check_upload_filename,
    parse_dist_filename,
)
from trustyard.dists.metadata import FileDependencies, file_metadata_vouches
from trustyard.dists.names import is_valid_project_name
from trustyard.errors import Error, InvalidInput
from trustyard.index.db.engine import Database
from trustyard.index.db.models import File
from trustyard.index.services.accounts import get_user, utcnow
from trustyard.index.services.descriptions import DescriptionRenderer, render_or_fallback
from trustyard.index.services.projects import find_project
from trustyard.index.services.uploads import (
    Placement,
    UploadOutcome,
    release_metadata,
    store_file,
)
from trustyard.index.storage.base import Storage
from trustyard.settings import Settings

FROM_MTIME = "FROM-MTIME"
# Formats PyPI once took and no installer of today fetches from an index: named, not imported.
LEGACY_SUFFIXES = (".egg", ".exe", ".msi", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".rpm", ".dmg")
# devpi keeps a release's documentation as ``name-version.doc.zip`` beside its files.
DEVPI_DOCS_SUFFIX = ".doc.zip"
_CHUNK = 1 << 20


class ImportRefused(InvalidInput):
    """A file that cannot be imported as it is (unreadable, inconsistent, or a reused name)."""


@dataclass(frozen=True)
class FileResult:
    """What happened to one file: ``imported``, ``already-present`` (the identical file is
    here: skipped), ``refused`` (with the reason; nothing of it was kept) or ``unsupported``
    (a legacy format, named and left out)."""

    path: Path
    outcome: str
    detail: str


@dataclass
class ImportReport:
    """Every distribution file found, in path order, and how many other files were ignored."""

    results: list[FileResult] = field(default_factory=list)
    ignored: int = 0

    def count(self, outcome: str) -> int:
        """How many files had ``outcome``."""
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def refused(self) -> list[FileResult]:
        """The files refused (the CLI then exits non-zero)."""
        return [result for result in self.results if result.outcome == "refused"]

    def summary(self) -> str:
        """One line: the counts of each outcome."""
        return (
            f"{self.count('imported')} imported, {self.count('already-present')} already"
            f" present (skipped), {len(self.refused)} refused,"
            f" {self.count('unsupported')} in legacy formats (not imported),"
            f" {self.ignored} other files ignored"
        )


def parse_upload_time(text: str) -> datetime | None:
    """``FROM-MTIME`` (None: each file's modification time) or an ISO 8601 time (a time
    without an offset is UTC), as naive UTC like every time in the catalogue. A time in the
    future is refused: an upload time is when a file was first published."""
    if text.upper() == FROM_MTIME:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            f"--upload-time {text!r} is neither {FROM_MTIME} nor an ISO 8601 time"
            " (2024-05-01T12:00:00Z)"
        ) from exc
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    if when > utcnow():
        raise InvalidInput(f"--upload-time {text!r} is in the future")
    return when


def mtime_of(path: Path) -> datetime:
    """A file's modification time as naive UTC (pypiserver serves it as the upload time)."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)


def distribution_files(directory: Path) -> tuple[list[Path], int]:
    """The candidate files under ``directory`` in path order (symlinked directories are not
    followed: no loops, nothing outside the tree by surprise), and how many others there are."""
    if not directory.is_dir():
        raise InvalidInput(f"{str(directory)!r} is not a directory")
    found: list[Path] = []
    ignored = 0
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            lowered = name.lower()
            if lowered.endswith(DEVPI_DOCS_SUFFIX) or not lowered.endswith(
                (*DIST_SUFFIXES, *LEGACY_SUFFIXES)
            ):
                ignored += 1
                continue
            found.append(path)
    return found, ignored


def import_directory(
    *,
    db: Database,
    storage: Storage,
    settings: Settings,
    descriptions: DescriptionRenderer,
    directory: Path,
    owner: str,
    upload_time: datetime | None = None,
) -> ImportReport:
    """Import every distribution file under ``directory``; refused files are reported, the
    others imported regardless. ``upload_time`` None: the time a devpi export recorded for the
    file, else its modification time. A devpi export's documentation archives are left out."""
    with db.read() as session:
        get_user(session, owner)  # an unknown owner refuses the whole run, before any file
    paths, ignored = distribution_files(directory)
    devpi = read_devpi_export(directory)
    report = ImportReport(ignored=ignored)
    for path in paths:
        if path.resolve() in devpi.docs:
            report.ignored += 1
            continue
        report.results.append(
            import_file(
                db=db,
                storage=storage,
                settings=settings,
                descriptions=descriptions,
                path=path,
                owner=owner,
                upload_time=upload_time or devpi.times.get(path.resolve()),
            )
        )
    return report


@dataclass(frozen=True)
class DevpiExport:
    """What a devpi export's ``dataindex.json`` says of its files: the documentation archives
    to leave out, and the time devpi recorded for each release file (``last_modified``)."""

    docs: frozenset[Path] = frozenset()
    times: dict[Path, datetime] = field(default_factory=dict)


def read_devpi_export(directory: Path) -> DevpiExport:
    """The file descriptions of a devpi export (devpi-server's ``importexport.py``: an
    ``indexes`` map whose entries list ``files`` with ``type`` ``releasefile`` or ``doczip``,
    ``relpath`` and the file entry's ``entrymapping``), or nothing for another directory. A
    ``dataindex.json`` that does not parse is refused: the export is damaged."""
    index_file = directory / "dataindex.json"
    if not index_file.is_file():
        return DevpiExport()
    try:
        data = json.loads(index_file.read_bytes())
        indexes = data.get("indexes", {})
        descriptions = [entry for index in indexes.values() for entry in index.get("files", [])]
    except (ValueError, AttributeError, TypeError) as exc:
        raise InvalidInput(f"{str(index_file)!r} is not a devpi export's index: {exc}") from exc
    docs: set[Path] = set()
    times: dict[Path, datetime] = {}
    for entry in descriptions:
        if not isinstance(entry, dict) or not isinstance(entry.get("relpath"), str):
            continue
        path = (directory / entry["relpath"]).resolve()
        if entry.get("type") == "doczip":
            docs.add(path)
        elif entry.get("type") == "releasefile":
            mapping = entry.get("entrymapping")
            when = _http_date(mapping.get("last_modified") if isinstance(mapping, dict) else None)
            if when is not None:
                times[path] = when
    return DevpiExport(frozenset(docs), times)


def _http_date(value: object) -> datetime | None:
    """An RFC 9110 HTTP-date (devpi's ``last_modified``) as naive UTC; None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return when
    return when.astimezone(UTC).replace(tzinfo=None)


def import_file(
    *,
    db: Database,
    storage: Storage,
    settings: Settings,
    descriptions: DescriptionRenderer,
    path: Path,
    owner: str,
    upload_time: datetime | None = None,
) -> FileResult:
    """Import one file (``upload_time`` None: its modification time); never raises for the
    file's own faults, which the result names. Callable from tests to publish a release with a
    chosen upload time."""
    filename = path.name
    if filename.lower().endswith(LEGACY_SUFFIXES):
        return FileResult(
            path, "unsupported", "a legacy format (egg, installer, bzip2/xz/plain tar)"
        )
    try:
        when = upload_time if upload_time is not None else mtime_of(path)
        return _import(
            db=db,
            storage=storage,
            settings=settings,
            descriptions=descriptions,
            path=path,
            owner=owner,
            when=when,
        )
    except Error as exc:
        return FileResult(path, "refused", exc.message)
    except OSError as exc:
        return FileResult(path, "refused", f"cannot be read: {exc.strerror or exc}")


def _import(
    *,
    db: Database,
    storage: Storage,
    settings: Settings,
    descriptions: DescriptionRenderer,
    path: Path,
    owner: str,
    when: datetime,
) -> FileResult:
    filename = path.name
    check_upload_filename(filename)
    dist = parse_dist_filename(filename)
    spooled, digests = _spool_copy(storage, path)
    try:
        with db.read() as session:
            present = _already_present(session, filename, digests)
        if present is not None:
            return FileResult(path, "already-present", present)
        contents = inspect_archive(
            spooled,
            dist,
            max_ratio=settings.max_compression_ratio,
            ratio_threshold=settings.compression_ratio_threshold,
        )
        raw = _raw_metadata(contents.metadata, filename)
        name, version = _name_and_version(raw, dist.name, dist.version, filename)
        metadata, left_out = _lenient(raw)
        wheel = dist.filetype == "bdist_wheel"
        dependencies = _file_dependencies(metadata, contents.metadata, wheel=wheel)
        requires_python = str(metadata.requires_python) if metadata.requires_python else None
        placement = Placement(
            path=spooled,
            filename=filename,
            digests=digests,
            name=name,
            version=version,
            filetype=dist.filetype,
            python_version=filename.split("-")[-3] if wheel else "source",
            requires_python=requires_python,
            release_metadata=release_metadata(metadata),
            release_requires_python=requires_python,
            core_metadata=contents.metadata if wheel else None,
            dependencies=dependencies,
            description_html=render_or_fallback(
                descriptions, metadata.description or "", metadata.description_content_type
            ),
            upload_time=when,
        )
        outcome = store_file(
            db,
            storage,
            placement,
            uploader=owner,
            guard=lambda session: find_project(session, name),
            how="import",
        )
    finally:
        spooled.unlink(missing_ok=True)  # moved into the store, or refused: never kept
    if outcome is UploadOutcome.ALREADY_PRESENT:
        return FileResult(path, "already-present", "the identical file is already here")
    shown = f"{name} {version}, uploaded {when.isoformat(sep=' ', timespec='seconds')}"
    if left_out:
        shown += f"; metadata fields not shown (invalid today): {', '.join(left_out)}"
    return FileResult(path, "imported", shown)


def _spool_copy(storage: Storage, path: Path) -> tuple[Path, StreamingDigests]:
    """Copy the file into the store's spool, hashing the bytes as they are written: what is
    checked, hashed and stored is one copy, whatever happens to the source meanwhile."""
    fd, spooled = storage.spool_file()
    digests = StreamingDigests()
    try:
        with os.fdopen(fd, "wb") as target, path.open("rb") as source:
            while chunk := source.read(_CHUNK):
                digests.update(chunk)
                target.write(chunk)
            target.flush()
            os.fsync(target.fileno())
    except BaseException:
        spooled.unlink(missing_ok=True)
        raise
    return spooled, digests


def _already_present(session: Session, filename: str, digests: StreamingDigests) -> str | None:
    """Why the file is skipped (the identical one is here), None if it is new; a filename that
    holds other bytes here (or these bytes under another name) is refused, named."""
    existing = session.scalar(
        select(File).where(or_(File.filename == filename, File.blake2_256 == digests.blake2_256))
    )
    if existing is None:
        return None
    if existing.filename == filename and existing.sha256 == digests.sha256:
        return "the identical file is already here"
    if existing.filename == filename:
        raise ImportRefused(
            f"{filename} is already here with other bytes (sha256 {existing.sha256}, this"
            f" file's is {digests.sha256}): a filename never changes its bytes"
        )
    raise ImportRefused(f"the same bytes are already here as {existing.filename}")


def _raw_metadata(raw: bytes, filename: str) -> RawMetadata:
    try:
        parsed, _ = parse_email(raw)
    except ValueError as exc:
        raise ImportRefused(f"its core metadata does not parse: {exc}") from exc
    return parsed


def _name_and_version(
    raw: RawMetadata, file_name: str, file_version: Version, filename: str
) -> tuple[str, Version]:
    """The metadata's Name and Version, which must parse and agree with the filename's."""
    name = raw.get("name", "")
    if not is_valid_project_name(name):
        raise ImportRefused(f"its metadata's Name {name!r} is not a valid project name")
    try:
        version = Version(raw.get("version", ""))
    except InvalidVersion as exc:
        raise ImportRefused(
            f"its metadata's Version {raw.get('version', '')!r} is not a PEP 440 version"
        ) from exc
    if canonicalize_name(file_name) != canonicalize_name(name) or file_version != version:
        raise ImportRefused(
            f"the filename {filename!r} names {file_name} {file_version}, its metadata"
            f" {name} {version}"
        )
    return name, version


def _lenient(raw: RawMetadata) -> tuple[Metadata, list[str]]:
    """Metadata holding the fields of ``raw`` that parse today, and the names of the others
    (packaging validates a field when it is read: each is tried on its own)."""
    kept: dict[str, object] = {}
    left_out: list[str] = []
    for key, value in raw.items():
        if key in {"metadata_version", "name", "version"}:
            continue
        probe = Metadata.from_raw(
            {"metadata_version": "2.4", "name": "x", "version": "0", key: value},  # type: ignore[misc]
            validate=False,
        )
        try:
            getattr(probe, key)
        except Exception:  # noqa: BLE001 - packaging raises several kinds; the field is left out
            left_out.append(key)
            continue
        kept[key] = value
    metadata = Metadata.from_raw(
        {"metadata_version": "2.4", "name": raw["name"], "version": raw["version"], **kept},  # type: ignore[typeddict-item]
        validate=False,
    )
    return metadata, left_out


def _file_dependencies(metadata: Metadata, raw: bytes, *, wheel: bool) -> FileDependencies | None:
    """The file's own Requires-Dist and Requires-Python where installers read them (a wheel,
    an sdist of Metadata-Version 2.2+), as the release then shows them."""
    if not file_metadata_vouches(raw, wheel=wheel):
        return None
    return FileDependencies(
        requires_dist=tuple(str(r) for r in metadata.requires_dist or []),
        requires_python=str(metadata.requires_python or ""),
    )
