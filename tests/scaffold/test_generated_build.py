"""Projects made by ``trustyard init`` build reproducibly and pass their own tests."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import client_env
from tests.scaffold.projects import IDS, trustyard


@pytest.mark.parametrize("variant", IDS)
def test_build_check_is_reproducible(
    variant: str, projects: dict[str, Path], tmp_path: Path
) -> None:
    done = trustyard("build", "--check", str(projects[variant]), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reproducible: both builds gave identical bytes" in done.stdout + done.stderr


def test_own_tests_pass_with_the_locked_tools(projects: dict[str, Path], tmp_path: Path) -> None:
    """The CI job's own commands, with real pip, from the project's hash-pinned locks."""
    root = projects["hatchling"]
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / ("Scripts" if os.name == "nt" else "bin") / "python")
    env = client_env(tmp_path)
    steps = [
        [
            python,
            "-m",
            "pip",
            "install",
            "--require-hashes",
            "-r",
            "requirements/build.txt",
            "-r",
            "requirements/test.txt",
        ],
        [python, "-m", "build", "--no-isolation", "--wheel"],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=root, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    wheels = sorted(str(p) for p in (root / "dist").glob("*.whl"))
    subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", *wheels],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [python, "-m", "pytest", "tests", "-p", "no:cacheprovider"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert sys.executable != python
