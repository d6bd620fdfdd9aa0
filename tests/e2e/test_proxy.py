"""The pull-through proxy on the wire (issue 17): two ``trustyard serve`` on loopback, the proxy
given ``--upstream`` the other; real uv, pip and poetry installing, through one index URL, a
local package that depends on an upstream one; the upstream then stopped."""

from __future__ import annotations

import json
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PYTHON, IndexServer, client_env, start_index, tool
from tests.dists.builders import build_wheel
from tests.e2e.conftest import pip_install, poetry, poetry_env, run
from tests.index.conftest import upload_built

pytestmark = pytest.mark.slow


def status_of(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def uv_install(index: IndexServer, tmp: Path, name: str, env: dict[str, str], *reqs: str) -> Path:
    venv = tmp / name
    run([tool("uv"), "venv", "--python", PYTHON, str(venv)], env)
    run(
        [
            tool("uv"), "pip", "install", "--python", str(venv / "bin" / "python"),
            "--index-url", index.simple_url, *reqs,
        ],
        env,
    )  # fmt: skip
    return next((venv / "lib").glob("python3*/site-packages"))


def test_one_index_url_for_local_and_upstream_packages(tmp_path: Path) -> None:
    dists = tmp_path / "dists"
    upstream = start_index(tmp_path / "upstream")
    proxy: IndexServer | None = None
    try:
        upstream.create_user("alice")
        public = upstream.create_token("alice")
        pubdep = build_wheel(dists / "pubdep", "pubdep", "1.0")
        assert upload_built(upstream, public, pubdep).status == 200

        proxy = start_index(tmp_path / "proxy", "--upstream", upstream.simple_url)
        proxy.create_user("bob")
        private = proxy.create_token("bob")
        app = build_wheel(
            dists / "app", "internal-app", "1.0", metadata_extra="Requires-Dist: pubdep\n"
        )
        assert upload_built(proxy, private, app).status == 200
        # The attack: the same name upstream, a higher version, a poisoned module.
        evil = build_wheel(dists / "evil", "internal-app", "99.0")
        assert upload_built(upstream, public, evil).status == 200
        # Shadowing a public name through an upload is refused, naming the upstream project.
        refused = upload_built(proxy, private, build_wheel(dists / "shadow", "pubdep", "0.1"))
        assert refused.status == 403
        assert "pubdep" in refused.reason + refused.text

        env = client_env(tmp_path)
        site = uv_install(proxy, tmp_path, "venv-uv", env, "internal-app")
        assert (site / "internal_app" / "__init__.py").read_text().strip().endswith('"1.0"')
        assert (site / "pubdep" / "__init__.py").exists()
        target = pip_install(proxy, tmp_path, "internal-app", env)
        assert (target / "internal_app" / "__init__.py").read_text().strip().endswith('"1.0"')
        assert (target / "pubdep" / "__init__.py").exists()
        code, body = status_of(f"{proxy.url}/pypi/internal-app/json")
        assert code == 200
        assert json.loads(body)["info"]["version"] == "1.0"

        refreshed = proxy.cli("upstream", "refresh", "pubdep", "--upstream", upstream.simple_url)
        assert "pubdep: 1 files from" in refreshed.stdout
        status = proxy.cli("upstream", "status", "--upstream", upstream.simple_url, "--json")
        report = json.loads(status.stdout)
        assert report["reachability"].startswith("reachable")
        assert report["cached_files"] >= 1

        upstream.stop()
        fresh = client_env(tmp_path / "cold-client")  # no client cache: the proxy's cache alone
        site = uv_install(proxy, tmp_path, "venv-outage", fresh, "internal-app")
        assert (site / "pubdep" / "__init__.py").exists()
        code, body = status_of(f"{proxy.url}/simple/never-fetched/")
        assert code in (502, 503), (code, body)
        assert "upstream" in body
    finally:
        upstream.stop()
        if proxy is not None:
            proxy.stop()


def test_poetry_installs_through_the_proxy_alone(tmp_path: Path) -> None:
    """Poetry with the proxy as its one (primary) source: PyPI is then not asked at all
    (poetry drops its implicit PyPI when a primary source is configured)."""
    dists = tmp_path / "dists"
    upstream = start_index(tmp_path / "upstream")
    proxy: IndexServer | None = None
    try:
        upstream.create_user("alice")
        public = upstream.create_token("alice")
        assert (
            upload_built(upstream, public, build_wheel(dists / "pubdep", "pubdep", "1.0")).status
            == 200
        )

        proxy = start_index(tmp_path / "proxy", "--upstream", upstream.simple_url)
        proxy.create_user("bob")
        private = proxy.create_token("bob")
        app = build_wheel(
            dists / "app", "internal-app", "1.0", metadata_extra="Requires-Dist: pubdep\n"
        )
        assert upload_built(proxy, private, app).status == 200
        evil = build_wheel(dists / "evil", "internal-app", "99.0")
        assert upload_built(upstream, public, evil).status == 200

        project = tmp_path / "consumer"
        project.mkdir()
        (project / "pyproject.toml").write_text(
            "[project]\n"
            'name = "consumer"\n'
            'version = "0.1.0"\n'
            'requires-python = ">=3.11"\n'
            'dependencies = ["internal-app"]\n'
            "\n"
            "[tool.poetry]\n"
            "package-mode = false\n"
            "\n"
            "[[tool.poetry.source]]\n"
            'name = "trustyard"\n'
            f'url = "{proxy.simple_url}"\n'
            'priority = "primary"\n'
        )
        env = poetry_env(tmp_path)
        poetry(project, env, "env", "use", PYTHON)
        poetry(project, env, "lock")
        poetry(project, env, "install")

        lock = tomllib.loads((project / "poetry.lock").read_text())
        locked = {
            package["name"]: (package["version"], package["source"]["url"].rstrip("/"))
            for package in lock["package"]
        }
        index_url = proxy.simple_url.rstrip("/")
        assert locked == {"internal-app": ("1.0", index_url), "pubdep": ("1.0", index_url)}
        venv = Path(poetry(project, env, "env", "info", "--path").stdout.strip())
        site = next((venv / "lib").glob("python3*/site-packages"))
        assert (site / "internal_app" / "__init__.py").read_text().strip().endswith('"1.0"')
        assert (site / "pubdep" / "__init__.py").exists()
        # pubdep's bytes came from the upstream through the proxy's cache, checked there.
        cached = proxy.query(
            "SELECT project, filename FROM upstream_files WHERE stored IS NOT NULL"
        )
        assert cached == [("pubdep", "pubdep-1.0-py3-none-any.whl")]
        assert proxy.query(
            "SELECT count(*) FROM upstream_projects WHERE normalized_name = 'internal-app'"
        ) == [(0,)]  # a local name: the upstream was never asked for it

        # A shutdown right after the requests keeps what was counted (the app's lifespan).
        proxy.stop()
        counted = {
            str(name): int(str(value))
            for name, value in proxy.query("SELECT name, value FROM upstream_counters")
        }
        fills = proxy.query(
            "SELECT (stored IS NOT NULL) + (metadata_stored IS NOT NULL) FROM upstream_files"
        )
        assert counted.get("file_fetches") == sum(int(str(n)) for (n,) in fills)
        assert counted.get("page_fetches", 0) >= 1
    finally:
        upstream.stop()
        if proxy is not None:
            proxy.stop()
