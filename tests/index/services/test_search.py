"""Project search (issue 14, finding 7): one bounded SQL query over a derived search table.

Run against a real catalogue on both backends (SQLite with FTS5, PostgreSQL with pg_trgm), no
server in between: which projects match (names, the newest release's summary), their order
(name matches first), paging, characters that mean something to LIKE or to FTS5's query
syntax, the triggers that keep the search table in step with every write, the migration that
indexes an existing catalogue, and the number of statements a search costs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from packaging.utils import canonicalize_version
from sqlalchemy import delete, event, select, text, update

from tests.services import Backend, PostgresServer
from trustyard.index.db.engine import Database
from trustyard.index.db.models import Project, Release
from trustyard.index.services import accounts, projects, search
from trustyard.index.services.catalogue import list_projects
from trustyard.index.services.search import MAX_PAGE, PAGE_SIZE, SearchPage, search_projects

OWNER = "searcher"
EPOCH = datetime(2026, 1, 1)


def _new_database(backend: Backend, where: Path) -> Database:
    if backend.postgres is not None:
        return Database(backend.postgres.new_database())
    return Database(f"sqlite:///{where / 'search.sqlite3'}")


def add_release(db: Database, name: str, version: str, summary: Any, *, minutes: int = 0) -> None:
    """A release of ``name`` (created at EPOCH + minutes, the project made on first use)."""
    with db.write() as session:
        project = session.scalar(select(Project).where(Project.normalized_name == name))
        if project is None:
            project = projects.create_project(session, name, owner=OWNER)
        metadata = {"name": name, "version": version}
        if summary is not None:
            metadata["summary"] = summary
        session.add(
            Release(
                project_id=project.id,
                version=version,
                canonical_version=canonicalize_version(version),
                created=EPOCH + timedelta(minutes=minutes),
                core_metadata=metadata,
            )
        )


CATALOGUE: dict[str, list[str | None]] = {
    # name: summaries of its releases, oldest first (the newest one is searched)
    "parser": ["A parser."],
    "parser-tools": ["Tools."],
    "fastparser": ["Speedy."],
    "aaa-lib": ["Built on a PARSER generator."],
    "zeta": ["Uses the parser library."],
    "old-news": ["Mentions obsolete words.", "Nothing to see here."],
    "Mixed_Case.Name": ["Capitals in the name."],
    "percent": ["100% pure python"],
    "underscore": ["snake_case everywhere"],
    "quotes": ['it\'s "quoted" text'],
    "syntax": ['a*b^c:(d) NEAR("x" y) AND OR NOT -e'],
    "backslash": ["C:\\path\\to"],
    "unicode": ["Ünïcode ÉTÉ summary"],
    "bare": [None],
}


@pytest.fixture(scope="module")
def catalogue(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A catalogue with the projects of CATALOGUE, on the module's backend."""
    db = _new_database(backend, tmp_path_factory.mktemp("search"))
    db.migrate()
    with db.write() as session:
        accounts.create_user(session, OWNER, "long enough password")
    for name, summaries in CATALOGUE.items():
        for number, summary in enumerate(summaries):
            add_release(db, name, f"{number + 1}.0", summary, minutes=number)
    with db.write() as session:
        projects.create_project(session, "no-release-yet", owner=OWNER)
    yield db
    db.dispose()


def names(db: Database, query: str, page: int = 1) -> list[str]:
    return [hit.name for hit in find(db, query, page).hits]


def find(db: Database, query: str, page: int = 1) -> SearchPage:
    with db.read() as session:
        return search_projects(session, query, page)


def test_names_and_the_newest_summary_match_every_word(catalogue: Database) -> None:
    assert names(catalogue, "frobnicate") == []
    assert names(catalogue, "   ") == []
    assert names(catalogue, "capitals") == ["Mixed_Case.Name"]
    assert names(catalogue, "mixed-case") == ["Mixed_Case.Name"]  # the normalised name
    assert names(catalogue, "MIXED_case.na") == ["Mixed_Case.Name"]  # as registered, any case
    assert names(catalogue, "nothing see") == ["old-news"]  # every word, in any order
    assert names(catalogue, "nothing obsolete") == []  # the older release's summary is not searched
    assert names(catalogue, "obsolete") == []
    assert names(catalogue, "release-yet") == ["no-release-yet"]  # a project without releases
    hit = find(catalogue, "speedy").hits[0]
    assert (hit.name, hit.version, hit.summary) == ("fastparser", "1.0", "Speedy.")
    assert names(catalogue, "bare") == ["bare"]
    assert find(catalogue, "bare").hits[0].summary == ""
    # Case folds beyond ASCII as Python's str.lower() does, where the word is long enough
    # for the index (three characters); ASCII folds for shorter words too.
    assert names(catalogue, "ünïcode été") == ["unicode"]
    assert names(catalogue, "pUrE PY") == ["percent"]


@pytest.mark.parametrize(
    "query", ["parser", "PARSER tools", "pars", "words", "the", "pure py", "mixed_case", "zeta x"]
)
def test_many_text_index_rows_give_the_same_results(
    catalogue: Database, query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past FEW rows from the text index, SQLite walks the name index instead of sorting
    them: the same projects in the same order either way."""
    sorted_few = names(catalogue, query)
    monkeypatch.setattr(search, "FEW", 1)
    assert names(catalogue, query) == sorted_few


def test_short_queries_look_in_names_only(catalogue: Database) -> None:
    """One- and two-character words alone would match almost every summary and no text index
    serves them: they are looked for in names (PEP 503 form, so ``_`` and ``.`` are ``-``)."""
    assert names(catalogue, "pa") == ["parser", "parser-tools", "fastparser"]
    assert names(catalogue, "PA rs") == ["fastparser", "parser", "parser-tools"]
    assert names(catalogue, "e_n") == ["Mixed_Case.Name"]
    assert names(catalogue, "_") == [
        "aaa-lib",
        "Mixed_Case.Name",
        "no-release-yet",
        "old-news",
        "parser-tools",
    ]
    assert names(catalogue, "in") == []  # "in" is in summaries only


def test_name_matches_come_first(catalogue: Database) -> None:
    # The exact name, then names that start with the words, then names that contain them,
    # then summaries; alphabetical within each group.
    assert names(catalogue, "parser") == ["parser", "parser-tools", "fastparser", "aaa-lib", "zeta"]
    assert names(catalogue, "PARSER tools") == ["parser-tools"]
    assert names(catalogue, "parser-tools") == ["parser-tools"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("100%", ["percent"]),
        ("snake_case", ["underscore"]),
        ("it's", ["quotes"]),
        ('"quoted"', ["quotes"]),
        ("a*b^c:(d)", ["syntax"]),
        ('NEAR("x"', ["syntax"]),
        ("NEAR(", ["syntax"]),
        ("NEAR(x", []),
        ("AND OR NOT", ["syntax"]),
        ("c:\\path", ["backslash"]),
        ("pure %", ["percent"]),  # a short word beside a long one: anywhere in the text
        ("pure _", []),
        ("case _", ["Mixed_Case.Name", "underscore"]),  # "_" is "-" in a name
        ("{name}", []),
        ("%%%", []),
        ('"""', []),
        ("***", []),
        ("\x00", []),
        # One- and two-character queries look in names only, where none of these can be.
        ("%", []),
        ("'", []),
        ('"', []),
        ('""', []),
        ("*", []),
        ("^", []),
        (":", []),
        ("*:", []),
        ("(", []),
        (")", []),
        ("\\", []),
    ],
)
def test_characters_are_searched_for_themselves(
    catalogue: Database, query: str, expected: list[str]
) -> None:
    """LIKE's ``%``, ``_`` and ``\\`` and FTS5's ``"*^:()``, NEAR, AND/OR/NOT match only text
    that contains them; none is an operator and none is an error."""
    assert names(catalogue, query) == expected


def test_pages_of_results(backend: Backend, tmp_path: Path) -> None:
    db = _new_database(backend, tmp_path)
    db.migrate()
    try:
        with db.write() as session:
            accounts.create_user(session, OWNER, "long enough password")
            for number in range(PAGE_SIZE * 2 + 7):
                projects.create_project(session, f"paged-{number:03d}", owner=OWNER)
        first, second, third = (find(db, "paged", page) for page in (1, 2, 3))
        assert [len(p.hits) for p in (first, second, third)] == [PAGE_SIZE, PAGE_SIZE, 7]
        assert [p.more for p in (first, second, third)] == [True, True, False]
        everything = [hit.name for p in (first, second, third) for hit in p.hits]
        assert everything == [f"paged-{number:03d}" for number in range(PAGE_SIZE * 2 + 7)]
        assert find(db, "paged", 4).hits == []
        assert find(db, "paged", MAX_PAGE).hits == []
    finally:
        db.dispose()


def test_summaries_follow_names_that_fill_pages(backend: Backend, tmp_path: Path) -> None:
    """When names alone fill the page asked for, summaries are not searched for it (on
    PostgreSQL their index is not even read), and the next page still brings them, after
    the last name."""
    db = _new_database(backend, tmp_path)
    db.migrate()
    try:
        with db.write() as session:
            accounts.create_user(session, OWNER, "long enough password")
            for number in range(PAGE_SIZE + 3):
                projects.create_project(session, f"filler-{number:03d}", owner=OWNER)
        add_release(db, "zz-told", "1.0", "Mentions a filler.")
        add_release(db, "aa-told", "1.0", "Another FILLER mention.")
        first, second = find(db, "filler", 1), find(db, "filler", 2)
        assert [hit.name for hit in first.hits] == [f"filler-{n:03d}" for n in range(PAGE_SIZE)]
        assert first.more
        assert [hit.name for hit in second.hits] == [
            *(f"filler-{n:03d}" for n in range(PAGE_SIZE, PAGE_SIZE + 3)),
            "aa-told",
            "zz-told",
        ]
        assert not second.more
        # A word longer than PostgreSQL gives its trigram index (PG_INDEXED_CHARS) is still
        # matched whole.
        add_release(db, "long-told", "1.0", "Supercalifragilistic words.")
        assert names(db, "SUPERCALIFRAGILISTIC") == ["long-told"]
        assert names(db, "supercalifragilistix") == names(db, "supercalifragilx words") == []
    finally:
        db.dispose()


def test_postgresql_name_indexes_come_and_go_with_0017(postgres_server: PostgresServer) -> None:
    """Migration 0017 adds the byte-ordered and trigram indexes of names that PostgreSQL's
    search plans on, and its downgrade removes them. Single-backend by nature: on SQLite the
    revision changes nothing."""
    db = Database(postgres_server.new_database())

    def indexes() -> set[str]:
        with db.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'project_search'")
            )
            return {row[0] for row in rows}

    try:
        db.migrate()
        assert {"ix_project_search_name_c", "ix_project_search_name_trgm"} <= indexes()
        command.downgrade(db.alembic_config(), "0016")
        assert not {"ix_project_search_name_c", "ix_project_search_name_trgm"} & indexes()
        assert "ix_project_search_trgm" in indexes()
        db.migrate()
        assert {"ix_project_search_name_c", "ix_project_search_name_trgm"} <= indexes()
    finally:
        db.dispose()


def test_the_search_table_follows_every_write(backend: Backend, tmp_path: Path) -> None:
    """Uploads, a newer release, a deleted release, a renamed and a deleted project: the
    database's own triggers keep the search table in step, whatever code wrote the rows."""
    db = _new_database(backend, tmp_path)
    db.migrate()
    try:
        with db.write() as session:
            accounts.create_user(session, OWNER, "long enough password")
        add_release(db, "follow", "1.0", "first words", minutes=1)
        assert names(db, "first") == ["follow"]
        add_release(db, "follow", "2.0", "second words", minutes=2)
        assert (names(db, "first"), names(db, "second")) == ([], ["follow"])
        # An older release uploaded later (a backport) is not the newest by upload order...
        add_release(db, "follow", "1.1", "backport words", minutes=3)
        assert names(db, "backport") == ["follow"]
        assert find(db, "follow").hits[0].version == "1.1"
        # ...and when it goes, the newest remaining release is searched again.
        with db.write() as session:
            session.execute(delete(Release).where(Release.version == "1.1"))
        assert (names(db, "backport"), names(db, "second")) == ([], ["follow"])
        with db.write() as session:  # a metadata correction
            session.execute(
                update(Release)
                .where(Release.version == "2.0")
                .values(core_metadata={"summary": "corrected words"})
            )
        assert (names(db, "second"), names(db, "corrected")) == ([], ["follow"])
        with db.write() as session:  # yanking changes nothing searched
            projects.set_yanked(session, "follow", "2.0", yanked=True, reason="", actor=OWNER)
        assert names(db, "corrected") == ["follow"]
        with db.write() as session:
            session.execute(
                update(Project)
                .where(Project.normalized_name == "follow")
                .values(name="Followed", normalized_name="followed")
            )
        assert [(h.name, h.version) for h in find(db, "followed").hits] == [("Followed", "2.0")]
        with db.write() as session:
            session.execute(delete(Release))
            session.execute(text("DELETE FROM roles"))
            session.execute(text("DELETE FROM journal"))
            session.execute(delete(Project))
        assert names(db, "followed") == names(db, "corrected") == []
        with db.read() as session:
            assert session.execute(text("SELECT COUNT(*) FROM project_search")).scalar() == 0
    finally:
        db.dispose()


def test_the_migration_indexes_an_existing_catalogue(backend: Backend, tmp_path: Path) -> None:
    """A catalogue written before the search table existed is searchable after ``migrate``."""
    db = _new_database(backend, tmp_path)
    try:
        command.upgrade(db.alembic_config(), "0008")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO projects (id, name, normalized_name, created, last_serial)"
                    " VALUES (1, 'Legacy_Thing', 'legacy-thing', :t, 1),"
                    " (2, 'empty-one', 'empty-one', :t, 2)"
                ),
                {"t": EPOCH},
            )
            for number, (version, summary, minutes) in enumerate(
                [("1.0", "ancient", 0), ("2.0", "current words", 5)], start=1
            ):
                conn.execute(
                    text(
                        "INSERT INTO releases (id, project_id, version, canonical_version,"
                        " created, is_prerelease, yanked, yanked_reason, core_metadata)"
                        " VALUES (:id, 1, :v, :v, :t, false, false, '', :m)"
                    ),
                    {
                        "id": number,
                        "v": version,
                        "t": EPOCH + timedelta(minutes=minutes),
                        "m": f'{{"summary": "{summary}"}}',
                    },
                )
        db.migrate()
        assert [(h.name, h.version, h.summary) for h in find(db, "current").hits] == [
            ("Legacy_Thing", "2.0", "current words")
        ]
        assert names(db, "ancient") == []
        assert names(db, "empty") == ["empty-one"]
        command.downgrade(db.alembic_config(), "0008")  # and back, leaving nothing behind
        with db.engine.connect() as conn:
            tables = set(db.engine.dialect.get_table_names(conn))
        assert not {t for t in tables if t.startswith("project_search")}
        db.migrate()
        assert names(db, "current") == ["Legacy_Thing"]
    finally:
        db.dispose()


def _statements(db: Database, query: str) -> int:
    """How many SQL statements one search sends to the database."""
    sent: list[str] = []

    def count(*args: Any) -> None:
        sent.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        find(db, query)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len([s for s in sent if s.strip().upper() not in {"BEGIN", "ROLLBACK"}])


def test_a_search_is_one_statement_whatever_the_catalogue(backend: Backend, tmp_path: Path) -> None:
    db = _new_database(backend, tmp_path)
    db.migrate()
    try:
        with db.write() as session:
            accounts.create_user(session, OWNER, "long enough password")
        counts: list[tuple[int, int, int]] = []
        for size in (5, 150):
            with db.write() as session:
                for number in range(len(counts) * 5, size):
                    projects.create_project(session, f"counted-{number:03d}", owner=OWNER)
            counts.append(
                (_statements(db, "counted"), _statements(db, "nothing"), _statements(db, "c"))
            )
        assert counts == [(1, 1, 1), (1, 1, 1)]
        assert len(find(db, "counted").hits) == PAGE_SIZE
    finally:
        db.dispose()


def test_postgresql_without_pg_trgm_searches_the_same(postgres_server: PostgresServer) -> None:
    """A role that may not create extensions migrates and searches all the same (a sequential
    scan of the search table instead of the trigram index). Single-backend by nature."""
    admin = Database(postgres_server.new_database())
    role = f"plain_{uuid.uuid4().hex[:12]}"
    try:
        with admin.engine.begin() as conn:
            conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD 'plain-password'"))
            conn.execute(text(f"GRANT CREATE, USAGE ON SCHEMA public TO {role}"))
            conn.execute(text(f"REVOKE CREATE ON DATABASE {admin.engine.url.database} FROM PUBLIC"))
        url = admin.engine.url.set(username=role, password="plain-password")
        db = Database(url.render_as_string(hide_password=False))
        try:
            db.migrate()
            with db.read() as session:
                installed = session.execute(
                    text("SELECT COUNT(*) FROM pg_extension WHERE extname = 'pg_trgm'")
                ).scalar()
            assert installed == 0
            with db.write() as session:
                accounts.create_user(session, OWNER, "long enough password")
            add_release(db, "plain-thing", "1.0", "100% under_scored")
            assert names(db, "plain") == names(db, "100%") == ["plain-thing"]
            assert names(db, "under_scored") == names(db, "under_") == ["plain-thing"]
            assert names(db, '"*^:()') == []
        finally:
            db.dispose()
    finally:
        with admin.engine.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def test_hidden_projects_are_left_out_before_each_group_is_cut(
    backend: Backend, tmp_path: Path
) -> None:
    """The private projects a reader may not read (``read_access.hidden_from``) are left out of
    every ranked group before its cut: pages stay full and in order, a hidden exact name or
    summary match is gone, and a set of ids larger than PostgreSQL's limit on parameters
    (65,535) is one bound value of one statement, on the search, the home page and the
    ``/simple/`` index (``services/hidden_ids.py``)."""
    db = _new_database(backend, tmp_path)
    db.migrate()
    try:
        with db.write() as session:
            accounts.create_user(session, OWNER, "long enough password")
            for number in range(PAGE_SIZE * 2 + 7):
                projects.create_project(session, f"paged-{number:03d}", owner=OWNER)
        add_release(db, "aa-told", "1.0", "Mentions paged results.")
        add_release(db, "zz-told", "1.0", "Also mentions paged results.")
        with db.read() as session:
            ids = {
                name: id_
                for name, id_ in session.execute(select(Project.normalized_name, Project.id))
            }
        hidden_names = {f"paged-{n:03d}" for n in range(0, PAGE_SIZE * 2 + 7, 2)} | {"aa-told"}
        unknown = set(range(10**7, 10**7 + 70_000))  # ids of no project: as many as a big index
        hidden = frozenset({ids[name] for name in hidden_names} | unknown)

        def search_for(query: str, page: int = 1) -> SearchPage:
            with db.read() as session:
                return search_projects(session, query, page, hidden=hidden)

        shown = [f"paged-{n:03d}" for n in range(1, PAGE_SIZE * 2 + 7, 2)] + ["zz-told"]
        first, second = search_for("paged"), search_for("paged", 2)
        assert [hit.name for hit in first.hits] == shown[:PAGE_SIZE]
        assert first.more
        assert [hit.name for hit in second.hits] == shown[PAGE_SIZE:]
        assert not second.more
        assert [hit.name for hit in search_for("paged-000").hits] == []
        assert [hit.name for hit in search_for("paged-001").hits] == ["paged-001"]
        assert [hit.name for hit in search_for("mentions").hits] == ["zz-told"]
        assert [hit.name for hit in search_for("pa").hits] == shown[:PAGE_SIZE]
        with db.read() as session:
            recent = search.recent_projects(session, limit=300, hidden=hidden)
            listed = list_projects(session, hidden)
        assert {hit.name for hit in recent} == set(shown)
        assert {normalized for _, normalized, _ in listed} == set(shown)
        sent: list[str] = []

        def count(*args: Any) -> None:
            sent.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            search_for("paged")
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len([s for s in sent if s.strip().upper() not in {"BEGIN", "ROLLBACK"}]) == 1
    finally:
        db.dispose()
