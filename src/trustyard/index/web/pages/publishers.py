"""Trusted publishers on the web: a project's publishers, and the user's pending ones (for
projects not created yet). Validated as the CLI's ``publisher add``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from trustyard.dists.names import is_valid_project_name
from trustyard.errors import NotFound
from trustyard.index.context import context_of
from trustyard.index.services import collaborators, publishers, reader_policies, roles
from trustyard.index.services.sessions import SignedIn
from trustyard.index.upstream.guard import refuse_shadowing
from trustyard.index.web.errors import FormRefused
from trustyard.index.web.handling import Handler, web_page, write_then_redirect
from trustyard.index.web.handling import checked_form as _form
from trustyard.index.web.handling import current_user as _user
from trustyard.index.web.handling import only_fields as _only
from trustyard.index.web.render import page
from trustyard.oidc.publishers import KINDS

# -- project settings: trusted publishers ------------------------------------------------------


def _manage_page(
    request: Request, who: SignedIn, name: str, problem: str = "", status: int = 200
) -> Response:
    with context_of(request).db.read() as session:
        project = collaborators.require_collaborator(session, name, who.user_id)
        project_name = project.name
        listed = publishers.list_publishers(session, project_name)
        readers = reader_policies.list_reader_policies(session, project_name, actor=who.username)
        may = roles.allowed_on(session, project, who.user_id)
    return page(
        request,
        "manage_project.html",
        {
            "project_name": project_name,
            "publishers": listed,
            "readers": readers,
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


def kind_and_config(fields: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The kind and configuration a publisher form gives (its fields are the kind's)."""
    kind = KINDS.get(fields.get("kind", ""))
    if kind is None:
        raise FormRefused(f"unknown publisher kind {fields.get('kind', '')[:40]!r}")
    _only(fields, {"kind", *kind.field_names})
    return kind.name, kind.config_from_form(fields)


def _adds(add: Callable[..., object], what: str) -> Handler:
    """The POST handler that adds one of a project's ``what`` (publishers, reader policies):
    ``add(session, project, kind, config, actor=...)``, validated as the CLI's ``add``."""

    @web_page
    async def handler(request: Request) -> Response:
        who = _user(request)
        name: str = request.path_params["name"]
        fields = await _form(request)
        kind, config = kind_and_config(fields)

        def change(session: Session) -> None:
            project = collaborators.require_collaborator(session, name, who.user_id)
            add(session, project.name, kind, config, actor=who.username)

        return await write_then_redirect(request, change, f"/manage/project/{quote(name)}/")

    handler.__doc__ = f"Add one of the project's {what}."
    return handler


def _removes(remove: Callable[..., object], id_param: str, what: str) -> Handler:
    """The POST handler that removes one of a project's ``what`` by the path's ``id_param``:
    ``remove(session, project, id, actor=...)``."""

    @web_page
    async def handler(request: Request) -> Response:
        who = _user(request)
        name: str = request.path_params["name"]
        row_id: int = request.path_params[id_param]
        _only(await _form(request), set())

        def change(session: Session) -> None:
            project = collaborators.require_collaborator(session, name, who.user_id)
            remove(session, project.name, row_id, actor=who.username)

        return await write_then_redirect(request, change, f"/manage/project/{quote(name)}/")

    handler.__doc__ = f"Remove one of the project's {what}."
    return handler


add_publisher = _adds(publishers.add_publisher, "trusted publishers")
remove_publisher = _removes(publishers.remove_publisher, "publisher_id", "trusted publishers")
# -- project settings: reader policies (Trusted Reading) ---------------------------------------
add_reader_policy = _adds(reader_policies.add_reader_policy, "reader policies")
remove_reader_policy = _removes(
    reader_policies.remove_reader_policy, "policy_id", "reader policies"
)


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
    kind, config = kind_and_config(fields)

    ctx = context_of(request)
    await refuse_shadowing(ctx, project_name, by="pending publisher")

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
