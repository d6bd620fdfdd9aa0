"""The pages of role invitations (issue 14, finding 3): the invitee's list, with Accept and
Decline, and an owner's Revoke on the collaborators page (which sends the invitations).

PyPI's paths (warehouse ``routes.py``) are ``/manage/projects/`` (the invitee's list),
``/account/verify-project-role/`` (accept or decline, with the mailed token) and
``/manage/project/<name>/collaboration/revoke_invite/``; ours sit under the account and the
project the same way, without tokens (the invitee is the signed-in user):
``/manage/account/invitations/[<name>/accept/|<name>/decline/]`` and
``/manage/project/<name>/invitations/<username>/revoke/``.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from trustyard.index.context import context_of
from trustyard.index.services import invitations, organisations
from trustyard.index.web.handling import (
    checked_form,
    current_user,
    only_fields,
    project_name_param,
    web_page,
    write_then_redirect,
)
from trustyard.index.web.render import page

MINE = "/manage/account/invitations/"  # the invitee's list (web/routes.py)


def _collaborators_page(name: str) -> str:
    return f"/manage/project/{quote(name)}/collaboration/"


@web_page
async def my_invitations(request: Request) -> Response:
    """The roles and organisation memberships offered to the signed-in user, each with Accept
    and Decline (an organisation's are answered by web/pages/organisations.py)."""
    who = current_user(request)

    def load() -> Response:
        with context_of(request).db.read() as session:
            offered = invitations.invitations_of(session, who.username)
            memberships = organisations.invitations_of(session, who.username)
        return page(
            request,
            "manage_invitations.html",
            {
                "invitations": offered,
                "org_invitations": memberships,
                "lifetime_hours": invitations.LIFETIME // timedelta(hours=1),
            },
        )

    return await run_in_threadpool(load)


async def _answer(request: Request, *, accepted: bool) -> Response:
    who = current_user(request)
    name = project_name_param(request)
    only_fields(await checked_form(request), set())

    def answer(session: Session) -> None:
        if accepted:
            invitations.accept(session, name, invitee=who.username)
        else:
            invitations.decline(session, name, invitee=who.username)

    # Accepted: the project's collaborators, now with the invitee among them.
    to = _collaborators_page(name) if accepted else MINE
    return await write_then_redirect(request, answer, to)


@web_page
async def accept_invitation(request: Request) -> Response:
    """Take the role offered (the invitation is deleted; the journal says ``accepted``)."""
    return await _answer(request, accepted=True)


@web_page
async def decline_invitation(request: Request) -> Response:
    """Refuse the role offered (the invitation is deleted)."""
    return await _answer(request, accepted=False)


@web_page
async def revoke_invitation(request: Request) -> Response:
    """Withdraw an invitation (owners only), from the project's collaborators page."""
    who = current_user(request)
    name = project_name_param(request)
    username: str = request.path_params["username"]
    only_fields(await checked_form(request), set())

    def revoke(session: Session) -> None:
        invitations.revoke(session, name, username[:200], actor=who.username)

    return await write_then_redirect(request, revoke, _collaborators_page(name))
