"""``/admin/policy/``: the policy gate for upstream files (issue 18) on the web, for admins:
the cooldown and the cut-off in force, the exceptions, and the forms of ``trustyard policy
allow/revoke/cutoff`` (CSRF-checked, journalled as the signed-in admin)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trustyard.errors import InvalidInput
from trustyard.index.context import context_of
from trustyard.index.db.models import PolicyException
from trustyard.index.policy.rules import format_age, parse_timestamp
from trustyard.index.services import accounts, policy
from trustyard.index.services.accounts import parse_duration, utcnow
from trustyard.index.services.sessions import SignedIn
from trustyard.index.web.errors import FormRefused
from trustyard.index.web.handling import AdminChange, admin_form, current_user, web_page
from trustyard.index.web.render import page

HERE = "/admin/policy/"


def _state(row: PolicyException, now: datetime) -> str:
    if row.revoked is not None:
        return "revoked"
    return "expired" if row.expires is not None and row.expires <= now else "active"


def _row(row: PolicyException) -> dict[str, object]:
    """The row's values, read inside the session (the template renders after it closed)."""
    return {column.key: getattr(row, column.key) for column in PolicyException.__table__.columns}


def _page(request: Request, who: SignedIn) -> Response:
    ctx = context_of(request)
    now = utcnow()
    with ctx.db.read() as session:
        accounts.require_admin(session, who.user_id)
        age = policy.stored_min_age(session)
        cut = policy.cutoff(session)
        exceptions = [
            {"row": _row(row), "state": _state(row, now)}
            for row in reversed(policy.exceptions(session, everything=True))
        ]
    context: dict[str, object] = {
        "section": "policy",
        "min_release_age": format_age(age) if age else "0",
        "cutoff": cut,
        "exceptions": exceptions,
        "upstream": ctx.settings.upstream,
        "state_ttl": f"{policy.STATE_TTL:g}",
    }
    return page(request, "admin_policy.html", context)


def _applied(request: Request) -> None:
    """This instance sees its own change at once (others within ``STATE_TTL``)."""
    upstream = context_of(request).upstream
    if upstream is not None:
        upstream.forget_policy()


async def _policy_form(
    request: Request, allowed: set[str], read: Callable[[dict[str, str]], AdminChange]
) -> Response:
    """An admin form of this page (:func:`admin_form`), applied at once in this process."""
    answer = await admin_form(request, allowed, read, HERE)
    _applied(request)
    return answer


@web_page
async def overview(request: Request) -> Response:
    """The gate's state and its exceptions, with the forms to change them."""
    return await run_in_threadpool(_page, request, current_user(request))


@web_page
async def allow(request: Request) -> Response:
    """Add an exception (``trustyard policy allow``)."""

    def read(fields: dict[str, str]) -> AdminChange:
        requirement = fields.get("requirement", "").strip()
        if not requirement:
            raise FormRefused("give NAME or NAME==VERSION")
        expires_text = fields.get("expires", "").strip()
        expires = parse_duration(expires_text) if expires_text else None
        reason = fields.get("reason", "")
        return lambda session, actor: policy.allow(
            session, requirement, reason=reason, actor=actor, expires_in=expires
        )

    return await _policy_form(request, {"requirement", "reason", "expires"}, read)


@web_page
async def revoke(request: Request) -> Response:
    """Revoke an exception now (``trustyard policy revoke``)."""

    def read(fields: dict[str, str]) -> AdminChange:
        try:
            exception_id = int(fields.get("id", ""))
        except ValueError:
            raise InvalidInput("give the exception's number") from None
        reason = fields.get("reason", "").strip()
        return lambda session, actor: policy.revoke(session, exception_id, actor, reason)

    return await _policy_form(request, {"id", "reason"}, read)


@web_page
async def cutoff(request: Request) -> Response:
    """Set or lift the emergency cut-off (``trustyard policy cutoff``)."""
    db = context_of(request).db

    def read(fields: dict[str, str]) -> AdminChange:
        text = fields.get("timestamp", "").strip()
        if not text:
            raise FormRefused("give a timestamp (ISO 8601 with a zone) or none")
        moment = None if text.lower() == "none" else parse_timestamp(text)
        reason = fields.get("reason", "").strip()
        if len(reason) > policy.MAX_REASON:
            raise FormRefused(f"the reason is longer than {policy.MAX_REASON} characters")

        def change(session: Session, actor: str) -> None:
            db.serialise(session, policy.SETTINGS_LOCK)
            policy.set_cutoff(session, moment, actor, reason)

        return change

    return await _policy_form(request, {"timestamp", "reason"}, read)


routes: list[BaseRoute] = [
    Route(HERE, overview, methods=["GET", "HEAD"]),
    Route(HERE + "allow/", allow, methods=["POST"]),
    Route(HERE + "revoke/", revoke, methods=["POST"]),
    Route(HERE + "cutoff/", cutoff, methods=["POST"]),
]
