"""Publisher continuity for upstream projects (issue 18): trust on first use, or pinned.

For a project whose files carry PEP 740 provenance, the file of first sight is the newest
attested file when the project is first seen; files older than it are served unchecked (the
past cannot be re-decided), it and every later file are checked **once**: their provenance is
fetched from the upstream (kept in ``upstream_files``, as the Integrity API proxy keeps it),
verified offline (:func:`trustyard.attestations.continuity.verify_provenance`), and compared
with the project's identity: the first that verified (trust on first use) or an admin's pin.
A later file with no provenance, one that fails verification, or one naming another identity
is held (``file_verdicts``): hidden from listings, 403 on its URLs, until an admin decides.

Cost: checks run when a listing is loaded (once per TTL per process), never per page view;
each file is fetched and verified once in the whole deployment (the verdict is kept), at most
:data:`MAX_CHECKS_PER_LOAD` per load (the rest stay hidden as not yet checked until the next
load). An upstream that serves no provenance for a project makes the rule inert for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import anyio

from trustyard.attestations.continuity import describe, same_publisher, verify_provenance
from trustyard.attestations.trust import AttestationError
from trustyard.errors import Error
from trustyard.index.db.engine import Database
from trustyard.index.services import continuity as store
from trustyard.index.services.provenance import AttestationTrust
from trustyard.index.upstream.pages import ListedFile, Listing

MAX_CHECKS_PER_LOAD = 64
PARALLEL_CHECKS = 8  # provenance fetches in flight per listing load
NOT_YET_CHECKED = "not yet checked against the project's publisher (publisher continuity)"

Fetch = Callable[[str, ListedFile], Awaitable[dict[str, Any] | None]]


def _when(listed: ListedFile) -> datetime | None:
    if listed.upload_time is None:
        return None
    try:
        return datetime.fromisoformat(listed.upload_time.replace("Z", "+00:00"))
    except ValueError:
        return None


def _newest(files: list[tuple[int, ListedFile]]) -> tuple[int, ListedFile]:
    """The newest file by upload time (the listing's order breaks ties and fills gaps)."""
    return max(files, key=lambda pair: (_when(pair[1]) is not None, _when(pair[1]), pair[0]))


def _later(position: int, listed: ListedFile, base_position: int, base: ListedFile) -> bool:
    """Whether ``listed`` came at or after the file of first sight: by upload time when both
    have one, else by the listing's order (PEP 700 times are missing from HTML pages)."""
    mine, theirs = _when(listed), _when(base)
    if mine is not None and theirs is not None:
        return mine >= theirs
    return position >= base_position


class Continuity:
    """Applies the continuity rule to upstream listings (one per proxy)."""

    def __init__(self, db: Database, trust: AttestationTrust, fetch: Fetch) -> None:
        self.db = db
        self.trust = trust
        self.fetch = fetch  # an upstream file's provenance object (kept once fetched)

    async def apply(self, name: str, listing: Listing) -> Listing:
        """``listing`` (of the project whose normal form is ``name``) with its held files
        marked (``Listing.held``), checking the files not checked yet."""
        known = await anyio.to_thread.run_sync(self._known, name)
        positions = {f.sha256: i for i, f in enumerate(listing.files)}
        row = known.identity
        base_sha = row.baseline_sha256 if row is not None else None
        if base_sha is None or base_sha not in positions:
            attested = [(i, f) for i, f in enumerate(listing.files) if f.provenance is not None]
            if not attested:
                return _with_held(listing, known.hidden())  # inert: no provenance served
            _, first = _newest(attested)
            await anyio.to_thread.run_sync(self._first_sight, name, first)
            base_sha = first.sha256
        base = listing.files[positions[base_sha]]
        due = [
            f
            for i, f in enumerate(listing.files)
            if f.sha256 not in known.verdicts and _later(i, f, positions[base_sha], base)
        ]
        pending = {f.sha256: NOT_YET_CHECKED for f in due[MAX_CHECKS_PER_LOAD:]}
        limiter = anyio.CapacityLimiter(PARALLEL_CHECKS)

        async def check(listed: ListedFile) -> None:
            async with limiter:
                try:
                    await self._check(name, listed)
                except Error as exc:
                    # Not decided (the upstream is down, or answered oddly): hidden for now
                    # and checked again at the next load; fail closed.
                    pending[listed.sha256] = f"{NOT_YET_CHECKED}: {exc}"

        batch = due[:MAX_CHECKS_PER_LOAD]
        if base in batch:
            # The file of first sight goes first and alone: the identity it establishes is
            # the one every later file is compared with.
            await check(base)
            batch.remove(base)
        async with anyio.create_task_group() as group:
            for listed in batch:
                group.start_soon(check, listed)
        known = await anyio.to_thread.run_sync(self._known, name)
        return _with_held(listing, {**pending, **known.hidden()})

    def _known(self, name: str) -> store.Known:
        with self.db.read() as session:
            return store.known(session, store.UPSTREAM, name)

    def _first_sight(self, name: str, first: ListedFile) -> None:
        with self.db.write() as session:
            store.first_sight(
                session, name, baseline_sha256=first.sha256, baseline_time=first.upload_time
            )

    async def _check(self, name: str, listed: ListedFile) -> None:
        """Decide one file (fetching its provenance once) and store the verdict."""
        if listed.provenance is None:
            await anyio.to_thread.run_sync(
                self._decide, name, listed, None, None, "it has no provenance (PEP 740)"
            )
            return
        document = await self.fetch(name, listed)
        if document is None:
            await anyio.to_thread.run_sync(
                self._decide, name, listed, None, None, "the upstream served no provenance for it"
            )
            return
        await anyio.to_thread.run_sync(self._verify_and_decide, name, listed, document)

    def _verify_and_decide(self, name: str, listed: ListedFile, document: dict[str, Any]) -> None:
        try:
            found = verify_provenance(
                document, filename=listed.filename, sha256=listed.sha256, trust=self.trust.config()
            )
        except AttestationError as exc:
            self._decide(name, listed, document, None, f"its provenance fails verification: {exc}")
            return
        self._decide(name, listed, document, found, None)

    def _decide(
        self,
        name: str,
        listed: ListedFile,
        document: dict[str, Any] | None,
        found: dict[str, Any] | None,
        problem: str | None,
    ) -> None:
        with self.db.write() as session:
            row = store.identity_of(session, name)
            expected = row.identity if row is not None else None
            if problem is None and found is not None:
                if expected is None:
                    expected = store.establish(session, name, found)
                if expected is not None and not same_publisher(expected, found):
                    problem = (
                        f"it names the publisher {describe(found)}, not the project's"
                        f" {describe(expected)}"
                        + (" (pinned)" if row is not None and row.pinned else "")
                    )
            store.record(
                session,
                origin=store.UPSTREAM,
                project=name,
                filename=listed.filename,
                sha256=listed.sha256,
                verdict=store.OK if problem is None else store.HELD,
                reason=problem or "",
                expected=expected,
                found=found,
                provenance=document,
            )


def _with_held(listing: Listing, held: dict[str, str]) -> Listing:
    return replace(listing, held=held) if held or listing.held else listing
