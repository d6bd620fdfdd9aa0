"""The journal: every catalogue change and security-relevant event, in order.

As on PyPI, a journal entry's id is the serial; a project's ``last_serial`` is the id of its
newest entry (PEP 691 ``_last-serial``, ``X-PyPI-Last-Serial``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustyard.dists.names import normalize_name
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
    return entry.id


def last_serial(session: Session) -> int:
    """The serial of the newest entry in the whole catalogue."""
    return session.scalar(select(func.max(JournalEntry.id))) or 0


@dataclass(frozen=True)
class HistoryEntry:
    """One journal entry of a project, as its audit log page shows it."""

    serial: int
    submitted: datetime
    actor: str | None
    action: str
    version: str | None
    filename: str | None


def project_history(session: Session, project_name: str, limit: int = 500) -> list[HistoryEntry]:
    """The project's journal, newest first: uploads, mints and refusals, publisher, token and
    role changes, yanks, with who did them and when (at most ``limit`` entries)."""
    rows = session.scalars(
        select(JournalEntry)
        .where(JournalEntry.project_name == normalize_name(project_name))
        .order_by(JournalEntry.id.desc())
        .limit(limit)
    )
    return [
        HistoryEntry(
            serial=row.id,
            submitted=row.submitted,
            actor=row.actor,
            action=row.action,
            version=row.version,
            filename=row.filename,
        )
        for row in rows
    ]
