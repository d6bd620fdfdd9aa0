"""``/pypi/<name>/json`` (and ``/pypi/<name>/<version>/json``) of an upstream project, in the
shapes of warehouse ``legacy/api/json.py``.

The upstream's own JSON API when it offers one (pypi.org, trustyard), with every file URL
pointing at our ``/files/upstream/...`` and only the files the listing shows (the listing is
the authority, so a filter there hides a file here too); else, or when it fails, a document
built from the PEP 691 listing (files, versions; no description).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import anyio
from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

from trustyard.errors import Error
from trustyard.index.policy.rules import PolicyState
from trustyard.index.upstream.listing import gate
from trustyard.index.upstream.pages import ListedFile, Listing
from trustyard.index.upstream.proxy import UpstreamProxy
from trustyard.index.upstream.render import versions
from trustyard.index.upstream.urls import file_path, version_of

MAX_DOCUMENTS = 128  # upstream JSON documents kept in memory per proxy


async def _upstream_document(proxy: UpstreamProxy, url: str) -> dict[str, Any] | None:
    """The upstream's JSON document at ``url`` (kept for the page TTL), None on a 404 or any
    failure: the listing then speaks alone."""
    now = time.monotonic()
    _documents = proxy.documents
    kept = _documents.get(url)
    if kept is not None and kept[0] > now:
        return kept[1]
    try:
        document = await proxy.client.get_json(url)
    except Error:
        return kept[1] if kept is not None else None
    _documents[url] = (now + proxy.settings.upstream_ttl, document)
    _documents.move_to_end(url)
    while len(_documents) > MAX_DOCUMENTS:
        _documents.popitem(last=False)
    return document


def _file_json(project: str, listed: ListedFile, base: str) -> dict[str, Any]:
    wheel = listed.filename.endswith(".whl")
    python = listed.filename.rsplit("-", 3)[-3] if wheel and listed.filename.count("-") >= 4 else ""
    upload_time = (listed.upload_time or "").removesuffix("Z")
    return {
        "comment_text": "",
        "digests": {"sha256": listed.sha256},
        "downloads": -1,
        "filename": listed.filename,
        "has_sig": False,
        "packagetype": "bdist_wheel" if wheel else "sdist",
        "python_version": python if wheel else "source",
        "requires_python": listed.requires_python,
        "size": listed.size,
        "upload_time": upload_time.split(".", 1)[0] or None,
        "upload_time_iso_8601": listed.upload_time,
        "url": base + file_path(project, listed),
        "yanked": listed.yanked,
        "yanked_reason": listed.yanked_reason,
    }


def _rewrite_files(
    entries: Any, shown: dict[str, ListedFile], project: str, base: str
) -> list[dict[str, Any]]:
    """The upstream's file objects that the listing shows, with our URLs."""
    kept = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        digests = entry.get("digests")
        sha256 = digests.get("sha256") if isinstance(digests, dict) else None
        listed = shown.get(str(sha256))
        if listed is None:
            continue
        kept.append({**entry, "url": base + file_path(project, listed)})
    return kept


def _links(info: dict[str, Any], project: str, version: str | None, base: str) -> None:
    info["package_url"] = info["project_url"] = f"{base}/project/{project}/"
    if version is not None:
        info["release_url"] = f"{base}/project/{project}/{version}/"


def _key(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def _latest(by_version: dict[str, list[ListedFile]]) -> str | None:
    """warehouse's choice for ``info``: the newest non-yanked final release, else the newest
    non-yanked one, else the newest."""
    ordered = sorted(by_version, key=_key)

    def yanked(v: str) -> bool:
        return bool(by_version[v]) and all(f.yanked for f in by_version[v])

    def final(v: str) -> bool:
        parsed = _key(v)[1]
        return isinstance(parsed, Version) and not parsed.is_prerelease

    for candidates in (
        [v for v in ordered if final(v) and not yanked(v)],
        [v for v in ordered if not yanked(v)],
        ordered,
    ):
        if candidates:
            return candidates[-1]
    return None


def _built(
    listing: Listing, project: str, shown: tuple[ListedFile, ...], version: str | None, base: str
) -> dict[str, Any] | None:
    by_version: dict[str, list[ListedFile]] = {v: [] for v in versions(listing, shown)}
    for listed in shown:
        found = version_of(listed.filename)
        if found is not None:
            by_version.setdefault(found, []).append(listed)
    if version is not None:
        wanted = canonicalize_version(version)
        chosen = next((v for v in by_version if canonicalize_version(v) == wanted), None)
    else:
        chosen = _latest(by_version)
    if chosen is None:
        return None
    files = by_version[chosen]
    info: dict[str, Any] = {
        "name": listing.name,
        "version": chosen,
        "summary": None,
        "description": "",
        "requires_python": next((f.requires_python for f in files if f.requires_python), None),
        "yanked": bool(files) and all(f.yanked for f in files),
        "yanked_reason": next((f.yanked_reason for f in files if f.yanked_reason), None),
    }
    _links(info, project, chosen, base)
    body: dict[str, Any] = {
        "info": dict(sorted(info.items())),
        "last_serial": listing.last_serial or 0,
        "urls": [_file_json(project, f, base) for f in files],
        "vulnerabilities": [],
    }
    if version is None:
        body["releases"] = {
            v: [_file_json(project, f, base) for f in fs] for v, fs in by_version.items()
        }
    return body


async def project_json(
    proxy: UpstreamProxy, normalized_name: str, base: str, version: str | None = None
) -> dict[str, Any] | None:
    """The JSON API document of an upstream project (or one release), or None when the
    upstream has no such project (or release)."""
    listing = await proxy.listing(normalized_name)
    if listing is None:
        return None
    url = proxy.client.json_api_url(normalized_name, version)
    document = await _upstream_document(proxy, url) if url is not None else None
    state = await proxy.policy()
    # Walking thousands of files is CPU work: in a worker thread, never on the event loop.
    return await anyio.to_thread.run_sync(
        lambda: _assemble(
            listing, normalized_name, document, version, base, state=state, now=proxy.clock()
        )
    )


def _assemble(
    listing: Listing,
    normalized_name: str,
    document: dict[str, Any] | None,
    version: str | None,
    base: str,
    *,
    state: PolicyState,
    now: datetime,
) -> dict[str, Any] | None:
    gated = gate(listing, state, now)
    shown = gated.files
    by_sha = {f.sha256: f for f in shown}
    held = {canonicalize_version(v) for v in gated.hidden_versions}
    if version is not None and canonicalize_version(version) in held:
        return None  # every file of it is held back: the release is not shown
    if document is None or not isinstance(document.get("info"), dict):
        return _built(listing, normalized_name, shown, version, base)
    if canonicalize_version(str(document["info"].get("version"))) in held:
        # The upstream's "latest" is held back: describe the newest shown release instead.
        return _built(listing, normalized_name, shown, version, base)
    info = dict(document["info"])
    _links(info, normalized_name, info.get("version"), base)
    body: dict[str, Any] = {
        "info": info,
        "last_serial": document.get("last_serial", listing.last_serial or 0),
        "urls": _rewrite_files(document.get("urls"), by_sha, normalized_name, base),
        "vulnerabilities": document.get("vulnerabilities", []),
    }
    if version is None:
        releases = document.get("releases")
        body["releases"] = {
            str(v): _rewrite_files(entries, by_sha, normalized_name, base)
            for v, entries in (releases.items() if isinstance(releases, dict) else ())
            if canonicalize_version(str(v)) not in held
        }
    return body
