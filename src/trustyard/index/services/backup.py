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

Memory does not grow with the catalogue: tables are read and written a row at a time, and the
per-file bookkeeping (the manifest's entries, the catalogue's file rows, the digests of the
exported bytes) lives in a scratch SQLite database in the store's spool, removed at the end.
The import reads each table twice (to check it, then to insert it) and checks its digest
again on the second read, before the transaction commits.

Not exported: browser sessions (and sign-ins waiting for their second factor, WebAuthn
challenges), sign-in failures and the cached JWKS of OIDC issuers, which are
short-lived or fetched again on demand; nor the project search table (``project_search`` and,
on SQLite, its FTS5 index), which is derived from ``projects`` and ``releases``: it is rebuilt,
not exported, by the database's own triggers as the import inserts those rows.

Older exports stay readable. The manifest names the schema revision its rows have; an export of
an older revision is checked against that revision's tables (an Alembic upgrade of a scratch
SQLite database, reflected), loaded into the empty target after moving it down to that
revision, and then brought to the newest revision by the migrations themselves: rows reach the
current schema exactly as an index upgraded in place would have them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, Table, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from trustyard.errors import Error
from trustyard.index.db.engine import Database
from trustyard.index.db.migrations import SCHEMA_HEAD
from trustyard.index.db.models import Base
from trustyard.index.services import journal
from trustyard.index.services.backup_manifest import read_manifest, write_manifest
from trustyard.index.storage.base import Storage

FORMAT = "trustyard-index-export"
FORMAT_VERSION = 7
MANIFEST = "manifest.json"

# The tables of each format version, in foreign-key order: a row's references are inserted
# before it. A version is added whenever that list changes; what a table's rows hold follows
# the export's schema revision (see the module's docstring).
TABLES_V1 = (
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
# 2: a minted token's publishers (schema 0009: a token acts for a CI identity), the trusted
# issuers and the index's own settings (schema 0010: its audience).
TABLES_V2 = (
    *TABLES_V1[:9],
    "token_publishers",
    *TABLES_V1[9:],
    "trusted_issuers",
    "index_settings",
)
# 3: the roles offered and not yet accepted (schema 0016: role invitations).
TABLES_V3 = (*TABLES_V2, "role_invitations")
# 4: the pull-through cache's pages, file rows and counters (schema 0018: issue 17; cached
# upstream bytes are not exported: a row whose bytes the store lacks is fetched again), the
# reserved namespaces and their owners (schema 0019: PEP 752 namespaces), and PEP 792 project
# statuses other than active (schema 0020: issue 18).
TABLES_V4 = (
    *TABLES_V3,
    "upstream_projects",
    "upstream_files",
    "upstream_counters",
    "namespaces",
    "namespace_owners",
    "project_statuses",
)
# 5: issue 18's gate: admins' exceptions to the cooldown of upstream files (schema 0021; the
# cooldown and the cut-off are index_settings rows, exported since format 2), and publisher
# continuity: identities first seen or pinned, per-file verdicts and held files (schema 0022).
TABLES_V5 = (*TABLES_V4, "policy_exceptions", "publisher_continuity", "file_verdicts")
# 6: issue 20's private indexes: ``projects.visibility`` (schema 0023); read credentials
# (schema 0024): the projects' reader policies and the projects each token minted by Trusted
# Reading may read (``tokens.read_only`` and ``tokens.reader_identity`` are new columns);
# people (schema 0025): organisations, their members, invitations and projects, teams, their
# members and their roles on projects; second factors (schema 0026): TOTP keys, security
# keys, recovery codes (pending sign-ins and WebAuthn challenges live minutes and are not
# exported, as sessions are not). New columns take their server defaults when an older
# export is imported (public, false, none).
TABLES_V6 = (
    *TABLES_V5,
    "reader_policies",
    "token_readers",
    "organisations",
    "organisation_members",
    "organisation_invitations",
    "organisation_projects",
    "teams",
    "team_members",
    "team_project_roles",
    "totp_secrets",
    "webauthn_credentials",
    "recovery_codes",
)
# 7: issue 20's people from the web (schema 0027): organisations requested by users, the
# catalogue of every name an organisation has held (``organisations.display_name`` is a new
# column: empty for an older export), and team reader policies with the tokens minted
# through them.
TABLES_V7 = (
    *TABLES_V6,
    "organisation_requests",
    "organisation_names",
    "team_reader_policies",
    "token_team_readers",
)
FORMAT_TABLES = {
    1: TABLES_V1,
    2: TABLES_V2,
    3: TABLES_V3,
    4: TABLES_V4,
    5: TABLES_V5,
    6: TABLES_V6,
    7: TABLES_V7,
}
TABLES = FORMAT_TABLES[FORMAT_VERSION]
# Every table any format version exports, in the order of insertion.
TABLES_ORDER = TABLES
# Tables a new index's migration fills (the public issuers, a generated audience): an import
# replaces their rows with the export's, so the restored index keeps its allow-list and its
# audience, and they do not count against "the target index is empty". (An export made
# before they existed gets them from the migration that adds them, as an upgrade would.)
SEEDED = ("trusted_issuers", "index_settings")
# Tables whose integer ``id`` comes from a sequence on PostgreSQL (to move past imported ids).
SEQUENCED = (
    "users",
    "projects",
    "releases",
    "files",
    "publishers",
    "journal",
    "namespaces",
    "organisations",
    "teams",
    "reader_policies",
    "token_readers",
    "webauthn_credentials",
    "recovery_codes",
    "organisation_requests",
    "team_reader_policies",
)
CHUNK = 1 << 20
BATCH = 1000
PLACERS = 8  # files copied into or out of the store at once
AHEAD = 4 * PLACERS  # files queued for the placers at most (not the whole catalogue)

# The scratch database: ``manifest`` holds the files of the manifest being read (``listed``
# counts duplicates, ``blake2`` is filled in once the exported bytes are read) or written
# (``size`` -1: a ``.metadata`` file, whose size the catalogue does not record); ``catalogue``
# the columns of each file row that the cross-checks need, as the export gave them.
_SCRATCH = """
CREATE TABLE manifest (
    key TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    listed INTEGER NOT NULL DEFAULT 1, blake2 TEXT
) WITHOUT ROWID;
CREATE TABLE catalogue (
    line INTEGER PRIMARY KEY, path TEXT NOT NULL, filename, sha256, size, blake2, metadata_sha256
);
CREATE INDEX catalogue_path ON catalogue (path);
"""

T = TypeVar("T")
R = TypeVar("R")


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


@contextmanager
def _tables_at(storage: Storage, revision: str) -> Iterator[dict[str, Table]]:
    """The exported tables as they were at schema ``revision``: the models' own at the newest
    revision, otherwise reflected from a scratch SQLite database the migrations brought to it."""
    if revision == SCHEMA_HEAD:
        yield {name: _table(name) for name in TABLES}
        return
    fd, path = storage.spool_file()
    os.close(fd)
    scratch = Database(f"sqlite:///{path}")
    try:
        scratch.move_to(revision)
        yield _reflect(scratch)
    finally:
        scratch.dispose()
        path.unlink(missing_ok=True)


def _reflect(db: Database) -> dict[str, Table]:
    """The tables of ``db`` as its schema has them now (not as the models say)."""
    metadata = MetaData()
    metadata.reflect(bind=db.engine)
    return dict(metadata.tables)


def _encode(table: Table, row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in table.columns:
        value = row._mapping[column]
        if isinstance(value, datetime):
            value = value.isoformat()
        out[column.name] = value
    return out


@functools.cache
def _columns(table: Table) -> tuple[frozenset[str], tuple[str, ...]]:
    """A table's column names, and those holding dates (worked out once, not per row)."""
    dates = tuple(column.name for column in table.columns if isinstance(column.type, DateTime))
    return frozenset(column.name for column in table.columns), dates


def _decode(table: Table, line: bytes, where: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportInvalid(f"{where} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ExportInvalid(f"{where} is not a JSON object")
    names, dates = _columns(table)
    if data.keys() != names:
        raise ExportInvalid(
            f"{where}: columns {sorted(data)} do not match the table's {sorted(names)}"
        )
    for column in dates:
        if data[column] is not None:
            try:
                data[column] = datetime.fromisoformat(data[column])
            except (TypeError, ValueError) as exc:
                raise ExportInvalid(f"{where}: {column} is not a date: {exc}") from None
    return data


def _digest(path: str | Path) -> tuple[str, str, int]:
    """(sha256, blake2b-256, size) of a file, read in chunks."""
    sha, blake, size = hashlib.sha256(), hashlib.blake2b(digest_size=32), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
            blake.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), blake.hexdigest(), size


def _key_parts(key: str) -> list[str]:
    """A manifest key's path parts: it is relative, with no empty, ``.`` or ``..`` part."""
    parts = key.split("/")
    if "" in parts or "." in parts or ".." in parts or "\\" in key or "\x00" in key:
        raise ExportInvalid(f"invalid file key in the manifest: {key!r}")
    return parts


def _file_target(root: Path, key: str) -> str:
    """Where ``files/<key>`` is under ``root`` (a string: pathlib would cost more than the
    read of a small file)."""
    return os.path.join(root, "files", *_key_parts(key))


def _fetch(storage: Storage, key: str, target: Path) -> None:
    """Copy the stored bytes of ``key`` to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    local = storage.local_path(key)
    if local is not None and not local.is_file():
        raise ExportInvalid(f"the catalogue lists {key} but the store has no such file")
    storage.read_to(key, target)


@contextmanager
def _scratch(storage: Storage) -> Iterator[sqlite3.Connection]:
    """A throwaway SQLite database in the store's spool (on disk, so that memory does not grow
    with the number of files; a crash leaves it to ``sweep_temporary``, as an upload)."""
    fd, path = storage.spool_file()
    os.close(fd)
    try:
        # No journal, no fsync: nothing here outlives the command.
        connection = sqlite3.connect(path)
        try:
            connection.execute("PRAGMA journal_mode = OFF")
            connection.execute("PRAGMA synchronous = OFF")
            connection.execute("PRAGMA cache_size = -32768")  # 32 MiB, whatever the size
            connection.executescript(_SCRATCH)
            yield connection
        finally:
            connection.close()
    finally:
        path.unlink(missing_ok=True)


class _Batches:
    """Rows for one statement on the scratch database, run :data:`BATCH` rows at a time, each
    batch in one transaction (not one per row)."""

    def __init__(self, scratch: sqlite3.Connection, sql: str) -> None:
        self.scratch = scratch
        self.sql = sql
        self.rows: list[tuple[Any, ...]] = []

    def add(self, *row: Any) -> None:
        self.rows.append(row)
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        with self.scratch:
            self.scratch.executemany(self.sql, self.rows)
        self.rows.clear()


def _in_key_order(scratch: sqlite3.Connection) -> Iterator[tuple[str, str, int]]:
    """(key, sha256, size) of every file in key order, a page per query, so that the caller
    may write to the scratch database between rows."""
    after = ""
    while page := scratch.execute(
        "SELECT key, sha256, size FROM manifest WHERE key > ? ORDER BY key LIMIT ?",
        (after, BATCH),
    ).fetchall():
        yield from page
        after = page[-1][0]


def _bounded_map(
    pool: ThreadPoolExecutor, work: Callable[[T], R], items: Iterable[T]
) -> Iterator[R]:
    """``pool.map`` with at most :data:`AHEAD` items submitted ahead of the results read
    (``Executor.map`` submits every item at once: a future per file of the catalogue)."""
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


# -- export ----------------------------------------------------------------------------------


def export_index(db: Database, storage: Storage, target: Path) -> Summary:
    """Write the whole index to ``target`` (a new or empty directory)."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportInvalid(f"{target} exists and is not an empty directory")
    (target / "catalogue").mkdir(parents=True, exist_ok=True)
    tables: dict[str, dict[str, Any]] = {}
    with _scratch(storage) as scratch:
        # One read transaction: the rows are one consistent snapshot of the catalogue.
        with db.read() as session:
            for name in TABLES:
                tables[name] = _export_table(session, scratch, target, name)
        files, total = 0, 0

        def fetch(item: tuple[str, str, int]) -> tuple[str, dict[str, Any]]:
            key, want_sha, want_size = item
            destination = Path(_file_target(target, key))
            _fetch(storage, key, destination)
            sha256, _blake, size = _digest(destination)
            if sha256 != want_sha or (want_size >= 0 and size != want_size):
                raise ExportInvalid(
                    f"the stored bytes of {key} do not match the catalogue"
                    f" (sha256 {sha256}, expected {want_sha}): the store is damaged"
                )
            return key, {"sha256": sha256, "size": size}

        def entries(pool: ThreadPoolExecutor) -> Iterator[tuple[str, dict[str, Any]]]:
            nonlocal files, total
            for key, entry in _bounded_map(pool, fetch, _in_key_order(scratch)):
                files += 1
                total += entry["size"]
                yield key, entry

        members = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "schema": SCHEMA_HEAD,
            "created": datetime.now(UTC).isoformat(),
            "tables": tables,
        }
        # Last, and atomically: without a manifest the directory is recognisably incomplete.
        with ThreadPoolExecutor(max_workers=PLACERS) as pool:
            write_manifest(target / MANIFEST, members, entries(pool))
    return Summary({n: t["rows"] for n, t in tables.items()}, files, total)


def _export_table(
    session: Session, scratch: sqlite3.Connection, target: Path, name: str
) -> dict[str, Any]:
    """Write one table's rows; the file rows' keys and digests go to ``scratch``."""
    table = _table(name)
    sha, count = hashlib.sha256(), 0
    # key, sha256 from the catalogue, size (-1: not recorded)
    expected = _Batches(scratch, "INSERT OR REPLACE INTO manifest VALUES (?, ?, ?, 1, NULL)")
    query = select(table).order_by(*table.primary_key.columns)
    with (target / "catalogue" / f"{name}.jsonl").open("wb") as out:
        # yield_per: a server-side cursor on PostgreSQL, not the whole table in the client.
        for row in session.execute(query, execution_options={"yield_per": BATCH}):
            # Columns in table order, JSON values in their stored order (not sorted): a
            # provenance object must be served after import byte for byte as before.
            line = json.dumps(_encode(table, row)).encode() + b"\n"
            sha.update(line)
            out.write(line)
            count += 1
            if name == "files":
                data = row._mapping
                expected.add(data["path"], data["sha256"], int(data["size"]))
                if data["metadata_sha256"]:
                    expected.add(data["path"] + ".metadata", data["metadata_sha256"], -1)
    expected.flush()
    return {"file": f"catalogue/{name}.jsonl", "rows": count, "sha256": sha.hexdigest()}


# -- checking an export ----------------------------------------------------------------------


class _Listing:
    """The manifest's file entries, into the scratch database a batch at a time; the first
    malformed entry is kept, to be reported once the manifest is known to be an export."""

    def __init__(self, scratch: sqlite3.Connection) -> None:
        self.entries = _Batches(
            scratch,
            "INSERT INTO manifest (key, sha256, size) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET listed = listed + 1",
        )
        self.problem: str | None = None

    def __call__(self, key: str, entry: Any) -> None:
        sha256 = entry.get("sha256") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(sha256, str) or type(size) is not int or not 0 <= size < 1 << 63:
            self.problem = self.problem or f"the manifest's entry for files/{key} is malformed"
            return
        try:
            _key_parts(key)
        except ExportInvalid as exc:
            self.problem = self.problem or str(exc)
            return
        self.entries.add(key, sha256, size)


def _read_manifest(
    source: Path, scratch: sqlite3.Connection, revisions: set[str]
) -> dict[str, Any]:
    """The manifest's members; its file entries go to ``scratch``. ``revisions``: the schema
    revisions this trustyard knows (an export of a newer one is refused)."""
    if not source.is_dir():
        raise ExportInvalid(f"{source} is not a directory")
    path = source / MANIFEST
    if not path.is_file():
        raise ExportInvalid(f"{source} has no {MANIFEST}: not an export, or an incomplete one")
    listing = _Listing(scratch)
    try:
        manifest = read_manifest(path, listing)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ExportInvalid(f"{path} is not valid JSON: {exc}") from None
    listing.entries.flush()
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ExportInvalid(f"{path} is not a trustyard index export")
    version = manifest.get("version")
    if type(version) is not int or version not in FORMAT_TABLES:
        raise ExportInvalid(
            f"{path} has format version {version!r}; this trustyard reads versions"
            f" {', '.join(map(str, FORMAT_TABLES))}: import it with a newer trustyard"
        )
    if manifest.get("schema") not in revisions:
        raise ExportInvalid(
            f"the export is of schema {manifest.get('schema')!r}, which this trustyard (schema"
            f" {SCHEMA_HEAD}) does not know: import it with a trustyard at least as new as the"
            " one that exported it"
        )
    expected = FORMAT_TABLES[version]
    tables, files = manifest.get("tables"), manifest.get("files")
    if (
        not isinstance(tables, dict)
        or set(tables) != set(expected)
        or not all(isinstance(entry, dict) for entry in tables.values())
        or not isinstance(files, dict)
    ):
        raise ExportInvalid(f"{path} does not list the tables {list(expected)} and the files")
    if listing.problem:
        raise ExportInvalid(f"{path}: {listing.problem}")
    twice = scratch.execute("SELECT key FROM manifest WHERE listed > 1 ORDER BY key").fetchone()
    if twice:
        raise ExportInvalid(f"{path} lists files/{twice[0]} more than once")
    return manifest


def _read_table(
    source: Path, table: Table, entry: dict[str, Any], each: Callable[[int, dict[str, Any]], None]
) -> int:
    """Decode ``catalogue/<name>.jsonl`` a row at a time, passing each row to ``each`` with its
    line number; returns the row count.

    The file's SHA-256 and row count are checked at its end, and before any problem found in
    a row is reported: an altered file is reported as altered, not by its first odd line.
    """
    relative = f"catalogue/{table.name}.jsonl"
    path = source / relative
    if not path.is_file():
        raise ExportInvalid(f"missing {relative} (listed in the manifest)")
    digest, count = hashlib.sha256(), 0
    problem: ExportInvalid | None = None
    with path.open("rb") as handle:
        for line in handle:
            digest.update(line)
            count += 1
            if problem is None:
                try:
                    each(count, _decode(table, line, f"{relative} line {count}"))
                except ExportInvalid as exc:
                    problem = exc
    if digest.hexdigest() != entry.get("sha256"):
        raise ExportInvalid(f"{relative} does not match its SHA-256 in the manifest: altered")
    if problem is not None:
        raise problem
    if count != entry.get("rows"):
        raise ExportInvalid(f"{relative} has {count} rows, the manifest says {entry.get('rows')}")
    return count


def _scalar(value: Any) -> Any:
    """A catalogue value as SQLite can hold it; anything else as JSON text (which then
    matches no digest or size)."""
    if (
        value is None
        or isinstance(value, str)
        or (type(value) is int and -(1 << 63) <= value < 1 << 63)
    ):
        return value
    return json.dumps(value)


def _check_files(source: Path, scratch: sqlite3.Connection, pool: ThreadPoolExecutor) -> None:
    """Every exported file is listed, present and as the manifest says; records its BLAKE2."""
    prefix = os.path.join(source, "files", "")
    unlisted: str | None = None
    for folder, _dirs, names in os.walk(prefix):  # (far faster than rglob on 500,000 files)
        under = folder[len(prefix) :].replace(os.sep, "/")
        for name in names:
            key = f"{under}/{name}" if under else name
            found = scratch.execute("SELECT 1 FROM manifest WHERE key = ?", (key,)).fetchone()
            if found is None and (unlisted is None or key < unlisted):
                unlisted = key
    if unlisted is not None:
        raise ExportInvalid(f"files/{unlisted} is not listed in the manifest")

    def digest(item: tuple[str, str, int]) -> tuple[tuple[str, str, int], tuple[str, str, int]]:
        path = _file_target(source, item[0])
        if not os.path.isfile(path):
            raise ExportInvalid(
                f"missing files/{item[0]} (listed in the manifest): incomplete export"
            )
        return item, _digest(path)

    blakes = _Batches(scratch, "UPDATE manifest SET blake2 = ? WHERE key = ?")
    for (key, want_sha, want_size), (sha256, blake, size) in _bounded_map(
        pool, digest, _in_key_order(scratch)
    ):
        if sha256 != want_sha or size != want_size:
            raise ExportInvalid(
                f"files/{key} does not match the manifest (sha256 {sha256}, size {size};"
                f" expected {want_sha}, {want_size}): altered"
            )
        blakes.add(blake, key)
    blakes.flush()


def _check_references(scratch: sqlite3.Connection) -> None:
    """Every file row has its exported file (and metadata) with the row's digests and size,
    no two rows name one file, and every exported file is named by a row."""
    twice = scratch.execute(
        "SELECT path FROM catalogue GROUP BY path HAVING COUNT(*) > 1 ORDER BY path"
    ).fetchone()
    if twice:
        raise ExportInvalid(f"catalogue/files.jsonl names files/{twice[0]} in more than one row")
    checks = scratch.execute(
        "SELECT c.path, c.filename, c.sha256, c.size, c.blake2, c.metadata_sha256,"
        " f.sha256, f.size, f.blake2, m.sha256"
        " FROM catalogue AS c"
        " LEFT JOIN manifest AS f ON f.key = c.path"
        " LEFT JOIN manifest AS m ON m.key = c.path || '.metadata'"
        " ORDER BY c.line"
    )
    for key, filename, sha256, size, blake2, metadata, f_sha, f_size, f_blake, m_sha in checks:
        if f_sha is None:
            raise ExportInvalid(f"the catalogue lists {filename} but files/{key} is not exported")
        if f_sha != sha256 or f_size != size:
            raise ExportInvalid(f"files/{key} does not match the catalogue's SHA-256 of {filename}")
        if (
            not isinstance(blake2, str)
            or f_blake != blake2
            or not key.startswith(f"{blake2[:2]}/{blake2[2:4]}/{blake2[4:]}/")
        ):
            raise ExportInvalid(f"files/{key} does not match the catalogue's BLAKE2 of {filename}")
        if metadata is not None and m_sha != metadata:
            raise ExportInvalid(f"files/{key}.metadata is missing or does not match the catalogue")
    stray = scratch.execute(
        "SELECT key FROM manifest AS f"
        " WHERE NOT EXISTS (SELECT 1 FROM catalogue WHERE path = f.key)"
        " AND NOT (substr(key, -9) = '.metadata' AND EXISTS (SELECT 1 FROM catalogue"
        "  WHERE path = substr(f.key, 1, length(f.key) - 9) AND metadata_sha256 IS NOT NULL))"
        " ORDER BY key"
    ).fetchone()
    if stray:
        raise ExportInvalid(f"files/{stray[0]} is not referenced by the catalogue")


def verify_export(
    source: Path, scratch: sqlite3.Connection, manifest: dict[str, Any], tables: dict[str, Table]
) -> None:
    """Check every byte of an export against its manifest (read by :func:`_read_manifest`) and
    its catalogue, whose rows must fit ``tables``; the manifest's file entries are left in
    ``scratch``, digests included."""
    files = _Batches(scratch, "INSERT INTO catalogue VALUES (?, ?, ?, ?, ?, ?, ?)")

    def file_row(line: int, row: dict[str, Any]) -> None:
        """Keep the columns of a file row that the cross-checks need."""
        if not isinstance(row["path"], str):
            raise ExportInvalid(f"catalogue/files.jsonl line {line}: path is not a string")
        columns = ("filename", "sha256", "size", "blake2_256")
        metadata = row["metadata_sha256"] or None
        files.add(line, row["path"], *(_scalar(row[c]) for c in columns), _scalar(metadata))

    for name, entry in manifest["tables"].items():
        if name not in tables:
            raise ExportInvalid(f"the export's schema {manifest['schema']} has no table {name}")
        each = file_row if name == "files" else _ignore
        _read_table(source, tables[name], entry, each)
    files.flush()
    with ThreadPoolExecutor(max_workers=PLACERS) as pool:
        _check_files(source, scratch, pool)
    _check_references(scratch)


def _ignore(_line: int, _row: dict[str, Any]) -> None:
    """Rows of tables without cross-checks: decoding them is the check."""


# -- import ----------------------------------------------------------------------------------


def _reset_sequences(session: Session, names: Iterable[str]) -> None:
    """On PostgreSQL, move each id sequence past the imported ids (SQLite needs nothing)."""
    for name in names:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"  # noqa: S608 - constants
                f" COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
            )
        )


def import_index(
    db: Database,
    storage: Storage,
    source: Path,
    *,
    after_rows: Callable[[Session], None] | None = None,
) -> Summary:
    """Load a verified export into an index whose catalogue is empty.

    ``after_rows`` runs once the rows are in, inside their transaction when the export is at
    this code's revision (raising leaves the target empty), else after the migrations that
    bring them up: how the sealed TOTP keys are checked against this index's key file."""
    with db.read() as session:
        for name in TABLES:
            if name in SEEDED:
                continue
            count = session.execute(select(func.count()).select_from(_table(name))).scalar_one()
            if count:
                raise IndexNotEmpty(
                    f"the target index is not empty ({count} rows in {name}):"
                    " import only into a new index"
                )
    with _scratch(storage) as scratch:
        manifest = _read_manifest(source, scratch, db.known_revisions())
        revision = manifest["schema"]
        with _tables_at(storage, revision) as tables:
            verify_export(source, scratch, manifest, tables)
        _place_files(storage, source, scratch)
        files, total = scratch.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM manifest"
        ).fetchone()
    # The rows go in at the export's own revision; the migrations then bring them to the
    # newest, as they would an index upgraded in place. A failure leaves the target empty at
    # the newest revision again.
    order = [name for name in TABLES_ORDER if name in manifest["tables"]]
    older = revision != SCHEMA_HEAD
    if older:
        # The move down drops what later revisions seeded; a failed import puts it back.
        with db.read() as session:
            seeded = {
                name: [dict(row._mapping) for row in session.execute(select(_table(name)))]
                for name in SEEDED
            }
        db.move_to(revision)
    try:
        targets = _reflect(db) if older else {name: _table(name) for name in order}
        with db.write() as session:
            for name in SEEDED:
                if name in targets and name in manifest["tables"]:
                    session.execute(targets[name].delete())
            rows = {
                name: _insert_table(session, source, targets[name], manifest["tables"][name])
                for name in order
            }
            if not db.is_sqlite:
                _reset_sequences(session, [name for name in SEQUENCED if name in targets])
            if after_rows is not None and not older:
                after_rows(session)
    except BaseException:
        if older:
            db.migrate()
            with db.write() as session:
                for name, kept in seeded.items():
                    session.execute(_table(name).delete())
                    if kept:
                        session.execute(_table(name).insert(), kept)
        raise
    if older:
        db.migrate()  # the migrations bring the rows up, seeding what the export predates
        if not db.is_sqlite:
            with db.write() as session:
                _reset_sequences(session, SEQUENCED)
        if after_rows is not None:
            with db.write() as session:
                after_rows(session)
    # Rows went in without the journal's own notification: instances already serving this
    # database (PostgreSQL) drop their cached pages now, not at the next upload.
    with db.write() as session:
        journal.notify_change(session)
    return Summary(rows, files, total)


def _insert_table(session: Session, source: Path, table: Table, entry: dict[str, Any]) -> int:
    """Insert a table's rows, BATCH at a time, read again from the export: its digest is
    checked again at its end, before the transaction commits, so the rows inserted are the
    rows verified."""
    batch: list[dict[str, Any]] = []

    def insert(_line: int, row: dict[str, Any]) -> None:
        batch.append(row)
        if len(batch) >= BATCH:
            session.execute(table.insert(), batch)
            batch.clear()

    try:
        count = _read_table(source, table, entry, insert)
        if batch:
            session.execute(table.insert(), batch)
    except DBAPIError as exc:  # a duplicate id, a dangling reference, a value out of range
        reason = str(exc.orig).strip().splitlines()[0]
        raise ExportInvalid(
            f"catalogue/{table.name}.jsonl does not fit the schema: {reason}"
        ) from exc
    return count


def _place_files(storage: Storage, source: Path, scratch: sqlite3.Connection) -> None:
    """Copy every exported file into the store, checking its SHA-256 again on the way."""

    def place(item: tuple[str, str, int]) -> None:
        key, sha256, _size = item
        fd, spool = storage.spool_file()
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, open(_file_target(source, key), "rb") as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256:
                raise ExportInvalid(f"files/{key} changed while it was being imported")
        except BaseException:
            spool.unlink(missing_ok=True)
            raise
        # Content-addressed, into an empty catalogue: a key already there holds these bytes
        # (or damaged ones), so the store writes without checking first (no HEAD on S3).
        storage.put_deferred(key, spool)

    # Files are written side by side (an object store answers each PUT after a round trip)
    # and flushed to disk once, all before the first row commits: one sync for the whole
    # catalogue, not an fsync per file and per directory (500,000 files: hours otherwise).
    with ThreadPoolExecutor(max_workers=PLACERS) as pool:
        for _ in _bounded_map(pool, place, _in_key_order(scratch)):
            pass
    storage.sync()
