"""``services/search.py`` on SQLite (FTS5) in-process, and the search page over it: names and
newest summaries, every word, LIKE and FTS5 syntax taken literally, short words, paging."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from packaging.utils import canonicalize_version
from sqlalchemy import event, select

from tests.index.conftest import LocalIndex
from trustyard.errors import InvalidInput
from trustyard.index.db.models import Project, Release
from trustyard.index.services import projects, search

OWNER = "finder"
EPOCH = datetime(2026, 1, 1)
CATALOGUE: dict[str, str | None] = {
    "se-parser": "A parser.",
    "se-fast": "Speedy PARSER generator.",
    "se-percent": "100% pure python",
    "se-under": "snake_case everywhere",
    "se-syntax": 'a*b^c:(d) NEAR("x" y) AND OR NOT -e',
    "se-bare": None,
}


@pytest.fixture(scope="module")
def index(shared_index: LocalIndex) -> LocalIndex:
    shared_index.create_user(OWNER)
    with shared_index.db.write() as session:
        for n, (name, summary) in enumerate(CATALOGUE.items()):
            _release(session, name, summary, minutes=n)
        for n in range(search.PAGE_SIZE + 1):
            _release(session, f"se-many-{n:03}", "one of many", minutes=n)
    return shared_index


def _release(session: object, name: str, summary: str | None, *, minutes: int) -> None:
    from sqlalchemy.orm import Session  # noqa: PLC0415 - typing the parameter only

    assert isinstance(session, Session)
    project = session.scalar(select(Project).where(Project.normalized_name == name))
    if project is None:
        project = projects.create_project(session, name, owner=OWNER)
    metadata = {"name": name, "version": "1.0"}
    if summary is not None:
        metadata["summary"] = summary
    session.add(
        Release(
            project_id=project.id,
            version="1.0",
            canonical_version=canonicalize_version("1.0"),
            created=EPOCH + timedelta(minutes=minutes),
            core_metadata=metadata,
        )
    )


def _names(index: LocalIndex, query: str, page: int = 1) -> list[str]:
    with index.db.read() as session:
        return [hit.name for hit in search.search_projects(session, query, page).hits]


def test_words_names_and_summaries(index: LocalIndex) -> None:
    assert _names(index, "   ") == []
    assert _names(index, "nul\x00") == []
    assert _names(index, "speedy generator") == ["se-fast"]
    assert set(_names(index, "parser")) == {"se-parser", "se-fast"}
    assert _names(index, "se-parser")[0] == "se-parser"  # a name match comes first
    assert _names(index, "100%") == ["se-percent"]
    assert _names(index, "snake_case") == ["se-under"]
    assert _names(index, 'NEAR("x"') == ["se-syntax"]
    assert _names(index, "a*b^c:(d)") == ["se-syntax"]
    assert _names(index, "pure py") == ["se-percent"]  # a short word beside a long one
    assert _names(index, "py") == []  # alone, short words look in names only
    assert _names(index, "se bare") == ["se-bare"]


def test_paging(index: LocalIndex) -> None:
    with index.db.read() as session:
        first = search.search_projects(session, "many", 1)
        second = search.search_projects(session, "many", 2)
        with pytest.raises(InvalidInput):
            search.search_projects(session, "many", 0)
    assert first.more
    assert len(first.hits) == search.PAGE_SIZE
    assert not second.more
    assert len(second.hits) == 1


def test_the_search_page(index: LocalIndex) -> None:
    page = index.get("/search/?q=many")
    assert page.status_code == 200
    assert "page=2" in page.text
    second = index.get("/search/?q=many&page=2")
    assert "se-many-" in second.text
    assert index.get("/search/?q=many&page=0").status_code == 400
    assert index.get("/search/?q=many&page=x").status_code == 400
    assert index.get("/search/").status_code == 200


def test_the_home_page_costs_the_same_statements_whatever_the_catalogue(
    local_index: LocalIndex,
) -> None:
    """The home page lists the 20 most recently changed projects with their newest version
    and summary: a fixed number of statements, not one more per project listed."""
    local_index.create_user(OWNER)

    def statements_of_the_home_page() -> tuple[int, str]:
        sent: list[str] = []

        def count(*args: Any) -> None:
            sent.append(str(args[2]).strip().upper())

        event.listen(local_index.db.engine, "before_cursor_execute", count)
        try:
            page = local_index.get("/")
        finally:
            event.remove(local_index.db.engine, "before_cursor_execute", count)
        assert page.status_code == 200
        return len([s for s in sent if s not in {"BEGIN", "ROLLBACK", "COMMIT"}]), page.text

    counts: list[int] = []
    for size in (2, 30):
        with local_index.db.write() as session:
            for number in range(len(counts) * 2, size):
                _release(session, f"home-{number:02d}", f"summary {number}", minutes=number)
        counted, text = statements_of_the_home_page()
        counts.append(counted)
    assert counts[0] == counts[1] <= 2
    assert "home-29" in text
    assert "summary 29" in text
    assert "home-09" not in text  # the 20 most recent only
