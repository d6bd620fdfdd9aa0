"""Reading a journal page's query (``?before=SERIAL``, ``?after=SERIAL``, ``?limit=N``) and
the links to its neighbours: keyset pagination on the journal's serial.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request

from trustyard.errors import InvalidInput
from trustyard.index.services.journal import MAX_PAGE_SIZE, HistoryPage

DEFAULT_PAGE_SIZE = 50
# A serial is a 64-bit row id: more digits than that is not a serial.
MAX_SERIAL_DIGITS = 18


@dataclass(frozen=True)
class PageQuery:
    """Which page of a journal was asked for."""

    before: int | None
    after: int | None
    limit: int


def _number(request: Request, name: str, max_digits: int) -> int | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidInput(f"the parameter {name!r} is given more than once")
    text = values[0]
    if not text.isascii() or not text.isdigit() or len(text) > max_digits:
        raise InvalidInput(
            f"{name} must be a whole number of at most {max_digits} digits, not {text[:40]!r}"
        )
    return int(text)


def page_query(request: Request) -> PageQuery:
    """The page asked for, or a 400 naming what is wrong with the query."""
    before = _number(request, "before", MAX_SERIAL_DIGITS)
    after = _number(request, "after", MAX_SERIAL_DIGITS)
    if before is not None and after is not None:
        raise InvalidInput("give before or after, not both")
    limit = _number(request, "limit", 3)
    if limit is None:
        limit = DEFAULT_PAGE_SIZE
    elif not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}, not {limit}")
    return PageQuery(before, after, limit)


@dataclass(frozen=True)
class PageLinks:
    """The links of the pager under a journal page ("" where there is no such page)."""

    newest: str
    newer: str
    older: str


def page_links(path: str, query: PageQuery, found: HistoryPage) -> PageLinks:
    """Links to the newest page and to each neighbour of ``found``, keeping the limit."""
    keep = {} if query.limit == DEFAULT_PAGE_SIZE else {"limit": str(query.limit)}

    def link(**cursor: int) -> str:
        params = {**{k: str(v) for k, v in cursor.items()}, **keep}
        return f"{path}?{urlencode(params)}" if params else path

    elsewhere = query.before is not None or query.after is not None
    return PageLinks(
        newest=link() if elsewhere else "",
        newer=link(after=found.newer) if found.newer is not None else "",
        older=link(before=found.older) if found.older is not None else "",
    )


def result_page(request: Request, last: int) -> int:
    """The ``?page=N`` of a numbered result list (search), 1 when absent; 400 outside 1..last
    (Warehouse's search answers a page that is not a number with 400 too)."""
    number = _number(request, "page", 3)
    if number is None:
        return 1
    if not 1 <= number <= last:
        raise InvalidInput(f"page must be between 1 and {last}, not {number}")
    return number
