"""A project's collaborators and their roles (PyPI's; the table is in :mod:`.roles`): owners
invite (:mod:`.invitations`), remove and change collaborators; maintainers upload, and may
leave. Only the host adds a collaborator directly.

Every rule is checked here, not in the pages or the CLI: a project always keeps at least one
owner (only the host may force it otherwise). A collaborator's role is not all they leave
behind: the trusted publishers they registered keep minting upload tokens after they are gone
(issue 14, finding 3). Removing a collaborator therefore lists what they set up for the project
(:func:`leftovers_of`) and removes the chosen part in the same transaction, journalled.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, Forbidden, NotFound
from trustyard.index.db.models import JournalEntry, Project, Role, Token, User
from trustyard.index.services import invitations, organisations, publishers, teams
from trustyard.index.services.accounts import TokenView, get_user, utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.projects import get_project
from trustyard.index.services.publishers import PublisherView
from trustyard.index.services.roles import (
    Actor,
    IndexAdmin,
    Permission,
    ProjectRole,
    actor_name,
    checked_role,
    may,
    require,
    require_user,
)

ROLES = tuple(role.value for role in ProjectRole)


@dataclass(frozen=True)
class Collaborator:
    """A user with a role on a project."""

    username: str
    role: str


@dataclass(frozen=True)
class Leftovers:
    """What a collaborator set up for a project that outlives their role: the trusted
    publishers they registered (active, or pending for its name), which mint upload tokens of
    their own, and their live API tokens scoped to the project (dead with the role, but alive
    again if the role ever came back). ``wide_tokens`` counts their live tokens for all of their
    projects: those stop working here with the role and stay theirs elsewhere."""

    publishers: list[PublisherView] = field(default_factory=list)
    tokens: list[TokenView] = field(default_factory=list)
    wide_tokens: int = 0
    # Who they gave a role that is still held (maintainers could, before PyPI's roles): shown,
    # not removed with them; an owner decides about each person.
    collaborators: list[Collaborator] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.publishers or self.tokens or self.collaborators)


@dataclass(frozen=True)
class Removal:
    """A collaborator about to be removed, and what they set up, for the confirmation page."""

    project: str
    collaborator: Collaborator
    leftovers: Leftovers
    may_remove_publishers: bool  # False for a maintainer leaving: owners remove publishers


@dataclass(frozen=True)
class RoleChange:
    """What ``set_role`` did: the journal's words, what went with a removed role, and what the
    removed user set up that stays (for the host to remove, or keep, knowingly)."""

    action: str
    removed: Leftovers = field(default_factory=Leftovers)
    kept: Leftovers = field(default_factory=Leftovers)


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


def owner_count(session: Session, project: Project) -> int:
    """How many owners the project has."""
    count = session.scalar(
        select(func.count())
        .select_from(Role)
        .where(Role.project_id == project.id, Role.role == ProjectRole.OWNER.value)
    )
    return int(count or 0)


def _collaborator(session: Session, project: Project, username: str) -> tuple[User, Role]:
    missing = NotFound(f"{project.name} has no collaborator {username[:100]!r}")
    try:
        user = get_user(session, username)
    except NotFound:
        raise missing from None
    row = session.get(Role, (user.id, project.id))
    if row is None:
        raise missing
    return user, row


def _keep_an_owner(
    session: Session, project: Project, user: User, row: Role, *, actor: Actor, force: bool
) -> str:
    """Refuse (409) to take the last owner's ownership away, so that someone can always manage
    the project; the host may ``force`` it (the project then has no owner: only the host can
    grant one). Returns what the journal adds to the entry."""
    if row.role != ProjectRole.OWNER or owner_count(session, project) > 1:
        return ""
    if organisations.owned_by_an_organisation(session, project):
        return ""  # the organisation's owners own it (and an organisation keeps an owner)
    if force and isinstance(actor, IndexAdmin):
        return " (the last owner, forced)"
    hint = (
        "; --force leaves the project without an owner (then only the host can grant one)"
        if isinstance(actor, IndexAdmin)
        else ""
    )
    raise Conflict(
        f"{user.username} is the last owner of {project.name}: make another owner first{hint}"
    )


def add_collaborator(
    session: Session, project_name: str, username: str, role: str, *, actor: Actor
) -> Collaborator:
    """Give ``username`` a role on the project directly: the host's authority only (403 for
    anyone else: owners invite, and the invitee accepts, :mod:`.invitations`). A pending
    invitation of the user is superseded by the grant."""
    checked = checked_role(role)
    project = get_project(session, project_name)
    require(session, project, actor, Permission.MANAGE_COLLABORATORS)
    if not isinstance(actor, IndexAdmin):
        raise Forbidden(
            f"owners invite collaborators to {project.name}, and each becomes one by accepting:"
            " send an invitation from the project's collaborators page"
        )
    try:
        user = get_user(session, username)
    except NotFound:
        raise NotFound(f"no user named {username[:100]!r}") from None
    existing = role_of(session, project, user.id)
    if existing is not None:
        raise Conflict(f"{user.username} is already a {existing} of {project.name}")
    invitations.drop_superseded(session, project, user, actor=actor)
    session.add(Role(user_id=user.id, project_id=project.id, role=checked.value))
    record(
        session, action=f"add {checked} {user.username}", actor=actor_name(actor), project=project
    )
    return Collaborator(user.username, checked.value)


def change_role(
    session: Session,
    project_name: str,
    username: str,
    role: str,
    *,
    actor: Actor,
    force: bool = False,
) -> Collaborator:
    """Change ``username``'s role in place (warehouse ``change_project_role``): only owners
    change roles (403), the role must be a known one (400) and differ from the current (409),
    and the last owner cannot be demoted (409)."""
    checked = checked_role(role)
    project = get_project(session, project_name)
    require(session, project, actor, Permission.MANAGE_COLLABORATORS)
    user, row = _collaborator(session, project, username)
    if row.role == checked:
        article = "an" if checked == ProjectRole.OWNER else "a"
        raise Conflict(f"{user.username} is already {article} {checked} of {project.name}")
    forced = _keep_an_owner(session, project, user, row, actor=actor, force=force)
    previous, row.role = row.role, checked.value
    record(
        session,
        action=f"change role of {user.username} from {previous} to {checked}{forced}",
        actor=actor_name(actor),
        project=project,
    )
    return Collaborator(user.username, checked.value)


def _collaborators_added_by(session: Session, project: Project, user: User) -> list[Collaborator]:
    """The collaborators whose role ``user`` granted, read from the journal's newest
    ``add ROLE NAME`` (what :func:`add_collaborator` writes) or ``invite ROLE NAME`` entry
    (:func:`.invitations.invite`; the role comes with its acceptance) for each name."""
    granted_by: dict[str, str | None] = {}
    rows = session.execute(
        select(JournalEntry.action, JournalEntry.actor)
        .where(
            JournalEntry.project_name == project.normalized_name,
            or_(JournalEntry.action.like("add %"), JournalEntry.action.like("invite %")),
        )
        .order_by(JournalEntry.id)
    )
    for action, actor in rows:
        words = action.split(" ")
        if len(words) == 3 and words[1] in ROLES:
            granted_by[words[2]] = actor
    current = {c.username: c for c in list_collaborators(session, project.name)}
    return [
        current[name]
        for name, actor in sorted(granted_by.items())
        if actor == user.username and name in current and name != user.username
    ]


def leftovers_of(session: Session, project: Project, user: User) -> Leftovers:
    """What ``user`` set up for ``project`` (see :class:`Leftovers`)."""
    views = [
        view
        for view in publishers.list_publishers(session, project.name)
        if view.added_by == user.username
    ]
    now = utcnow()
    live = (
        Token.user_id == user.id,
        Token.publisher_identity.is_(None),
        Token.revoked.is_(False),
        or_(Token.expires.is_(None), Token.expires > now),
    )
    scoped = session.scalars(
        select(Token).where(*live, Token.project_id == project.id).order_by(Token.created, Token.id)
    ).all()
    wide = session.scalar(
        select(func.count()).select_from(Token).where(*live, Token.project_id.is_(None))
    )
    return Leftovers(
        publishers=views,
        tokens=[TokenView.of(t, project.name) for t in scoped],
        wide_tokens=int(wide or 0),
        collaborators=_collaborators_added_by(session, project, user),
    )


def _authorise_removal(session: Session, project: Project, username: str, actor: Actor) -> None:
    """Owners remove anyone; everyone may leave (remove their own role)."""
    if isinstance(actor, IndexAdmin) or actor != username:
        require(session, project, actor, Permission.MANAGE_COLLABORATORS)


def removal_preview(session: Session, project_name: str, username: str, *, actor: Actor) -> Removal:
    """Who would be removed and what they set up, checked as :func:`remove_collaborator` checks
    (so the page that asks for confirmation never offers what would be refused)."""
    project = get_project(session, project_name)
    _authorise_removal(session, project, username, actor)
    user, row = _collaborator(session, project, username)
    _keep_an_owner(session, project, user, row, actor=actor, force=False)
    return Removal(
        project.name,
        Collaborator(user.username, row.role),
        leftovers_of(session, project, user),
        may(session, project, actor, Permission.MANAGE_PUBLISHERS),
    )


def remove_collaborator(
    session: Session,
    project_name: str,
    username: str,
    *,
    actor: Actor,
    publisher_ids: Collection[int] = (),
    token_ids: Collection[str] = (),
    force: bool = False,
) -> Leftovers:
    """Take ``username``'s role away, with the chosen publishers and tokens they set up for the
    project (ids from :func:`leftovers_of`; any other id is a 404 and nothing changes).

    Only owners remove others (403); anyone may leave; the last owner stays (409). Returns
    what was removed besides the role.
    """
    project = get_project(session, project_name)
    _authorise_removal(session, project, username, actor)
    user, row = _collaborator(session, project, username)
    forced = _keep_an_owner(session, project, user, row, actor=actor, force=force)
    found = leftovers_of(session, project, user)
    theirs = {p.id: p for p in found.publishers}
    tokens = {t.id: t for t in found.tokens}
    for publisher_id in publisher_ids:
        if publisher_id not in theirs:
            raise NotFound(f"{user.username} added no publisher {publisher_id} to {project.name}")
    for token_id in token_ids:
        if token_id not in tokens:
            raise NotFound(
                f"{user.username} has no live token {token_id[:40]!r} for {project.name}"
            )
    # What they set up goes first, while the actor's own role (an owner leaving) still allows it.
    for publisher_id in sorted(set(publisher_ids)):
        publishers.remove_publisher(session, project.name, publisher_id, actor=actor)
    for token_id in sorted(set(token_ids)):
        token = session.get_one(Token, token_id)
        token.revoked = True
        record(
            session,
            action=f"revoke token {token_id} of {user.username}",
            actor=actor_name(actor),
            project=project,
        )
    session.delete(row)
    record(
        session,
        action=f"remove {row.role} {user.username}{forced}",
        actor=actor_name(actor),
        project=project,
    )
    return Leftovers(
        publishers=[theirs[i] for i in sorted(set(publisher_ids))],
        tokens=[tokens[i] for i in sorted(set(token_ids))],
    )


def set_role(
    session: Session,
    project_name: str,
    username: str,
    role: str | None,
    *,
    actor: Actor,
    force: bool = False,
    remove_publishers: bool = False,
    revoke_tokens: bool = False,
) -> RoleChange:
    """Give ``username`` exactly ``role`` on the project (None: no role), as the host's
    ``trustyard admin project role`` does: add, change or remove, by the same rules as the
    pages. Removing can take all the publishers and tokens the user set up along."""
    project = get_project(session, project_name)
    user = get_user(session, username)
    current = role_of(session, project, user.id)
    if role is not None:
        if current is None:
            added = add_collaborator(session, project.name, user.username, role, actor=actor)
            return RoleChange(f"add {added.role} {user.username}")
        changed = change_role(session, project.name, user.username, role, actor=actor, force=force)
        return RoleChange(f"change role of {user.username} from {current} to {changed.role}")
    if current is None:
        raise NotFound(f"{project.name} has no collaborator {user.username!r}")
    found = leftovers_of(session, project, user)
    removed = remove_collaborator(
        session,
        project.name,
        user.username,
        actor=actor,
        publisher_ids=[p.id for p in found.publishers] if remove_publishers else (),
        token_ids=[t.id for t in found.tokens] if revoke_tokens else (),
        force=force,
    )
    kept = Leftovers(
        publishers=[] if remove_publishers else found.publishers,
        tokens=[] if revoke_tokens else found.tokens,
        wide_tokens=found.wide_tokens,
        collaborators=found.collaborators,
    )
    return RoleChange(f"remove {current} {user.username}", removed, kept)


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


def projects_of(session: Session, user_id: int) -> list[str]:
    """Names of the projects the user has a role on: their own, through a team, or as an
    owner of the organisation that owns them."""
    rows = session.execute(
        select(Project.normalized_name, Project.name)
        .join(Role, Role.project_id == Project.id)
        .where(Role.user_id == user_id)
    ).all()
    names: dict[str, str] = {row.normalized_name: row.name for row in rows}
    for name in teams.projects_through_teams(session, user_id):
        names.setdefault(str(canonicalize_name(name)), name)
    return [names[normal] for normal in sorted(names)]


def check_token_scope(session: Session, project_name: str, user_id: int) -> str:
    """A token may be scoped only to a project its user may upload to; returns its name."""
    try:
        return require_collaborator(session, project_name, user_id, Permission.UPLOAD).name
    except NotFound as exc:
        raise NotFound(f"no project named {project_name!r}") from exc
