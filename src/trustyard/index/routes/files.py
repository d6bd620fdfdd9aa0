"""Distribution files and their PEP 658 core metadata, content-addressed like PyPI's.

A path is served only if the catalogue has its row, so bytes left by a crashed upload are never
visible. The bytes under a path never change: clients and proxies may cache them forever.
Range requests work (pip fetches wheel metadata lazily with them).

With an S3 store the ``s3_serve`` setting chooses how the bytes travel. ``redirect`` (the
default): a 302 to a short-lived presigned URL, so the bytes never pass through Python (PyPI
redirects to its CDN the same way) and the object store serves ranges and the immutable headers
itself. ``stream``: the index relays the object (for buckets clients cannot reach), keeping its
Content-Length, passing a single byte range on to S3, and adding the immutable headers.
A HEAD is always answered here, from the object's headers: pip's lazy wheel (fast-deps) wants
a 200 with Accept-Ranges from its HEAD, which it does not redirect, before it GETs ranges.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from trustyard.errors import NotFound
from trustyard.index.context import context_of
from trustyard.index.services.catalogue import file_by_path
from trustyard.index.storage.base import IMMUTABLE, Streamed, media_type


def _lookup(request: Request, path: str) -> tuple[str, bool] | Streamed:
    """(local path, False), (presigned URL, True), or the object being streamed."""
    ctx = context_of(request)
    with ctx.db.read() as session:
        found = file_by_path(session, path)
    if found is None:
        raise NotFound(f"no file at {path!r}")
    if ctx.settings.s3_serve == "redirect" and request.method != "HEAD":
        url = ctx.storage.download_url(path, path.rsplit("/", 1)[-1])
        if url is not None:
            return url, True
    local = ctx.storage.local_path(path)
    if local is None:
        streamed = ctx.storage.stream(
            path, request.headers.get("range"), body=request.method != "HEAD"
        )
        if streamed is not None:
            return streamed
    if local is None or not local.is_file():
        raise NotFound(f"no file at {path!r}")
    return str(local), False


def _streamed(path: str, streamed: Streamed) -> Response:
    filename = path.rsplit("/", 1)[-1]
    headers = {
        **streamed.headers,
        "Cache-Control": IMMUTABLE,
        "Access-Control-Allow-Origin": "*",
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    if streamed.status == 416:
        return Response(b"", status_code=416, headers=headers)
    # Starlette iterates a plain iterator in a worker thread: boto3's reads never block the loop.
    return StreamingResponse(
        streamed.chunks, status_code=streamed.status, media_type=media_type(path), headers=headers
    )


async def serve_file(request: Request) -> Response:
    """``/files/<blake2 path>/<filename>`` and ``....metadata``."""
    path: str = request.path_params["path"]
    found = await run_in_threadpool(_lookup, request, path)
    if isinstance(found, Streamed):
        return _streamed(path, found)
    target, redirect = found
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
