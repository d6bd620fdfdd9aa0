"""What the admin pages show and do: every user, project and issuer; disabling accounts,
revoking tokens, yanking and deleting for any project, allowing and removing OIDC issuers.

Every function checks the admin flag itself (403 for anyone else), whichever page calls it,
and acts through the same services as ``trustyard admin`` (yank, delete-file), journalled under
the admin's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, Forbidden, NotFound
from trustyard.index.db.models import File, Project, Release, Role, Token, User
from trustyard.index.services import accounts, issuers, projects
from trustyard.index.services.projects import get_project, get_release
from trustyard.index.services.roles import IndexAdmin

ADMIN_ONLY = "only admins of this index can see this page"


def require_admin(session: Session, user_id: int) -> User:
    """The user, if flagged as an admin of the index; everyone else gets 403."""
    user = session.get(User, user_id)
    if user is None or not user.is_admin or accounts.is_disabled(user):
        raise Forbidden(ADMIN_ONLY)
    return user


@dataclass(frozen=True)
class UserRow:
    """A user as the admin pages list them."""

    username: str
    created: datetime
    is_admin: bool
    disabled: bool
    projects: int
    tokens: int  # API tokens neither revoked nor expired


@dataclass(frozen=True)
class ProjectRow:
    """A project as the admin pages list them."""

    name: str
    created: datetime
    releases: int
    owners: list[str]


def all_users(session: Session) -> list[UserRow]:
    """Every user, by name, with their project roles and live API tokens counted."""
    roles: dict[int, int] = dict(
        session.execute(select(Role.user_id, func.count()).group_by(Role.user_id)).all()
    )
    now = accounts.utcnow()
    live: dict[int | None, int] = {
        user_id: int(count)
        for user_id, count in session.execute(
            select(Token.user_id, func.count())
            .where(
                Token.publisher_identity.is_(None),
                Token.revoked.is_(False),
                (Token.expires.is_(None)) | (Token.expires > now),
            )
            .group_by(Token.user_id)
        )
    }
    users = session.scalars(select(User).order_by(User.username)).all()
    return [
        UserRow(
            u.username,
            u.created,
            bool(u.is_admin),
            accounts.is_disabled(u),
            roles.get(u.id, 0),
            live.get(u.id, 0),
        )
        for u in users
    ]


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
    rows = session.scalars(select(Project).order_by(Project.normalized_name)).all()
    return [
        ProjectRow(p.name, p.created, releases.get(p.id, 0), owners.get(p.id, [])) for p in rows
    ]


def trusted_issuers(session: Session) -> list[issuers.IssuerView]:
    """The allowed issuers (``trustyard admin issuer list``), with active and pending counts."""
    return issuers.list_issuers(session)


def add_issuer(session: Session, admin_id: int, url: str, *, allow_private_address: bool) -> None:
    """Allow an issuer, as ``trustyard admin issuer add`` does, journalled under the admin."""
    admin = require_admin(session, admin_id)
    issuers.add_issuer(
        session, url, allow_private_address=allow_private_address, actor=admin.username
    )


def remove_issuer(session: Session, admin_id: int, url: str) -> None:
    """Disallow an issuer (409 while publishers name it), as ``admin issuer remove`` does."""
    admin = require_admin(session, admin_id)
    issuers.remove_issuer(session, url, actor=admin.username)


# -- actions on users --------------------------------------------------------------------------


def set_user_disabled(session: Session, admin_id: int, username: str, *, disabled: bool) -> None:
    """Disable (or enable) an account; an admin cannot disable their own (409), so that an
    index never locks out the admin doing it by a slip."""
    admin = require_admin(session, admin_id)
    if disabled and username == admin.username:
        raise Conflict("you cannot disable your own account")
    try:
        accounts.set_disabled(session, username, disabled=disabled, actor=admin.username)
    except NotFound:
        raise NotFound(f"no user named {username[:100]!r}") from None


def revoke_user_tokens(session: Session, admin_id: int, username: str) -> int:
    """Revoke every live API token of ``username``; returns how many were revoked."""
    admin = require_admin(session, admin_id)
    try:
        return accounts.revoke_all_tokens(session, username, actor=admin.username)
    except NotFound:
        raise NotFound(f"no user named {username[:100]!r}") from None


# -- actions on projects -----------------------------------------------------------------------


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


def set_release_yanked(
    session: Session, admin_id: int, project_name: str, version: str, *, yanked: bool, reason: str
) -> str:
    """Yank or unyank any project's release (``trustyard admin project yank|unyank``);
    unyanking what is not yanked is a 409. Returns the version as uploaded."""
    admin = require_admin(session, admin_id)
    release = get_release(session, get_project(session, project_name), version)
    if not yanked and not release.yanked:
        raise Conflict(f"{release.project.name} {release.version} is not yanked")
    projects.set_yanked(
        session,
        release.project.name,
        release.version,
        yanked=yanked,
        reason=reason,
        actor=IndexAdmin(admin.username),
    )
    return release.version


def delete_file(
    session: Session, admin_id: int, project_name: str, filename: str
) -> tuple[str, bool]:
    """Delete a file of the project (``trustyard admin project delete-file``): its row goes in
    this transaction, its name stays burnt. Returns what :func:`projects.purge_bytes` needs
    once the caller has committed."""
    admin = require_admin(session, admin_id)
    project = get_project(session, project_name)
    owner = session.scalar(
        select(Release.project_id)
        .join(File, File.release_id == Release.id)
        .where(File.filename == filename)
    )
    if owner != project.id:
        raise NotFound(f"{project.name} has no file named {filename[:200]!r}")
    return projects.delete_file(session, filename, actor=IndexAdmin(admin.username))
