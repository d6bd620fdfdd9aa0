"""The simple repository API: PEP 503 HTML and PEP 691 JSON, negotiated as PyPI does."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.dists.names import normalize_name
from trustyard.errors import InvalidInput, NotFound
from trustyard.index import simple_answer
from trustyard.index.context import context_of
from trustyard.index.negotiation import choose_simple_format
from trustyard.index.origin import request_origin
from trustyard.index.read_gate import reader_of, require_project_read
from trustyard.index.services.read_access import hidden_from
from trustyard.index.services.simple_pages import Page, index_key
from trustyard.index.upstream import render, urls
from trustyard.index.upstream.lookup import upstream_for
from trustyard.index.upstream.pages import ListedFile, Listing


def _respond(request: Request, page: Page, media: str) -> Response:
    """The page as :mod:`trustyard.index.simple_answer` answers it (gzip, 304, HEAD)."""
    gzipped, not_modified, body = simple_answer.choose(
        page, request.headers.get("accept-encoding"), request.headers.get("if-none-match")
    )
    response = Response(
        b"" if request.method == "HEAD" else body, status_code=304 if not_modified else 200
    )
    response.raw_headers = simple_answer.head(
        page, media, gzipped=gzipped, not_modified=not_modified
    )
    return response


def _hidden(request: Request) -> frozenset[int]:
    """The private projects the request's reader may not read (issue 20)."""
    with context_of(request).db.read() as session:
        return hidden_from(session, reader_of(request))


async def simple_index(request: Request) -> Response:
    """``/simple/``: every project the reader may read (a private project is listed only to
    those who may read it)."""
    media = choose_simple_format(request.headers.get("accept"))
    pages = context_of(request).pages
    hidden = await run_in_threadpool(_hidden, request)
    cached = pages.cached(index_key(hidden), media)
    page = cached if cached is not None else await run_in_threadpool(pages.index, media, hidden)
    return _respond(request, page, media)


async def simple_project(request: Request) -> Response:
    """``/simple/<name>/``: one project's files; 301 from any other spelling of the name."""
    name: str = request.path_params["name"]
    try:
        normalized = normalize_name(name)
    except InvalidInput as exc:
        raise NotFound(f"no project named {name!r}") from exc
    if name != normalized or not request.url.path.endswith("/"):
        base = (context_of(request).settings.base_url or "").rstrip("/")
        return RedirectResponse(f"{base}/simple/{normalized}/", status_code=301)
    media = choose_simple_format(request.headers.get("accept"))
    ctx = context_of(request)
    pages = ctx.pages
    origin = request_origin(request, ctx.settings.base_url)
    page = pages.cached(normalized, media, origin) or await run_in_threadpool(
        pages.project, normalized, media, origin
    )
    if page is None:
        page = await _upstream_page(request, normalized, media, origin)
    if page is None:
        raise NotFound(f"no project named {name!r}")
    if page.private:  # a local name: never the upstream's, even to those who may not read it
        await run_in_threadpool(require_project_read, request, normalized)
    return _respond(request, page, media)


async def _upstream_page(request: Request, normalized: str, media: str, origin: str) -> Page | None:
    """The upstream's project page, rendered as ours, when the name is not local (issue 17:
    local wins wholly, never merged)."""
    ctx = context_of(request)
    proxy = await upstream_for(ctx, normalized)
    if proxy is None:
        return None
    base_url = ctx.settings.base_url
    write = render.project_json if media == SIMPLE_V1_JSON else render.project_html

    def rendered(listing: Listing, files: tuple[ListedFile, ...]) -> bytes:
        return write(
            listing,
            normalized,
            files,
            lambda f: urls.file_url(base_url, normalized, f),
            lambda f: urls.provenance_url(base_url or origin, normalized, f),
        )

    return await proxy.page(normalized, media, origin, rendered)


# Under the ``/simple`` mount.
routes = [
    Route("/", simple_index, methods=["GET", "HEAD"]),
    Route("/{name}/", simple_project, methods=["GET", "HEAD"]),
    Route("/{name}", simple_project, methods=["GET", "HEAD"]),
]
