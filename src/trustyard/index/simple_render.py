"""Rendering of the simple repository API pages: PEP 503 HTML and PEP 691 JSON.

Shapes follow PyPI exactly (warehouse templates/api/simple/*.html and api/simple.py):
``api-version`` 1.4, ``_last-serial``, PEP 700 ``versions``/``size``/``upload-time``, PEP 592
``yanked``, PEP 658/714 ``core-metadata`` (and the older ``data-dist-info-metadata``), PEP 740
``provenance`` (``data-provenance`` in HTML, only on files that have one), PEP 792
``project-status`` (:mod:`trustyard.index.project_status` renders it; a quarantined project
lists its versions and no file, as the PEP's example page does).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from typing import Any

from trustyard.index.project_status import status_json, status_meta
from trustyard.index.services.catalogue import FileView, ProjectView

API_VERSION = "1.4"

FileUrl = Callable[[FileView], str]


def _iso(file: FileView) -> str:
    return file.upload_time.isoformat() + "Z"


def _json_bytes(document: dict[str, Any]) -> bytes:
    """PyPI's ``json-with-newline`` renderer: compact-ish JSON and a final newline."""
    return (json.dumps(document, ensure_ascii=False) + "\n").encode("utf-8")


def project_json(project: ProjectView, file_url: FileUrl, provenance_url: FileUrl) -> bytes:
    """PEP 691 project detail; ``provenance_url`` gives the Integrity API URL of a file."""
    files = []
    for f in project.files:
        metadata: dict[str, str] | bool = (
            {"sha256": f.metadata_sha256} if f.metadata_sha256 else False
        )
        files.append(
            {
                "filename": f.filename,
                "url": file_url(f),
                "hashes": {"sha256": f.sha256},
                "requires-python": f.requires_python,
                "size": f.size,
                "upload-time": _iso(f),
                "yanked": (f.yanked_reason or True) if f.yanked else False,
                "data-dist-info-metadata": metadata,
                "core-metadata": metadata,
                "provenance": (provenance_url(f) if f.provenance_publisher is not None else None),
            }
        )
    document = {
        "meta": {"api-version": API_VERSION, "_last-serial": project.last_serial},
        "name": project.normalized_name,
        "project-status": status_json(project.status.status.value, project.status.reason),
        "versions": [r.version for r in project.releases],
        "files": files,
    }
    return _json_bytes(document)


def project_html(project: ProjectView, file_url: FileUrl, provenance_url: FileUrl) -> bytes:
    """PEP 503 project page, with PyPI's data attributes."""
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
        *("    " + tag for tag in status_meta(project.status.status.value, project.status.reason)),
        f"    <title>Links for {escape(project.name)}</title>",
        "  </head>",
        "  <body>",
        f"    <h1>Links for {escape(project.name)}</h1>",
    ]
    for f in project.files:
        attrs = [f'href="{escape(file_url(f))}#sha256={f.sha256}"']
        if f.requires_python:
            attrs.append(f'data-requires-python="{escape(f.requires_python)}"')
        if f.yanked:
            attrs.append(f'data-yanked="{escape(f.yanked_reason)}"')
        if f.metadata_sha256:
            attrs.append(f'data-dist-info-metadata="sha256={f.metadata_sha256}"')
            attrs.append(f'data-core-metadata="sha256={f.metadata_sha256}"')
        if f.provenance_publisher is not None:
            attrs.append(f'data-provenance="{escape(provenance_url(f))}"')
        lines.append(f"    <a {' '.join(attrs)}>{escape(f.filename)}</a><br />")
    lines += ["  </body>", "</html>", f"<!--SERIAL {project.last_serial}-->", ""]
    return "\n".join(lines).encode("utf-8")


def index_json(projects: list[tuple[str, str, int]], serial: int) -> bytes:
    """PEP 691 project list."""
    document = {
        "meta": {"api-version": API_VERSION, "_last-serial": serial},
        "projects": [{"name": name, "_last-serial": last} for name, _, last in projects],
    }
    return _json_bytes(document)


def index_html(projects: list[tuple[str, str, int]], serial: int) -> bytes:
    """PEP 503 project list."""
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
        "    <title>Simple index</title>",
        "  </head>",
        "  <body>",
    ]
    lines += [
        f'    <a href="{escape(normalized)}/">{escape(name)}</a>'
        for name, normalized, _ in projects
    ]
    lines += ["  </body>", "</html>", f"<!--SERIAL {serial}-->", ""]
    return "\n".join(lines).encode("utf-8")
