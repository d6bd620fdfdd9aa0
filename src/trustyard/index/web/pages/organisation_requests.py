"""Organisations from the web (issue 20), as PyPI's applications: a signed-in user asks for
one at ``/manage/organisations/`` (its name, a display name and what it is for) and sees
their requests there; an admin of the index approves or declines them at
``/admin/organisations/``, where they may also create an organisation directly.

PyPI's paths (warehouse ``routes.py``): ``/manage/organizations/`` (the user's organisations
and the application form) and ``/admin/organization_applications/`` with approve and decline
actions. Every rule and limit is the service's (:mod:`~trustyard.index.services.
organisation_requests`); these handlers parse, call it, redirect.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trustyard.index.context import context_of
from trustyard.index.services import accounts, organisation_requests, organisations
from trustyard.index.services.roles import IndexAdmin
from trustyard.index.web.errors import FormRefused
from trustyard.index.web.handling import (
    checked_form,
    current_user,
    only_fields,
    web_page,
    write_then_redirect,
)
from trustyard.index.web.render import page

MINE = "/manage/organisations/"
ADMIN = "/admin/organisations/"


def _text(fields: dict[str, str], name: str, limit: int) -> str:
    """A free-text field, bounded before the service sees it (the service checks again)."""
    value = fields.get(name, "")
    if len(value) > limit:
        raise FormRefused(f"the {name.replace('_', ' ')} is longer than {limit} characters")
    return value


@web_page
async def my_requests(request: Request) -> Response:
    """The user's organisations and requests (GET), or a new request (POST)."""
    who = current_user(request)
    if request.method == "POST":
        fields = await checked_form(request)
        only_fields(fields, {"name", "display_name", "description"})
        name = fields.get("name", "").strip()
        if not name:
            raise FormRefused("give the organisation's name")

        def file(session: Session) -> None:
            organisation_requests.file_request(
                session,
                who.username,
                name[:200],
                _text(fields, "display_name", organisations.MAX_DISPLAY_NAME),
                _text(fields, "description", organisation_requests.MAX_DESCRIPTION),
            )

        return await write_then_redirect(request, file, MINE)

    def load() -> Response:
        with context_of(request).db.read() as session:
            context = {
                "organisations": organisations.organisations_of(session, who.user_id),
                "requests": organisation_requests.requests_of(session, who.username),
                "max_pending": organisation_requests.MAX_PENDING,
                "max_description": organisation_requests.MAX_DESCRIPTION,
            }
        return page(request, "manage_organisations.html", context)

    return await run_in_threadpool(load)


@web_page
async def admin_page(request: Request) -> Response:
    """The requests waiting for a decision and every organisation (admins only)."""
    who = current_user(request)

    def load() -> Response:
        with context_of(request).db.read() as session:
            accounts.require_admin(session, who.user_id)
            context = {
                "section": "organisations",
                "requests": organisation_requests.pending_requests(session),
                "organisations": organisations.list_organisations(session),
            }
        return page(request, "admin_organisations.html", context)

    return await run_in_threadpool(load)


async def _as_admin(
    request: Request,
    fields_allowed: set[str],
    act: Callable[[Session, IndexAdmin, dict[str, str]], object],
) -> Response:
    """Check the form, then run ``act(session, admin, fields)`` as the signed-in admin."""
    who = current_user(request)
    fields = await checked_form(request)
    only_fields(fields, fields_allowed)

    def change(session: Session) -> None:
        admin = accounts.require_admin(session, who.user_id)
        act(session, IndexAdmin(admin.username), fields)

    return await write_then_redirect(request, change, ADMIN)


@web_page
async def approve(request: Request) -> Response:
    """Approve a request: the organisation is created, its requester its owner."""
    request_id: int = request.path_params["request_id"]
    return await _as_admin(
        request,
        set(),
        lambda s, admin, _f: organisation_requests.approve(s, request_id, actor=admin),
    )


@web_page
async def decline(request: Request) -> Response:
    """Decline a request, with the reason its requester sees."""
    request_id: int = request.path_params["request_id"]
    return await _as_admin(
        request,
        {"reason"},
        lambda s, admin, f: organisation_requests.decline(
            s, request_id, _text(f, "reason", organisation_requests.MAX_REASON), actor=admin
        ),
    )


@web_page
async def create(request: Request) -> Response:
    """Create an organisation directly (``trustyard admin org create``)."""

    def act(session: Session, admin: IndexAdmin, fields: dict[str, str]) -> None:
        name, owner = fields.get("name", "").strip(), fields.get("owner", "").strip()
        if not name or not owner:
            raise FormRefused("give the organisation's name and its first owner")
        organisations.create_organisation(
            session,
            name[:200],
            owner[:200],
            actor=admin,
            display_name=_text(fields, "display_name", organisations.MAX_DISPLAY_NAME),
        )

    return await _as_admin(request, {"name", "owner", "display_name"}, act)


routes: list[BaseRoute] = [
    Route(MINE, my_requests, methods=["GET", "HEAD", "POST"]),
    Route(ADMIN, admin_page, methods=["GET", "HEAD"]),
    Route(ADMIN + "requests/{request_id:int}/approve/", approve, methods=["POST"]),
    Route(ADMIN + "requests/{request_id:int}/decline/", decline, methods=["POST"]),
    Route(ADMIN + "create/", create, methods=["POST"]),
]
