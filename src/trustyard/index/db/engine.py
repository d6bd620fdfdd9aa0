"""Connections to the catalogue: engine set-up per backend, read and write sessions, migrations.

SQLite runs in WAL mode so readers never wait for the writer; write transactions start with
``BEGIN IMMEDIATE`` so that concurrent uploads serialise instead of failing at commit time.
On PostgreSQL, read sessions run at REPEATABLE READ (one snapshot, as on SQLite) and write
sessions at READ COMMITTED; writers that must not race (two uploads of one project) serialise
on a transaction-scoped advisory lock (:meth:`Database.serialise`), after which each statement
sees every earlier writer's commit, and unique constraints decide any conflict that still gets
through.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from trustyard.errors import ConfigurationError, Error
from trustyard.index.db.migrations import SCHEMA_HEAD

T = TypeVar("T")
Job = Callable[[Session], T]
MAX_BATCH = 64  # jobs per shared write; the rest wait for the next one

# An arbitrary constant: the session-level advisory lock that makes concurrent migrations wait.
_MIGRATION_LOCK = 0x7472757374796172  # "trustyar"


class DatabaseUnavailable(Error):
    """The catalogue's database cannot be reached, or refuses our credentials."""

    status = 503


def database_url(url: str) -> str:
    """``url`` with PostgreSQL's plain schemes mapped to the psycopg (3) driver we ship.

    SQLAlchemy maps ``postgresql://`` to psycopg2, which trustyard does not depend on; operators
    write the plain form, so it means psycopg here.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"not a database URL: {url!r}") from exc
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigurationError(
            f"unsupported database {parsed.drivername!r}: use sqlite:/// or postgresql://"
        )
    return parsed.render_as_string(hide_password=False)


def _unavailable(url: str, exc: BaseException) -> DatabaseUnavailable:
    """One line saying which database failed and the driver's first line of why."""
    shown = make_url(url).render_as_string(hide_password=True)
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return DatabaseUnavailable(f"cannot use the database {shown}: {reason}")


_WRITE = "trustyard_write"
_DURABLE = "trustyard_durable"


def _configure_sqlite(engine: Engine) -> None:
    """Pragmas and explicit transaction control for SQLite (pysqlite's own is unreliable)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(_WRITE, False):
            durable = options.get(_DURABLE, True)
            conn.exec_driver_sql(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


class Database:
    """The catalogue: one engine, and sessions for reading or for one atomic write."""

    def __init__(self, url: str) -> None:
        url = database_url(url)
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20
            )
            _configure_sqlite(self.engine)
        else:
            try:
                self.engine = create_engine(
                    url,
                    pool_pre_ping=True,
                    pool_size=20,
                    # Times are stored naive in UTC; the session zone must not shift them.
                    # Every run is planned for its own parameters: psycopg prepares a statement
                    # after its fifth run, and a generic plan then fits no search (a two-letter
                    # word read the whole name trigram index: services/search.py).
                    connect_args={
                        "options": "-c timezone=UTC -c plan_cache_mode=force_custom_plan",
                        "connect_timeout": 10,
                    },
                )
            except NoSuchModuleError as exc:
                raise ConfigurationError(f"no driver for the database URL: {exc}") from exc
        self._closers: list[Callable[[], None]] = []
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if self.is_sqlite else nullcontext()
        )
        # A read session sees one snapshot, as SQLite's read transactions do: at PostgreSQL's
        # READ COMMITTED a check of several statements could see a commit made between them.
        reading = (
            self.engine
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="REPEATABLE READ")
        )
        self._reading = reading
        self._reader = sessionmaker(reading, expire_on_commit=False)
        self._batch: list[tuple[Job[Any], Future[Any]]] = []
        self._batch_guard = threading.Lock()  # guards _batch
        self._batch_leader = threading.Lock()  # held by the thread running a shared write
        self._writers = {
            durable: sessionmaker(
                self.engine.execution_options(**{_WRITE: True, _DURABLE: durable}),
                expire_on_commit=False,
            )
            for durable in (True, False)
        }

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads only, seeing one snapshot throughout; rolled back at the end."""
        with self._reader() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """:meth:`read` as a Core connection, for hot paths that hold no ORM objects (the
        mint's issuer check: issue 19): an ORM session's setup cost more than its query."""
        with self._reading.connect() as connection:
            connection.begin()
            try:
                yield connection
            finally:
                connection.rollback()

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Session]:
        """A session whose changes commit together at the end, or not at all.

        ``durable=False`` skips the fsync at commit (SQLite ``synchronous=NORMAL`` in WAL mode):
        the change survives a crash of the process, not necessarily a power loss.

        On SQLite, writers of this process queue on a lock first: SQLite itself has one writer
        at a time, and its busy handler polls with sleeps that turn contention into long tails.
        """
        with self._write_lock, self._writers[durable]() as session, session.begin():
            yield session

    def write_batched(self, job: Job[T], *, durable: bool = True) -> T:
        """``job(session)`` in a write shared with the jobs other threads submit meanwhile
        (group commit), in a savepoint of its own: a job that raises is rolled back alone,
        and its exception is raised here; what the others did commits.

        SQLite has one writer: jobs queued while it is busy go into the next write together,
        run by whichever waiting thread takes the lead, so that a burst of small writes (the
        mint: issue 19) pays one ``BEGIN IMMEDIATE`` and one commit, not one each. On
        PostgreSQL each job gets a write of its own: jobs take advisory locks
        (:meth:`serialise`) in their own orders, which one shared transaction could deadlock
        against another instance's.
        """
        if not self.is_sqlite:
            with self.write(durable=durable) as session:
                return job(session)
        future: Future[T] = Future()
        with self._batch_guard:
            self._batch.append((job, future))
        while not future.done():
            with self._batch_leader:
                with self._batch_guard:
                    jobs, self._batch = self._batch[:MAX_BATCH], self._batch[MAX_BATCH:]
                if jobs:
                    self._run_batch(jobs, durable=durable)
        return future.result()

    def _run_batch(self, jobs: list[tuple[Job[Any], Future[Any]]], *, durable: bool) -> None:
        """Run ``jobs`` in one write, each in a savepoint; settle their futures after the
        commit (or all with the commit's error). A job alone needs no savepoint: its error
        rolls the whole write back, which holds nothing else (two statements and an ORM
        nested transaction less per exchange when exchanges do not overlap: issue 19)."""
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self.write(durable=durable) as session:
                if len(jobs) == 1:
                    job, future = jobs[0]
                    outcomes.append((future, job(session), None))
                else:
                    for job, future in jobs:
                        try:
                            with session.begin_nested():
                                outcomes.append((future, job(session), None))
                        except Exception as exc:  # noqa: BLE001 - handed to the job's caller
                            outcomes.append((future, None, exc))
        except BaseException as exc:  # the shared write failed: every job did
            for _job, future in jobs:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for future, result, error in outcomes:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

    def serialise(self, session: Session, name: str) -> None:
        """Make writers that name the same thing take turns, until ``session`` commits.

        SQLite needs nothing: ``BEGIN IMMEDIATE`` already admits one writer at a time. On
        PostgreSQL a transaction-scoped advisory lock on a 64-bit hash of ``name`` does it, so
        that a check-then-insert inside the transaction sees every earlier writer's commit.
        """
        if self.is_sqlite:
            return
        key = int.from_bytes(
            hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
        )
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def on_dispose(self, close: Callable[[], None]) -> None:
        """Have :meth:`dispose` call ``close`` first (a connection held outside the pool, such
        as the page cache's change listener: db/changes.py)."""
        self._closers.append(close)

    def dispose(self) -> None:
        """Close every pooled connection (and those registered with :meth:`on_dispose`)."""
        closers, self._closers = self._closers, []
        for close in closers:
            close()
        self.engine.dispose()

    # -- schema -------------------------------------------------------------------------------

    def alembic_config(self) -> Any:
        """Alembic's configuration for this database (Alembic is imported only when needed)."""
        from alembic.config import Config  # noqa: PLC0415 - a second of start-up otherwise

        config = Config()
        config.set_main_option("script_location", "trustyard.index.db:migrations")
        config.attributes["engine"] = self.engine
        return config

    def current_revision(self) -> str | None:
        """The schema revision recorded in the database (None for an empty database).

        A database that cannot be reached is an error, never "empty": that would send an
        operator to migrate the wrong thing.
        """
        try:
            with self.engine.connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except DBAPIError as exc:
            raise _unavailable(self.url, exc) from exc
        return None if row is None else str(row[0])

    def migrate(self) -> None:
        """Bring the schema up to the newest revision (Alembic ``upgrade head``).

        On PostgreSQL a session-level advisory lock makes instances that start together take
        turns; the second finds the schema current and does nothing.
        """
        if self.current_revision() == SCHEMA_HEAD:
            return
        from alembic import command  # noqa: PLC0415

        try:
            with self.engine.connect() as lock:
                if not self.is_sqlite:
                    lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
                    lock.commit()
                try:
                    if self.current_revision() != SCHEMA_HEAD:
                        command.upgrade(self.alembic_config(), "head")
                finally:
                    if not self.is_sqlite:
                        lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                        lock.commit()
        except DBAPIError as exc:
            raise _unavailable(self.url, exc) from exc

    def move_to(self, revision: str) -> None:
        """Bring the schema to ``revision``, up or down. Only for a database whose catalogue is
        empty (the import of an older export, and the scratch database that checks it): a
        downgrade drops what later revisions added."""
        from alembic import command  # noqa: PLC0415
        from alembic.script import ScriptDirectory  # noqa: PLC0415

        config = self.alembic_config()
        current = self.current_revision()
        if current == revision:
            return
        older = current is not None and any(
            script.revision == revision
            for script in ScriptDirectory.from_config(config).iterate_revisions(current, "base")
        )
        try:
            if older:
                command.downgrade(config, revision)
            else:
                command.upgrade(config, revision)
        except DBAPIError as exc:
            raise _unavailable(self.url, exc) from exc

    def known_revisions(self) -> set[str]:
        """Every revision in this code's migrations (to tell "behind" from "ahead")."""
        from alembic.script import ScriptDirectory  # noqa: PLC0415

        scripts = ScriptDirectory.from_config(self.alembic_config())
        return {script.revision for script in scripts.walk_revisions()}

    def schema_status(self) -> tuple[str | None, str]:
        """The database's current revision and the newest one this code knows."""
        return self.current_revision(), SCHEMA_HEAD
