"""A cheap answer to "has anything been committed since I last looked?".

SQLite keeps a per-connection ``PRAGMA data_version`` that changes whenever another connection
(in this process or any other) commits; reading it costs microseconds and no transaction. Other
databases have no such counter, so for them every check answers "maybe" and callers fall back
to reading the serial they depend on.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine


class ChangeProbe:
    """Reports a token that stays equal for as long as the database is unchanged."""

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        self._connection = engine.raw_connection() if engine.dialect.name == "sqlite" else None

    def token(self) -> int | None:
        """The current change token, or None when this database cannot tell."""
        if self._connection is None:
            return None
        with self._lock:
            cursor = self._connection.cursor()
            try:
                cursor.execute("PRAGMA data_version")
                row = cursor.fetchone()
            finally:
                cursor.close()
        return int(row[0]) if row else None

    def close(self) -> None:
        """Give the probe's connection back."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
