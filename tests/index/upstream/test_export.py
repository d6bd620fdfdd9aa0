"""Export format 4 carries the upstream cache's rows; the cached bytes stay behind (a cache),
and an imported index fetches a file again when its row names bytes the store lacks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from anyio.from_thread import BlockingPortal

from tests.index.conftest import LocalIndex
from tests.index.upstream.conftest import ProxyIndex, UpstreamWire
from tests.index.upstream.test_proxy import file_path, page, publish
from trustyard.index.services import backup
from trustyard.index.services import upstream as cache


def test_export_and_import_of_the_upstream_cache(
    tmp_path: Path,
    portal: BlockingPortal,
    upstream: LocalIndex,
    proxy: ProxyIndex,
    wheels: Callable[[str, str], Path],
) -> None:
    wheel = wheels("exported", "1.0")
    publish(upstream, "alice", wheel)
    path = file_path(page(proxy, "exported")["files"][0]["url"])
    assert proxy.get(path).status_code == 200
    target = tmp_path / "export"
    summary = backup.export_index(proxy.db, proxy.ctx.storage, target)
    assert "upstream_projects" in (target / "manifest.json").read_text()
    assert summary is not None
    restored = ProxyIndex(tmp_path / "restored", portal, UpstreamWire(upstream.app))
    try:
        backup.import_index(restored.db, restored.ctx.storage, target)
        with restored.db.read() as session:
            found = cache.summary(session)
        assert (found.pages, found.files) == (1, 1)
        assert not list((restored.data / "files").rglob("exported-*"))
        again = restored.get(path)  # the row survived, the bytes did not: fetched again
        assert again.status_code == 200
        assert again.content == wheel.read_bytes()
    finally:
        restored.close()
