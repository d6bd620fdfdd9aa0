"""The policy gate's state in the catalogue (issue 18): the cooldown, the emergency cut-off
and admins' exceptions, each change journalled with who and why.

The cooldown (``min_release_age``) and the cut-off (``policy_cutoff``) are ``index_settings``
rows, as the Trusted Publishing audience is: one value for every instance sharing the
database. The database is the single source of truth; ``serve --min-release-age`` only
initialises it (first start) or must agree with it (an instance whose setting disagrees
refuses to start, naming the stored value and ``trustyard policy min-release-age``, which
changes it for every instance at once). Running instances re-read the whole state at most
:data:`STATE_TTL` seconds after their last read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from trustyard.dists.names import is_valid_project_name
from trustyard.errors import Conflict, InvalidInput, NotFound
from trustyard.index.db.models import IndexSetting, JournalEntry, PolicyException
from trustyard.index.policy.rules import Allowance, PolicyState, format_age
from trustyard.index.services.accounts import utcnow

MIN_AGE_SETTING = "min_release_age"
CUTOFF_SETTING = "policy_cutoff"
STATE_TTL = 5.0  # seconds a process keeps the state it read (cut-off, exceptions, cooldown)
MAX_REASON = 500
SETTINGS_LOCK = "index-settings:policy"


def _journal(
    session: Session,
    action: str,
    actor: str,
    *,
    project: str | None = None,
    version: str | None = None,
) -> None:
    # Upstream names have no local serial to bump: an entry naming the project, not bumping.
    session.add(
        JournalEntry(
            project_name=project,
            version=version,
            filename=None,
            action=action[:1000],
            actor=actor,
            submitted=utcnow(),
        )
    )


def _setting(session: Session, name: str) -> str | None:
    row = session.get(IndexSetting, name)
    return row.value if row is not None else None


def _put(session: Session, name: str, value: str | None) -> None:
    row = session.get(IndexSetting, name)
    if value is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(IndexSetting(name=name, value=value))
    else:
        row.value = value


def stored_min_age(session: Session) -> timedelta | None:
    """The index's cooldown, None when it was never set (off)."""
    value = _setting(session, MIN_AGE_SETTING)
    return timedelta(seconds=int(value)) if value is not None else None


def set_min_age(session: Session, age: timedelta, actor: str) -> None:
    """Change the cooldown for every instance (``trustyard policy min-release-age``)."""
    before = stored_min_age(session) or timedelta(0)
    _put(session, MIN_AGE_SETTING, str(int(age.total_seconds())))
    _journal(
        session,
        f"policy min-release-age {format_age(before)} -> {format_age(age)}",
        actor,
    )


def agree_min_age(session: Session, configured: timedelta | None, actor: str) -> timedelta:
    """The cooldown this instance runs with: the database's. ``configured`` (the ``serve``
    setting) initialises it when the database has none, and must otherwise equal it: two
    instances of one index never gate differently. The caller holds :data:`SETTINGS_LOCK`."""
    stored = stored_min_age(session)
    if configured is None:
        return stored or timedelta(0)
    if stored is None:
        if configured:
            set_min_age(session, configured, actor)
        return configured
    if stored != configured:
        from trustyard.errors import ConfigurationError  # noqa: PLC0415 - error path only

        raise ConfigurationError(
            f"min_release_age {format_age(configured)} disagrees with this index's database,"
            f" which says {format_age(stored)} (every instance of one index gates alike):"
            f" start without --min-release-age, or with --min-release-age {format_age(stored)},"
            f" or change it for every instance with `trustyard policy min-release-age"
            f" {format_age(configured)}`"
        )
    return stored


def cutoff(session: Session) -> datetime | None:
    """The emergency cut-off (naive UTC), None when none is set."""
    value = _setting(session, CUTOFF_SETTING)
    return datetime.fromisoformat(value) if value is not None else None


def set_cutoff(session: Session, moment: datetime | None, actor: str, reason: str = "") -> None:
    """Set (or, with None, lift) the emergency cut-off for every instance."""
    _put(session, CUTOFF_SETTING, moment.isoformat() if moment is not None else None)
    what = f"{moment:%Y-%m-%dT%H:%M:%S}Z" if moment is not None else "none"
    _journal(session, f"policy cutoff {what}" + (f": {reason}" if reason else ""), actor)


def _allowance(row: PolicyException) -> Allowance:
    return Allowance(
        id=row.id,
        project=row.project,
        version=row.version,
        reason=row.reason,
        created_by=row.created_by,
        expires=row.expires,
    )


def load_state(session: Session, now: datetime | None = None) -> PolicyState:
    """The gate's state as the catalogue holds it at ``now``: the cooldown, the cut-off and
    the exceptions neither revoked nor expired."""
    moment = now or utcnow()
    rows = session.scalars(
        select(PolicyException)
        .where(PolicyException.revoked.is_(None))
        .where(or_(PolicyException.expires.is_(None), PolicyException.expires > moment))
        .order_by(PolicyException.id)
    )
    return PolicyState(
        min_age=stored_min_age(session) or timedelta(0),
        cutoff=cutoff(session),
        allowances=tuple(_allowance(row) for row in rows),
    )


def parse_requirement(text: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME==VERSION`` as (normalized name, normalized PEP 440 version or
    None); versions are compared canonically (``3.0`` is ``3``)."""
    name, sep, version = text.strip().partition("==")
    name = name.strip()
    if not is_valid_project_name(name):
        raise InvalidInput(
            f"{text!r}: {name!r} is not a valid project name (use NAME or NAME==VERSION)"
        )
    if not sep:
        return canonicalize_name(name), None
    try:
        Version(version.strip())
    except InvalidVersion:
        raise InvalidInput(
            f"{text!r}: {version.strip()!r} is not a valid version (PEP 440)"
        ) from None
    return canonicalize_name(name), str(Version(version.strip()))


def allow(
    session: Session,
    requirement: str,
    *,
    reason: str,
    actor: str,
    expires_in: timedelta | None,
    now: datetime | None = None,
) -> PolicyException:
    """Add an exception for ``NAME`` or ``NAME==VERSION`` (journalled with who and why)."""
    project, version = parse_requirement(requirement)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("an exception needs a reason (--reason TEXT): the journal keeps it")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is {len(reason)} characters; at most {MAX_REASON}")
    moment = now or utcnow()
    row = PolicyException(
        project=project,
        version=version,
        reason=reason,
        created_by=actor,
        created=moment,
        expires=moment + expires_in if expires_in is not None else None,
    )
    session.add(row)
    session.flush()
    until = f" until {row.expires:%Y-%m-%dT%H:%M:%S}Z" if row.expires else ""
    _journal(
        session,
        f"policy exception #{row.id} added for {project}"
        + (f"=={version}" if version else "")
        + f"{until}: {reason}",
        actor,
        project=project,
        version=version,
    )
    return row


def exceptions(
    session: Session, *, everything: bool = False, now: datetime | None = None
) -> list[PolicyException]:
    """The exceptions in force (with ``everything``: revoked and expired ones too), oldest
    first."""
    query = select(PolicyException).order_by(PolicyException.id)
    if not everything:
        moment = now or utcnow()
        query = query.where(PolicyException.revoked.is_(None)).where(
            or_(PolicyException.expires.is_(None), PolicyException.expires > moment)
        )
    return list(session.scalars(query))


def revoke(session: Session, exception_id: int, actor: str, reason: str = "") -> PolicyException:
    """Revoke an exception now (the row stays, marked, for the record)."""
    row = session.get(PolicyException, exception_id)
    if row is None:
        raise NotFound(f"no policy exception #{exception_id} (see `trustyard policy list`)")
    if row.revoked is not None:
        raise Conflict(
            f"policy exception #{exception_id} was already revoked by {row.revoked_by}"
            f" at {row.revoked:%Y-%m-%d %H:%M} UTC"
        )
    row.revoked = utcnow()
    row.revoked_by = actor
    _journal(
        session,
        f"policy exception #{row.id} revoked" + (f": {reason}" if reason else ""),
        actor,
        project=row.project,
        version=row.version,
    )
    return row
