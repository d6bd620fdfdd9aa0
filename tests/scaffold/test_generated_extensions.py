"""``trustyard init --extension`` with every backend that can compile C: real extension projects.

Each project's wheel holds the compiled ``_speedups`` module, is tagged for this platform, has
no C source, and passes the project's own tests (which call the compiled ``add``).
Reproducibility is in test_generated_extensions_reproducible.py (a file of its own, so that
pytest-xdist's ``--dist=loadfile`` runs it beside these).
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import pytest

from tests.scaffold.projects import EXTENSION_IDS
from tests.scaffold.test_generated_build import run_own_tests, wheel_names

pytestmark = [pytest.mark.slow, pytest.mark.builds]


@pytest.mark.parametrize("variant", EXTENSION_IDS)
def test_own_tests_call_the_compiled_function(
    variant: str, projects: dict[str, Path], tmp_path: Path, pip_cache: Path
) -> None:
    wheel, output = run_own_tests(projects[variant], tmp_path, pip_cache)
    assert "3 passed" in output
    module = f"demo_{variant.replace('-', '_')}"
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    names = wheel_names(wheel)
    assert f"{module}/_speedups{suffix}" in names, names
    assert not [n for n in names if n.endswith(".c") or n == ".gitignore"], names
    python = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert f"-{python}-{python}-" in wheel.name, wheel.name
    assert not wheel.name.endswith("-any.whl"), wheel.name
