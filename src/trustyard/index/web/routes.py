"""The web interface's paths, as PyPI's: ``/``, ``/search/``, ``/project/<name>/[<version>/]``,
``/account/login/``, ``/account/logout/``, ``/manage/account/``, ``/manage/project/<name>/``,
``/admin/``. The handlers live in :mod:`trustyard.index.web.pages`, one module per area; the
app mounts this list as the web surface (its errors are pages: ``handling.page_error``).
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from trustyard.index.web.pages import (
    account,
    admin,
    admin_policy,
    browse,
    continuity,
    invitations,
    projects,
    publishers,
)

_STATIC = Path(__file__).parent / "static"

routes: list[BaseRoute] = [
    Route("/", browse.home, methods=["GET", "HEAD"]),
    Route("/search/", browse.search, methods=["GET", "HEAD"]),
    Route("/project/{name}/", browse.project_page, methods=["GET", "HEAD"]),
    Route("/project/{name}/{version}/", browse.release_page, methods=["GET", "HEAD"]),
    Route("/account/login/", account.login, methods=["GET", "HEAD", "POST"]),
    Route("/account/logout/", account.logout, methods=["POST"]),
    Route("/manage/account/", account.account, methods=["GET", "HEAD"]),
    Route("/manage/account/token/", account.create_token, methods=["POST"]),
    Route("/manage/account/token/{token_id}/revoke/", account.revoke_token, methods=["POST"]),
    Route("/manage/project/{name}/", publishers.manage_project, methods=["GET", "HEAD"]),
    Route("/manage/project/{name}/publishers/", publishers.add_publisher, methods=["POST"]),
    Route(
        "/manage/project/{name}/publishers/{publisher_id:int}/remove/",
        publishers.remove_publisher,
        methods=["POST"],
    ),
    Route("/manage/project/{name}/releases/", projects.manage_releases, methods=["GET", "HEAD"]),
    Route(
        "/manage/project/{name}/release/{version}/yank/", projects.yank_release, methods=["POST"]
    ),
    Route(
        "/manage/project/{name}/release/{version}/unyank/",
        projects.unyank_release,
        methods=["POST"],
    ),
    Route(
        "/manage/project/{name}/status/",
        projects.project_status,
        methods=["GET", "HEAD", "POST"],
    ),
    Route("/manage/project/{name}/visibility/", projects.project_visibility, methods=["POST"]),
    Route("/manage/project/{name}/history/", projects.project_history, methods=["GET", "HEAD"]),
    Route(
        "/manage/project/{name}/collaboration/",
        projects.collaboration,
        methods=["GET", "HEAD", "POST"],
    ),
    Route(
        "/manage/project/{name}/collaboration/{username}/remove/",
        projects.remove_collaborator,
        methods=["GET", "HEAD", "POST"],
    ),
    Route("/manage/account/publishing/", publishers.publishing, methods=["GET", "HEAD", "POST"]),
    Route(
        "/manage/account/publishing/{publisher_id:int}/remove/",
        publishers.remove_pending_publisher,
        methods=["POST"],
    ),
    Route(
        "/manage/project/{name}/collaboration/{username}/role/",
        projects.change_collaborator_role,
        methods=["POST"],
    ),
    Route(invitations.MINE, invitations.my_invitations, methods=["GET", "HEAD"]),
    Route(invitations.MINE + "{name}/accept/", invitations.accept_invitation, methods=["POST"]),
    Route(invitations.MINE + "{name}/decline/", invitations.decline_invitation, methods=["POST"]),
    Route(
        "/manage/project/{name}/invitations/{username}/revoke/",
        invitations.revoke_invitation,
        methods=["POST"],
    ),
    *admin.routes,
    *admin_policy.routes,
    *continuity.routes,
    Mount("/static", StaticFiles(directory=_STATIC), name="static"),
]
