"""Who may read what (issue 20): the one rule every read surface, listing, search and page asks.

A project is *public* or *private* (``projects.visibility``); the index as a whole is public or
private (the ``private`` setting, ``serve --private``). The rule:

- a public project on a public index: anyone;
- a public project on a private index: any reader who presented valid credentials (the
  index-wide part is enforced before any handler runs, by the surface's read gate in
  :mod:`trustyard.index.surfaces`: no anonymous request reaches a read route);
- a private project: the user's roles (:attr:`~roles.Permission.READ`: owners and maintainers;
  teams add a Reader role), never a token scoped to another project; a Trusted Publishing
  token reads the projects of the publishers it matched; a Trusted Reading token what it was
  minted for; an admin of the index reads everything.

Reads accept API tokens (or a signed-in browser's session), never account passwords: an
argon2 verification per request would be a denial-of-service lever and a way around a second
factor. An anonymous reader refused is 401 (:class:`CredentialsRequired`, which every API
surface answers with ``WWW-Authenticate: Basic``), never 404: uv moves on to its next index
after a 404, which would be dependency confusion. A known reader refused is 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, and_, not_, or_, select, true
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from trustyard.index.db.models import Project, Publisher, TokenPublisher, TokenReader, User
from trustyard.index.services import reader_policies, trusted_reading
from trustyard.index.services.accounts import (
    DISABLED_MARK,
    Identity,
    authenticate_token,
    is_disabled,
)
from trustyard.index.services.journal import record
from trustyard.index.services.projects import get_project
from trustyard.index.services.publishers import token_publisher
from trustyard.index.services.roles import (
    GRANTS,
    Actor,
    Permission,
    actor_name,
    held_roles,
    permissions_of_user,
)
from trustyard.index.services.roles import require as require_permission

REALM = "trustyard"
CHALLENGE = f'Basic realm="{REALM}"'  # RFC 7617: what a 401 of a read surface sends


class Visibility(StrEnum):
    """A project's visibility, as stored in ``projects.visibility``."""

    PUBLIC = "public"
    PRIVATE = "private"


class CredentialsRequired(Unauthenticated):
    """A read that needs credentials the request did not carry, or carried invalid (401: the
    surfaces add ``WWW-Authenticate``; the web pages redirect to the sign-in page instead)."""

    status = 401


@dataclass(frozen=True)
class Reader:
    """Who reads: anonymous (neither field), the :class:`Identity` of a presented API token, or
    a user signed in on the web pages (``user_id`` and ``username`` without ``identity``)."""

    identity: Identity | None = None
    user_id: int | None = None
    username: str | None = None
    # Why credentials the request carried were not taken (a public index reads on as
    # anonymous): said again if a private project then refuses the reader.
    rejected: str | None = None

    @property
    def anonymous(self) -> bool:
        """Whether the request carried no credentials at all."""
        return self.identity is None and self.user_id is None

    @property
    def name(self) -> str:
        """How refusals name the reader."""
        if self.identity is not None:
            return self.identity.username
        return self.username or "anonymous"


ANONYMOUS = Reader()


def token_reader(session: Session, token: str) -> Reader:
    """The reader a presented API token stands for; 401 for a malformed, unknown, revoked or
    expired token (a read with bad credentials is refused, never treated as anonymous)."""
    try:
        identity = authenticate_token(session, token)
    except Unauthenticated as exc:
        raise CredentialsRequired(exc.message) from exc
    return Reader(identity=identity, user_id=identity.user_id, username=identity.username)


def user_reader(user_id: int, username: str) -> Reader:
    """The reader of a signed-in browser."""
    return Reader(user_id=user_id, username=username)


def is_private(project: Project) -> bool:
    """Whether the project is private (only :func:`can_read`'s readers see its contents)."""
    return project.visibility == Visibility.PRIVATE


def _is_index_admin(session: Session, user_id: int) -> bool:
    user = session.get(User, user_id)
    return user is not None and bool(user.is_admin) and not is_disabled(user)


def _token_may_read(session: Session, identity: Identity, project: Project) -> bool | None:
    """What the token itself decides about reading ``project`` (a private one): False when
    its scope excludes the project, True or False for a token acting for a CI identity, None
    when the token's user's rights decide."""
    if identity.project_id is not None and identity.project_id != project.id:
        return False
    if identity.publisher_identity is not None:
        return token_publisher(session, identity.token_id, project.id) is not None
    if identity.reader_identity is not None:
        # A token minted by Trusted Reading reads only what it was minted for.
        return trusted_reading.may_read(session, identity.token_id, project.id)
    return None


def can_read(session: Session, project: Project, reader: Reader) -> bool:
    """Whether ``reader`` may read ``project``'s contents (pages, files, metadata, provenance).

    A public project is readable here by anyone: on a private index the read gate has already
    refused every anonymous request (see the module's docstring).
    """
    if not is_private(project):
        return True
    if reader.anonymous:
        return False
    if reader.identity is not None:
        decided = _token_may_read(session, reader.identity, project)
        if decided is not None:
            return decided
    if reader.user_id is None:
        return False
    if _is_index_admin(session, reader.user_id):
        return True
    return Permission.READ in permissions_of_user(session, project, reader.user_id)


def require_read(session: Session, project: Project, reader: Reader) -> None:
    """Refuse unless :func:`can_read`: 401 for an anonymous reader, 403 for a known one."""
    if can_read(session, project, reader):
        return
    if reader.anonymous:
        why = f" (the credentials sent were refused: {reader.rejected})" if reader.rejected else ""
        raise CredentialsRequired(
            f"{project.name} is private: send an API token (HTTP Basic, the token as the"
            f" password) that may read it{why}"
        )
    raise Forbidden(f"{reader.name} may not read the private project {project.name}")


def hidden_from(session: Session, reader: Reader) -> frozenset[int]:
    """The ids of the private projects ``reader`` may not read, for listings to leave out: one
    statement (:func:`hidden_statement`), whatever the number of private projects."""
    return frozenset(session.scalars(hidden_statement(reader)))


def hidden_statement(reader: Reader) -> Select[int]:
    """The ids of the private projects ``reader`` may not read, as one statement (issue 20).

    It is :func:`can_read` in sets, clause by clause in the same order: a token scoped to a
    project reads no other; a Trusted Publishing token the projects of the publishers it
    matched; a Trusted Reading token those it was minted for (``token_readers``) and those of
    the teams whose reader policies it matched (``reader_policies.team_projects_of_token``); else an
    enabled admin reads every project and a user the projects where a role of theirs
    (:func:`roles.held_roles`: direct, through teams, as an organisation's owner) grants READ.
    ``tests/index/test_private_reads.py`` compares the two for every identity of its matrix.
    """
    private = select(Project.id).where(Project.visibility == Visibility.PRIVATE)
    readable = _readable_projects(reader)
    return private if readable is None else private.where(not_(readable))


def _readable_projects(reader: Reader) -> ColumnElement[bool] | None:
    """A condition on ``projects.id`` true for the private projects ``reader`` may read; None
    when they may read none. Every subquery's column is NOT NULL (``NOT IN`` a set holding a
    NULL is never true: a pending publisher's NULL project would hide nothing)."""
    if reader.anonymous:
        return None
    scope: ColumnElement[bool] = true()
    identity = reader.identity
    if identity is not None:
        if identity.project_id is not None:
            scope = Project.id == identity.project_id
        if identity.publisher_identity is not None:
            published = (
                select(Publisher.project_id)
                .join(TokenPublisher, TokenPublisher.publisher_id == Publisher.id)
                .where(
                    TokenPublisher.token_id == identity.token_id,
                    Publisher.project_id.is_not(None),
                )
            )
            return and_(scope, Project.id.in_(published))
        if identity.reader_identity is not None:
            minted_for = select(TokenReader.project_id).where(
                TokenReader.token_id == identity.token_id
            )
            by_team = reader_policies.team_projects_of_token(identity.token_id)
            return and_(scope, or_(Project.id.in_(minted_for), Project.id.in_(by_team)))
    if reader.user_id is None:
        return None
    admin = (
        select(User.id)
        .where(
            User.id == reader.user_id,
            User.is_admin.is_(True),
            not_(User.password_hash.startswith(DISABLED_MARK, autoescape=True)),
        )
        .exists()
    )
    held = held_roles(reader.user_id).subquery()
    granting = [role.value for role in GRANTS[Permission.READ]]
    by_role = select(held.c.project_id).where(held.c.role.in_(granting))
    return and_(scope, or_(admin, Project.id.in_(by_role)))


def checked_visibility(value: str) -> Visibility:
    """``value`` as a :class:`Visibility`; 400 naming the choices for anything else."""
    try:
        return Visibility(value)
    except ValueError:
        raise InvalidInput(
            f"the visibility must be public or private, not {value[:40]!r}"
        ) from None


def set_visibility(session: Session, name: str, visibility: str, *, actor: Actor) -> Project:
    """Make the project private or public: owners and the index's authority only, journalled,
    the serial moved (so every cached page of it is rendered, and checked, again); 409 when
    it already is."""
    wanted = checked_visibility(visibility)
    project = get_project(session, name)
    require_permission(session, project, actor, Permission.SET_VISIBILITY)
    if project.visibility == wanted:
        raise Conflict(f"{project.name} is already {wanted.value}")
    project.visibility = wanted.value
    record(
        session, action=f"set visibility {wanted.value}", actor=actor_name(actor), project=project
    )
    return project
