"""The pull-through cache's catalogue rows (issue 17): upstream project pages, the upstream
files fetched so far, and the proxy's counters; the journal entries of fetches, fills and
refusals. Every instance shares them, so one instance's fetch serves the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from trustyard.index.db.models import JournalEntry, UpstreamCounter, UpstreamFile, UpstreamProject
from trustyard.index.services.accounts import utcnow

ACTOR = "upstream"
UPSTREAM_PREFIX = "upstream/"  # every store key the proxy writes begins so (never a local key)
# The cache's generation, kept among the counters (every instance reads that table already, and
# export/import carry it): a purge or a refresh adds one, and a running server that sees it
# move drops the listings it holds in memory (``UpstreamProxy.follow_generation``).
GENERATION = "cache_generation"


def file_key(sha256: str, filename: str) -> str:
    """The store key of an upstream file: content-addressed by the sha256 the upstream listed
    (it gives no blake2), under a prefix no upload key has."""
    return f"{UPSTREAM_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}/{filename}"


@dataclass(frozen=True)
class CachedPage:
    """An upstream project page as the catalogue holds it."""

    normalized_name: str
    found: bool
    document: dict[str, Any] | None
    etag: str | None
    fetched: datetime


@dataclass(frozen=True)
class CachedFile:
    """An upstream file row: what is stored of it, and where."""

    sha256: str
    project: str
    filename: str
    url: str
    size: int | None
    stored: datetime | None
    metadata_sha256: str | None
    metadata_stored: datetime | None
    provenance: dict[str, Any] | None

    @property
    def key(self) -> str:
        """Where its bytes are (or will be) stored."""
        return file_key(self.sha256, self.filename)


def journal(
    session: Session,
    action: str,
    *,
    project: str | None = None,
    filename: str | None = None,
    version: str | None = None,
) -> None:
    """Record a fetch, a fill or a refusal with its reason (actor ``upstream``). The project
    is named by its normal form but not bumped: upstream names have no local serial."""
    session.add(
        JournalEntry(
            project_name=project,
            version=version,
            filename=filename,
            action=action,
            actor=ACTOR,
            submitted=utcnow(),
        )
    )


def cached_page(session: Session, normalized_name: str) -> CachedPage | None:
    """The cached page of ``normalized_name``, whatever its age."""
    row = session.get(UpstreamProject, normalized_name)
    if row is None:
        return None
    return CachedPage(row.normalized_name, row.found, row.document, row.etag, row.fetched)


def store_page(
    session: Session,
    normalized_name: str,
    *,
    found: bool,
    document: dict[str, Any] | None,
    etag: str | None,
    reason: str,
) -> CachedPage:
    """Replace the cached page (a fresh fetch: 200 or 404), journalled with ``reason``."""
    now = utcnow()
    row = session.get(UpstreamProject, normalized_name)
    if row is None:
        row = UpstreamProject(normalized_name=normalized_name)
        session.add(row)
    row.found, row.document, row.etag, row.fetched = found, document, etag, now
    files = len(document.get("files", ())) if document else 0
    journal(
        session,
        f"upstream page {'filled' if found else 'absent'}: {reason}"
        + (f" ({files} files)" if found else ""),
        project=normalized_name,
    )
    return CachedPage(normalized_name, found, document, etag, now)


def touch_page(session: Session, normalized_name: str) -> datetime:
    """The upstream confirmed the cached page (304): it is current from now on."""
    now = utcnow()
    session.execute(
        update(UpstreamProject)
        .where(UpstreamProject.normalized_name == normalized_name)
        .values(fetched=now)
    )
    journal(session, "upstream page revalidated: 304 not modified", project=normalized_name)
    return now


def _view(row: UpstreamFile) -> CachedFile:
    return CachedFile(
        sha256=row.sha256,
        project=row.project,
        filename=row.filename,
        url=row.url,
        size=row.size,
        stored=row.stored,
        metadata_sha256=row.metadata_sha256,
        metadata_stored=row.metadata_stored,
        provenance=row.provenance,
    )


def cached_file(session: Session, sha256: str) -> CachedFile | None:
    """The upstream file row of ``sha256``, if any of it was fetched."""
    row = session.get(UpstreamFile, sha256)
    return _view(row) if row is not None else None


def record_file(
    session: Session,
    *,
    sha256: str,
    project: str,
    filename: str,
    url: str,
    metadata_sha256: str | None,
    size: int | None = None,
    metadata: bool = False,
    provenance: dict[str, Any] | None = None,
) -> CachedFile:
    """Mark the file's bytes (or, ``metadata``, its PEP 658 metadata, or its provenance)
    stored. Idempotent: another instance may have filled the same row (same bytes)."""
    now = utcnow()
    row = session.get(UpstreamFile, sha256)
    if row is None:
        row = UpstreamFile(
            sha256=sha256,
            project=project,
            filename=filename,
            url=url,
            metadata_sha256=metadata_sha256,
        )
        session.add(row)
    if provenance is not None:
        row.provenance = provenance
        what = "provenance"
    elif metadata:
        row.metadata_stored = row.metadata_stored or now
        row.metadata_sha256 = metadata_sha256
        what = "core metadata"
    else:
        row.stored = row.stored or now
        row.size = size
        what = "file"
    journal(
        session,
        f"upstream {what} cached: sha256 verified ({url})",
        project=project,
        filename=filename,
    )
    session.flush()
    return _view(row)


def forget_file(session: Session, sha256: str) -> None:
    """The row of a file whose bytes the store lost (an import, a purge elsewhere)."""
    session.execute(delete(UpstreamFile).where(UpstreamFile.sha256 == sha256))


def generation(session: Session) -> int:
    """The cache's generation: how many purges and refreshes it has seen."""
    return (
        session.scalar(select(UpstreamCounter.value).where(UpstreamCounter.name == GENERATION)) or 0
    )


def bump_generation(session: Session) -> None:
    """Tell every running instance that cached pages changed behind its back (a purge, a
    refresh): they drop their in-memory listings within ``upstream_recheck`` seconds."""
    add_counts(session, {GENERATION: 1})


def add_counts(session: Session, counts: Mapping[str, int]) -> None:
    """Add one instance's counts since its last flush to the shared counters."""
    for name, value in counts.items():
        if not value:
            continue
        updated = session.execute(
            update(UpstreamCounter)
            .where(UpstreamCounter.name == name)
            .values(value=UpstreamCounter.value + value)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            session.add(UpstreamCounter(name=name, value=value))
            session.flush()


@dataclass(frozen=True)
class CacheSummary:
    """What ``trustyard upstream status`` shows of the cache."""

    pages: int
    absent: int
    files: int
    metadata_files: int
    stored_bytes: int
    counters: dict[str, int]


def summary(session: Session) -> CacheSummary:
    """Counts of cached pages and files, their bytes, and the counters."""
    pages = session.scalar(
        select(func.count()).select_from(UpstreamProject).where(UpstreamProject.found)
    )
    absent = session.scalar(
        select(func.count()).select_from(UpstreamProject).where(UpstreamProject.found.is_(False))
    )
    files = session.scalar(
        select(func.count()).select_from(UpstreamFile).where(UpstreamFile.stored.is_not(None))
    )
    metadata = session.scalar(
        select(func.count())
        .select_from(UpstreamFile)
        .where(UpstreamFile.metadata_stored.is_not(None))
    )
    stored = session.scalar(
        select(func.coalesce(func.sum(UpstreamFile.size), 0)).where(
            UpstreamFile.stored.is_not(None)
        )
    )
    counters = {
        row.name: row.value
        for row in session.scalars(select(UpstreamCounter))
        if row.name != GENERATION
    }
    return CacheSummary(
        pages=pages or 0,
        absent=absent or 0,
        files=files or 0,
        metadata_files=metadata or 0,
        stored_bytes=int(stored or 0),
        counters=counters,
    )


def forget_page(session: Session, normalized_name: str) -> None:
    """Drop one cached page (``upstream refresh`` fetches it anew)."""
    session.execute(
        delete(UpstreamProject).where(UpstreamProject.normalized_name == normalized_name)
    )


def purge(session: Session, *, actor: str | None) -> list[str]:
    """Forget every cached page and file; returns the store keys to delete (all under
    :data:`UPSTREAM_PREFIX`: a purge never touches a local file). Running instances learn of
    it through the generation (kept, and moved on)."""
    keys: list[str] = []
    for row in session.scalars(select(UpstreamFile)):
        key = file_key(row.sha256, row.filename)
        if row.stored is not None:
            keys.append(key)
        if row.metadata_stored is not None:
            keys.append(key + ".metadata")
    session.execute(delete(UpstreamFile))
    session.execute(delete(UpstreamProject))
    session.execute(delete(UpstreamCounter).where(UpstreamCounter.name != GENERATION))
    bump_generation(session)
    session.add(
        JournalEntry(
            action=f"upstream cache purged ({len(keys)} stored files)",
            actor=actor,
            submitted=utcnow(),
        )
    )
    return [key for key in keys if key.startswith(UPSTREAM_PREFIX)]
