"""A whole index to and from a directory: ``trustyard admin export`` / ``admin import``.

An export is a directory of plain files, readable without trustyard::

    manifest.json            format, schema revision, and the SHA-256 of everything below
    catalogue/<table>.jsonl  one JSON object per row, in primary-key order, its keys in column
                             order and JSON values' keys in their stored order
    files/<storage key>      each distribution file and its ``.metadata`` companion

It works between any two configurations (SQLite + files, PostgreSQL + S3) because it goes
through the one schema and the one storage interface. Only what the catalogue references is
exported (bytes left by a crashed upload are not), and every byte is checked against the
catalogue's own digests on the way out and again on the way in. ``manifest.json`` is written
last, so an export that stopped half-way is recognised as incomplete.

An import checks the whole export before it changes anything, refuses an index whose catalogue
is not empty, writes the files first (flushed to disk together) and then inserts every row in
one transaction: a failed import leaves at most unreferenced bytes, never a row without its
file. Row ids are kept, so
serials (journal ids, ``_last-serial``) and every reference between rows survive unchanged.

Not exported: browser sessions, sign-in failures and the cached JWKS of OIDC issuers, which are
short-lived or fetched again on demand.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import DateTime, Table, func, select, text
from sqlalchemy.orm import Session

from trustyard.errors import Error
from trustyard.index.db.engine import Database
from trustyard.index.db.migrations import SCHEMA_HEAD
from trustyard.index.db.models import Base
from trustyard.index.storage.base import Storage

FORMAT = "trustyard-index-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

# In foreign-key order: a row's references are inserted before it.
TABLES = (
    "users",
    "projects",
    "roles",
    "releases",
    "files",
    "provenance",
    "filename_registry",
    "publishers",
    "tokens",
    "used_jtis",
    "journal",
)
# Tables whose integer ``id`` comes from a sequence on PostgreSQL (to move past imported ids).
SEQUENCED = ("users", "projects", "releases", "files", "publishers", "journal")
CHUNK = 1 << 20
BATCH = 1000
PLACERS = 8  # files copied into the store at once by an import


class ExportInvalid(Error):
    """An export directory is incomplete, altered, or not an export."""


class IndexNotEmpty(Error):
    """Import refused: the target index already has a catalogue."""

    status = 409


@dataclass(frozen=True)
class Summary:
    """What an export or import moved."""

    rows: dict[str, int]
    files: int
    size: int


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _encode(table: Table, row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in table.columns:
        value = row._mapping[column]
        if isinstance(value, datetime):
            value = value.isoformat()
        out[column.name] = value
    return out


def _decode(table: Table, data: dict[str, Any], where: str) -> dict[str, Any]:
    names = {column.name for column in table.columns}
    if set(data) != names:
        raise ExportInvalid(
            f"{where}: columns {sorted(data)} do not match the table's {sorted(names)}"
        )
    out = dict(data)
    for column in table.columns:
        if isinstance(column.type, DateTime) and out[column.name] is not None:
            try:
                out[column.name] = datetime.fromisoformat(out[column.name])
            except (TypeError, ValueError) as exc:
                raise ExportInvalid(f"{where}: {column.name} is not a date: {exc}") from None
    return out


def _digest(path: Path) -> tuple[str, str, int]:
    """(sha256, blake2b-256, size) of a file, read in chunks."""
    sha, blake, size = hashlib.sha256(), hashlib.blake2b(digest_size=32), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
            blake.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), blake.hexdigest(), size


def _file_target(root: Path, key: str) -> Path:
    pure = PurePosixPath(key)
    if not key or pure.is_absolute() or ".." in pure.parts or "\\" in key or "\x00" in key:
        raise ExportInvalid(f"invalid file key in the manifest: {key!r}")
    return root.joinpath("files", *pure.parts)


def _fetch(storage: Storage, key: str, target: Path) -> None:
    """Copy the stored bytes of ``key`` to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    local = storage.local_path(key)
    if local is not None and not local.is_file():
        raise ExportInvalid(f"the catalogue lists {key} but the store has no such file")
    storage.read_to(key, target)


# -- export ----------------------------------------------------------------------------------


def export_index(db: Database, storage: Storage, target: Path) -> Summary:
    """Write the whole index to ``target`` (a new or empty directory)."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportInvalid(f"{target} exists and is not an empty directory")
    (target / "catalogue").mkdir(parents=True, exist_ok=True)
    tables: dict[str, dict[str, Any]] = {}
    expected: dict[str, tuple[str, int]] = {}  # key -> (sha256 from the catalogue, size or -1)
    # One read transaction: the rows are one consistent snapshot of the catalogue.
    with db.read() as session:
        for name in TABLES:
            table = _table(name)
            path = target / "catalogue" / f"{name}.jsonl"
            sha, count = hashlib.sha256(), 0
            order = list(table.primary_key.columns)
            with path.open("wb") as out:
                for row in session.execute(select(table).order_by(*order)):
                    # Columns in table order, JSON values in their stored order (not sorted):
                    # a provenance object must be served after import byte for byte as before.
                    line = json.dumps(_encode(table, row)).encode() + b"\n"
                    sha.update(line)
                    out.write(line)
                    count += 1
                    if name == "files":
                        data = row._mapping
                        expected[data["path"]] = (data["sha256"], int(data["size"]))
                        if data["metadata_sha256"]:
                            expected[data["path"] + ".metadata"] = (data["metadata_sha256"], -1)
            tables[name] = {
                "file": f"catalogue/{name}.jsonl",
                "rows": count,
                "sha256": sha.hexdigest(),
            }
    files: dict[str, dict[str, Any]] = {}
    total = 0
    for key in sorted(expected):
        destination = _file_target(target, key)
        _fetch(storage, key, destination)
        sha256, _blake, size = _digest(destination)
        want_sha, want_size = expected[key]
        if sha256 != want_sha or (want_size >= 0 and size != want_size):
            raise ExportInvalid(
                f"the stored bytes of {key} do not match the catalogue"
                f" (sha256 {sha256}, expected {want_sha}): the store is damaged"
            )
        files[key] = {"sha256": sha256, "size": size}
        total += size
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "schema": SCHEMA_HEAD,
        "created": datetime.now(UTC).isoformat(),
        "tables": tables,
        "files": files,
    }
    # Last, and atomically: without a manifest the directory is recognisably incomplete.
    partial = target / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    os.replace(partial, target / MANIFEST)
    return Summary({n: t["rows"] for n, t in tables.items()}, len(files), total)


# -- import ----------------------------------------------------------------------------------


def _read_manifest(source: Path) -> dict[str, Any]:
    if not source.is_dir():
        raise ExportInvalid(f"{source} is not a directory")
    path = source / MANIFEST
    if not path.is_file():
        raise ExportInvalid(f"{source} has no {MANIFEST}: not an export, or an incomplete one")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportInvalid(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ExportInvalid(f"{path} is not a trustyard index export")
    if manifest.get("version") != FORMAT_VERSION:
        raise ExportInvalid(f"{path} has format version {manifest.get('version')!r}, not 1")
    if manifest.get("schema") != SCHEMA_HEAD:
        raise ExportInvalid(
            f"the export is of schema {manifest.get('schema')!r}, this trustyard has"
            f" {SCHEMA_HEAD}: import it with the trustyard that exported it"
        )
    tables, files = manifest.get("tables"), manifest.get("files")
    if not isinstance(tables, dict) or set(tables) != set(TABLES) or not isinstance(files, dict):
        raise ExportInvalid(f"{path} does not list the tables {list(TABLES)} and the files")
    return manifest


def _load_rows(source: Path, name: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
    path = source / "catalogue" / f"{name}.jsonl"
    if not path.is_file():
        raise ExportInvalid(f"missing {path.relative_to(source)} (listed in the manifest)")
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != entry.get("sha256"):
        raise ExportInvalid(
            f"{path.relative_to(source)} does not match its SHA-256 in the manifest: altered"
        )
    table = _table(name)
    rows = [
        _decode(table, json.loads(line), f"{path.relative_to(source)} line {number}")
        for number, line in enumerate(raw.splitlines(), 1)
    ]
    if len(rows) != entry.get("rows"):
        raise ExportInvalid(
            f"catalogue/{name}.jsonl has {len(rows)} rows, the manifest says {entry.get('rows')}"
        )
    return rows


def verify_export(source: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Check every byte of an export against its manifest and its catalogue; return both."""
    manifest = _read_manifest(source)
    rows = {name: _load_rows(source, name, manifest["tables"][name]) for name in TABLES}
    files: dict[str, dict[str, Any]] = manifest["files"]
    root = source / "files"
    on_disk = {
        (Path(folder) / name).relative_to(root).as_posix()
        for folder, _dirs, names in os.walk(root)  # (far faster than rglob on 500,000 files)
        for name in names
    }
    unlisted = sorted(on_disk - set(files))
    if unlisted:
        raise ExportInvalid(f"files/{unlisted[0]} is not listed in the manifest")
    blakes: dict[str, str] = {}
    for key, entry in sorted(files.items()):
        path = _file_target(source, key)
        if not path.is_file():
            raise ExportInvalid(f"missing files/{key} (listed in the manifest): incomplete export")
        sha256, blake, size = _digest(path)
        if sha256 != entry.get("sha256") or size != entry.get("size"):
            raise ExportInvalid(
                f"files/{key} does not match the manifest (sha256 {sha256}, size {size};"
                f" expected {entry.get('sha256')}, {entry.get('size')}): altered"
            )
        blakes[key] = blake
    referenced: set[str] = set()
    for row in rows["files"]:
        key = row["path"]
        if key not in files:
            raise ExportInvalid(
                f"the catalogue lists {row['filename']} but files/{key} is not exported"
            )
        if files[key]["sha256"] != row["sha256"] or files[key]["size"] != row["size"]:
            raise ExportInvalid(
                f"files/{key} does not match the catalogue's SHA-256 of {row['filename']}"
            )
        if blakes[key] != row["blake2_256"] or not key.startswith(
            f"{row['blake2_256'][:2]}/{row['blake2_256'][2:4]}/{row['blake2_256'][4:]}/"
        ):
            raise ExportInvalid(
                f"files/{key} does not match the catalogue's BLAKE2 of {row['filename']}"
            )
        referenced.add(key)
        if row["metadata_sha256"]:
            meta = key + ".metadata"
            if meta not in files or files[meta]["sha256"] != row["metadata_sha256"]:
                raise ExportInvalid(f"files/{meta} is missing or does not match the catalogue")
            referenced.add(meta)
    stray = sorted(set(files) - referenced)
    if stray:
        raise ExportInvalid(f"files/{stray[0]} is not referenced by the catalogue")
    return manifest, rows


def _reset_sequences(session: Session) -> None:
    """On PostgreSQL, move each id sequence past the imported ids (SQLite needs nothing)."""
    for name in SEQUENCED:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"  # noqa: S608 - constants
                f" COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
            )
        )


def import_index(db: Database, storage: Storage, source: Path) -> Summary:
    """Load a verified export into an index whose catalogue is empty."""
    with db.read() as session:
        for name in TABLES:
            count = session.execute(select(func.count()).select_from(_table(name))).scalar_one()
            if count:
                raise IndexNotEmpty(
                    f"the target index is not empty ({count} rows in {name}):"
                    " import only into a new index"
                )
    manifest, rows = verify_export(source)

    def place(key: str) -> None:
        fd, spool = storage.spool_file()
        try:
            with os.fdopen(fd, "wb") as out, _file_target(source, key).open("rb") as src:
                shutil.copyfileobj(src, out, CHUNK)
        except BaseException:
            spool.unlink(missing_ok=True)
            raise
        # Content-addressed: an existing key already holds these bytes.
        storage.put_deferred(key, spool)

    # Files are written side by side (an object store answers each PUT after a round trip)
    # and flushed to disk once, all before the first row commits: one sync for the whole
    # catalogue, not an fsync per file and per directory (500,000 files: hours otherwise).
    with ThreadPoolExecutor(max_workers=PLACERS) as pool:
        for _ in pool.map(place, sorted(manifest["files"])):
            pass
    storage.sync()
    total = sum(int(entry["size"]) for entry in manifest["files"].values())
    with db.write() as session:
        for name in TABLES:
            table = _table(name)
            batch = rows[name]
            for start in range(0, len(batch), BATCH):
                session.execute(table.insert(), batch[start : start + BATCH])
        if not db.is_sqlite:
            _reset_sequences(session)
    return Summary({name: len(rows[name]) for name in TABLES}, len(manifest["files"]), total)
