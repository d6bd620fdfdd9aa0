"""A project's collaborators and their roles (PyPI's): owners manage everything, maintainers
upload and manage releases and publishers, but cannot add or remove owners or change roles.

Every rule is checked here, not in the pages: a project always keeps at least one owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.db.models import Project, Role, User
from trustyard.index.services.accounts import get_user
from trustyard.index.services.journal import record
from trustyard.index.services.projects import get_project

ROLES = ("owner", "maintainer")


@dataclass(frozen=True)
class Collaborator:
    """A user with a role on a project."""

    username: str
    role: str


def list_collaborators(session: Session, project_name: str) -> list[Collaborator]:
    """The project's owners (first) and maintainers, each by name."""
    project = get_project(session, project_name)
    rows = session.execute(
        select(User.username, Role.role)
        .join(Role, Role.user_id == User.id)
        .where(Role.project_id == project.id)
    ).all()
    ordered = sorted(rows, key=lambda r: (ROLES.index(r[1]) if r[1] in ROLES else 9, r[0]))
    return [Collaborator(username, role) for username, role in ordered]


def role_of(session: Session, project: Project, user_id: int) -> str | None:
    """The user's role on the project, None for a stranger."""
    row = session.get(Role, (user_id, project.id))
    return row.role if row is not None else None


def _acting_role(session: Session, project: Project, actor: str) -> str:
    role = role_of(session, project, get_user(session, actor).id)
    if role is None:
        raise Forbidden(f"you are not an owner or maintainer of {project.name!r}")
    return role


def _owners(session: Session, project: Project) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(Role)
        .where(Role.project_id == project.id, Role.role == "owner")
    )
    return int(count or 0)


def add_collaborator(
    session: Session, project_name: str, username: str, role: str, *, actor: str
) -> Collaborator:
    """Give ``username`` a role on the project. Only owners may add owners (403 otherwise)."""
    if role not in ROLES:
        raise InvalidInput(f"the role must be one of {', '.join(ROLES)}, not {role[:40]!r}")
    project = get_project(session, project_name)
    acting = _acting_role(session, project, actor)
    if role == "owner" and acting != "owner":
        raise Forbidden("only an owner can add owners")
    try:
        user = get_user(session, username)
    except NotFound:
        raise NotFound(f"no user named {username[:100]!r}") from None
    existing = role_of(session, project, user.id)
    if existing is not None:
        raise Conflict(f"{user.username} is already a {existing} of {project.name}")
    session.add(Role(user_id=user.id, project_id=project.id, role=role))
    record(session, action=f"add {role} {user.username}", actor=actor, project=project)
    return Collaborator(user.username, role)


def remove_collaborator(session: Session, project_name: str, username: str, *, actor: str) -> None:
    """Take ``username``'s role away. Maintainers cannot remove owners (403); the last owner
    cannot be removed (409), so that someone can always manage the project."""
    project = get_project(session, project_name)
    acting = _acting_role(session, project, actor)
    try:
        user = get_user(session, username)
    except NotFound:
        raise NotFound(f"{project.name} has no collaborator {username[:100]!r}") from None
    row = session.get(Role, (user.id, project.id))
    if row is None:
        raise NotFound(f"{project.name} has no collaborator {username[:100]!r}")
    if row.role == "owner" and acting != "owner":
        raise Forbidden("only an owner can remove owners")
    if row.role == "owner" and _owners(session, project) <= 1:
        raise Conflict(f"{user.username} is the last owner of {project.name}: add another first")
    session.delete(row)
    record(session, action=f"remove {row.role} {user.username}", actor=actor, project=project)


def change_role(
    session: Session, project_name: str, username: str, role: str, *, actor: str
) -> Collaborator:
    """Change ``username``'s role in place (warehouse ``change_project_role``): only owners
    change roles (403), the role must be a known one (400) and differ from the current (409),
    and the last owner cannot be demoted (409)."""
    if role not in ROLES:
        raise InvalidInput(f"the role must be one of {', '.join(ROLES)}, not {role[:40]!r}")
    project = get_project(session, project_name)
    if _acting_role(session, project, actor) != "owner":
        raise Forbidden("only an owner can change roles")
    try:
        user = get_user(session, username)
    except NotFound:
        raise NotFound(f"{project.name} has no collaborator {username[:100]!r}") from None
    row = session.get(Role, (user.id, project.id))
    if row is None:
        raise NotFound(f"{project.name} has no collaborator {username[:100]!r}")
    if row.role == role:
        article = "an" if role == "owner" else "a"
        raise Conflict(f"{user.username} is already {article} {role} of {project.name}")
    if row.role == "owner" and _owners(session, project) <= 1:
        raise Conflict(
            f"{user.username} is the last owner of {project.name}: make another owner first"
        )
    previous, row.role = row.role, role
    record(
        session,
        action=f"change role of {user.username} from {previous} to {role}",
        actor=actor,
        project=project,
    )
    return Collaborator(user.username, role)
