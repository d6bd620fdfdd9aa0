"""A cheap answer to "has anything been committed since I last looked?".

SQLite keeps a per-connection ``PRAGMA data_version`` that changes whenever another connection
(in this process or any other) commits; reading it costs microseconds and no transaction.

PostgreSQL has no such counter, and a serial read by the request (one round trip per page) is
what made cached pages slow there (issue 19). Every catalogue change is journalled, and the
journal notifies (:data:`CHANNEL`, ``NOTIFY``: delivered when, and only if, the transaction
commits, in commit order, to every instance listening on the database). A thread of each
process listens on a connection of its own and counts what it hears: the count is the token.
While that connection is down the token is None ("maybe changed": callers read the serial),
and the count moves on reconnecting, since notifications sent meanwhile were lost.
A change made on another instance is therefore seen here as soon as its notification arrives
(milliseconds on one network); tests/e2e measure it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger("trustyard")

CHANNEL = "trustyard_catalogue"  # PostgreSQL LISTEN/NOTIFY channel of catalogue changes
# How long the listener waits for notifications before it checks that it should go on, and
# how often it proves its connection alive (a dead peer would otherwise go unnoticed).
WAIT_SECONDS = 0.5
PING_SECONDS = 10.0
RETRY_SECONDS = 1.0


class _Listener:
    """A thread counting the notifications of :data:`CHANNEL` (PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._count = 0
        self._listening = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="trustyard-catalogue-changes", daemon=True
        )
        self._thread.start()

    def token(self) -> int | None:
        return self._count if self._listening else None

    def _connect(self) -> Any:
        dialect = self._engine.dialect
        cargs, cparams = dialect.create_connect_args(self._engine.url)
        connection = dialect.connect(*cargs, **cparams)
        connection.autocommit = True
        connection.execute(f"LISTEN {CHANNEL}")
        return connection

    def _run(self) -> None:
        while not self._stop.is_set():
            connection = None
            try:
                connection = self._connect()
                self._count += 1  # anything may have changed while nobody listened
                self._listening = True
                pinged = time.monotonic()
                while not self._stop.is_set():
                    for _ in connection.notifies(timeout=WAIT_SECONDS):
                        self._count += 1
                    if time.monotonic() - pinged > PING_SECONDS:
                        connection.execute("SELECT 1")
                        pinged = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - any failure: fall back, then retry
                if not self._stop.is_set():
                    log.warning("catalogue change notifications lost, retrying: %s", exc)
            finally:
                self._listening = False
                self._count += 1
                if connection is not None:
                    with contextlib.suppress(Exception):  # closing a broken connection
                        connection.close()
            self._stop.wait(RETRY_SECONDS)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5 * WAIT_SECONDS)


class ChangeProbe:
    """Reports a token that stays equal for as long as the database is unchanged."""

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        self._engine = engine
        self._connection = engine.raw_connection() if engine.dialect.name == "sqlite" else None
        self._listener: _Listener | None = None
        self._closed = False

    def token(self) -> int | None:
        """The current change token, or None when this database cannot tell now."""
        if self._connection is None:
            return self._notified()
        with self._lock:
            cursor = self._connection.cursor()
            try:
                cursor.execute("PRAGMA data_version")
                row = cursor.fetchone()
            finally:
                cursor.close()
        return int(row[0]) if row else None

    def _notified(self) -> int | None:
        """PostgreSQL: the listener's count, the listener started on first use (a command
        that never serves a page never opens its connection)."""
        listener = self._listener
        if listener is None:
            if self._closed or self._engine.dialect.name != "postgresql":
                return None
            with self._lock:
                if self._listener is None:
                    self._listener = _Listener(self._engine)
                listener = self._listener
        return listener.token()

    def close(self) -> None:
        """Give the probe's connection back and stop listening."""
        self._closed = True
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
