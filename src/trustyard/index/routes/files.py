"""Distribution files and their PEP 658 core metadata, content-addressed like PyPI's.

A path is served only if the catalogue has its row, so bytes left by a crashed upload are never
visible. The bytes under a path never change: clients and proxies may cache them forever
(unless they were read with credentials, issue 20: the read gate makes such answers
``Cache-Control: private``, and a private project's file is redirected to S3 only through a
URL presigned for seconds, after the read check).
Range requests work (pip fetches wheel metadata lazily with them).

With an S3 store the ``s3_serve`` setting chooses how the bytes travel. ``redirect`` (the
default): a 302 to a short-lived presigned URL, so the bytes never pass through Python (PyPI
redirects to its CDN the same way) and the object store serves ranges and the immutable headers
itself. ``stream``: the index relays the object (for buckets clients cannot reach), keeping its
Content-Length, passing a single byte range on to S3, and adding the immutable headers.
A HEAD is always answered here, from the object's headers: pip's lazy wheel (fast-deps) wants
a 200 with Accept-Ranges from its HEAD, which it does not redirect, before it GETs ranges.

With local files behind nginx, the ``accel_redirect`` setting names an ``internal`` location of
nginx mapped onto the files directory: the index still decides whether a path may be served (the
catalogue lookup), then answers with an empty body and ``X-Accel-Redirect``, and nginx sends the
bytes (sendfile, ranges, HEAD) without them passing through Python: nginx's X-Accel-Redirect
(nginx.org/en/docs/http/ngx_http_proxy_module.html, "X-Accel-Redirect"). docs/deployment.md
holds the nginx configuration, and the test runs that very configuration.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from trustyard.errors import NotFound
from trustyard.index.context import context_of
from trustyard.index.read_gate import reader_of
from trustyard.index.services.catalogue import file_by_path, servable_file
from trustyard.index.services.read_access import is_private, require_read
from trustyard.index.storage.base import IMMUTABLE, Streamed, content_disposition, media_type
from trustyard.index.upstream import urls
from trustyard.index.upstream.lookup import upstream_for
from trustyard.index.upstream.proxy import Filling

# What a stored key may hold to be handed to nginx verbatim: the blake2 directories and a
# distribution filename (the upload checks allow no other characters in one).
# Upstream files (issue 17) live under upstream/ in the same directory, keyed by sha256.
_ACCEL_SAFE = re.compile(
    r"(?:[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}|upstream/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64})"
    r"/[A-Za-z0-9._!+-]+"
)
# How long a presigned URL of a private file lives: the client follows the redirect at once.
PRIVATE_PRESIGN_SECONDS = 10
UPSTREAM_READ_CHUNK = 1024 * 1024  # bytes per read of a stored upstream file being served


def _lookup(request: Request, path: str) -> tuple[str, bool] | Streamed:
    """(local path, False), (presigned URL, True), or the object being streamed; the reader's
    right to the file's project is checked first (issue 20)."""
    ctx = context_of(request)
    with ctx.db.read() as session:
        known = file_by_path(session, path)
        if known is None:
            raise NotFound(f"no file at {path!r}")
        project = known[0].release.project
        require_read(session, project, reader_of(request))
        private = is_private(project)
        if servable_file(session, path) is None:  # pragma: no cover - the row was just read
            raise NotFound(f"no file at {path!r}")
    return _locate(request, path, private=private)


def _locate(request: Request, path: str, *, private: bool) -> tuple[str, bool] | Streamed:
    """Where the bytes stored under ``path`` are sent from (the catalogue already said yes).

    A private file (or any file of a private index) is redirected to a URL presigned for
    seconds only, made after the read check: a presigned URL is a bearer credential that no
    revocation reaches, so it must expire before it could be passed on (issue 20).
    """
    ctx = context_of(request)
    if ctx.settings.s3_serve == "redirect" and request.method != "HEAD":
        expires = PRIVATE_PRESIGN_SECONDS if private or ctx.settings.private else None
        url = ctx.storage.download_url(path, path.rsplit("/", 1)[-1], expires=expires)
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
        "Content-Disposition": content_disposition(filename),
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
    return _send(request, path, found)


async def serve_upstream_file(request: Request) -> Response:
    """``/files/upstream/<project>/<sha256>/<filename>`` (and ``.metadata``): an upstream
    file, fetched and checked on first request, then served from the store (issue 17). A
    local name's upstream files do not exist here: local wins wholly."""
    rest: str = request.path_params["rest"]
    matched = urls.FILE_PATH.fullmatch(rest)
    if matched is None:
        raise NotFound(f"no file at {'upstream/' + rest!r}")
    project = matched["project"]
    ctx = context_of(request)
    proxy = await upstream_for(ctx, project)
    if proxy is None:
        raise NotFound(f"no file at {'upstream/' + rest!r}")
    whole = request.method == "GET" and "range" not in request.headers
    key = await proxy.file(
        project,
        matched["sha256"],
        matched["filename"],
        metadata=matched["metadata"] is not None,
        stream=whole,
        head=request.method == "HEAD",
    )
    headers = {
        "Cache-Control": IMMUTABLE,
        "Access-Control-Allow-Origin": "*",
        "Content-Disposition": content_disposition(matched["filename"]),
    }
    if isinstance(key, Filling):  # a HEAD while the file arrives: its listed size, no bytes
        headers["Content-Length"] = str(key.size)
        headers["Accept-Ranges"] = "bytes"
        return Response(b"", media_type=media_type(matched["filename"]), headers=headers)
    if isinstance(key, tuple):  # a large file still arriving: streamed as it is checked
        filling, handle = key
        if filling.size is not None:
            headers["Content-Length"] = str(filling.size)
        return StreamingResponse(
            filling.chunks(handle), media_type=media_type(matched["filename"]), headers=headers
        )
    found = await run_in_threadpool(_locate, request, key, private=False)
    response = _send(request, key, found)
    if isinstance(response, FileResponse):
        # A cold install takes all its files at once: Starlette's 64 KiB reads each cost a
        # worker-thread round trip, 11% of the proxy's GIL time in a cold `uv pip install`.
        response.chunk_size = UPSTREAM_READ_CHUNK
    return response


def _send(request: Request, path: str, found: tuple[str, bool] | Streamed) -> Response:
    """The response for a located file: streamed, redirected, handed to nginx, or sent."""
    if isinstance(found, Streamed):
        return _streamed(path, found)
    target, redirect = found
    if redirect:
        # The URL expires: the redirect itself must not be cached, the object it leads to may.
        return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})
    accel = context_of(request).settings.accel_redirect
    if accel and _ACCEL_SAFE.fullmatch(path):
        return _accel_redirect(accel + path, path)
    return FileResponse(
        target,
        media_type=media_type(path),
        headers={
            "Cache-Control": IMMUTABLE,
            "Access-Control-Allow-Origin": "*",
            "Content-Disposition": content_disposition(path.rsplit("/", 1)[-1]),
        },
    )


def _accel_redirect(location: str, path: str) -> Response:
    """Hand the file to nginx. nginx keeps Content-Type, Content-Disposition and Cache-Control
    from this answer and adds Content-Length, Last-Modified, ETag and Accept-Ranges itself."""
    filename = path.rsplit("/", 1)[-1]
    headers = {
        "X-Accel-Redirect": location,
        "Cache-Control": IMMUTABLE,
        "Access-Control-Allow-Origin": "*",
        "Content-Disposition": content_disposition(filename),
    }
    return Response(b"", media_type=media_type(path), headers=headers)


# Under ``/files``; no upload's path begins with ``upstream/`` (blake2 hex directories).
routes = [
    Route("/upstream/{rest:path}", serve_upstream_file, methods=["GET", "HEAD"]),
    Route("/{path:path}", serve_file, methods=["GET", "HEAD"]),
]
