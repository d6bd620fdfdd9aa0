"""Trusted Reading: a CI job exchanges its OIDC ID token for a 15-minute read token (issue 20).

Trusted Publishing's exchange turned around for installs, so a CI job installs from a private
index with no stored secret. What it shares with publishing is the verification
(:func:`trusted_publishing.verify_exchange_token`: the issuer allow-list, the signature, the
lifetime), the claim checks of each publisher kind, the single use of the ``jti`` (one table
for both exchanges) and the rate limits. What it does not share is the audience
(:func:`services.audience.read_audience`) and the endpoint (``/_/oidc/mint-read-token``), so a
token asked for reading is never an upload token and the reverse.

Who may mint: a project's active trusted publishers, its reader policies and its teams'
(``services/reader_policies.py``). A minted token is a read-only token (``tokens.read_only``)
acting for the CI identity (``tokens.reader_identity``); the projects it may read are rows of
``token_readers``, one per publisher or policy that matched, which cascade away with them,
and the projects of the teams whose policies matched (``token_team_readers``, looked up at
each read by ``reader_policies.team_policies_may_read``). A pending publisher lets nobody
read: its project does not exist yet.

A minted token can be burned before its 15 minutes end: by the job that holds it
(:func:`burn_read_token`, ``POST /_/oidc/burn-read-token``, the token itself is the credential,
as for Trusted Publishing's ``burn-token``) or by the host (:func:`revoke_read_token`, ``admin
token revoke``), which lists them with :func:`minted_read_tokens`. Every read authenticates its
token again (``accounts.authenticate_token``), so a burned token reads nothing from the next
request on.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustyard.errors import NotFound
from trustyard.index.db.engine import Database
from trustyard.index.db.models import (
    Project,
    Publisher,
    ReaderPolicy,
    TeamReaderPolicy,
    Token,
    TokenReader,
)
from trustyard.index.services import reader_policies
from trustyard.index.services.accounts import TOKEN_PREFIX, secret_hash, utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.ratelimits import RateLimited, hit
from trustyard.index.services.trusted_publishing import (
    DatabaseKeys,
    MintedToken,
    PublisherLimit,
    candidates,
    ci_identity,
    claim_jti,
    matching,
    pin_first_use,
    presented_token,
    proves,
    record_refusal,
    verify_exchange_token,
)
from trustyard.oidc.errors import TokenRejected
from trustyard.oidc.publishers import KINDS
from trustyard.oidc.verify import VerifiedClaims

READ_TOKEN_LIFETIME = timedelta(minutes=15)
WHAT = "trusted reading"

Matched = Sequence[Publisher | ReaderPolicy | TeamReaderPolicy]


def may_read(session: Session, token_id: str, project_id: int) -> bool:
    """Whether the read token ``token_id`` (minted by Trusted Reading) may read ``project_id``.

    The contract with ``read_access.can_read`` (issue 20): asked for a reader whose identity
    carries ``reader_identity``, after the token itself was authenticated (not revoked, not
    expired). Read at every request, so a removed publisher or policy takes the access along.
    """
    return (
        session.scalar(
            select(TokenReader.id)
            .where(TokenReader.token_id == token_id, TokenReader.project_id == project_id)
            .limit(1)
        )
        is not None
    ) or reader_policies.team_policies_may_read(session, token_id, project_id)


def readable_projects(session: Session, token_id: str) -> list[str]:
    """The names of the projects a minted read token may read (for messages and tests)."""
    direct = session.scalars(
        select(Project.name)
        .join(TokenReader, TokenReader.project_id == Project.id)
        .where(TokenReader.token_id == token_id)
    ).all()
    through_teams = reader_policies.team_policy_projects(session, token_id)
    return sorted({*direct, *(project.name for project in through_teams)})


def _matched(session: Session, issuer: str, verified: VerifiedClaims) -> tuple[Matched, str]:
    """The active publishers and the reader policies whose checks the claims pass."""
    publishers = [
        row
        for row in candidates(session, Publisher, issuer, verified)
        if row.project_id is not None
    ]
    by_publisher, reason = matching(publishers, verified)
    by_policy, policy_reason = matching(
        candidates(session, ReaderPolicy, issuer, verified), verified
    )
    by_team, team_reason = matching(
        candidates(session, TeamReaderPolicy, issuer, verified), verified
    )
    if not publishers:
        reason = policy_reason if not by_team else team_reason
    return [*by_publisher, *by_policy, *by_team], reason


def _actor(identity: str) -> str:
    return f"trusted-reader:{identity}"[:200]


def _mint(session: Session, matched: Matched, claims: VerifiedClaims) -> MintedToken:
    token_id = secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    identity = ci_identity(matched)
    kept = {name for row in matched for name in KINDS[row.kind].stored_claims}
    stored = {name: claims[name] for name in sorted(kept) if name in claims}
    session.add(
        Token(
            id=token_id,
            user_id=None,
            publisher_identity=None,
            reader_identity=identity,
            read_only=True,
            project_id=None,
            secret_hash=secret_hash(secret),
            description=f"{WHAT} {stored}"[:200],
            created=now,
            expires=now + READ_TOKEN_LIFETIME,
        )
    )
    session.flush()
    session.add_all(
        TokenReader(
            token_id=token_id,
            project_id=row.project_id,
            publisher_id=row.id if isinstance(row, Publisher) else None,
            reader_policy_id=row.id if isinstance(row, ReaderPolicy) else None,
        )
        for row in matched
        if not isinstance(row, TeamReaderPolicy)
    )
    # A team's policy reads the team's projects of each moment: only the link is stored.
    by_team = [row for row in matched if isinstance(row, TeamReaderPolicy)]
    through_teams = reader_policies.link_team_policies(session, token_id, by_team)
    projects = sorted(
        {session.get_one(Project, row.project_id) for row in matched if row.project_id}
        | set(through_teams),
        key=lambda project: project.normalized_name,
    )
    names = ", ".join(project.name for project in projects) or "no project yet (a team's)"
    on: list[Project | None] = [*projects] or [None]
    for project in on:
        record(
            session,
            action=f"{WHAT}: minted read token {token_id} for {identity} on {names} {stored}",
            actor=_actor(identity),
            project=project,
        )
    expires = int((now + READ_TOKEN_LIFETIME).replace(tzinfo=UTC).timestamp())
    return MintedToken(token=f"{TOKEN_PREFIX}{token_id}.{secret}", expires=expires)


def _exchange(
    db: Database, issuer: str, verified: VerifiedClaims, limit: PublisherLimit | None
) -> MintedToken:
    with db.read() as session:
        matched, reason = _matched(session, issuer, verified)
        identity = ci_identity(matched) if matched else None
    if limit is not None:
        who = identity if identity is not None else f"{issuer} {verified.get('sub', '')}"
        hit(db, limit(who), "read token exchanges by this identity")
    if identity is None:
        raise TokenRejected(
            "invalid-publisher",
            f"valid token, but no corresponding publisher or reader policy ({reason})",
        )
    with db.write(durable=False) as session:
        matched, reason = _matched(session, issuer, verified)
        if not matched:
            raise TokenRejected(
                "invalid-publisher",
                f"valid token, but no corresponding publisher or reader policy ({reason})",
            )
        claim_jti(session, issuer, verified, any(KINDS[row.kind].single_use for row in matched))
        pin_first_use(session, matched, verified, _actor(ci_identity(matched)))
        return _mint(session, matched, verified)


def mint_read_token(
    db: Database,
    read_audience: str,
    token: Any,
    keys: DatabaseKeys,
    limit: PublisherLimit | None = None,
) -> MintedToken:
    """Exchange an OIDC ID token minted for ``read_audience`` for a 15-minute read token, or
    raise :class:`TokenRejected` (journalled with its reason) or ``RateLimited``."""
    claims: dict[str, Any] = {}
    try:
        issuer, verified = verify_exchange_token(
            db,
            read_audience,
            token,
            keys,
            seen=claims,
            named_by=(Publisher, ReaderPolicy, TeamReaderPolicy),
        )
        return _exchange(db, issuer, verified, limit)
    except TokenRejected as error:
        record_refusal(db, error, claims, what=WHAT)
        raise
    except RateLimited as limited:
        record_refusal(db, TokenRejected(limited.code, limited.message), claims, what=WHAT)
        raise


# -- burning a minted token before it expires ----------------------------------------------------


@dataclass(frozen=True)
class MintedReadToken:
    """A token Trusted Reading minted, as ``admin token list --trusted-reading`` shows it
    (never its secret): the CI identity it reads for and the projects it may still read."""

    id: str
    reader_identity: str
    projects: tuple[str, ...]
    created: datetime
    expires: datetime | None
    last_used: datetime | None
    revoked: bool

    def state(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``active``."""
        if self.revoked:
            return "revoked"
        return "expired" if self.expires is not None and now >= self.expires else "active"


_IN_CHUNK = 500  # ids per IN (...) list: SQLite's and PostgreSQL's limits are far above


def minted_read_tokens(session: Session, *, everything: bool = False) -> list[MintedReadToken]:
    """The tokens Trusted Reading minted, newest first: the live ones (neither revoked nor
    expired), or ``everything`` still in the catalogue."""
    query = select(Token).where(Token.reader_identity.is_not(None))
    if not everything:
        query = query.where(Token.revoked.is_(False), Token.expires > utcnow())
    rows = session.scalars(query.order_by(Token.created.desc(), Token.id)).all()
    names: dict[str, list[str]] = defaultdict(list)
    ids = [row.id for row in rows]
    for start in range(0, len(ids), _IN_CHUNK):
        for token_id, name in session.execute(
            select(TokenReader.token_id, Project.name)
            .join(Project, Project.id == TokenReader.project_id)
            .where(TokenReader.token_id.in_(ids[start : start + _IN_CHUNK]))
            .distinct()
            .order_by(Project.name)
        ):
            names[token_id].append(name)
    return [
        MintedReadToken(
            id=row.id,
            reader_identity=row.reader_identity or "",
            projects=tuple(names[row.id]),
            created=row.created,
            expires=row.expires,
            last_used=row.last_used,
            revoked=bool(row.revoked),
        )
        for row in rows
    ]


def _revoke(session: Session, row: Token, *, how: str, actor: str | None) -> bool:
    """Revoke a minted read token, journalled under each project it read; False if it was
    revoked already (nothing journalled twice)."""
    if row.revoked:
        return False
    row.revoked = True
    projects: list[Project | None] = list(
        session.scalars(
            select(Project)
            .join(TokenReader, TokenReader.project_id == Project.id)
            .where(TokenReader.token_id == row.id)
            .distinct()
            .order_by(Project.normalized_name)
        ).all()
    )
    for project in projects or [None]:
        record(
            session,
            action=f"{WHAT}: read token {row.id} of {row.reader_identity} {how}",
            actor=actor,
            project=project,
        )
    return True


def revoke_read_token(session: Session, token_id: str, *, actor: str | None) -> bool:
    """Revoke a token Trusted Reading minted (the host's ``admin token revoke``); False if it
    was revoked already. Any other token is :class:`NotFound` here."""
    row = session.get(Token, token_id)
    if row is None or row.reader_identity is None:
        raise NotFound(f"no token {token_id[:40]!r} minted by Trusted Reading")
    return _revoke(session, row, how="revoked by an admin", actor=actor)


def burn_read_token(db: Database, token: Any) -> None:
    """Revoke the minted read token presented, at its holder's request (the job is done with
    it). The token is the credential: a wrong or malformed one, or one that Trusted Reading
    did not mint, is refused (``invalid-token``) after one read, without the write lock; a
    token already revoked or expired is burned again without complaint (a cleanup step may
    run twice)."""
    token_id, secret = presented_token(token)
    with db.read() as session:
        row = session.get(Token, token_id)
        if row is None or row.reader_identity is None or not proves(row, secret):
            raise TokenRejected("invalid-token", "malformed or invalid token (not a read token)")
        if row.revoked:
            return
    with db.write() as session:
        row = session.get_one(Token, token_id, with_for_update=True)
        _revoke(
            session,
            row,
            how="burned by its holder",
            actor=_actor(row.reader_identity or ""),
        )
