"""Role invitations: an owner offers a user a role on a project, and the role exists only once
that user accepts it (issue 14, finding 3). Nobody is made an owner or maintainer of a project
without saying yes, so a planted collaborator needs the victim's own click.

PyPI's flow (warehouse ``manage/views/__init__.py`` ``manage_project_roles`` and
``revoke_project_role_invitation``, ``accounts/views.py`` ``verify_project_role``): one
invitation per user and project; "already has an active invite" and "already has a role" are
refused; accepting adds the role and deletes the invitation (journal ``accepted ROLE USER``);
declining and revoking delete it; an invitation expires with its token (warehouse's ``email``
token service, ``token.email.max_age``, falling back to ``token.default.max_age``, 6 hours in
``warehouse/config.py``) and a periodic task marks it expired. Here an invitation is a row with
its own ``expires`` (:data:`LIFETIME`), checked when it is used (no periodic task): an expired
invitation is shown as expired, cannot be accepted, and is replaced by a new invitation.

Two rules beyond PyPI's: the invitation must still be backed by its sender when it is
accepted (an owner removed meanwhile, or demoted, no longer vouches for anyone: the hole of
finding 3 again otherwise), and a direct grant by the host (:func:`drop_superseded`) takes the
place of a pending invitation. The host's ``trustyard admin project role`` grants directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, Forbidden, NotFound
from trustyard.index.db.models import (
    OrganisationInvitation,
    Project,
    Role,
    RoleInvitation,
    User,
)
from trustyard.index.services.accounts import find_user, is_disabled, utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.projects import get_project
from trustyard.index.services.roles import (
    Actor,
    Permission,
    ProjectRole,
    actor_name,
    checked_role,
    may,
    require,
)

# How long an invitation can be accepted. Warehouse's is the email token's age: its mail says
# "This link will expire in {n_hours} hours" (templates/email/verify-project-role/body.txt),
# from TOKEN_EMAIL_MAX_AGE, a deployment setting, or token.default.max_age (6 hours) without
# it. Here the invitee learns of it on their account page, when they next sign in, with no
# mail: three days.
LIFETIME = timedelta(hours=72)


class Expired(Conflict):
    """An invitation used after its ``expires``."""

    status = 410


@dataclass(frozen=True)
class InvitationView:
    """An invitation as the pages show it."""

    project: str
    username: str
    role: str
    invited_by: str
    created: datetime
    expires: datetime
    expired: bool


def _view(row: RoleInvitation, project: str, username: str, now: datetime) -> InvitationView:
    return InvitationView(
        project=project,
        username=username,
        role=row.role,
        invited_by=row.invited_by,
        created=row.created,
        expires=row.expires,
        expired=row.expires <= now,
    )


def when(moment: datetime) -> str:
    """How messages give an invitation's times."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def article(role: str) -> str:
    """``an owner``, ``a maintainer``: a role in a sentence."""
    return f"an {role}" if role == ProjectRole.OWNER else f"a {role}"


# The rules every kind of invitation shares (a project's roles here, an organisation's
# memberships in :mod:`.organisations`): one open invitation per user and target, an expired
# one replaced, an acceptance refused once expired or no longer backed by its sender.
Offer = RoleInvitation | OrganisationInvitation


def replace_expired(
    session: Session, existing: Offer | None, now: datetime, *, user: str, target: str
) -> Offer | None:
    """Refuse (409) a new invitation while ``existing`` is open; delete an expired one and
    return it (for the caller's journal), None when there was none."""
    if existing is None:
        return None
    if existing.expires > now:
        raise Conflict(
            f"{user} already has an invitation to {target} as {existing.role}, open until"
            f" {when(existing.expires)}: revoke it first to invite them again"
        )
    session.delete(existing)
    session.flush()
    return existing


def require_acceptable(row: Offer, now: datetime, *, target: str, vouched: bool) -> None:
    """Refuse to accept an expired invitation (410) or one whose sender may no longer send it
    (``vouched`` False, 403), with what the invitee can do about it."""
    if row.expires <= now:
        raise Expired(
            f"your invitation to {target} as {row.role} expired at {when(row.expires)}:"
            f" ask an owner of {target} to invite you again (or decline it)"
        )
    if not vouched:
        raise Forbidden(
            f"{row.invited_by}, who invited you, is no longer an owner of {target}: ask"
            " a current owner to invite you again (or decline it)"
        )


def _invitation(session: Session, project: Project, user: User) -> RoleInvitation | None:
    return session.get(RoleInvitation, (user.id, project.id))


def invite(
    session: Session,
    project_name: str,
    username: str,
    role: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> InvitationView:
    """Offer ``username`` a role on the project; only its owners invite (403). Refused: an
    unknown or disabled user, one who already holds a role (409; change it instead), or one
    with a pending invitation (409; revoke it first). An expired invitation is replaced."""
    now = now or utcnow()
    checked = checked_role(role)
    project = get_project(session, project_name)
    require(session, project, actor, Permission.MANAGE_COLLABORATORS)
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"no user named {username[:100]!r}: check the spelling of the username")
    if is_disabled(user):
        raise Conflict(f"{user.username}'s account is disabled: an admin must enable it first")
    held = session.get(Role, (user.id, project.id))
    if held is not None:
        hint = "" if held.role == checked else ": change their role in the list above instead"
        raise Conflict(f"{user.username} is already {article(held.role)} of {project.name}{hint}")
    existing = _invitation(session, project, user)
    replaced = replace_expired(session, existing, now, user=user.username, target=project.name)
    if replaced is not None:
        record(
            session,
            action=f"expire_invite {replaced.role} {user.username}",
            actor=actor,
            project=project,
        )
    row = RoleInvitation(
        user_id=user.id,
        project_id=project.id,
        role=checked.value,
        invited_by=actor,
        created=now,
        expires=now + LIFETIME,
    )
    session.add(row)
    record(session, action=f"invite {checked} {user.username}", actor=actor, project=project)
    return _view(row, project.name, user.username, now)


def project_invitations(
    session: Session, project_name: str, *, now: datetime | None = None
) -> list[InvitationView]:
    """The project's open and expired invitations, by username (for its settings page)."""
    now = now or utcnow()
    project = get_project(session, project_name)
    rows = session.execute(
        select(RoleInvitation, User.username)
        .join(User, User.id == RoleInvitation.user_id)
        .where(RoleInvitation.project_id == project.id)
        .order_by(User.username)
    ).all()
    return [_view(row, project.name, username, now) for row, username in rows]


def invitations_of(
    session: Session, username: str, *, now: datetime | None = None
) -> list[InvitationView]:
    """The invitations offered to ``username``, by project name (for their account)."""
    now = now or utcnow()
    user = find_user(session, username)
    if user is None:
        return []
    rows = session.execute(
        select(RoleInvitation, Project.name)
        .join(Project, Project.id == RoleInvitation.project_id)
        .where(RoleInvitation.user_id == user.id)
        .order_by(Project.normalized_name)
    ).all()
    return [_view(row, name, user.username, now) for row, name in rows]


def _own_invitation(
    session: Session, project_name: str, invitee: str
) -> tuple[Project, User, RoleInvitation]:
    """The invitation to ``project_name`` offered to ``invitee``, or one 404 for every way it
    is not there (no such project, user or invitation), so that nothing is revealed."""
    missing = NotFound(
        f"you have no invitation to {project_name[:200]!r}: it was revoked, declined or"
        " accepted already, or the name is misspelt"
    )
    try:
        project = get_project(session, project_name)
    except NotFound:
        raise missing from None
    user = find_user(session, invitee)
    row = _invitation(session, project, user) if user is not None else None
    if user is None or row is None:
        raise missing
    return project, user, row


def accept(
    session: Session, project_name: str, *, invitee: str, now: datetime | None = None
) -> str:
    """Take the role offered to ``invitee`` (only they can: the invitation is looked up by
    their name). Refused, with nothing changed: an expired invitation (410), one whose sender
    may no longer manage collaborators (403), a role already held (409). Returns the role."""
    now = now or utcnow()
    project, user, row = _own_invitation(session, project_name, invitee)
    vouched = may(session, project, row.invited_by, Permission.MANAGE_COLLABORATORS)
    require_acceptable(row, now, target=project.name, vouched=vouched)
    held = session.get(Role, (user.id, project.id))
    if held is not None:
        raise Conflict(
            f"you are already {article(held.role)} of {project.name}: decline the invitation"
        )
    session.add(Role(user_id=user.id, project_id=project.id, role=row.role))
    session.delete(row)
    record(
        session, action=f"accepted {row.role} {user.username}", actor=user.username, project=project
    )
    return row.role


def decline(
    session: Session, project_name: str, *, invitee: str, now: datetime | None = None
) -> InvitationView:
    """Refuse the role offered to ``invitee`` (expired or not): the invitation is deleted."""
    now = now or utcnow()
    project, user, row = _own_invitation(session, project_name, invitee)
    view = _view(row, project.name, user.username, now)
    session.delete(row)
    expired = " (expired)" if view.expired else ""
    record(
        session,
        action=f"decline_invite {row.role} {user.username}{expired}",
        actor=user.username,
        project=project,
    )
    return view


def revoke(
    session: Session,
    project_name: str,
    username: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> InvitationView:
    """Withdraw the invitation offered to ``username`` (owners only, 403; expired or not)."""
    now = now or utcnow()
    project = get_project(session, project_name)
    require(session, project, actor, Permission.MANAGE_COLLABORATORS)
    user = find_user(session, username)
    row = _invitation(session, project, user) if user is not None else None
    if user is None or row is None:
        raise NotFound(f"{project.name} has no invitation for {username[:100]!r}")
    view = _view(row, project.name, user.username, now)
    session.delete(row)
    expired = " (expired)" if view.expired else ""
    record(
        session,
        action=f"revoke_invite {row.role} {user.username}{expired}",
        actor=actor_name(actor),
        project=project,
    )
    return view


def drop_superseded(session: Session, project: Project, user: User, *, actor: Actor) -> None:
    """Delete ``user``'s invitation to ``project``, if any, because the host granted a role
    directly (journalled as a revocation by that grant's actor)."""
    row = _invitation(session, project, user)
    if row is None:
        return
    session.delete(row)
    record(
        session,
        action=f"revoke_invite {row.role} {user.username} (superseded by a direct grant)",
        actor=actor_name(actor),
        project=project,
    )
