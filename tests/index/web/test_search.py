"""``/search/`` through a real index (issue 14, finding 7): results a page at a time, hostile
queries answered, not crashed on, and a per-address rate limit with 429 and ``Retry-After``.

The catalogue is written beside the running server with the project service (uploads would
only make it slower; the search table's triggers see any writer), on both backends; the rate
limit counts in the same database counters on both (``tests/index/test_ratelimits.py``), so it
runs on the embedded default only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import IndexServer, start_index
from tests.index.conftest import Answer, _send, request
from tests.services import Backend
from trustyard.index.db.engine import Database
from trustyard.index.services import accounts, projects
from trustyard.index.services.search import MAX_PAGE, PAGE_SIZE


def _index(data: Path, rate: str, backend: Backend | None = None) -> IndexServer:
    data.mkdir(parents=True)
    (data / "trustyard.toml").write_text(f'search-rate-per-address = "{rate}"\n')
    return start_index(data, backend=backend) if backend else start_index(data)


@pytest.fixture(scope="module")
def searchable(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Iterator[IndexServer]:
    """An index without a search limit, holding PAGE_SIZE + 20 ``listed-NNN`` projects."""
    index = _index(tmp_path_factory.mktemp("search") / "data", "off", backend)
    db = Database(index.database)
    try:
        with db.write() as session:
            accounts.create_user(session, "lister", "long enough password")
            for number in range(PAGE_SIZE + 20):
                projects.create_project(session, f"listed-{number:03d}", owner="lister")
            projects.create_project(session, "Odd_Chars", owner="lister")
        yield index
    finally:
        db.dispose()
        index.stop()


def _names(answer: Answer) -> list[str]:
    return [html.unescape(n) for n in re.findall(r'<span class="name">([^<]*)</span>', answer.text)]


def _link(answer: Answer, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', answer.text)
    return html.unescape(found.group(1)) if found else None


def test_results_come_a_page_at_a_time(searchable: IndexServer) -> None:
    first = request(searchable, "GET", "/search/?q=listed")
    assert first.status == 200
    assert _names(first) == [f"listed-{n:03d}" for n in range(PAGE_SIZE)]
    assert f"Projects 1\N{EN DASH}{PAGE_SIZE}" in first.text
    assert _link(first, "prev") is None
    following = _link(first, "next")
    assert following == "/search/?q=listed&page=2"
    second = request(searchable, "GET", following)
    assert _names(second) == [f"listed-{n:03d}" for n in range(PAGE_SIZE, PAGE_SIZE + 20)]
    assert (_link(second, "prev"), _link(second, "next")) == ("/search/?q=listed", None)
    one = request(searchable, "GET", "/search/?q=ODD_chars")
    assert (_names(one), "1 project<" in one.text) == (["Odd_Chars"], True)


@pytest.mark.parametrize(
    "query", ['"*^:()', '"', "*", "NEAR(", "a:b", "%", "%_%", "'", "\\", "%00", "\x7f", "( OR"]
)
def test_hostile_queries_are_answered_not_crashed_on(searchable: IndexServer, query: str) -> None:
    answer = request(searchable, "GET", "/search/?q=" + (query if query == "%00" else quote(query)))
    assert answer.status == 200
    assert _names(answer) == []


@pytest.mark.parametrize("page", ["0", "-1", "x", "1.5", str(MAX_PAGE + 1), "9999"])
def test_a_page_outside_the_results_is_a_400(searchable: IndexServer, page: str) -> None:
    assert request(searchable, "GET", f"/search/?q=listed&page={page}").status == 400


@pytest.mark.slow
def test_searches_are_limited_per_address(tmp_path: Path) -> None:
    index = _index(tmp_path / "data", "3/1h")
    try:

        def search(source: str) -> Answer:
            return _send(index.url, "GET", "/search/?q=x", None, None, None, source)

        assert [search("127.0.0.1").status for _ in range(3)] == [200, 200, 200]
        refused = search("127.0.0.1")
        assert refused.status == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
        assert "too many searches from this address" in refused.text
        assert search("127.0.0.2").status == 200  # another client is not held
        assert search("127.0.0.1").status == 429
    finally:
        index.stop()
