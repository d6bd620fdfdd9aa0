"""Distribution files and their PEP 658 core metadata, content-addressed like PyPI's.

A path is served only if the catalogue has its row, so bytes left by a crashed upload are never
visible. The bytes under a path never change: clients and proxies may cache them forever.
Range requests work (pip fetches wheel metadata lazily with them).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from trustyard.errors import NotFound
from trustyard.index.context import context_of
from trustyard.index.services.catalogue import file_by_path

IMMUTABLE = "max-age=365000000, immutable, public"


def content_type_of(path: str) -> str:
    """The media type of a stored file, from its name."""
    if path.endswith(".metadata"):
        return "text/plain; charset=utf-8"
    if path.endswith((".whl", ".zip")):
        return "application/zip"
    if path.endswith(".tar.gz"):
        return "application/x-tar"
    return "application/octet-stream"


def _lookup(request: Request, path: str) -> str:
    ctx = context_of(request)
    with ctx.db.read() as session:
        found = file_by_path(session, path)
    if found is None:
        raise NotFound(f"no file at {path!r}")
    local = ctx.storage.local_path(path)
    if local is None or not local.is_file():
        raise NotFound(f"no file at {path!r}")
    return str(local)


async def serve_file(request: Request) -> Response:
    """``/files/<blake2 path>/<filename>`` and ``....metadata``."""
    path: str = request.path_params["path"]
    local = await run_in_threadpool(_lookup, request, path)
    return FileResponse(
        local,
        media_type=content_type_of(path),
        headers={"Cache-Control": IMMUTABLE, "Access-Control-Allow-Origin": "*"},
        content_disposition_type="attachment",
        filename=path.rsplit("/", 1)[-1],
    )


routes = [Route("/files/{path:path}", serve_file, methods=["GET", "HEAD"])]
