"""Organisations (issue 20): a group of users that owns projects, as PyPI's.

Shapes from warehouse ``organizations/models.py``: ``Organization`` (a name unique in its
normal form), ``OrganizationRole`` (``OrganizationRoleType``: Owner, Billing Manager, Manager,
Member), ``OrganizationInvitation`` (one per user and organisation), ``OrganizationProject``
(a project belongs to at most one organisation), and the permissions of its ``__acl__``: owners
manage members, teams and projects; managers manage teams and add projects; members see the
organisation. Warehouse's project ACL makes an organisation's owners Owners of each of its
projects; here :func:`roles.roles_of` does (the one place roles are collected).

Differences: no billing, so no Billing Manager; an organisation is created by an admin of the
index, directly (``trustyard admin org create``) or by approving a user's request
(:mod:`.organisation_requests`, PyPI's applications), with its first owner added directly;
everyone else comes by invitation and accepts, as for project roles (:mod:`.invitations`),
under the same rules (expiry, the sender must still be an owner). Organisation names share
PyPI's project-name rule and normal form (PEP 503), and live beside usernames rather than
against them: ``/org/<name>/`` and a user are different things (as on PyPI, where an
organisation and a user may share a name). Every name an organisation held stays its own
after a rename, and reserved after a deletion (:mod:`.organisation_names`).

Owners rename the organisation (its old names redirect) and delete it, but only once it owns
no projects (as PyPI requires): the projects' owners must decide where each goes first.

An organisation always keeps an owner: its last owner can neither leave, be removed nor be
demoted. Leaving takes a member off all the organisation's teams in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from trustyard.dists.names import normalize_name
from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.db.models import (
    Base,
    Organisation,
    OrganisationInvitation,
    OrganisationMember,
    OrganisationProject,
    OrganisationRequest,
    Project,
    Role,
    Team,
    TeamMember,
    TeamProjectRole,
    TeamReaderPolicy,
    User,
)
from trustyard.index.services import hidden_ids, organisation_names
from trustyard.index.services.accounts import find_user, is_disabled, utcnow
from trustyard.index.services.invitations import (
    LIFETIME,
    article,
    replace_expired,
    require_acceptable,
)
from trustyard.index.services.journal import record
from trustyard.index.services.projects import get_project
from trustyard.index.services.roles import Actor, IndexAdmin, Permission, actor_name, may

# PyPI's organisation names: its project-name rule (warehouse ``OrganizationMixin``'s
# ``%s_valid_name`` constraint), at most 50 characters as its organisation form allows.
NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,48}[A-Za-z0-9])?$", re.ASCII)
NAME_RULE = (
    "1 to 50 characters: ASCII letters, digits, '.', '_' and '-', starting and ending with a"
    " letter or digit"
)
# Who sent an invitation the host made (not a username: usernames cannot hold parentheses).
HOST_INVITER = "(admin)"


class OrgRole(StrEnum):
    """A user's role in an organisation, as stored in ``organisation_members.role``."""

    OWNER = "owner"
    MANAGER = "manager"
    MEMBER = "member"


OWNERS = frozenset({OrgRole.OWNER})
MANAGERS = frozenset({OrgRole.OWNER, OrgRole.MANAGER})


@dataclass(frozen=True)
class OrganisationView:
    """An organisation as the CLI and the pages list it."""

    name: str
    created: datetime
    owners: tuple[str, ...]
    members: int
    teams: int
    projects: int
    display_name: str = ""


@dataclass(frozen=True)
class Member:
    """A member of an organisation and their role."""

    username: str
    role: str


@dataclass(frozen=True)
class Membership:
    """One of a user's organisations and their role in it."""

    organisation: str
    role: str


@dataclass(frozen=True)
class OrgInvitationView:
    """A membership offered, as the pages show it."""

    organisation: str
    username: str
    role: str
    invited_by: str
    created: datetime
    expires: datetime
    expired: bool


def checked_org_role(role: str) -> OrgRole:
    """``role`` as an :class:`OrgRole`; 400 naming the roles there are."""
    try:
        return OrgRole(role)
    except ValueError:
        known = ", ".join(r.value for r in OrgRole)
        raise InvalidInput(
            f"an organisation role must be one of {known}, not {role[:40]!r}"
        ) from None


def checked_name(name: str, what: str = "organisation") -> tuple[str, str]:
    """``name`` and its normal form (PEP 503), or 400 stating the rule."""
    if not NAME_RE.fullmatch(name):
        raise InvalidInput(f"{name[:60]!r} is not a valid {what} name: {NAME_RULE}")
    return name, str(normalize_name(name))


def find_organisation(session: Session, name: str) -> Organisation | None:
    """The organisation called ``name`` (any spelling of its normal form, or one of its
    former names), or None."""
    if not NAME_RE.fullmatch(name):
        return None
    holder = organisation_names.holder_of(session, str(normalize_name(name)))
    return holder.organisation if holder is not None else None


def get_organisation(session: Session, name: str) -> Organisation:
    """The organisation called ``name``; 404 otherwise."""
    org = find_organisation(session, name)
    if org is None:
        raise NotFound(f"no organisation named {name[:60]!r}")
    return org


def role_in(session: Session, org: Organisation, user_id: int) -> OrgRole | None:
    """The user's role in the organisation, None for a non-member."""
    row = session.get(OrganisationMember, (org.id, user_id))
    return OrgRole(row.role) if row is not None and row.role in set(OrgRole) else None


def _user_id(session: Session, username: str) -> int | None:
    user = find_user(session, username)
    return user.id if user is not None else None


def require_org(
    session: Session, org: Organisation, actor: Actor, allowed: Collection[OrgRole], doing: str
) -> None:
    """Refuse (403) unless ``actor`` is the host or holds one of the ``allowed`` roles."""
    if isinstance(actor, IndexAdmin):
        return
    user_id = _user_id(session, actor)
    held = role_in(session, org, user_id) if user_id is not None else None
    if held in allowed:
        return
    if held is None:
        raise Forbidden(f"you are not a member of the organisation {org.name}")
    needed = " or ".join(article(r) for r in sorted(allowed))
    raise Forbidden(f"only {needed} of {org.name} can {doing}; you are {article(held)}")


def may_manage(session: Session, org: Organisation, user_id: int) -> frozenset[str]:
    """What the user may do on the organisation's page: ``members``, ``remove-projects`` and
    ``settings`` (rename, delete, teams' reader policies: owners), ``teams`` and
    ``add-projects`` (owners and managers)."""
    held = role_in(session, org, user_id)
    out: set[str] = set()
    if held in OWNERS:
        out |= {"members", "remove-projects", "settings"}
    if held in MANAGERS:
        out |= {"teams", "add-projects"}
    if held is not None:
        out.add("view")
    return frozenset(out)


def _owners(session: Session, org: Organisation) -> list[str]:
    return list(
        session.scalars(
            select(User.username)
            .join(OrganisationMember, OrganisationMember.user_id == User.id)
            .where(
                OrganisationMember.organisation_id == org.id,
                OrganisationMember.role == OrgRole.OWNER.value,
            )
            .order_by(User.username)
        )
    )


def _count(session: Session, model: type[Base], org: Organisation) -> int:
    column = model.__table__.c.organisation_id
    return int(session.scalar(select(func.count()).select_from(model).where(column == org.id)) or 0)


def _view(session: Session, org: Organisation) -> OrganisationView:
    return OrganisationView(
        name=org.name,
        created=org.created,
        owners=tuple(_owners(session, org)),
        members=_count(session, OrganisationMember, org),
        teams=_count(session, Team, org),
        projects=_count(session, OrganisationProject, org),
        display_name=org.display_name or org.name,
    )


def _usable_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"no user named {username[:100]!r}: check the spelling of the username")
    if is_disabled(user):
        raise Conflict(f"{user.username}'s account is disabled: an admin must enable it first")
    return user


MAX_DISPLAY_NAME = 100


def checked_display_name(display_name: str, name: str) -> str:
    """The display name, stripped (the name itself when empty); 400 when too long or holding
    control characters (it is shown on pages and in the journal)."""
    shown = display_name.strip() or name
    if len(shown) > MAX_DISPLAY_NAME:
        raise InvalidInput(f"a display name is at most {MAX_DISPLAY_NAME} characters")
    if any(not ch.isprintable() for ch in shown):
        raise InvalidInput("a display name cannot hold control characters")
    return shown


def create_organisation(
    session: Session,
    name: str,
    owner: str,
    *,
    actor: Actor,
    now: datetime | None = None,
    display_name: str = "",
) -> OrganisationView:
    """Create an organisation with ``owner`` as its first owner: the host's authority only
    (PyPI's admins approve organisations). 400 for a bad name, 409 for one another
    organisation holds or held (a deleted organisation's name: the admin's to give)."""
    if not isinstance(actor, IndexAdmin):
        raise Forbidden("only an admin of the index creates organisations")
    display, normal = checked_name(name)
    shown = checked_display_name(display_name, display)
    organisation_names.require_free(session, name, normal, for_org=None, reuse_retired=True)
    user = _usable_user(session, owner)
    now = now or utcnow()
    org = Organisation(
        name=display,
        normalized_name=normal,
        created=now,
        created_by=actor.name,
        display_name=shown,
    )
    session.add(org)
    session.flush()
    organisation_names.claim(session, org, normal, now)
    session.add(
        OrganisationMember(
            organisation_id=org.id, user_id=user.id, role=OrgRole.OWNER.value, created=now
        )
    )
    record(
        session,
        action=f"create organisation {display} (owner: {user.username})",
        actor=actor_name(actor),
    )
    session.flush()
    return _view(session, org)


def rename_organisation(
    session: Session, name: str, new_name: str, *, actor: Actor, now: datetime | None = None
) -> OrganisationView:
    """Give the organisation another name (its owners, 403). The old name stays the
    organisation's and redirects to it (:mod:`.organisation_names`); a name another
    organisation holds or held is a 409, as is a rename past :data:`~.organisation_names.
    MAX_NAMES` names (not for the host). A change of spelling only (``acme`` to ``Acme``)
    takes no new name."""
    org = get_organisation(session, name)
    require_org(session, org, actor, OWNERS, "rename it")
    display, normal = checked_name(new_name)
    if display == org.name:
        raise Conflict(f"the organisation is already called {org.name}")
    now = now or utcnow()
    if normal != org.normalized_name:
        organisation_names.require_free(session, new_name, normal, for_org=org, reuse_retired=False)
        organisation_names.claim(session, org, org.normalized_name, now)  # imported without it
        session.flush()
        known = organisation_names.holder_of(session, normal) is not None
        if not known and not isinstance(actor, IndexAdmin):
            held = organisation_names.names_held(session, org)
            if held >= organisation_names.MAX_NAMES:
                raise Conflict(
                    f"{org.name} has had {held} names, the most an organisation may hold: ask"
                    " an admin of the index to rename it"
                )
        organisation_names.claim(session, org, normal, now)
    previous = org.name
    if org.display_name in ("", previous):
        org.display_name = display
    org.name, org.normalized_name = display, normal
    session.flush()
    record(
        session,
        action=f"rename organisation {previous} to {display} ({previous} stays reserved for it)",
        actor=actor_name(actor),
    )
    return _view(session, org)


def delete_organisation(
    session: Session, name: str, *, actor: Actor, now: datetime | None = None
) -> OrganisationView:
    """Delete the organisation with its memberships, invitations, teams and their reader
    policies (owners, 403). Refused (409) while it owns projects, as PyPI does: each project's
    owners decide where it goes. Its names stay reserved (:mod:`.organisation_names`)."""
    org = get_organisation(session, name)
    require_org(session, org, actor, OWNERS, "delete it")
    view = _view(session, org)
    if view.projects:
        owned = ", ".join(projects(session, org.name)[:5])
        raise Conflict(
            f"{org.name} still owns {view.projects} project(s) ({owned}): remove them from the"
            " organisation first"
        )
    team_ids = select(Team.id).where(Team.organisation_id == org.id)
    session.execute(delete(TeamReaderPolicy).where(TeamReaderPolicy.team_id.in_(team_ids)))
    session.execute(delete(TeamMember).where(TeamMember.team_id.in_(team_ids)))
    session.execute(delete(TeamProjectRole).where(TeamProjectRole.team_id.in_(team_ids)))
    session.execute(delete(Team).where(Team.organisation_id == org.id))
    session.execute(
        delete(OrganisationInvitation).where(OrganisationInvitation.organisation_id == org.id)
    )
    session.execute(delete(OrganisationMember).where(OrganisationMember.organisation_id == org.id))
    for request in session.scalars(
        select(OrganisationRequest).where(OrganisationRequest.organisation_id == org.id)
    ):
        request.organisation_id = None
    organisation_names.retire(session, org, now or utcnow())
    session.flush()
    session.delete(org)
    record(
        session,
        action=f"delete organisation {org.name} (its names stay reserved)",
        actor=actor_name(actor),
    )
    session.flush()
    return view


def list_organisations(session: Session) -> list[OrganisationView]:
    """Every organisation, by normal name."""
    orgs = session.scalars(select(Organisation).order_by(Organisation.normalized_name)).all()
    return [_view(session, org) for org in orgs]


def organisation(session: Session, name: str) -> OrganisationView:
    """One organisation's summary (404 if there is none)."""
    return _view(session, get_organisation(session, name))


def organisations_of(session: Session, user_id: int) -> list[Membership]:
    """The organisations the user is a member of, with their role."""
    rows = session.execute(
        select(Organisation.name, OrganisationMember.role)
        .join(OrganisationMember, OrganisationMember.organisation_id == Organisation.id)
        .where(OrganisationMember.user_id == user_id)
        .order_by(Organisation.normalized_name)
    ).all()
    return [Membership(name, role) for name, role in rows]


def members(session: Session, name: str) -> list[Member]:
    """The organisation's members: owners, then managers, then members, each by name."""
    org = get_organisation(session, name)
    rows = session.execute(
        select(User.username, OrganisationMember.role)
        .join(OrganisationMember, OrganisationMember.user_id == User.id)
        .where(OrganisationMember.organisation_id == org.id)
    ).all()
    order = [r.value for r in OrgRole]
    ranked = sorted(rows, key=lambda r: (order.index(r[1]) if r[1] in order else 9, r[0].lower()))
    return [Member(username, role) for username, role in ranked]


# -- invitations ----------------------------------------------------------------------------


def _invitation_view(
    row: OrganisationInvitation, org: str, username: str, now: datetime
) -> OrgInvitationView:
    return OrgInvitationView(
        organisation=org,
        username=username,
        role=row.role,
        invited_by="the index's admin" if row.invited_by == HOST_INVITER else row.invited_by,
        created=row.created,
        expires=row.expires,
        expired=row.expires <= now,
    )


def invite(
    session: Session,
    org_name: str,
    username: str,
    role: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> OrgInvitationView:
    """Offer ``username`` membership with ``role``; owners (and the host) invite (403).
    Refused: an unknown (404) or disabled user, a member already, a pending invitation (409).
    An expired invitation is replaced."""
    now = now or utcnow()
    checked = checked_org_role(role)
    org = get_organisation(session, org_name)
    require_org(session, org, actor, OWNERS, "invite members")
    user = _usable_user(session, username)
    held = role_in(session, org, user.id)
    if held is not None:
        raise Conflict(f"{user.username} is already {article(held)} of {org.name}")
    existing = session.get(OrganisationInvitation, (org.id, user.id))
    replace_expired(session, existing, now, user=user.username, target=org.name)
    inviter = HOST_INVITER if isinstance(actor, IndexAdmin) else actor
    row = OrganisationInvitation(
        organisation_id=org.id,
        user_id=user.id,
        role=checked.value,
        invited_by=inviter,
        created=now,
        expires=now + LIFETIME,
    )
    session.add(row)
    record(
        session,
        action=f"organisation {org.name}: invite {checked} {user.username}",
        actor=actor_name(actor),
    )
    return _invitation_view(row, org.name, user.username, now)


def organisation_invitations(
    session: Session, org_name: str, *, now: datetime | None = None
) -> list[OrgInvitationView]:
    """The organisation's open and expired invitations, by username."""
    now = now or utcnow()
    org = get_organisation(session, org_name)
    rows = session.execute(
        select(OrganisationInvitation, User.username)
        .join(User, User.id == OrganisationInvitation.user_id)
        .where(OrganisationInvitation.organisation_id == org.id)
        .order_by(User.username)
    ).all()
    return [_invitation_view(row, org.name, username, now) for row, username in rows]


def invitations_of(
    session: Session, username: str, *, now: datetime | None = None
) -> list[OrgInvitationView]:
    """The memberships offered to ``username``, by organisation (for their account)."""
    now = now or utcnow()
    user = find_user(session, username)
    if user is None:
        return []
    rows = session.execute(
        select(OrganisationInvitation, Organisation.name)
        .join(Organisation, Organisation.id == OrganisationInvitation.organisation_id)
        .where(OrganisationInvitation.user_id == user.id)
        .order_by(Organisation.normalized_name)
    ).all()
    return [_invitation_view(row, name, user.username, now) for row, name in rows]


def _own_invitation(
    session: Session, org_name: str, invitee: str
) -> tuple[Organisation, User, OrganisationInvitation]:
    """The invitation offered to ``invitee``; one 404 for every way it is not there."""
    missing = NotFound(
        f"you have no invitation to the organisation {org_name[:60]!r}: it was revoked,"
        " declined or accepted already, or the name is misspelt"
    )
    org = find_organisation(session, org_name)
    user = find_user(session, invitee)
    row = (
        session.get(OrganisationInvitation, (org.id, user.id))
        if org is not None and user is not None
        else None
    )
    if org is None or user is None or row is None:
        raise missing
    return org, user, row


def accept(session: Session, org_name: str, *, invitee: str, now: datetime | None = None) -> str:
    """Join the organisation with the role offered to ``invitee``. Refused, nothing changed:
    an expired invitation (410), one whose sender is no longer an owner (403), a member
    already (409). Returns the role."""
    now = now or utcnow()
    org, user, row = _own_invitation(session, org_name, invitee)
    sender = None if row.invited_by == HOST_INVITER else _user_id(session, row.invited_by)
    vouched = row.invited_by == HOST_INVITER or (
        sender is not None and role_in(session, org, sender) in OWNERS
    )
    require_acceptable(row, now, target=org.name, vouched=vouched)
    held = role_in(session, org, user.id)
    if held is not None:
        raise Conflict(f"you are already {article(held)} of {org.name}: decline the invitation")
    session.add(
        OrganisationMember(organisation_id=org.id, user_id=user.id, role=row.role, created=now)
    )
    session.delete(row)
    record(
        session,
        action=f"organisation {org.name}: accepted {row.role} {user.username}",
        actor=user.username,
    )
    return row.role


def decline(
    session: Session, org_name: str, *, invitee: str, now: datetime | None = None
) -> OrgInvitationView:
    """Refuse the membership offered to ``invitee`` (expired or not)."""
    now = now or utcnow()
    org, user, row = _own_invitation(session, org_name, invitee)
    view = _invitation_view(row, org.name, user.username, now)
    session.delete(row)
    record(
        session,
        action=f"organisation {org.name}: decline_invite {row.role} {user.username}",
        actor=user.username,
    )
    return view


def revoke(
    session: Session, org_name: str, username: str, *, actor: Actor, now: datetime | None = None
) -> OrgInvitationView:
    """Withdraw the invitation offered to ``username`` (owners, 403)."""
    now = now or utcnow()
    org = get_organisation(session, org_name)
    require_org(session, org, actor, OWNERS, "revoke invitations")
    user = find_user(session, username)
    row = session.get(OrganisationInvitation, (org.id, user.id)) if user is not None else None
    if user is None or row is None:
        raise NotFound(f"{org.name} has no invitation for {username[:100]!r}")
    view = _invitation_view(row, org.name, user.username, now)
    session.delete(row)
    record(
        session,
        action=f"organisation {org.name}: revoke_invite {row.role} {user.username}",
        actor=actor_name(actor),
    )
    return view


# -- members --------------------------------------------------------------------------------


def _member(session: Session, org: Organisation, username: str) -> tuple[User, OrganisationMember]:
    missing = NotFound(f"{org.name} has no member {username[:100]!r}")
    user = find_user(session, username)
    row = session.get(OrganisationMember, (org.id, user.id)) if user is not None else None
    if user is None or row is None:
        raise missing
    return user, row


def _owner_count(session: Session, org: Organisation) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(OrganisationMember)
            .where(
                OrganisationMember.organisation_id == org.id,
                OrganisationMember.role == OrgRole.OWNER.value,
            )
        )
        or 0
    )


def _keep_an_owner(
    session: Session, org: Organisation, user: User, row: OrganisationMember
) -> None:
    """Refuse (409) to take the last owner away: someone must always manage the organisation
    (and own its projects)."""
    if row.role == OrgRole.OWNER and _owner_count(session, org) <= 1:
        raise Conflict(
            f"{user.username} is the last owner of the organisation {org.name}: make another"
            " member an owner first"
        )


def change_member_role(
    session: Session, org_name: str, username: str, role: str, *, actor: Actor
) -> Member:
    """Change a member's role (owners, 403); the same role (409) and the last owner's
    demotion (409) are refused."""
    checked = checked_org_role(role)
    org = get_organisation(session, org_name)
    require_org(session, org, actor, OWNERS, "change members' roles")
    user, row = _member(session, org, username)
    if row.role == checked:
        raise Conflict(f"{user.username} is already {article(checked)} of {org.name}")
    _keep_an_owner(session, org, user, row)
    previous, row.role = row.role, checked.value
    record(
        session,
        action=f"organisation {org.name}: change role of {user.username} from {previous} to"
        f" {checked}",
        actor=actor_name(actor),
    )
    return Member(user.username, checked.value)


def remove_member(session: Session, org_name: str, username: str, *, actor: Actor) -> list[str]:
    """Take ``username`` out of the organisation and all its teams; owners remove anyone, a
    member may leave; the last owner stays (409). Returns the teams they left."""
    org = get_organisation(session, org_name)
    if isinstance(actor, IndexAdmin) or actor.lower() != username.lower():
        require_org(session, org, actor, OWNERS, "remove members")
    user, row = _member(session, org, username)
    _keep_an_owner(session, org, user, row)
    teams = list(
        session.scalars(
            select(Team.name)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(Team.organisation_id == org.id, TeamMember.user_id == user.id)
            .order_by(Team.normalized_name)
        )
    )
    team_ids = select(Team.id).where(Team.organisation_id == org.id)
    session.execute(
        delete(TeamMember).where(TeamMember.user_id == user.id, TeamMember.team_id.in_(team_ids))
    )
    session.delete(row)
    left = f" (and its teams {', '.join(teams)})" if teams else ""
    record(
        session,
        action=f"organisation {org.name}: remove {row.role} {user.username}{left}",
        actor=actor_name(actor),
    )
    return teams


# -- projects -------------------------------------------------------------------------------


def organisation_of(session: Session, project: Project) -> Organisation | None:
    """The organisation that owns ``project``, if any."""
    return session.scalar(
        select(Organisation)
        .join(OrganisationProject, OrganisationProject.organisation_id == Organisation.id)
        .where(OrganisationProject.project_id == project.id)
    )


def projects(session: Session, org_name: str, hidden: frozenset[int] = frozenset()) -> list[str]:
    """The names of the organisation's projects but those whose ids are ``hidden`` (the
    private projects the viewer may not read: ``read_access.hidden_from``)."""
    org = get_organisation(session, org_name)
    query = (
        select(Project.name)
        .join(OrganisationProject, OrganisationProject.project_id == Project.id)
        .where(OrganisationProject.organisation_id == org.id)
    )
    if hidden:
        query = query.where(hidden_ids.projects_not_in(session, hidden))
    return list(session.scalars(query.order_by(Project.normalized_name)))


def add_project(
    session: Session,
    org_name: str,
    project_name: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> str:
    """Give the project to the organisation (warehouse ``add_organization_project``): an owner
    or manager of the organisation who is also an owner of the project (403; the host may
    always). A project belongs to one organisation at most (409). Its collaborators keep their
    roles; the organisation's owners become its owners."""
    org = get_organisation(session, org_name)
    require_org(session, org, actor, MANAGERS, "add projects")
    project = get_project(session, project_name)
    if not may(session, project, actor, Permission.MANAGE_COLLABORATORS):
        raise Forbidden(f"only an owner of {project.name} can give it to an organisation")
    current = organisation_of(session, project)
    if current is not None:
        if current.id == org.id:
            raise Conflict(f"{project.name} already belongs to {org.name}")
        raise Conflict(
            f"{project.name} belongs to the organisation {current.name}: an owner of"
            f" {current.name} must remove it from there first"
        )
    session.add(
        OrganisationProject(
            project_id=project.id,
            organisation_id=org.id,
            added_by=actor_name(actor),
            created=now or utcnow(),
        )
    )
    record(
        session,
        action=f"add to organisation {org.name}",
        actor=actor_name(actor),
        project=project,
    )
    return project.name


def _direct_owners(session: Session, project: Project) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Role)
            .where(Role.project_id == project.id, Role.role == "owner")
        )
        or 0
    )


def remove_project(session: Session, org_name: str, project_name: str, *, actor: Actor) -> None:
    """Take the project out of the organisation (owners of the organisation, 403): its teams'
    roles on it go too. Refused (409) while the project has no owner of its own, who would
    otherwise be left with nobody to manage it: grant one first."""
    org = get_organisation(session, org_name)
    require_org(session, org, actor, OWNERS, "remove projects")
    project = get_project(session, project_name)
    row = session.get(OrganisationProject, project.id)
    if row is None or row.organisation_id != org.id:
        raise NotFound(f"{project.name} is not a project of {org.name}")
    if _direct_owners(session, project) == 0:
        raise Conflict(
            f"{project.name} has no owner outside the organisation {org.name}: make someone"
            " its owner first (they would have no owner left otherwise)"
        )
    team_ids = select(Team.id).where(Team.organisation_id == org.id)
    session.execute(
        delete(TeamProjectRole).where(
            TeamProjectRole.project_id == project.id, TeamProjectRole.team_id.in_(team_ids)
        )
    )
    session.delete(row)
    record(
        session,
        action=f"remove from organisation {org.name}",
        actor=actor_name(actor),
        project=project,
    )


def owned_by_an_organisation(session: Session, project: Project) -> bool:
    """Whether the project belongs to an organisation (whose owners always own it, so it may
    lose its last owner of its own)."""
    return session.get(OrganisationProject, project.id) is not None
