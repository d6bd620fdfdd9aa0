"""The web interface's paths, as PyPI's: ``/``, ``/search/``, ``/project/<name>/[<version>/]``,
``/account/login/``, ``/account/logout/``, ``/manage/account/``, ``/manage/project/<name>/``,
``/admin/``. The handlers live in :mod:`trustyard.index.web.pages`, one module per area; the
app mounts this list as the web surface (its errors are pages: ``handling.page_error``).
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from trustyard.index.web import install
from trustyard.index.web.pages import (
    account,
    admin,
    admin_policy,
    browse,
    continuity,
    help,
    invitations,
    organisation_requests,
    organisations,
    projects,
    publishers,
    two_factor,
)

_STATIC = Path(__file__).parent / "static"

routes: list[BaseRoute] = [
    Route("/", browse.home, methods=["GET", "HEAD"]),
    Route("/search/", browse.search, methods=["GET", "HEAD"]),
    Route(install.USING_PATH, help.using, methods=["GET", "HEAD"]),
    Route("/project/{name}/", browse.project_page, methods=["GET", "HEAD"]),
    Route("/project/{name}/{version}/", browse.release_page, methods=["GET", "HEAD"]),
    Route("/account/login/", account.login, methods=["GET", "HEAD", "POST"]),
    Route("/account/logout/", account.logout, methods=["POST"]),
    Route("/manage/account/", account.account, methods=["GET", "HEAD"]),
    Route(two_factor.SECOND_STEP, two_factor.second_step, methods=["GET", "HEAD", "POST"]),
    Route(two_factor.SECURITY, two_factor.security, methods=["GET", "HEAD"]),
    Route(two_factor.SECURITY + "totp/", two_factor.begin_totp, methods=["POST"]),
    Route(two_factor.SECURITY + "totp/confirm/", two_factor.confirm_totp, methods=["POST"]),
    Route(two_factor.SECURITY + "totp/remove/", two_factor.remove_totp, methods=["POST"]),
    Route(two_factor.SECURITY + "keys/", two_factor.add_key, methods=["POST"]),
    Route(
        two_factor.SECURITY + "keys/{key_id:int}/remove/",
        two_factor.remove_key,
        methods=["POST"],
    ),
    Route(two_factor.SECURITY + "recovery/", two_factor.recovery_codes, methods=["POST"]),
    Route("/manage/account/token/", account.create_token, methods=["POST"]),
    Route("/manage/account/token/{token_id}/revoke/", account.revoke_token, methods=["POST"]),
    Route("/manage/project/{name}/", publishers.manage_project, methods=["GET", "HEAD"]),
    Route("/manage/project/{name}/publishers/", publishers.add_publisher, methods=["POST"]),
    Route(
        "/manage/project/{name}/publishers/{publisher_id:int}/remove/",
        publishers.remove_publisher,
        methods=["POST"],
    ),
    Route("/manage/project/{name}/readers/", publishers.add_reader_policy, methods=["POST"]),
    Route(
        "/manage/project/{name}/readers/{policy_id:int}/remove/",
        publishers.remove_reader_policy,
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
    *organisations.routes,
    *organisation_requests.routes,
    Mount("/static", StaticFiles(directory=_STATIC), name="static"),
]
