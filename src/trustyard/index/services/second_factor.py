"""A second factor for web sign-in (issue 20): TOTP (RFC 6238), WebAuthn security keys (W3C
WebAuthn Level 2, verified by py_webauthn) and single-use recovery codes, as PyPI offers them.

This module keeps the factors and checks them; :mod:`sessions` decides when a sign-in needs one.
TOTP keys are sealed at rest with the index's key file (:mod:`secret_keys`), bound to their
row; a key stored in clear before sealing existed still works, and is sealed when the server
starts (:func:`seal_totp_secrets`) or an export is imported.
Every enrolment, removal and use is journalled under the account's name. The factors guard the
web sign-in only: API tokens are credentials of their own (as on PyPI) and are untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from trustyard.errors import Conflict, Error, InvalidInput, NotFound
from trustyard.index.db.engine import Database
from trustyard.index.db.models import (
    PendingSignIn,
    RecoveryCode,
    TotpSecret,
    User,
    WebAuthnChallenge,
    WebAuthnCredential,
)
from trustyard.index.services.accounts import get_user, require_admin, utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.roles import Permission, holds_anywhere
from trustyard.index.services.secret_keys import PREFIX as SEALED_PREFIX
from trustyard.index.services.secret_keys import SecretKeys, SecretsUnreadable, sealed_key_id

# RFC 6238 §5.2: one step either side is accepted for clock drift; 30 s steps, 6 digits (what
# every authenticator app assumes when the otpauth URI names neither).
TOTP_DRIFT_STEPS = 1
RECOVERY_CODES = 8
MAX_KEYS = 10
MAX_KEY_NAME_CHARS = 64
CHALLENGE_LIFETIME = timedelta(minutes=5)


class SecondFactorRefused(Error):
    """A code, key or recovery code that does not sign this account in (403)."""

    status = 403


@dataclass(frozen=True)
class KeyView:
    """A security key as the account page lists it."""

    id: int
    name: str
    created: datetime
    last_used: datetime | None


@dataclass(frozen=True)
class Factors:
    """What protects an account: the account page's and the sign-in step's view."""

    totp: bool
    totp_pending: bool
    keys: list[KeyView]
    recovery_left: int
    recovery_total: int

    @property
    def enrolled(self) -> bool:
        """Whether signing in needs a second step."""
        return self.totp or bool(self.keys)


def factors_of(session: Session, user_id: int) -> Factors:
    """The account's factors (never a secret)."""
    totp = session.get(TotpSecret, user_id)
    keys = session.scalars(
        select(WebAuthnCredential)
        .where(WebAuthnCredential.user_id == user_id)
        .order_by(WebAuthnCredential.id)
    ).all()
    left, total = session.execute(
        select(
            func.count(RecoveryCode.id).filter(RecoveryCode.used.is_(None)),
            func.count(RecoveryCode.id),
        ).where(RecoveryCode.user_id == user_id)
    ).one()
    return Factors(
        totp=totp is not None and totp.confirmed,
        totp_pending=totp is not None and not totp.confirmed,
        keys=[KeyView(k.id, k.name, k.created, k.last_used) for k in keys],
        recovery_left=int(left),
        recovery_total=int(total),
    )


def has_second_factor(session: Session, user_id: int) -> bool:
    """Whether the account has a confirmed TOTP key or a security key (one query: asked on
    every signed-in page under ``require_2fa``)."""
    totp = select(TotpSecret.user_id).where(
        TotpSecret.user_id == user_id, TotpSecret.confirmed.is_(True)
    )
    keys = select(WebAuthnCredential.id).where(WebAuthnCredential.user_id == user_id)
    return bool(session.scalar(select(or_(exists(totp), exists(keys)))))


def must_enrol(session: Session, user_id: int, *, is_admin: bool) -> bool:
    """Whether ``require_2fa`` holds this account back until it sets up a factor: it has write
    or admin rights (an admin, or anyone who may upload to a project, directly or through a
    team or an organisation: what can change what others install) and no factor. Users with no
    such right (a Reader, or no project) stay free to sign in and look."""
    if has_second_factor(session, user_id):
        return False
    return is_admin or holds_anywhere(session, user_id, Permission.UPLOAD)


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    return user


def _forget_codes_if_unprotected(session: Session, user_id: int) -> None:
    """Recovery codes stand in for a factor; without any factor left they go too."""
    session.flush()
    if not has_second_factor(session, user_id):
        session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


# -- TOTP ----------------------------------------------------------------------------------------


def _row_context(user_id: int) -> str:
    """What a sealed TOTP key is bound to: its row (a value moved to another account's row
    does not open there)."""
    return f"totp_secrets:{user_id}"


def _secret_of(row: TotpSecret, keys: SecretKeys) -> str:
    return keys.open(row.secret, _row_context(row.user_id))


def begin_totp(session: Session, user_id: int, keys: SecretKeys) -> str:
    """A new TOTP key for ``user``, unconfirmed until :func:`confirm_totp` (the same one again
    while it stays unconfirmed, so reloading the page does not break a half-done enrolment).
    It is kept sealed; the plaintext is returned, to show once more."""
    row = session.get(TotpSecret, user_id)
    if row is not None and row.confirmed:
        raise Conflict("an authenticator app is already set up: remove it first to replace it")
    if row is not None:
        return _secret_of(row, keys)
    secret = pyotp.random_base32()
    sealed = keys.seal(secret, _row_context(user_id))
    session.add(TotpSecret(user_id=user_id, secret=sealed, created=utcnow()))
    return secret


def pending_totp_secret(session: Session, user_id: int, keys: SecretKeys) -> str | None:
    """The key of an enrolment not yet confirmed (the only key ever shown again)."""
    row = session.get(TotpSecret, user_id)
    return _secret_of(row, keys) if row is not None and not row.confirmed else None


def seal_totp_secrets(db: Database, keys: SecretKeys) -> int:
    """Seal every TOTP key still in clear (stored before sealing existed, or imported from
    an export of such an index) with the current key; how many. Run when the server starts
    and after an import; a no-op (one query) once none is left."""
    with db.read() as session:
        clear = session.scalar(
            select(func.count()).where(TotpSecret.secret.not_like(f"{SEALED_PREFIX}%"))
        )
    if not clear:
        return 0
    with db.write() as session:
        return seal_in_clear(session, keys)


def seal_in_clear(session: Session, keys: SecretKeys) -> int:
    """:func:`seal_totp_secrets` inside the caller's transaction."""
    rows = session.scalars(
        select(TotpSecret).where(TotpSecret.secret.not_like(f"{SEALED_PREFIX}%")).with_for_update()
    ).all()
    for row in rows:
        row.secret = keys.seal(row.secret, _row_context(row.user_id))
    return len(rows)


def reseal_totp_secrets(session: Session, keys: SecretKeys) -> int:
    """Seal every TOTP key again with the current key (after a rotation), in clear ones too;
    how many were sealed anew. A key that does not open stops it all (nothing changed)."""
    current = keys.ready().current
    rows = session.scalars(select(TotpSecret).with_for_update()).all()
    moved = 0
    for row in rows:
        if sealed_key_id(row.secret) != current:
            context = _row_context(row.user_id)
            row.secret = keys.seal(keys.open(row.secret, context), context)
            moved += 1
    return moved


def take_in_imported(session: Session, keys: SecretKeys) -> None:
    """After an import (``backup.import_index``'s ``after_rows``): every sealed TOTP key must
    open with this index's key file, else the import is refused whole (the export's key file
    was not put in place first); keys in clear (an older index's export) are sealed. Call
    ``keys.ready()`` before the import's transaction opens."""
    for row in session.scalars(select(TotpSecret)).all():
        try:
            _secret_of(row, keys)
        except SecretsUnreadable as exc:
            raise SecretsUnreadable(
                f"the export's TOTP keys are sealed with key {sealed_key_id(row.secret)}, which"
                f" {keys.path} does not hold: put the key file of the index the export came"
                " from in its place (or add its key as a line of that file) and import again;"
                " nothing was imported"
            ) from exc
    seal_in_clear(session, keys)


def totp_uri(secret: str, username: str, issuer: str) -> str:
    """The ``otpauth://totp/`` URI authenticator apps read (Google Authenticator's Key Uri
    Format, which every app follows)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def _normal_code(code: str) -> str:
    return "".join(code.split())


def _accept_totp(row: TotpSecret, secret: str, code: str, now: datetime) -> bool:
    """Check ``code`` against the key at the steps around ``now``; a step at or before the last
    one accepted is refused (replay), and an accepted one becomes the last."""
    code = _normal_code(code)
    if len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if row.last_step is not None and step <= row.last_step:
                return False
            row.last_step = step
            return True
    return False


def confirm_totp(
    session: Session, user_id: int, code: str, keys: SecretKeys, *, now: datetime | None = None
) -> None:
    """Make the pending key a factor once a code from it is right (the app was set up)."""
    user = _user(session, user_id)
    row = session.get(TotpSecret, user.id, with_for_update=True)
    if row is None or row.confirmed:
        raise Conflict("there is no authenticator app being set up: start again")
    if not _accept_totp(row, _secret_of(row, keys), code, now or utcnow()):
        raise SecondFactorRefused("that code is not right: check the app's clock and try again")
    row.confirmed = True
    record(session, action="second factor: authenticator app (TOTP) added", actor=user.username)


def remove_totp(session: Session, user_id: int) -> None:
    """Remove the TOTP key (confirmed or not)."""
    user = _user(session, user_id)
    row = session.get(TotpSecret, user.id)
    if row is None:
        raise NotFound("no authenticator app is set up")
    session.delete(row)
    record(
        session,
        action="second factor: authenticator app (TOTP) removed",
        actor=user.username,
    )
    _forget_codes_if_unprotected(session, user.id)


def check_totp(
    session: Session, user: User, code: str, keys: SecretKeys, *, now: datetime | None = None
) -> bool:
    """Whether ``code`` is this account's current TOTP code, not used before. The row is locked
    (PostgreSQL; SQLite's writers are serial anyway) so two requests racing with one code
    cannot both see it unused."""
    row = session.get(TotpSecret, user.id, with_for_update=True)
    if row is None or not row.confirmed:
        return False
    return _accept_totp(row, _secret_of(row, keys), code, now or utcnow())


# -- recovery codes ------------------------------------------------------------------------------


def _code_hash(code: str) -> str:
    return hashlib.sha256(_normal_recovery(code).encode()).hexdigest()


def _normal_recovery(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())


def _new_recovery_code() -> str:
    """100 random bits as four groups of five base32 letters (easy to copy, hard to guess)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    text = "".join(secrets.choice(alphabet) for _ in range(20))
    return "-".join(text[i : i + 5] for i in range(0, 20, 5))


def generate_recovery_codes(session: Session, user_id: int) -> list[str]:
    """New recovery codes replacing every old one; the only time they exist in clear."""
    user = _user(session, user_id)
    if not has_second_factor(session, user.id):
        raise Conflict("set up an authenticator app or a security key first")
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    now = utcnow()
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=_code_hash(c), created=now) for c in codes
    )
    record(session, action="second factor: recovery codes generated", actor=user.username)
    return codes


def use_recovery_code(session: Session, user: User, code: str) -> bool:
    """Spend one unused recovery code of this account; whether it was one."""
    if len(_normal_recovery(code)) != 20:
        return False
    row = session.scalars(
        select(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _code_hash(code),
            RecoveryCode.used.is_(None),
        )
        .with_for_update()
    ).first()
    if row is None:
        return False
    row.used = utcnow()
    left = factors_of(session, user.id).recovery_left
    record(
        session,
        action=f"second factor: recovery code used ({left} left)",
        actor=user.username,
    )
    return True


# -- WebAuthn ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelyingParty:
    """Who the keys are registered with: the RP ID is the host name (WebAuthn §5.1.2: a
    registrable domain suffix of the origin), the origin the page's own."""

    rp_id: str
    origin: str
    name: str = "trustyard"


def _user_handle(user: User) -> bytes:
    # WebAuthn §14.6.1: a user handle carries no personal data; the account's id suffices.
    return f"trustyard-user-{user.id}".encode()


def registration_options(
    session: Session, user_id: int, web_session_id: str, rp: RelyingParty
) -> str:
    """The options ``navigator.credentials.create`` takes, as JSON; the challenge is kept for
    the answer (one per browser session, replaced by the next prompt)."""
    user = _user(session, user_id)
    existing = session.scalars(
        select(WebAuthnCredential.credential_id).where(WebAuthnCredential.user_id == user.id)
    ).all()
    if len(existing) >= MAX_KEYS:
        raise Conflict(f"an account may have at most {MAX_KEYS} security keys")
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=rp.name,
        user_name=user.username,
        user_id=_user_handle(user),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=_b64decode(c)) for c in existing],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.DISCOURAGED,
        ),
    )
    _keep_challenge(session, web_session_id, options.challenge)
    return options_to_json(options)


def _keep_challenge(session: Session, web_session_id: str, challenge: bytes) -> None:
    row = session.get(WebAuthnChallenge, web_session_id)
    value = bytes_to_base64url(challenge)
    expires = utcnow() + CHALLENGE_LIFETIME
    if row is None:
        session.add(WebAuthnChallenge(session_id=web_session_id, challenge=value, expires=expires))
    else:
        row.challenge, row.expires = value, expires


def _b64decode(text: str) -> bytes:
    try:
        return base64url_to_bytes(text)
    except ValueError as exc:
        raise InvalidInput("a value is not base64url") from exc


def _credential_json(text: str) -> str:
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise InvalidInput("the security key's answer is not JSON") from exc
    if not isinstance(parsed, dict):
        raise InvalidInput("the security key's answer is not a JSON object")
    return text


def register_key(
    session: Session,
    user_id: int,
    web_session_id: str,
    rp: RelyingParty,
    *,
    name: str,
    credential: str,
) -> None:
    """Verify the browser's answer to :func:`registration_options` and keep the key."""
    user = _user(session, user_id)
    name = name.strip()
    if not name:
        raise InvalidInput("give the security key a name, to recognise it later")
    if len(name) > MAX_KEY_NAME_CHARS:
        raise InvalidInput(f"the key's name is longer than {MAX_KEY_NAME_CHARS} characters")
    challenge = session.get(WebAuthnChallenge, web_session_id)
    if challenge is None or challenge.expires <= utcnow():
        raise Conflict("the security key prompt has expired: reload the page and try again")
    expected = _b64decode(challenge.challenge)
    session.delete(challenge)  # one answer per prompt
    try:
        verified = verify_registration_response(
            credential=_credential_json(credential),
            expected_challenge=expected,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
        )
    except (InvalidRegistrationResponse, InvalidJSONStructure) as exc:
        raise SecondFactorRefused(f"the security key's answer was refused: {exc}") from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    taken = session.scalar(
        select(WebAuthnCredential.id).where(WebAuthnCredential.credential_id == credential_id)
    )
    if taken is not None:
        raise Conflict("this security key is already registered")
    session.add(
        WebAuthnCredential(
            user_id=user.id,
            credential_id=credential_id,
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            name=name,
            created=utcnow(),
        )
    )
    record(session, action=f"second factor: security key {name!r} added", actor=user.username)


def remove_key(session: Session, user_id: int, key_id: int) -> None:
    """Remove one of the account's security keys."""
    user = _user(session, user_id)
    row = session.get(WebAuthnCredential, key_id)
    if row is None or row.user_id != user.id:
        raise NotFound("no such security key on this account")
    session.delete(row)
    record(session, action=f"second factor: security key {row.name!r} removed", actor=user.username)
    _forget_codes_if_unprotected(session, user.id)


def authentication_options(session: Session, pending: PendingSignIn, rp: RelyingParty) -> str:
    """The options ``navigator.credentials.get`` takes for this sign-in, as JSON (empty when
    the account has no key); the challenge is kept on the pending sign-in."""
    ids = session.scalars(
        select(WebAuthnCredential.credential_id).where(
            WebAuthnCredential.user_id == pending.user_id
        )
    ).all()
    if not ids:
        return ""
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        allow_credentials=[PublicKeyCredentialDescriptor(id=_b64decode(c)) for c in ids],
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    pending.challenge = bytes_to_base64url(options.challenge)
    return options_to_json(options)


def check_key(session: Session, pending: PendingSignIn, rp: RelyingParty, credential: str) -> bool:
    """Whether ``credential`` is a valid assertion, by one of the account's keys, over the
    challenge last shown to this sign-in; the key's counter and last use are updated."""
    if pending.challenge is None:
        return False
    expected = _b64decode(pending.challenge)
    pending.challenge = None  # one answer per prompt
    try:
        parsed = json.loads(_credential_json(credential))
        raw_id = parsed.get("rawId") or parsed.get("id")
        if not isinstance(raw_id, str):
            return False
        row = session.scalars(
            select(WebAuthnCredential).where(
                WebAuthnCredential.credential_id == raw_id,
                WebAuthnCredential.user_id == pending.user_id,
            )
        ).first()
        if row is None:
            return False
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=expected,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            credential_public_key=_b64decode(row.public_key),
            credential_current_sign_count=row.sign_count,
        )
    except (InvalidAuthenticationResponse, InvalidJSONStructure):
        return False
    row.sign_count = verified.new_sign_count
    row.last_used = utcnow()
    return True


def usernames_with_factor(session: Session) -> set[str]:
    """Every account that has a second factor (the admin's list of users shows it)."""
    totp = select(TotpSecret.user_id).where(TotpSecret.confirmed.is_(True))
    keys = select(WebAuthnCredential.user_id)
    return set(session.scalars(select(User.username).where(User.id.in_(totp) | User.id.in_(keys))))


def reset_by_admin(session: Session, admin_id: int, username: str) -> int:
    """:func:`reset` from the admin pages: only an admin may."""
    admin = require_admin(session, admin_id)
    return reset(session, username, actor=admin.username)


def reset(session: Session, username: str, *, actor: str | None) -> int:
    """Remove every factor and recovery code of ``user`` (a lost device: an admin's act);
    returns how many were removed."""
    user = get_user(session, username)
    removed = 0
    for model in (TotpSecret, WebAuthnCredential, RecoveryCode):
        result = session.execute(delete(model).where(model.user_id == user.id))
        removed += int(getattr(result, "rowcount", 0) or 0)
    if removed == 0:
        raise Conflict(f"{user.username} has no second factor to reset")
    session.execute(delete(PendingSignIn).where(PendingSignIn.user_id == user.id))
    record(
        session,
        action=f"second factor of {user.username} reset ({removed} factors and codes removed)",
        actor=actor,
    )
    return removed
