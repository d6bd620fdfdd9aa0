"""Browser sessions of the web interface: signing in (under the rate limits) and out.

Sessions are rows keyed by the SHA-256 of the cookie's secret, so a stolen database holds no
usable cookie. Failed sign-ins are counted by :mod:`trustyard.index.services.ratelimits`, in the
database too, so every instance behind a load balancer sees the same counts.

An account with a second factor (:mod:`trustyard.index.services.second_factor`) gets no session
for its password: a pending sign-in (its own table, its own cookie) that only
:func:`finish_sign_in` turns into a session, once a factor is right.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from trustyard.errors import InvalidInput
from trustyard.index.db.engine import Database
from trustyard.index.db.models import PendingSignIn, User, WebSession
from trustyard.index.services import ratelimits, second_factor
from trustyard.index.services.accounts import check_password, find_user, is_disabled, utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.secret_keys import SecretKeys
from trustyard.settings import Settings

SESSION_LIFETIME = timedelta(hours=12)
# The time between the right password and the second factor (a code, a key, a recovery code).
PENDING_LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class SignedIn:
    """The user behind a valid session cookie, and the CSRF token of that session."""

    user_id: int
    username: str
    csrf_token: str
    session_id: str
    is_admin: bool = False
    # require_2fa holds this account on the security page until it sets up a factor.
    must_enrol: bool = False


def _session_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class SecondStep:
    """The password was right and the account has a second factor: no session yet, only the
    secret of the pending sign-in's cookie, which the second step's pages alone read."""

    secret: str


def open_session(session: Session, user: User, address: str, how: str = "") -> tuple[str, SignedIn]:
    """A new browser session for ``user``: (cookie secret, who signed in)."""
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
    record(session, action=f"sign in from {address}{how}", actor=user.username)
    return secret, SignedIn(
        user_id=user.id,
        username=user.username,
        csrf_token=row.csrf_token,
        session_id=row.id,
        is_admin=bool(user.is_admin),
    )


def sign_in(
    session: Session, username: str, password: str, address: str, next_path: str = "/"
) -> tuple[str, SignedIn] | SecondStep | None:
    """Check a password and open a session: (cookie secret, who signed in); a
    :class:`SecondStep` when the account has a second factor; None if refused.

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
    if second_factor.has_second_factor(session, user.id):
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        session.execute(delete(PendingSignIn).where(PendingSignIn.expires <= now))
        session.add(
            PendingSignIn(
                id=_session_key(secret),
                user_id=user.id,
                next_path=next_path[:1000],
                created=now,
                expires=now + PENDING_LIFETIME,
            )
        )
        record(
            session,
            action=f"password accepted from {address}, second factor asked",
            actor=user.username,
        )
        return SecondStep(secret)
    return open_session(session, user, address)


def attempt_sign_in(
    db: Database,
    settings: Settings,
    username: str,
    password: str,
    address: str,
    *,
    next_path: str = "/",
    now: float | None = None,
) -> tuple[str, SignedIn] | SecondStep | None:
    """One sign-in attempt under the rate limits: counted first, taken back if it was right.

    Raises :class:`ratelimits.RateLimited` while the account is held for this address (or
    for every address, or the address for every account); the password is then not checked.
    ``now`` is the clock of the limits (tests pass theirs).
    """
    limits = ratelimits.sign_in_rules(settings, username, address)
    counted_at = ratelimits.hit(db, limits, "failed sign-in attempts", now=now)
    with db.write() as session:
        result = sign_in(session, username, password, address, next_path)
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


# -- the second step -----------------------------------------------------------------------------

SECOND_FACTOR_METHODS = ("totp", "webauthn", "recovery")


def pending_sign_in(session: Session, secret: str) -> PendingSignIn | None:
    """The unexpired pending sign-in of this cookie secret."""
    if not secret or len(secret) > 100:
        return None
    return session.scalars(
        select(PendingSignIn).where(
            PendingSignIn.id == _session_key(secret), PendingSignIn.expires > utcnow()
        )
    ).first()


class SignInExpired(second_factor.SecondFactorRefused):
    """The pending sign-in is gone (expired, used, or never was): start again (403)."""


def security_key_prompt(db: Database, secret: str, rp: second_factor.RelyingParty) -> str:
    """The WebAuthn options of this pending sign-in's prompt ("" without security keys)."""
    with db.write() as session:
        pending = pending_sign_in(session, secret)
        if pending is None:
            raise SignInExpired("the sign-in has expired: give your password again")
        return second_factor.authentication_options(session, pending, rp)


def finish_sign_in(
    db: Database,
    settings: Settings,
    secret: str,
    method: str,
    value: str,
    *,
    rp: second_factor.RelyingParty,
    keys: SecretKeys,
    address: str,
    now: float | None = None,
) -> tuple[str, SignedIn]:
    """The second step: ``value`` (a TOTP code, a WebAuthn assertion as JSON, a recovery code)
    for the pending sign-in of ``secret``; a session when it is right.

    Attempts are counted per account (:func:`ratelimits.second_factor_rules`) before the value
    is checked, and the count is taken back when it was right, as for passwords. A wrong value
    is journalled and refused with 403; the pending sign-in stays until it expires, so the
    person may try another factor.
    """
    if method not in SECOND_FACTOR_METHODS:
        raise InvalidInput(f"unknown second factor {method[:40]!r}")
    with db.read() as session:
        pending = pending_sign_in(session, secret)
        if pending is None:
            raise SignInExpired("the sign-in has expired: give your password again")
        user_id = pending.user_id
    limits = ratelimits.second_factor_rules(settings, user_id)
    counted_at = ratelimits.hit(db, limits, "second-factor attempts", now=now)
    with db.write() as session:
        result = _second_step(session, secret, method, value, rp=rp, keys=keys, address=address)
    if result is None:
        raise second_factor.SecondFactorRefused(_REFUSALS[method])
    ratelimits.refund(db, limits, counted_at)
    return result


_REFUSALS = {
    "totp": "That code is not right, or was used already: wait for the next one.",
    "webauthn": "The security key was not accepted.",
    "recovery": "That recovery code is not right, or was used already.",
}


def _second_step(
    session: Session,
    secret: str,
    method: str,
    value: str,
    *,
    rp: second_factor.RelyingParty,
    keys: SecretKeys,
    address: str,
) -> tuple[str, SignedIn] | None:
    pending = pending_sign_in(session, secret)
    if pending is None:
        raise SignInExpired("the sign-in has expired: give your password again")
    user = session.get(User, pending.user_id)
    if user is None:  # pragma: no cover - users are never deleted
        raise SignInExpired("the sign-in has expired: give your password again")
    if is_disabled(user):  # disabled by an admin since the password was given
        session.delete(pending)
        record(
            session, action=f"refused second factor from {address}: disabled", actor=user.username
        )
        return None
    if method == "totp":
        right = second_factor.check_totp(session, user, value, keys)
    elif method == "webauthn":
        right = second_factor.check_key(session, pending, rp, value)
    else:
        right = second_factor.use_recovery_code(session, user, value)
    if not right:
        record(
            session,
            action=f"refused second factor ({method}) from {address}",
            actor=user.username,
        )
        return None
    session.delete(pending)
    return open_session(session, user, address, f" with a second factor ({method})")
