"""Trusted Publishing: exchanging a CI system's OIDC token for a short-lived upload token.

The order of steps is warehouse's ``mint_token`` (``oidc/views.py``): read the issuer, verify the
token, try pending publishers (which create their project), then active ones, claim the ``jti``
once, mint. Minted tokens live 15 minutes and are stored as hashes. Every mint, refusal and
burn is written to the journal.

A minted token acts for the CI identity, not for one publisher row (issue 14, findings 6 and
17): it may upload to the project of *every* publisher whose claim checks the token passed
(PyPI's publishers are shared by all their projects, so a monorepo's one workflow publishes
several), and only while that publisher exists. No publisher on another project can capture
the exchange, since none is chosen over another. Two pending publishers matching one token
are refused rather than one picked.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    BindParameter,
    Connection,
    Executable,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from trustyard.errors import Error
from trustyard.index import metrics
from trustyard.index.db.engine import Database
from trustyard.index.db.models import (
    OidcKeySet,
    Project,
    Publisher,
    ReaderPolicy,
    Role,
    TeamReaderPolicy,
    Token,
    TokenPublisher,
    UsedJti,
    User,
)
from trustyard.index.services.accounts import (
    TOKEN_PREFIX,
    is_disabled,
    parse_token,
    secret_hash,
    utcnow,
)
from trustyard.index.services.issuers import MAX_URL, find_issuer, is_listed
from trustyard.index.services.journal import append, record
from trustyard.index.services.namespaces import InNamespace, check_may_create
from trustyard.index.services.publishers import match_lock
from trustyard.index.services.ratelimits import RateLimited, Rules, active, hit
from trustyard.oidc.errors import PublisherMismatch, TokenRejected
from trustyard.oidc.jwks import KeyFetchError, fetch_jwks
from trustyard.oidc.publishers import KINDS
from trustyard.oidc.verify import LEEWAY, VerifiedClaims, parse_unverified, verify_token

log = logging.getLogger("trustyard")

TOKEN_LIFETIME = timedelta(minutes=15)
JWKS_COOLDOWN = timedelta(seconds=60)
_last_purge = datetime.min  # when this process last removed expired jtis


@dataclass(frozen=True)
class MintedToken:
    """What ``/_/oidc/mint-token`` returns."""

    token: str
    expires: int  # unix time


class DatabaseKeys:
    """Issuers' JWKS cached in the catalogue, refreshed on an unknown ``kid`` after a cooldown.

    As warehouse's JWKS cache: no TTL on known keys; a refresh only when a token names a key we
    do not have, at most once a minute per issuer, keeping the old keys when a refresh fails.
    Only an issuer on the admin's allow-list is ever fetched from, with its private-address
    flag (``services/issuers.py``); an unlisted one has no keys.
    Within a process one request fetches while the others asking for the same issuer wait for
    its result, so a hanging issuer costs one fetch timeout, not one per waiting request.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._memo: dict[str, dict[str, Any]] = {}  # issuer -> keys, as last read or fetched
        self._fetching: dict[str, threading.Lock] = {}
        self._fetching_guard = threading.Lock()

    def __call__(self, issuer: str, kid: str) -> dict[str, Any] | None:
        """The JWK ``kid`` of ``issuer``, fetching the issuer's keys when needed."""
        remembered: dict[str, Any] | None = self._memo.get(issuer, {}).get(kid)
        if remembered is not None:
            return remembered
        cached, refresh_due, allowed = self._read(issuer)
        if allowed is None:
            return None
        if kid in cached or not refresh_due:
            return cached.get(kid)
        with self._fetch_lock(issuer):
            # Another request may have refreshed (or failed to) while this one waited.
            cached, refresh_due, allowed = self._read(issuer)
            if allowed is None:
                return None
            if kid in cached or not refresh_due:
                return cached.get(kid)
            return self._refresh(issuer, cached, allow_private_address=allowed).get(kid)

    def _fetch_lock(self, issuer: str) -> threading.Lock:
        with self._fetching_guard:
            return self._fetching.setdefault(issuer, threading.Lock())

    def _read(self, issuer: str) -> tuple[dict[str, Any], bool, bool | None]:
        """The cached keys of ``issuer``, whether a refresh is allowed (cooldown over), and
        its private-address flag (None: not on the allow-list, nothing to fetch or use)."""
        with self._db.read() as session:
            listed = find_issuer(session, issuer)
            if listed is None:
                self._memo.pop(issuer, None)
                return {}, False, None
            row = session.get(OidcKeySet, issuer)
            cached = dict(row.keys) if row is not None else {}
            fetched = row.fetched if row is not None else None
            allowed = bool(listed.allow_private_address)
        self._memo[issuer] = cached
        return cached, fetched is None or utcnow() - fetched >= JWKS_COOLDOWN, allowed

    def _refresh(
        self, issuer: str, cached: dict[str, Any], *, allow_private_address: bool
    ) -> dict[str, Any]:
        now = utcnow()
        try:
            keys: dict[str, Any] = fetch_jwks(issuer, allow_private_address=allow_private_address)
        except KeyFetchError as exc:
            log.warning("keeping cached keys of %s: %s", issuer, exc.message)
            keys = cached
        with self._db.write() as session:
            # Instances fetching the same issuer's keys at once take turns, so the second
            # updates the first's row instead of inserting a duplicate (a 500 before).
            self._db.serialise(session, f"oidc-key-set:{issuer}")
            stored = session.get(OidcKeySet, issuer)
            if stored is None:
                session.add(OidcKeySet(issuer=issuer, keys=keys, fetched=now))
            else:
                stored.keys = keys
                stored.fetched = now
        self._memo[issuer] = keys
        return keys


@dataclass
class Candidate:
    """A publisher row as the exchange reads it: one Core query, its project's names joined
    (the mint's hot path holds no ORM objects: issue 19)."""

    id: int
    kind: str
    issuer: str
    lookup: str
    config: dict[str, str]
    project_id: int | None
    pending_name: str | None
    project_name: str | None
    normalized_name: str | None


Row = TypeVar("Row", Publisher, ReaderPolicy, TeamReaderPolicy)
Matchable = TypeVar("Matchable", Publisher, ReaderPolicy, TeamReaderPolicy, Candidate)


def candidates(
    session: Session, model: type[Row], issuer: str, claims: VerifiedClaims
) -> list[Row]:
    """Rows of ``model`` (publishers, or Trusted Reading's reader policies: the same kinds and
    columns) of this issuer whose lookup value the claims could match (one query)."""
    wanted = [
        and_(model.kind == kind.name, model.lookup == lookup)
        for kind in KINDS.values()
        if (lookup := kind.lookup_of_claims(claims)) is not None
    ]
    if not wanted:
        return []
    return list(
        session.scalars(
            select(model).where(model.issuer == issuer, or_(*wanted)).order_by(model.id)
        ).all()
    )


def _wanted_lookups(claims: VerifiedClaims) -> list[tuple[str, str]]:
    """``(kind, lookup)`` of every kind whose lookup value these claims carry."""
    return [
        (kind.name, lookup)
        for kind in KINDS.values()
        if (lookup := kind.lookup_of_claims(claims)) is not None
    ]


@functools.cache
def _candidates_statement(kinds: tuple[str, ...]) -> Executable:
    """The candidates query for claims that carry the lookups of ``kinds`` (built once per
    combination: SQLAlchemy then reuses its compiled form)."""
    return (
        select(
            Publisher.id,
            Publisher.kind,
            Publisher.issuer,
            Publisher.lookup,
            Publisher.config,
            Publisher.project_id,
            Publisher.pending_name,
            Project.name,
            Project.normalized_name,
        )
        .select_from(Publisher)
        .outerjoin(Project, Project.id == Publisher.project_id)
        .where(
            Publisher.issuer == bindparam("issuer"),
            or_(
                *(
                    and_(Publisher.kind == kind, Publisher.lookup == bindparam(f"lookup_{kind}"))
                    for kind in kinds
                )
            ),
        )
        .order_by(Publisher.id)
    )


def _candidates(connection: Connection, issuer: str, claims: VerifiedClaims) -> list[Candidate]:
    """The publishers of ``issuer`` the claims could match, with their projects' names."""
    wanted = _wanted_lookups(claims)
    if not wanted:
        return []
    statement = _candidates_statement(tuple(kind for kind, _lookup in wanted))
    parameters = {"issuer": issuer, **{f"lookup_{kind}": lookup for kind, lookup in wanted}}
    return [Candidate(*row) for row in connection.execute(statement, parameters)]


def matching(rows: list[Matchable], claims: VerifiedClaims) -> tuple[list[Matchable], str]:
    """Every row whose kind's checks the claims pass, and the last reason one did not."""
    matched: list[Matchable] = []
    reason = "Publisher with matching claims was not found"
    for row in rows:
        try:
            KINDS[row.kind].check({**row.config, "issuer": row.issuer}, claims)
        except PublisherMismatch as exc:
            reason = exc.message
            continue
        matched.append(row)
    return matched, reason


def ci_identity(
    publishers: Iterable[Publisher | ReaderPolicy | TeamReaderPolicy | Candidate],
) -> str:
    """The CI identity a token matching ``publishers`` acts for: ``kind:lookup@issuer`` (the
    repository, project path, e-mail or issuer the publishers share), several sorted when
    publishers of more than one kind matched."""
    return ", ".join(sorted({f"{row.kind}:{row.lookup}@{row.issuer}" for row in publishers}))


class _PendingProjectExists(Exception):
    def __init__(self, publisher_id: int) -> None:
        self.publisher_id = publisher_id


def _reify(session: Session, publisher: Publisher) -> None:
    """Turn a pending publisher into an active one by creating its project (PyPI's reify)."""
    name = publisher.pending_name or ""
    if session.scalar(select(Project).where(Project.normalized_name == name)) is not None:
        raise _PendingProjectExists(publisher.id)
    owner = session.scalar(select(User).where(User.username == publisher.added_by))
    if owner is None:
        raise TokenRejected("invalid-pending-publisher", "the pending publisher's owner is gone")
    if is_disabled(owner):
        raise TokenRejected(
            "invalid-pending-publisher", "the pending publisher's owner is disabled"
        )
    try:
        # A namespace reserved after the pending publisher was registered wins (PEP 752).
        check_may_create(session, name, owner.id)
    except InNamespace as exc:
        raise TokenRejected("invalid-pending-publisher", exc.message) from exc
    project = Project(name=name, normalized_name=name, created=utcnow())
    session.add(project)
    session.flush()
    session.add(Role(user_id=owner.id, project_id=project.id, role="owner"))
    publisher.project_id = project.id
    publisher.pending_name = None
    record(
        session,
        action=f"create by pending trusted publisher {publisher.id}",
        actor=owner.username,
        project=project,
    )


def _one_pending(matched: list[Candidate]) -> Candidate | None:
    """The pending publisher among ``matched``; more than one is refused, none picked."""
    pending = [row for row in matched if row.project_id is None]
    if len(pending) > 1:
        named = ", ".join(f"{row.id} for {row.pending_name}" for row in pending)
        raise TokenRejected(
            "invalid-pending-publisher",
            f"valid token, but more than one pending publisher matches it ({named});"
            " none is used: the index's admins must remove the wrong ones",
        )
    return pending[0] if pending else None


def _pins(
    row: Publisher | ReaderPolicy | TeamReaderPolicy | Candidate, claims: VerifiedClaims
) -> dict[str, str]:
    """The fields of ``row`` its kind pins at first use that are still empty, from ``claims``."""
    return {
        field: str(claims[claim])
        for field, claim in KINDS[row.kind].pinned_at_first_use.items()
        if not row.config.get(field) and isinstance(claims.get(claim), str | int)
    }


def pin_first_use(
    session: Session,
    matched: Sequence[Publisher | ReaderPolicy | TeamReaderPolicy],
    claims: VerifiedClaims,
    actor: str,
) -> None:
    """Fill the fields a kind pins at first use (a GitHub owner id) from this token's claims."""
    for row in matched:
        pins = _pins(row, claims)
        if not pins:
            continue
        row.config = {**row.config, **pins}
        shown = ", ".join(f"{field} {value}" for field, value in pins.items())
        record(
            session,
            action=f"{_NOUN[type(row)]} {row.id}: pinned {shown} at its first exchange",
            actor=actor,
            project=session.get(Project, row.project_id) if row.project_id else None,
        )


def claim_jti(session: Session, issuer: str, claims: VerifiedClaims, single_use: bool) -> None:
    """Claim the token's ``jti`` once for every exchange (publishing and reading share the
    table: one ID token is never exchanged twice), or raise ``invalid-reuse-token``.

    The claim is ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: the primary key decides, in
    this process, across ``--workers`` processes and across instances, and a refused claim
    does not abort the transaction (PostgreSQL would, after an IntegrityError).
    """
    jti = claims.get("jti")
    if jti is None and not single_use:
        return
    if not isinstance(jti, str) or not jti:
        raise TokenRejected(
            "invalid-publisher", "valid token, but no corresponding publisher (Missing claim 'jti')"
        )
    now = utcnow()
    connection = session.connection()
    global _last_purge  # noqa: PLW0603 - a per-process timer, nothing more
    if now - _last_purge > JWKS_COOLDOWN:
        connection.execute(delete(UsedJti).where(UsedJti.expires < now))
        _last_purge = now
    expires = datetime.fromtimestamp(int(claims["exp"]) + LEEWAY + 5, UTC).replace(tzinfo=None)
    claimed = connection.execute(
        _claim_statement(connection.dialect.name),
        {"issuer": issuer, "jti": jti, "expires": expires},
    ).first()
    if claimed is None:
        raise TokenRejected("invalid-reuse-token", "invalid token: already used")


@functools.cache
def _claim_statement(dialect: str) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING`` of a used jti, built once per dialect."""
    insert_of = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert_of(UsedJti)
        .on_conflict_do_nothing(index_elements=["issuer", "jti"])
        .returning(UsedJti.jti)
    )


_INSERT_TOKEN = insert(Token)
_INSERT_TOKEN_PUBLISHER = insert(TokenPublisher)


def _mint(connection: Connection, matched: list[Candidate], claims: VerifiedClaims) -> MintedToken:
    """A token for the CI identity, bound to every publisher in ``matched`` (all active now);
    the journal of each of their projects names them all. Core statements only: an insert of
    the token, one of its publishers, and a journal entry (with its serial bump) per project."""
    token_id = secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    identity = ci_identity(matched)
    kept = {name for row in matched for name in KINDS[row.kind].stored_claims}
    stored = {name: claims[name] for name in sorted(kept) if name in claims}
    connection.execute(
        _INSERT_TOKEN,
        {
            "id": token_id,
            "user_id": None,
            "publisher_identity": identity,
            "project_id": None,
            "secret_hash": secret_hash(secret),
            "description": f"trusted publishing {stored}"[:200],
            "created": now,
            "expires": now + TOKEN_LIFETIME,
            "last_used": None,
            "revoked": False,
            "read_only": False,
            "reader_identity": None,
        },
    )
    connection.execute(
        _INSERT_TOKEN_PUBLISHER,
        [{"token_id": token_id, "publisher_id": row.id} for row in matched],
    )
    projects = sorted(
        {
            (row.normalized_name, row.project_name, row.project_id)
            for row in matched
            if row.project_id is not None and row.normalized_name is not None
        }
    )
    via = ", ".join(
        f"{name} (publisher {', '.join(str(r.id) for r in matched if r.project_id == project_id)})"
        for _normalized, name, project_id in projects
    )
    for normalized, _name, project_id in projects:
        append(
            connection,
            action=f"trusted publishing: minted token {token_id} for {identity} on {via} {stored}",
            actor=_actor(identity),
            project_id=project_id,
            project_name=normalized,
        )
    expires = int((now + TOKEN_LIFETIME).replace(tzinfo=UTC).timestamp())
    return MintedToken(token=f"{TOKEN_PREFIX}{token_id}.{secret}", expires=expires)


_NOUN: dict[type, str] = {
    Publisher: "trusted publisher",
    ReaderPolicy: "reader policy",
    TeamReaderPolicy: "team reader policy",
}


def _actor(identity: str) -> str:
    """The journal's actor for a CI identity (the column holds 200 characters)."""
    return f"trusted-publisher:{identity}"[:200]


def record_refusal(
    db: Database, error: TokenRejected, claims: dict[str, Any], *, what: str = "trusted publishing"
) -> None:
    """Write a refused exchange, with the reason and the identifying claims, to the journal."""
    metrics.mint_refused(error.code)
    summary = {
        k: claims[k] for k in ("iss", "sub", "repository", "project_path", "jti") if k in claims
    }
    try:
        with db.write() as session:
            record(
                session,
                action=f"{what} refused: {error.code}: {error.message} {summary}",
                actor=None,
            )
    except Error:  # pragma: no cover - the refusal itself is what the client must see
        log.exception("could not record a refused exchange")


PublisherLimit = Callable[[str], Rules]


def mint_token(
    db: Database,
    audience: str,
    token: Any,
    keys: DatabaseKeys,
    limit: PublisherLimit | None = None,
) -> MintedToken:
    """Exchange an OIDC token for an upload token, or raise :class:`TokenRejected`.

    ``limit`` gives the rate-limit rules of a CI identity (:func:`ci_identity` of the
    publishers the token matches, or ``<iss> <sub>`` for a verified token that matches none);
    over them, :class:`RateLimited` is raised before the ``jti`` is claimed, so the CI token
    can still be exchanged once the window ends.
    """
    claims: dict[str, Any] = {}
    try:
        issuer, verified = verify_exchange_token(
            db, audience, token, keys, seen=claims, named_by=(Publisher,)
        )
        try:
            minted = _exchange(db, issuer, verified, limit)
        except _PendingProjectExists as taken:
            # As on PyPI, a pending publisher whose name was taken meanwhile is removed.
            with db.write() as session:
                stale = session.get(Publisher, taken.publisher_id)
                if stale is not None:
                    session.delete(stale)
            raise TokenRejected(
                "invalid-pending-publisher", "valid token, but project already exists"
            ) from None
    except TokenRejected as error:
        record_refusal(db, error, claims)
        raise
    except RateLimited as limited:
        record_refusal(db, TokenRejected(limited.code, limited.message), claims)
        raise
    metrics.token_minted()
    return minted


def verify_exchange_token(
    db: Database,
    audience: str,
    token: Any,
    keys: DatabaseKeys,
    *,
    seen: dict[str, Any],
    named_by: tuple[type[Publisher] | type[ReaderPolicy] | type[TeamReaderPolicy], ...],
) -> tuple[str, VerifiedClaims]:
    """The steps every exchange of a CI token starts with (Trusted Publishing and Trusted
    Reading alike): a string, an issuer on the admin's allow-list that some row of
    ``named_by`` names, then the signature, ``audience`` and lifetime (``oidc/verify.py``).

    ``seen`` is filled with the claims as far as they are known, for the refusal's journal line.
    """
    if not isinstance(token, str):
        raise TokenRejected("invalid-payload", "token: Input should be a valid string")
    parsed = parse_unverified(token)
    issuer = parsed.issuer
    seen["iss"] = issuer
    if len(issuer) > MAX_URL:  # longer than any listed issuer can be
        allowed, named = False, False
    else:
        with db.read_connection() as connection:
            # Before any fetch: an issuer off the admin's allow-list, or one no publisher (or
            # reader policy) names, is never contacted (issue 14, finding 5). One query.
            allowed, named = connection.execute(
                _issuer_statement(named_by), {"issuer": issuer}
            ).one()
    if not allowed or not named:
        raise TokenRejected("invalid-payload", "unknown trusted publishing issuer")
    verified = verify_token(parsed, issuer=issuer, audience=audience, keys=keys)
    seen.update(verified)
    return issuer, verified


@functools.cache
def _issuer_statement(
    named_by: tuple[type[Publisher] | type[ReaderPolicy] | type[TeamReaderPolicy], ...],
) -> Executable:
    """Whether ``:issuer`` is on the allow-list, and whether a row of ``named_by`` names it,
    as one statement built once (per tuple of models) with the issuer a parameter: built per
    call, SQLAlchemy computed its cache key and compiled it again for every exchange."""
    issuer: BindParameter[str] = bindparam("issuer")
    return select(
        is_listed(issuer),
        or_(*(exists().where(model.__table__.c.issuer == issuer) for model in named_by)),
    )


def _exchange(
    db: Database, issuer: str, verified: VerifiedClaims, limit: PublisherLimit | None
) -> MintedToken:
    """Count the exchange (when the publisher limit is on: a read finds the CI identity it is
    counted under), then match, claim the jti and mint in one short write, shared with the
    exchanges running at the same time (:meth:`Database.write_batched`).

    The write takes the turn of every CI identity it may touch (one per kind whose lookup the
    claims carry: a superset of the publishers that match), so that two exchanges of one
    identity never both reify one pending publisher or pin an owner id differently. It is not
    fsynced (``durable=False``): after a power loss the newest exchanges may be forgotten,
    which at worst lets a still-unexpired CI token be exchanged once more. Every upload, by
    contrast, is durable before it is acknowledged.
    """
    if limit is not None and active(limit("")):
        with db.read() as session:
            found = _candidates(session.connection(), issuer, verified)
        matched, reason = matching(found, verified)
        who = ci_identity(matched) if matched else f"{issuer} {verified.get('sub', '')}"
        hit(db, limit(who), "token exchanges by this publisher")
        if not matched:
            raise TokenRejected(
                "invalid-publisher", f"valid token, but no corresponding publisher ({reason})"
            )
    locks = sorted(match_lock(issuer, kind, lookup) for kind, lookup in _wanted_lookups(verified))

    def write(session: Session) -> MintedToken:
        for lock in locks:
            db.serialise(session, lock)
        connection = session.connection()
        matched, reason = matching(_candidates(connection, issuer, verified), verified)
        if not matched:
            raise TokenRejected(
                "invalid-publisher", f"valid token, but no corresponding publisher ({reason})"
            )
        pending = _one_pending(matched)
        if pending is not None:  # this exchange creates the pending publisher's project
            _reify(session, session.get_one(Publisher, pending.id))
        single_use = any(KINDS[row.kind].single_use for row in matched)
        claim_jti(session, issuer, verified, single_use)
        pinned = [row.id for row in matched if _pins(row, verified)]
        if pinned:
            rows = [session.get_one(Publisher, row_id) for row_id in pinned]
            pin_first_use(session, rows, verified, _actor(ci_identity(matched)))
        if pending is not None or pinned:  # read the rows as the ORM changed them
            session.flush()
            fresh = {row.id: row for row in _candidates(connection, issuer, verified)}
            matched = [fresh[row.id] for row in matched]
        return _mint(connection, matched, verified)

    # Concurrent exchanges share one write (SQLite's single writer), each in a savepoint.
    return db.write_batched(write, durable=False)


def projects_of_token(session: Session, token_id: str) -> list[Project | None]:
    """The projects whose publishers a minted upload token was minted for (for the journal)."""
    return list(
        session.scalars(
            select(Project)
            .join(Publisher, Publisher.project_id == Project.id)
            .join(TokenPublisher, TokenPublisher.publisher_id == Publisher.id)
            .where(TokenPublisher.token_id == token_id)
            .distinct()
        ).all()
    )


def presented_token(token: Any) -> tuple[str, str]:
    """The id and secret of a minted token a job presents to burn it (the token is the
    credential), refused with PyPI's reason codes when it is not one."""
    if not isinstance(token, str):
        raise TokenRejected("invalid-payload", "token: Input should be a valid string")
    parsed = parse_token(token)
    if parsed is None:
        raise TokenRejected("invalid-token", "malformed or invalid token")
    return parsed


def proves(row: Token | None, secret: str) -> bool:
    """Whether ``secret`` is the secret of the token ``row`` (compared in constant time)."""
    return row is not None and hmac.compare_digest(row.secret_hash, secret_hash(secret))


def burn_token(db: Database, token: Any) -> None:
    """Revoke a minted token before it expires (uv calls this after publishing)."""
    token_id, secret = presented_token(token)
    with db.write() as session:
        row = session.get(Token, token_id)
        if row is None or row.publisher_identity is None or not proves(row, secret):
            raise TokenRejected("invalid-token", "malformed or invalid token")
        row.revoked = True
        for project in projects_of_token(session, row.id) or [None]:
            record(
                session,
                action=f"trusted publishing: burned token {row.id}",
                actor=_actor(row.publisher_identity),
                project=project,
            )
