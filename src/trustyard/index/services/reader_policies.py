"""Reader policies: CI identities that may mint read tokens for a project or for every project
of a team (Trusted Reading).

A policy is a publisher configuration of any kind in ``oidc/publishers/`` (the same fields,
the same checks, the same issuer allow-list), stored apart from the project's publishers: it
lets a CI job *read* (install from a private index) and nothing else. A project's active
publishers may read it without a policy (an identity trusted to publish is trusted to read
what it publishes); a policy is for the others: a test workflow, another repository's CI that
depends on the project.

A *project's* policy is managed by the project's owners, as they manage publishers
(``Permission.MANAGE_PUBLISHERS``). A *team's* policy (issue 20: "a separate reader policy
per project/team") lets the identity read every project the team holds a role on, looked up
at each read (:func:`team_policies_may_read`), so a project leaving the team, or the
organisation, takes the access along, and a project given to the team brings it. Only the
organisation's owners manage a team's policies: they own every project of the organisation,
so the policy never reaches a project its author could not have let read anyway (a manager,
who may not own them all, may see the policies but not change them). Whoever gives a team a
role on a project lets the team's policies read it, as they let the team's members.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, NotFound
from trustyard.index.db.models import (
    Organisation,
    OrganisationProject,
    Project,
    ReaderPolicy,
    Team,
    TeamProjectRole,
    TeamReaderPolicy,
    TokenTeamReader,
)
from trustyard.index.services import issuers, organisations, teams
from trustyard.index.services.accounts import utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.projects import get_project
from trustyard.index.services.publishers import checked_config, kind_of
from trustyard.index.services.roles import Actor, Permission, actor_name, require

MAX_POLICIES = 50  # per project or team: each is a candidate row in every read exchange

Policy = ReaderPolicy | TeamReaderPolicy
P = TypeVar("P", ReaderPolicy, TeamReaderPolicy)


@dataclass(frozen=True)
class ReaderPolicyView:
    """A reader policy as the CLI and the web pages list it; ``project`` names the project,
    or ``ORG/TEAM`` for a team's policy."""

    id: int
    project: str
    kind: str
    issuer: str
    description: str
    added_by: str


def _new_policy(
    session: Session,
    model: type[P],
    belongs: ColumnElement[bool],
    holder: str,
    *,
    kind_name: str,
    config: dict[str, str],
    actor: Actor,
    **owner: int,
) -> tuple[P, str]:
    """Store a new policy of ``holder`` (``owner``: its project or team column) and say what
    it is for the journal, unless it copies one ``holder`` has or ``holder`` has
    :data:`MAX_POLICIES` already (409); 400/403 from the kind and the issuer allow-list."""
    kind = kind_of(kind_name)
    issuer, cleaned = checked_config(kind, config)
    issuers.require_allowed(session, issuer)
    existing = session.scalars(select(model).where(belongs)).all()
    for other in existing:
        if other.kind == kind.name and other.issuer == issuer and other.config == cleaned:
            raise Conflict(f"{holder} already has this reader policy ({other.id})")
    if len(existing) >= MAX_POLICIES:
        raise Conflict(f"{holder} has {MAX_POLICIES} reader policies, the most it may have")
    policy = model(
        kind=kind.name,
        issuer=issuer,
        lookup=kind.lookup_of_config(cleaned),
        config=cleaned,
        added_by=actor_name(actor),
        created=utcnow(),
        **owner,
    )
    session.add(policy)
    session.flush()
    return policy, f"add reader policy {policy.id}: {kind.describe(cleaned)} ({issuer})"


def _views(rows: list[Policy], holder: str) -> list[ReaderPolicyView]:
    return [
        ReaderPolicyView(
            id=row.id,
            project=holder,
            kind=row.kind,
            issuer=row.issuer,
            description=kind_of(row.kind).describe(row.config),
            added_by=row.added_by,
        )
        for row in rows
    ]


def add_reader_policy(
    session: Session, project_name: str, kind_name: str, config: dict[str, str], *, actor: Actor
) -> ReaderPolicy:
    """Let a CI identity mint read tokens for ``project_name``; only its owners may (403)."""
    project = get_project(session, project_name)
    require(session, project, actor, Permission.MANAGE_PUBLISHERS)
    policy, words = _new_policy(
        session,
        ReaderPolicy,
        ReaderPolicy.project_id == project.id,
        project.name,
        kind_name=kind_name,
        config=config,
        actor=actor,
        project_id=project.id,
    )
    record(session, action=words, actor=actor_name(actor), project=project)
    return policy


def list_reader_policies(
    session: Session, project_name: str, *, actor: Actor
) -> list[ReaderPolicyView]:
    """The project's reader policies; its collaborators (and the host) may see them."""
    project = get_project(session, project_name)
    require(session, project, actor, Permission.VIEW_SETTINGS)
    rows = session.scalars(
        select(ReaderPolicy).where(ReaderPolicy.project_id == project.id).order_by(ReaderPolicy.id)
    ).all()
    return _views(list(rows), project.name)


def remove_reader_policy(
    session: Session, project_name: str, policy_id: int, *, actor: Actor
) -> None:
    """Remove a policy; the read tokens minted through it lose this project at once."""
    project = get_project(session, project_name)
    require(session, project, actor, Permission.MANAGE_PUBLISHERS)
    policy = session.get(ReaderPolicy, policy_id)
    if policy is None or policy.project_id != project.id:
        raise NotFound(f"project {project.name!r} has no reader policy {policy_id}")
    session.delete(policy)
    record(
        session,
        action=f"remove reader policy {policy_id}",
        actor=actor_name(actor),
        project=project,
    )


# -- a team's policies ----------------------------------------------------------------------


def _team(session: Session, org_name: str, team_name: str, actor: Actor, *, change: bool) -> Team:
    """The team, once ``actor`` may see (owners and managers) or ``change`` (owners) its
    policies; 403 otherwise, 404 for no such organisation or team."""
    org = organisations.get_organisation(session, org_name)
    allowed = organisations.OWNERS if change else organisations.MANAGERS
    doing = "change a team's reader policies" if change else "see a team's reader policies"
    organisations.require_org(session, org, actor, allowed, doing)
    return teams.get_team(session, org, team_name)


def _team_label(session: Session, team: Team) -> str:
    org = session.get_one(Organisation, team.organisation_id)
    return f"{org.name}/{team.name}"


def add_team_reader_policy(
    session: Session,
    org_name: str,
    team_name: str,
    kind_name: str,
    config: dict[str, str],
    *,
    actor: Actor,
) -> TeamReaderPolicy:
    """Let a CI identity mint read tokens for every project of the team (organisation owners
    only, 403); journalled on the organisation."""
    team = _team(session, org_name, team_name, actor, change=True)
    label = _team_label(session, team)
    policy, words = _new_policy(
        session,
        TeamReaderPolicy,
        TeamReaderPolicy.team_id == team.id,
        f"the team {label}",
        kind_name=kind_name,
        config=config,
        actor=actor,
        team_id=team.id,
    )
    record(session, action=f"team {label}: {words}", actor=actor_name(actor))
    return policy


def list_team_reader_policies(
    session: Session, org_name: str, team_name: str, *, actor: Actor
) -> list[ReaderPolicyView]:
    """The team's reader policies (the organisation's owners and managers, 403)."""
    team = _team(session, org_name, team_name, actor, change=False)
    rows = session.scalars(
        select(TeamReaderPolicy)
        .where(TeamReaderPolicy.team_id == team.id)
        .order_by(TeamReaderPolicy.id)
    ).all()
    return _views(list(rows), _team_label(session, team))


def remove_team_reader_policy(
    session: Session, org_name: str, team_name: str, policy_id: int, *, actor: Actor
) -> None:
    """Remove a team's policy: the tokens minted through it lose the team's projects at once."""
    team = _team(session, org_name, team_name, actor, change=True)
    label = _team_label(session, team)
    policy = session.get(TeamReaderPolicy, policy_id)
    if policy is None or policy.team_id != team.id:
        raise NotFound(f"the team {label} has no reader policy {policy_id}")
    session.delete(policy)
    record(
        session, action=f"team {label}: remove reader policy {policy_id}", actor=actor_name(actor)
    )


def team_projects_of_token(token_id: str) -> Select[int]:
    """The ids of the projects the token reads through team policies, as of now: each team's
    roles on projects that still belong to the team's organisation (as ``roles_of`` counts
    team roles)."""
    return (
        select(TeamProjectRole.project_id)
        .join(TeamReaderPolicy, TeamReaderPolicy.team_id == TeamProjectRole.team_id)
        .join(TokenTeamReader, TokenTeamReader.team_reader_policy_id == TeamReaderPolicy.id)
        .join(Team, Team.id == TeamProjectRole.team_id)
        .join(
            OrganisationProject,
            (OrganisationProject.project_id == TeamProjectRole.project_id)
            & (OrganisationProject.organisation_id == Team.organisation_id),
        )
        .where(TokenTeamReader.token_id == token_id)
    )


def team_policies_may_read(session: Session, token_id: str, project_id: int) -> bool:
    """Whether a minted read token reads ``project_id`` through a team's policy it matched."""
    query = team_projects_of_token(token_id).where(TeamProjectRole.project_id == project_id)
    return session.scalar(query.limit(1)) is not None


def team_policy_projects(session: Session, token_id: str) -> list[Project]:
    """The projects a minted read token reads through team policies now, by normal name."""
    ids = team_projects_of_token(token_id)
    return list(
        session.scalars(
            select(Project).where(Project.id.in_(ids)).order_by(Project.normalized_name)
        )
    )


def link_team_policies(
    session: Session, token_id: str, matched: list[TeamReaderPolicy]
) -> list[Project]:
    """Bind a token being minted to the team policies its ID token matched; the projects it
    may read through them now (for the journal)."""
    session.add_all(
        TokenTeamReader(token_id=token_id, team_reader_policy_id=row.id) for row in matched
    )
    session.flush()
    return team_policy_projects(session, token_id)
