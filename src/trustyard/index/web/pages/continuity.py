"""Publisher continuity on the web (issue 18): the admins' page of held files with their
evidence (``/admin/held/``), and a project's continuity page for its owners
(``/manage/project/<name>/continuity/``): the setting that holds API-token uploads after
Trusted-Publishing-only history, and the project's held files to approve or reject.

Every decision is a POSTed form with a CSRF token and a reason, journalled with who decided.
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trustyard.attestations.continuity import describe
from trustyard.index.context import context_of
from trustyard.index.db.models import Project
from trustyard.index.services import accounts, collaborators, continuity, roles
from trustyard.index.services.roles import Permission
from trustyard.index.web.errors import FormRefused
from trustyard.index.web.handling import (
    AdminChange,
    admin_form,
    checked_form,
    current_user,
    only_fields,
    project_name_param,
    project_settings_page,
    web_page,
    write_then_redirect,
)
from trustyard.index.web.render import page

ADMIN_PAGE = "/admin/held/"


def _decision(fields: dict[str, str]) -> tuple[int, bool, str]:
    """The held file's id, release (True) or reject, and the reason of a decision form."""
    try:
        verdict_id = int(fields.get("id", ""))
    except ValueError:
        raise FormRefused("the held file's id is not a number") from None
    decision = fields.get("decision", "")
    if decision not in ("release", "reject"):
        raise FormRefused("choose release or reject")
    return verdict_id, decision == "release", fields.get("reason", "")


def _rows(verdicts: list[continuity.Verdict]) -> list[dict[str, object]]:
    return [
        {"v": v, "expected": describe(v.expected), "found": describe(v.found)} for v in verdicts
    ]


@web_page
async def held_files(request: Request) -> Response:
    """Every held file (and the decided ones) with its evidence; an admin decides (POST)."""
    who = current_user(request)
    if request.method == "POST":

        def read(fields: dict[str, str]) -> AdminChange:
            verdict_id, release, reason = _decision(fields)

            def change(session: Session, actor: str) -> None:
                decided = continuity.decide(
                    session, verdict_id, release=release, actor=actor, note=reason
                )
                proxy = context_of(request).upstream
                if proxy is not None and decided.origin == continuity.UPSTREAM:
                    proxy.forget(decided.project)  # this process shows the decision at once

            return change

        return await admin_form(request, {"id", "decision", "reason"}, read, ADMIN_PAGE)

    def load() -> Response:
        with context_of(request).db.read() as session:
            accounts.require_admin(session, who.user_id)
            rows = _rows(continuity.held_files(session, every=True))
        return page(request, "admin_held.html", {"section": "held", "rows": rows})

    return await run_in_threadpool(load)


@web_page
async def project_continuity(request: Request) -> Response:
    """A project's continuity setting and held files; owners change or decide (POST)."""
    who = current_user(request)
    name = project_name_param(request)
    url = f"/manage/project/{name}/continuity/"
    if request.method == "POST":
        fields = await checked_form(request)
        only_fields(fields, {"action", "hold", "id", "decision", "reason"})
        action = fields.get("action", "")
        if action not in ("setting", "decide"):
            raise FormRefused("unknown action")

        def change(session: Session) -> None:
            project = collaborators.require_collaborator(session, name, who.user_id)
            roles.require(session, project, who.username, Permission.MANAGE_PUBLISHERS)
            if action == "setting":
                on = fields.get("hold", "") not in ("", "0", "off")
                continuity.set_hold_token_uploads(session, project, on=on, actor=who.username)
                return
            verdict_id, release, reason = _decision(fields)
            continuity.decide(
                session,
                verdict_id,
                release=release,
                actor=who.username,
                note=reason,
                local_project=project.normalized_name,
            )

        return await write_then_redirect(request, change, url)

    def gather(session: Session, project: Project) -> dict[str, object]:
        held = continuity.held_files(session, every=True, local_project=project.normalized_name)
        return {
            "may": roles.allowed_on(session, project, who.user_id),
            "hold": continuity.hold_token_uploads(session, project),
            "rows": _rows(held),
        }

    return await run_in_threadpool(
        project_settings_page,
        request,
        who,
        name,
        template="manage_continuity.html",
        section="continuity",
        gather=gather,
    )


routes: list[BaseRoute] = [
    Route(ADMIN_PAGE, held_files, methods=["GET", "HEAD", "POST"]),
    Route(
        "/manage/project/{name}/continuity/", project_continuity, methods=["GET", "HEAD", "POST"]
    ),
]
