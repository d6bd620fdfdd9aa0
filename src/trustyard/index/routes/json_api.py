"""PyPI's JSON API: ``/pypi/<project>/json`` and ``/pypi/<project>/<version>/json``.

Shapes follow warehouse ``legacy/api/json.py``: ``info``, ``last_serial``, ``releases`` (project
endpoint only), ``urls`` (files of the shown version), ``vulnerabilities``. One addition:
``project-status``, PEP 792's object exactly as the simple API's JSON has it (PyPI's JSON API
shows no status and answers 404 for a quarantined project; here the project is shown with its
status and reason, and no file at all).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from trustyard.dists.names import is_valid_project_name, normalize_name
from trustyard.errors import NotFound
from trustyard.index.context import context_of
from trustyard.index.origin import request_origin
from trustyard.index.project_status import status_json
from trustyard.index.read_gate import readable_project, reader_of
from trustyard.index.services import catalogue
from trustyard.index.services.catalogue import FileView, ProjectView, ReleaseView
from trustyard.index.services.simple_pages import file_path_url
from trustyard.index.upstream import json_api as upstream_json
from trustyard.index.upstream.lookup import upstream_for


def _base(request: Request) -> str:
    """The origin file and project URLs start with: ``--base-url``, else the request's, with
    the same ``Host`` check as the simple pages (a ``Host`` that is no host name and port is
    never echoed into a URL)."""
    return request_origin(request, context_of(request).settings.base_url)


def _file_json(file: FileView, base: str) -> dict[str, Any]:
    return {
        "comment_text": file.comment or "",
        "digests": {"blake2b_256": file.blake2_256, "md5": file.md5, "sha256": file.sha256},
        "downloads": -1,
        "filename": file.filename,
        "has_sig": False,
        "md5_digest": file.md5,
        "packagetype": file.filetype,
        "python_version": file.python_version,
        "requires_python": file.requires_python,
        "size": file.size,
        "upload_time": file.upload_time.strftime("%Y-%m-%dT%H:%M:%S"),
        "upload_time_iso_8601": file.upload_time.isoformat() + "Z",
        "url": base + file_path_url(file.path),
        "yanked": file.yanked,
        "yanked_reason": file.yanked_reason or None,
    }


def latest_release(project: ProjectView) -> ReleaseView | None:
    """PyPI's choice for ``info``: newest non-yanked final release, else the newest release."""
    for candidates in (
        [r for r in project.releases if not r.yanked and not r.is_prerelease],
        [r for r in project.releases if not r.yanked],
        list(project.releases),
    ):
        if candidates:
            return candidates[-1]
    return None


def _info(project: ProjectView, release: ReleaseView, base: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "bugtrack_url": None,
        "docs_url": None,
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
    }
    info.update(release.core_metadata)
    info.update(
        {
            "name": project.name,
            "version": release.version,
            "package_url": f"{base}/project/{project.name}/",
            "project_url": f"{base}/project/{project.name}/",
            "release_url": f"{base}/project/{project.name}/{release.version}/",
            "yanked": release.yanked,
            "yanked_reason": release.yanked_reason or None,
        }
    )
    return dict(sorted(info.items()))


def _load(request: Request, name: str) -> ProjectView:
    if not is_valid_project_name(name):
        raise NotFound("Not Found")
    ctx = context_of(request)
    with ctx.db.read() as session:
        readable_project(session, normalize_name(name), reader_of(request))
        project = catalogue.project_detail(session, normalize_name(name))
    if project is None:
        raise NotFound("Not Found")
    return project


def _status(project: ProjectView) -> dict[str, Any]:
    return status_json(project.status.status.value, project.status.reason)


def _headers(project: ProjectView) -> dict[str, str]:
    return {"X-PyPI-Last-Serial": str(project.last_serial), "Access-Control-Allow-Origin": "*"}


async def _upstream_answer(request: Request, name: str, version: str | None) -> Response | None:
    """The upstream project's document when the name is not local (issue 17), else None."""
    if not is_valid_project_name(name):
        return None
    normalized = normalize_name(name)
    proxy = await upstream_for(context_of(request), normalized)
    if proxy is None:
        return None
    if name != normalized:
        tail = f"{version}/json" if version is not None else "json"
        return RedirectResponse(f"/pypi/{normalized}/{tail}", status_code=301)
    body = await upstream_json.project_json(proxy, normalized, _base(request), version)
    if body is None:
        raise NotFound("Not Found")
    headers = {
        "X-PyPI-Last-Serial": str(body.get("last_serial", 0)),
        "Access-Control-Allow-Origin": "*",
    }
    return JSONResponse(body, headers=headers)


async def project_json(request: Request) -> Response:
    """Every release of a project, ``info`` for the latest."""
    name: str = request.path_params["name"]
    upstream = await _upstream_answer(request, name, None)
    if upstream is not None:
        return upstream
    project = await run_in_threadpool(_load, request, name)
    if name != project.name:
        return RedirectResponse(f"/pypi/{project.name}/json", status_code=301)
    base = _base(request)
    release = latest_release(project)
    if release is None:
        raise NotFound("Not Found")
    body = {
        "info": _info(project, release, base),
        "last_serial": project.last_serial,
        "project-status": _status(project),
        "releases": {r.version: [_file_json(f, base) for f in r.files] for r in project.releases},
        "urls": [_file_json(f, base) for f in release.files],
        "vulnerabilities": [],
    }
    return JSONResponse(body, headers=_headers(project))


async def release_json(request: Request) -> Response:
    """One release of a project."""
    name: str = request.path_params["name"]
    version: str = request.path_params["version"]
    upstream = await _upstream_answer(request, name, version)
    if upstream is not None:
        return upstream
    project = await run_in_threadpool(_load, request, name)
    release = project.release(version)
    if release is None:
        raise NotFound("Not Found")
    if name != project.name or version != release.version:
        return RedirectResponse(f"/pypi/{project.name}/{release.version}/json", status_code=301)
    base = _base(request)
    body = {
        "info": _info(project, release, base),
        "last_serial": project.last_serial,
        "project-status": _status(project),
        "urls": [_file_json(f, base) for f in release.files],
        "vulnerabilities": [],
    }
    return JSONResponse(body, headers=_headers(project))


# Under the ``/pypi`` mount.
routes = [
    Route("/{name}/json", project_json, methods=["GET", "HEAD"]),
    Route("/{name}/{version}/json", release_json, methods=["GET", "HEAD"]),
]
