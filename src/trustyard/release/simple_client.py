"""A client of the simple repository API: PEP 691 JSON, falling back to PEP 503 HTML.
Asks as pip does (JSON preferred by q-value) and reads ``hashes``/``#sha256=`` per file.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

from packaging.version import Version

from trustyard.dists.filenames import SDIST_SUFFIX, InvalidFilename, parse_dist_filename
from trustyard.dists.mediatypes import SIMPLE_V1_HTML, SIMPLE_V1_JSON, TEXT_HTML
from trustyard.dists.names import normalize_name
from trustyard.release.errors import ReleaseNotFound, VerifyError

__all__ = [
    "ACCEPT_HTML",
    "ACCEPT_JSON_FIRST",
    "IndexFile",
    "download",
    "project_files",
    "release_files",
]

ACCEPT_JSON_FIRST = f"{SIMPLE_V1_JSON}, {SIMPLE_V1_HTML};q=0.2, {TEXT_HTML};q=0.01"
ACCEPT_HTML = f"{SIMPLE_V1_HTML}, {TEXT_HTML};q=0.01"
_TIMEOUT = 60


@dataclass(frozen=True)
class IndexFile:
    """One file of a release as the index lists it; ``sha256`` is ``""`` if it gave none;
    ``provenance`` is its PEP 740 Integrity API URL when the index names one; ``upload_time``
    its PEP 700 ``upload-time`` (JSON pages only; HTML pages do not carry it)."""

    filename: str
    url: str
    sha256: str
    yanked: bool
    provenance: str | None = None
    upload_time: datetime | None = None


def _get(url: str, accept: str, context: ssl.SSLContext | None = None) -> tuple[bytes, str, str]:
    if urlsplit(url).scheme not in {"http", "https"}:
        raise VerifyError(f"{url}: only http and https index URLs are supported")
    request = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310 - checked above
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT, context=context) as response:  # noqa: S310
            return response.read(), response.headers.get("Content-Type", ""), response.geturl()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise ReleaseNotFound(f"{url}: not found (404)") from exc
        raise VerifyError(f"{url}: the index answered {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise VerifyError(f"{url}: cannot reach the index: {exc}") from exc


def release_files(
    index_url: str,
    name: str,
    version: Version,
    *,
    accept: str = ACCEPT_JSON_FIRST,
    context: ssl.SSLContext | None = None,
) -> list[IndexFile]:
    """The files of ``name`` ``version`` on the index at ``index_url`` (a simple-API root).

    ``context`` is the TLS context for an https index (default: the system trust store).
    """
    page, files = project_files(index_url, name, accept=accept, context=context)
    chosen = [file for file, parsed_version in files if parsed_version == version]
    if not chosen:
        raise ReleaseNotFound(f"{page} lists no files of {name} {version}")
    return sorted(chosen, key=lambda f: (not f.filename.endswith(SDIST_SUFFIX), f.filename))


def project_files(
    index_url: str,
    name: str,
    *,
    accept: str = ACCEPT_JSON_FIRST,
    context: ssl.SSLContext | None = None,
) -> tuple[str, list[tuple[IndexFile, Version]]]:
    """The project page's URL, and every distribution of ``name`` it lists with its version.

    Files that are not distributions of ``name`` (a signature, a file of another project, a
    name that is not PEP 427/625 valid) are left out, as pip ignores them.
    """
    page = urljoin(index_url.rstrip("/") + "/", normalize_name(name) + "/")
    body, content_type, final_url = _get(page, accept, context)
    media = content_type.split(";", 1)[0].strip().lower()
    if media == SIMPLE_V1_JSON:
        files = _from_json(body, final_url)
    elif media in {TEXT_HTML, SIMPLE_V1_HTML, ""}:
        files = _from_html(body, final_url)
    else:
        raise VerifyError(f"{page}: unexpected content type {content_type!r}")
    found = []
    for file in files:
        try:
            parsed = parse_dist_filename(file.filename)
        except InvalidFilename:
            continue  # not a distribution (e.g. a signature), as pip ignores it
        if normalize_name(parsed.name) == normalize_name(name):
            found.append((file, parsed.version))
    return page, found


def _from_json(body: bytes, base: str) -> list[IndexFile]:
    """PEP 691: ``{"files": [{"filename", "url", "hashes": {...}, "yanked"}]}``."""
    try:
        document = json.loads(body)
        files = document["files"]
        return [
            IndexFile(
                filename=str(f["filename"]),
                url=urljoin(base, str(f["url"])),
                sha256=str(f.get("hashes", {}).get("sha256", "")).lower(),
                yanked=bool(f.get("yanked", False)),
                provenance=_provenance_url(base, f.get("provenance")),
                upload_time=_upload_time(f.get("upload-time")),
            )
            for f in files
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VerifyError(f"{base}: not a PEP 691 project page: {exc}") from exc


def _upload_time(value: object) -> datetime | None:
    """PEP 700: an ISO 8601 date and time in UTC (``2022-07-02T19:18:01.805959Z``), or absent."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _provenance_url(base: str, value: object) -> str | None:
    """PEP 740: ``provenance`` is a URL (relative to the page) or null."""
    return urljoin(base, value) if isinstance(value, str) and value else None


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[str, str, bool, str | None]] = []
        self._href: str | None = None
        self._yanked = False
        self._provenance: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            values = dict(attrs)
            self._href = values.get("href") or ""
            self._yanked = "data-yanked" in values
            self._provenance = values.get("data-provenance")
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            text = "".join(self._text).strip()
            self.anchors.append((self._href, text, self._yanked, self._provenance))
            self._href = None


def _from_html(body: bytes, base: str) -> list[IndexFile]:
    """PEP 503: one anchor per file, its text the filename, ``#sha256=`` in the URL."""
    parser = _Anchors()
    parser.feed(body.decode("utf-8", "replace"))
    files = []
    for href, text, yanked, provenance in parser.anchors:
        url, fragment = urldefrag(urljoin(base, href))
        algorithm, _, digest = fragment.partition("=")
        filename = text or Path(urlsplit(url).path).name
        files.append(
            IndexFile(
                filename=filename,
                url=url,
                sha256=digest.lower() if algorithm == "sha256" else "",
                yanked=yanked,
                provenance=_provenance_url(base, provenance),
            )
        )
    return files


def download(file: IndexFile, dest: Path, context: ssl.SSLContext | None = None) -> Path:
    """Fetch ``file`` into ``dest`` (a directory); the bytes must hash to what the page said.
    ``context`` is the TLS context for an https index (default: the system trust store)."""
    body, _, _ = _get(file.url, "*/*", context)
    import hashlib  # noqa: PLC0415 - small, local

    actual = hashlib.sha256(body).hexdigest()
    if file.sha256 and actual != file.sha256:
        raise VerifyError(
            f"{file.filename}: the index lists sha256 {file.sha256} but served bytes hashing to "
            f"{actual}"
        )
    target = dest / Path(file.filename).name
    target.write_bytes(body)
    return target


def __dir__() -> list[str]:
    return __all__
