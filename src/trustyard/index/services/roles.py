"""Project roles and what each may do: the one table that every permission check reads.

PyPI's roles (warehouse ``packaging/models.py``, ``Project.__acl__``): an Owner holds
``ProjectsRead``, ``ProjectsUpload`` and ``ProjectsWrite`` (publishers, collaborators, yanks,
deletions, settings); a Maintainer holds ``ProjectsUpload`` only. One deliberate difference: a
maintainer may *see* the project's settings pages, read-only (PyPI shows them to owners only).
Nothing there is secret, and a maintainer who sees a publisher nobody expected can tell an owner.

Every service that changes a project asks :func:`require` here, whichever door the request came
through (the web pages, the admin CLI, an API), so a new page cannot forget a rule.

Organisations and teams (issue 20) give roles too, as warehouse's ``Project.__acl__`` unions
``Role``, ``TeamProjectRole`` and the owners of the project's ``Organization``:
:func:`roles_of` is the one place a user's roles are collected (direct, through each team
they are in, Owner for an owner of the organisation that owns the project), so every check
follows from it. A *Reader* (``READER``) holds ``READ`` only: it sees a private project.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import CompoundSelect, exists, select
from sqlalchemy.orm import Session

from trustyard.errors import Forbidden, InvalidInput
from trustyard.index.db.models import (
    OrganisationMember,
    OrganisationProject,
    Project,
    Role,
    Team,
    TeamMember,
    TeamProjectRole,
    User,
)


class ProjectRole(StrEnum):
    """A user's role on one project, as stored in ``roles.role``."""

    OWNER = "owner"
    MAINTAINER = "maintainer"
    READER = "reader"  # reads a private project (issue 20), nothing more


def checked_role(role: str) -> ProjectRole:
    """``role`` as a :class:`ProjectRole`; 400 for anything else, naming the roles there are."""
    try:
        return ProjectRole(role)
    except ValueError:
        known = ", ".join(r.value for r in ProjectRole)
        raise InvalidInput(f"the role must be one of {known}, not {role[:40]!r}") from None


class Permission(StrEnum):
    """What a request may do to one project."""

    READ = "read"  # download a private project's files and see its pages (issue 20)
    UPLOAD = "upload"
    VIEW_SETTINGS = "view-settings"  # the /manage/project/ pages, read-only
    MANAGE_PUBLISHERS = "manage-publishers"
    MANAGE_COLLABORATORS = "manage-collaborators"  # add, remove, change roles
    YANK = "yank"
    DELETE_FILES = "delete-files"
    SET_STATUS = "set-status"  # PEP 792: archive, deprecate, make active (services/statuses)
    SET_VISIBILITY = "set-visibility"  # make the project private or public (issue 20)


OWNERS = frozenset({ProjectRole.OWNER})
# An organisation's owners are owners of its projects (the value is the same word).
ORG_OWNER = ProjectRole.OWNER.value
COLLABORATORS = frozenset({ProjectRole.OWNER, ProjectRole.MAINTAINER})
READERS = frozenset(ProjectRole)

# Permission → the roles that hold it. Warehouse: Owner = read + upload + write,
# Maintainer = upload (plus, here, the read-only settings pages; see the docstring).
GRANTS: Mapping[Permission, frozenset[ProjectRole]] = {
    Permission.READ: READERS,
    Permission.UPLOAD: COLLABORATORS,
    Permission.VIEW_SETTINGS: COLLABORATORS,
    Permission.MANAGE_PUBLISHERS: OWNERS,
    Permission.MANAGE_COLLABORATORS: OWNERS,
    Permission.YANK: OWNERS,
    Permission.DELETE_FILES: OWNERS,
    Permission.SET_STATUS: OWNERS,
    Permission.SET_VISIBILITY: OWNERS,
}

# How a refusal names what was refused: "only an owner of P can <this>".
_DOING = {
    Permission.READ: "read it",
    Permission.UPLOAD: "upload to it",
    Permission.VIEW_SETTINGS: "see its settings",
    Permission.MANAGE_PUBLISHERS: "add or remove its trusted publishers",
    Permission.MANAGE_COLLABORATORS: "add, remove or change its collaborators",
    Permission.YANK: "yank or unyank its releases",
    Permission.DELETE_FILES: "delete its files",
    Permission.SET_STATUS: "change its status (archive, deprecate)",
    Permission.SET_VISIBILITY: "make it private or public",
}


@dataclass(frozen=True)
class IndexAdmin:
    """Acting with the index's own authority, above every project role: the host's admin CLI
    (journalled as ``admin``) or an admin on the /admin/ pages (journalled by name; those pages
    check the admin flag before they act)."""

    name: str = "admin"


HOST = IndexAdmin()

# Who asks: a username, whose roles are checked, or the index's own authority.
Actor = str | IndexAdmin


def actor_name(actor: Actor) -> str:
    """The name the journal records for ``actor``."""
    return actor.name if isinstance(actor, IndexAdmin) else actor


def permissions_of_role(role: ProjectRole) -> frozenset[Permission]:
    """Everything ``role`` may do."""
    return frozenset(p for p, holders in GRANTS.items() if role in holders)


def held_roles(user_id: int, project_id: int | None = None) -> CompoundSelect[int, str]:
    """The ``(project_id, role)`` rows that give ``user_id`` roles: their own, their teams' (a
    team counts only on a project of its own organisation) and Owner on every project of an
    organisation they own. One project's with ``project_id``, else every project's: the one
    statement both :func:`roles_of` and the listings' filter (``read_access.hidden_from``)
    read, so a listing and a project's page cannot disagree."""
    direct = select(Role.project_id, Role.role).where(Role.user_id == user_id)
    through_teams = (
        select(TeamProjectRole.project_id, TeamProjectRole.role)
        .join(TeamMember, TeamMember.team_id == TeamProjectRole.team_id)
        .join(Team, Team.id == TeamProjectRole.team_id)
        .join(
            OrganisationProject,
            (OrganisationProject.project_id == TeamProjectRole.project_id)
            & (OrganisationProject.organisation_id == Team.organisation_id),
        )
        .where(TeamMember.user_id == user_id)
    )
    as_org_owner = (
        select(OrganisationProject.project_id, OrganisationMember.role)
        .join(
            OrganisationProject,
            OrganisationProject.organisation_id == OrganisationMember.organisation_id,
        )
        .where(OrganisationMember.user_id == user_id, OrganisationMember.role == ORG_OWNER)
    )
    if project_id is not None:
        direct = direct.where(Role.project_id == project_id)
        through_teams = through_teams.where(TeamProjectRole.project_id == project_id)
        as_org_owner = as_org_owner.where(OrganisationProject.project_id == project_id)
    return direct.union_all(through_teams, as_org_owner)


def roles_of(session: Session, project: Project, user_id: int) -> frozenset[ProjectRole]:
    """The user's roles on the project (see :func:`held_roles`)."""
    held = {role for _, role in session.execute(held_roles(user_id, project.id))}
    known = {role.value for role in ProjectRole}
    return frozenset(ProjectRole(role) for role in held if role in known)


def _user_id(session: Session, username: str) -> int | None:
    found: int | None = session.scalar(select(User.id).where(User.username == username))
    return found


def permissions_of(session: Session, project: Project, actor: Actor) -> frozenset[Permission]:
    """Everything ``actor`` may do to ``project`` (all of it for the index's authority)."""
    if isinstance(actor, IndexAdmin):
        return frozenset(Permission)
    user_id = _user_id(session, actor)
    if user_id is None:
        return frozenset()
    return permissions_of_user(session, project, user_id)


def holds_anywhere(session: Session, user_id: int, permission: Permission) -> bool:
    """Whether ``user_id`` holds ``permission`` on at least one project, in one query over
    :func:`held_roles`: what a per-request check (``second_factor.must_enrol``) asks without
    walking the user's projects one by one."""
    held = held_roles(user_id).subquery()
    holders = [role.value for role in GRANTS[permission]]
    return bool(session.scalar(select(exists().where(held.c.role.in_(holders)))))


def permissions_of_user(session: Session, project: Project, user_id: int) -> frozenset[Permission]:
    """Everything the user ``user_id`` may do to ``project`` through their roles."""
    held = roles_of(session, project, user_id)
    return frozenset(p for p, holders in GRANTS.items() if held & holders)


def may(session: Session, project: Project, actor: Actor, permission: Permission) -> bool:
    """Whether ``actor`` holds ``permission`` on ``project``."""
    return permission in permissions_of(session, project, actor)


def require(session: Session, project: Project, actor: Actor, permission: Permission) -> None:
    """Refuse (403) unless ``actor`` holds ``permission`` on ``project``; the refusal says which
    role would have allowed it."""
    if isinstance(actor, IndexAdmin):
        return
    user_id = _user_id(session, actor)
    held = roles_of(session, project, user_id) if user_id is not None else frozenset()
    require_roles(project, held, permission)


def require_user(session: Session, project: Project, user_id: int, permission: Permission) -> None:
    """:func:`require` for a user known by id (a signed-in browser, an API token)."""
    require_roles(project, roles_of(session, project, user_id), permission)


def require_roles(project: Project, held: frozenset[ProjectRole], permission: Permission) -> None:
    """Refuse (403) unless one of the ``held`` roles grants ``permission``."""
    if held & GRANTS[permission]:
        return
    if not held:
        raise Forbidden(f"you are not an owner or maintainer of {project.name!r}")
    roles = " or ".join(f"an {r}" if r == ProjectRole.OWNER else f"a {r}" for r in sorted(held))
    needed = " or ".join(
        f"an {r}" if r == ProjectRole.OWNER else f"a {r}" for r in sorted(GRANTS[permission])
    )
    raise Forbidden(f"only {needed} of {project.name} can {_DOING[permission]}; you are {roles}")


def allowed_on(session: Session, project: Project, user_id: int) -> frozenset[str]:
    """What the user may do to the project, for the pages to offer only those forms."""
    return frozenset(p.value for p in permissions_of_user(session, project, user_id))
