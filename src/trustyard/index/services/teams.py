"""Teams of an organisation (issue 20) and their roles on its projects, as PyPI's.

Warehouse ``organizations/models.py``: a ``Team`` belongs to one organisation, its name unique
there; ``TeamRole`` makes a user a member (its only role is Member; a member of a team is a
member of the organisation); ``TeamProjectRole`` gives the team Owner or Maintainer on a
project of the organisation, which every member holds. Here a team may also be a ``reader``.
:func:`roles.roles_of` collects team roles with the others.

Who may do what: the organisation's owners and managers create and delete teams and change
their members (warehouse ``OrganizationTeamsManage``), but only an owner of every project a
team has a role on adds members to it (joining grants those roles); a team's role on a
project is given by someone who may manage the project's collaborators (its owners, among them
the organisation's owners), as warehouse's project collaborators page does, so that a manager
cannot make their own team an owner of a project they do not own. A team's role is refused on
a project outside its organisation (409).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.db.models import (
    Organisation,
    OrganisationMember,
    OrganisationProject,
    Project,
    Team,
    TeamMember,
    TeamProjectRole,
    TeamReaderPolicy,
    User,
)
from trustyard.index.services.accounts import find_user, utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.organisations import (
    MANAGERS,
    checked_name,
    get_organisation,
    organisation_of,
    require_org,
)
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


@dataclass(frozen=True)
class TeamView:
    """A team, its members and its roles on projects (project name, role)."""

    organisation: str
    name: str
    members: tuple[str, ...] = ()
    roles: tuple[tuple[str, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class TeamRoleView:
    """A team's role on one project, for the project's collaborators page."""

    organisation: str
    team: str
    role: str
    members: tuple[str, ...]


def get_team(session: Session, org: Organisation, name: str) -> Team:
    """The organisation's team called ``name`` (any spelling of its normal form); 404."""
    missing = NotFound(f"the organisation {org.name} has no team {name[:60]!r}")
    try:
        _display, normal = checked_name(name, "team")
    except InvalidInput:
        raise missing from None
    team = session.scalar(
        select(Team).where(Team.organisation_id == org.id, Team.normalized_name == normal)
    )
    if team is None:
        raise missing
    return team


def _members(session: Session, team: Team) -> tuple[str, ...]:
    return tuple(
        session.scalars(
            select(User.username)
            .join(TeamMember, TeamMember.user_id == User.id)
            .where(TeamMember.team_id == team.id)
            .order_by(User.username)
        )
    )


def _roles(session: Session, team: Team) -> tuple[tuple[str, str], ...]:
    rows = session.execute(
        select(Project.name, TeamProjectRole.role)
        .join(TeamProjectRole, TeamProjectRole.project_id == Project.id)
        .where(TeamProjectRole.team_id == team.id)
        .order_by(Project.normalized_name)
    ).all()
    return tuple((name, role) for name, role in rows)


def _view(session: Session, org: Organisation, team: Team) -> TeamView:
    return TeamView(org.name, team.name, _members(session, team), _roles(session, team))


def list_teams(session: Session, org_name: str) -> list[TeamView]:
    """The organisation's teams, by name, with members and project roles."""
    org = get_organisation(session, org_name)
    teams = session.scalars(
        select(Team).where(Team.organisation_id == org.id).order_by(Team.normalized_name)
    ).all()
    return [_view(session, org, team) for team in teams]


def create_team(
    session: Session, org_name: str, name: str, *, actor: Actor, now: datetime | None = None
) -> TeamView:
    """A new, empty team (owners and managers, 403); a taken name is a 409."""
    org = get_organisation(session, org_name)
    require_org(session, org, actor, MANAGERS, "create teams")
    display, normal = checked_name(name, "team")
    taken = session.scalar(
        select(Team).where(Team.organisation_id == org.id, Team.normalized_name == normal)
    )
    if taken is not None:
        raise Conflict(f"{org.name} already has a team {taken.name}")
    team = Team(
        organisation_id=org.id, name=display, normalized_name=normal, created=now or utcnow()
    )
    session.add(team)
    session.flush()
    record(
        session, action=f"organisation {org.name}: create team {display}", actor=actor_name(actor)
    )
    return _view(session, org, team)


def delete_team(session: Session, org_name: str, name: str, *, actor: Actor) -> TeamView:
    """Delete a team with its memberships, project roles and reader policies (owners and
    managers, 403: the policies only ever read what the team's roles reach)."""
    org = get_organisation(session, org_name)
    require_org(session, org, actor, MANAGERS, "delete teams")
    team = get_team(session, org, name)
    view = _view(session, org, team)
    session.execute(delete(TeamReaderPolicy).where(TeamReaderPolicy.team_id == team.id))
    session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    session.execute(delete(TeamProjectRole).where(TeamProjectRole.team_id == team.id))
    session.delete(team)
    record(
        session, action=f"organisation {org.name}: delete team {team.name}", actor=actor_name(actor)
    )
    return view


def add_member(
    session: Session,
    org_name: str,
    team_name: str,
    username: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> None:
    """Put a member of the organisation on the team (owners and managers, 403); someone
    outside the organisation (409: invite them first) or on the team already (409)."""
    org = get_organisation(session, org_name)
    require_org(session, org, actor, MANAGERS, "change teams")
    team = get_team(session, org, team_name)
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"no user named {username[:100]!r}")
    if session.get(OrganisationMember, (org.id, user.id)) is None:
        raise Conflict(
            f"{user.username} is not a member of {org.name}: invite them to the organisation first"
        )
    if session.get(TeamMember, (team.id, user.id)) is not None:
        raise Conflict(f"{user.username} is already on the team {team.name}")
    _require_owner_of_team_projects(session, team, actor)
    session.add(TeamMember(team_id=team.id, user_id=user.id, created=now or utcnow()))
    record(
        session,
        action=f"organisation {org.name}: add {user.username} to team {team.name}",
        actor=actor_name(actor),
    )


def _require_owner_of_team_projects(session: Session, team: Team, actor: Actor) -> None:
    """Joining a team grants its roles, so whoever adds a member must own each project the
    team has a role on (403): otherwise a manager could add themselves to a team that owns a
    project they do not, and own it. The organisation's owners own them all. (Warehouse lets
    any manager; here the stricter rule, as a team role itself is given only by an owner.)"""
    for project_name, role in _roles(session, team):
        project = get_project(session, project_name)
        if not may(session, project, actor, Permission.MANAGE_COLLABORATORS):
            raise Forbidden(
                f"the team {team.name} is {_article(role)} of {project.name}: only an owner of"
                f" {project.name} may add members to it"
            )


def remove_member(
    session: Session, org_name: str, team_name: str, username: str, *, actor: Actor
) -> None:
    """Take a user off the team (owners and managers; anyone may leave a team); 404 if they
    are not on it. The team's roles stop being theirs at once."""
    org = get_organisation(session, org_name)
    if not isinstance(actor, str) or actor.lower() != username.lower():
        require_org(session, org, actor, MANAGERS, "change teams")
    team = get_team(session, org, team_name)
    user = find_user(session, username)
    row = session.get(TeamMember, (team.id, user.id)) if user is not None else None
    if user is None or row is None:
        raise NotFound(f"the team {team.name} has no member {username[:100]!r}")
    session.delete(row)
    record(
        session,
        action=f"organisation {org.name}: remove {user.username} from team {team.name}",
        actor=actor_name(actor),
    )


def set_team_role(
    session: Session,
    org_name: str,
    team_name: str,
    project_name: str,
    role: str | None,
    *,
    actor: Actor,
) -> str:
    """Give the team exactly ``role`` on the project (None: no role). Only someone who may
    manage the project's collaborators does (403); the project must belong to the team's
    organisation (409); setting the role it has is a 409, removing one it lacks a 404.
    Returns the journal's words."""
    checked = checked_role(role) if role is not None else None
    org = get_organisation(session, org_name)
    team = get_team(session, org, team_name)
    project = get_project(session, project_name)
    require(session, project, actor, Permission.MANAGE_COLLABORATORS)
    owner = organisation_of(session, project)
    if owner is None or owner.id != org.id:
        raise Conflict(
            f"{project.name} is not a project of {org.name}: a team has roles only on its"
            " organisation's projects (add the project to the organisation first)"
        )
    row = session.get(TeamProjectRole, (team.id, project.id))
    if checked is None:
        if row is None:
            raise NotFound(f"the team {team.name} has no role on {project.name}")
        session.delete(row)
        action = f"remove team {org.name}/{team.name} ({row.role})"
    elif row is None:
        session.add(TeamProjectRole(team_id=team.id, project_id=project.id, role=checked.value))
        action = f"add team {org.name}/{team.name} as {checked}"
    elif row.role == checked:
        raise Conflict(f"the team {team.name} is already {_article(checked)} of {project.name}")
    else:
        action = f"change role of team {org.name}/{team.name} from {row.role} to {checked}"
        row.role = checked.value
    record(session, action=action, actor=actor_name(actor), project=project)
    return action


def _article(role: str) -> str:
    return f"an {role}" if role == ProjectRole.OWNER else f"a {role}"


def team_roles_on(session: Session, project: Project) -> list[TeamRoleView]:
    """The teams with a role on the project (only those of its organisation count), each
    with its members, for the collaborators page."""
    rows = session.execute(
        select(Organisation.name, Team, TeamProjectRole.role)
        .join(Team, Team.id == TeamProjectRole.team_id)
        .join(Organisation, Organisation.id == Team.organisation_id)
        .join(
            OrganisationProject,
            (OrganisationProject.project_id == TeamProjectRole.project_id)
            & (OrganisationProject.organisation_id == Team.organisation_id),
        )
        .where(TeamProjectRole.project_id == project.id)
        .order_by(Team.normalized_name)
    ).all()
    return [TeamRoleView(org, team.name, role, _members(session, team)) for org, team, role in rows]


def projects_through_teams(session: Session, user_id: int) -> list[str]:
    """Names of the projects the user has a role on through a team or as an owner of the
    organisation that owns them (the account page lists them with their own)."""
    via_team = (
        select(Project.normalized_name, Project.name)
        .join(TeamProjectRole, TeamProjectRole.project_id == Project.id)
        .join(TeamMember, TeamMember.team_id == TeamProjectRole.team_id)
        .join(Team, Team.id == TeamProjectRole.team_id)
        .join(
            OrganisationProject,
            (OrganisationProject.project_id == Project.id)
            & (OrganisationProject.organisation_id == Team.organisation_id),
        )
        .where(TeamMember.user_id == user_id)
    )
    via_org = (
        select(Project.normalized_name, Project.name)
        .join(OrganisationProject, OrganisationProject.project_id == Project.id)
        .join(
            OrganisationMember,
            OrganisationMember.organisation_id == OrganisationProject.organisation_id,
        )
        .where(OrganisationMember.user_id == user_id, OrganisationMember.role == "owner")
    )
    rows = session.execute(via_team.union(via_org)).all()
    return [name for _normal, name in sorted(rows)]
