"""The proxy as ``trustyard serve --upstream`` on each backend (SQLite and files; PostgreSQL and
S3, where files reach clients by presigned redirect): pages, one upstream fetch for twenty
concurrent first downloads, a tampered file refused and not cached."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import start_index
from tests.dists.builders import build_wheel
from tests.index.conftest import download, request, upload_built
from tests.services import Backend
from trustyard.dists.mediatypes import SIMPLE_V1_JSON


def test_proxy_on_each_backend(backend: Backend, tmp_path: Path) -> None:
    upstream = start_index(tmp_path / "upstream")
    proxy = None
    try:
        upstream.create_user("alice")
        token = upstream.create_token("alice")
        good = build_wheel(tmp_path / "good", "crowded", "1.0")
        bad = build_wheel(tmp_path / "bad", "tampered", "1.0")
        for wheel in (good, bad):
            assert upload_built(upstream, token, wheel).status == 200
        (stored,) = (upstream.data / "files").rglob(bad.name)
        stored.write_bytes(stored.read_bytes()[:-1] + b"X")

        proxy = start_index(tmp_path / "proxy", "--upstream", upstream.simple_url, backend=backend)
        listing = request(proxy, "GET", "/simple/crowded/", headers={"Accept": SIMPLE_V1_JSON})
        assert listing.status == 200
        entry = json.loads(listing.body)["files"][0]
        path = entry["url"].removeprefix("../..")
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda _: download(proxy, path), range(20)))
        assert {a.status for a in answers} == {200}
        assert {hashlib.sha256(a.body).hexdigest() for a in answers} == {entry["hashes"]["sha256"]}
        upstream_log = upstream.log.read_text()
        assert upstream_log.count(f"/{good.name} HTTP/1.1") == 1  # one upstream fetch in all

        tampered = json.loads(
            request(proxy, "GET", "/simple/tampered/", headers={"Accept": SIMPLE_V1_JSON}).body
        )["files"][0]
        refused = request(proxy, "GET", tampered["url"].removeprefix("../.."))
        assert refused.status == 502
        assert not [key for key in proxy.stored_files() if key.endswith(bad.name)]
        assert [key for key in proxy.stored_files() if key.endswith(good.name)]
    finally:
        upstream.stop()
        if proxy is not None:
            proxy.stop()
