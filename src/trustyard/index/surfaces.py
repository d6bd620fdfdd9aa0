"""Surfaces: the families of endpoints the index serves, each mounted once.

A :class:`Surface` is what every endpoint of a family shares: the shape its errors take (an
:data:`~trustyard.index.http.ErrorMapping`) and its :class:`ReadPolicy` (issue 20: whether the
read gate of :mod:`trustyard.index.read_gate` stands before its routes, and which of them a
private index opens to anonymous requests). A route gets both by being listed in its
surface's mount (:func:`trustyard.index.app.create_app`), never by its URL.

A :class:`SurfaceMount` claims a request only when one of its routes matches it, so that the
app's router still answers every other path as a flat route list would: Starlette's trailing
slash redirects (``/simple`` → ``/simple/``) and the 404 of an unknown path are unchanged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ExceptionHandler, Scope

from trustyard.errors import Error, NotFound
from trustyard.index.db.engine import DatabaseUnavailable
from trustyard.index.http import ErrorMapping, error_response
from trustyard.index.read_gate import ReadGate
from trustyard.index.services.read_access import CHALLENGE

log = logging.getLogger("trustyard")


@dataclass(frozen=True)
class ReadPolicy:
    """Who may reach a surface's routes (issue 20); every surface states one.

    ``guarded``: the surface serves reads, so the read gate identifies the reader of every
    request and, on a private index, refuses anonymous ones (401) except on the routes whose
    paths are in ``opened`` (as written in the route table: the sign-in page, static files).
    Not guarded: the surface authenticates each request itself (uploads, Trusted Publishing)
    and shows nothing a private index hides. ``challenge``: the ``WWW-Authenticate`` of the
    surface's 401 answers (RFC 9110 §15.5.2), None for pages (a person is sent to sign in).
    """

    guarded: bool
    opened: frozenset[str] = frozenset()
    challenge: str | None = CHALLENGE


READS = ReadPolicy(guarded=True)  # a read surface: every route behind the gate
SELF_AUTHENTICATED = ReadPolicy(guarded=False)


@dataclass(frozen=True)
class Surface:
    """One family of endpoints and how it answers: ``errors`` renders an :class:`Error` that
    ended one of its requests (a ``retry_after`` on it becomes ``Retry-After`` whatever the
    shape, a 401 carries the policy's challenge); ``reads`` says who may reach it."""

    name: str
    errors: ErrorMapping
    reads: ReadPolicy

    def respond(self, request: Request, error: Error) -> Response:
        """The surface's response to ``error``."""
        response = self.errors(request, error)
        if error.retry_after is not None:
            response.headers["Retry-After"] = str(error.retry_after)
        if response.status_code == 401 and self.reads.challenge is not None:
            response.headers["WWW-Authenticate"] = self.reads.challenge
        return response

    async def handle_error(self, request: Request, exc: Exception) -> Response:
        """Starlette exception handler: our errors in the surface's shape."""
        if not isinstance(exc, Error):  # pragma: no cover - Starlette routes only Errors here
            raise exc
        return self.respond(request, exc)

    async def handle_database_away(self, request: Request, exc: Exception) -> Response:
        """A lost or refused database connection: 503 (the pool reconnects once it is back).

        The driver's reason (host, port) goes to the log only, not to the client.
        """
        log.warning("database unavailable: %s", exc)
        away = DatabaseUnavailable("The index's database is unavailable; try again later.")
        return self.respond(request, away)

    def handlers(self) -> dict[type[Exception] | int, ExceptionHandler]:
        """The exception handlers a mount (or the app, for what no mount claims) installs."""
        return {
            Error: self.handle_error,
            OperationalError: self.handle_database_away,
            InterfaceError: self.handle_database_away,
            404: no_route,
        }


async def no_route(request: Request, _exc: Exception) -> Response:
    """No route for the path (or a missing static file): PyPI's 404, whatever the surface."""
    return error_response(request, NotFound("The resource could not be found."))


class SurfaceMount(Mount):
    """A :class:`Mount` of one surface's routes that installs the surface's error mapping and,
    for a guarded surface, the read gate inside it (its refusals are answered in the surface's
    shape), so that no route of the surface can be reached around either."""

    def __init__(self, path: str, routes: Sequence[BaseRoute], surface: Surface) -> None:
        self.surface = surface
        handlers = surface.handlers()
        middleware = [Middleware(ExceptionMiddleware, handlers=handlers)]
        if surface.reads.guarded:
            middleware.append(Middleware(ReadGate, routes=routes, opened=surface.reads.opened))
        super().__init__(path, routes=list(routes), middleware=middleware)
        # Starlette's mount pattern ends in ``(?P<path>.*)$``, whose ``.`` stops at a line
        # break: a path such as ``/pypi/a%0A/json`` would escape the surface (and its error
        # shape) for the app's plain 404. The surface's own routes (``[^/]+``) do match it.
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """FULL or PARTIAL as the best of the surface's routes matches the rest of the path;
        NONE when none does, so the app's router goes on (and redirects slashes) as before."""
        match, child = super().matches(scope)
        if match is Match.NONE:
            return match, child
        inner = {**scope, **child}
        best = Match.NONE
        for route in self.routes:
            found, _ = route.matches(inner)
            if found is Match.FULL:
                return Match.FULL, child
            if found is Match.PARTIAL:
                best = Match.PARTIAL
        return best, (child if best is Match.PARTIAL else {})


def surface_of(routes: Sequence[BaseRoute], scope: Scope) -> Surface | None:
    """The surface whose mount would take this request, if any (for answers given before
    routing, such as the security layer's 413 and 408)."""
    for route in routes:
        if isinstance(route, SurfaceMount) and route.matches(scope)[0] is not Match.NONE:
            return route.surface
    return None
