"""The admin pages (``/admin/...``): users, projects, trusted issuers, reserved namespaces, the
whole journal, and the actions ``trustyard admin`` offers on the host, each a POSTed form with
a CSRF token.

Warehouse's admin views (``admin/views/users.py``, ``projects.py``) are the model: disable a
user, revoke their tokens, yank, delete a file, every action in the journal.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trustyard.index.context import context_of
from trustyard.index.project_status import ProjectStatus
from trustyard.index.services import accounts, journal, projects, second_factor, statuses
from trustyard.index.services import issuers as allowed_issuers
from trustyard.index.services import namespaces as reserved
from trustyard.index.services.roles import IndexAdmin
from trustyard.index.services.sessions import SignedIn
from trustyard.index.web.errors import FormRefused
from trustyard.index.web.handling import (
    AdminChange,
    admin_form,
    checked_form,
    current_user,
    only_fields,
    project_name_param,
    see_other,
    web_page,
    write_then_redirect,
    yank_handlers,
)
from trustyard.index.web.paging import page_links, page_query
from trustyard.index.web.render import page

NAMESPACES = "/admin/namespaces/"


def _list_page(request: Request, who: SignedIn, section: str) -> Response:
    with context_of(request).db.read() as session:
        accounts.require_admin(session, who.user_id)
        context: dict[str, object] = {"section": section}
        if section == "users":
            context["users"] = accounts.all_users(session)
            context["with_factor"] = second_factor.usernames_with_factor(session)
        elif section == "projects":
            context["projects"] = projects.all_projects(session)
        elif section == "namespaces":
            context["namespaces"] = reserved.list_namespaces(session)
        else:
            context["issuers"] = allowed_issuers.list_issuers(session)
    return page(request, f"admin_{section}.html", context)


@web_page
async def users(request: Request) -> Response:
    """Every user of the index, with the forms to disable them or revoke their tokens."""
    return await run_in_threadpool(_list_page, request, current_user(request), "users")


@web_page
async def all_projects(request: Request) -> Response:
    """Every project of the index."""
    return await run_in_threadpool(_list_page, request, current_user(request), "projects")


@web_page
async def issuers(request: Request) -> Response:
    """The allow-list of OIDC issuers, with the forms to add and remove them."""
    return await run_in_threadpool(_list_page, request, current_user(request), "issuers")


@web_page
async def add_issuer(request: Request) -> Response:
    """Allow an OIDC issuer (``trustyard admin issuer add``); ticking the box lets the index
    fetch its keys from a private address."""

    def read(fields: dict[str, str]) -> AdminChange:
        url = fields.get("url", "").strip()
        if not url:
            raise FormRefused("give the issuer's URL")
        private = fields.get("allow_private_address", "") not in ("", "0", "off")
        return lambda session, actor: allowed_issuers.add_issuer(
            session, url, allow_private_address=private, actor=actor
        )

    return await admin_form(request, {"url", "allow_private_address"}, read, "/admin/issuers/")


@web_page
async def namespaces(request: Request) -> Response:
    """The reserved namespaces (PEP 752) and their owners, with the forms to change them."""
    return await run_in_threadpool(_list_page, request, current_user(request), "namespaces")


def _owners_field(text: str) -> list[str]:
    """The owners of a new namespace: user names separated by commas or spaces."""
    names = [name for name in text.replace(",", " ").split() if name]
    if not names:
        raise FormRefused("give at least one owner")
    return names


@web_page
async def add_namespace(request: Request) -> Response:
    """Reserve a namespace (``trustyard admin namespace add``)."""

    def read(fields: dict[str, str]) -> AdminChange:
        prefix = fields.get("prefix", "").strip()
        if not prefix:
            raise FormRefused("give the namespace's prefix")
        owners = _owners_field(fields.get("owners", ""))
        return lambda session, actor: reserved.add_namespace(session, prefix, owners, actor=actor)

    return await admin_form(request, {"prefix", "owners"}, read, NAMESPACES)


@web_page
async def remove_namespace(request: Request) -> Response:
    """Release a namespace; its projects stay as they are."""

    def read(fields: dict[str, str]) -> AdminChange:
        prefix = fields.get("prefix", "")
        return lambda session, actor: reserved.remove_namespace(session, prefix, actor=actor)

    return await admin_form(request, {"prefix"}, read, NAMESPACES)


@web_page
async def add_namespace_owner(request: Request) -> Response:
    """Make a user an owner of a namespace."""

    def read(fields: dict[str, str]) -> AdminChange:
        prefix, user = fields.get("prefix", ""), fields.get("user", "").strip()
        if not user:
            raise FormRefused("give the user to add")
        return lambda session, actor: reserved.add_owner(session, prefix, user, actor=actor)

    return await admin_form(request, {"prefix", "user"}, read, NAMESPACES)


@web_page
async def remove_namespace_owner(request: Request) -> Response:
    """Take an owner off a namespace; refused (409) for its last owner."""

    def read(fields: dict[str, str]) -> AdminChange:
        prefix, user = fields.get("prefix", ""), fields.get("user", "")
        return lambda session, actor: reserved.remove_owner(session, prefix, user, actor=actor)

    return await admin_form(request, {"prefix", "user"}, read, NAMESPACES)


@web_page
async def remove_issuer(request: Request) -> Response:
    """Disallow an OIDC issuer; refused (409) while publishers name it."""

    def read(fields: dict[str, str]) -> AdminChange:
        url = fields.get("url", "")
        return lambda session, actor: allowed_issuers.remove_issuer(session, url, actor=actor)

    return await admin_form(request, {"url"}, read, "/admin/issuers/")


@web_page
async def whole_journal(request: Request) -> Response:
    """Every journal entry of the index, newest first, a page at a time."""
    who = current_user(request)

    def load() -> Response:
        with context_of(request).db.read() as session:
            accounts.require_admin(session, who.user_id)
            query = page_query(request)
            found = journal.history_page(
                session, None, before=query.before, after=query.after, limit=query.limit
            )
        return page(
            request,
            "admin_journal.html",
            {
                "section": "journal",
                "entries": found.entries,
                "links": page_links(request.url.path, query, found),
                "limit": query.limit,
                "show_project": True,
            },
        )

    return await run_in_threadpool(load)


# -- actions on users --------------------------------------------------------------------------


async def _user_action(request: Request, action: str) -> Response:
    who = current_user(request)
    username: str = request.path_params["username"]
    fields = await checked_form(request)
    only_fields(fields, set())

    def act(session: Session) -> None:
        if action == "revoke-tokens":
            accounts.revoke_user_tokens(session, who.user_id, username)
        elif action == "reset-2fa":
            second_factor.reset_by_admin(session, who.user_id, username)
        else:
            accounts.set_user_disabled(session, who.user_id, username, disabled=action == "disable")

    return await write_then_redirect(request, act, "/admin/")


@web_page
async def disable_user(request: Request) -> Response:
    """Disable an account: no sign-in, no upload with its tokens, its sessions ended."""
    return await _user_action(request, "disable")


@web_page
async def enable_user(request: Request) -> Response:
    """Enable a disabled account again."""
    return await _user_action(request, "enable")


@web_page
async def revoke_tokens(request: Request) -> Response:
    """Revoke every live API token of a user."""
    return await _user_action(request, "revoke-tokens")


@web_page
async def reset_second_factor(request: Request) -> Response:
    """Remove a user's second factors and recovery codes (a lost device), as the CLI's
    ``admin user reset-2fa`` does."""
    return await _user_action(request, "reset-2fa")


# -- actions on projects -----------------------------------------------------------------------


def _project_url(name: str) -> str:
    return f"/admin/project/{quote(name)}/"


@web_page
async def project(request: Request) -> Response:
    """A project's releases and files, with yank, unyank and delete forms."""
    who = current_user(request)
    name = project_name_param(request)

    def load() -> Response:
        with context_of(request).db.read() as session:
            project_name, releases = projects.project_files(session, who.user_id, name)
            marker = statuses.status_of(session, projects.get_project(session, name).id)
        return page(
            request,
            "admin_project.html",
            {
                "section": "projects",
                "project_name": project_name,
                "releases": releases,
                "marker": marker,
                "choices": list(ProjectStatus),
            },
        )

    return await run_in_threadpool(load)


def _as_admin(session: Session, who: SignedIn) -> IndexAdmin:
    """Admins yank any project's releases, journalled as the index's admin."""
    return IndexAdmin(accounts.require_admin(session, who.user_id).username)


yank_release, unyank_release = yank_handlers(_as_admin, _project_url)
"""Yank any project's release, with an optional reason (PEP 592); undo a yank."""


@web_page
async def set_project_status(request: Request) -> Response:
    """Set any project's PEP 792 status, quarantine included (journalled under the admin's
    name), as ``trustyard admin project status`` does."""
    name = project_name_param(request)
    db = context_of(request).db

    def read(fields: dict[str, str]) -> AdminChange:
        status, reason = fields.get("status", ""), fields.get("reason", "")
        return lambda session, actor: statuses.set_status(
            db, session, name, status, reason=reason, actor=IndexAdmin(actor)
        )

    return await admin_form(request, {"status", "reason"}, read, _project_url(name))


@web_page
async def delete_file(request: Request) -> Response:
    """Delete a file once its name is typed again: the row is removed and committed first,
    then the bytes, as ``trustyard admin project delete-file`` does; the name stays burnt."""
    who = current_user(request)
    name = project_name_param(request)
    filename: str = request.path_params["filename"]
    fields = await checked_form(request)
    only_fields(fields, {"confirm"})
    if fields.get("confirm", "") != filename:
        raise FormRefused(f"type the filename {filename[:200]!r} to confirm its deletion")
    ctx = context_of(request)

    def remove() -> tuple[str, bool]:
        with ctx.db.write() as session:
            return projects.delete_project_file(session, who.user_id, name, filename)

    path, has_metadata = await run_in_threadpool(remove)
    await run_in_threadpool(projects.purge_bytes, ctx.storage, path, has_metadata)
    return see_other(_project_url(name))


routes: list[BaseRoute] = [
    Route("/admin/", users, methods=["GET", "HEAD"]),
    Route("/admin/projects/", all_projects, methods=["GET", "HEAD"]),
    Route("/admin/issuers/", issuers, methods=["GET", "HEAD"]),
    Route("/admin/issuers/add/", add_issuer, methods=["POST"]),
    Route("/admin/issuers/remove/", remove_issuer, methods=["POST"]),
    Route(NAMESPACES, namespaces, methods=["GET", "HEAD"]),
    Route("/admin/namespaces/add/", add_namespace, methods=["POST"]),
    Route("/admin/namespaces/remove/", remove_namespace, methods=["POST"]),
    Route("/admin/namespaces/owners/add/", add_namespace_owner, methods=["POST"]),
    Route("/admin/namespaces/owners/remove/", remove_namespace_owner, methods=["POST"]),
    Route("/admin/journal/", whole_journal, methods=["GET", "HEAD"]),
    Route("/admin/user/{username}/disable/", disable_user, methods=["POST"]),
    Route("/admin/user/{username}/enable/", enable_user, methods=["POST"]),
    Route("/admin/user/{username}/revoke-tokens/", revoke_tokens, methods=["POST"]),
    Route("/admin/user/{username}/reset-2fa/", reset_second_factor, methods=["POST"]),
    Route("/admin/project/{name}/", project, methods=["GET", "HEAD"]),
    Route("/admin/project/{name}/release/{version}/yank/", yank_release, methods=["POST"]),
    Route("/admin/project/{name}/release/{version}/unyank/", unyank_release, methods=["POST"]),
    Route("/admin/project/{name}/file/{filename}/delete/", delete_file, methods=["POST"]),
    Route("/admin/project/{name}/status/", set_project_status, methods=["POST"]),
]
