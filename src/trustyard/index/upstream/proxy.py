"""The pull-through cache: upstream project pages and files, fetched on demand, kept in the
catalogue and the file store, served from there afterwards (issue 17).

Pages: kept for ``upstream_ttl`` seconds, then revalidated with ``If-None-Match`` (RFC 9110
13.1.2); the catalogue row is shared by every instance, and each process keeps the parsed
listing and its rendered pages in memory until the row's age reaches the TTL. When the
upstream is down or slow, a cached page is served however old it is; a name never fetched
answers 503 (or 502 for a broken answer), never 404.

Files and PEP 658 metadata: fetched on first request into a spool file, hashed as they
arrive, compared with the sha256 the upstream listed, and only then placed in the store
(content-addressed: a second instance's write of the same key is a no-op) and served from
there, ranges included. A mismatch is refused, journalled and not cached. Concurrent first
requests for one file share one fetch (:class:`SingleFlight`, per process).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio

from trustyard.errors import Error, NotFound
from trustyard.index import metrics
from trustyard.index.db.engine import Database
from trustyard.index.policy.rules import PolicyState
from trustyard.index.services import policy as policy_state
from trustyard.index.services import upstream as cache
from trustyard.index.services.accounts import utcnow
from trustyard.index.services.provenance import AttestationTrust
from trustyard.index.services.simple_pages import Page, make_page
from trustyard.index.storage.base import Storage
from trustyard.index.upstream import listing as policy
from trustyard.index.upstream.client import CHUNK, UpstreamClient
from trustyard.index.upstream.continuity import Continuity
from trustyard.index.upstream.errors import StreamCut, UpstreamBroken
from trustyard.index.upstream.pages import ListedFile, Listing, parse_page
from trustyard.index.upstream.writeback import WriteBehind
from trustyard.settings import Settings

T = TypeVar("T")
MAX_LISTINGS = 4096  # parsed listings kept in memory per process (the oldest dropped)
STALE_RETRY = 30.0  # seconds before a failed revalidation is tried again
MAX_METADATA_BYTES = 16 * 1024 * 1024
FLUSH_EVERY = 30.0  # seconds between flushes of this process's counters
STREAM_OVER = 4 * 1024 * 1024  # listed sizes from which a first download is streamed


class SingleFlight:
    """One running task per key; every caller of the same key awaits that task. A caller
    that goes away (a client disconnecting) does not cancel the task the others await."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    async def run(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        """The result of ``make()``, started only if no task for ``key`` is running."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(make())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        result: T = await asyncio.shield(task)
        return result

    def _finished(self, key: Hashable, task: asyncio.Future[Any]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved, so an error nobody awaited is not logged as lost

    def __len__(self) -> int:
        return len(self._running)


@dataclass
class Filling:
    """A file being fetched into ``spool``: how much has arrived, and how it ended.

    A large file is streamed to its first requesters as it arrives (clients' read timeouts
    would otherwise expire before the first byte): :meth:`chunks` sends what has arrived but
    always holds back the last byte until the whole file matched its listed sha256, so a
    client never receives a complete body that failed the check (a mismatch cuts the
    connection instead).
    """

    spool: Path
    size: int | None
    written: int = 0
    finished: bool = False
    error: BaseException | None = None
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    def advance(self, written: int) -> None:
        """More bytes are in the spool."""
        self.written = written
        self._wake()

    def finish(self, error: BaseException | None) -> None:
        """The fetch ended: verified and stored (``error`` None), or refused."""
        self.finished, self.error = True, error
        self._wake()

    def _wake(self) -> None:
        event, self.progress = self.progress, asyncio.Event()
        event.set()

    async def wait(self) -> None:
        """Until the fetch ended; raises its error."""
        while not self.finished:
            await self.progress.wait()
        if self.error is not None:
            raise self.error

    async def chunks(self, handle: Any) -> AsyncIterator[bytes]:
        """The bytes of the open spool ``handle`` as they arrive, the last one only once
        verified."""
        sent = 0
        try:
            while True:
                event = self.progress
                done, written = self.finished, self.written
                if done and self.error is not None:
                    raise StreamCut(str(self.error)) from self.error
                limit = written if done else written - 1
                while sent < limit:
                    chunk = await anyio.to_thread.run_sync(handle.read, min(CHUNK, limit - sent))
                    if not chunk:
                        break
                    sent += len(chunk)
                    yield chunk
                if done:
                    return
                await event.wait()
        finally:
            await anyio.to_thread.run_sync(handle.close)


@dataclass
class _Entry:
    """A listing in memory, good until ``expires`` (monotonic), with its rendered pages."""

    listing: Listing | None  # None: the upstream has no such project
    expires: float
    # (media, origin) -> the policy state it was rendered under, until when it holds (the
    # first moment a file comes of age or an exception expires; None: not by the clock), page
    pages: dict[tuple[str, str], tuple[tuple[object, ...], datetime | None, Page]] = field(
        default_factory=dict
    )


class UpstreamProxy:
    """The upstream's projects and files as this index serves them."""

    def __init__(
        self, settings: Settings, db: Database, storage: Storage, client: UpstreamClient
    ) -> None:
        self.settings = settings
        self.db = db
        self.storage = storage
        self.client = client
        self.flights = SingleFlight()
        self._listings: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._present: set[str] = set()
        self.writes = WriteBehind(db)
        self._filling: dict[tuple[str, bool], Filling] = {}
        self._tasks: set[asyncio.Future[None]] = set()  # running fills (kept referenced)
        self._counts: Counter[str] = Counter()
        self._flushed = time.monotonic()
        # The policy gate (issue 18): its state as last read (monotonic time of the read),
        # and the clock its decisions use (tests inject one; naive UTC as the catalogue's).
        self._policy: tuple[float, PolicyState] | None = None
        self.clock: Callable[[], datetime] = utcnow
        self._generation: int | None = None  # the cache generation this memory belongs to
        self._checked = float("-inf")  # when it was last compared with the catalogue's
        self._checking = False
        self.continuity = Continuity(
            db, AttestationTrust(settings.sigstore_trust_config), self._provenance_of
        )
        # The upstream's JSON API documents (``json_api``): URL -> (expires, document).
        self.documents: OrderedDict[str, tuple[float, dict[str, Any] | None]] = OrderedDict()

    @property
    def upstream_url(self) -> str:
        """The upstream's base URL (shown to people: errors, the web UI)."""
        return self.client.base_url

    # -- counters ---------------------------------------------------------------------------

    def count(self, name: str) -> None:
        """Count one event; flushed to the catalogue now and then (see :meth:`flush`)."""
        with self._lock:
            self._counts[name] += 1
        metrics.upstream_event(name)

    async def maybe_flush(self) -> None:
        """Flush the counters if the last flush is ``FLUSH_EVERY`` seconds old."""
        if time.monotonic() - self._flushed >= FLUSH_EVERY:
            await anyio.to_thread.run_sync(self.flush)

    def flush(self) -> None:
        """Add this process's counts to the shared counters (blocking: a worker thread)."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            self._flushed = time.monotonic()
        if counts:
            with self.db.write(durable=False) as session:
                cache.add_counts(session, counts)

    # -- policy -----------------------------------------------------------------------------

    async def policy(self) -> PolicyState:
        """The gate's state (cooldown, cut-off, exceptions), read from the catalogue at most
        ``STATE_TTL`` seconds ago: a change by any instance or the CLI applies everywhere
        within that bound."""
        kept = self._policy
        if kept is not None and time.monotonic() - kept[0] < policy_state.STATE_TTL:
            return kept[1]
        state = await anyio.to_thread.run_sync(self._read_policy)
        self._policy = (time.monotonic(), state)
        return state

    def _read_policy(self) -> PolicyState:
        with self.db.read() as session:
            return policy_state.load_state(session, self.clock())

    def forget_policy(self) -> None:
        """Read the state again on next use (after this process changed it)."""
        self._policy = None

    # -- pages ------------------------------------------------------------------------------

    def _remember(self, name: str, entry: _Entry) -> _Entry:
        with self._lock:
            before = len(self._listings)
            self._listings[name] = entry
            self._listings.move_to_end(name)
            while len(self._listings) > MAX_LISTINGS:
                self._listings.popitem(last=False)
            metrics.page_cache_resized("upstream", len(self._listings) - before)
        return entry

    def _fresh(self, name: str) -> _Entry | None:
        with self._lock:
            entry = self._listings.get(name)
        return entry if entry is not None and entry.expires > time.monotonic() else None

    def forget(self, name: str) -> None:
        """Drop the in-memory copy (after ``upstream refresh`` or a purge)."""
        with self._lock:
            if self._listings.pop(name, None) is not None:
                metrics.page_cache_resized("upstream", -1)

    def forget_all(self) -> None:
        """Drop every listing, rendered page, JSON document and known-present file key."""
        with self._lock:
            metrics.page_cache_resized("upstream", -len(self._listings))
            self._listings.clear()
            self._present.clear()
            self.documents.clear()

    def _read_generation(self) -> int:
        with self.db.read() as session:
            return cache.generation(session)

    async def follow_generation(self) -> None:
        """Drop this process's memory of the cache once a purge or refresh (by any process,
        the CLI's included) moved the catalogue's generation: memory is otherwise trusted
        until the TTL, so without this a purged page lived on in every running server. One
        read every ``upstream_recheck`` seconds bounds how long that lasts."""
        if self._checking or time.monotonic() - self._checked < self.settings.upstream_recheck:
            return
        self._checking = True
        try:
            generation = await anyio.to_thread.run_sync(self._read_generation)
        finally:
            self._checking = False
            self._checked = time.monotonic()
        if self._generation is not None and generation != self._generation:
            self.forget_all()
        self._generation = generation

    async def listing(self, normalized_name: str) -> Listing | None:
        """The upstream's listing of ``normalized_name`` (None: the upstream has no such
        project), from memory, the catalogue, or the upstream, in that order."""
        await self.follow_generation()
        entry = self._fresh(normalized_name)
        if entry is not None:
            self.count("page_hits")
            return entry.listing
        entry = await self.flights.run(
            ("page", normalized_name), lambda: self._load(normalized_name)
        )
        await self.maybe_flush()
        return entry.listing

    def _expiry(self, age: float) -> float:
        return time.monotonic() + max(self.settings.upstream_ttl - age, 0.0)

    async def _entry_of(self, page: cache.CachedPage, expires: float) -> _Entry:
        """The entry for a page read from the catalogue."""
        # Parsing, rendering and (de)serialising listings of thousands of files is CPU work:
        # in a worker thread, never on the event loop.
        listing = None
        if page.found and page.document:
            listing = await anyio.to_thread.run_sync(Listing.from_document, page.document)
        return await self._entry(page.normalized_name, listing, expires)

    async def _entry(self, name: str, listing: Listing | None, expires: float) -> _Entry:
        """The entry for a listing (None: no such project), remembered."""
        if listing is not None:
            listing = await self.continuity.apply(name, listing)
        return self._remember(name, _Entry(listing, expires))

    async def _load(self, name: str, *, force: bool = False) -> _Entry:
        cached = await anyio.to_thread.run_sync(self._read_page, name)
        if cached is not None and not force:
            age = (utcnow() - cached.fetched).total_seconds()
            if age < self.settings.upstream_ttl:
                self.count("page_hits")  # another instance (or an earlier run) fetched it
                return await self._entry_of(cached, self._expiry(age))
        etag = cached.etag if cached is not None and cached.found and not force else None
        try:
            answer = await self.client.project_page(name, etag)
            listing = None
            if answer.status == 200:
                listing = await anyio.to_thread.run_sync(
                    parse_page, answer.body, answer.content_type, answer.url, name
                )
        except Error as exc:
            if cached is None:
                self.count("page_failures")
                raise
            # Outage: the cached page, however old, is served; asked again in a while.
            self.count("page_stale")
            await anyio.to_thread.run_sync(self._journal, f"upstream page stale: {exc}", name)
            return await self._entry_of(cached, time.monotonic() + STALE_RETRY)
        self.count("page_fetches")
        if answer.status == 304 and cached is not None:
            self.writes.submit(lambda session: cache.touch_page(session, name))
            return await self._entry_of(cached, self._expiry(0))
        if listing is None and (cached is None or not cached.found):
            # A name the upstream lacks costs no row and no journal entry: anyone may ask for
            # any number of names, so their absence is remembered in (bounded) memory only.
            return self._remember(name, _Entry(None, self._expiry(0)))
        # The answer is served from memory; the row (for other processes and restarts) is
        # written after it, with the listing's conversion to a document (writeback.py).
        reason = f"HTTP {answer.status} from {answer.url}"
        self.writes.submit(
            lambda session: self._store_page(session, name, listing, answer.etag, reason)
        )
        return await self._entry(name, listing, self._expiry(0))

    def _read_page(self, name: str) -> cache.CachedPage | None:
        with self.db.read() as session:
            return cache.cached_page(session, name)

    @staticmethod
    def _store_page(
        session: Any, name: str, listing: Listing | None, etag: str | None, reason: str
    ) -> None:
        document = listing.to_document() if listing is not None else None
        cache.store_page(
            session, name, found=document is not None, document=document, etag=etag, reason=reason
        )

    def _journal(self, action: str, name: str, filename: str | None = None) -> None:
        with self.db.write() as session:
            cache.journal(session, action, project=name, filename=filename)

    async def refresh(self, normalized_name: str) -> Listing | None:
        """Fetch the page anew, whatever the cache holds (``trustyard upstream refresh``);
        running servers drop their copies (the generation moves on)."""
        self.forget(normalized_name)
        entry = await self.flights.run(
            ("page", normalized_name), lambda: self._load(normalized_name, force=True)
        )
        await self.writes.settle()  # the new row first: others reread it once they see the bump
        await anyio.to_thread.run_sync(self._bump_generation)
        return entry.listing

    def _bump_generation(self) -> None:
        with self.db.write() as session:
            cache.bump_generation(session)

    async def aclose(self) -> None:
        """At the server's shutdown: flush the counters (else up to ``FLUSH_EVERY`` seconds
        of them are lost) and close the upstream's connection pool."""
        try:
            await self.writes.settle()
            await anyio.to_thread.run_sync(self.flush)
        finally:
            await self.client.aclose()

    async def page(
        self,
        normalized_name: str,
        media: str,
        origin: str,
        render: Callable[[Listing, tuple[ListedFile, ...]], bytes],
    ) -> Page | None:
        """The project's simple page in ``media`` (rendered once per listing, media and
        origin), or None when the upstream has no such project."""
        listing = await self.listing(normalized_name)
        if listing is None:
            return None
        entry = self._fresh(normalized_name) or self._listings.get(normalized_name)
        key = (media, "" if self.settings.base_url else origin)
        state = await self.policy()
        now = self.clock()
        if entry is not None and entry.listing is listing and key in entry.pages:
            rendered_under, until, kept = entry.pages[key]
            if rendered_under == state.key() and (until is None or now < until):
                metrics.page_cache_lookup("upstream", hit=True)
                return kept
        metrics.page_cache_lookup("upstream", hit=False)
        gated = await anyio.to_thread.run_sync(policy.gate, listing, state, now)

        def make() -> Page:
            return make_page(render(listing, gated.files), listing.last_serial or 0)

        page = await anyio.to_thread.run_sync(make)
        if entry is not None and entry.listing is listing:
            entry.pages[key] = (state.key(), gated.changes_at, page)
        return page

    # -- files ------------------------------------------------------------------------------

    async def servable(self, project: str, sha256: str, filename: str) -> ListedFile:
        """The listed file clients may fetch under this URL, 403 when the policy holds it
        back (with the reason), or 404."""
        listing = await self.listing(project)
        state = await self.policy()
        listed = (
            policy.servable(listing, sha256, filename, state, self.clock())
            if listing is not None
            else None
        )
        if listed is None:
            raise NotFound(f"no upstream file {filename} with sha256 {sha256} in {project}")
        return listed

    async def file(
        self,
        project: str,
        sha256: str,
        filename: str,
        *,
        metadata: bool,
        stream: bool = False,
        head: bool = False,
    ) -> str | tuple[Filling, Any] | Filling:
        """The store key of the upstream file (or its PEP 658 metadata), fetched and checked
        first if it is not stored yet; or, with ``stream`` (a whole-file GET) for a large file
        still arriving, the fetch and an open handle on its spool to stream from
        (:meth:`Filling.chunks`); or, with ``head`` (a HEAD) for a file not stored yet whose
        size is listed, the fetch just started, so the HEAD is answered from the listing
        without waiting for bytes it does not carry (uv sends a HEAD before reading a wheel's
        metadata with ranges, which then wait for the checked file). The listing decides
        whether it may be served at all: a file the upstream no longer lists is not served
        from the cache either, unless the upstream cannot be asked (an outage). One fetch per
        file per process, however many ask."""
        # The row, not this process's memory, says whether the file is stored: a purge by
        # another process (the CLI) removes rows and bytes together.
        key = cache.file_key(sha256, filename) + (".metadata" if metadata else "")
        if await self._recorded(project, sha256, filename, metadata=metadata):
            try:
                await self.servable(project, sha256, filename)
            except Error as exc:
                if exc.status < 500:
                    raise
            if await self._is_present(key):
                self.count("file_hits")
                await self.maybe_flush()
                return key
        listed = await self.servable(project, sha256, filename)
        if metadata and listed.metadata_sha256 is None:
            raise NotFound(f"no core metadata is listed for {filename}")
        if (
            (sha256, metadata) not in self._filling
            and await self._recorded(project, sha256, filename, metadata=metadata)
            and await self._is_present(key)
        ):
            # A fetch that ended after the first read: its flight is dropped only once its row
            # is written (writeback), so with no flight running the row is read again rather
            # than the file fetched twice.
            self.count("file_hits")
            return key
        filling = self._start_fill(project, listed, metadata=metadata)
        if head and not metadata and listed.size is not None and not filling.finished:
            return filling
        if stream and not metadata and (listed.size or 0) >= STREAM_OVER and not filling.finished:
            try:
                return filling, filling.spool.open("rb")
            except FileNotFoundError:
                pass  # already moved into the store: served from there
        await filling.wait()
        return key

    def _start_fill(self, project: str, listed: ListedFile, *, metadata: bool) -> Filling:
        """The running fetch of this file, started if there is none (the single flight)."""
        flight = (listed.sha256, metadata)
        filling = self._filling.get(flight)
        if filling is not None:
            return filling
        fd, spool_name = self.storage.spool_file()
        os.close(fd)
        filling = Filling(Path(spool_name), None if metadata else listed.size)
        self._filling[flight] = filling

        def forget() -> None:
            if self._filling.get(flight) is filling:
                del self._filling[flight]

        async def fill() -> None:
            try:
                await self._fill(project, listed, metadata=metadata, filling=filling)
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter
                filling.finish(exc)
                forget()
                return
            # Verified and stored: served from the store at once. The flight stays until the
            # row is written, so a request meanwhile joins it rather than fetching again.
            filling.finish(None)
            self.writes.submit(
                lambda session: self._record(session, project, listed, filling.written, metadata),
                forget,
            )

        task = asyncio.ensure_future(fill())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return filling

    async def _recorded(self, project: str, sha256: str, filename: str, *, metadata: bool) -> bool:
        """Whether the catalogue records the file (or its metadata) as stored, for this
        project and filename."""
        row = await anyio.to_thread.run_sync(self._read_file, sha256)
        if row is None or row.filename != filename or row.project != project:
            return False
        return (row.metadata_stored if metadata else row.stored) is not None

    def _read_file(self, sha256: str) -> cache.CachedFile | None:
        with self.db.read() as session:
            return cache.cached_file(session, sha256)

    async def _is_present(self, key: str) -> bool:
        if key in self._present:
            return True
        local = self.storage.local_path(key)
        if local is not None:
            present = await anyio.to_thread.run_sync(local.is_file)
        else:
            present = await anyio.to_thread.run_sync(self.storage.exists, key)
        if present:
            self._present.add(key)
        return present

    async def _fill(
        self, project: str, listed: ListedFile, *, metadata: bool, filling: Filling
    ) -> str:
        """Fetch, check and store the file; its store key."""
        url = listed.url + ".metadata" if metadata else listed.url
        expected = listed.metadata_sha256 if metadata else listed.sha256
        if metadata:
            limit = MAX_METADATA_BYTES
        else:
            limit = listed.size if listed.size is not None else self.settings.max_project_size
        spool = filling.spool
        what = "core metadata of " if metadata else ""
        try:
            try:
                got = await self.client.download(
                    url, spool, max_bytes=limit, on_progress=filling.advance
                )
            except UpstreamBroken as exc:
                await anyio.to_thread.run_sync(
                    self._journal, f"upstream file refused: {exc}", project, listed.filename
                )
                raise
            self.count("file_fetches")
            if got.sha256 != expected:
                self.count("file_refused")
                reason = (
                    f"upstream file refused: sha256 {got.sha256} of {url} does not match the"
                    f" listed {expected}; not served, not cached"
                )
                await anyio.to_thread.run_sync(self._journal, reason, project, listed.filename)
                raise UpstreamBroken(
                    f"the upstream's bytes for {what}{listed.filename} do not match the sha256"
                    " it listed: refused, not cached"
                )
            key = cache.file_key(listed.sha256, listed.filename) + (".metadata" if metadata else "")
            await anyio.to_thread.run_sync(self.storage.put, key, spool)
            self._present.add(key)
            filling.written = got.size
            return key
        finally:
            with contextlib.suppress(FileNotFoundError):
                await anyio.to_thread.run_sync(spool.unlink)

    @staticmethod
    def _record(session: Any, project: str, listed: ListedFile, size: int, metadata: bool) -> None:
        cache.record_file(
            session,
            sha256=listed.sha256,
            project=project,
            filename=listed.filename,
            url=listed.url,
            metadata_sha256=listed.metadata_sha256,
            size=None if metadata else size,
            metadata=metadata,
        )

    # -- provenance -------------------------------------------------------------------------

    async def provenance(self, project: str, filename: str) -> tuple[str, dict[str, Any] | None]:
        """PEP 740: the upstream's provenance object of a listed file (kept once fetched, so
        an outage does not hide it), or None when the upstream lists none."""
        listing = await self.listing(project)
        state = await self.policy()
        listed = (
            policy.by_filename(listing, filename, state, self.clock())
            if listing is not None
            else None
        )
        if listed is None:
            raise NotFound(f"no upstream file {filename} in {project}")
        return filename, await self._provenance_of(project, listed)

    async def _provenance_of(self, project: str, listed: ListedFile) -> dict[str, Any] | None:
        """The upstream's provenance object of ``listed`` (None: it lists none), fetched once
        and kept (the Integrity API proxy and the continuity check share it)."""
        if listed.provenance is None:
            return None
        row = await anyio.to_thread.run_sync(self._read_file, listed.sha256)
        if row is not None and row.provenance is not None:
            return row.provenance
        document = await self.client.get_json(listed.provenance)
        if document is not None:
            await anyio.to_thread.run_sync(self._record_provenance, project, listed, document)
        return document

    def _record_provenance(
        self, project: str, listed: ListedFile, document: dict[str, Any]
    ) -> None:
        with self.db.write() as session:
            cache.record_file(
                session,
                sha256=listed.sha256,
                project=project,
                filename=listed.filename,
                url=listed.url,
                metadata_sha256=listed.metadata_sha256,
                provenance=document,
            )
