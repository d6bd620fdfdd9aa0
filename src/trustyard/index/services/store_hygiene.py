"""Orphaned stored files: bytes in the store that no catalogue row names, found and removed.

An upload stores its file (and a wheel's PEP 658 ``.metadata``) before its row commits, and a
deletion commits the row's removal before it deletes the bytes (``services/uploads.py``,
``services/projects.py``): a crash between the two leaves bytes that are never served, because
a file is served only through its row, but that nothing else removes. ``trustyard admin store
sweep`` removes them.

Two guards keep the sweep from removing bytes that are about to be named:

- a grace period: keys written less than ``grace`` ago (mtime, or S3 ``LastModified``) are
  kept, since an upload in flight or an ``admin import`` stores its bytes before its rows;
- each removal happens under the lock that uploads of that project take before they store
  (``Database.serialise`` on ``upload:<project>``), after checking once more that no row names
  the key: a retried upload finds the key already stored and commits a row for it, so without
  the lock a sweep could remove bytes that a row had just begun to name.

Only keys shaped as the index writes them (``ab/cd/<blake2b rest>/<filename>`` and its
``.metadata``) are ever removed; anything else under the store's root or prefix is not the
index's to delete and is only counted.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from packaging.utils import canonicalize_name
from sqlalchemy import select
from sqlalchemy.orm import Session

from trustyard.dists.filenames import InvalidFilename, parse_dist_filename
from trustyard.errors import InvalidInput
from trustyard.index.db.engine import Database
from trustyard.index.db.models import File
from trustyard.index.services.accounts import parse_duration
from trustyard.index.services.journal import record
from trustyard.index.storage.base import Storage, StoredObject

DEFAULT_GRACE = timedelta(hours=1)
METADATA = ".metadata"
# What services/uploads.py's storage_key makes: blake2b-256 split 2/2/60, then the filename.
_INDEX_KEY = re.compile(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/[^/]+")
_ZERO = re.compile(r"0+[smhdw]?")
_BATCH = 500  # keys per "which of these does a row name?" query


def parse_grace(text: str) -> timedelta:
    """``0`` (no grace: every orphan goes) or a duration such as ``90s``, ``15m``, ``1h``."""
    if _ZERO.fullmatch(text.strip()):
        return timedelta(0)
    try:
        return parse_duration(text)
    except InvalidInput:
        raise InvalidInput(
            f"invalid grace period {text!r}: use 0 or a whole number with s, m, h, d or w (e.g. 1h)"
        ) from None


@dataclass(frozen=True)
class SweepReport:
    """What a sweep found: orphans old enough to go, orphans kept because they are younger
    than the grace period, keys that are not the index's; and what it removed (nothing in a
    dry run)."""

    orphans: list[StoredObject]
    recent: list[StoredObject]
    foreign: list[StoredObject]
    scanned: int
    removed: list[StoredObject] = field(default_factory=list)

    @property
    def removed_bytes(self) -> int:
        """How many bytes the removed keys held."""
        return sum(stored.size for stored in self.removed)


def _referenced(session: Session, keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` that a file row names (its file, or its PEP 658 metadata file)."""
    by_path: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        by_path[key.removesuffix(METADATA)].append(key)
    named: set[str] = set()
    paths = sorted(by_path)
    for start in range(0, len(paths), _BATCH):
        rows = session.execute(
            select(File.path, File.metadata_sha256).where(
                File.path.in_(paths[start : start + _BATCH])
            )
        )
        for path, metadata_sha256 in rows:
            named.update(key for key in by_path[path] if key == path or metadata_sha256 is not None)
    return named


def _project_of(key: str) -> str | None:
    """The normalised project a key's filename belongs to; None when no upload could have
    written it (an upload's filename always parses)."""
    filename = key.rsplit("/", 1)[-1].removesuffix(METADATA)
    try:
        return canonicalize_name(parse_dist_filename(filename).name)
    except InvalidFilename:
        return None


def find_orphans(
    db: Database, storage: Storage, *, grace: timedelta, now: datetime | None = None
) -> SweepReport:
    """List the store, then find the index's keys that no row names, split by age."""
    # Listed before the catalogue is read, so every key a row names is in this listing.
    listed = sorted(storage.inventory(), key=lambda stored: stored.key)
    ours = [stored for stored in listed if _INDEX_KEY.fullmatch(stored.key)]
    with db.read() as session:
        named = _referenced(session, (stored.key for stored in ours))
    cutoff = (now or datetime.now(UTC)) - grace
    unnamed = [stored for stored in ours if stored.key not in named]
    return SweepReport(
        orphans=[stored for stored in unnamed if stored.modified <= cutoff],
        recent=[stored for stored in unnamed if stored.modified > cutoff],
        foreign=[stored for stored in listed if not _INDEX_KEY.fullmatch(stored.key)],
        scanned=len(listed),
    )


def _remove_for_project(
    db: Database, storage: Storage, project: str | None, orphans: list[StoredObject]
) -> list[StoredObject]:
    """Remove ``orphans`` that are still unnamed, holding the project's upload lock."""
    with db.write() as session:
        if project is not None:
            # The name services/uploads.py serialises on; SQLite's BEGIN IMMEDIATE already
            # excludes every other writer.
            db.serialise(session, "upload:" + project)
        named = _referenced(session, (stored.key for stored in orphans))
        gone = [stored for stored in orphans if stored.key not in named]
        for stored in gone:
            storage.delete(stored.key)
    return gone


def sweep_orphans(
    db: Database,
    storage: Storage,
    *,
    grace: timedelta = DEFAULT_GRACE,
    dry_run: bool = False,
    actor: str | None = "admin",
    now: datetime | None = None,
) -> SweepReport:
    """Remove orphans older than ``grace`` (only report them when ``dry_run``); a sweep that
    removed anything is journalled with the count and the bytes."""
    found = find_orphans(db, storage, grace=grace, now=now)
    if dry_run:
        return found
    by_project: dict[str | None, list[StoredObject]] = defaultdict(list)
    for stored in found.orphans:
        by_project[_project_of(stored.key)].append(stored)
    removed: list[StoredObject] = []
    for project, orphans in sorted(by_project.items(), key=lambda item: item[0] or ""):
        removed.extend(_remove_for_project(db, storage, project, orphans))
    report = replace(found, removed=removed)
    if removed:
        with db.write() as session:
            record(
                session,
                action=(
                    f"sweep store: removed {len(removed)} orphaned files"
                    f" ({report.removed_bytes} bytes)"
                ),
                actor=actor,
            )
    return report
