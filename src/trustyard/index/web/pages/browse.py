"""Browsing: the home page, search, and a project's (or one release's) page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from packaging.utils import canonicalize_version
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from trustyard.dists.names import is_valid_project_name, normalize_name
from trustyard.errors import InvalidInput, NotFound
from trustyard.index.context import context_of
from trustyard.index.read_gate import readable_project, reader_of
from trustyard.index.routes.json_api import latest_release
from trustyard.index.services import catalogue, ratelimits
from trustyard.index.services import search as project_search
from trustyard.index.services.catalogue import ProjectView, ReleaseView
from trustyard.index.services.provenance import describe_publisher
from trustyard.index.services.read_access import hidden_from
from trustyard.index.services.search import ProjectHit
from trustyard.index.services.simple_pages import file_path_url, integrity_path
from trustyard.index.upstream import json_api as upstream_json
from trustyard.index.upstream.lookup import upstream_for
from trustyard.index.web.handling import web_page
from trustyard.index.web.install import install_help
from trustyard.index.web.paging import result_page
from trustyard.index.web.render import page

MAX_QUERY_CHARS = 200


@web_page
async def home(request: Request) -> Response:
    """The search form and the most recently changed projects."""
    ctx = context_of(request)

    def load() -> list[ProjectHit]:
        with ctx.db.read() as session:
            hidden = hidden_from(session, reader_of(request))
            return project_search.recent_projects(session, hidden=hidden)

    return page(request, "home.html", {"projects": await run_in_threadpool(load)})


@web_page
async def search(request: Request) -> Response:
    """Projects whose name or newest summary contain every word of ``q``, a page at a time;
    searches are counted per client address first (429 with ``Retry-After`` beyond the rate)."""
    query = request.query_params.get("q", "")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"the search is longer than {MAX_QUERY_CHARS} characters")
    number = result_page(request, project_search.MAX_PAGE)
    ctx = context_of(request)
    address = request.client.host if request.client else "unknown"
    await run_in_threadpool(
        ratelimits.hit,
        ctx.db,
        ratelimits.search_rules(ctx.settings, address),
        "searches from this address",
    )

    def load() -> project_search.SearchPage:
        with ctx.db.read() as session:
            hidden = hidden_from(session, reader_of(request))
            return project_search.search_projects(session, query, number, hidden=hidden)

    found = await run_in_threadpool(load)

    def link(to: int) -> str:
        return "/search/?" + urlencode({"q": query, **({"page": str(to)} if to > 1 else {})})

    return page(
        request,
        "search.html",
        {
            "query": query,
            "hits": found.hits,
            "first": (number - 1) * project_search.PAGE_SIZE + 1,
            "paged": number > 1 or found.more,
            "previous": link(number - 1) if number > 1 else "",
            "next": link(number + 1) if found.more and number < project_search.MAX_PAGE else "",
        },
    )


async def _upstream_page(request: Request, name: str, version: str | None) -> Response | None:
    """An upstream project's page, marked as such, when the name is not local (issue 17);
    built from the listing (and the upstream's JSON API), never from a local project."""
    if not is_valid_project_name(name):
        return None
    normalized = normalize_name(name)
    proxy = await upstream_for(context_of(request), normalized)
    if proxy is None:
        return None
    document = await upstream_json.project_json(proxy, normalized, "", None)
    if document is None:
        raise NotFound(f"no project named {name[:200]!r} here or upstream")
    releases: dict[str, list[dict[str, Any]]] = document.get("releases", {})
    shown = document["info"].get("version") if version is None else version
    wanted = canonicalize_version(shown or "")
    chosen = next((v for v in releases if canonicalize_version(v) == wanted), None)
    if chosen is None:
        raise NotFound(f"{normalized} has no release {str(version)[:100]!r} upstream")
    return page(
        request,
        "upstream_project.html",
        {
            "name": normalized,
            "info": document["info"] if version is None else {},
            "version": chosen,
            "files": sorted(releases[chosen], key=lambda f: str(f.get("filename"))),
            "versions": list(reversed(list(releases))),
            "upstream_url": proxy.upstream_url,
            "install": install_help(request, normalized, chosen, None),
        },
    )


def _load_project(request: Request, name: str) -> ProjectView:
    if not is_valid_project_name(name):
        raise NotFound(f"no project named {name[:200]!r}")
    with context_of(request).db.read() as session:
        readable_project(session, normalize_name(name), reader_of(request))
        project = catalogue.project_detail(session, normalize_name(name))
    if project is None:
        raise NotFound(f"no project named {name[:200]!r}")
    return project


def _load_description(request: Request, project: ProjectView, release: ReleaseView) -> Markup:
    """The release's description as stored at upload: sanitised then, never rendered here."""
    with context_of(request).db.read() as session:
        html = catalogue.description_html(
            session, project.normalized_name, release.canonical_version
        )
    return Markup(html)  # noqa: S704 - sanitised (nh3) before it was stored


def _project_page(
    request: Request, project: ProjectView, release: ReleaseView, description: Markup
) -> Response:
    metadata = release.core_metadata
    urls = metadata.get("project_urls") or {}
    return page(
        request,
        "project.html",
        {
            "project": project,
            "release": release,
            "latest": latest_release(project),
            "metadata": metadata,
            "project_urls": urls if isinstance(urls, dict) else {},
            "description": description,
            "files": sorted(release.files, key=lambda f: f.filename),
            "file_url": file_path_url,
            "provenance_url": integrity_path,
            "describe_publisher": describe_publisher,
            "install": install_help(request, project.name, release.version, project),
        },
    )


@web_page
async def project_page(request: Request) -> Response:
    """A project's newest release (PyPI's choice, as the JSON API's ``info``)."""
    name: str = request.path_params["name"]
    upstream = await _upstream_page(request, name, None)
    if upstream is not None:
        return upstream
    project = await run_in_threadpool(_load_project, request, name)
    if name != project.name:
        return RedirectResponse(f"/project/{project.name}/", status_code=301)
    release = latest_release(project)
    if release is None:
        raise NotFound(f"{project.name} has no releases")
    description = await run_in_threadpool(_load_description, request, project, release)
    return _project_page(request, project, release, description)


@web_page
async def release_page(request: Request) -> Response:
    """One release of a project."""
    name: str = request.path_params["name"]
    version: str = request.path_params["version"]
    upstream = await _upstream_page(request, name, version)
    if upstream is not None:
        return upstream
    project = await run_in_threadpool(_load_project, request, name)
    release = project.release(version)
    if release is None:
        raise NotFound(f"{project.name} has no release {version[:100]!r}")
    if name != project.name or version != release.version:
        return RedirectResponse(f"/project/{project.name}/{release.version}/", status_code=301)
    description = await run_in_threadpool(_load_description, request, project, release)
    return _project_page(request, project, release, description)
