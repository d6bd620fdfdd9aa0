"""Generate one project per backend (and the extension variant) once per test worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# (directory, backend, extension)
VARIANTS: list[tuple[str, str, bool]] = [
    ("hatchling", "hatchling", False),
    ("setuptools", "setuptools", False),
    ("flit", "flit", False),
    ("pdm", "pdm", False),
    ("poetry", "poetry", False),
    ("uv", "uv", False),
    ("setuptools-ext", "setuptools", True),
    ("hatchling-ext", "hatchling", True),
    ("pdm-ext", "pdm", True),
    ("poetry-ext", "poetry", True),
]
IDS = [v[0] for v in VARIANTS]
EXTENSION_IDS = [v[0] for v in VARIANTS if v[2]]
# Extension projects whose build hook is not setup.py: their slow build tests live in
# test_generated_extensions_reproducible.py, so that pytest-xdist's loadfile spreads them over workers.
HOOKED_EXTENSION_IDS = [i for i in EXTENSION_IDS if i != "setuptools-ext"]


def trustyard(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUSTYARD_", "UV_"))}
    return subprocess.run(
        [sys.executable, "-m", "trustyard", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
    )


def generate_all(base: Path) -> dict[str, Path]:
    """Run ``trustyard init`` for every variant into ``base`` and commit each in git."""
    made = {}
    for folder, backend, extension in VARIANTS:
        target = base / folder
        args = ["init", f"demo-{folder}", "--dir", str(target), "--backend", backend]
        args += ["--owner", "@octo", *(["--extension"] if extension else [])]
        done = trustyard(*args)
        if done.returncode != 0:
            raise RuntimeError(f"trustyard init failed: {done.stderr}")
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(target)]
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
        made[folder] = target
    return made
