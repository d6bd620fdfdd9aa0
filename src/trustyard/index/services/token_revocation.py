"""Revoking any API token from the host by its id (``trustyard admin token revoke``, issue 20).

A user revokes their own tokens on the account page (``accounts.revoke_token``) and a CI job
burns its own minted token (``trusted_publishing.burn_token``, ``trusted_reading
.burn_read_token``); the host may revoke any of them, whoever it acts for: a user's token, or
one minted by Trusted Publishing or Trusted Reading, e.g. one seen in a build log. Each kind is
journalled where its uses are: a user's token under the user, a minted one under its projects.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from trustyard.errors import Conflict, NotFound
from trustyard.index.db.models import Token, User
from trustyard.index.services import trusted_publishing, trusted_reading
from trustyard.index.services.accounts import TOKEN_PREFIX, parse_token
from trustyard.index.services.journal import record


@dataclass(frozen=True)
class Revoked:
    """What was revoked, for the operator's confirmation."""

    token_id: str
    acting_for: str  # the user, or the CI identity of a minted token


def token_id_of(text: str) -> str:
    """The id of ``text``: a token id, or a whole token pasted (its id is taken, its secret
    ignored: the host needs no proof)."""
    text = text.strip()
    parsed = parse_token(text)
    if parsed is not None:
        return parsed[0]
    return text.removeprefix(TOKEN_PREFIX).partition(".")[0]


def revoke(session: Session, token: str, *, actor: str | None) -> Revoked:
    """Revoke the token ``token`` names (its id, or the token itself); a token already revoked
    is a 409, an unknown one a 404."""
    token_id = token_id_of(token)
    row = session.get(Token, token_id) if token_id else None
    if row is None:
        raise NotFound(f"no token {token_id[:40]!r}: give its id, as `admin token list` shows it")
    if row.revoked:
        raise Conflict(f"token {row.id} is already revoked")
    if row.reader_identity is not None:
        trusted_reading.revoke_read_token(session, row.id, actor=actor)
        return Revoked(row.id, row.reader_identity)
    row.revoked = True
    if row.publisher_identity is not None:
        for project in trusted_publishing.projects_of_token(session, row.id) or [None]:
            record(
                session,
                action=(
                    f"trusted publishing: token {row.id} of {row.publisher_identity}"
                    " revoked by an admin"
                ),
                actor=actor,
                project=project,
            )
        return Revoked(row.id, row.publisher_identity)
    user = session.get(User, row.user_id) if row.user_id is not None else None
    owner = user.username if user is not None else "(no user)"
    record(session, action=f"revoke token {row.id} of {owner} (admin)", actor=actor)
    return Revoked(row.id, owner)
