"""uv, and the clean environment every installer and backend we start runs in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from trustyard.release.errors import BuildFailed

__all__ = ["child_env", "run_tool", "uv_binary"]


def uv_binary() -> str:
    """uv, found next to this interpreter or on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return str(beside)
    found = shutil.which("uv")
    if found is None:
        raise BuildFailed("trustyard build needs uv (https://docs.astral.sh/uv/) on PATH")
    return found


def child_env(cache_dir: Path | None, **extra: str) -> dict[str, str]:
    """The environment of every installer and backend we start: none of the machine's
    ``PIP_*``/``UV_*``/``PYTHON*`` settings, nor a version pretended to setuptools-scm or
    pdm-backend (they would change what resolves or builds; the build passes its own)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV", "SETUPTOOLS_SCM_", "PDM_BUILD_SCM_")
        )
    }
    env.update(
        {
            "UV_NO_CONFIG": "1",
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_CONFIG_FILE": os.devnull,
        }
    )
    if cache_dir is not None:
        env["UV_CACHE_DIR"] = str(cache_dir)
    elif "UV_CACHE_DIR" in os.environ:  # where the cache lives cannot change what is built
        env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    env.update(extra)
    return env


def run_tool(args: list[str], env: dict[str, str], what: str, stdin: str | None = None) -> str:
    """Run a tool to completion; its stdout, or :class:`BuildFailed` with its stderr."""
    result = subprocess.run(args, input=stdin, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise BuildFailed(f"{what} failed (exit {result.returncode}):\n{result.stderr.strip()}")
    return result.stdout


def __dir__() -> list[str]:
    return __all__
