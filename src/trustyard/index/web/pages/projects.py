"""A project's settings: its releases (yank, unyank), its PEP 792 status, its audit log, its
collaborators."""

from __future__ import annotations

import re
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from trustyard.index.context import context_of
from trustyard.index.db.models import Project
from trustyard.index.project_status import ProjectStatus
from trustyard.index.services import (
    collaborators,
    invitations,
    journal,
    organisations,
    projects,
    read_access,
    roles,
    statuses,
    teams,
)
from trustyard.index.services.sessions import SignedIn
from trustyard.index.web.errors import FormRefused
from trustyard.index.web.handling import checked_form as _form
from trustyard.index.web.handling import current_user as _user
from trustyard.index.web.handling import only_fields as _only
from trustyard.index.web.handling import (
    project_name_param,
    project_settings_page,
    web_page,
    write_then_redirect,
    yank_handlers,
)
from trustyard.index.web.handling import see_other as _redirect
from trustyard.index.web.paging import page_links, page_query
from trustyard.index.web.render import page

TOKEN_ID = re.compile(r"[0-9a-f]{24}")  # accounts.create_token's ids


def _manage_url(name: str, part: str = "") -> str:
    return f"/manage/project/{quote(name)}/{part}"


@web_page
async def manage_releases(request: Request) -> Response:
    """The project's releases, each with a yank (and reason) or unyank form."""
    who = _user(request)

    def gather(session: Session, project: Project) -> dict[str, object]:
        return {
            "releases": projects.project_releases(session, project),
            "may": roles.allowed_on(session, project, who.user_id),
        }

    return await run_in_threadpool(
        project_settings_page,
        request,
        who,
        project_name_param(request),
        template="manage_releases.html",
        section="releases",
        gather=gather,
    )


def _as_collaborator(session: Session, who: SignedIn) -> str:
    """Collaborators yank as themselves; ``set_yanked`` checks their role allows it."""
    return who.username


yank_release, unyank_release = yank_handlers(
    _as_collaborator, lambda name: _manage_url(name, "releases/")
)
"""Yank a release (PEP 592), with an optional reason shown to installers; undo a yank."""


# What an owner may choose here (PyPI's archive and unarchive, and deprecation); quarantine is
# the admins' (services/statuses.py).
OWNER_STATUSES = (ProjectStatus.ACTIVE, ProjectStatus.ARCHIVED, ProjectStatus.DEPRECATED)


@web_page
async def project_status(request: Request) -> Response:
    """The project's PEP 792 status and reason (GET); an owner changes it (POST): archived
    refuses new uploads, deprecated only warns, active lifts either."""
    who = _user(request)
    name = project_name_param(request)
    if request.method == "POST":
        fields = await _form(request)
        _only(fields, {"status", "reason"})
        status = fields.get("status", "")
        reason = fields.get("reason", "")
        if status not in {s.value for s in OWNER_STATUSES}:
            raise FormRefused("choose active, archived or deprecated")
        db = context_of(request).db

        def change(session: Session) -> None:
            statuses.set_status(db, session, name, status, reason=reason, actor=who.username)

        return await write_then_redirect(request, change, _manage_url(name, "status/"))

    def gather(session: Session, project: Project) -> dict[str, object]:
        return {
            "marker": statuses.status_of(session, project.id),
            "choices": OWNER_STATUSES,
            "may": roles.allowed_on(session, project, who.user_id),
            "visibility": project.visibility,
        }

    return await run_in_threadpool(
        project_settings_page,
        request,
        who,
        name,
        template="manage_status.html",
        section="status",
        gather=gather,
    )


@web_page
async def project_visibility(request: Request) -> Response:
    """An owner makes the project private or public (issue 20; journalled), from the form on
    the status page, which shows the visibility to every collaborator."""
    who = _user(request)
    name = project_name_param(request)
    fields = await _form(request)
    _only(fields, {"visibility"})
    wanted = fields.get("visibility", "")

    def change(session: Session) -> None:
        read_access.set_visibility(session, name, wanted, actor=who.username)

    return await write_then_redirect(request, change, _manage_url(name, "status/"))


@web_page
async def project_history(request: Request) -> Response:
    """The project's audit log: its journal entries, newest first, a page at a time."""
    who = _user(request)

    def gather(session: Session, project: Project) -> dict[str, object]:
        query = page_query(request)
        found = journal.history_page(
            session, project.name, before=query.before, after=query.after, limit=query.limit
        )
        return {
            "entries": found.entries,
            "links": page_links(request.url.path, query, found),
            "limit": query.limit,
            "show_project": False,
        }

    return await run_in_threadpool(
        project_settings_page,
        request,
        who,
        project_name_param(request),
        template="manage_history.html",
        section="history",
        gather=gather,
    )


def _collaboration_page(request: Request, who: SignedIn, name: str) -> Response:
    def gather(session: Session, project: Project) -> dict[str, object]:
        people = collaborators.list_collaborators(session, project.name)
        held = roles.roles_of(session, project, who.user_id)
        org = organisations.organisation_of(session, project)
        in_org = org.name if org is not None else None
        owners = sum(1 for person in people if person.role == "owner")
        return {
            "collaborators": people,
            "invitations": invitations.project_invitations(session, project.name),
            "my_role": next((r.value for r in roles.ProjectRole if r in held), None),
            "me": who.username,
            "sole_owner": owners == 1 and in_org is None,
            "team_roles": teams.team_roles_on(session, project),
            "organisation": in_org,
            "may": roles.allowed_on(session, project, who.user_id),
        }

    return project_settings_page(
        request,
        who,
        name,
        template="manage_collaboration.html",
        section="collaboration",
        gather=gather,
    )


@web_page
async def collaboration(request: Request) -> Response:
    """List the project's owners and maintainers (GET); invite one (POST)."""
    who = _user(request)
    name = project_name_param(request)
    if request.method != "POST":
        return await run_in_threadpool(_collaboration_page, request, who, name)
    fields = await _form(request)
    _only(fields, {"username", "role"})
    username = fields.get("username", "").strip()
    role = fields.get("role", "")
    if not username:
        raise FormRefused("give the username of the user to add")
    if len(username) > 100:
        raise FormRefused("the username is longer than 100 characters")

    def add(session: Session) -> None:
        invitations.invite(session, name, username, role, actor=who.username)

    return await write_then_redirect(request, add, _manage_url(name, "collaboration/"))


def _removal_choices(fields: dict[str, str]) -> tuple[list[int], list[str]]:
    """The ticked boxes of the removal page: ``publisher-<id>`` and ``token-<id>``, each with
    the value ``remove`` (an unticked box is not sent at all)."""
    publisher_ids: list[int] = []
    token_ids: list[str] = []
    for key, value in fields.items():
        if key == "csrf_token":
            continue
        kind, _, ident = key.partition("-")
        if value != "remove":
            raise FormRefused(f"the field {key[:40]!r} must be 'remove' (or not sent)")
        if kind == "publisher" and ident.isdigit() and len(ident) < 12:
            publisher_ids.append(int(ident))
        elif kind == "token" and TOKEN_ID.fullmatch(ident):
            token_ids.append(ident)
        else:
            raise FormRefused(f"unknown form field: {key[:40]}")
    return publisher_ids, token_ids


@web_page
async def remove_collaborator(request: Request) -> Response:
    """Take a user's role on the project away: GET shows what they set up for the project (the
    publishers they added, their tokens for it), each ticked for removal; POST removes the role
    and the ticked ones in one transaction."""
    who = _user(request)
    name = project_name_param(request)
    username: str = request.path_params["username"]
    ctx = context_of(request)
    if request.method != "POST":

        def preview() -> Response:
            with ctx.db.read() as session:
                removal = collaborators.removal_preview(
                    session, name, username[:200], actor=who.username
                )
            return page(
                request,
                "manage_remove_collaborator.html",
                {
                    "project_name": removal.project,
                    "removal": removal,
                    "leaving": removal.collaborator.username == who.username,
                    "section": "collaboration",
                },
            )

        return await run_in_threadpool(preview)
    fields = await _form(request)
    publisher_ids, token_ids = _removal_choices(fields)

    def remove() -> None:
        with ctx.db.write() as session:
            collaborators.remove_collaborator(
                session,
                name,
                username,
                actor=who.username,
                publisher_ids=publisher_ids,
                token_ids=token_ids,
            )

    await run_in_threadpool(remove)
    if username == who.username:
        return _redirect("/manage/account/")  # no longer allowed to see the settings
    return _redirect(_manage_url(name, "collaboration/"))


@web_page
async def change_collaborator_role(request: Request) -> Response:
    """Change a collaborator's role in place (owners only; the last owner stays an owner)."""
    who = _user(request)
    name = project_name_param(request)
    username: str = request.path_params["username"]
    fields = await _form(request)
    _only(fields, {"role"})
    role = fields.get("role", "")
    if not role:
        raise FormRefused("choose the new role")

    def change(session: Session) -> None:
        collaborators.change_role(session, name, username, role, actor=who.username)

    return await write_then_redirect(request, change, _manage_url(name, "collaboration/"))
