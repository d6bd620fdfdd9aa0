"""PEP 740's Integrity API: ``GET /integrity/<project>/<version>/<filename>/provenance``.
Follows warehouse ``api/integrity.py`` (media types, 406 and 404 bodies, CORS, caching).

The project name is normalised without a redirect, the version canonicalised and the filename
matched exactly (warehouse's traversal). The body is the stored provenance object.
"""

from __future__ import annotations

import json

from packaging.utils import canonicalize_version
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trustyard.dists.mediatypes import APPLICATION_JSON, INTEGRITY_V1_JSON
from trustyard.dists.names import is_valid_project_name, normalize_name
from trustyard.errors import NotFound
from trustyard.index.context import context_of
from trustyard.index.http import json_error
from trustyard.index.negotiation import acceptable_offers
from trustyard.index.read_gate import readable_project, reader_of
from trustyard.index.services.provenance import FileProvenance, find_file_provenance
from trustyard.index.upstream.lookup import upstream_for
from trustyard.index.upstream.urls import version_of

OFFERS = (INTEGRITY_V1_JSON, APPLICATION_JSON)
CACHE_CONTROL = "max-age=600, public"  # warehouse: cache_control(10 * 60)
# warehouse utils/cors.py, sent with a provenance object.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": (
        "Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since"
    ),
    "Access-Control-Allow-Methods": "GET",
    "Access-Control-Max-Age": "86400",
    "Access-Control-Expose-Headers": "X-PyPI-Last-Serial",
}


def _find(request: Request) -> FileProvenance:
    params = request.path_params
    with context_of(request).db.read() as session:
        if is_valid_project_name(params["project"]):
            readable_project(session, normalize_name(params["project"]), reader_of(request))
        return find_file_provenance(session, params["project"], params["version"], params["file"])


async def _upstream_provenance(request: Request) -> FileProvenance | None:
    """An upstream file's provenance, proxied, when the project is not local (issue 17)."""
    params = request.path_params
    if not is_valid_project_name(params["project"]):
        return None
    normalized = normalize_name(params["project"])
    proxy = await upstream_for(context_of(request), normalized)
    if proxy is None:
        return None
    named = version_of(params["file"])
    if named is None or canonicalize_version(named) != canonicalize_version(params["version"]):
        raise NotFound(f"no upstream file {params['file']} in {normalized} {params['version']}")
    filename, document = await proxy.provenance(normalized, params["file"])
    return FileProvenance(filename=filename, provenance=document)


async def provenance(request: Request) -> Response:
    """The file's provenance object, or PyPI's 406 / 404 ``{"message": ...}``."""
    offers = acceptable_offers(request.headers.get("accept"), OFFERS)
    if not offers:
        response = json_error(406, "Request not acceptable")
        response.headers["Vary"] = "Accept"
        return response
    found = await _upstream_provenance(request)
    if found is None:
        found = await run_in_threadpool(_find, request)
    if found.provenance is None:
        response = json_error(404, f"No provenance available for {found.filename}")
        response.headers.update({"Vary": "Accept", "Cache-Control": CACHE_CONTROL})
        return response
    body = json.dumps(found.provenance).encode()
    headers = {"Vary": "Accept", "Cache-Control": CACHE_CONTROL, **CORS_HEADERS}
    if request.method == "HEAD":
        return Response(
            b"", media_type=offers[0], headers={**headers, "Content-Length": str(len(body))}
        )
    return Response(body, media_type=offers[0], headers=headers)


# Under the ``/integrity`` mount.
routes = [Route("/{project}/{version}/{file}/provenance", provenance, methods=["GET", "HEAD"])]
