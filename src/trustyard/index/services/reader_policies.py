"""Reader policies: CI identities that may mint read tokens for a project (Trusted Reading).

A policy is a publisher configuration of any kind in ``oidc/publishers/`` (the same fields,
the same checks, the same issuer allow-list), stored apart from the project's publishers: it
lets a CI job *read* the project (install it from a private index) and nothing else. A
project's active publishers may read it without a policy (an identity trusted to publish is
trusted to read what it publishes); a policy is for the others: a test workflow, another
repository's CI that depends on the project. Only the project's owners manage them, as they
manage publishers (``Permission.MANAGE_PUBLISHERS``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, NotFound
from trustyard.index.db.models import ReaderPolicy
from trustyard.index.services import issuers
from trustyard.index.services.accounts import utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.projects import get_project
from trustyard.index.services.publishers import checked_config, kind_of
from trustyard.index.services.roles import Actor, Permission, actor_name, require

MAX_POLICIES = 50  # per project: each is a candidate row in every read exchange of its issuer


@dataclass(frozen=True)
class ReaderPolicyView:
    """A reader policy as the CLI and the web page list it."""

    id: int
    project: str
    kind: str
    issuer: str
    description: str
    added_by: str


def add_reader_policy(
    session: Session, project_name: str, kind_name: str, config: dict[str, str], *, actor: Actor
) -> ReaderPolicy:
    """Let a CI identity mint read tokens for ``project_name``; only its owners may (403)."""
    project = get_project(session, project_name)
    require(session, project, actor, Permission.MANAGE_PUBLISHERS)
    kind = kind_of(kind_name)
    issuer, cleaned = checked_config(kind, config)
    issuers.require_allowed(session, issuer)
    existing = session.scalars(
        select(ReaderPolicy).where(ReaderPolicy.project_id == project.id)
    ).all()
    for other in existing:
        if other.kind == kind.name and other.issuer == issuer and other.config == cleaned:
            raise Conflict(f"{project.name} already has this reader policy ({other.id})")
    if len(existing) >= MAX_POLICIES:
        raise Conflict(f"{project.name} has {MAX_POLICIES} reader policies, the most it may have")
    policy = ReaderPolicy(
        project_id=project.id,
        kind=kind.name,
        issuer=issuer,
        lookup=kind.lookup_of_config(cleaned),
        config=cleaned,
        added_by=actor_name(actor),
        created=utcnow(),
    )
    session.add(policy)
    session.flush()
    record(
        session,
        action=f"add reader policy {policy.id}: {kind.describe(cleaned)} ({issuer})",
        actor=actor_name(actor),
        project=project,
    )
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
    return [
        ReaderPolicyView(
            id=row.id,
            project=project.name,
            kind=row.kind,
            issuer=row.issuer,
            description=kind_of(row.kind).describe(row.config),
            added_by=row.added_by,
        )
        for row in rows
    ]


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
