"""A description's images our CSP would block become links (issue 20, "README images"):
through the renderer in this process (Markdown and reST as uploads declare them) and the
rewrite's own rules."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from trustyard.index.services.description_images import image_label, is_ours, link_external_images
from trustyard.index.services.descriptions import render_html

BADGE = "https://img.shields.io/badge/ci-passing-green.svg"


def _render(text: str, content_type: str = "text/markdown") -> str:
    html = render_html(text, content_type)
    assert html is not None
    return html


def test_an_external_screenshot_becomes_a_link_with_its_alt_text() -> None:
    html = _render("![The main window](https://example.org/shots/main.png)\n")
    assert "<img" not in html
    assert re.search(
        r'<a class="image-link" href="https://example.org/shots/main.png" rel="nofollow noopener">'
        r"The main window</a>",
        html,
    ), html


def test_without_alt_text_the_file_name_is_shown() -> None:
    html = _render('<img src="https://example.org/a/b/diagram%20one.svg?x=1">\n')
    assert ">diagram one.svg</a>" in html
    assert image_label("", "https://example.org/") == "example.org"
    assert image_label("  ", "data:image/png;base64,AAAA") == "image"


def test_a_badge_inside_a_link_stays_one_link() -> None:
    html = _render(f"[![CI status]({BADGE})](https://ci.example.org/build)\n")
    assert "<img" not in html
    assert html.count("<a ") == 1
    assert html.count("</a>") == 1
    assert re.search(
        r'<a href="https://ci.example.org/build" rel="nofollow noopener">'
        r'<span class="image-alt">CI status</span></a>',
        html,
    ), html


def test_rst_images_and_badges_too() -> None:
    text = (
        "Title\n=====\n\n"
        f".. image:: {BADGE}\n   :alt: coverage\n   :target: https://cov.example.org/\n\n"
        ".. image:: https://example.org/logo.png\n\ntext\n"
    )
    html = _render(text, "text/x-rst")
    assert "<img" not in html
    assert html.count("<a ") == 3, html  # with the heading's own anchor
    assert '<span class="image-alt">coverage</span>' in html
    assert 'href="https://example.org/logo.png" rel="nofollow noopener">logo.png</a>' in html


def test_data_and_relative_images_show_their_alt_text_unlinked() -> None:
    html = _render(
        '<img alt="inline" src="data:image/png;base64,iVBORw0KGgo=">\n\n'
        "![local docs image](docs/shot.png)\n"
    )
    assert "<img" not in html
    assert "<a " not in html
    assert '<span class="image-alt">inline</span>' in html
    assert '<span class="image-alt">local docs image</span>' in html


def test_an_image_on_our_origin_stays_an_image() -> None:
    html = _render('<img src="/static/logo.png" alt="ours">\n')
    assert '<img src="/static/logo.png" alt="ours">' in html
    assert not is_ours("//elsewhere.example/x.png")
    assert not is_ours("/\\elsewhere.example/x.png")
    assert is_ours("/files/x.png")


@pytest.mark.parametrize(
    "hostile",
    [
        '<img src="https://e.org/x.png" alt="&quot;><script>alert(1)</script>">',
        '<img src="https://e.org/x.png&quot; onclick=&quot;alert(1)" alt="a">',
        '<img src="javascript:alert(1)" alt="j">',
        '<a href="https://e.org/"><img src="https://e.org/x.png" alt="</a><script>x()</script>"></a>',
    ],
)
def test_the_rewrite_adds_nothing_the_sanitiser_would_not_allow(hostile: str) -> None:
    html = _render(hostile + "\n")
    elements = _elements(html)
    assert {tag for tag, _ in elements} <= {"p", "a", "span"}, html
    for _tag, attrs in elements:
        assert set(attrs) <= {"href", "rel", "class"}, html
        assert not (attrs.get("href") or "").startswith("javascript"), html
    assert sum(tag == "a" for tag, _ in elements) <= 1, html


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def _elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.found


def test_text_and_entities_survive_the_rewrite() -> None:
    html = link_external_images(
        '<p>a &lt;b&gt; &amp; c <img src="https://e.org/i.png" alt="x &amp; y"></p>'
        '<pre>  keep\n  spacing &lt;tag&gt;</pre><br><hr class="x">'
    )
    assert "<p>a &lt;b&gt; &amp; c <a" in html
    assert ">x &amp; y</a>" in html
    assert "<pre>  keep\n  spacing &lt;tag&gt;</pre>" in html
    assert "<br>" in html
    assert '<hr class="x">' in html


def test_html_without_images_is_left_alone() -> None:
    assert link_external_images("<p>none</p>") == "<p>none</p>"
