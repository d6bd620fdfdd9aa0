"""The storage interface: where distribution files live, addressed by key.

Keys are PyPI's content-addressed paths (``blake2[:2]/blake2[2:4]/blake2[4:]/filename``); a key
is written once and never changes, so any backend may cache it forever.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from trustyard.dists.filenames import SDIST_SUFFIX, WHEEL_SUFFIX, ZIP_SDIST_SUFFIX
from trustyard.dists.mediatypes import OCTET_STREAM, TAR, ZIP

# Bytes never change under their key: every cache may keep them forever.
IMMUTABLE = "max-age=365000000, immutable, public"


# What may stand in a quoted-string filename as it is (RFC 6266 4.3 advises plain ASCII there).
_PLAIN_FILENAME = re.compile(r"[A-Za-z0-9._!+-]+")


def content_disposition(filename: str) -> str:
    """``Content-Disposition: attachment`` naming ``filename``, for every way a file is sent.

    RFC 6266: a plain name (every name the upload checks accept today) is a quoted-string; any
    other (rows from before those checks: quotes, spaces, non-ASCII) gets an ASCII fallback
    with ``_`` for the rest, and ``filename*`` in RFC 8187 (formerly 5987) UTF-8
    percent-encoding, which clients prefer. The value is always ASCII, so it never fails
    Latin-1 header encoding and never lets a name out of its quotes.
    """
    if _PLAIN_FILENAME.fullmatch(filename):
        return f'attachment; filename="{filename}"'
    fallback = "".join(c if _PLAIN_FILENAME.fullmatch(c) else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def media_type(key: str) -> str:
    """The media type of a stored file, from its name."""
    if key.endswith(".metadata"):
        return "text/plain; charset=utf-8"
    if key.endswith((WHEEL_SUFFIX, ZIP_SDIST_SUFFIX)):
        return ZIP
    if key.endswith(SDIST_SUFFIX):
        return TAR
    return OCTET_STREAM


@dataclass
class Streamed:
    """A stored file (or the requested range of it) being read, for relaying to a client.

    ``status`` is 200, 206 (``headers`` carry Content-Range) or 416 (``chunks`` is empty);
    ``headers`` always carry Content-Length.
    """

    status: int
    headers: dict[str, str]
    chunks: Iterator[bytes] = field(default_factory=lambda: iter(()))


@dataclass(frozen=True)
class StoredObject:
    """One stored key as a listing sees it: its size, and when it was written (aware, UTC).

    ``modified`` is the file's mtime or the object's ``LastModified``: how long the bytes have
    been there, which is what the orphan sweep's grace period is measured against.
    """

    key: str
    size: int
    modified: datetime


class Storage(Protocol):
    """What the index needs of a file store; local files and S3 implement it."""

    spool_is_stored: bool
    """Whether a finished spool file becomes the stored file itself (local: renamed into
    place, so it must be on disk first) or is only copied from (S3: the PUT makes the copy
    durable, and syncing the spool would write the whole file to a local disk for nothing)."""

    def put(self, key: str, source: Path) -> bool:
        """Store the finished file ``source`` under ``key`` durably; consume ``source``.

        Returns False when ``key`` already held these bytes (nothing was written).
        """

    def put_deferred(self, key: str, source: Path) -> None:
        """Store ``source`` under ``key`` for a bulk import; consume ``source``.

        Durable only after the next :meth:`sync` (one flush of the disk for a whole catalogue
        instead of one per file). Unlike :meth:`put` it writes without checking first and
        replaces what ``key`` held: an import into an empty catalogue places bytes it has
        verified, and a key already there (left by a failed import or upload) holds the same
        bytes by content addressing, or damaged ones. On S3 that saves a HEAD per object.
        """

    def sync(self) -> None:
        """Make every :meth:`put_deferred` so far durable."""

    def put_bytes(self, key: str, data: bytes) -> bool:
        """Store small content (core metadata) the same way as :meth:`put`."""

    def spool_file(self) -> tuple[int, Path]:
        """An open temporary file (descriptor, path) for an upload in progress."""

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for ``key`` when the backend has one (for sendfile and ranges)."""

    def download_url(self, key: str, filename: str, *, expires: int | None = None) -> str | None:
        """A short-lived URL a client can fetch ``key`` from directly, or None (serve it here);
        valid for ``expires`` seconds (None: the store's default)."""

    def read_to(self, key: str, target: Path) -> None:
        """Copy the bytes stored under ``key`` to the local file ``target`` (for exports)."""

    def stream(self, key: str, byte_range: str | None, *, body: bool = True) -> Streamed | None:
        """Read ``key`` (a single ``bytes=A-B`` range honoured) for relaying, or None when the
        backend has a :meth:`local_path` to serve from. ``body=False``: headers only (HEAD)."""

    def sweep_temporary(self) -> int:
        """Remove spool files left by a crash; returns how many were removed."""

    def inventory(self) -> Iterator[StoredObject]:
        """Every stored key with its size and write time, read as it goes (an S3 listing
        comes a page of 1,000 keys at a time)."""

    def keys(self) -> set[str]:
        """Every stored key (for consistency checks and exports)."""
