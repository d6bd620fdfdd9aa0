"""A release's description as HTML, rendered as PyPI renders it and then sanitised.

Follows warehouse ``utils/readme.py``: ``text/x-rst`` through readme_renderer's docutils writer,
``text/markdown`` as CommonMark, anything else as plain text; every result goes through
readme_renderer's nh3 allow-list, so uploaded HTML can never run script in our origin.
"""

from __future__ import annotations

import functools
from html import escape
from typing import Any

from markupsafe import Markup

# Larger descriptions are shown as escaped plain text, cut here, rather than parsed.
MAX_RENDERED_CHARS = 256 * 1024


@functools.cache
def _renderers() -> tuple[Any, Any, Any]:
    """readme_renderer (docutils) and markdown-it, imported on first use: they take longer to
    import than the whole server takes to start otherwise."""
    import readme_renderer.clean  # noqa: PLC0415
    import readme_renderer.rst  # noqa: PLC0415
    from markdown_it import MarkdownIt  # noqa: PLC0415

    markdown = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    return readme_renderer.clean, readme_renderer.rst, markdown


def _plain(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


def render_description(text: str, content_type: str | None) -> Markup:
    """Safe HTML for ``text`` declared as ``content_type`` (a Description-Content-Type)."""
    if not text.strip():
        return Markup("")
    if len(text) > MAX_RENDERED_CHARS:
        note = "<p><em>The description is too long to render; its start follows.</em></p>"
        return Markup(note + _plain(text[:MAX_RENDERED_CHARS]))  # noqa: S704 - escaped
    media_type = (content_type or "").split(";")[0].strip().lower()
    clean, rst, markdown = _renderers()
    rendered: str | None
    if media_type == "text/markdown":
        rendered = clean.clean(markdown.render(text))
    elif media_type in ("text/x-rst", ""):
        rendered = rst.render(text)
        if rendered is None and media_type == "":
            rendered = _plain(text)  # PyPI falls back to plain text for undeclared non-rst
    else:
        rendered = _plain(text)
    if rendered is None:
        rendered = _plain(text)
    # Everything passes the allow-list once more, whichever renderer produced it.
    cleaned = clean.clean(rendered)
    return Markup(cleaned if cleaned is not None else escape(text))  # noqa: S704 - sanitised
