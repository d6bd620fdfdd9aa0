"""The journal: every catalogue change and security-relevant event, in order.

As on PyPI, a journal entry's id is the serial; a project's ``last_serial`` is the id of its
newest entry (PEP 691 ``_last-serial``, ``X-PyPI-Last-Serial``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Connection, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from trustyard.dists.names import normalize_name
from trustyard.index.db.changes import CHANNEL
from trustyard.index.db.models import JournalEntry, Project


def record(
    session: Session,
    *,
    action: str,
    actor: str | None,
    project: Project | None = None,
    version: str | None = None,
    filename: str | None = None,
) -> int:
    """Append an entry (inside the caller's transaction) and bump the project's serial."""
    entry = JournalEntry(
        project_name=project.normalized_name if project else None,
        version=version,
        filename=filename,
        # PostgreSQL enforces VARCHAR lengths (SQLite does not): keep both backends identical.
        action=action,
        actor=actor,
        submitted=datetime.now(UTC).replace(tzinfo=None),
    )
    session.add(entry)
    session.flush()
    if project is not None:
        project.last_serial = entry.id
    notify_change(session)
    return entry.id


_APPEND = insert(JournalEntry).returning(JournalEntry.id)
_BUMP = (
    update(Project)
    .where(Project.id == bindparam("project_id"))
    .values(last_serial=bindparam("serial"))
)


def append(
    connection: Connection,
    *,
    action: str,
    actor: str | None,
    project_id: int | None = None,
    project_name: str | None = None,
) -> int:
    """:func:`record` as two prepared Core statements, for hot paths that hold no ORM objects
    (the mint: issue 19); ``project_name`` is the project's normal form, whose serial is bumped.
    """
    entry = {
        "project_name": project_name if project_id is not None else None,
        "version": None,
        "filename": None,
        "action": action,
        "actor": actor,
        "submitted": datetime.now(UTC).replace(tzinfo=None),
    }
    entry_id = int(connection.execute(_APPEND, entry).scalar_one())
    if project_id is not None:
        connection.execute(_BUMP, {"project_id": project_id, "serial": entry_id})
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"NOTIFY {CHANNEL}"))
    return entry_id


def notify_change(session: Session) -> None:
    """On PostgreSQL, tell every instance's cached pages that the catalogue changed, when
    (and only if) this transaction commits (db/changes.py; PostgreSQL folds repeats within a
    transaction into one notification). SQLite needs nothing: its change counter moves."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


def last_serial(session: Session) -> int:
    """The serial of the newest entry in the whole catalogue."""
    return session.scalar(select(func.max(JournalEntry.id))) or 0


@dataclass(frozen=True)
class HistoryEntry:
    """One journal entry, as the audit log pages show it."""

    serial: int
    submitted: datetime
    actor: str | None
    action: str
    version: str | None
    filename: str | None
    project_name: str | None = None  # its normal form; None for an entry about no project


def _entry(row: JournalEntry) -> HistoryEntry:
    return HistoryEntry(
        serial=row.id,
        submitted=row.submitted,
        actor=row.actor,
        action=row.action,
        version=row.version,
        filename=row.filename,
        project_name=row.project_name,
    )


def project_history(session: Session, project_name: str, limit: int = 500) -> list[HistoryEntry]:
    """The project's journal, newest first: uploads, mints and refusals, publisher, token and
    role changes, yanks, with who did them and when (at most ``limit`` entries)."""
    rows = session.scalars(
        select(JournalEntry)
        .where(JournalEntry.project_name == normalize_name(project_name))
        .order_by(JournalEntry.id.desc())
        .limit(limit)
    )
    return [_entry(row) for row in rows]


MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class HistoryPage:
    """One page of a journal, newest first, and the cursors of its neighbours.

    Keyset pagination on the serial (the journal's primary key): a page is "the ``limit``
    entries below serial N" (or above), so entries written meanwhile never shift a page, as
    offsets would, and each page is one index range scan however deep it is.
    """

    entries: list[HistoryEntry]
    older: int | None  # ``before`` for the next older page; None on the oldest page
    newer: int | None  # ``after`` for the next newer page; None on the newest page


def history_page(
    session: Session,
    project_name: str | None,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> HistoryPage:
    """``limit`` entries of a project's journal (of the whole journal for None), newest first:
    those with serials below ``before``, or the ones just above ``after``, or the newest."""
    if before is not None and after is not None:
        raise ValueError("give before or after, not both")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"the limit must be between 1 and {MAX_PAGE_SIZE}")
    scope = select(JournalEntry)
    if project_name is not None:
        scope = scope.where(JournalEntry.project_name == normalize_name(project_name))
    if after is not None:
        ascending = scope.where(JournalEntry.id > after).order_by(JournalEntry.id).limit(limit)
        rows = list(session.scalars(ascending))[::-1]
    else:
        newest_first = scope.order_by(JournalEntry.id.desc()).limit(limit)
        if before is not None:
            newest_first = newest_first.where(JournalEntry.id < before)
        rows = list(session.scalars(newest_first))
    if not rows:
        return HistoryPage([], older=None, newer=None)

    def exists(condition: ColumnElement[bool]) -> bool:
        probe = scope.with_only_columns(JournalEntry.id).where(condition).limit(1)
        return session.scalar(probe) is not None

    entries = [_entry(row) for row in rows]
    newest, oldest = entries[0].serial, entries[-1].serial
    return HistoryPage(
        entries,
        older=oldest if exists(JournalEntry.id < oldest) else None,
        newer=newest if exists(JournalEntry.id > newest) else None,
    )
