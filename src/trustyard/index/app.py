"""The index's ASGI application: routes, error mapping, and the per-process context."""

from __future__ import annotations

import functools
import logging
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from trustyard.errors import Error, NotFound
from trustyard.index.context import IndexContext, open_index
from trustyard.index.db.engine import DatabaseUnavailable
from trustyard.index.http import error_response, render_error
from trustyard.index.routes import files, integrity, json_api, oidc, openapi, simple, upload
from trustyard.index.security import SecurityMiddleware
from trustyard.index.services import upload_limits
from trustyard.index.web import routes as web
from trustyard.settings import Settings


async def _handle_error(request: Request, exc: Exception) -> Response:
    """The one place where our errors become HTTP responses."""
    if not isinstance(exc, Error):  # pragma: no cover - Starlette only routes Errors here
        raise exc
    return render_error(request, exc)


async def _database_away(request: Request, exc: Exception) -> Response:
    """A lost or refused database connection: 503 (the pool reconnects once it is back).

    The driver's reason (host, port) goes to the log only, not to the client.
    """
    logging.getLogger("trustyard").warning("database unavailable: %s", exc)
    away = DatabaseUnavailable("The index's database is unavailable; try again later.")
    return await _handle_error(request, away)


async def _not_found(request: Request, _exc: Exception) -> Response:
    return error_response(request, NotFound("The resource could not be found."))


class IndexApp(Starlette):
    """Starlette with :class:`SecurityMiddleware` outside even its 500 handler, so that every
    response, an unexpected error's included, carries the security headers."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        super().__init__(**options)
        self.settings = settings

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack, wrapped in the security layer (built on the first request, once
        the context is in ``state``)."""
        ctx: IndexContext = self.state.index
        ceiling = functools.partial(upload_limits.upload_ceiling, ctx.db, self.settings)
        return SecurityMiddleware(
            super().build_middleware_stack(), self.settings, upload_ceiling=ceiling
        )


def create_app(settings: Settings, context: IndexContext | None = None) -> Starlette:
    """Build the application; opens (and migrates) the catalogue unless given a context."""
    ctx = context or open_index(settings)
    app = IndexApp(
        settings,
        routes=[
            *simple.routes,
            *upload.routes,
            *files.routes,
            *json_api.routes,
            *integrity.routes,
            *oidc.routes,
            *openapi.routes,
            *web.routes,
        ],
        exception_handlers={
            Error: _handle_error,
            OperationalError: _database_away,
            InterfaceError: _database_away,
            404: _not_found,
        },
    )
    app.state.index = ctx
    return app
