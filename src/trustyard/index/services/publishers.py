"""Trusted publishers of projects: registering, listing, removing, and pending publishers.

A pending publisher names a project that does not exist yet; its first successful exchange
creates the project with the registering user as owner (PyPI's pending publishers). Like PyPI's,
it does not reserve the name, a user may have at most a few at once, and a CI identity may be
the pending publisher of one name only (warehouse ``accounts/views.py``
``_add_pending_oidc_publisher``; issue 14 widens its uniqueness to every environment).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustyard.dists.names import is_valid_project_name, normalize_name
from trustyard.errors import Conflict, InvalidInput, NotFound
from trustyard.index.db.engine import Database
from trustyard.index.db.models import Project, Publisher, TokenPublisher
from trustyard.index.services import issuers
from trustyard.index.services.accounts import get_user, utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.namespaces import check_may_create
from trustyard.index.services.projects import find_project, get_project
from trustyard.index.services.roles import Actor, IndexAdmin, Permission, actor_name, require
from trustyard.oidc.errors import PublisherMismatch
from trustyard.oidc.jwks import is_loopback_url
from trustyard.oidc.publishers import KINDS, PublisherKind


@dataclass(frozen=True)
class PublisherView:
    """A publisher as the CLI and the web UI list it."""

    id: int
    project: str
    pending: bool
    kind: str
    issuer: str
    description: str
    added_by: str


def kind_of(name: str) -> PublisherKind:
    """The publisher kind called ``name``."""
    try:
        return KINDS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown publisher kind {name!r}; use one of {', '.join(sorted(KINDS))}"
        ) from None


def checked_config(kind: PublisherKind, config: dict[str, str]) -> tuple[str, dict[str, str]]:
    issuer = config.get("issuer") or kind.default_issuer
    if not issuer:
        raise InvalidInput(f"{kind.name} publishers need --issuer")
    if not issuer.startswith("https://") and not (
        issuer.startswith("http://") and is_loopback_url(issuer)
    ):
        raise InvalidInput(f"the issuer must be an https:// URL (http only on loopback): {issuer}")
    if issuer.endswith("/"):
        raise InvalidInput(f"the issuer must not end with '/': {issuer} (tokens' iss never does)")
    try:  # the kind's own rules: required fields, and each value's check
        cleaned = kind.validate_config({**config, "issuer": issuer})
    except PublisherMismatch as exc:
        raise InvalidInput(exc.message) from exc
    return issuer, cleaned


# PyPI's words (warehouse accounts/views.py), with this index in place of PyPI.
ALREADY_REGISTERED = (
    "This trusted publisher has already been registered."
    " Please contact the index's admins if this wasn't intentional."
)
REGISTERED_FOR_ANOTHER_NAME = (
    "A pending trusted publisher matching this configuration has already been registered"
    " for a different project name. Please contact the index's admins if this wasn't"
    " intentional."
)
TOO_MANY_PENDING = "You can't register more than {limit} pending trusted publishers at once."


def match_lock(issuer: str, kind: str, lookup: str) -> str:
    """The name under which registrations and exchanges of one CI identity take turns."""
    return f"trusted-publishing:{kind} {lookup}@{issuer}"


def _refuse_overlapping_pending(
    session: Session, kind: PublisherKind, issuer: str, config: dict[str, str], name: str
) -> None:
    """Refuse a pending publisher that one token could match together with an existing one.

    Whoever registered the other: two would both claim one CI job's first publish (the victim's
    job would create the attacker's project), and the exchange refuses to pick (issue 14).
    """
    others = session.scalars(
        select(Publisher).where(
            Publisher.project_id.is_(None),
            Publisher.kind == kind.name,
            Publisher.issuer == issuer,
            Publisher.lookup == kind.lookup_of_config(config),
        )
    ).all()
    for other in others:
        if kind.overlaps(other.config, config):
            same = other.pending_name == name
            raise Conflict(ALREADY_REGISTERED if same else REGISTERED_FOR_ANOTHER_NAME)


def _store(
    session: Session,
    kind_name: str,
    config: dict[str, str],
    *,
    project: Project | None,
    pending_name: str | None,
    added_by: str,
) -> Publisher:
    kind = kind_of(kind_name)
    issuer, cleaned = checked_config(kind, config)
    issuers.require_allowed(session, issuer)  # the admin's allow-list (issue 14, finding 5)
    publisher = Publisher(
        project_id=project.id if project else None,
        pending_name=pending_name,
        kind=kind.name,
        issuer=issuer,
        lookup=kind.lookup_of_config(cleaned),
        config=cleaned,
        added_by=added_by,
        created=utcnow(),
    )
    session.add(publisher)
    session.flush()
    target = f" for {pending_name}" if pending_name else ""
    record(
        session,
        action=(
            f"add {'pending ' if pending_name else ''}trusted publisher {publisher.id}{target}:"
            f" {kind.describe(cleaned)} ({issuer})"
        ),
        actor=added_by,
        project=project,
    )
    return publisher


def add_publisher(
    session: Session, project_name: str, kind_name: str, config: dict[str, str], *, actor: Actor
) -> Publisher:
    """Register a publisher for an existing project; only its owners may (403)."""
    project = get_project(session, project_name)
    require(session, project, actor, Permission.MANAGE_PUBLISHERS)
    return _store(
        session, kind_name, config, project=project, pending_name=None, added_by=actor_name(actor)
    )


def add_pending_publisher(
    db: Database,
    session: Session,
    project_name: str,
    kind_name: str,
    config: dict[str, str],
    *,
    owner: str,
    limit: int,
) -> Publisher:
    """Register a publisher whose first publish creates ``project_name`` (owned by ``owner``).

    Refused: an existing project's name (PyPI: "This project already exists"), more than
    ``limit`` pending publishers of one user, and one that overlaps another pending publisher
    (:data:`ALREADY_REGISTERED`). ``db`` makes concurrent registrations take turns.
    """
    if not is_valid_project_name(project_name):
        raise InvalidInput(f"'{project_name}' is not a valid project name")
    if find_project(session, project_name) is not None:
        raise Conflict(
            f"project {project_name!r} already exists: add a normal publisher to it instead"
        )
    check_may_create(session, project_name, get_user(session, owner).id)
    kind = kind_of(kind_name)
    issuer, cleaned = checked_config(kind, config)
    db.serialise(session, f"pending-publishers-of:{owner}")
    db.serialise(session, match_lock(issuer, kind.name, kind.lookup_of_config(cleaned)))
    pending = session.scalar(
        select(func.count())
        .select_from(Publisher)
        .where(Publisher.project_id.is_(None), Publisher.added_by == owner)
    )
    if (pending or 0) >= limit:
        raise Conflict(TOO_MANY_PENDING.format(limit=limit))
    _refuse_overlapping_pending(session, kind, issuer, cleaned, normalize_name(project_name))
    return _store(
        session,
        kind_name,
        config,
        project=None,
        pending_name=normalize_name(project_name),
        added_by=owner,
    )


def _view(session: Session, publisher: Publisher) -> PublisherView:
    kind = kind_of(publisher.kind)
    if publisher.project_id is not None:
        name = session.get_one(Project, publisher.project_id).name
    else:
        name = publisher.pending_name or ""
    return PublisherView(
        id=publisher.id,
        project=name,
        pending=publisher.project_id is None,
        kind=publisher.kind,
        issuer=publisher.issuer,
        description=kind.describe(publisher.config),
        added_by=publisher.added_by,
    )


def list_publishers(session: Session, project_name: str) -> list[PublisherView]:
    """The project's publishers, and the pending ones that name it."""
    rows: list[Publisher] = []
    project = find_project(session, project_name)
    if project is not None:
        rows += session.scalars(select(Publisher).where(Publisher.project_id == project.id)).all()
    rows += session.scalars(
        select(Publisher).where(Publisher.pending_name == normalize_name(project_name))
    ).all()
    if project is None and not rows:
        raise NotFound(f"no project or pending publisher named {project_name!r}")
    return [_view(session, row) for row in sorted(rows, key=lambda r: r.id)]


def remove_publisher(
    session: Session, project_name: str, publisher_id: int, *, actor: Actor
) -> None:
    """Remove a publisher (its unexpired minted tokens die with it); only the project's
    owners may (403), or the host for a pending publisher of a name not yet taken."""
    publisher = session.get(Publisher, publisher_id)
    project = find_project(session, project_name)
    if project is not None:
        require(session, project, actor, Permission.MANAGE_PUBLISHERS)
    elif not isinstance(actor, IndexAdmin):
        raise NotFound(f"no project named {project_name!r}")
    owned = publisher is not None and (
        (project is not None and publisher.project_id == project.id)
        or publisher.pending_name == normalize_name(project_name)
    )
    if publisher is None or not owned:
        raise NotFound(f"project {project_name!r} has no publisher {publisher_id}")
    session.delete(publisher)
    record(
        session,
        action=f"remove trusted publisher {publisher_id}",
        actor=actor_name(actor),
        project=project,
    )


def token_publisher(session: Session, token_id: str, project_id: int) -> Publisher | None:
    """The publisher of ``project_id`` through which the minted token ``token_id`` may upload
    to it, or None. Read at every upload, so a removed publisher takes the access along.

    Of several, one bound to an environment comes first: provenance records it.
    """
    rows = session.scalars(
        select(Publisher)
        .join(TokenPublisher, TokenPublisher.publisher_id == Publisher.id)
        .where(TokenPublisher.token_id == token_id, Publisher.project_id == project_id)
        .order_by(Publisher.id)
    ).all()
    return min(rows, key=lambda row: not row.config.get("environment"), default=None)


def pending_publishers_of(session: Session, username: str) -> list[PublisherView]:
    """The pending publishers ``username`` registered (PyPI's "your pending publishers")."""
    rows = session.scalars(
        select(Publisher)
        .where(Publisher.project_id.is_(None), Publisher.added_by == username)
        .order_by(Publisher.id)
    ).all()
    return [_view(session, row) for row in rows]


def remove_pending_publisher(session: Session, publisher_id: int, *, actor: str) -> None:
    """Remove a pending publisher; only the user who registered it may (others see 404)."""
    publisher = session.get(Publisher, publisher_id)
    if publisher is None or publisher.project_id is not None or publisher.added_by != actor:
        raise NotFound(f"you have no pending publisher {publisher_id}")
    name = publisher.pending_name
    session.delete(publisher)
    record(
        session, action=f"remove pending trusted publisher {publisher_id} for {name}", actor=actor
    )
