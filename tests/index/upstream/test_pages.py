"""Parsing upstream project pages: recorded real pypi.org pages (tests/data/upstream/, fetched
2026-12-07: api-version 1.1, no ETag, no PEP 658 files or provenance) and hand-written pages
with the fields pypi.org did not show that day (PEP 592, 658/714, 740, 792)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustyard.dists.mediatypes import SIMPLE_V1_JSON
from trustyard.index.upstream.errors import UpstreamBroken
from trustyard.index.upstream.pages import Listing, parse_page

DATA = Path(__file__).resolve().parents[2] / "data" / "upstream"
PAGE = "https://pypi.org/simple/{}/"


@pytest.mark.parametrize("name", ["sampleproject", "iniconfig"])
def test_pypi_json_and_html_pages_give_the_same_files(name: str) -> None:
    as_json = parse_page(
        (DATA / f"{name}.simple.json").read_bytes(), SIMPLE_V1_JSON, PAGE.format(name), name
    )
    as_html = parse_page(
        (DATA / f"{name}.simple.html").read_bytes(), "text/html", PAGE.format(name), name
    )
    recorded = json.loads((DATA / f"{name}.simple.json").read_text())
    assert [f.filename for f in as_json.files] == [f["filename"] for f in recorded["files"]]
    assert [f.sha256 for f in as_json.files] == [f["hashes"]["sha256"] for f in recorded["files"]]
    # pypi.org orders the two forms differently; the files and their facts are the same.
    assert sorted(
        (f.filename, f.sha256, f.url, f.requires_python) for f in as_json.files
    ) == sorted((f.filename, f.sha256, f.url, f.requires_python) for f in as_html.files)
    first = recorded["files"][0]
    assert as_json.files[0].upload_time == first["upload-time"]
    assert as_json.files[0].size == first["size"]
    assert as_json.versions == tuple(recorded["versions"])
    assert as_json.last_serial == int(recorded["meta"]["_last-serial"])
    assert all(f.url.startswith("https://files.pythonhosted.org/") for f in as_json.files)
    assert Listing.from_document(as_json.to_document()) == as_json


def test_html_data_attributes_and_status() -> None:
    html = """<!DOCTYPE html><html><head>
    <meta name="pypi:repository-version" content="1.4">
    <meta name="pypi:project-status" content="deprecated">
    <meta name="pypi:project-status-reason" content="use other">
    </head><body>
    <a href="../../files/ab/x-1.0-py3-none-any.whl#sha256={}" data-requires-python="&gt;=3.9"
       data-yanked="bad build" data-core-metadata="sha256={}"
       data-provenance="https://up.test/integrity/x/1.0/x-1.0-py3-none-any.whl/provenance"
    >x-1.0-py3-none-any.whl</a>
    <a href="/x-0.9.tar.gz">x-0.9.tar.gz</a>
    <a href="javascript:alert(1)#sha256={}">x-0.8.tar.gz</a>
    <a href="../evil#sha256={}">../evil.tar.gz</a>
    </body></html>""".format("a" * 64, "b" * 64, "c" * 64, "d" * 64)
    listing = parse_page(
        html.encode(), "text/html; charset=utf-8", "https://up.test/simple/x/", "x"
    )
    assert listing.status == "deprecated"
    assert listing.status_reason == "use other"
    (only,) = listing.files  # no hash, a non-HTTP URL and a path-like name are dropped
    assert only.url == "https://up.test/files/ab/x-1.0-py3-none-any.whl"
    assert only.requires_python == ">=3.9"
    assert (only.yanked, only.yanked_reason) == (True, "bad build")
    assert only.metadata_sha256 == "b" * 64
    assert only.provenance == "https://up.test/integrity/x/1.0/x-1.0-py3-none-any.whl/provenance"


def test_json_core_metadata_fallback_and_yanked_without_reason() -> None:
    document = {
        "meta": {"api-version": "1.0"},
        "name": "y",
        "files": [
            {
                "filename": "y-1.0-py3-none-any.whl",
                "url": "y-1.0-py3-none-any.whl",
                "hashes": {"sha256": "E" * 64},
                "yanked": True,
                "data-dist-info-metadata": {"sha256": "f" * 64},
            },
            {"filename": "y-0.1.tar.gz", "url": "y-0.1.tar.gz", "hashes": {"md5": "0" * 32}},
        ],
    }
    listing = parse_page(json.dumps(document).encode(), SIMPLE_V1_JSON, PAGE.format("y"), "y")
    (only,) = listing.files
    assert only.sha256 == "e" * 64
    assert (only.yanked, only.yanked_reason) == (True, None)
    assert only.metadata_sha256 == "f" * 64
    assert only.url == "https://pypi.org/simple/y/y-1.0-py3-none-any.whl"
    assert listing.versions is None
    assert listing.status is None


@pytest.mark.parametrize(
    ("body", "media"),
    [(b"{not json", SIMPLE_V1_JSON), (b'{"files": 3}', SIMPLE_V1_JSON), (b"<html>", "image/png")],
)
def test_unusable_pages_are_a_broken_upstream(body: bytes, media: str) -> None:
    with pytest.raises(UpstreamBroken):
        parse_page(body, media, PAGE.format("z"), "z")
