"""The index's ASGI application: its surfaces, each mounted once, and the per-process context.

Every endpoint belongs to one surface (:mod:`trustyard.index.surfaces`): the mount it is listed
in chooses how its errors are answered (and, with the private-index work, who may read it).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Scope

from trustyard.errors import Error
from trustyard.index import metrics
from trustyard.index.context import IndexContext, open_index
from trustyard.index.file_fast_path import CachedFiles
from trustyard.index.http import error_response, json_api_error, oidc_error
from trustyard.index.routes import (
    files,
    integrity,
    json_api,
    oidc,
    openapi,
    pytp,
    simple,
    upload,
)
from trustyard.index.security import SecurityMiddleware
from trustyard.index.services import upload_limits
from trustyard.index.simple_fast_path import CachedSimplePages
from trustyard.index.surfaces import (
    READS,
    SELF_AUTHENTICATED,
    ReadPolicy,
    Surface,
    SurfaceMount,
    surface_of,
)
from trustyard.index.web import routes as web
from trustyard.index.web.handling import page_error
from trustyard.settings import Settings

SIMPLE = Surface("simple", error_response, READS)
UPLOAD = Surface("upload", error_response, SELF_AUTHENTICATED)  # tokens, checked per upload
FILES = Surface("files", error_response, READS)
JSON_API = Surface("json", json_api_error, READS)
INTEGRITY = Surface("integrity", json_api_error, READS)
TRUSTED_PUBLISHING = Surface("oidc", oidc_error, SELF_AUTHENTICATED)  # OIDC tokens
OPENAPI = Surface("openapi", error_response, READS)
# Pages: a private index lets anonymous people sign in (both steps, and fetch the stylesheet
# and the security-key script); any other page sends them to the sign-in page.
WEB_READS = ReadPolicy(
    guarded=True,
    opened=frozenset({"/account/login/", "/account/two-factor/", "/account/logout/", "/static"}),
    challenge=None,
)
WEB = Surface("web", page_error, WEB_READS)
# What answers a request no mount claims (an unknown path, ``/legacy`` without its slash):
# nothing is read there.
OUTSIDE = Surface("outside", error_response, SELF_AUTHENTICATED)


def _routes() -> list[BaseRoute]:
    """The mounts, one per surface; a mount never matches its bare prefix, hence ``/legacy``
    (PyPI's 308 to ``/legacy/``) beside its mount."""
    return [
        SurfaceMount("/simple", simple.routes, SIMPLE),
        SurfaceMount("/legacy", upload.routes, UPLOAD),
        upload.no_slash,
        SurfaceMount("/files", files.routes, FILES),
        SurfaceMount("/pypi", json_api.routes, JSON_API),
        SurfaceMount("/integrity", integrity.routes, INTEGRITY),
        SurfaceMount("/_/oidc", oidc.routes, TRUSTED_PUBLISHING),
        SurfaceMount("/.well-known/pytp", pytp.routes, TRUSTED_PUBLISHING),  # PEP 807 (draft)
        SurfaceMount("", openapi.routes, OPENAPI),
        SurfaceMount("", web.routes, WEB),  # the web UI spans several roots
    ]


class IndexApp(Starlette):
    """Starlette with :class:`SecurityMiddleware` outside even its 500 handler, so that every
    response, an unexpected error's included, carries the security headers."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        super().__init__(**options)
        self.settings = settings

    def refuse(self, request: Request, error: Error) -> Response:
        """An error raised before routing (the security layer's 413 and 408), answered in the
        shape of the surface the request was meant for."""
        surface = surface_of(self.routes, request.scope) or OUTSIDE
        return surface.respond(request, error)

    def surface_name(self, scope: Scope) -> str | None:
        """The name of the surface whose mount takes this request (the metrics' label)."""
        surface = surface_of(self.routes, scope)
        return surface.name if surface is not None else None

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack, wrapped in the security layer (built on the first request, once
        the context is in ``state``); with metrics on, every request is timed outside it all,
        so the security layer's own refusals are counted too."""
        ctx: IndexContext = self.state.index
        ceiling = functools.partial(upload_limits.upload_ceiling, ctx.db, self.settings)
        # Cached public project pages are answered outside the security layer, with its
        # headers precomputed, and small files before routing inside it (issue 19):
        # simple_fast_path and file_fast_path say when, and why it is the route's own answer.
        secured = SecurityMiddleware(
            CachedFiles(super().build_middleware_stack(), ctx.pages, private=self.settings.private),
            self.settings,
            refuse=self.refuse,
            upload_ceiling=ceiling,
        )
        app: ASGIApp = CachedSimplePages(
            secured, ctx.pages, base_url=self.settings.base_url, private=self.settings.private
        )
        if self.settings.metrics_bind is not None:
            app = metrics.RequestMetrics(app, self.surface_name)
        return app


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """The ASGI lifespan (uvicorn runs it in every worker): nothing to start, but at shutdown
    the upstream proxy flushes its counters and closes its connection pool on the event loop
    that used it."""
    yield
    ctx: IndexContext = app.state.index
    if ctx.upstream is not None:
        await ctx.upstream.aclose()


def create_app(settings: Settings, context: IndexContext | None = None) -> Starlette:
    """Build the application; opens (and migrates) the catalogue unless given a context."""
    ctx = context or open_index(settings)
    app = IndexApp(
        settings, routes=_routes(), exception_handlers=OUTSIDE.handlers(), lifespan=lifespan
    )
    app.state.index = ctx
    return app
