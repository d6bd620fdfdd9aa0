"""What every page handler shares: who is signed in, CSRF-checked forms, errors as pages
(the web mount's error mapping, :func:`page_error`).

OWASP's CSRF guidance: a synchronizer token per session (a double-submit cookie before sign-in)
and a refusal of any POST whose ``Origin`` names another site.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import wraps
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from trustyard.dists.names import is_valid_project_name
from trustyard.errors import Error, Forbidden, NotFound
from trustyard.index.context import context_of
from trustyard.index.db.models import Project
from trustyard.index.read_gate import SESSION_COOKIE
from trustyard.index.services import accounts, collaborators, projects, second_factor, sessions
from trustyard.index.services.read_access import CredentialsRequired
from trustyard.index.services.roles import Actor
from trustyard.index.services.sessions import SignedIn
from trustyard.index.web.errors import CsrfRefused, FormRefused, SignInRequired
from trustyard.index.web.forms import PRE_SESSION_COOKIE, check_csrf, new_csrf_token, read_form
from trustyard.index.web.render import SECURITY_HEADERS, page

Handler = Callable[[Request], Awaitable[Response]]


def is_secure(request: Request) -> bool:
    """Whether the page was asked for over TLS (cookies are then ``Secure``)."""
    return request.url.scheme == "https"


def see_other(path: str) -> Response:
    """The answer to a form that worked: 303 to the page that shows the result."""
    return RedirectResponse(path, status_code=303, headers=SECURITY_HEADERS)


async def write_then_redirect(
    request: Request, change: Callable[[Session], object], to: str
) -> Response:
    """Run ``change`` in one write transaction off the event loop, then 303 to ``to``: the
    shape of every settings form once its fields are checked."""
    db = context_of(request).db

    def run() -> None:
        with db.write() as session:
            change(session)

    await run_in_threadpool(run)
    return see_other(to)


AdminChange = Callable[[Session, str], object]
"""What an admin form changes, given the write session and the admin's username (the journal's
actor)."""


async def admin_form(
    request: Request,
    allowed: set[str],
    read: Callable[[dict[str, str]], AdminChange],
    to: str,
) -> Response:
    """The shape of every admin form: the CSRF-checked fields the page offers, read and checked
    by ``read`` (a precise 400 before anything is written), its change made in one write
    transaction as the signed-in admin (403 for anyone else), then 303 to ``to``."""
    who = current_user(request)
    fields = await checked_form(request)
    only_fields(fields, allowed)
    act = read(fields)

    def change(session: Session) -> None:
        admin = accounts.require_admin(session, who.user_id)
        act(session, admin.username)

    return await write_then_redirect(request, change, to)


def project_settings_page(
    request: Request,
    who: SignedIn,
    name: str,
    *,
    template: str,
    section: str,
    gather: Callable[[Session, Project], dict[str, object]],
) -> Response:
    """One tab of a project's settings (``/manage/project/<name>/...``), shown to its
    collaborators only: the context every tab's navigation needs (``project_name``,
    ``section``) and what ``gather`` reads for the tab in the same read transaction. Blocking:
    call it in a worker thread."""
    with context_of(request).db.read() as session:
        project = collaborators.require_collaborator(session, name, who.user_id)
        context = {"project_name": project.name, "section": section, **gather(session, project)}
    return page(request, template, context)


MAX_YANK_REASON_CHARS = 500


def yank_reason(fields: dict[str, str], *, yanked: bool) -> str:
    """The reason field of a yank form (none on unyank), stripped and bounded."""
    only_fields(fields, {"reason"} if yanked else set())
    reason = fields.get("reason", "").strip()
    if len(reason) > MAX_YANK_REASON_CHARS:
        raise FormRefused(f"the reason is longer than {MAX_YANK_REASON_CHARS} characters")
    return reason


def yank_handlers(
    actor: Callable[[Session, SignedIn], Actor], back: Callable[[str], str]
) -> tuple[Handler, Handler]:
    """The yank and unyank pages of a release (PEP 592) on one surface (the owners' settings,
    the admins' project page): ``actor`` says, inside the write transaction, as whom the
    signed-in user acts there (refusing those the surface is not for); then 303 to
    ``back(project name)``."""

    async def handle(request: Request, *, yanked: bool) -> Response:
        who = current_user(request)
        name = project_name_param(request)
        version: str = request.path_params["version"]
        fields = await checked_form(request)
        reason = yank_reason(fields, yanked=yanked)

        def change(session: Session) -> None:
            projects.set_yanked(
                session, name, version, yanked=yanked, reason=reason, actor=actor(session, who)
            )

        return await write_then_redirect(request, change, back(name))

    async def yank_release(request: Request) -> Response:
        """Yank a release (PEP 592), with an optional reason shown to installers."""
        return await handle(request, yanked=True)

    async def unyank_release(request: Request) -> Response:
        """Undo a yank."""
        return await handle(request, yanked=False)

    return web_page(yank_release), web_page(unyank_release)


# What a user held back by require_2fa may still open: the page that sets up a factor, and
# signing out. Everything else sends it there (GET) or is refused (403).
ENROLMENT_PATHS = ("/manage/account/two-factor/", "/account/logout/")


class SecondFactorRequired(Forbidden):
    """require_2fa: an account with write or admin rights and no second factor (403)."""


def _identify(request: Request) -> SignedIn | None:
    secret = request.cookies.get(SESSION_COOKIE, "")
    if not secret:
        return None
    ctx = context_of(request)
    with ctx.db.read() as session:
        who = sessions.signed_in(session, secret)
        if (
            who is not None
            and ctx.settings.require_2fa
            and second_factor.must_enrol(session, who.user_id, is_admin=who.is_admin)
        ):
            who = replace(who, must_enrol=True)
        return who


def _hold_for_enrolment(request: Request, who: SignedIn) -> Response | None:
    """Send a user that must set up a second factor to the page that does it."""
    if not who.must_enrol or request.url.path.startswith(ENROLMENT_PATHS):
        return None
    if request.method in ("GET", "HEAD"):
        return see_other(ENROLMENT_PATHS[0])
    raise SecondFactorRequired(
        "this index requires a second factor for accounts that can publish: set one up first"
    )


def web_page(handler: Handler) -> Handler:
    """Identify the browser and give it a CSRF token; its errors are the mount's
    (:func:`page_error`)."""

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        who = await run_in_threadpool(_identify, request)
        request.state.user = who
        request.state.fresh_csrf = ""
        if who is not None:
            request.state.csrf_token = who.csrf_token
            held = _hold_for_enrolment(request, who)
            if held is not None:
                return held
        else:
            request.state.csrf_token = request.cookies.get(PRE_SESSION_COOKIE, "")
            if not 20 <= len(request.state.csrf_token) <= 100:
                request.state.fresh_csrf = request.state.csrf_token = new_csrf_token()
        response = await handler(request)
        _give_csrf_cookie(request, response)
        return response

    return wrapped


def _give_csrf_cookie(request: Request, response: Response) -> None:
    """Send the pre-session CSRF token minted for this request, if one was."""
    fresh_csrf = getattr(request.state, "fresh_csrf", "")
    if fresh_csrf:
        response.set_cookie(
            PRE_SESSION_COOKIE,
            fresh_csrf,
            httponly=True,
            samesite="strict",
            secure=is_secure(request),
            path="/",
        )


def show_errors_in(request: Request, template: str, context: dict[str, Any]) -> None:
    """From here on, an error of this request is shown as ``problem`` on ``template`` (a form
    that explains its own refusal, such as the sign-in page) instead of the error page."""
    request.state.error_template = (template, context)


def page_error(request: Request, error: Error) -> Response:
    """The web UI's error mapping: a page that needs a signed-in user redirects a GET to the
    sign-in page; any other error is explained on a page with the error's status (the error
    page, or the form that asked for it: :func:`show_errors_in`)."""
    shown_in = getattr(request.state, "error_template", None)
    # A read refused for want of credentials (issue 20) sends a person to sign in too: no
    # browser Basic prompt, nothing of the project shown.
    needs_sign_in = isinstance(error, SignInRequired | CredentialsRequired)
    if needs_sign_in and request.method in ("GET", "HEAD"):
        response = see_other("/account/login/?next=" + quote(request.url.path))
    elif shown_in is not None:
        template, context = shown_in
        response = page(request, template, {**context, "problem": error.message}, error.status)
    else:
        response = page(
            request,
            "error.html",
            {"status": error.status, "message": error.message},
            status=error.status,
        )
    _give_csrf_cookie(request, response)
    return response


def current_user(request: Request) -> SignedIn:
    """Who is signed in; :class:`SignInRequired` for everyone else."""
    who: SignedIn | None = request.state.user
    if who is None:
        raise SignInRequired("sign in first")
    return who


def _same_origin(request: Request) -> None:
    """Browsers send Origin with every POST; one naming another site is a forgery."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return
    parts = urlsplit(origin)
    if parts.netloc != request.headers.get("host", ""):
        raise CsrfRefused(f"the form was sent from another site ({origin[:100]})")


async def checked_form(request: Request) -> dict[str, str]:
    """A POSTed form, refused unless it carries this browser's CSRF token."""
    _same_origin(request)
    fields = await read_form(request)
    check_csrf(fields, request.state.csrf_token)
    return fields


def project_name_param(request: Request) -> str:
    """The ``{name}`` of a project page's path: 404 unless it could name a project at all."""
    name: str = request.path_params["name"]
    if not is_valid_project_name(name):
        raise NotFound(f"no project named {name[:200]!r}")
    return name


def only_fields(fields: dict[str, str], allowed: set[str]) -> None:
    """Refuse (400) a form with fields the page never offered."""
    unknown = sorted(set(fields) - allowed - {"csrf_token"})
    if unknown:
        raise FormRefused(f"unknown form fields: {', '.join(u[:40] for u in unknown)}")
