"""Connections to the catalogue: engine set-up per backend, read and write sessions, migrations.

SQLite runs in WAL mode so readers never wait for the writer; write transactions start with
``BEGIN IMMEDIATE`` so that concurrent uploads serialise instead of failing at commit time.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from trustyard.index.db.migrations import SCHEMA_HEAD

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
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=20)
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if self.is_sqlite else nullcontext()
        )
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writers = {
            durable: sessionmaker(
                self.engine.execution_options(**{_WRITE: True, _DURABLE: durable}),
                expire_on_commit=False,
            )
            for durable in (True, False)
        }

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads only; it is rolled back at the end."""
        with self._reader() as session:
            try:
                yield session
            finally:
                session.rollback()

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

    def dispose(self) -> None:
        """Close every pooled connection."""
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
        """The schema revision recorded in the database (None for an empty database)."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except (OperationalError, ProgrammingError):
            return None
        return None if row is None else str(row[0])

    def migrate(self) -> None:
        """Bring the schema up to the newest revision (Alembic ``upgrade head``)."""
        if self.current_revision() == SCHEMA_HEAD:
            return
        from alembic import command  # noqa: PLC0415

        command.upgrade(self.alembic_config(), "head")

    def schema_status(self) -> tuple[str | None, str]:
        """The database's current revision and the newest one this code knows."""
        return self.current_revision(), SCHEMA_HEAD
