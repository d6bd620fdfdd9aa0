"""PEP 691 content negotiation, checked against warehouse's own test cases."""

from __future__ import annotations

import pytest

from trustyard.dists.mediatypes import SIMPLE_V1_HTML as V1_HTML
from trustyard.dists.mediatypes import SIMPLE_V1_JSON as V1_JSON
from trustyard.dists.mediatypes import TEXT_HTML as HTML
from trustyard.index.negotiation import choose_simple_format

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1,"
    " text/html; q=0.01"
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, HTML),
        ("", HTML),
        ("text/plain", HTML),  # nothing matches: HTML, never 406
        ("application/json", HTML),
        ("*/*", HTML),  # equal quality: the server's order
        ("text/html", HTML),
        (V1_HTML, V1_HTML),
        (V1_JSON, V1_JSON),
        # Equal q: the server's order (WebOb acceptable_offers), whatever the client's order.
        (f"{V1_JSON}, {V1_HTML}", V1_HTML),
        (f"{V1_HTML}, {V1_JSON}", V1_HTML),
        (f"text/html;q=0.01, {V1_HTML};q=0.2, {V1_JSON}", V1_JSON),
        (PIP_ACCEPT, V1_JSON),
        (f"{V1_JSON};q=0, text/html;q=0.5", HTML),
        (f"{V1_JSON};q=0", HTML),
        ("application/*", V1_HTML),
        (f"application/*;q=0.5, {V1_JSON};q=0.9", V1_JSON),
        (f"{V1_JSON};q=abc", HTML),  # malformed q drops the range
        (f"{V1_JSON};q=2", HTML),  # out-of-range q drops the range
        ("garbage, ;;, /", HTML),
        ("APPLICATION/VND.PYPI.SIMPLE.V1+JSON", V1_JSON),
        ("application/vnd.pypi.simple.latest+json", HTML),  # PyPI offers only the three types
    ],
)
def test_choose_simple_format(accept: str | None, expected: str) -> None:
    assert choose_simple_format(accept) == expected
