"""The project search table's companions that only SQL can say: triggers, FTS5, pg_trgm.

``project_search`` (one row per project: its names, newest version and newest summary) is
derived data. The database keeps it in step itself, with triggers on ``projects`` and
``releases``, so every writer (uploads, the admin CLI, ``admin import``, a migration, a hand
edit) is covered without service code remembering it. On SQLite an FTS5 table with the
trigram tokenizer (SQLite 3.34+, https://sqlite.org/fts5.html#the_trigram_tokenizer) indexes
it as external content, synced by the canonical external-content triggers; on PostgreSQL a
GIN ``pg_trgm`` index (https://www.postgresql.org/docs/current/pgtrgm.html) serves the same
substring ``LIKE`` when the extension can be created, and a sequential scan of the compact
table serves it when it cannot (``CREATE EXTENSION`` needs the database's CREATE privilege).

"Newest" is by upload order (``created``, then ``id``), as the search results have always
shown. On SQLite, an Alembic batch migration that *recreates* ``projects`` or ``releases``
drops their triggers: such a migration must call :func:`install_triggers` again
(``tests/index/services/test_search.py`` fails at the head revision if it does not).
"""

# ruff: noqa: S608 - every statement here is built from this module's constants alone

from __future__ import annotations

import logging

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

SEARCH_TABLE = "project_search"
FTS_TABLE = "project_search_fts"  # SQLite; FTS5 adds FTS_TABLE_data, _idx, _docsize, _config
TRGM_INDEX = "ix_project_search_trgm"  # PostgreSQL, where pg_trgm is available
# PostgreSQL (migration 0017): the names alone, so that a name fragment's candidates are names
# that hold its trigrams, not every summary that does; and the names in byte order ("C"), the
# order SQLite compares in, so that a prefix is one range of it and each ranked group walks it.
NAME_TRGM_INDEX = "ix_project_search_name_trgm"
NAME_C_INDEX = "ix_project_search_name_c"
# How the search spells a name in byte order; NAME_C_INDEX is on exactly this expression.
PG_NAME_C = 'normalized_name COLLATE "C"'
# The PostgreSQL text the trigram index covers; the search's WHERE clause spells it the same.
PG_HAYSTACK = "lower(name || ' ' || normalized_name || ' ' || summary)"


def is_schema_object(name: str | None, type_: str, _parents: object = None) -> bool:
    """Whether Alembic's autogenerate should compare ``name`` (its ``include_name`` hook): not
    the FTS5 table and its shadow tables, nor PostgreSQL's search indexes, which the models
    cannot describe (one exists only where pg_trgm does)."""
    if type_ == "table" and name is not None and name.startswith(FTS_TABLE):
        return False
    return not (type_ == "index" and name in {TRGM_INDEX, NAME_TRGM_INDEX, NAME_C_INDEX})


def _newest(column: str) -> str:
    return (
        f"(SELECT {column} FROM releases AS r WHERE r.project_id = {{pid}}"
        " ORDER BY r.created DESC, r.id DESC LIMIT 1)"
    )


_SQLITE_SUMMARY = _newest("CAST(json_extract(r.core_metadata, '$.summary') AS TEXT)")
_PG_SUMMARY = _newest("r.core_metadata ->> 'summary'")
_VERSION = _newest("r.version")


def _refresh(pid: str, summary: str) -> str:
    """Set the newest version and summary of project ``pid`` (both '' without releases)."""
    return (
        f"UPDATE {SEARCH_TABLE} SET version = coalesce({_VERSION.format(pid=pid)}, ''),"
        f" summary = coalesce({summary.format(pid=pid)}, '') WHERE project_id = {pid}"
    )


def _fill(summary: str) -> str:
    """Rows for the projects that exist (a migration over an existing catalogue)."""
    return (
        f"INSERT INTO {SEARCH_TABLE} (project_id, name, normalized_name, version, summary)"
        f" SELECT p.id, p.name, p.normalized_name, coalesce({_VERSION.format(pid='p.id')}, ''),"
        f" coalesce({summary.format(pid='p.id')}, '') FROM projects AS p"
    )


_FTS_COLUMNS = "name, normalized_name, summary"

SQLITE_FTS = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({_FTS_COLUMNS}, content='{SEARCH_TABLE}',"
    " content_rowid='project_id', tokenize='trigram')",
    # https://sqlite.org/fts5.html#external_content_tables: the index follows its content.
    f"CREATE TRIGGER {SEARCH_TABLE}_ai AFTER INSERT ON {SEARCH_TABLE} BEGIN"
    f" INSERT INTO {FTS_TABLE} (rowid, {_FTS_COLUMNS})"
    " VALUES (new.project_id, new.name, new.normalized_name, new.summary); END",
    f"CREATE TRIGGER {SEARCH_TABLE}_ad AFTER DELETE ON {SEARCH_TABLE} BEGIN"
    f" INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, {_FTS_COLUMNS})"
    " VALUES ('delete', old.project_id, old.name, old.normalized_name, old.summary); END",
    f"CREATE TRIGGER {SEARCH_TABLE}_au AFTER UPDATE ON {SEARCH_TABLE} BEGIN"
    f" INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, {_FTS_COLUMNS})"
    " VALUES ('delete', old.project_id, old.name, old.normalized_name, old.summary);"
    f" INSERT INTO {FTS_TABLE} (rowid, {_FTS_COLUMNS})"
    " VALUES (new.project_id, new.name, new.normalized_name, new.summary); END",
]

SQLITE_TRIGGERS = [
    "CREATE TRIGGER projects_search_ai AFTER INSERT ON projects BEGIN"
    f" INSERT INTO {SEARCH_TABLE} (project_id, name, normalized_name, version, summary)"
    " VALUES (new.id, new.name, new.normalized_name, '', ''); END",
    "CREATE TRIGGER projects_search_au AFTER UPDATE OF name, normalized_name ON projects BEGIN"
    f" UPDATE {SEARCH_TABLE} SET name = new.name, normalized_name = new.normalized_name"
    " WHERE project_id = new.id; END",
    "CREATE TRIGGER projects_search_ad AFTER DELETE ON projects BEGIN"
    f" DELETE FROM {SEARCH_TABLE} WHERE project_id = old.id; END",
    "CREATE TRIGGER releases_search_ai AFTER INSERT ON releases BEGIN"
    f" {_refresh('new.project_id', _SQLITE_SUMMARY)}; END",
    "CREATE TRIGGER releases_search_ad AFTER DELETE ON releases BEGIN"
    f" {_refresh('old.project_id', _SQLITE_SUMMARY)}; END",
    "CREATE TRIGGER releases_search_au"
    " AFTER UPDATE OF project_id, version, created, core_metadata ON releases BEGIN"
    f" {_refresh('old.project_id', _SQLITE_SUMMARY)};"
    f" {_refresh('new.project_id', _SQLITE_SUMMARY)}; END",
]
SQLITE_TRIGGER_NAMES = [
    "projects_search_ai",
    "projects_search_au",
    "projects_search_ad",
    "releases_search_ai",
    "releases_search_ad",
    "releases_search_au",
]

PG_TRIGGERS = [
    "CREATE FUNCTION project_search_refresh(pid integer) RETURNS void LANGUAGE sql AS $$"
    f" {_refresh('pid', _PG_SUMMARY)} $$",
    "CREATE FUNCTION project_search_on_release() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    " IF TG_OP <> 'INSERT' THEN PERFORM project_search_refresh(OLD.project_id); END IF;"
    " IF TG_OP <> 'DELETE' THEN PERFORM project_search_refresh(NEW.project_id); END IF;"
    " RETURN NULL; END $$",
    "CREATE FUNCTION project_search_on_project() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    " IF TG_OP = 'INSERT' THEN"
    f" INSERT INTO {SEARCH_TABLE} (project_id, name, normalized_name, version, summary)"
    " VALUES (NEW.id, NEW.name, NEW.normalized_name, '', '');"
    " ELSIF TG_OP = 'UPDATE' THEN"
    f" UPDATE {SEARCH_TABLE} SET name = NEW.name, normalized_name = NEW.normalized_name"
    " WHERE project_id = NEW.id;"
    f" ELSE DELETE FROM {SEARCH_TABLE} WHERE project_id = OLD.id;"
    " END IF; RETURN NULL; END $$",
    "CREATE TRIGGER releases_search AFTER INSERT OR DELETE"
    " OR UPDATE OF project_id, version, created, core_metadata ON releases"
    " FOR EACH ROW EXECUTE FUNCTION project_search_on_release()",
    "CREATE TRIGGER projects_search AFTER INSERT OR DELETE"
    " OR UPDATE OF name, normalized_name ON projects"
    " FOR EACH ROW EXECUTE FUNCTION project_search_on_project()",
]


def install_triggers(conn: Connection) -> None:
    """(Re)create the triggers that keep ``project_search`` in step with the catalogue."""
    if conn.dialect.name == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        for statement in SQLITE_TRIGGERS:
            conn.execute(text(statement))
        return
    conn.execute(text("DROP TRIGGER IF EXISTS releases_search ON releases"))
    conn.execute(text("DROP TRIGGER IF EXISTS projects_search ON projects"))
    for function in ("project_search_on_release", "project_search_on_project"):
        conn.execute(text(f"DROP FUNCTION IF EXISTS {function}()"))
    conn.execute(text("DROP FUNCTION IF EXISTS project_search_refresh(integer)"))
    for statement in PG_TRIGGERS:
        conn.execute(text(statement))


def _with_pg_trgm(conn: Connection, index: str, definition: str) -> bool:
    """Create pg_trgm (if we may) and then ``index``; False, changing nothing, if we may not."""
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except DBAPIError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        log.warning(
            "project search without the trigram index %s (pg_trgm could not be created: %s);"
            " searches scan the project_search table instead. To add it later, run as a"
            " privileged role: CREATE EXTENSION pg_trgm; CREATE INDEX %s ON %s USING gin (%s);",
            index,
            reason,
            index,
            SEARCH_TABLE,
            definition,
        )
        return False
    conn.execute(text(f"CREATE INDEX {index} ON {SEARCH_TABLE} USING gin ({definition})"))
    return True


def _create_trigram_index(conn: Connection) -> bool:
    """The trigram index of names and summaries (migration 0012), where pg_trgm may be."""
    return _with_pg_trgm(conn, TRGM_INDEX, f"({PG_HAYSTACK}) gin_trgm_ops")


def install_name_indexes(conn: Connection) -> None:
    """PostgreSQL's indexes of names alone (migration 0017); nothing on SQLite, whose FTS5
    table and binary-ordered name index already serve the same queries.

    The byte-ordered index always; the trigram index where pg_trgm is (or may be) installed.
    """
    if conn.dialect.name == "sqlite":
        return
    # Covering, so that a walk reads the index alone (an index-only scan).
    conn.execute(
        text(
            f"CREATE INDEX {NAME_C_INDEX} ON {SEARCH_TABLE} (({PG_NAME_C}))"
            " INCLUDE (project_id, normalized_name)"
        )
    )
    _with_pg_trgm(conn, NAME_TRGM_INDEX, "normalized_name gin_trgm_ops")


def uninstall_name_indexes(conn: Connection) -> None:
    """Remove what :func:`install_name_indexes` made."""
    if conn.dialect.name == "sqlite":
        return
    conn.execute(text(f"DROP INDEX IF EXISTS {NAME_TRGM_INDEX}"))
    conn.execute(text(f"DROP INDEX IF EXISTS {NAME_C_INDEX}"))


def install(conn: Connection) -> None:
    """Index the catalogue's projects: the text index, the triggers, then the existing rows.

    The table itself is created by the migration (it is in the models); this adds what the
    models cannot describe and fills the table from the catalogue as it is.
    """
    if conn.dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            conn.execute(text(statement))
        install_triggers(conn)
        conn.execute(text(_fill(_SQLITE_SUMMARY)))  # the FTS triggers index each row
        return
    install_triggers(conn)
    conn.execute(text(_fill(_PG_SUMMARY)))
    _create_trigram_index(conn)  # after the fill: one index build, not 50,000 updates


def uninstall(conn: Connection) -> None:
    """Remove everything :func:`install` made (the table goes with the migration)."""
    if conn.dialect.name == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        for suffix in ("ai", "ad", "au"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_{suffix}"))
        conn.execute(text(f"DROP TABLE IF EXISTS {FTS_TABLE}"))
        return
    conn.execute(text("DROP TRIGGER IF EXISTS releases_search ON releases"))
    conn.execute(text("DROP TRIGGER IF EXISTS projects_search ON projects"))
    conn.execute(text("DROP FUNCTION IF EXISTS project_search_on_release()"))
    conn.execute(text("DROP FUNCTION IF EXISTS project_search_on_project()"))
    conn.execute(text("DROP FUNCTION IF EXISTS project_search_refresh(integer)"))
    conn.execute(text(f"DROP INDEX IF EXISTS {TRGM_INDEX}"))
