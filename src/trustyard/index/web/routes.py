"""The web interface's pages: each handler parses the request, calls one service, renders.

Paths as PyPI's: ``/``, ``/search/``, ``/project/<name>/[<version>/]``, ``/account/login/``,
``/account/logout/``, ``/manage/account/``, ``/manage/project/<name>/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote, urlencode

from markupsafe import Markup
from packaging.utils import canonicalize_version
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from trustyard.dists.names import is_valid_project_name, normalize_name
from trustyard.errors import InvalidInput, NotFound
from trustyard.index.context import context_of
from trustyard.index.routes.json_api import latest_release
from trustyard.index.services import (
    accounts,
    catalogue,
    collaborators,
    invitations,
    journal,
    publishers,
    ratelimits,
)
from trustyard.index.services import search as project_search
from trustyard.index.services.catalogue import ProjectView, ReleaseView
from trustyard.index.services.provenance import describe_publisher
from trustyard.index.services.search import ProjectHit
from trustyard.index.services.simple_pages import file_path_url, integrity_path
from trustyard.index.web import admin, service
from trustyard.index.web.errors import FormRefused
from trustyard.index.web.forms import PRE_SESSION_COOKIE
from trustyard.index.web.handling import (
    SESSION_COOKIE,
    web_page,
    write_then_redirect,
    yank_reason,
)
from trustyard.index.web.handling import checked_form as _form
from trustyard.index.web.handling import current_user as _user
from trustyard.index.web.handling import is_secure as _secure
from trustyard.index.web.handling import only_fields as _only
from trustyard.index.web.handling import see_other as _redirect
from trustyard.index.web.invitations import routes as invitation_routes
from trustyard.index.web.paging import page_links, page_query, result_page
from trustyard.index.web.render import page
from trustyard.index.web.service import SignedIn

MAX_QUERY_CHARS = 200
TOKEN_ID = re.compile(r"[0-9a-f]{24}")  # accounts.create_token's ids
# Token lifetimes offered by the account page (PyPI's tokens never expire; ours may).
EXPIRY_CHOICES = {"1d": "1 day", "7d": "7 days", "30d": "30 days", "90d": "90 days", "": "never"}
# Form field → publisher configuration key, per kind (the CLI's options, same validation).
PUBLISHER_FIELDS = {
    "github": ("repository", "workflow", "environment", "owner_id", "workflow_repository"),
    "gitlab": ("project", "workflow_path", "environment"),
    "google": ("email", "sub"),
    "oidc": ("claims",),
}


# -- browsing --------------------------------------------------------------------------------


@web_page
async def home(request: Request) -> Response:
    """The search form and the most recently changed projects."""
    ctx = context_of(request)

    def load() -> list[ProjectHit]:
        with ctx.db.read() as session:
            return service.recent_projects(session)

    return page(request, "home.html", {"projects": await run_in_threadpool(load)})


@web_page
async def search(request: Request) -> Response:
    """Projects whose name or newest summary contain every word of ``q``, a page at a time;
    searches are counted per client address first (429 with ``Retry-After`` beyond the rate)."""
    query = request.query_params.get("q", "")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"the search is longer than {MAX_QUERY_CHARS} characters")
    number = result_page(request, project_search.MAX_PAGE)
    ctx = context_of(request)
    address = request.client.host if request.client else "unknown"
    await run_in_threadpool(
        ratelimits.hit,
        ctx.db,
        ratelimits.search_rules(ctx.settings, address),
        "searches from this address",
    )

    def load() -> project_search.SearchPage:
        with ctx.db.read() as session:
            return project_search.search_projects(session, query, number)

    found = await run_in_threadpool(load)

    def link(to: int) -> str:
        return "/search/?" + urlencode({"q": query, **({"page": str(to)} if to > 1 else {})})

    return page(
        request,
        "search.html",
        {
            "query": query,
            "hits": found.hits,
            "first": (number - 1) * project_search.PAGE_SIZE + 1,
            "paged": number > 1 or found.more,
            "previous": link(number - 1) if number > 1 else "",
            "next": link(number + 1) if found.more and number < project_search.MAX_PAGE else "",
        },
    )


def _load_project(request: Request, name: str) -> ProjectView:
    if not is_valid_project_name(name):
        raise NotFound(f"no project named {name[:200]!r}")
    with context_of(request).db.read() as session:
        project = catalogue.project_detail(session, normalize_name(name))
    if project is None:
        raise NotFound(f"no project named {name[:200]!r}")
    return project


def _load_description(request: Request, project: ProjectView, release: ReleaseView) -> Markup:
    """The release's description as stored at upload: sanitised then, never rendered here."""
    with context_of(request).db.read() as session:
        html = catalogue.description_html(
            session, project.normalized_name, release.canonical_version
        )
    return Markup(html)  # noqa: S704 - sanitised (nh3) before it was stored


def _project_page(
    request: Request, project: ProjectView, release: ReleaseView, description: Markup
) -> Response:
    metadata = release.core_metadata
    urls = metadata.get("project_urls") or {}
    return page(
        request,
        "project.html",
        {
            "project": project,
            "release": release,
            "latest": latest_release(project),
            "metadata": metadata,
            "project_urls": urls if isinstance(urls, dict) else {},
            "description": description,
            "files": sorted(release.files, key=lambda f: f.filename),
            "file_url": file_path_url,
            "provenance_url": integrity_path,
            "describe_publisher": describe_publisher,
        },
    )


@web_page
async def project_page(request: Request) -> Response:
    """A project's newest release (PyPI's choice, as the JSON API's ``info``)."""
    name: str = request.path_params["name"]
    project = await run_in_threadpool(_load_project, request, name)
    if name != project.name:
        return RedirectResponse(f"/project/{project.name}/", status_code=301)
    release = latest_release(project)
    if release is None:
        raise NotFound(f"{project.name} has no releases")
    description = await run_in_threadpool(_load_description, request, project, release)
    return _project_page(request, project, release, description)


@web_page
async def release_page(request: Request) -> Response:
    """One release of a project."""
    name: str = request.path_params["name"]
    version: str = request.path_params["version"]
    project = await run_in_threadpool(_load_project, request, name)
    wanted = canonicalize_version(version)
    release = next((r for r in project.releases if r.canonical_version == wanted), None)
    if release is None:
        raise NotFound(f"{project.name} has no release {version[:100]!r}")
    if name != project.name or version != release.version:
        return RedirectResponse(f"/project/{project.name}/{release.version}/", status_code=301)
    description = await run_in_threadpool(_load_description, request, project, release)
    return _project_page(request, project, release, description)


# -- signing in and out ------------------------------------------------------------------------


def _safe_next(target: str) -> str:
    """Only a path on this site: never ``//evil``, a scheme, or a backslash trick."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and "\\" not in target:
        return target
    return "/manage/account/"


@web_page
async def login(request: Request) -> Response:
    """The sign-in form (GET) and its submission (POST)."""
    next_path = _safe_next(request.query_params.get("next", ""))
    if request.method != "POST":
        if request.state.user is not None:
            return _redirect(next_path)
        return page(request, "login.html", {"next": next_path, "problem": ""})
    fields = await _form(request)
    _only(fields, {"username", "password"})
    username, password = fields.get("username", ""), fields.get("password", "")
    if not username or not password:
        raise FormRefused("give a username and a password")
    if len(username) > 100:
        raise FormRefused("the username is longer than 100 characters")
    ctx = context_of(request)
    address = request.client.host if request.client else "unknown"
    try:
        result = await run_in_threadpool(
            service.attempt_sign_in, ctx.db, ctx.settings, username, password, address
        )
    except ratelimits.RateLimited as limited:
        refused = page(
            request, "login.html", {"next": next_path, "problem": limited.message}, status=429
        )
        refused.headers["Retry-After"] = str(limited.retry_after)
        return refused
    if result is None:
        return page(
            request,
            "login.html",
            {"next": next_path, "problem": "The username or the password is wrong."},
            status=403,
        )
    secret, _who = result
    response = _redirect(next_path)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(service.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(PRE_SESSION_COOKIE, path="/")
    return response


@web_page
async def logout(request: Request) -> Response:
    """End the session (POST only, with the session's CSRF token)."""
    who = _user(request)
    fields = await _form(request)
    _only(fields, set())
    ctx = context_of(request)

    def end() -> None:
        with ctx.db.write() as session:
            service.sign_out(session, who)

    await run_in_threadpool(end)
    response = _redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


# -- account: API tokens -----------------------------------------------------------------------


def _account_page(
    request: Request, who: SignedIn, new_token: str = "", status: int = 200
) -> Response:
    with context_of(request).db.read() as session:
        tokens = accounts.list_tokens(session, who.username)
        projects = service.projects_of(session, who.user_id)
    return page(
        request,
        "account.html",
        {
            "tokens": tokens,
            "projects": projects,
            "expiry_choices": EXPIRY_CHOICES,
            "new_token": new_token,
        },
        status=status,
    )


@web_page
async def account(request: Request) -> Response:
    """The signed-in user's API tokens and projects."""
    who = _user(request)
    return await run_in_threadpool(_account_page, request, who)


@web_page
async def create_token(request: Request) -> Response:
    """Mint a token; its secret is on this one response and nowhere else."""
    who = _user(request)
    fields = await _form(request)
    _only(fields, {"description", "scope", "expiry"})
    description = fields.get("description", "").strip()
    scope = fields.get("scope", "")
    expiry = fields.get("expiry", "")
    if not description:
        raise FormRefused("give the token a description, to recognise it later")
    if len(description) > 100:
        raise FormRefused("the description is longer than 100 characters")
    if expiry not in EXPIRY_CHOICES:
        raise FormRefused(
            f"the expiry must be one of {', '.join(c or 'never' for c in EXPIRY_CHOICES)}"
        )
    ctx = context_of(request)

    def mint() -> str:
        with ctx.db.write() as session:
            project = service.check_token_scope(session, scope, who.user_id) if scope else None
            return accounts.create_token(
                session,
                who.username,
                project=project,
                expires_in=accounts.parse_duration(expiry) if expiry else None,
                description=description,
            )

    token = await run_in_threadpool(mint)
    return await run_in_threadpool(_account_page, request, who, token, 201)


@web_page
async def revoke_token(request: Request) -> Response:
    """Revoke one of the user's tokens."""
    who = _user(request)
    token_id: str = request.path_params["token_id"]
    fields = await _form(request)
    _only(fields, set())

    def revoke(session: Session) -> None:
        accounts.revoke_token(session, who.username, token_id)

    return await write_then_redirect(request, revoke, "/manage/account/")


# -- project settings: trusted publishers ------------------------------------------------------


def _manage_page(
    request: Request, who: SignedIn, name: str, problem: str = "", status: int = 200
) -> Response:
    with context_of(request).db.read() as session:
        project = service.require_collaborator(session, name, who.user_id)
        project_name = project.name
        listed = publishers.list_publishers(session, project_name)
        may = service.allowed_on(session, project, who.user_id)
    return page(
        request,
        "manage_project.html",
        {
            "project_name": project_name,
            "publishers": listed,
            "problem": problem,
            "section": "publishers",
            "may": may,
        },
        status=status,
    )


@web_page
async def manage_project(request: Request) -> Response:
    """A project's trusted publishers, for its owners and maintainers only."""
    who = _user(request)
    name: str = request.path_params["name"]
    if not is_valid_project_name(name):
        raise NotFound(f"no project named {name[:200]!r}")
    return await run_in_threadpool(_manage_page, request, who, name)


def _publisher_config(fields: dict[str, str]) -> tuple[str, dict[str, str]]:
    kind = fields.get("kind", "")
    if kind not in PUBLISHER_FIELDS:
        raise FormRefused(f"unknown publisher kind {kind[:40]!r}")
    _only(fields, {"kind", "issuer", *PUBLISHER_FIELDS[kind]})
    config = {key: fields.get(key, "").strip() for key in PUBLISHER_FIELDS[kind]}
    config["issuer"] = fields.get("issuer", "").strip()
    if kind == "oidc":
        claims: dict[str, str] = {}
        for line in config["claims"].splitlines():
            if not line.strip():
                continue
            claim, sep, value = line.strip().partition("=")
            if not sep or not claim:
                raise FormRefused(f"claims are NAME=VALUE, one a line, not {line[:60]!r}")
            claims[claim.strip()] = value.strip()
        config["claims"] = json.dumps(claims, sort_keys=True)
    return kind, config


@web_page
async def add_publisher(request: Request) -> Response:
    """Register a trusted publisher, validated as the CLI's ``publisher add``."""
    who = _user(request)
    name: str = request.path_params["name"]
    fields = await _form(request)
    kind, config = _publisher_config(fields)

    def add(session: Session) -> None:
        project = service.require_collaborator(session, name, who.user_id)
        publishers.add_publisher(session, project.name, kind, config, actor=who.username)

    return await write_then_redirect(request, add, f"/manage/project/{quote(name)}/")


@web_page
async def remove_publisher(request: Request) -> Response:
    """Remove a trusted publisher of the project."""
    who = _user(request)
    name: str = request.path_params["name"]
    publisher_id: int = request.path_params["publisher_id"]
    fields = await _form(request)
    _only(fields, set())

    def remove(session: Session) -> None:
        project = service.require_collaborator(session, name, who.user_id)
        publishers.remove_publisher(session, project.name, publisher_id, actor=who.username)

    return await write_then_redirect(request, remove, f"/manage/project/{quote(name)}/")


# -- project settings: releases, collaborators, audit log --------------------------------------


def _checked_name(name: str) -> str:
    if not is_valid_project_name(name):
        raise NotFound(f"no project named {name[:200]!r}")
    return name


def _manage_url(name: str, part: str = "") -> str:
    return f"/manage/project/{quote(name)}/{part}"


@web_page
async def manage_releases(request: Request) -> Response:
    """The project's releases, each with a yank (and reason) or unyank form."""
    who = _user(request)
    name = _checked_name(request.path_params["name"])

    def load() -> Response:
        with context_of(request).db.read() as session:
            project = service.require_collaborator(session, name, who.user_id)
            project_name = project.name
            releases = service.project_releases(session, project)
            may = service.allowed_on(session, project, who.user_id)
        return page(
            request,
            "manage_releases.html",
            {
                "project_name": project_name,
                "releases": releases,
                "section": "releases",
                "may": may,
            },
        )

    return await run_in_threadpool(load)


async def _change_yank(request: Request, *, yanked: bool) -> Response:
    who = _user(request)
    name = _checked_name(request.path_params["name"])
    version: str = request.path_params["version"]
    fields = await _form(request)
    reason = yank_reason(fields, yanked=yanked)

    def change(session: Session) -> None:
        service.change_yank(session, name, version, who, yanked=yanked, reason=reason)

    return await write_then_redirect(request, change, _manage_url(name, "releases/"))


@web_page
async def yank_release(request: Request) -> Response:
    """Yank a release (PEP 592), with an optional reason shown to installers."""
    return await _change_yank(request, yanked=True)


@web_page
async def unyank_release(request: Request) -> Response:
    """Undo a yank."""
    return await _change_yank(request, yanked=False)


@web_page
async def project_history(request: Request) -> Response:
    """The project's audit log: its journal entries, newest first, a page at a time."""
    who = _user(request)
    name = _checked_name(request.path_params["name"])

    def load() -> Response:
        with context_of(request).db.read() as session:
            project_name = service.require_collaborator(session, name, who.user_id).name
            query = page_query(request)
            found = journal.history_page(
                session, project_name, before=query.before, after=query.after, limit=query.limit
            )
        return page(
            request,
            "manage_history.html",
            {
                "project_name": project_name,
                "entries": found.entries,
                "links": page_links(request.url.path, query, found),
                "limit": query.limit,
                "show_project": False,
                "section": "history",
            },
        )

    return await run_in_threadpool(load)


def _collaboration_page(request: Request, who: SignedIn, name: str) -> Response:
    with context_of(request).db.read() as session:
        project = service.require_collaborator(session, name, who.user_id)
        project_name = project.name
        people = collaborators.list_collaborators(session, project_name)
        mine = collaborators.role_of(session, project, who.user_id)
        invited = invitations.project_invitations(session, project_name)
        may = service.allowed_on(session, project, who.user_id)
    owners = sum(1 for person in people if person.role == "owner")
    return page(
        request,
        "manage_collaboration.html",
        {
            "project_name": project_name,
            "collaborators": people,
            "invitations": invited,
            "my_role": mine,
            "me": who.username,
            "sole_owner": owners == 1,
            "may": may,
            "section": "collaboration",
        },
    )


@web_page
async def collaboration(request: Request) -> Response:
    """List the project's owners and maintainers (GET); invite one (POST)."""
    who = _user(request)
    name = _checked_name(request.path_params["name"])
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
    name = _checked_name(request.path_params["name"])
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
    name = _checked_name(request.path_params["name"])
    username: str = request.path_params["username"]
    fields = await _form(request)
    _only(fields, {"role"})
    role = fields.get("role", "")
    if not role:
        raise FormRefused("choose the new role")

    def change(session: Session) -> None:
        collaborators.change_role(session, name, username, role, actor=who.username)

    return await write_then_redirect(request, change, _manage_url(name, "collaboration/"))


# -- account: pending publishers ---------------------------------------------------------------


def _publishing_page(request: Request, who: SignedIn) -> Response:
    with context_of(request).db.read() as session:
        pending = publishers.pending_publishers_of(session, who.username)
    return page(request, "manage_publishing.html", {"pending": pending})


@web_page
async def publishing(request: Request) -> Response:
    """The user's pending publishers (GET); register one for a project not yet created (POST)."""
    who = _user(request)
    if request.method != "POST":
        return await run_in_threadpool(_publishing_page, request, who)
    fields = await _form(request)
    project_name = fields.pop("project_name", "").strip()
    if not project_name:
        raise FormRefused("give the name of the project the publisher will create")
    if len(project_name) > 200:
        raise FormRefused("the project name is longer than 200 characters")
    kind, config = _publisher_config(fields)

    ctx = context_of(request)

    def add(session: Session) -> None:
        publishers.add_pending_publisher(
            ctx.db,
            session,
            project_name,
            kind,
            config,
            owner=who.username,
            limit=ctx.settings.max_pending_publishers,
        )

    return await write_then_redirect(request, add, "/manage/account/publishing/")


@web_page
async def remove_pending_publisher(request: Request) -> Response:
    """Remove one of the user's pending publishers."""
    who = _user(request)
    publisher_id: int = request.path_params["publisher_id"]
    fields = await _form(request)
    _only(fields, set())

    def remove(session: Session) -> None:
        publishers.remove_pending_publisher(session, publisher_id, actor=who.username)

    return await write_then_redirect(request, remove, "/manage/account/publishing/")


_STATIC = Path(__file__).parent / "static"

routes: list[BaseRoute] = [
    Route("/", home, methods=["GET", "HEAD"]),
    Route("/search/", search, methods=["GET", "HEAD"]),
    Route("/project/{name}/", project_page, methods=["GET", "HEAD"]),
    Route("/project/{name}/{version}/", release_page, methods=["GET", "HEAD"]),
    Route("/account/login/", login, methods=["GET", "HEAD", "POST"]),
    Route("/account/logout/", logout, methods=["POST"]),
    Route("/manage/account/", account, methods=["GET", "HEAD"]),
    Route("/manage/account/token/", create_token, methods=["POST"]),
    Route("/manage/account/token/{token_id}/revoke/", revoke_token, methods=["POST"]),
    Route("/manage/project/{name}/", manage_project, methods=["GET", "HEAD"]),
    Route("/manage/project/{name}/publishers/", add_publisher, methods=["POST"]),
    Route(
        "/manage/project/{name}/publishers/{publisher_id:int}/remove/",
        remove_publisher,
        methods=["POST"],
    ),
    Route("/manage/project/{name}/releases/", manage_releases, methods=["GET", "HEAD"]),
    Route("/manage/project/{name}/release/{version}/yank/", yank_release, methods=["POST"]),
    Route("/manage/project/{name}/release/{version}/unyank/", unyank_release, methods=["POST"]),
    Route("/manage/project/{name}/history/", project_history, methods=["GET", "HEAD"]),
    Route("/manage/project/{name}/collaboration/", collaboration, methods=["GET", "HEAD", "POST"]),
    Route(
        "/manage/project/{name}/collaboration/{username}/remove/",
        remove_collaborator,
        methods=["GET", "HEAD", "POST"],
    ),
    Route("/manage/account/publishing/", publishing, methods=["GET", "HEAD", "POST"]),
    Route(
        "/manage/account/publishing/{publisher_id:int}/remove/",
        remove_pending_publisher,
        methods=["POST"],
    ),
    Route(
        "/manage/project/{name}/collaboration/{username}/role/",
        change_collaborator_role,
        methods=["POST"],
    ),
    *invitation_routes,
    *admin.routes,
    Mount("/static", StaticFiles(directory=_STATIC), name="static"),
]
