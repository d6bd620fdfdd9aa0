"""Project search: one bounded SQL statement over the derived ``project_search`` table.

A project matches when every whitespace-separated word of the query is a substring of its
name, its normal form (PEP 503) or its newest release's summary, in any case: the semantics
the search page always had, now found by a text index instead of a walk over the catalogue
(issue 14, finding 7); a word also matches in its PEP 503 form (``_`` and ``.`` as ``-``).
Words of three characters or more go to the index (FTS5 trigram on SQLite, pg_trgm on
PostgreSQL); shorter ones filter what it found. A query of only one- and two-character words
looks in names only: no text index serves it, and it would match almost every summary (the
one narrowing of the old semantics). Name matches rank first, as Warehouse boosts its
``name`` field over ``summary`` (warehouse/search/queries.py): the exact name, names that
start with the query, names that contain every word, then summaries; alphabetical within
each group. Pages of :data:`PAGE_SIZE`, at most :data:`MAX_PAGE` of them, so that no request
pages through the whole catalogue. The private projects a reader may not read
(``read_access.hidden_from``, issue 20) are left out inside each group, before its cut, as one
bound JSON array: a page costs the same whether none or thousands of them are hidden.

The query's words reach the database only as bound parameters: quoted as FTS5 strings
(``"`` doubled) on SQLite, with ``%``, ``_`` and ``\\`` escaped for ``LIKE`` on PostgreSQL, so no
character of a query is an operator on either.
"""

# ruff: noqa: S608 - the SQL is built from constants and numbered placeholders; words are bound

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from trustyard.dists.names import is_valid_project_name, normalize_name
from trustyard.errors import InvalidInput
from trustyard.index.db.models import Project, ProjectSearch
from trustyard.index.db.search_schema import FTS_TABLE, PG_HAYSTACK, PG_NAME_C, SEARCH_TABLE
from trustyard.index.services import hidden_ids

PAGE_SIZE = 100
MAX_PAGE = 100
# FTS5's trigram tokenizer indexes runs of three characters; shorter words cannot use it.
TRIGRAM = 3
# Up to this many rows found by the text index are sorted; beyond it, walking the name index
# finds a page sooner (about PAGE_SIZE x catalogue / found rows visited).
FEW = 2000
# PostgreSQL: the trigram index is asked for at most this many characters of a word (the rows it
# finds are then tested for the whole word). It reads one posting list per trigram, so past
# about ten trigrams more of them cost more than the rows they rule out: at 50,000 projects,
# finding a 26-character name took 21-24 ms with all of it and 11 ms with 12 characters, while
# an 11-character word took 8 ms whole and 22-39 ms with only 6.
PG_INDEXED_CHARS = 12


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


_NAME_SEPARATORS = re.compile(r"[-_.]+")


def _in_names(word: str) -> str:
    """``word`` as it would appear in a PEP 503 normal form (``_`` and ``.`` are ``-``)."""
    return _NAME_SEPARATORS.sub("-", word.lower())


def _exact(words: list[str]) -> str | None:
    """The query as one project name in PEP 503 form, if it can be one."""
    joined = "-".join(words)
    return normalize_name(joined) if is_valid_project_name(joined) else None


def _statement(
    dialect: str, words: list[str], wanted: int, visible: str
) -> tuple[str, dict[str, Any]]:
    """The SQL of one search and its parameters (the words only ever as parameters).

    Four ranked groups, each cut at ``wanted`` rows in name order, so that none sorts more
    than a page's worth (a common word can match most of the catalogue): the exact name,
    names that start with the query, names that contain every word (in PEP 503 form, so
    ``_``, ``.`` and ``-`` are one), then projects whose summary holds the words the name
    does not. The first three walk the name index alone. A query of only one- and
    two-character words, which no text index can serve and which would match almost every
    summary, looks in names only.
    """
    if dialect != "sqlite":
        return _pg_statement(words, wanted, visible)
    params: dict[str, Any] = {"wanted": wanted}
    in_names = []
    for number, word in enumerate(words):
        params[f"n{number}"] = _in_names(word)
        in_names.append(f"instr(normalized_name, :n{number}) > 0")
    names_match = " AND ".join(in_names)
    exact = _exact(words)
    ordered = " ORDER BY normalized_name LIMIT :wanted"
    columns = "project_id, normalized_name"  # what the name index holds, so walks read no rows
    groups = []
    if exact is not None:
        params.update(exact=exact, exact_end=exact + "~")  # "~" sorts after a normal form's
        prefix = "normalized_name > :exact AND normalized_name < :exact_end"
        groups.append(
            f"SELECT 0 AS rank, {columns} FROM {SEARCH_TABLE}"
            f" WHERE normalized_name = :exact{visible}"
        )
        groups.append(
            f"SELECT 1 AS rank, {columns} FROM {SEARCH_TABLE} WHERE {prefix}{visible}{ordered}"
        )
        not_prefix = f"NOT ({prefix}) AND normalized_name <> :exact AND "
    else:
        not_prefix = ""
    long_words = [word for word in words if len(word) >= TRIGRAM]
    names_group = (
        f"SELECT 2 AS rank, {columns} FROM {SEARCH_TABLE} WHERE {not_prefix}{names_match}{visible}"
    )
    if not long_words:
        return _union([*groups, names_group + ordered], ""), params
    summary_only = f"NOT ({names_match})"
    # The FTS5 index finds every candidate (each long word as typed or in its name form, so
    # name matches are among them). Up to FEW are kept, once: then all of them were found,
    # and sorting them is cheap. Beyond FEW, walking the name index finds a page sooner (the
    # unary + keeps SQLite on it). The count of the kept rows switches one of the two forms
    # off before it reads anything.
    summary_only += _sqlite_short_terms(words, params)
    params["fts"] = " ".join(_fts_either(word) for word in long_words)
    params["few"] = FEW
    found = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts"
    prelude = (
        f"WITH head AS MATERIALIZED ({found} LIMIT :few + 1),"
        " counted AS MATERIALIZED (SELECT COUNT(*) AS n FROM head) "
    )
    # A LIMIT of 0 ends a loop before it starts, where a WHERE term would be tested per row.
    switch = " ORDER BY normalized_name LIMIT CASE WHEN (SELECT n FROM counted) {} :few"
    few, many = (switch.format(op) + " THEN :wanted ELSE 0 END" for op in ("<=", ">"))
    for rank, condition in ((2, f"{not_prefix}{names_match}"), (3, summary_only)):
        groups.append(
            f"SELECT {rank} AS rank, {columns} FROM {SEARCH_TABLE}"
            f" WHERE project_id IN (SELECT rowid FROM head) AND {condition}{visible}{few}"
        )
    groups.append(names_group + many)
    groups.append(
        f"SELECT 3 AS rank, {columns} FROM {SEARCH_TABLE}"
        f" WHERE +project_id IN ({found}) AND {summary_only}{visible}{many}"
    )
    return _union(groups, prelude), params


def _pg_statement(words: list[str], wanted: int, visible: str) -> tuple[str, dict[str, Any]]:
    """PostgreSQL's form of :func:`_statement`: the same groups and order, planned so that no
    estimate can make one of them read the catalogue.

    Names are compared in byte order (:data:`PG_NAME_C`, SQLite's order, whatever the
    database's collation), so a prefix is one range of the byte-ordered name index and every
    group can walk it in order. Name words are ``LIKE`` patterns, which the trigram index of
    names serves (a fragment's candidates are names that hold its trigrams, not summaries).

    Summaries are searched only when the name groups leave room on the page (a fragment
    common in names never reaches the larger index). Then, as on SQLite, the trigram index of
    names and summaries finds up to FEW candidates, once; if there are no more, they are
    sorted, and otherwise the matches are dense and a walk of the name index finds a page
    sooner. pg_trgm's estimates for ``LIKE '%word%'`` are too coarse to let the planner choose
    (a word in 138 summaries was planned as a walk over 45,000 names), so the choice is made
    at run time: a ``LIMIT`` of 0 stops a branch before it reads anything, and the branches
    test words with ``strpos()``, which no index serves, so that they read only what the
    materialised candidates or the walk hand them. Without pg_trgm the same statement scans.
    """
    params: dict[str, Any] = {"wanted": wanted, "few": FEW}
    in_names = []
    for number, word in enumerate(words):
        params[f"n{number}"] = _like_pattern(_in_names(word))
        in_names.append(f"normalized_name LIKE :n{number} ESCAPE '\\'")
    names_match = " AND ".join(in_names)
    exact = _exact(words)
    ordered = f" ORDER BY {PG_NAME_C} LIMIT :wanted"
    columns = "project_id, normalized_name"
    groups = []
    if exact is not None:
        params.update(exact=exact, exact_end=exact + "~")  # "~" sorts after a normal form's
        prefix = f"{PG_NAME_C} > :exact AND {PG_NAME_C} < :exact_end"
        groups.append(
            f"SELECT 0 AS rank, {columns} FROM {SEARCH_TABLE}"
            f" WHERE normalized_name = :exact{visible}"
        )
        groups.append(
            f"SELECT 1 AS rank, {columns} FROM {SEARCH_TABLE} WHERE {prefix}{visible}{ordered}"
        )
        not_prefix = f"NOT ({prefix}) AND normalized_name <> :exact AND "
    else:
        not_prefix = ""
    groups.append(
        f"SELECT 2 AS rank, {columns} FROM {SEARCH_TABLE}"
        f" WHERE {not_prefix}{names_match}{visible}{ordered}"
    )
    if all(len(word) < TRIGRAM for word in words):
        return _union(groups, "", order=PG_NAME_C), params
    indexed = []  # for the trigram index: LIKE patterns of the long words' first characters
    tested = []  # the words themselves, by strpos()
    for number, word in enumerate(words):
        # As typed, or in its name form (as SQLite's FTS5 query asks for long words).
        forms = list(dict.fromkeys((word, _in_names(word))))
        likes, finds = [], []
        for form_number, form in enumerate(forms):
            key = f"{number}_{form_number}"
            params[f"p{key}"] = _like_pattern(form[:PG_INDEXED_CHARS])
            params[f"s{key}"] = form
            likes.append(f"{PG_HAYSTACK} LIKE lower(:p{key}) ESCAPE '\\'")
            finds.append(f"strpos({PG_HAYSTACK}, lower(:s{key})) > 0")
        if len(word) >= TRIGRAM:
            indexed.append(f"({' OR '.join(likes)})")
        tested.append(f"({' OR '.join(finds)})")
    summary_only = f"NOT ({names_match}) AND {' AND '.join(tested)}"
    named = " UNION ALL ".join(f"SELECT * FROM ({group}) AS g{n}" for n, group in enumerate(groups))
    prelude = (
        f"WITH named AS MATERIALIZED ({named}),"
        f" head AS MATERIALIZED (SELECT project_id FROM {SEARCH_TABLE}"
        f" WHERE {' AND '.join(indexed + tested)} LIMIT CASE"
        " WHEN (SELECT COUNT(*) FROM named) >= :wanted THEN 0 ELSE :few + 1 END),"
        " counted AS MATERIALIZED (SELECT COUNT(*) AS n FROM head) "
    )
    switch = f" ORDER BY {PG_NAME_C} LIMIT CASE WHEN (SELECT n FROM counted) {{}} :few"
    few, many = (switch.format(op) + " THEN :wanted ELSE 0 END" for op in ("<=", ">"))
    return _union(
        [
            "SELECT * FROM named",
            f"SELECT 3 AS rank, {columns} FROM {SEARCH_TABLE}"
            f" WHERE project_id IN (SELECT project_id FROM head) AND {summary_only}{visible}{few}",
            f"SELECT 3 AS rank, {columns} FROM {SEARCH_TABLE} WHERE {summary_only}{visible}{many}",
        ],
        prelude,
        order=PG_NAME_C,
    ), params


def _union(groups: list[str], prelude: str, order: str = "normalized_name") -> str:
    """The groups in rank order, then the rows of the page asked for."""
    union = " UNION ALL ".join(f"SELECT * FROM ({group}) AS g{n}" for n, group in enumerate(groups))
    # The page is cut before the join, so only its rows are read whole (PostgreSQL would
    # otherwise hash-join the whole table against every group's rows).
    page = (
        f"SELECT rank, project_id, normalized_name FROM ({union}) AS found"
        f" ORDER BY rank, {order} LIMIT :limit OFFSET :offset"
    )
    return (
        f"{prelude}SELECT hit.name, hit.version, hit.summary FROM ({page}) AS page"
        f" JOIN {SEARCH_TABLE} AS hit ON hit.project_id = page.project_id"
        f" ORDER BY page.rank, page.{order}"
    )


def _fts_either(word: str) -> str:
    """A long word for FTS5: as typed, or (where it differs) in its PEP 503 name form."""
    named = _in_names(word)
    if named == word.lower():
        return _fts_string(word)
    return f"({_fts_string(word)} OR {_fts_string(named)})"


def _sqlite_short_terms(words: list[str], params: dict[str, Any]) -> str:
    """Terms for the words too short for the text index: a substring of the whole text."""
    terms = ""
    for number, word in enumerate(words):
        if len(word) < TRIGRAM:
            params[f"w{number}"] = word
            terms += (
                " AND instr(lower(name || ' ' || normalized_name || ' ' || summary),"
                f" lower(:w{number})) > 0"
            )
    return terms


def search_projects(
    session: Session, query: str, page: int = 1, *, hidden: frozenset[int] = frozenset()
) -> SearchPage:
    """Page ``page`` (from 1) of the projects matching every word of ``query``, but the
    ``hidden`` ids (private projects the reader may not read, issue 20)."""
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page must be between 1 and {MAX_PAGE}, not {page}")
    words = query.split()
    # No stored text holds a NUL (PostgreSQL cannot), and libpq cannot send one.
    if not words or "\x00" in query:
        return SearchPage([], page, more=False)
    offset = (page - 1) * PAGE_SIZE
    dialect = session.get_bind().dialect.name
    params: dict[str, Any] = {}
    visible = _visible(dialect, hidden, params)
    sql, statement_params = _statement(dialect, words, offset + PAGE_SIZE + 1, visible)
    params.update(statement_params, limit=PAGE_SIZE + 1, offset=offset)
    rows = session.execute(text(sql), params).all()
    hits = [ProjectHit(str(name), str(version), str(summary)) for name, version, summary in rows]
    return SearchPage(hits[:PAGE_SIZE], page, more=len(hits) > PAGE_SIZE)


def _visible(dialect: str, hidden: frozenset[int], params: dict[str, Any]) -> str:
    """The term that leaves the ``hidden`` ids out of a group, before its ``LIMIT``.

    The ids are bound as one JSON array, however many there are: an anonymous reader of an
    index with many private projects neither makes the statement longer nor passes a driver's
    limit on parameters (65,535 in PostgreSQL's protocol), and no group reads more rows than
    a page needs because some are hidden (each group's cut used to grow by their number).
    The database builds the set once per statement (an ephemeral index on SQLite, a hashed
    subplan on PostgreSQL).
    """
    if not hidden:
        return ""
    params["hidden"] = hidden_ids.as_parameter(hidden)
    return f" AND project_id NOT IN ({hidden_ids.subquery_sql(dialect)})"


def recent_projects(
    session: Session, limit: int = 20, *, hidden: frozenset[int] = frozenset()
) -> list[ProjectHit]:
    """The most recently changed projects, for the home page: one statement, whatever the
    limit, reading each project's newest version and summary from the search table (which
    the database keeps in step with every release)."""
    statement = (
        select(ProjectSearch.name, ProjectSearch.version, ProjectSearch.summary)
        .join(Project, Project.id == ProjectSearch.project_id)
        .order_by(Project.last_serial.desc(), Project.id.desc())
        .limit(limit)
    )
    if hidden:
        statement = statement.where(hidden_ids.projects_not_in(session, hidden))
    rows = session.execute(statement).all()
    return [ProjectHit(str(name), str(version), str(summary)) for name, version, summary in rows]
