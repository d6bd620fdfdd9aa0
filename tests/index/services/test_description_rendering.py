"""``services/descriptions.py``'s rendering in this process (the worker pool around it, which
kills renders over budget, is the subprocess tier's: tests/index/services/test_descriptions.py):
each content type, the sanitiser, failures, and the shortcuts that need no renderer."""

from __future__ import annotations

import pytest

from trustyard.index.services.descriptions import (
    MAX_RENDERED_CHARS,
    DescriptionRenderer,
    failure_message,
    plain_html,
    render_html,
)


@pytest.mark.parametrize(
    ("text", "content_type", "expected"),
    [
        ("# Title\n\n*hi*", "text/markdown", "<h1>Title</h1>"),
        ("| a |\n|---|\n| b |", "text/markdown; variant=GFM", "<table>"),
        ("Title\n=====\n\ntext", "text/x-rst", "<p>text</p>"),
        ("Title\n=====\n\ntext", None, "<p>text</p>"),
        ("<b>kept as text</b>", "text/plain", "&lt;b&gt;kept as text&lt;/b&gt;"),
        ("", "text/markdown", ""),
    ],
)
def test_render(text: str, content_type: str | None, expected: str) -> None:
    html = render_html(text, content_type)
    assert html is not None
    assert expected in html


def test_script_never_survives() -> None:
    html = render_html("<script>alert(1)</script>\n\n[x](javascript:alert(1))", "text/markdown")
    assert html is not None
    assert "<script" not in html
    assert 'href="javascript' not in html


def test_rst_with_errors_fails() -> None:
    assert render_html("Title\n===\n\n.. unknown-directive::\n", "text/x-rst") is None


def test_rst_nested_beyond_the_stack_fails() -> None:
    nested = "".join("  " * depth + "* item\n\n" for depth in range(300))
    assert render_html(nested, "text/x-rst") is None


def test_too_long_is_cut_as_plain_text() -> None:
    html = render_html("x" * (MAX_RENDERED_CHARS + 10), "text/markdown")
    assert html is not None
    assert "too long to render" in html


def test_the_pool_needs_no_worker_for_shortcuts() -> None:
    pool = DescriptionRenderer(workers=1, budget=1.0)
    try:
        assert pool.render("   ", None) == ""
        assert "too long" in (pool.render("y" * (MAX_RENDERED_CHARS + 1), None) or "")
    finally:
        pool.close()
    with pytest.raises(ValueError, match="at least one worker"):
        DescriptionRenderer(workers=0)


def test_messages() -> None:
    assert "'text/markdown'" in failure_message("text/markdown")
    assert "reStructuredText" in failure_message(None)
    assert plain_html("<&>") == "<pre>&lt;&amp;&gt;</pre>"
