"""Rate limits counted in the catalogue, so that they hold across every instance of the index.

Fixed windows, as the ``limits`` library behind warehouse's ``RateLimiter`` offers them: one row
per key and window, incremented with an atomic upsert (``INSERT ... ON CONFLICT DO UPDATE ...
RETURNING``, on SQLite and PostgreSQL alike), so that concurrent requests on several instances
never both take the last allowed slot.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from trustyard.errors import Error
from trustyard.index.db.engine import Database
from trustyard.index.db.models import RateLimitCounter
from trustyard.settings import Rate, Settings, parse_rate

PURGE_EVERY = 60  # seconds between sweeps of expired counters, per process
MAX_KEY_CHARS = 200
_last_purge = 0.0


class RateLimited(Error):
    """Too many requests of one kind for one key in the current window (429).

    ``retry_after`` is the number of whole seconds until the window ends, for ``Retry-After``.
    """

    status = 429
    code: str = "rate-limited"
    retry_after: int

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


def counter_key(rule: str, value: str) -> str:
    """The stored key of ``value`` under ``rule``; long or odd values are stored as a digest."""
    if len(value) <= MAX_KEY_CHARS and value.isprintable():
        return f"{rule}:{value}"
    return f"{rule}:sha256:{hashlib.sha256(value.encode('utf-8', 'replace')).hexdigest()}"


def _window(rate: Rate, now: float) -> tuple[int, int]:
    """The start of the current window and the seconds left in it."""
    start = int(now) - int(now) % rate.seconds
    return start, start + rate.seconds - int(now)


def _add(session: Session, key: str, start: int, rate: Rate, delta: int) -> int:
    """Add ``delta`` to the counter of ``key`` in the window at ``start``; the new count."""
    expires = datetime.fromtimestamp(start + rate.seconds, UTC).replace(tzinfo=None)
    values = {"key": key, "window_start": start, "count": max(delta, 0), "expires": expires}
    table = RateLimitCounter.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["key", "window_start"],
        set_={"count": table.c.count + delta},
    ).returning(table.c.count)
    return int(session.execute(statement).scalar_one())


def _purge(session: Session) -> None:
    global _last_purge  # noqa: PLW0603 - a per-process timer, nothing more
    now = time.time()
    if now - _last_purge < PURGE_EVERY:
        return
    _last_purge = now
    cutoff = datetime.fromtimestamp(now, UTC).replace(tzinfo=None)
    session.execute(delete(RateLimitCounter).where(RateLimitCounter.expires < cutoff))


Rules = list[tuple[str, Rate | None, str]]


def active(rules: Rules) -> bool:
    """Whether any of ``rules`` is on (a ``None`` rate is a limit that is off): when none is,
    a caller skips the work that only counting needs (a thread hop, a read)."""
    return any(rate is not None for _rule, rate, _value in rules)


class _Refused(Exception):
    def __init__(self, wait: int) -> None:
        super().__init__(wait)
        self.wait = wait


def hit(db: Database, rules: Rules, what: str, *, now: float | None = None) -> float:
    """Count one event for every ``(rule, rate, value)``, or raise :class:`RateLimited`.

    The counts commit in their own short transaction before the caller does its work, so that
    parallel requests see each other. An event over any limit is refused and counts under none
    of the rules (its transaction rolls back): a client held by one limit cannot, by hammering
    on, use up another one (a guesser held per account and address must not fill the account's
    own, slower limit and so lock its owner out). A ``None`` rate is a limit that is off.
    ``now`` is the clock (seconds since the epoch; tests pass theirs). Returns when the event
    was counted, for :func:`refund`.
    """
    now = time.time() if now is None else now
    active = [(rule, rate, value) for rule, rate, value in rules if rate is not None]
    if not active:
        return now
    try:
        with db.write(durable=False) as session:
            _purge(session)
            refused: list[int] = []
            for rule, rate, value in active:
                start, left = _window(rate, now)
                if _add(session, counter_key(rule, value), start, rate, 1) > rate.count:
                    refused.append(left)
            if refused:
                raise _Refused(max(refused))
    except _Refused as held:
        raise RateLimited(f"too many {what}; try again in {held.wait} seconds", held.wait) from None
    return now


def refund(db: Database, rules: Rules, counted_at: float) -> None:
    """Take back one event that :func:`hit` counted at ``counted_at`` (a sign-in that was right).

    Only this event's own count is taken back, in the window it was counted in: failures before
    it, by anyone, still count.
    """
    now = counted_at
    with db.write(durable=False) as session:
        for rule, rate, value in rules:
            if rate is not None:
                start, _left = _window(rate, now)
                _add(session, counter_key(rule, value), start, rate, -1)


def sign_in_rules(settings: Settings, username: str, address: str) -> Rules:
    """Sign-in attempts: per account from one address, per account (any spelling of its name)
    from every address, and per address whatever the account.

    A guesser is held by the first; the owner, from another address, is not. The second is
    slower (``settings``) so that only many addresses together reach it.
    """
    account = username.lower()
    return [
        (
            "sign-in:account-address",
            parse_rate(settings.sign_in_rate_per_account_address),
            f"{account} {address}",
        ),
        ("sign-in:account", parse_rate(settings.sign_in_rate_per_account), account),
        ("sign-in:address", parse_rate(settings.sign_in_rate_per_address), address),
    ]


def mint_address_rules(settings: Settings, address: str) -> Rules:
    """Every token exchange request from one client address, counted before any work."""
    return [("mint:address", parse_rate(settings.mint_rate_per_address), address)]


def search_rules(settings: Settings, address: str) -> Rules:
    """Every search from one client address, counted before the search runs (Warehouse limits
    its search view per address, warehouse/search/__init__.py)."""
    return [("search:address", parse_rate(settings.search_rate_per_address), address)]


def mint_publisher_rules(settings: Settings, publisher: str) -> Rules:
    """Exchanges by one CI identity: ``kind:lookup@issuer`` of the publishers a token matches,
    shared by all their projects as the minted token is (or ``<issuer> <sub>`` matching none)."""
    return [("mint:publisher", parse_rate(settings.mint_rate_per_publisher), publisher)]


def read_mint_rules(settings: Settings, identity: str) -> Rules:
    """Trusted Reading's exchanges by one CI identity: as many as it may publish with, counted
    apart so that a job installing often never uses up its own publishing."""
    return [("mint-read:identity", parse_rate(settings.mint_rate_per_publisher), identity)]


def second_factor_rules(settings: Settings, user_id: int) -> Rules:
    """Second-factor attempts per account from every address: the password was right, so a
    guesser is someone who has it; 10 per 15 minutes leaves a six-digit code 10^5 windows."""
    return [
        (
            "second-factor:account",
            parse_rate(settings.second_factor_rate_per_account),
            str(user_id),
        )
    ]
