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
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
