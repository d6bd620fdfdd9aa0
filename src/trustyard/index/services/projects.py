"""Projects, their owners, and the owners' actions on releases (PEP 592 yank, deletion).

Deletion follows PyPI: the file's bytes go, but its filename stays in the registry, burnt, so
that the name can never again carry other bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from packaging.utils import canonicalize_version
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from trustyard.dists.names import is_valid_project_name, normalize_name
from trustyard.errors import Conflict, InvalidInput, NotFound
from trustyard.index.db.models import (
    File,
    Project,
    ProjectStatusRecord,
    Provenance,
    Release,
    Role,
    User,
)
from trustyard.index.services.accounts import get_user, require_admin, utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.namespaces import check_may_create
from trustyard.index.services.roles import (
    Actor,
    IndexAdmin,
    Permission,
    ProjectRole,
    actor_name,
    require,
)
from trustyard.index.storage.base import Storage


def find_project(session: Session, name: str) -> Project | None:
    """The project whose PEP 503 normal form equals that of ``name``, if any."""
    return session.scalar(select(Project).where(Project.normalized_name == normalize_name(name)))


def get_project(session: Session, name: str) -> Project:
    """The project called ``name`` (any spelling), or NotFound."""
    project = find_project(session, name)
    if project is None:
        raise NotFound(f"no project named {name!r}")
    return project


def create_project(session: Session, name: str, *, owner: str) -> Project:
    """Register ``name`` with ``owner`` as its owner; in a reserved namespace only if ``owner``
    owns it (PEP 752), whoever asks: an upload, ``admin project create``, ``admin import-dir``."""
    if not is_valid_project_name(name):
        raise InvalidInput(
            f"'{name}' is an invalid value for Name. Error: Start and end with a letter or"
            " numeral containing only ASCII numeric and '.', '_' and '-'."
        )
    user = get_user(session, owner)
    if find_project(session, name) is not None:
        raise Conflict(f"The name '{name}' conflicts with an existing project.")
    check_may_create(session, name, user.id)
    project = Project(name=name, normalized_name=normalize_name(name), created=utcnow())
    session.add(project)
    session.flush()
    session.add(Role(user_id=user.id, project_id=project.id, role=ProjectRole.OWNER.value))
    record(session, action="create", actor=owner, project=project)
    return project


def get_release(session: Session, project: Project, version: str) -> Release:
    """The release of ``project`` whose canonical version equals that of ``version``."""
    release = session.scalar(
        select(Release).where(
            Release.project_id == project.id,
            Release.canonical_version == canonicalize_version(version),
        )
    )
    if release is None:
        raise NotFound(f"project {project.name!r} has no release {version!r}")
    return release


def set_yanked(
    session: Session, name: str, version: str, *, yanked: bool, reason: str, actor: Actor
) -> Release:
    """PEP 592: mark a release yanked (with a reason) or no longer yanked; owners only (403).

    The one entry point of the CLI (``admin project yank|unyank``), a project's settings page
    and the admin pages. Unyanking a release that is not yanked is a 409; yanking a yanked one
    again changes its reason.
    """
    project = get_project(session, name)
    require(session, project, actor, Permission.YANK)
    release = get_release(session, project, version)
    if not yanked and not release.yanked:
        raise Conflict(f"{project.name} {release.version} is not yanked")
    release.yanked = yanked
    release.yanked_reason = reason if yanked else ""
    action = f"yank release{f' ({reason})' if reason else ''}" if yanked else "unyank release"
    record(
        session, action=action, actor=actor_name(actor), project=project, version=release.version
    )
    return release


def delete_file(session: Session, filename: str, *, actor: Actor) -> tuple[str, bool]:
    """Remove a file's row; its filename stays burnt in the registry. Owners only (403).

    Returns the storage key and whether core metadata was stored beside it, for
    :func:`purge_bytes` once the caller has committed.
    """
    row = session.scalar(select(File).where(File.filename == filename))
    if row is None:
        raise NotFound(f"no file named {filename!r}")
    release = row.release
    project = release.project
    require(session, project, actor, Permission.DELETE_FILES)
    session.execute(delete(Provenance).where(Provenance.file_id == row.id))
    session.delete(row)
    record(
        session,
        action=f"remove file {filename}",
        actor=actor_name(actor),
        project=project,
        version=release.version,
        filename=filename,
    )
    session.flush()
    # The row goes first: a crash after this point leaves only unreferenced bytes, never a
    # served row whose file is missing.
    return row.path, row.metadata_sha256 is not None


def purge_bytes(storage: Storage, path: str, metadata: bool) -> None:
    """Remove a deleted file's bytes (after its row's removal has committed)."""
    storage.delete(path)
    if metadata:
        storage.delete(path + ".metadata")


@dataclass(frozen=True)
class ReleaseRow:
    """A release as the project's settings list it, for yanking and unyanking."""

    version: str
    created: datetime
    files: int
    yanked: bool
    yanked_reason: str


def project_releases(session: Session, project: Project) -> list[ReleaseRow]:
    """The project's releases, newest upload first, with their yank state."""
    releases = session.scalars(
        select(Release)
        .where(Release.project_id == project.id)
        .order_by(Release.created.desc(), Release.id.desc())
    ).all()
    return [
        ReleaseRow(r.version, r.created, len(r.files), bool(r.yanked), r.yanked_reason or "")
        for r in releases
    ]


# -- the admin pages: every project, its files, deleting one ----------------------------------


@dataclass(frozen=True)
class ProjectRow:
    """A project as the admin pages list them."""

    name: str
    created: datetime
    releases: int
    owners: list[str]
    status: str = "active"  # PEP 792 (services/statuses.py sets it)


def all_projects(session: Session) -> list[ProjectRow]:
    """Every project, by normal name, with its release count and owners."""
    releases: dict[int, int] = dict(
        session.execute(select(Release.project_id, func.count()).group_by(Release.project_id)).all()
    )
    owners: dict[int, list[str]] = {}
    for project_id, username in session.execute(
        select(Role.project_id, User.username)
        .join(User, User.id == Role.user_id)
        .where(Role.role == "owner")
        .order_by(User.username)
    ):
        owners.setdefault(project_id, []).append(username)
    marked: dict[int, str] = dict(
        session.execute(select(ProjectStatusRecord.project_id, ProjectStatusRecord.status)).all()
    )
    rows = session.scalars(select(Project).order_by(Project.normalized_name)).all()
    return [
        ProjectRow(
            p.name,
            p.created,
            releases.get(p.id, 0),
            owners.get(p.id, []),
            marked.get(p.id, "active"),
        )
        for p in rows
    ]


@dataclass(frozen=True)
class FileRow:
    """A file as the admin's project page lists it."""

    filename: str
    size: int
    sha256: str
    uploaded_by: str | None


@dataclass(frozen=True)
class ReleaseFiles:
    """A release and its files, for the admin's project page."""

    version: str
    created: datetime
    yanked: bool
    yanked_reason: str
    files: list[FileRow]


def project_files(
    session: Session, admin_id: int, project_name: str
) -> tuple[str, list[ReleaseFiles]]:
    """The project's name and its releases (newest upload first), each with its files."""
    require_admin(session, admin_id)
    project = get_project(session, project_name)
    releases = session.scalars(
        select(Release)
        .where(Release.project_id == project.id)
        .order_by(Release.created.desc(), Release.id.desc())
    ).all()
    return project.name, [
        ReleaseFiles(
            r.version,
            r.created,
            bool(r.yanked),
            r.yanked_reason or "",
            [
                FileRow(f.filename, f.size, f.sha256, f.uploaded_by)
                for f in sorted(r.files, key=lambda f: f.filename)
            ],
        )
        for r in releases
    ]


def delete_project_file(
    session: Session, admin_id: int, project_name: str, filename: str
) -> tuple[str, bool]:
    """An admin of the index deletes a file of the project, as ``trustyard admin project
    delete-file`` does: its row goes in this transaction, its name stays burnt. Returns what
    :func:`purge_bytes` needs once the caller has committed."""
    admin = require_admin(session, admin_id)
    project = get_project(session, project_name)
    owner = session.scalar(
        select(Release.project_id)
        .join(File, File.release_id == Release.id)
        .where(File.filename == filename)
    )
    if owner != project.id:
        raise NotFound(f"{project.name} has no file named {filename[:200]!r}")
    return delete_file(session, filename, actor=IndexAdmin(admin.username))
