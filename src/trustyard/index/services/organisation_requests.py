"""Organisations requested by users and approved or declined by an admin of the index (issue
20), as PyPI's organisation applications (warehouse ``OrganizationApplication``: a signed-in
user asks for a name, a display name and says what it is for; PyPI's admins approve or
decline; approval creates the organisation with the applicant as its owner).

Limits, so that a user cannot bury the admins (or the database) in requests: at most
:data:`MAX_PENDING` requests of one user wait at once, at most :data:`MAX_PER_WINDOW` are
filed by one user in :data:`WINDOW` (declined ones count), and every field is bounded. A
request names a name no organisation holds or held (:mod:`.organisation_names`) and none of
the user's own pending requests; several users may ask for one name, and the admin decides
(approving one makes the others' fail, 409, when approved in turn). A pending request
reserves nothing. Disabled accounts may not request, and are not made owners by approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from trustyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from trustyard.index.db.models import OrganisationRequest, User
from trustyard.index.services import organisation_names, organisations
from trustyard.index.services.accounts import find_user, is_disabled, utcnow
from trustyard.index.services.journal import record
from trustyard.index.services.roles import IndexAdmin

MAX_PENDING = 3
MAX_PER_WINDOW = 10
WINDOW = timedelta(days=30)
MAX_DESCRIPTION = 1000
MAX_REASON = 500


class RequestStatus(StrEnum):
    """Where a request stands, as stored in ``organisation_requests.status``."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


@dataclass(frozen=True)
class RequestView:
    """A request as the admin page, the requester's page and the CLI show it."""

    id: int
    name: str
    display_name: str
    description: str
    requested_by: str
    created: datetime
    status: str
    decided_by: str | None
    decided: datetime | None
    reason: str


def _view(row: OrganisationRequest, username: str) -> RequestView:
    return RequestView(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        description=row.description,
        requested_by=username,
        created=row.created,
        status=row.status,
        decided_by=row.decided_by,
        decided=row.decided,
        reason=row.reason,
    )


def _checked_description(description: str) -> str:
    text = description.strip().replace("\r\n", "\n")
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(f"the description is longer than {MAX_DESCRIPTION} characters")
    if any(not (ch.isprintable() or ch in "\n\t") for ch in text):
        raise InvalidInput("the description cannot hold control characters")
    return text


def _count(session: Session, *conditions: ColumnElement[bool]) -> int:
    return int(
        session.scalar(select(func.count()).select_from(OrganisationRequest).where(*conditions))
        or 0
    )


def file_request(
    session: Session,
    username: str,
    name: str,
    display_name: str = "",
    description: str = "",
    *,
    now: datetime | None = None,
) -> RequestView:
    """Ask for an organisation called ``name`` (journalled). 400 for a bad field, 409 for a
    name held or retired, a pending request of one's own for it, or a user over the limits."""
    now = now or utcnow()
    user = find_user(session, username)
    if user is None or is_disabled(user):
        raise Forbidden("only an enabled account may request an organisation")
    display, normal = organisations.checked_name(name)
    shown = organisations.checked_display_name(display_name, display)
    text = _checked_description(description)
    organisation_names.require_free(session, name, normal, for_org=None, reuse_retired=False)
    mine = OrganisationRequest.user_id == user.id
    pending = OrganisationRequest.status == RequestStatus.PENDING.value
    if _count(session, mine, pending, OrganisationRequest.normalized_name == normal):
        raise Conflict(f"you have already requested the organisation {display}: it is pending")
    if _count(session, mine, pending) >= MAX_PENDING:
        raise Conflict(
            f"you have {MAX_PENDING} requests waiting for an admin, the most one account may"
            " have: wait for a decision"
        )
    if _count(session, mine, OrganisationRequest.created > now - WINDOW) >= MAX_PER_WINDOW:
        raise Conflict(
            f"you have filed {MAX_PER_WINDOW} organisation requests in {WINDOW.days} days, the"
            " most one account may: try again later"
        )
    row = OrganisationRequest(
        name=display,
        normalized_name=normal,
        display_name=shown,
        description=text,
        user_id=user.id,
        created=now,
        status=RequestStatus.PENDING.value,
        reason="",
    )
    session.add(row)
    session.flush()
    record(
        session,
        action=f"request organisation {display} (request {row.id})",
        actor=user.username,
    )
    return _view(row, user.username)


def _rows(session: Session, *conditions: ColumnElement[bool]) -> list[RequestView]:
    rows = session.execute(
        select(OrganisationRequest, User.username)
        .join(User, User.id == OrganisationRequest.user_id)
        .where(*conditions)
        .order_by(OrganisationRequest.id)
    ).all()
    return [_view(row, username) for row, username in rows]


def pending_requests(session: Session) -> list[RequestView]:
    """The requests waiting for an admin, oldest first."""
    return _rows(session, OrganisationRequest.status == RequestStatus.PENDING.value)


def requests_of(session: Session, username: str) -> list[RequestView]:
    """The user's own requests, whatever their state, oldest first."""
    user = find_user(session, username)
    if user is None:
        return []
    return _rows(session, OrganisationRequest.user_id == user.id)


def _pending(session: Session, request_id: int, actor: object) -> OrganisationRequest:
    if not isinstance(actor, IndexAdmin):
        raise Forbidden("only an admin of the index decides on organisation requests")
    row = session.get(OrganisationRequest, request_id)
    if row is None:
        raise NotFound(f"there is no organisation request {request_id}")
    if row.status != RequestStatus.PENDING:
        raise Conflict(f"request {request_id} was {row.status} already")
    return row


def approve(
    session: Session, request_id: int, *, actor: IndexAdmin, now: datetime | None = None
) -> organisations.OrganisationView:
    """Create the organisation requested, its requester its first owner (admins, 403): 404
    for no such request, 409 for one decided already or a name taken meanwhile."""
    row = _pending(session, request_id, actor)
    now = now or utcnow()
    requester = session.get_one(User, row.user_id)
    view = organisations.create_organisation(
        session, row.name, requester.username, actor=actor, now=now, display_name=row.display_name
    )
    row.status = RequestStatus.APPROVED.value
    row.decided_by, row.decided = actor.name, now
    row.organisation_id = organisations.get_organisation(session, view.name).id
    record(
        session,
        action=f"approve organisation request {row.id} ({row.name}, by {requester.username})",
        actor=actor.name,
    )
    return view


def decline(
    session: Session,
    request_id: int,
    reason: str = "",
    *,
    actor: IndexAdmin,
    now: datetime | None = None,
) -> RequestView:
    """Refuse the request, with a reason its requester sees (admins, 403; 404, 409 as
    :func:`approve`)."""
    row = _pending(session, request_id, actor)
    text = reason.strip()
    if len(text) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    row.status = RequestStatus.DECLINED.value
    row.decided_by, row.decided, row.reason = actor.name, now or utcnow(), text
    requester = session.get_one(User, row.user_id)
    said = f": {text}" if text else ""
    record(
        session,
        action=f"decline organisation request {row.id} ({row.name}, by {requester.username}){said}",
        actor=actor.name,
    )
    return _view(row, requester.username)
