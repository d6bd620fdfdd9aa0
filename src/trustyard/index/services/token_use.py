"""When an API token was last used, written at most once per interval (issue 20).

Once tokens read (private indexes), every ``pip install`` presents one on every request: tens
of requests a second for one CI job. Writing ``tokens.last_used`` (and a journal line) on each
would turn every read into a write, a transaction on the one writer SQLite has and a row lock
on PostgreSQL, so a read-heavy index would be limited by its write path, and anyone holding a
read token could make the server write as fast as it can read. So use is *sampled*: each
process remembers when it last noted a token and writes at most once per :data:`USE_INTERVAL`;
the write itself is conditional (``last_used`` is empty or older than the interval), so several
instances together still write about once per interval. ``last_used`` is therefore exact to
within :data:`USE_INTERVAL`, which is what an owner deciding whether a token is still in use
needs (GitHub shows a token's last use to the week). The journal gets one line, on a token's
first use: the audit trail of when a credential came into use, without a line per request.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, update

from trustyard.index.db.engine import Database
from trustyard.index.db.models import Token
from trustyard.index.services.accounts import Identity, utcnow
from trustyard.index.services.journal import record

USE_INTERVAL = timedelta(minutes=5)
_MAX_REMEMBERED = 10_000  # tokens remembered per process before old entries are dropped

_noted: dict[str, datetime] = {}  # token id -> when this process last wrote its use
_lock = threading.Lock()


def _due(token_id: str, now: datetime) -> bool:
    """Whether this process should write ``token_id``'s use now (and remember that it did)."""
    with _lock:
        last = _noted.get(token_id)
        if last is not None and now - last < USE_INTERVAL:
            return False
        if len(_noted) >= _MAX_REMEMBERED:
            for stale in [k for k, v in _noted.items() if now - v >= USE_INTERVAL]:
                del _noted[stale]
        _noted[token_id] = now
        return True


def note_use(db: Database, identity: Identity, now: datetime | None = None) -> bool:
    """Record that ``identity``'s token was used, unless it was within :data:`USE_INTERVAL`.

    Returns whether anything was written. Call it from a worker thread after the token was
    authenticated (it may write). Not durable (``durable=False``): a power loss may forget the
    newest use, which only makes ``last_used`` a few minutes older.
    """
    now = now or utcnow()
    if not _due(identity.token_id, now):
        return False
    with db.write(durable=False) as session:
        first: CursorResult[tuple[()]] = session.execute(  # type: ignore[assignment]
            update(Token)
            .where(Token.id == identity.token_id, Token.last_used.is_(None))
            .values(last_used=now)
        )
        if first.rowcount:
            kind = "read-only token" if identity.read_only else "token"
            action = f"first use of {kind} {identity.token_id}"
            record(session, action=action, actor=identity.username)
            return True
        later: CursorResult[tuple[()]] = session.execute(  # type: ignore[assignment]
            update(Token)
            .where(Token.id == identity.token_id, Token.last_used < now - USE_INTERVAL)
            .values(last_used=now)
        )
        return bool(later.rowcount)


def forget() -> None:
    """Drop this process's memory of noted tokens (tests that move the clock)."""
    with _lock:
        _noted.clear()
