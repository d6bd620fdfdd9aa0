"""Upstream listings rendered as our PEP 691 JSON page: the text written entry by entry is
exactly what ``json.dumps`` gives for the page's document (clients and ETags see no change),
whatever the strings hold."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.index.simple_render import API_VERSION
from trustyard.index.upstream import render, urls
from trustyard.index.upstream.pages import ListedFile, Listing, parse_page

DATA = Path(__file__).resolve().parents[2] / "data" / "upstream"


def _document(listing: Listing, name: str, files: tuple[ListedFile, ...]) -> dict[str, Any]:
    """The page's document as plain data, field by field (PEP 691, 700, 592, 658/714, 740)."""
    entries = []
    for f in files:
        metadata: Any = {"sha256": f.metadata_sha256} if f.metadata_sha256 else False
        entry: dict[str, Any] = {
            "filename": f.filename,
            "url": urls.file_url(None, name, f),
            "hashes": {"sha256": f.sha256},
            "requires-python": f.requires_python,
        }
        if f.size is not None:
            entry["size"] = f.size
        if f.upload_time is not None:
            entry["upload-time"] = f.upload_time
        entry["yanked"] = (f.yanked_reason or True) if f.yanked else False
        entry["data-dist-info-metadata"] = metadata
        entry["core-metadata"] = metadata
        entry["provenance"] = (
            urls.provenance_url("https://ix.test/é", name, f) if f.provenance else None
        )
        entries.append(entry)
    return {
        "meta": {"api-version": API_VERSION, "_last-serial": listing.last_serial or 0},
        "name": name,
        "project-status": {"status": listing.status or "active"},
        "versions": render.versions(listing, files),
        "files": entries,
    }


def _varied(listing: Listing) -> Listing:
    """The recorded page with every optional field set, unset and odd somewhere."""
    files = list(listing.files)
    for i in range(0, len(files), 3):
        files[i] = dataclasses.replace(
            files[i],
            yanked=i % 2 == 0,
            yanked_reason='broke "x" é\n</a>\u2028' if i % 4 == 0 else None,
            requires_python=None if i % 5 == 0 else '>=3.8,!="4" é',
            size=None if i % 7 == 0 else files[i].size,
            upload_time=None if i % 11 == 0 else files[i].upload_time,
            metadata_sha256="ab" * 32 if i % 2 else None,
            provenance="https://up.test/p" if i % 3 == 0 else None,
        )
    return dataclasses.replace(listing, files=tuple(files))


@pytest.mark.parametrize("name", ["sampleproject", "iniconfig"])
def test_json_page_is_json_dumps_of_its_document(name: str) -> None:
    listing = _varied(
        parse_page(
            (DATA / f"{name}.simple.json").read_bytes(),
            SIMPLE_V1_JSON,
            f"https://pypi.org/simple/{name}/",
            name,
        )
    )
    for files in (listing.files, listing.files[:1], ()):
        body = render.project_json(
            listing,
            name,
            files,
            lambda f: urls.file_url(None, name, f),
            lambda f: urls.provenance_url("https://ix.test/é", name, f),
        )
        expected = json.dumps(_document(listing, name, files), ensure_ascii=False) + "\n"
        assert body == expected.encode("utf-8")
        assert json.loads(body)["files"] == _document(listing, name, files)["files"]


@pytest.mark.parametrize("name", ["sampleproject", "iniconfig"])
def test_parsed_files_are_ordinary_listed_files(name: str) -> None:
    """Files made without the dataclass's ``__init__`` are the same as those made with it."""
    listing = parse_page(
        (DATA / f"{name}.simple.json").read_bytes(),
        SIMPLE_V1_JSON,
        f"https://pypi.org/simple/{name}/",
        name,
    )
    names = {f.name for f in dataclasses.fields(ListedFile)}
    for listed in listing.files:
        assert set(vars(listed)) == names
        again = ListedFile(**vars(listed))
        assert again == listed
        assert hash(again) == hash(listed)
        with pytest.raises(dataclasses.FrozenInstanceError):
            listed.sha256 = "0" * 64  # type: ignore[misc]
