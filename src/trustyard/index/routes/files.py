"""Distribution files and their PEP 658 core metadata, content-addressed like PyPI's.

A path is served only if the catalogue has its row, so bytes left by a crashed upload are never
visible. The bytes under a path never change: clients and proxies may cache them forever.
Range requests work (pip fetches wheel metadata lazily with them). With an S3 store the answer
is a 302 to a short-lived presigned URL, so the bytes never pass through Python (PyPI redirects
to its CDN the same way); the object store serves ranges and the immutable headers itself.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from trustyard.errors import NotFound
from trustyard.index.context import context_of
from trustyard.index.services.catalogue import file_by_path
from trustyard.index.storage.base import IMMUTABLE, media_type


def _lookup(request: Request, path: str) -> tuple[str, bool]:
    """(local path, False) or (presigned URL, True) for a file whose row exists."""
    ctx = context_of(request)
    with ctx.db.read() as session:
        found = file_by_path(session, path)
    if found is None:
        raise NotFound(f"no file at {path!r}")
    url = ctx.storage.download_url(path, path.rsplit("/", 1)[-1])
    if url is not None:
        return url, True
    local = ctx.storage.local_path(path)
    if local is None or not local.is_file():
        raise NotFound(f"no file at {path!r}")
    return str(local), False


async def serve_file(request: Request) -> Response:
    """``/files/<blake2 path>/<filename>`` and ``....metadata``."""
    path: str = request.path_params["path"]
    target, redirect = await run_in_threadpool(_lookup, request, path)
    if redirect:
        # The URL expires: the redirect itself must not be cached, the object it leads to may.
        return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})
    return FileResponse(
        target,
        media_type=media_type(path),
        headers={"Cache-Control": IMMUTABLE, "Access-Control-Allow-Origin": "*"},
        content_disposition_type="attachment",
        filename=path.rsplit("/", 1)[-1],
    )


routes = [Route("/files/{path:path}", serve_file, methods=["GET", "HEAD"])]
