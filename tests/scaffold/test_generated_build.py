"""Projects made by ``trustyard init`` build reproducibly and pass their own tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import client_env
from tests.scaffold.projects import HOOKED_EXTENSION_IDS, IDS, trustyard

pytestmark = [pytest.mark.slow, pytest.mark.builds]


def check_reproducible(project: Path, out: Path) -> None:
    """``trustyard build --check``: two builds in different conditions, identical bytes."""
    done = trustyard("build", "--check", str(project), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reproducible: both builds gave identical bytes" in done.stdout + done.stderr


def run_own_tests(project: Path, tmp_path: Path, pip_cache: Path) -> tuple[Path, str]:
    """The CI job's own commands, with real pip, from the project's hash-pinned locks.

    Runs on a copy, so that the build leaves the shared generated project untouched. The pip
    cache is shared by the tests of one worker (downloads from PyPI, verified by hash every
    time). Returns the wheel and pytest's output.
    """
    root = tmp_path / "project"
    shutil.copytree(project, root, symlinks=True)
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / ("Scripts" if os.name == "nt" else "bin") / "python")
    assert sys.executable != python
    env = {**client_env(tmp_path), "PIP_CACHE_DIR": str(pip_cache)}
    pip = [python, "-m", "pip", "install"]
    locks = ["--require-hashes", "-r", "requirements/build.txt", "-r", "requirements/test.txt"]
    for step in ([*pip, *locks], [python, "-m", "build", "--no-isolation", "--wheel"]):
        done = subprocess.run(step, cwd=root, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    wheels = sorted((root / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels
    done = subprocess.run(
        [*pip, "--no-deps", str(wheels[0])],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Nothing importable from the source tree: the tests must see the installed wheel.
    shutil.rmtree(root / "src")
    done = subprocess.run(
        [python, "-m", "pytest", "tests", "-p", "no:cacheprovider"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return wheels[0], done.stdout


def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.mark.parametrize("variant", [i for i in IDS if i not in HOOKED_EXTENSION_IDS])
def test_build_check_is_reproducible(
    variant: str, projects: dict[str, Path], tmp_path: Path
) -> None:
    check_reproducible(projects[variant], tmp_path / "out")


def test_own_tests_pass_with_the_locked_tools(
    projects: dict[str, Path], tmp_path: Path, pip_cache: Path
) -> None:
    wheel, output = run_own_tests(projects["hatchling"], tmp_path, pip_cache)
    assert "2 passed" in output
    assert wheel.name.endswith("-py3-none-any.whl")
