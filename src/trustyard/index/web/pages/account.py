"""The account: signing in and out, and the user's API tokens."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from trustyard.errors import Forbidden
from trustyard.index.context import context_of
from trustyard.index.read_gate import SESSION_COOKIE
from trustyard.index.services import accounts, collaborators, sessions
from trustyard.index.services.sessions import SignedIn
from trustyard.index.web.errors import FormRefused
from trustyard.index.web.forms import PRE_SESSION_COOKIE
from trustyard.index.web.handling import checked_form as _form
from trustyard.index.web.handling import current_user as _user
from trustyard.index.web.handling import is_secure as _secure
from trustyard.index.web.handling import only_fields as _only
from trustyard.index.web.handling import see_other as _redirect
from trustyard.index.web.handling import (
    show_errors_in,
    web_page,
    write_then_redirect,
)
from trustyard.index.web.render import page

# Token lifetimes offered by the account page (PyPI's tokens never expire; ours may).
EXPIRY_CHOICES = {"1d": "1 day", "7d": "7 days", "30d": "30 days", "90d": "90 days", "": "never"}


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
    show_errors_in(request, "login.html", {"next": next_path})  # rate limits too (429)
    result = await run_in_threadpool(
        sessions.attempt_sign_in, ctx.db, ctx.settings, username, password, address
    )
    if result is None:
        raise Forbidden("The username or the password is wrong.")
    secret, _who = result
    response = _redirect(next_path)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
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
            sessions.sign_out(session, who)

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
        projects = collaborators.projects_of(session, who.user_id)
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
            project = (
                collaborators.check_token_scope(session, scope, who.user_id) if scope else None
            )
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
