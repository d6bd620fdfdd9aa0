"""A description's images that our pages cannot show become links (issue 20).

The web UI's Content-Security-Policy allows images from our own origin only (``img-src
'self'``, ``index/web/render.py``), so a README's badges and screenshots hosted elsewhere would
show as broken images. Fetching them for the reader (an image proxy) would reopen the
server-side fetches the security issue closed, so each such ``<img>`` becomes what a person can
use: its alt text (or the image's file name) linked to the image, ``rel="nofollow noopener"``.
An image already inside a link (a badge linking to CI) becomes that link's text: one link, never
a nested ``<a>``. Only a root-relative ``src`` (``/static/...``) is ours and stays an image;
``data:`` URIs are not allowed by the policy either and show their alt text.

Works on HTML the allow-list (readme_renderer's nh3 call) already cleaned, so the input is
html5ever's well-formed serialisation; the stdlib tokenizer re-emits it, and the result goes
through nh3 once more with the same allow-list, so this step can add nothing the sanitiser
would not allow (the links of a description with images then carry ``rel="nofollow
noopener"``).
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import nh3
import readme_renderer.clean

IMAGE_LINK_CLASS = "image-link"
IMAGE_TEXT_CLASS = "image-alt"
LINK_REL = "nofollow noopener"
# readme_renderer's allow-list, plus the class our image links carry (uploaded links lost any
# class in the first pass, so only ours can have one).
_ATTRIBUTES = {
    **readme_renderer.clean.ALLOWED_ATTRIBUTES,
    "a": {*readme_renderer.clean.ALLOWED_ATTRIBUTES["a"], "class"},
}
# Elements without an end tag (HTML Living Standard 13.1.2), among those the allow-list keeps.
_VOID = frozenset({"br", "col", "hr", "img", "input"})


def is_ours(src: str) -> bool:
    """Whether our CSP lets a page load ``src``: a path on our own origin, nothing else."""
    return src.startswith("/") and not src.startswith("//") and not src.startswith("/\\")


def _linkable(src: str) -> bool:
    parts = urlsplit(src)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def image_label(alt: str, src: str) -> str:
    """What a reader sees instead of the image: its alt text, else the file name of its URL,
    else its host, else ``image`` (docutils gives an image without ``:alt:`` its URL as alt
    text: that counts as none)."""
    if alt.strip() and alt.strip() != src:
        return alt.strip()
    parts = urlsplit(src)
    if parts.scheme in {"http", "https"}:
        name = PurePosixPath(unquote(parts.path)).name
        return name or parts.netloc or "image"
    return "image"


class _ImageLinker(HTMLParser):
    """Re-emits sanitised HTML, each foreign ``<img>`` replaced (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open_links = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "img" and not is_ours(values.get("src", "")):
            self._replace_image(values.get("src", ""), values.get("alt", ""))
            return
        if tag == "a":
            self.open_links += 1
        rendered = "".join(
            f' {name}="{escape(value or "", quote=True)}"' if value is not None else f" {name}"
            for name, value in attrs
        )
        self.out.append(f"<{tag}{rendered}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.open_links:
            self.open_links -= 1
        if tag not in _VOID:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data, quote=False))

    def _replace_image(self, src: str, alt: str) -> None:
        label = escape(image_label(alt, src), quote=False)
        if self.open_links or not _linkable(src):
            self.out.append(f'<span class="{IMAGE_TEXT_CLASS}">{label}</span>')
            return
        self.out.append(
            f'<a class="{IMAGE_LINK_CLASS}" href="{escape(src, quote=True)}">{label}</a>'
        )


def link_external_images(html: str) -> str:
    """``html`` (already through the allow-list) with every image our CSP would block turned
    into a link or its text, cleaned again with the same allow-list."""
    if "<img" not in html:
        return html
    linker = _ImageLinker()
    linker.feed(html)
    linker.close()
    return nh3.clean(
        "".join(linker.out),
        tags=readme_renderer.clean.ALLOWED_TAGS,
        attributes=_ATTRIBUTES,
        link_rel=LINK_REL,
        url_schemes={"http", "https", "mailto"},
        set_tag_attribute_values={"input": {"disabled": ""}},
    )
