"""Project search: one bounded SQL statement over the derived ``project_search`` table.

A project matches when every whitespace-separated word of the query is a substring of its
name, its normal form (PEP 503) or its newest release's summary, in any case: the semantics
the search page always had, now found by a text index instead of a walk over the catalogue
(issue 14, finding 7). Words of three characters or more go to the index (FTS5 trigram on
SQLite, pg_trgm on PostgreSQL); shorter ones filter what it found (or, alone, scan the one
compact table). Name matches rank first, as Warehouse boosts its ``name`` field over
``summary`` (warehouse/search/queries.py): the exact name, names that start with the query,
names that contain every word, then summaries; alphabetical within each group. Pages of
:data:`PAGE_SIZE`, at most :data:`MAX_PAGE` of them (Warehouse stops at its 10,000th hit).

The query's words reach the database only as bound parameters: quoted as FTS5 strings
(``"`` doubled) on SQLite, with ``%``, ``_`` and ``\\`` escaped for ``LIKE`` on PostgreSQL, so no
character of a query is an operator on either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from trustyard.dists.names import is_valid_project_name, normalize_name
from trustyard.errors import InvalidInput
from trustyard.index.db.search_schema import FTS_TABLE, PG_HAYSTACK, SEARCH_TABLE

PAGE_SIZE = 100
MAX_PAGE = 100
# FTS5's trigram tokenizer indexes runs of three characters; shorter words cannot use it.
TRIGRAM = 3


@dataclass(frozen=True)
class ProjectHit:
    """A project as the home page and the search results list it."""

    name: str
    version: str
    summary: str


@dataclass(frozen=True)
class SearchPage:
    """One page of results; ``more`` says whether a next page has any."""

    hits: list[ProjectHit]
    page: int
    more: bool


def _fts_string(word: str) -> str:
    """``word`` as an FTS5 string: the whole word, matched as a substring, never syntax."""
    return '"' + word.replace('"', '""') + '"'


def _like_pattern(word: str) -> str:
    """``%word%`` for ``LIKE ... ESCAPE '\\'``, with the word's own wildcards escaped."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _statement(dialect: str, words: list[str]) -> tuple[str, dict[str, Any]]:
    """The SQL of one search and its parameters (the words only ever as parameters)."""
    joined = "-".join(words)
    # A query that is no project name can still rank nothing as "exact" (bound, never SQL).
    exact = normalize_name(joined) if is_valid_project_name(joined) else joined
    params: dict[str, Any] = {"exact": exact}
    names_text = "lower(name || ' ' || normalized_name)"
    in_name: list[str] = []
    where: list[str] = []
    sqlite = dialect == "sqlite"
    for number, word in enumerate(words):
        key = f"w{number}"
        params[key] = word
        finder = "instr" if sqlite else "strpos"
        in_name.append(f"{finder}({names_text}, lower(:{key})) > 0")
        if sqlite and len(word) < TRIGRAM:
            where.append(
                f"instr(lower(name || ' ' || normalized_name || ' ' || summary), lower(:{key})) > 0"
            )
        elif not sqlite:
            params[f"p{number}"] = _like_pattern(word)
            where.append(f"{PG_HAYSTACK} LIKE lower(:p{number}) ESCAPE '\\'")
    long_words = [w for w in words if len(w) >= TRIGRAM]
    if sqlite and long_words:
        params["fts"] = " ".join(_fts_string(w) for w in long_words)
        matching = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts"  # noqa: S608
        where.append(f"project_id IN ({matching})")
    rank = (
        "CASE WHEN normalized_name = :exact THEN 0"
        " WHEN substr(normalized_name, 1, length(:exact)) = :exact THEN 1"
        f" WHEN {' AND '.join(in_name)} THEN 2 ELSE 3 END"
    )
    sql = (
        f"SELECT name, version, summary FROM {SEARCH_TABLE}"  # noqa: S608 - words are bound
        f" WHERE {' AND '.join(where)}"
        f" ORDER BY {rank}, normalized_name LIMIT :limit OFFSET :offset"
    )
    return sql, params


def search_projects(session: Session, query: str, page: int = 1) -> SearchPage:
    """Page ``page`` (from 1) of the projects matching every word of ``query``."""
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page must be between 1 and {MAX_PAGE}, not {page}")
    words = query.split()
    # No stored text holds a NUL (PostgreSQL cannot), and libpq cannot send one.
    if not words or "\x00" in query:
        return SearchPage([], page, more=False)
    sql, params = _statement(session.get_bind().dialect.name, words)
    params.update(limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    rows = session.execute(text(sql), params).all()
    hits = [ProjectHit(str(name), str(version), str(summary)) for name, version, summary in rows]
    return SearchPage(hits[:PAGE_SIZE], page, more=len(hits) > PAGE_SIZE)
