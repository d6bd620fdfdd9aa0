"""Upstream listings rendered as this index's simple pages: PEP 691 JSON and PEP 503 HTML in
the shapes of :mod:`trustyard.index.simple_render` (api-version 1.4), with the upstream's
facts kept (PEP 700 upload-time and size, PEP 592 yanked and its reason, requires-python, PEP
658/714 core-metadata, PEP 740 provenance, PEP 792 status) and our own URLs for every file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from json.encoder import encode_basestring
from typing import Any

from packaging.utils import canonicalize_version

from trustyard.dists.filenames import InvalidFilename, parse_dist_filename
from trustyard.index.project_status import ProjectStatus, status_json, status_meta
from trustyard.index.simple_render import API_VERSION
from trustyard.index.upstream.pages import ListedFile, Listing

UrlOf = Callable[[ListedFile], str]
# A JSON string as ``json.dumps(..., ensure_ascii=False)`` writes it (the C encoder's own).
_string: Callable[[str], str] = encode_basestring


def _status(listing: Listing) -> dict[str, str]:
    return status_json(listing.status or ProjectStatus.ACTIVE.value, listing.status_reason or "")


def _version(filename: str) -> str | None:
    try:
        return str(parse_dist_filename(filename).version)
    except InvalidFilename:
        return None


def versions(listing: Listing, shown: tuple[ListedFile, ...] | None = None) -> list[str]:
    """PEP 700 ``versions``: the upstream's, else those its filenames name (oldest first);
    with ``shown`` (the files the gate lets through), without the versions whose every file
    the policy held back (issue 18: a version of young files disappears whole). A
    quarantined project's versions stay listed (PEP 792 withholds files, not versions)."""
    if listing.versions is not None:
        listed = list(listing.versions)
    else:
        found = {}
        for f in listing.files:
            try:
                version = parse_dist_filename(f.filename).version
            except InvalidFilename:
                continue
            found[str(version)] = version
        listed = [text for text, _ in sorted(found.items(), key=lambda item: item[1])]
    quarantined = listing.status == ProjectStatus.QUARANTINED.value
    if shown is None or quarantined or len(shown) == len(listing.files):
        return listed
    offered = {_version(f.filename) for f in listing.files}
    kept = {_version(f.filename) for f in shown}
    held = {canonicalize_version(v) for v in offered - kept if v is not None}
    return [v for v in listed if canonicalize_version(v) not in held]


def project_json(
    listing: Listing,
    normalized_name: str,
    files: tuple[ListedFile, ...],
    file_url: UrlOf,
    provenance_url: UrlOf,
) -> bytes:
    """PEP 691 project detail of an upstream project.

    The bytes are exactly ``json.dumps(document, ensure_ascii=False)`` of the document whose
    file entries are listed in :func:`_file_entry`, but each entry is written as text rather
    than built as a dict and walked by the encoder: a cold install renders pages of up to
    15,000 files (pydantic-core), and the dicts and the encoder's walk were two thirds of it.
    """
    document: dict[str, Any] = {
        "meta": {"api-version": API_VERSION, "_last-serial": listing.last_serial or 0},
        "name": normalized_name,
        "project-status": _status(listing),
        "versions": versions(listing, files),
    }
    head = json.dumps(document, ensure_ascii=False)[:-1]  # "files" comes last, before "}"
    entries = ", ".join([_file_entry(f, file_url, provenance_url) for f in files])
    return (head + ', "files": [' + entries + "]}\n").encode("utf-8")


def _file_entry(f: ListedFile, file_url: UrlOf, provenance_url: UrlOf) -> str:
    """One file of :func:`project_json`: what ``json.dumps`` writes for the dict
    ``{"filename", "url", "hashes": {"sha256"}, "requires-python", "size" (if known),
    "upload-time" (if known), "yanked" (PEP 592: false, true or the reason),
    "data-dist-info-metadata" and "core-metadata" (PEP 658/714: false or {"sha256"}),
    "provenance" (PEP 740: null or our URL)}``, in that order, with its default separators."""
    text = _string
    metadata = f'{{"sha256": {text(f.metadata_sha256)}}}' if f.metadata_sha256 else "false"
    parts = [
        f'{{"filename": {text(f.filename)}, "url": {text(file_url(f))}, "hashes": {{"sha256": ',
        f'{text(f.sha256)}}}, "requires-python": ',
        text(f.requires_python) if f.requires_python is not None else "null",
    ]
    if f.size is not None:
        parts.append(f', "size": {int.__repr__(f.size)}')
    if f.upload_time is not None:
        parts.append(f', "upload-time": {text(f.upload_time)}')
    yanked = (text(f.yanked_reason) if f.yanked_reason else "true") if f.yanked else "false"
    provenance = text(provenance_url(f)) if f.provenance else "null"
    parts.append(
        f', "yanked": {yanked}, "data-dist-info-metadata": {metadata},'
        f' "core-metadata": {metadata}, "provenance": {provenance}}}'
    )
    return "".join(parts)


def project_html(
    listing: Listing,
    normalized_name: str,
    files: tuple[ListedFile, ...],
    file_url: UrlOf,
    provenance_url: UrlOf,
) -> bytes:
    """PEP 503 project page of an upstream project, with PyPI's data attributes."""
    status = _status(listing)
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
        *(f"    {tag}" for tag in status_meta(status["status"], status.get("reason", ""))),
    ]
    lines += [
        f"    <title>Links for {escape(normalized_name)}</title>",
        "  </head>",
        "  <body>",
        f"    <h1>Links for {escape(normalized_name)}</h1>",
    ]
    for f in files:
        attrs = [f'href="{escape(file_url(f))}#sha256={f.sha256}"']
        if f.requires_python:
            attrs.append(f'data-requires-python="{escape(f.requires_python)}"')
        if f.yanked:
            attrs.append(f'data-yanked="{escape(f.yanked_reason or "")}"')
        if f.metadata_sha256:
            attrs.append(f'data-dist-info-metadata="sha256={f.metadata_sha256}"')
            attrs.append(f'data-core-metadata="sha256={f.metadata_sha256}"')
        if f.provenance:
            attrs.append(f'data-provenance="{escape(provenance_url(f))}"')
        lines.append(f"    <a {' '.join(attrs)}>{escape(f.filename)}</a><br />")
    lines += ["  </body>", "</html>", f"<!--SERIAL {listing.last_serial or 0}-->", ""]
    return "\n".join(lines).encode("utf-8")
