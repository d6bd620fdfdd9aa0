"""Users, passwords and API tokens.

Tokens follow PyPI's model (an opaque secret presented as ``__token__:<token>``, optionally
scoped to one project, with an expiry) but are stored only as SHA-256 hashes of their secret.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from trustyard.dists.names import normalize_name
from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from trustyard.index.db.models import Project, Role, Token, User, WebSession
from trustyard.index.services.journal import record

TOKEN_PREFIX = "trustyard-"  # noqa: S105 - a prefix, not a secret
_TOKEN_RE = re.compile(r"^trustyard-([0-9a-f]{24})\.([A-Za-z0-9_-]{43})$")
_USERNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,48}[A-Za-z0-9])?$")
_DURATION_RE = re.compile(r"^(\d+)([smhdw])$")
_hasher = PasswordHasher()
# A disabled account's password hash carries this prefix, as ``passwd -l`` locks a shadow(5)
# entry: no password can match it, and enabling the account again restores the same hash.
DISABLED_MARK = "!"


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (how the catalogue stores times)."""
    return datetime.now(UTC).replace(tzinfo=None)


def parse_duration(text: str) -> timedelta:
    """Parse ``90s``, ``15m``, ``12h``, ``30d`` or ``2w``."""
    match = _DURATION_RE.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise InvalidInput(f"invalid duration {text!r}: use a positive number and s, m, h, d or w")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    return timedelta(**{unit[match.group(2)]: int(match.group(1))})


def create_user(session: Session, username: str, password: str) -> User:
    """Register a user with an argon2 password hash.

    Names are unique whatever their case, as on PyPI (warehouse ``User.username`` is a
    ``CITEXT``): ``Alice`` cannot be registered beside ``alice`` to pass for her.
    """
    if not _USERNAME_RE.match(username):
        raise InvalidInput(
            f"invalid username {username!r}: use 1-50 letters, digits, '.', '_' or '-',"
            " starting and ending with a letter or digit"
        )
    if len(password) < 8:
        raise InvalidInput("the password must be at least 8 characters long")
    existing = find_user(session, username)
    if existing is not None:
        same = existing.username == username
        raise Conflict(
            f"user {existing.username!r} already exists"
            + ("" if same else f" (names differ only in case: {username!r})")
        )
    user = User(username=username, password_hash=_hasher.hash(password), created=utcnow())
    session.add(user)
    session.flush()
    record(session, action=f"create user {username}", actor=username)
    return user


def find_user(session: Session, username: str) -> User | None:
    """The user whose name is ``username`` in any case (PyPI signs in so), or None.

    Served by the unique index on ``lower(username)`` (migration 0015). Names are ASCII
    (``_USERNAME_RE``), where SQLite's ``lower`` and PostgreSQL's agree with Python's.
    """
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def get_user(session: Session, username: str) -> User:
    """The user called ``username`` (in any case)."""
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


@functools.cache
def _stand_in_hash() -> str:
    """A hash of a random secret, made by the same hasher (same cost) as real ones."""
    return _hasher.hash(secrets.token_urlsafe(32))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(user: User | None, password: str) -> bool:
    """Whether ``password`` is the user's (argon2 verification, constant time).

    With no user, or a disabled one (whose locked hash argon2 rejects without work), the
    password is verified against a stand-in hash of the same cost and refused, so that a
    refusal takes as long whether the account exists or not (OWASP Authentication Cheat
    Sheet, "Authentication Responses": no timing difference that tells names apart).
    """
    if user is None or is_disabled(user):
        _verify(_stand_in_hash(), password)
        return False
    return _verify(user.password_hash, password)


def secret_hash(secret: str) -> str:
    """How a token's secret is stored: SHA-256 (the secret is 256 random bits, so no KDF)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """The (id, secret) of a well-formed token, else None."""
    match = _TOKEN_RE.match(token)
    return (match.group(1), match.group(2)) if match else None


def create_token(
    session: Session,
    username: str,
    *,
    project: str | None = None,
    expires_in: timedelta | None = None,
    description: str = "",
    read_only: bool = False,
) -> str:
    """Mint an API token for ``username``; the only time the secret exists in clear.

    A ``read_only`` token reads what its user (and its project scope) may read and never
    uploads (issue 20): the credential a CI job or a developer's machine installs with, so that
    one leaked from a build log or a ``.netrc`` cannot publish.
    """
    user = get_user(session, username)
    project_id = None
    if project is not None:
        row = session.scalar(
            select(Project).where(Project.normalized_name == normalize_name(project))
        )
        if row is None:
            raise NotFound(f"no project named {project!r}")
        project_id = row.id
    token_id = secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        Token(
            id=token_id,
            user_id=user.id,
            project_id=project_id,
            secret_hash=secret_hash(secret),
            description=description,
            created=now,
            expires=now + expires_in if expires_in else None,
            read_only=read_only,
        )
    )
    scope = f"project {project}" if project else "all projects"
    kind = "read-only token" if read_only else "token"
    record(session, action=f"create {kind} {token_id} for {scope}", actor=username)
    return f"{TOKEN_PREFIX}{token_id}.{secret}"


@dataclass(frozen=True)
class Identity:
    """Who an upload request acts as: a user or a trusted publisher, maybe bound to a project."""

    username: str
    user_id: int | None  # None for a trusted publisher
    token_id: str
    project_id: int | None  # None: the token is not scoped to a project
    # A token minted by Trusted Publishing: the CI identity it acts for (its projects are
    # those of the publishers it matched, checked per upload).
    publisher_identity: str | None = None
    # Issue 20: a read-only token (a user's, or one minted by Trusted Reading) never uploads.
    read_only: bool = False
    # A token minted by Trusted Reading: the CI identity it reads for; it reads only the
    # projects it was minted for (``services/trusted_reading.may_read``).
    reader_identity: str | None = None


READ_ONLY_REFUSAL = "Invalid API Token: {token} is a read-only token and cannot upload"


def require_upload_token(identity: Identity) -> None:
    """Refuse a read-only token (403): every path that writes with a token calls this."""
    if identity.read_only:
        raise Forbidden(READ_ONLY_REFUSAL.format(token=f"token {identity.token_id}"))


def authenticate_token(session: Session, token: str) -> Identity:
    """Resolve a presented API token, or raise PyPI's 403 ``Invalid API Token: ...``."""
    parsed = parse_token(token)
    if parsed is None:
        raise Unauthenticated("Invalid API Token: token is malformed")
    row = session.get(Token, parsed[0])
    if row is None or not hmac.compare_digest(row.secret_hash, secret_hash(parsed[1])):
        raise Unauthenticated("Invalid API Token: token is not valid")
    if row.revoked:
        raise Unauthenticated("Invalid API Token: token has been revoked")
    if row.expires is not None and utcnow() >= row.expires:
        raise Unauthenticated("Invalid API Token: token is expired")
    if row.reader_identity is not None:
        return Identity(
            username=f"trusted reader {row.reader_identity}"[:200],
            user_id=None,
            token_id=row.id,
            project_id=None,
            read_only=True,
            reader_identity=row.reader_identity,
        )
    if row.publisher_identity is not None:
        return Identity(
            username=f"trusted publisher {row.publisher_identity}"[:200],
            user_id=None,
            token_id=row.id,
            project_id=None,
            publisher_identity=row.publisher_identity,
        )
    user = session.get(User, row.user_id) if row.user_id is not None else None
    if user is None:
        raise Unauthenticated("Invalid API Token: token is not valid")
    if is_disabled(user):
        raise Unauthenticated("Invalid API Token: the token's user is disabled")
    return Identity(
        username=user.username,
        user_id=user.id,
        token_id=row.id,
        project_id=row.project_id,
        read_only=bool(row.read_only),
    )


@dataclass(frozen=True)
class TokenView:
    """A user's API token as the account page lists it (never its secret)."""

    id: str
    description: str
    project: str | None  # None: valid for every project of the user
    created: datetime
    expires: datetime | None
    last_used: datetime | None
    revoked: bool
    read_only: bool = False

    @classmethod
    def of(cls, token: Token, project: str | None) -> TokenView:
        """The view of ``token``, valid for ``project`` (None: every project of its user)."""
        return cls(
            id=token.id,
            description=token.description,
            project=project,
            created=token.created,
            expires=token.expires,
            last_used=token.last_used,
            revoked=token.revoked,
            read_only=bool(token.read_only),
        )

    @property
    def expired(self) -> bool:
        """Whether the token's expiry has passed."""
        return self.expires is not None and utcnow() >= self.expires


def list_tokens(session: Session, username: str) -> list[TokenView]:
    """The API tokens ``username`` created (not those minted for trusted publishers)."""
    user = get_user(session, username)
    rows = session.execute(
        select(Token, Project.name)
        .outerjoin(Project, Token.project_id == Project.id)
        .where(
            Token.user_id == user.id,
            Token.publisher_identity.is_(None),
            Token.reader_identity.is_(None),
        )
        .order_by(Token.created.desc(), Token.id)
    ).all()
    return [TokenView.of(token, project_name) for token, project_name in rows]


def revoke_token(session: Session, username: str, token_id: str) -> None:
    """Revoke one of ``username``'s tokens; another user's token is as unknown as a missing one."""
    user = get_user(session, username)
    row = session.get(Token, token_id)
    if row is None or row.user_id != user.id or row.publisher_identity is not None:
        raise NotFound(f"you have no token {token_id!r}")
    if not row.revoked:
        row.revoked = True
        record(session, action=f"revoke token {token_id}", actor=username)


def set_admin(session: Session, username: str, *, admin: bool, actor: str | None) -> User:
    """Grant (or take away) the admin flag: admins see every user, project and issuer."""
    user = get_user(session, username)
    user.is_admin = admin
    record(
        session,
        action=f"{'grant' if admin else 'revoke'} admin {'to' if admin else 'of'} {username}",
        actor=actor,
    )
    return user


def is_disabled(user: User) -> bool:
    """Whether an admin disabled the account (its password hash is locked)."""
    return user.password_hash.startswith(DISABLED_MARK)


def set_disabled(session: Session, username: str, *, disabled: bool, actor: str | None) -> User:
    """Disable an account (no sign-in, no upload with its tokens, its sessions ended) or enable
    it again with its old password and its unrevoked tokens. Already so: 409."""
    user = get_user(session, username)
    if is_disabled(user) == disabled:
        raise Conflict(f"{username} is already {'disabled' if disabled else 'enabled'}")
    if disabled:
        user.password_hash = DISABLED_MARK + user.password_hash
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    else:
        user.password_hash = user.password_hash.removeprefix(DISABLED_MARK)
    record(session, action=f"{'disable' if disabled else 'enable'} user {username}", actor=actor)
    return user


def revoke_all_tokens(session: Session, username: str, *, actor: str | None) -> int:
    """Revoke every API token of ``username`` that is not revoked yet; returns how many."""
    user = get_user(session, username)
    rows = session.scalars(
        select(Token).where(
            Token.user_id == user.id, Token.publisher_identity.is_(None), Token.revoked.is_(False)
        )
    ).all()
    for row in rows:
        row.revoked = True
    record(session, action=f"revoke all {len(rows)} tokens of {username}", actor=actor)
    return len(rows)


# -- the admin pages: every user, and what an admin of the index may do to them ---------------

ADMIN_ONLY = "only admins of this index can see this page"


def require_admin(session: Session, user_id: int) -> User:
    """The user, if flagged as an admin of the index; everyone else gets 403."""
    user = session.get(User, user_id)
    if user is None or not user.is_admin or is_disabled(user):
        raise Forbidden(ADMIN_ONLY)
    return user


@dataclass(frozen=True)
class UserRow:
    """A user as the admin pages list them."""

    username: str
    created: datetime
    is_admin: bool
    disabled: bool
    projects: int
    tokens: int  # API tokens neither revoked nor expired


def all_users(session: Session) -> list[UserRow]:
    """Every user, by name, with their project roles and live API tokens counted."""
    roles: dict[int, int] = dict(
        session.execute(select(Role.user_id, func.count()).group_by(Role.user_id)).all()
    )
    now = utcnow()
    live: dict[int | None, int] = {
        user_id: int(count)
        for user_id, count in session.execute(
            select(Token.user_id, func.count())
            .where(
                Token.publisher_identity.is_(None),
                Token.revoked.is_(False),
                (Token.expires.is_(None)) | (Token.expires > now),
            )
            .group_by(Token.user_id)
        )
    }
    users = session.scalars(select(User).order_by(User.username)).all()
    return [
        UserRow(
            u.username,
            u.created,
            bool(u.is_admin),
            is_disabled(u),
            roles.get(u.id, 0),
            live.get(u.id, 0),
        )
        for u in users
    ]


def set_user_disabled(session: Session, admin_id: int, username: str, *, disabled: bool) -> None:
    """Disable (or enable) an account; an admin cannot disable their own (409), so that an
    index never locks out the admin doing it by a slip."""
    admin = require_admin(session, admin_id)
    if disabled and username == admin.username:
        raise Conflict("you cannot disable your own account")
    try:
        set_disabled(session, username, disabled=disabled, actor=admin.username)
    except NotFound:
        raise NotFound(f"no user named {username[:100]!r}") from None


def revoke_user_tokens(session: Session, admin_id: int, username: str) -> int:
    """Revoke every live API token of ``username``; returns how many were revoked."""
    admin = require_admin(session, admin_id)
    try:
        return revoke_all_tokens(session, username, actor=admin.username)
    except NotFound:
        raise NotFound(f"no user named {username[:100]!r}") from None
