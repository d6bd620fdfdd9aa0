"""Browser sessions of the web interface: signing in (under the rate limits) and out.

Sessions are rows keyed by the SHA-256 of the cookie's secret, so a stolen database holds no
usable cookie. Failed sign-ins are counted by :mod:`trustyard.index.services.ratelimits`, in the
database too, so every instance behind a load balancer sees the same counts.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from trustyard.index.db.engine import Database
from trustyard.index.db.models import User, WebSession
from trustyard.index.services import ratelimits
from trustyard.index.services.accounts import check_password, find_user, utcnow
from trustyard.index.services.journal import record
from trustyard.settings import Settings

SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class SignedIn:
    """The user behind a valid session cookie, and the CSRF token of that session."""

    user_id: int
    username: str
    csrf_token: str
    session_id: str
    is_admin: bool = False


def _session_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def sign_in(
    session: Session, username: str, password: str, address: str
) -> tuple[str, SignedIn] | None:
    """Check a password and open a session: (cookie secret, who signed in), None if refused.

    A refusal returns (not raises) so that the caller's transaction commits the journal entry.
    The caller rate-limits attempts before calling (:func:`attempt_sign_in`). A refusal names
    neither which part was wrong nor whether the user exists, and costs the same argon2 work
    either way (:func:`accounts.check_password`). Its journal entry is fixed text and the
    address: what was typed as the name may be a password typed in the wrong field, and the
    account it names is the attacker's choice (both stay out of the journal).
    """
    user = find_user(session, username)
    if not check_password(user, password) or user is None:
        record(
            session,
            action=f"refused sign-in from {address}: wrong username or password",
            actor=None,
        )
        return None
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    row = WebSession(
        id=_session_key(secret),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created=now,
        expires=now + SESSION_LIFETIME,
    )
    session.add(row)
    record(session, action=f"sign in from {address}", actor=user.username)
    return secret, SignedIn(
        user_id=user.id,
        username=user.username,
        csrf_token=row.csrf_token,
        session_id=row.id,
        is_admin=bool(user.is_admin),
    )


def attempt_sign_in(
    db: Database,
    settings: Settings,
    username: str,
    password: str,
    address: str,
    *,
    now: float | None = None,
) -> tuple[str, SignedIn] | None:
    """One sign-in attempt under the rate limits: counted first, taken back if it was right.

    Raises :class:`ratelimits.RateLimited` while the account is held for this address (or
    for every address, or the address for every account); the password is then not checked.
    ``now`` is the clock of the limits (tests pass theirs).
    """
    limits = ratelimits.sign_in_rules(settings, username, address)
    counted_at = ratelimits.hit(db, limits, "failed sign-in attempts", now=now)
    with db.write() as session:
        result = sign_in(session, username, password, address)
    if result is not None:  # only failures count: take this attempt's own count back
        ratelimits.refund(db, limits, counted_at)
    return result


def signed_in(session: Session, secret: str) -> SignedIn | None:
    """Who the session cookie ``secret`` belongs to, if the session exists and is unexpired."""
    if not secret or len(secret) > 100:
        return None
    row = session.execute(
        select(WebSession, User.username, User.is_admin)
        .join(User, WebSession.user_id == User.id)
        .where(WebSession.id == _session_key(secret), WebSession.expires > utcnow())
    ).first()
    if row is None:
        return None
    web_session, username, is_admin = row
    return SignedIn(
        user_id=web_session.user_id,
        username=username,
        csrf_token=web_session.csrf_token,
        session_id=web_session.id,
        is_admin=bool(is_admin),
    )


def sign_out(session: Session, who: SignedIn) -> None:
    """End the session (and sweep expired ones while writing anyway)."""
    session.execute(
        delete(WebSession).where(
            (WebSession.id == who.session_id) | (WebSession.expires <= utcnow())
        )
    )
    record(session, action="sign out", actor=who.username)
