"""PEP 792 statuses with the real clients (issue 18): twine and uv publish are refused by an
archived project with its reason; pip and uv install an archived one, find nothing in a
quarantined one, and a pinned URL of a quarantined file fails with the reason."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, IndexServer, client_env, tool, twine_command
from tests.dists.builders import build_wheel
from tests.e2e.conftest import run

pytestmark = pytest.mark.slow


def _pip_install(
    index: IndexServer, target: Path, what: str, env: dict[str, str], *, ok: bool
) -> subprocess.CompletedProcess[str]:
    return run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--target",
            str(target),
            "--index-url",
            index.simple_url,
            what,
        ],
        env,
        ok=ok,
    )


def test_publishing_clients_and_installers_meet_each_status(
    index: IndexServer, uploader: str, tmp_path: Path
) -> None:
    env = client_env(tmp_path)
    dist = tmp_path / "dist"
    run(twine_command(index.upload_url, uploader, [build_wheel(dist, "e2e-status", "1.0")]), env)
    index.cli("admin", "project", "status", "e2e-status", "archived", "--reason", "see e2e-next")

    refused = run(
        twine_command(index.upload_url, uploader, [build_wheel(dist, "e2e-status", "1.1")]),
        env,
        ok=False,
    )
    output = " ".join((refused.stdout + refused.stderr).split())
    assert "Project 'e2e-status' is archived (reason: see e2e-next)" in output
    refused = run(
        [
            tool("uv"),
            "publish",
            "--publish-url",
            index.upload_url,
            "--token",
            uploader,
            "--trusted-publishing",
            "never",
            str(build_wheel(dist / "uv", "e2e-status", "1.2")),
        ],
        env,
        ok=False,
    )
    assert "is archived (reason: see e2e-next)" in " ".join(refused.stderr.split())
    _pip_install(index, tmp_path / "t1", "e2e-status", env, ok=True)  # still installable

    index.cli("admin", "project", "status", "e2e-status", "quarantined", "--reason", "malware")
    missing = _pip_install(index, tmp_path / "t2", "e2e-status", env, ok=False)
    assert "No matching distribution found for e2e-status" in missing.stderr
    rows = index.query("SELECT path FROM files")
    pinned = _pip_install(index, tmp_path / "t3", f"{index.url}/files/{rows[0][0]}", env, ok=False)
    assert "403" in pinned.stderr

    index.cli("admin", "project", "status", "e2e-status", "active", "--reason", "false alarm")
    _pip_install(index, tmp_path / "t4", "e2e-status==1.0", env, ok=True)
