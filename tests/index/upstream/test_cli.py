"""``trustyard upstream status|purge|refresh`` on a proxy's data directory, in this process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.index.conftest import LocalIndex
from tests.index.upstream.conftest import ProxyIndex
from tests.index.upstream.test_proxy import file_path, page, publish
from trustyard.cli.main import main

UNREACHABLE = "http://127.0.0.1:9/simple/"  # the discard port: nothing listens there


def test_status_and_purge(
    upstream: LocalIndex,
    proxy: ProxyIndex,
    wheels: Callable[[str, str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    publish(upstream, "alice", wheels("cached-one", "1.0"))
    publish(proxy, "bob", wheels("mine", "1.0"))
    path = file_path(page(proxy, "cached-one")["files"][0]["url"])
    assert proxy.get(path).status_code == 200
    assert proxy.get(path).status_code == 200
    proxy.ctx.upstream.flush()  # type: ignore[union-attr]
    where = ["--data", str(proxy.data), "--upstream", UNREACHABLE]
    assert main(["upstream", "status", "--json", *where]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reachability"].startswith("unreachable")
    assert report["cached_pages"] == 1  # "mine" is local: never asked for its page
    assert report["absent_names"] == 0  # the guard's question about "mine": memory only
    assert report["cached_files"] == 1
    assert report["counters"]["file_hits"] == 1
    assert report["file_hit_ratio"] == "50.0%"
    assert report["policy"] == {"min_release_age": "0", "cutoff": None, "exceptions_in_force": 0}
    assert main(["policy", "cutoff", "2026-12-01", "--data", str(proxy.data)]) == 0
    assert main(["upstream", "status", *where]) == 0
    assert "policy: min-release-age 0 (off), cutoff 2026-12-01T00:00:00Z," in (
        capsys.readouterr().out
    )
    local_files = sorted(p.name for p in (proxy.data / "files").rglob("*") if p.is_file())
    assert main(["upstream", "purge", *where]) == 0
    assert "1 stored files removed" in capsys.readouterr().out
    left = sorted(p.name for p in (proxy.data / "files").rglob("*") if p.is_file())
    assert left == [n for n in local_files if not n.startswith("cached_one")]
    assert any(n.startswith("mine-") for n in left)  # a purge never touches local files
    again = proxy.get(path)
    assert again.status_code == 200, again.text  # fetched again


def test_refresh_refuses_local_names_and_needs_an_upstream(
    proxy: ProxyIndex, wheels: Callable[[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    publish(proxy, "bob", wheels("localname", "1.0"))
    where = ["--data", str(proxy.data)]
    assert main(["upstream", "refresh", "localname", *where, "--upstream", UNREACHABLE]) == 1
    assert "is local (project)" in capsys.readouterr().err
    assert main(["upstream", "status", *where]) == 1
    assert "no upstream is configured" in capsys.readouterr().err
    assert main(["upstream", "refresh", "never-seen", *where, "--upstream", UNREACHABLE]) == 1
    assert "cannot be reached" in capsys.readouterr().err
