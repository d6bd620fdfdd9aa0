"""Generated projects shared by the tests of one worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scaffold.projects import generate_all


@pytest.fixture(scope="session")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_all(tmp_path_factory.mktemp("generated"))


@pytest.fixture(scope="session")
def pip_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pip cache for the generated projects' own-test runs of this worker."""
    return tmp_path_factory.mktemp("pip-cache")
