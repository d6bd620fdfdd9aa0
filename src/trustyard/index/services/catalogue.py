"""Read-side queries: what the simple API and the JSON API show about projects and files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from sqlalchemy.orm import Session

from trustyard.index.db.models import File, Project, Provenance, Release
from trustyard.index.project_status import ACTIVE, StatusMarker
from trustyard.index.services import continuity, hidden_ids
from trustyard.index.services.descriptions import plain_html
from trustyard.index.services.statuses import require_file_offered, status_of


@dataclass(frozen=True)
class FileView:
    """One distribution file as the read APIs show it."""

    filename: str
    path: str
    version: str
    filetype: str
    python_version: str
    size: int
    sha256: str
    blake2_256: str
    md5: str
    upload_time: datetime
    requires_python: str | None
    yanked: bool
    yanked_reason: str
    metadata_sha256: str | None
    comment: str | None
    # PEP 740: the Trusted Publisher named by the file's attestations (pypi-attestations'
    # publisher object), or None when the file has no provenance.
    provenance_publisher: dict[str, Any] | None = None


@dataclass(frozen=True)
class ReleaseView:
    """One release and its files."""

    version: str
    canonical_version: str
    is_prerelease: bool
    yanked: bool
    yanked_reason: str
    core_metadata: dict[str, Any]
    files: tuple[FileView, ...]


@dataclass(frozen=True)
class ProjectView:
    """A project with every release, ordered by version (oldest first)."""

    name: str
    normalized_name: str
    last_serial: int
    releases: tuple[ReleaseView, ...]
    # PEP 792: the project's status; a quarantined project offers no file (``files``).
    status: StatusMarker = ACTIVE
    # Issue 20: a private project, readable only as services/read_access.can_read says.
    private: bool = False

    @property
    def files(self) -> list[FileView]:
        """Every file the index offers, ordered by version, then filename (as PyPI's simple
        pages): none at all while the project is quarantined."""
        if not self.status.offers_files:
            return []
        return [f for release in self.releases for f in sorted(release.files, key=_by_name)]

    def release(self, version: str) -> ReleaseView | None:
        """The release ``version`` names, compared canonically (PEP 440: ``1.0`` finds
        ``1.0.0``, as PyPI's pages and JSON API do), or ``None``."""
        return self._by_canonical_version.get(canonicalize_version(version))

    @cached_property
    def _by_canonical_version(self) -> dict[str, ReleaseView]:
        found: dict[str, ReleaseView] = {}
        for release in self.releases:
            found.setdefault(release.canonical_version, release)
        return found


def _by_name(file: FileView) -> str:
    return file.filename


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def list_projects(
    session: Session, hidden: frozenset[int] = frozenset()
) -> list[tuple[str, str, int]]:
    """(display name, normalized name, last serial) of every project but the ``hidden`` ids
    (private projects the reader may not read), by normalized name."""
    query = select(Project.name, Project.normalized_name, Project.last_serial)
    if hidden:
        query = query.where(hidden_ids.projects_not_in(session, hidden))
    rows = session.execute(query.order_by(Project.normalized_name))
    return [(row[0], row[1], row[2]) for row in rows]


def project_serial(session: Session, normalized_name: str) -> int | None:
    """The project's last serial, or None when there is no such project (one indexed read)."""
    return session.scalar(
        select(Project.last_serial).where(Project.normalized_name == normalized_name)
    )


def description_html(session: Session, normalized_name: str, canonical_version: str) -> str:
    """A release's description as the HTML stored at upload (or by migration 0011); never
    rendered here, so no page view does CPU work of an uploader's choosing.

    A row without HTML (imported from an export made before 0011, until rendered) shows its
    text escaped as plain text, as a description that fails to render does.
    """
    row = session.execute(
        select(Release.description_html, Release.core_metadata)
        .join(Project)
        .where(
            Project.normalized_name == normalized_name,
            Release.canonical_version == canonical_version,
        )
    ).first()
    if row is None:
        return ""
    html, metadata = row
    if html is not None:
        return str(html)
    text = str((metadata or {}).get("description") or "")
    return plain_html(text) if text.strip() else ""


def project_detail(session: Session, normalized_name: str) -> ProjectView | None:
    """Everything the read APIs show about one project."""
    project = session.scalar(select(Project).where(Project.normalized_name == normalized_name))
    if project is None:
        return None
    status = status_of(session, project.id)
    releases = session.scalars(select(Release).where(Release.project_id == project.id)).all()
    files = session.execute(
        select(File, Provenance.publisher)
        .join(Release)
        .outerjoin(Provenance, Provenance.file_id == File.id)
        .where(Release.project_id == project.id)
    ).all()
    # Publisher continuity (issue 18): held and rejected files are not shown anywhere.
    hidden = continuity.local_hidden(session, project)
    by_release: dict[int, list[FileView]] = {}
    for f, provenance_publisher in files:
        if f.sha256 in hidden:
            continue
        release = f.release
        by_release.setdefault(release.id, []).append(
            FileView(
                filename=f.filename,
                path=f.path,
                version=release.version,
                filetype=f.filetype,
                python_version=f.python_version,
                size=f.size,
                sha256=f.sha256,
                blake2_256=f.blake2_256,
                md5=f.md5,
                upload_time=f.upload_time,
                requires_python=f.requires_python,
                yanked=release.yanked,
                yanked_reason=release.yanked_reason,
                metadata_sha256=f.metadata_sha256,
                comment=f.comment,
                provenance_publisher=provenance_publisher,
            )
        )
    views = [
        ReleaseView(
            version=r.version,
            canonical_version=r.canonical_version,
            is_prerelease=r.is_prerelease,
            yanked=r.yanked,
            yanked_reason=r.yanked_reason,
            core_metadata=dict(r.core_metadata or {}),
            # Every read API shows a quarantined project's releases without files (PEP 792).
            files=tuple(by_release.get(r.id, ())) if status.offers_files else (),
        )
        for r in sorted(releases, key=lambda r: _version_key(r.version))
    ]
    return ProjectView(
        name=project.name,
        normalized_name=project.normalized_name,
        last_serial=project.last_serial,
        releases=tuple(views),
        status=status,
        private=project.visibility == "private",
    )


def file_by_path(session: Session, path: str) -> tuple[File, bool] | None:
    """The file stored under ``path`` (or whose core metadata is), if it has a row.

    Returns the row and whether the path named the ``.metadata`` companion (PEP 658).
    """
    row = session.scalar(select(File).where(File.path == path))
    if row is not None:
        return row, False
    if path.endswith(".metadata"):
        row = session.scalar(select(File).where(File.path == path.removesuffix(".metadata")))
        if row is not None and row.metadata_sha256 is not None:
            return row, True
    return None


def servable_file(session: Session, path: str) -> tuple[File, bool] | None:
    """:func:`file_by_path`, refused (403) when the file's project is quarantined or the file
    is held (publisher continuity)."""
    found = file_by_path(session, path)
    if found is not None:
        file = found[0]
        require_file_offered(session, file)
        continuity.require_local_served(
            session, file.release.project.normalized_name, file.filename, file.sha256
        )
    return found
