"""Our URLs for upstream files: ``/files/upstream/<project>/<sha256>/<filename>`` (keyed by the
sha256 the upstream listed, outside the blake2 paths of uploads and the filename registry),
``....metadata`` beside it (PEP 658), and the Integrity API path of its provenance (PEP 740)."""

from __future__ import annotations

import re
from urllib.parse import quote

from trustyard.dists.filenames import InvalidFilename, parse_dist_filename
from trustyard.index.services.simple_pages import integrity_path
from trustyard.index.upstream.pages import ListedFile

PREFIX = "upstream/"  # under /files/
# What follows /files/upstream/: a normalised name, a sha256, a filename (and .metadata).
FILE_PATH = re.compile(
    r"(?P<project>[a-z0-9](?:[a-z0-9-]{0,198}[a-z0-9])?)/(?P<sha256>[0-9a-f]{64})/"
    r"(?P<filename>[A-Za-z0-9_][A-Za-z0-9._!+-]{0,250}?)(?P<metadata>\.metadata)?"
)


def file_path(project: str, listed: ListedFile) -> str:
    """The site-relative path of an upstream file."""
    filename = listed.filename
    # A listed filename holds only SAFE_FILENAME's characters, of which ``quote`` changes only
    # ``!`` and ``+``: the rest are spared the call (a page lists up to 15,000 files).
    if "!" in filename or "+" in filename:
        filename = quote(filename)
    return f"/files/{PREFIX}{project}/{listed.sha256}/{filename}"


def file_url(base_url: str | None, project: str, listed: ListedFile) -> str:
    """Absolute under ``--base-url``, else relative to ``/simple/<name>/`` (as local files)."""
    path = file_path(project, listed)
    return base_url.rstrip("/") + path if base_url else "../.." + path


def version_of(filename: str) -> str | None:
    """The version a filename names (for the Integrity API path), if it parses."""
    try:
        return str(parse_dist_filename(filename).version)
    except InvalidFilename:
        return None


def provenance_url(root: str, project: str, listed: ListedFile) -> str:
    """Our Integrity API URL of the file (absolute, under ``root``)."""
    version = version_of(listed.filename) or "0"
    return root.rstrip("/") + integrity_path(project, version, listed.filename)
