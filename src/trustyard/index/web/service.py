"""The web interface's queries and checks: sessions, sign-in rate limits, authorisation.

Sessions are rows keyed by the SHA-256 of the cookie's secret, so a stolen database holds no
usable cookie. Failed sign-ins are counted by :mod:`trustyard.index.services.ratelimits`, in the
database too, so every instance behind a load balancer sees the same counts.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, NotFound
from trustyard.index.db.engine import Database
from trustyard.index.db.models import (
    Project,
    Release,
    Role,
    User,
    WebSession,
)
from trustyard.index.services import ratelimits
from trustyard.index.services.accounts import check_password, find_user, utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.projects import get_project, get_release, set_yanked
from trustyard.index.services.roles import Permission, permissions_of_user, require_user
from trustyard.index.services.search import ProjectHit
from trustyard.settings import Settings

SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class SignedIn:
    """The user behind a valid session cookie, and the CSRF token of that session."""

    user_id: int
    username: str
    csrf_token: str
    session_id: str
    is_admin: bool = False


def _session_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def sign_in(
    session: Session, username: str, password: str, address: str
) -> tuple[str, SignedIn] | None:
    """Check a password and open a session: (cookie secret, who signed in), None if refused.

    A refusal returns (not raises) so that the caller's transaction commits the journal entry.
    The caller rate-limits attempts before calling (:func:`attempt_sign_in`). A refusal names
    neither which part was wrong nor whether the user exists, and costs the same argon2 work
    either way (:func:`accounts.check_password`). Its journal entry is fixed text and the
    address: what was typed as the name may be a password typed in the wrong field, and the
    account it names is the attacker's choice (both stay out of the journal).
    """
    user = find_user(session, username)
    if not check_password(user, password) or user is None:
        record(
            session,
            action=f"refused sign-in from {address}: wrong username or password",
            actor=None,
        )
        return None
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    row = WebSession(
        id=_session_key(secret),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created=now,
        expires=now + SESSION_LIFETIME,
    )
    session.add(row)
    record(session, action=f"sign in from {address}", actor=user.username)
    return secret, SignedIn(
        user_id=user.id,
        username=user.username,
        csrf_token=row.csrf_token,
        session_id=row.id,
        is_admin=bool(user.is_admin),
    )


def attempt_sign_in(
    db: Database,
    settings: Settings,
    username: str,
    password: str,
    address: str,
    *,
    now: float | None = None,
) -> tuple[str, SignedIn] | None:
    """One sign-in attempt under the rate limits: counted first, taken back if it was right.

    Raises :class:`ratelimits.RateLimited` while the account is held for this address (or
    for every address, or the address for every account); the password is then not checked.
    ``now`` is the clock of the limits (tests pass theirs).
    """
    limits = ratelimits.sign_in_rules(settings, username, address)
    counted_at = ratelimits.hit(db, limits, "failed sign-in attempts", now=now)
    with db.write() as session:
        result = sign_in(session, username, password, address)
    if result is not None:  # only failures count: take this attempt's own count back
        ratelimits.refund(db, limits, counted_at)
    return result


def signed_in(session: Session, secret: str) -> SignedIn | None:
    """Who the session cookie ``secret`` belongs to, if the session exists and is unexpired."""
    if not secret or len(secret) > 100:
        return None
    row = session.execute(
        select(WebSession, User.username, User.is_admin)
        .join(User, WebSession.user_id == User.id)
        .where(WebSession.id == _session_key(secret), WebSession.expires > utcnow())
    ).first()
    if row is None:
        return None
    web_session, username, is_admin = row
    return SignedIn(
        user_id=web_session.user_id,
        username=username,
        csrf_token=web_session.csrf_token,
        session_id=web_session.id,
        is_admin=bool(is_admin),
    )


def sign_out(session: Session, who: SignedIn) -> None:
    """End the session (and sweep expired ones while writing anyway)."""
    session.execute(
        delete(WebSession).where(
            (WebSession.id == who.session_id) | (WebSession.expires <= utcnow())
        )
    )
    record(session, action="sign out", actor=who.username)


def _hits(session: Session, projects: list[Project]) -> list[ProjectHit]:
    """Each project with its newest release's version and summary (by upload order)."""
    hits = []
    for project in projects:
        release = session.scalar(
            select(Release)
            .where(Release.project_id == project.id)
            .order_by(Release.created.desc(), Release.id.desc())
            .limit(1)
        )
        summary = str((release.core_metadata or {}).get("summary") or "") if release else ""
        hits.append(ProjectHit(project.name, release.version if release else "", summary))
    return hits


def recent_projects(session: Session, limit: int = 20) -> list[ProjectHit]:
    """The most recently changed projects, for the home page."""
    projects = session.scalars(
        select(Project).order_by(Project.last_serial.desc()).limit(limit)
    ).all()
    return _hits(session, list(projects))


def require_collaborator(
    session: Session,
    project_name: str,
    user_id: int,
    permission: Permission = Permission.VIEW_SETTINGS,
) -> Project:
    """The project, if ``user_id`` holds ``permission`` on it (by default: may see its
    settings, as its owners and maintainers may); everyone else gets 403."""
    project = get_project(session, project_name)
    require_user(session, project, user_id, permission)
    return project


def allowed_on(session: Session, project: Project, user_id: int) -> frozenset[str]:
    """What the user may do to the project, for the pages to offer only those forms."""
    return frozenset(p.value for p in permissions_of_user(session, project, user_id))


def projects_of(session: Session, user_id: int) -> list[str]:
    """Names of the projects the user is an owner or maintainer of."""
    return list(
        session.scalars(
            select(Project.name)
            .join(Role, Role.project_id == Project.id)
            .where(Role.user_id == user_id)
            .order_by(Project.normalized_name)
        )
    )


def check_token_scope(session: Session, project_name: str, user_id: int) -> str:
    """A token may be scoped only to a project its user may upload to; returns its name."""
    try:
        return require_collaborator(session, project_name, user_id, Permission.UPLOAD).name
    except NotFound as exc:
        raise NotFound(f"no project named {project_name!r}") from exc


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


def change_yank(
    session: Session, project_name: str, version: str, who: SignedIn, *, yanked: bool, reason: str
) -> str:
    """Yank (with a reason) or unyank a release, for the project's owners.

    Unyanking a release that is not yanked is a 409; yanking a yanked one again changes its
    reason. Returns the release's version as uploaded.
    """
    project = require_collaborator(session, project_name, who.user_id, Permission.YANK)
    release = get_release(session, project, version)
    if not yanked and not release.yanked:
        raise Conflict(f"{project.name} {release.version} is not yanked")
    set_yanked(
        session, project.name, release.version, yanked=yanked, reason=reason, actor=who.username
    )
    return release.version
