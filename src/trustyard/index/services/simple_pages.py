"""Rendered simple-API pages, cached per project until its serial moves.

Rendering a 500-file page costs milliseconds; checking a serial costs one indexed read, and on
SQLite even that is skipped while the database's change counter stands still. A change made by
another process (the admin CLI, another instance on the same database) is therefore seen on the
very next request.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy import bindparam, select

from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.index import metrics, simple_render
from trustyard.index.db.changes import ChangeProbe
from trustyard.index.db.engine import Database
from trustyard.index.db.models import JournalEntry, Project
from trustyard.index.services import catalogue
from trustyard.index.services.catalogue import FileView

_PROJECT_SERIAL = select(Project.last_serial).where(Project.normalized_name == bindparam("name"))
_GLOBAL_SERIAL = select(JournalEntry.id).order_by(JournalEntry.id.desc()).limit(1)
MAX_CACHED_PAGES = 2048  # the oldest page is dropped beyond this
# Pages smaller than this are sent as they are: gzip's header and a round of inflating cost
# more than the bytes they would save.
GZIP_MIN_SIZE = 1024
INDEX_KEY = "\x00index"  # cache key of the project list (no project name contains NUL)


@dataclass(frozen=True)
class Page:
    """A rendered page with its validator, and its gzip form made once beside it.

    Each form has its own strong validator (RFC 9110 8.8.3: a strong ETag differs between
    content codings), a digest of the bytes sent, so two instances rendering the same page
    give the same ETags and a client revalidates against either.
    """

    body: bytes
    etag: str
    serial: int
    # The page of a private project (issue 20): its reader's right is checked before it is sent.
    private: bool = False
    gzipped: bytes | None = None  # RFC 9110 8.4.1.3 ``gzip``; None for a small page
    gzip_etag: str | None = None
    # Response heads built from this page (trustyard.index.simple_answer), per variant.
    heads: dict[tuple[object, ...], Sequence[tuple[bytes, bytes]]] = field(
        default_factory=dict, compare=False, repr=False
    )


@dataclass
class CacheEntry:
    page: Page
    checked_at: int | None  # the change token at which the page was last known current


class PageCache:
    """The cached pages, oldest first, at most ``limit`` of them (the oldest is dropped).

    Pages are rendered in worker threads and looked up on the event loop, so every step holds
    a lock: dropping the oldest iterates the dict, which an insert from another thread would
    break ("dictionary changed size during iteration"). The lock guards dict operations only,
    never I/O or rendering, so the event loop never waits on it for long.
    """

    def __init__(self, limit: int = MAX_CACHED_PAGES) -> None:
        self._limit = limit
        self._entries: dict[tuple[str, str, str], CacheEntry] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> CacheEntry | None:
        """The entry under ``key``, if any."""
        with self._lock:
            return self._entries.get(key)

    def put(self, key: tuple[str, str, str], entry: CacheEntry) -> None:
        """Remember ``entry`` under ``key``, dropping the oldest entries beyond the limit."""
        with self._lock:
            before = len(self._entries)
            self._entries[key] = entry
            while len(self._entries) > self._limit:
                del self._entries[next(iter(self._entries))]
            metrics.page_cache_resized("simple", len(self._entries) - before)

    def discard(self, key: tuple[str, str, str]) -> None:
        """Forget ``key`` (its project is gone)."""
        with self._lock:
            if self._entries.pop(key, None) is not None:
                metrics.page_cache_resized("simple", -1)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def make_page(body: bytes, serial: int, *, private: bool = False) -> Page:
    """A page, its gzip form (``mtime=0``: the same bytes on every instance) and their
    validators. Called where pages are rendered, in a worker thread: compressing a 500-file
    page takes a few milliseconds, once per change, never on the event loop."""
    gzipped = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_SIZE else None
    return Page(
        body=body,
        etag=_etag(body),
        serial=serial,
        private=private,
        gzipped=gzipped,
        gzip_etag=_etag(gzipped) if gzipped is not None else None,
    )


def index_key(hidden: frozenset[int]) -> str:
    """The cache key of the project list without the ``hidden`` projects (issue 20: readers
    who may read the same private projects share one page)."""
    return INDEX_KEY + ",".join(map(str, sorted(hidden)))


def file_path_url(path: str) -> str:
    """The site-relative URL path of a stored file."""
    return "/files/" + quote(path)


def integrity_path(normalized_name: str, version: str, filename: str) -> str:
    """The site-relative path of a file's provenance (warehouse ``integrity.provenance``)."""
    return (
        "/integrity/"
        + "/".join(quote(part, safe="") for part in (normalized_name, version, filename))
        + "/provenance"
    )


class SimplePages:
    """Produces simple-API pages, re-rendering only when the catalogue changed.

    A project page links each file's provenance by absolute URL, as PyPI does (pypi-simple 1.8
    accepts nothing else), from the origin the request named when ``--base-url`` is unset: so a
    page is cached per (project, media type, origin), and one client's ``Host`` never shows in
    another's page. File URLs stay relative to the page without ``--base-url`` (as before;
    pip, uv and pypi-simple resolve them against the page's URL), which keeps installs working
    behind a proxy that rewrites the scheme or host.
    """

    def __init__(self, db: Database, base_url: str | None) -> None:
        self._db = db
        self._base_url = base_url.rstrip("/") if base_url else None
        self._probe = ChangeProbe(db.engine)
        db.on_dispose(self._probe.close)
        self._pages = PageCache()
        # The token read in the running turn of an event loop, and that loop (change_token).
        self._turn_loop: asyncio.AbstractEventLoop | None = None
        self._turn_token: int | None = None

    def file_url(self, file: FileView) -> str:
        """Absolute when the public URL is configured, else relative to /simple/<name>/."""
        if self._base_url:
            return self._base_url + file_path_url(file.path)
        return "../.." + file_path_url(file.path)

    def provenance_url(self, origin: str, normalized_name: str, file: FileView) -> str:
        """The file's Integrity API URL (PEP 740), always absolute: under ``--base-url`` when
        set, else under ``origin``, the request's own (:func:`trustyard.index.origin`)."""
        path = integrity_path(normalized_name, file.version, file.filename)
        return (self._base_url or origin.rstrip("/")) + path

    def change_token(self) -> int | None:
        """The catalogue's change token (db/changes.py): equal for as long as nothing was
        committed; None when the database cannot tell now. Read it before what it vouches
        for (an answer kept under it is current while the token stays equal).

        On an event loop the token is read once per turn of the loop (a profile of cached
        pages at c=16 showed SQLite's ``PRAGMA data_version`` as the dearest step of a
        cached answer) and forgotten by a callback queued behind the requests of that turn.
        Still every request gets a token read after its bytes arrived: a loop reads sockets
        only between turns, so the requests answered in a turn all arrived before its first
        read, and a request read after that runs behind the callback that forgets it. A
        commit that finished before a request arrived is thus seen by that request, as
        before. Off the loop (worker threads, tests) every call reads the probe."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self._probe.token()
        if self._turn_loop is not loop:
            self._turn_token = self._probe.token()
            self._turn_loop = loop
            loop.call_soon(self._end_turn)
        return self._turn_token

    def _end_turn(self) -> None:
        self._turn_loop = None

    def cached(self, normalized_name: str, media: str, origin: str = "") -> Page | None:
        """The page if it is certainly current without asking the database (no I/O wait)."""
        entry = self._pages.get(self._key(normalized_name, media, origin))
        if entry is None or entry.checked_at is None or entry.checked_at != self.change_token():
            return None
        metrics.page_cache_lookup("simple", hit=True)
        return entry.page

    def _key(self, name: str, media: str, origin: str) -> tuple[str, str, str]:
        # Under --base-url every request gets the same page; the index page has no URLs.
        shared = self._base_url is not None or name.startswith(INDEX_KEY)
        return (name, media, "" if shared else origin.rstrip("/"))

    def project(self, normalized_name: str, media: str, origin: str) -> Page | None:
        """The project's page in ``media`` (HTML or PEP 691 JSON), or None if unknown;
        provenance links are under ``origin`` unless ``--base-url`` is set."""
        key = self._key(normalized_name, media, origin)
        token = self._probe.token()
        with self._db.engine.connect() as conn:
            serial = conn.execute(_PROJECT_SERIAL, {"name": normalized_name}).scalar()
        if serial is None:
            self._pages.discard(key)
            return None
        entry = self._pages.get(key)
        hit = entry is not None and entry.page.serial == serial
        metrics.page_cache_lookup("simple", hit=hit)
        if entry is not None and hit:
            entry.checked_at = token
            return entry.page
        with self._db.read() as session:
            view = catalogue.project_detail(session, normalized_name)
        if view is None:
            return None
        render = (
            simple_render.project_json if media == SIMPLE_V1_JSON else simple_render.project_html
        )
        page = make_page(
            render(
                view, self.file_url, functools.partial(self.provenance_url, origin, normalized_name)
            ),
            view.last_serial,
            private=view.private,
        )
        # The page reflects a read made after ``token`` was taken: valid from that token on.
        self._pages.put(key, CacheEntry(page, token))
        return page

    def index(self, media: str, hidden: frozenset[int] = frozenset()) -> Page:
        """The list of every project but the ``hidden`` ones."""
        key = self._key(index_key(hidden), media, "")
        token = self._probe.token()
        with self._db.read() as session:
            serial = session.scalar(_GLOBAL_SERIAL) or 0
            entry = self._pages.get(key)
            hit = entry is not None and entry.page.serial == serial
            metrics.page_cache_lookup("simple", hit=hit)
            if entry is not None and hit:
                entry.checked_at = token
                return entry.page
            projects = catalogue.list_projects(session, hidden)
        render = simple_render.index_json if media == SIMPLE_V1_JSON else simple_render.index_html
        page = make_page(render(projects, serial), serial)
        self._pages.put(key, CacheEntry(page, token))
        return page
