"""Descriptions are rendered once, in a worker process under a time budget (issue 14, 2).

The renderer's own tests need no index; the migration's run on both backends (the database
only: a catalogue at revision 0008 with releases, upgraded, then read).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import MetaData, Table, select

from tests.services import Backend
from trustyard.index.db.engine import Database
from trustyard.index.db.migrations import SCHEMA_HEAD
from trustyard.index.services.descriptions import (
    DescriptionFailed,
    DescriptionRenderer,
    failure_message,
    render_for_upload,
)

pytestmark = pytest.mark.slow

# docutils recurses once per nesting level: 300 nested lists exhaust Python's stack.
NESTED_LISTS_RST = "".join("  " * depth + "* item\n\n" for depth in range(300))
# markdown-it needs seconds for this (link reference scanning is quadratic in the brackets).
BRACKETS_MARKDOWN = "[" * 250_000


@pytest.fixture(scope="module")
def renderer() -> Iterator[DescriptionRenderer]:
    """One worker, so that a test of the replacement sees the same pool slot reused."""
    pool = DescriptionRenderer(workers=1, budget=0.5)
    yield pool
    pool.close()


def test_markdown_rst_and_plain_render_sanitised(renderer: DescriptionRenderer) -> None:
    markdown = renderer.render("# Title\n\n*it* <script>x()</script>\n", "text/markdown")
    assert markdown is not None
    assert "<h1>Title</h1>" in markdown
    assert "<em>it</em>" in markdown
    assert "<script" not in markdown
    rst = renderer.render("Heading\n=======\n\nSome *text*.\n\nMore\n----\n\nx\n", "text/x-rst")
    assert rst is not None
    assert "<em>text</em>" in rst
    plain = renderer.render("a < b\n  indented", "text/plain; charset=UTF-8")
    assert plain == "<pre>a &lt; b\n  indented</pre>"
    assert renderer.render("   \n", "text/markdown") == ""


def test_a_recursion_error_is_a_failed_render(renderer: DescriptionRenderer) -> None:
    assert renderer.render(NESTED_LISTS_RST, "text/x-rst") is None
    assert renderer.render(NESTED_LISTS_RST, None) is None
    # The worker survived (or was replaced): the next description renders.
    assert renderer.render("fine", "text/markdown") == "<p>fine</p>\n"


def test_a_render_over_budget_is_killed_and_fails(renderer: DescriptionRenderer) -> None:
    assert renderer.render(BRACKETS_MARKDOWN, "text/markdown") is None
    assert renderer.render("after", "text/markdown") == "<p>after</p>\n"


def test_invalid_rst_fails_as_on_pypi(renderer: DescriptionRenderer) -> None:
    # readme_renderer halts at warnings (here: unclosed emphasis); undeclared means rst.
    broken = "*unclosed emphasis\n"
    assert renderer.render(broken, "text/x-rst") is None
    assert renderer.render(broken, None) is None


def test_upload_refusal_carries_pypis_message(renderer: DescriptionRenderer) -> None:
    with pytest.raises(DescriptionFailed) as declared:
        render_for_upload(renderer, NESTED_LISTS_RST, "text/x-rst; charset=UTF-8")
    assert declared.value.status == 400
    assert declared.value.message == (
        "The description failed to render for 'text/x-rst; charset=UTF-8'. See"
        " https://pypi.org/help/#description-content-type for more information."
    )
    with pytest.raises(DescriptionFailed) as undeclared:
        render_for_upload(renderer, NESTED_LISTS_RST, None)
    assert (
        undeclared.value.message
        == failure_message(None)
        == (
            "The description failed to render in the default format of reStructuredText. See"
            " https://pypi.org/help/#description-content-type for more information."
        )
    )
    assert render_for_upload(renderer, "", None) == ""


# -- the migration -----------------------------------------------------------------------------


@pytest.fixture
def catalogue_url(backend: Backend, tmp_path: Path) -> str:
    """An empty database of this test's own on the module's backend."""
    if backend.postgres is not None:
        return backend.postgres.new_database()
    return f"sqlite:///{tmp_path / 'catalogue.sqlite3'}"


def test_migration_renders_existing_releases(catalogue_url: str) -> None:
    db = Database(catalogue_url)
    try:
        command.upgrade(db.alembic_config(), "0008")
        meta = MetaData()
        projects = Table("projects", meta, autoload_with=db.engine)
        releases = Table("releases", meta, autoload_with=db.engine)
        now = datetime(2026, 12, 1)
        descriptions = {
            "1.0": ("# Hello\n\n**bold** <script>x()</script>", "text/markdown"),
            "2.0": ("Section\n=======\n\nSome *text*.\n\nOther\n-----\n\ny\n", "text/x-rst"),
            "3.0": ("just <words>", "text/plain"),
            "4.0": (NESTED_LISTS_RST, "text/x-rst"),  # fails: stored as escaped plain text
            "5.0": ("", None),
        }
        with db.engine.begin() as conn:
            conn.execute(
                projects.insert(),
                {
                    "id": 1,
                    "name": "Old",
                    "normalized_name": "old",
                    "created": now,
                    "last_serial": 0,
                },
            )
            for number, (version, (text, content_type)) in enumerate(descriptions.items(), 1):
                conn.execute(
                    releases.insert(),
                    {
                        "id": number,
                        "project_id": 1,
                        "version": version,
                        "canonical_version": version.removesuffix(".0"),
                        "created": now,
                        "is_prerelease": False,
                        "yanked": False,
                        "yanked_reason": "",
                        "core_metadata": {
                            "description": text,
                            "description_content_type": content_type,
                            "summary": "old",
                        },
                    },
                )
        db.migrate()
        assert db.schema_status() == (SCHEMA_HEAD, SCHEMA_HEAD)
        upgraded = Table("releases", MetaData(), autoload_with=db.engine)
        with db.engine.connect() as conn:
            html = dict(conn.execute(select(upgraded.c.version, upgraded.c.description_html)).all())
    finally:
        db.dispose()
    assert "<h1>Hello</h1>" in html["1.0"]
    assert "<strong>bold</strong>" in html["1.0"]
    assert "<script" not in html["1.0"]
    assert "<em>text</em>" in html["2.0"]
    assert html["3.0"] == "<pre>just &lt;words&gt;</pre>"
    assert html["4.0"].startswith("<pre>* item\n\n  * item")
    assert html["4.0"].endswith("</pre>")
    assert html["5.0"] == ""
