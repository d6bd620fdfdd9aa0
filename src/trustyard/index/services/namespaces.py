"""Reserved namespaces: PEP 752's reservation semantics on one index.

A namespace ``acme`` covers the project ``acme`` and every project whose normalized name starts
with ``acme-`` (PEP 752, "Grant Semantics"), but not ``acmecorp``. Matching acts on PEP 503
normal forms, in which runs of ``-``, ``_`` and ``.`` are one ``-``: so ``acme.tools`` and
``Acme_Tools`` are both in ``acme``, and a namespace given as ``acme.internal`` is stored as
``acme-internal`` (PEP 752, "Naming": normalized internally, the given spelling kept for
display). Nested namespaces are allowed (PEP 752's child grants): the most specific one that
matches decides, so ``acme-cloud`` may have other owners than ``acme``.

A namespace is local-only (the proxy never looks its names up upstream: ``namespace_for`` is
what ``services/locality`` asks) and only its owners may *create* projects in it (PEP 752,
"Uploads": a first upload, a pending publisher, ``admin project create``, ``admin
import-dir``). It confers nothing on projects that already exist (PEP 752: "Such reservations
neither confer ownership nor grant special privileges to existing packages"); their roles
decide, as before.

PEP 752's JSON API additions are deliberately not served: an index that does not implement them
all MUST NOT implement any, and PEP 752 allows a repository's namespaces to be hidden, enforcing
upload restrictions only (see the CHANGELOG entry for the reasons).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from trustyard.dists.names import NormalizedName, is_valid_project_name, normalize_name
from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.db.models import Namespace, NamespaceOwner, Project, Publisher, User
from trustyard.index.services.accounts import get_user, utcnow
from trustyard.index.services.journal import record

MAX_PREFIX = 200  # the column's width


class InNamespace(Forbidden):
    """A project would be created in a namespace by someone who does not own it (PEP 752: 403)."""


@dataclass(frozen=True)
class NamespaceView:
    """A namespace as ``admin namespace list`` and the admin page show it."""

    prefix: str
    normalized_prefix: str
    owners: tuple[str, ...]
    added_by: str | None
    created: datetime
    projects: int  # existing projects it covers (created before or by its owners)


def candidate_prefixes(normalized_name: str) -> list[str]:
    """Every namespace that could cover ``normalized_name``: the name itself and each prefix
    that ends before one of its hyphens (``a-b-c``: ``a``, ``a-b``, ``a-b-c``)."""
    parts = normalized_name.split("-")
    return ["-".join(parts[:end]) for end in range(1, len(parts) + 1)]


def namespace_for(session: Session, normalized_name: str) -> Namespace | None:
    """The most specific namespace that covers ``normalized_name`` (a PEP 503 normal form), if
    any. One indexed lookup of at most as many keys as the name has hyphen-separated parts."""
    return session.scalar(
        select(Namespace)
        .where(Namespace.normalized_prefix.in_(candidate_prefixes(normalized_name)))
        .order_by(func.length(Namespace.normalized_prefix).desc())
        .limit(1)
    )


def _owner_ids(session: Session, namespace: Namespace) -> set[int]:
    return set(
        session.scalars(
            select(NamespaceOwner.user_id).where(NamespaceOwner.namespace_id == namespace.id)
        )
    )


def check_may_create(session: Session, name: str, user_id: int | None) -> None:
    """Refuse (403, naming the namespace) the creation of project ``name`` for the user
    ``user_id`` (None: nobody, e.g. a CI identity) unless that user owns the namespace that
    covers it. Every path that creates a project calls this first."""
    namespace = namespace_for(session, normalize_name(name))
    if namespace is None:
        return
    if user_id is not None and user_id in _owner_ids(session, namespace):
        return
    raise InNamespace(
        f"The name '{name}' is in the reserved namespace '{namespace.prefix}' (PEP 752): only"
        f" the namespace's owners may create projects in it. Ask an admin of this index to add"
        f" you as an owner of '{namespace.prefix}', or choose another name."
    )


def _normalized_prefix(prefix: str) -> NormalizedName:
    if len(prefix) > MAX_PREFIX or not is_valid_project_name(prefix):
        raise InvalidInput(
            f"{prefix!r} is not a valid namespace: a namespace is a valid project name (ASCII"
            f" letters, digits, '.', '_' and '-', starting and ending with a letter or digit;"
            f" at most {MAX_PREFIX} characters)"
        )
    return normalize_name(prefix)


def get_namespace(session: Session, prefix: str) -> Namespace:
    """The namespace whose normal form equals that of ``prefix``, or NotFound."""
    namespace = session.scalar(
        select(Namespace).where(Namespace.normalized_prefix == _normalized_prefix(prefix))
    )
    if namespace is None:
        raise NotFound(f"no reserved namespace {prefix!r}")
    return namespace


def add_namespace(
    session: Session, prefix: str, owners: list[str], *, actor: str | None
) -> Namespace:
    """Reserve ``prefix`` for ``owners`` (at least one user; journalled)."""
    normalized = _normalized_prefix(prefix)
    if not owners:
        raise InvalidInput("a namespace needs at least one owner (--owner NAME)")
    users = [get_user(session, owner) for owner in owners]
    existing = session.scalar(select(Namespace).where(Namespace.normalized_prefix == normalized))
    if existing is not None:
        raise Conflict(
            f"the namespace {existing.prefix!r} is already reserved ({prefix!r} has the same"
            " normal form): add owners with `admin namespace owner add`"
        )
    now = utcnow()
    namespace = Namespace(prefix=prefix, normalized_prefix=normalized, added_by=actor, created=now)
    session.add(namespace)
    session.flush()
    for user in {user.id: user for user in users}.values():
        session.add(
            NamespaceOwner(namespace_id=namespace.id, user_id=user.id, added_by=actor, created=now)
        )
    names = ", ".join(sorted({user.username for user in users}))
    record(session, action=f"reserve namespace {prefix} (owners: {names})", actor=actor)
    return namespace


def remove_namespace(session: Session, prefix: str, *, actor: str | None) -> None:
    """Release a namespace; its projects stay, with their owners (journalled)."""
    namespace = get_namespace(session, prefix)
    session.execute(delete(NamespaceOwner).where(NamespaceOwner.namespace_id == namespace.id))
    session.delete(namespace)
    record(session, action=f"release namespace {namespace.prefix}", actor=actor)


def add_owner(session: Session, prefix: str, username: str, *, actor: str | None) -> bool:
    """Make ``username`` an owner of the namespace; False if they already were."""
    namespace = get_namespace(session, prefix)
    user = get_user(session, username)
    if session.get(NamespaceOwner, (namespace.id, user.id)) is not None:
        return False
    session.add(
        NamespaceOwner(namespace_id=namespace.id, user_id=user.id, added_by=actor, created=utcnow())
    )
    record(
        session,
        action=f"add owner {user.username} to namespace {namespace.prefix}",
        actor=actor,
    )
    return True


def remove_owner(session: Session, prefix: str, username: str, *, actor: str | None) -> None:
    """Take an owner off the namespace; its last owner only goes with the namespace (409)."""
    namespace = get_namespace(session, prefix)
    user = get_user(session, username)
    row = session.get(NamespaceOwner, (namespace.id, user.id))
    if row is None:
        raise NotFound(f"{user.username} is not an owner of the namespace {namespace.prefix!r}")
    if _owner_ids(session, namespace) == {user.id}:
        raise Conflict(
            f"{user.username} is the last owner of the namespace {namespace.prefix!r}: add"
            " another owner first, or remove the namespace"
        )
    session.delete(row)
    record(
        session,
        action=f"remove owner {user.username} from namespace {namespace.prefix}",
        actor=actor,
    )


def _covered(normalized_prefix: str) -> ColumnElement[bool]:
    # Normal forms hold only [a-z0-9-], so the pattern has no LIKE wildcards but its own.
    return or_(
        Project.normalized_name == normalized_prefix,
        Project.normalized_name.like(normalized_prefix + "-%"),
    )


def list_namespaces(session: Session) -> list[NamespaceView]:
    """Every namespace, by normal form, with its owners and the projects it covers."""
    views = []
    for namespace in session.scalars(select(Namespace).order_by(Namespace.normalized_prefix)):
        owners = session.scalars(
            select(User.username)
            .join(NamespaceOwner, NamespaceOwner.user_id == User.id)
            .where(NamespaceOwner.namespace_id == namespace.id)
            .order_by(User.username)
        ).all()
        projects = session.scalar(
            select(func.count()).select_from(Project).where(_covered(namespace.normalized_prefix))
        )
        views.append(
            NamespaceView(
                prefix=namespace.prefix,
                normalized_prefix=namespace.normalized_prefix,
                owners=tuple(owners),
                added_by=namespace.added_by,
                created=namespace.created,
                projects=projects or 0,
            )
        )
    return views


def pending_outside_owners(session: Session, prefix: str) -> list[str]:
    """Pending publishers in the namespace registered by someone who does not own it: they can
    no longer create their project (their first publish is refused), said when reserving."""
    namespace = get_namespace(session, prefix)
    owners = {
        name.lower()
        for name in session.scalars(
            select(User.username)
            .join(NamespaceOwner, NamespaceOwner.user_id == User.id)
            .where(NamespaceOwner.namespace_id == namespace.id)
        )
    }
    rows = session.scalars(
        select(Publisher).where(
            Publisher.project_id.is_(None),
            or_(
                Publisher.pending_name == namespace.normalized_prefix,
                Publisher.pending_name.like(namespace.normalized_prefix + "-%"),
            ),
        )
    ).all()
    return [
        f"pending publisher {row.id} for {row.pending_name} (added by {row.added_by})"
        for row in rows
        if row.added_by.lower() not in owners
        and namespace_for(session, row.pending_name or "") is namespace
    ]
