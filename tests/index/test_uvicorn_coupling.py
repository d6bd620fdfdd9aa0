"""The private parts of uvicorn that trustyard relies on are still there, and shaped as expected.

``index/server.py`` replaces uvicorn's status-line tables (PyPI's reason phrases in the status
line) and ``index/connection_limits.py`` subclasses its httptools protocol (header size and time
limits). Neither is public API: this test is what an update of uvicorn meets first when those
names move or change shape (the behaviour itself is tested through real servers and clients).
"""

from __future__ import annotations

import inspect

import pytest
from uvicorn.protocols.http import h11_impl, httptools_impl

from trustyard.index.connection_limits import LimitedHttpProtocol
from trustyard.index.server import install_reason_phrases


def test_the_status_line_tables_are_dicts_of_status_codes() -> None:
    install_reason_phrases()
    assert isinstance(httptools_impl.STATUS_LINE, dict)
    assert httptools_impl.STATUS_LINE[404] == b"HTTP/1.1 404 Not Found\r\n"
    assert isinstance(h11_impl.STATUS_PHRASES, dict)
    assert h11_impl.STATUS_PHRASES[404] == b"Not Found"


@pytest.mark.parametrize(
    ("name", "parameters"),
    [
        ("connection_made", ["self", "transport"]),
        ("connection_lost", ["self", "exc"]),
        ("on_message_begin", ["self"]),
        ("on_url", ["self", "url"]),
        ("on_header", ["self", "name", "value"]),
        ("on_headers_complete", ["self"]),
        ("send_400_response", ["self", "msg"]),
    ],
)
def test_the_overridden_protocol_methods_keep_their_signatures(
    name: str, parameters: list[str]
) -> None:
    base = getattr(httptools_impl.HttpToolsProtocol, name)
    assert list(inspect.signature(base).parameters) == parameters
    assert getattr(LimitedHttpProtocol, name) is not base


def test_the_protocol_sets_the_attributes_the_subclass_reads() -> None:
    """``loop``, ``transport`` and ``logger`` are set by uvicorn's ``__init__``/
    ``connection_made``; their names are read from its source, as no instance exists here."""
    source = inspect.getsource(httptools_impl.HttpToolsProtocol)
    for attribute in ("self.loop =", "self.transport =", "self.logger ="):
        assert attribute in source
