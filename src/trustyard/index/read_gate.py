"""The read gate (issue 20): who reads, found once per request, before any read route runs.

:class:`ReadGate` is installed by :class:`~trustyard.index.surfaces.SurfaceMount` around every
route of a surface whose :class:`~trustyard.index.surfaces.ReadPolicy` guards it, so no route of
the surface can be reached around it. It

- identifies the reader: an API token in ``Authorization`` (HTTP Basic with the token as the
  password and any username, as pip, uv and poetry send index credentials; or PyPI's
  ``token``/``bearer`` schemes), else a signed-in browser's session cookie, else anonymous. An
  ``Authorization`` that holds no valid token is refused (401) on a private index and read as
  anonymous on a public one (as PyPI ignores it); an account password is never checked here
  (no argon2 per read);
- on a private index, refuses an anonymous request to any route the policy does not open;
- marks what it lets through: ``Vary: Authorization`` always, and for anything read with
  credentials or from a private index ``Cache-Control: private`` in place of the public and
  immutable caching of public content (RFC 9111 §5.2.2.7: no shared cache stores it).

Handlers then ask :func:`require_project_read` (or filter listings with
:func:`~trustyard.index.services.read_access.hidden_from`) for the project they show.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trustyard.index.context import IndexContext
from trustyard.index.db.models import Project
from trustyard.index.services import sessions, token_use
from trustyard.index.services.read_access import (
    ANONYMOUS,
    CredentialsRequired,
    Reader,
    require_read,
    token_reader,
    user_reader,
)

SESSION_COOKIE = "trustyard_session"  # the web pages' (web/handling.py), read here too
# How responses read with credentials, or from a private index, may be cached: by the reader's
# own client only, and revalidated (the reader's rights may change).
PRIVATE_CACHE = "private, max-age=0, must-revalidate"
BASIC_WITH_KEY = (
    "this index reads API tokens only (HTTP Basic, the token as the password), never"
    " account passwords"
)
PRIVATE_INDEX = "this index is private: send an API token (HTTP Basic, the token as the password)"


def presented_read_token(authorization: str) -> str:
    """The API token in an ``Authorization`` header of a read, or 401.

    RFC 7617 Basic with any username (``__token__`` as PyPI's, or whatever a netrc or keyring
    holds) and the token as the password; PyPI's ``token <t>`` / ``bearer <t>`` too.
    """
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() in {"token", "bearer"} and value:
        return value
    if scheme.lower() != "basic":
        raise CredentialsRequired(BASIC_WITH_KEY)
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise CredentialsRequired("the Authorization header is not valid HTTP Basic") from exc
    _, sep, password = decoded.partition(":")
    if not sep or not password:
        raise CredentialsRequired(BASIC_WITH_KEY)
    return password


def identify(ctx: IndexContext, authorization: str | None, cookie: str | None) -> Reader:
    """The reader of a request (in a worker thread: it reads the catalogue).

    Credentials that are not a valid token are refused (401) on a private index; on a public
    one they count as none, as PyPI ignores them: pip sends a ``.netrc`` entry before it is
    asked, and a stale one must not stop installs of public projects (a private project
    still answers 401 to an anonymous reader).
    """
    if authorization:
        with ctx.db.read() as session:
            try:
                reader = token_reader(session, presented_read_token(authorization))
            except CredentialsRequired as refused:
                if ctx.settings.private:
                    raise
                return Reader(rejected=refused.message)
        if reader.identity is not None:
            token_use.note_use(ctx.db, reader.identity)  # sampled: one write per interval
        return reader
    with ctx.db.read() as session:
        if cookie:
            who = sessions.signed_in(session, cookie)
            if who is not None:
                return user_reader(who.user_id, who.username)
    return ANONYMOUS


def reader_of(request: HTTPConnection) -> Reader:
    """The reader the gate found (anonymous where no gate ran: the least rights)."""
    reader = request.scope.get("state", {}).get("reader", ANONYMOUS)
    return reader if isinstance(reader, Reader) else ANONYMOUS


def readable_project(session: Session, normalized_name: str, reader: Reader) -> Project | None:
    """The local project of that name if ``reader`` may read it; None when there is none; 401
    or 403 when it is private to others (never None then: a 404 would send an installer on
    to its next index, where anyone may have published the name)."""
    project = session.scalar(select(Project).where(Project.normalized_name == normalized_name))
    if project is not None:
        require_read(session, project, reader)
    return project


def require_project_read(request: Request, normalized_name: str) -> None:
    """:func:`readable_project` for the request's reader, in its own read transaction (call it
    in a worker thread)."""
    ctx: IndexContext = request.app.state.index
    with ctx.db.read() as session:
        readable_project(session, normalized_name, reader_of(request))


def route_path(routes: Collection[BaseRoute], scope: Scope) -> str | None:
    """The path template of the route (of ``routes``) that fully matches the request."""
    for route in routes:
        found, _ = route.matches(scope)
        if found is Match.FULL:
            return str(getattr(route, "path", ""))
    return None


class ReadGate:
    """ASGI middleware of one guarded surface (see the module's docstring).

    ``routes`` are the mount's, ``opened`` the paths of those reachable without read rights on
    a private index (the sign-in page, static files). The scope it is called with is already
    the mount's child scope, as its routes see it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Collection[BaseRoute],
        opened: frozenset[str],
    ) -> None:
        self.app = app
        self.routes = routes
        self.opened = opened

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - the index serves no websockets
            await self.app(scope, receive, send)
            return
        if self.opened and route_path(self.routes, scope) in self.opened:
            await self.app(scope, receive, send)
            return
        ctx: IndexContext = scope["app"].state.index
        connection = HTTPConnection(scope)
        authorization = connection.headers.get("authorization")
        cookie = connection.cookies.get(SESSION_COOKIE)
        reader = ANONYMOUS
        if authorization or cookie:
            reader = await run_in_threadpool(identify, ctx, authorization, cookie)
        scope.setdefault("state", {})["reader"] = reader
        private = ctx.settings.private
        if private and reader.anonymous:
            raise CredentialsRequired(PRIVATE_INDEX)
        await self.app(scope, receive, _marking(send, private=private or not reader.anonymous))


def _marking(send: Send, *, private: bool) -> Send:
    """``send`` with the response's caching headers set for the reader (module docstring)."""

    async def marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            mark_headers(MutableHeaders(scope=message), private=private)
        await send(message)

    return marked


def mark_headers(headers: MutableHeaders, *, private: bool) -> None:
    """``Vary: Authorization``; with ``private``, ``Cache-Control: private`` (a ``no-store``
    already there is kept: it says more)."""
    vary = [v.strip() for v in headers.get("vary", "").split(",") if v.strip()]
    if "authorization" not in {v.lower() for v in vary}:
        headers["Vary"] = ", ".join([*vary, "Authorization"])
    if private and "no-store" not in headers.get("cache-control", ""):
        headers["Cache-Control"] = PRIVATE_CACHE
