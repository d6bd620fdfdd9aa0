"""Rendered simple-API pages, cached per project until its serial moves.

Rendering a 500-file page costs milliseconds; checking a serial costs one indexed read. The
cache is per process and keyed by serial, so a change made by another process (the admin CLI,
another instance on the same database) is seen on the very next request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import quote

from trustyard.index import simple_render
from trustyard.index.db.engine import Database
from trustyard.index.negotiation import V1_JSON
from trustyard.index.services import catalogue
from trustyard.index.services.catalogue import FileView
from trustyard.index.services.journal import last_serial


@dataclass(frozen=True)
class Page:
    """A rendered page with its validator."""

    body: bytes
    etag: str
    serial: int


def _page(body: bytes, serial: int) -> Page:
    return Page(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"', serial=serial)


def file_path_url(path: str) -> str:
    """The site-relative URL path of a stored file."""
    return "/files/" + quote(path)


class SimplePages:
    """Produces simple-API pages, re-rendering only when the catalogue changed."""

    def __init__(self, db: Database, base_url: str | None) -> None:
        self._db = db
        self._base_url = base_url.rstrip("/") if base_url else None
        self._projects: dict[tuple[str, str], Page] = {}
        self._index: dict[str, Page] = {}

    def file_url(self, file: FileView) -> str:
        """Absolute when the public URL is configured, else relative to /simple/<name>/."""
        if self._base_url:
            return self._base_url + file_path_url(file.path)
        return "../.." + file_path_url(file.path)

    def project(self, normalized_name: str, media: str) -> Page | None:
        """The project's page in ``media`` (HTML or PEP 691 JSON), or None if unknown."""
        key = (normalized_name, media)
        with self._db.read() as session:
            serial = catalogue.project_serial(session, normalized_name)
            if serial is None:
                self._projects.pop(key, None)
                return None
            cached = self._projects.get(key)
            if cached is not None and cached.serial == serial:
                return cached
            view = catalogue.project_detail(session, normalized_name)
        if view is None:
            return None
        render = simple_render.project_json if media == V1_JSON else simple_render.project_html
        page = _page(render(view, self.file_url), view.last_serial)
        self._projects[key] = page
        return page

    def index(self, media: str) -> Page:
        """The list of every project."""
        with self._db.read() as session:
            serial = last_serial(session)
            cached = self._index.get(media)
            if cached is not None and cached.serial == serial:
                return cached
            projects = catalogue.list_projects(session)
        render = simple_render.index_json if media == V1_JSON else simple_render.index_html
        page = _page(render(projects, serial), serial)
        self._index[media] = page
        return page
