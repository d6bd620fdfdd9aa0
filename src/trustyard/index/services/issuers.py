"""The admin's allow-list of OIDC issuers: which issuers publishers may name, and which of them
the index may reach on a private, loopback or link-local address.

Issue 14, finding 5 (blind SSRF): any signed-in user could register a publisher naming any URL,
and an unsigned token naming it made the index fetch from there. Now a publisher (pending or
not, from the web or the CLI) must name a listed issuer, and a token naming an unlisted one is
refused before anything is fetched. PyPI has no such list because its issuers are fixed in code
(warehouse ``oidc/services.py``: GitHub, GitLab.com, Google, ActiveState); an index that also
serves self-hosted issuers needs an admin to name them.

The public issuers PyPI trusts are rows the migration writes (an admin may remove them, as any
other); removing an issuer that publishers still name is refused with their list, so that no
publisher is left that can never publish.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import BindParameter, ColumnElement, exists, false, func, select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, InvalidInput, NotFound
from trustyard.index.db.models import Project, Publisher, TrustedIssuer
from trustyard.index.services.accounts import utcnow
from trustyard.index.services.journal import record
from trustyard.oidc.jwks import is_loopback_url

# Allowed on a new index (written by migration 0010; the issuers of PyPI's GitHub, GitLab and
# Google publishers, warehouse ``oidc/models``).
PUBLIC_ISSUERS = (
    "https://token.actions.githubusercontent.com",
    "https://gitlab.com",
    "https://accounts.google.com",
)
MAX_URL = 500  # the column's width
# Scheme, host (names, IPv4, bracketed IPv6), port and path: no query, fragment, user info,
# quotes or spaces (RFC 3986 unreserved characters, '%' escapes and the delimiters used).
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9._~:/%\[\]-]+")


class IssuerNotAllowed(InvalidInput):
    """A publisher names an issuer that is not on the index's allow-list."""


@dataclass(frozen=True)
class IssuerView:
    """An allowed issuer as ``admin issuer list`` and the admin page show it."""

    url: str
    allow_private_address: bool
    added_by: str | None
    created: datetime
    publishers: int  # active publishers naming it
    pending: int  # pending publishers naming it


def _private_literal(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or an IP address that is not a public one."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def check_issuer_url(url: str, *, allow_private_address: bool) -> str:
    """``url`` if it can be a token's ``iss`` that the index may fetch from; else InvalidInput.

    As tokens carry it (OpenID Connect Discovery section 2: https, no query or fragment, and
    compared as a string, so no trailing '/'); plain http only for a loopback development
    issuer. A host that is an address outside the public internet needs the private flag.
    """
    if not url or len(url) > MAX_URL or not url.isascii() or url != url.strip():
        raise InvalidInput(f"an issuer is an https:// URL of at most {MAX_URL} characters")
    if not _URL_CHARACTERS.fullmatch(url):
        raise InvalidInput(
            f"the issuer may hold only letters, digits and . _ ~ : / % [ ] -: {url!r}"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidInput(f"not a URL: {url!r} ({exc})") from None
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback_url(url)):
        raise InvalidInput(f"the issuer must be an https:// URL (http only on loopback): {url}")
    if not parts.hostname:
        raise InvalidInput(f"the issuer must name a host: {url}")
    if url.endswith("/"):
        raise InvalidInput(f"the issuer must not end with '/': {url} (tokens' iss never does)")
    if _private_literal(parts.hostname) and not allow_private_address:
        raise InvalidInput(
            f"{parts.hostname} is not a public address: add the issuer with"
            " --allow-private-address if the index may fetch its keys from there"
        )
    return url


def find_issuer(session: Session, url: str) -> TrustedIssuer | None:
    """The allow-list entry of ``url`` (compared exactly, as ``iss`` is), or None."""
    if len(url) > MAX_URL:
        return None
    return session.get(TrustedIssuer, url)


def is_listed(url: str | BindParameter[str]) -> ColumnElement[bool]:
    """:func:`find_issuer` as a SQL expression, for a check that shares its query; ``url`` may
    be a bound parameter, for a statement built once (the caller then refuses a URL longer
    than :data:`MAX_URL` itself)."""
    if isinstance(url, str) and len(url) > MAX_URL:
        return false()
    return exists().where(TrustedIssuer.__table__.c.url == url)


def require_allowed(session: Session, url: str) -> None:
    """Refuse a publisher that names an issuer not on the allow-list (one clear message)."""
    if find_issuer(session, url) is None:
        raise IssuerNotAllowed(
            f"the issuer {url[:MAX_URL]} is not trusted by this index: ask its admin to add it"
            f" (`trustyard admin issuer add {url[:MAX_URL]}`, or the admin page"
            " /admin/issuers/)"
        )


def add_issuer(
    session: Session, url: str, *, allow_private_address: bool, actor: str | None
) -> bool:
    """Allow ``url`` (or change its private-address flag); True when it was not listed."""
    check_issuer_url(url, allow_private_address=allow_private_address)
    row = session.get(TrustedIssuer, url)
    flag = " (private addresses allowed)" if allow_private_address else ""
    if row is None:
        session.add(
            TrustedIssuer(
                url=url,
                allow_private_address=allow_private_address,
                added_by=actor,
                created=utcnow(),
            )
        )
        record(session, action=f"allow trusted issuer {url}{flag}", actor=actor)
        return True
    if bool(row.allow_private_address) != allow_private_address:
        row.allow_private_address = allow_private_address
        record(
            session, action=f"change trusted issuer {url}{flag or ' (public only)'}", actor=actor
        )
    return False


def remove_issuer(session: Session, url: str, *, actor: str | None) -> None:
    """Take ``url`` off the list; refused (409) while publishers name it, with their projects."""
    row = find_issuer(session, url)
    if row is None:
        raise NotFound(f"{url[:MAX_URL]} is not a trusted issuer of this index")
    users = session.execute(
        select(Publisher.id, Project.name, Publisher.pending_name)
        .outerjoin(Project, Project.id == Publisher.project_id)
        .where(Publisher.issuer == url)
        .order_by(Publisher.id)
    ).all()
    if users:
        named = ", ".join(
            f"{pending or project} (publisher {pid}{', pending' if pending else ''})"
            for pid, project, pending in users[:10]
        )
        more = f" and {len(users) - 10} more" if len(users) > 10 else ""
        raise Conflict(
            f"{len(users)} publisher(s) still name {url}: {named}{more}; remove them first"
            " (`trustyard publisher remove PROJECT ID`)"
        )
    session.delete(row)
    record(session, action=f"remove trusted issuer {url}", actor=actor)


def list_issuers(session: Session) -> list[IssuerView]:
    """Every allowed issuer, by URL, with how many active and pending publishers name it."""
    counts: dict[tuple[str, bool], int] = {
        (issuer, bool(pending)): int(count)
        for issuer, pending, count in session.execute(
            select(Publisher.issuer, Publisher.project_id.is_(None), func.count()).group_by(
                Publisher.issuer, Publisher.project_id.is_(None)
            )
        )
    }
    rows = session.scalars(select(TrustedIssuer).order_by(TrustedIssuer.url)).all()
    return [
        IssuerView(
            row.url,
            bool(row.allow_private_address),
            row.added_by,
            row.created,
            counts.get((row.url, False), 0),
            counts.get((row.url, True), 0),
        )
        for row in rows
    ]
