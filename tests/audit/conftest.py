"""Fixtures for the audit tests: the hand-written fixture repositories and a report helper."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixture_repo(tmp_path: Path) -> object:
    """Copy a fixture repository into a fresh directory (checks must not depend on its path)."""

    def copy(name: str) -> Path:
        target = tmp_path / name.replace("/", "-")
        shutil.copytree(FIXTURES / name, target)
        return target

    return copy
