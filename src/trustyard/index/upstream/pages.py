"""Upstream project pages parsed into one listing form: PEP 691 JSON and PEP 503 HTML (with
PEP 592 yanking, PEP 658/714 core metadata, PEP 700 fields, PEP 740 provenance, PEP 792 status).

The listing keeps the upstream's facts as given (upload time, yanked and its reason,
requires-python, core-metadata digest, project status, provenance URL): uv's
``exclude-newer`` reads ``upload-time``, so it must never become the time of caching. A file
is listed only with a sha256 (its bytes are checked against it before anyone gets them) and a
filename that is safe in a URL path and a store key; anything else is dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin

from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.index.project_status import ProjectStatus
from trustyard.index.upstream.errors import UpstreamBroken

_SHA256 = re.compile(r"[0-9a-f]{64}")
# What a filename may hold to travel in our URLs and store keys unescaped (every PyPI name).
SAFE_FILENAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._!+-]{0,250}")
_STATUSES = frozenset(status.value for status in ProjectStatus)  # PEP 792


@dataclass(frozen=True)
class ListedFile:
    """One file of an upstream listing, as the upstream described it."""

    filename: str
    url: str  # absolute, on the upstream (or its file host)
    sha256: str
    size: int | None
    upload_time: str | None  # PEP 700 ISO 8601 as given (``...Z``)
    requires_python: str | None
    yanked: bool
    yanked_reason: str | None
    metadata_sha256: str | None  # PEP 658/714: set only when the upstream gave a sha256
    provenance: str | None  # PEP 740: the upstream's provenance URL


@dataclass(frozen=True)
class Listing:
    """An upstream project page: its name, status (PEP 792), versions (PEP 700) and files."""

    name: str
    last_serial: int | None
    status: str | None
    status_reason: str | None
    versions: tuple[str, ...] | None
    files: tuple[ListedFile, ...]
    # sha256 -> why: files the policy gate holds back (issue 18's publisher continuity); ours,
    # never the upstream's, so not kept in the document.
    held: Mapping[str, str] = field(default_factory=dict, compare=False)

    def to_document(self) -> dict[str, Any]:
        """The JSON kept in the catalogue (``upstream_projects.document``). Every field is a
        plain value, so a shallow copy is enough: ``dataclasses.asdict`` deep-copies each
        value and took as long as parsing the page (0.3 s for botocore's 5,000 files)."""
        document = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "held"}
        document["versions"] = list(self.versions) if self.versions is not None else None
        document["files"] = [dict(vars(f)) for f in self.files]
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Listing:
        """Back from :meth:`to_document`."""
        versions = document.get("versions")
        return cls(
            name=document["name"],
            last_serial=document.get("last_serial"),
            status=document.get("status"),
            status_reason=document.get("status_reason"),
            versions=tuple(versions) if versions is not None else None,
            files=tuple(ListedFile(**f) for f in document["files"]),
        )

    def file(self, sha256: str, filename: str) -> ListedFile | None:
        """The listed file with this digest and name, if any (the first, if listed twice)."""
        return self._by_key.get((sha256, filename))

    @cached_property
    def _by_key(self) -> dict[tuple[str, str], ListedFile]:
        # Every file request looks its file up (a HEAD, ranges and a GET per wheel in a cold
        # install): a scan of 11,000 files (grpcio) each time showed in the profile.
        found: dict[tuple[str, str], ListedFile] = {}
        for listed in self.files:
            found.setdefault((listed.sha256, listed.filename), listed)
        return found


def parse_page(body: bytes, content_type: str, page_url: str, name: str) -> Listing:
    """Parse a project page by its media type (PEP 691: JSON; otherwise PEP 503 HTML)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == SIMPLE_V1_JSON:
        return parse_json(body, page_url, name)
    if media in {"text/html", "application/vnd.pypi.simple.v1+html"}:
        return parse_html(body.decode("utf-8", "replace"), page_url, name)
    raise UpstreamBroken(f"the upstream answered {name}'s page with {media or 'no'} media type")


def _join(page_url: str, url: str) -> str:
    """``url`` made absolute against the page's. pypi.org lists absolute URLs: those are kept
    as given, since ``urljoin`` (which re-splits and re-joins both) was half of parsing a page of
    thousands of files."""
    if url.startswith(("https://", "http://")):
        return url
    return urljoin(page_url, url)


def _http_url(url: str) -> str | None:
    # The scheme is all that is asked; ``urlsplit`` took a third of parsing a page of 15,000
    # files (pydantic-core). Schemes are case-insensitive (RFC 3986 section 3.1).
    return url if url[:8].lower().startswith(("https://", "http://")) else None


_new = object.__new__
_set = object.__setattr__


def _listed(values: dict[str, Any]) -> ListedFile:
    """A :class:`ListedFile` of ``values`` (every field by name), made without the frozen
    dataclass's ``__init__``: its ``object.__setattr__`` per field was half of parsing a page
    of 15,000 files. The instance is the same (frozen afterwards, equal, hashable)."""
    listed = _new(ListedFile)
    _set(listed, "__dict__", values)
    return listed


def _file(
    *,
    filename: str,
    url: str,
    sha256: Any,
    size: Any = None,
    upload_time: Any = None,
    requires_python: Any = None,
    yanked: Any = False,
    metadata: Any = None,
    provenance: Any = None,
) -> ListedFile | None:
    """A listed file, or None when it cannot be served safely (no sha256, odd name or URL)."""
    if not isinstance(sha256, str):
        return None
    sha256 = sha256.lower()
    if not _SHA256.fullmatch(sha256):
        return None
    if not SAFE_FILENAME.fullmatch(filename) or ".." in filename:
        return None
    absolute = _http_url(url)
    if absolute is None:
        return None
    metadata_sha256 = None
    if metadata and isinstance(metadata, dict) and isinstance(metadata.get("sha256"), str):
        candidate = metadata["sha256"].lower()
        metadata_sha256 = candidate if _SHA256.fullmatch(candidate) else None
    return _listed(
        {
            "filename": filename,
            "url": absolute,
            "sha256": sha256,
            "size": size if size.__class__ is int and size >= 0 else None,
            "upload_time": upload_time if isinstance(upload_time, str) else None,
            "requires_python": requires_python if isinstance(requires_python, str) else None,
            "yanked": bool(yanked),
            "yanked_reason": yanked if isinstance(yanked, str) and yanked else None,
            "metadata_sha256": metadata_sha256,
            "provenance": _http_url(provenance) if isinstance(provenance, str) else None,
        }
    )


def parse_json(body: bytes, page_url: str, name: str) -> Listing:
    """PEP 691 project detail (fields of PEP 700, 714, 740 and 792 when present)."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise UpstreamBroken(f"the upstream's JSON page for {name} does not parse") from exc
    if not isinstance(document, dict) or not isinstance(document.get("files"), list):
        raise UpstreamBroken(f"the upstream's JSON page for {name} has no list of files")
    files = []
    for entry in document["files"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
            continue
        get = entry.get
        hashes = get("hashes")
        url = get("url", "")
        listed = _file(
            filename=entry["filename"],
            url=_join(page_url, url if url.__class__ is str else str(url)),
            sha256=hashes.get("sha256") if isinstance(hashes, dict) else None,
            size=get("size"),
            upload_time=get("upload-time"),
            requires_python=get("requires-python"),
            yanked=get("yanked", False),
            # PEP 714: core-metadata, falling back to the older data-dist-info-metadata.
            metadata=get("core-metadata", get("data-dist-info-metadata")),
            provenance=get("provenance"),
        )
        if listed is not None:
            files.append(listed)
    meta = document.get("meta") if isinstance(document.get("meta"), dict) else {}
    status = document.get("project-status")
    versions = document.get("versions")
    return Listing(
        name=str(document.get("name") or name),
        last_serial=_serial(meta.get("_last-serial") if meta else None),
        status=_status(status.get("status") if isinstance(status, dict) else None),
        status_reason=(
            str(status["reason"])
            if isinstance(status, dict) and isinstance(status.get("reason"), str)
            else None
        ),
        versions=(
            tuple(v for v in versions if isinstance(v, str)) if isinstance(versions, list) else None
        ),
        files=tuple(files),
    )


def _serial(value: Any) -> int | None:
    # pypi.org sends it as a string in api-version 1.1, as a number elsewhere.
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _status(value: Any) -> str | None:
    return value if isinstance(value, str) and value in _STATUSES else None


class _AnchorParser(HTMLParser):
    """Collects ``<a>`` elements (attributes and text) and ``<meta name=pypi:...>`` values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.meta: dict[str, str] = {}
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open = dict(attrs)
            self._text = []
        elif tag == "meta":
            found = dict(attrs)
            if found.get("name") and found.get("content") is not None:
                self.meta[str(found["name"])] = str(found["content"])

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text).strip()))
            self._open = None


def _html_metadata(value: str | None) -> dict[str, str] | None:
    """PEP 658's ``sha256=<hex>`` attribute value as PEP 691's object."""
    if value and value.startswith("sha256="):
        return {"sha256": value.removeprefix("sha256=")}
    return None


def parse_html(text: str, page_url: str, name: str) -> Listing:
    """PEP 503 anchors with PEP 592/658/714/740 data attributes; PEP 792's meta elements."""
    parser = _AnchorParser()
    parser.feed(text)
    parser.close()
    files = []
    for attrs, label in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = urldefrag(_join(page_url, href))
        sha256 = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else None
        filename = label or url.rsplit("/", 1)[-1]
        listed = _file(
            filename=filename,
            url=url,
            sha256=sha256,
            requires_python=attrs.get("data-requires-python"),
            yanked=(attrs["data-yanked"] or True) if "data-yanked" in attrs else False,
            metadata=_html_metadata(
                attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata")
            ),
            provenance=attrs.get("data-provenance"),
        )
        if listed is not None:
            files.append(listed)
    return Listing(
        name=name,
        last_serial=None,
        status=_status(parser.meta.get("pypi:project-status")),
        status_reason=parser.meta.get("pypi:project-status-reason"),
        versions=None,
        files=tuple(files),
    )
