"""Reproducible builds of the hatchling sample project (backend hatchling)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.release.backends.checks import (
    Built,
    assert_installs,
    assert_normalised,
    assert_recorded,
    assert_reproducible,
    build_three_ways,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> Built:
    return build_three_ways("hatchling", tmp_path_factory.mktemp("hatchling"), uv_cache)


def test_byte_identical_under_check_and_across_clones(built: Built) -> None:
    assert_reproducible(built)


def test_outputs_are_normalised(built: Built) -> None:
    assert_normalised(built)


def test_environment_is_recorded(built: Built) -> None:
    assert_recorded(built, "hatchling")


def test_installs_with_pip_and_uv_and_passes_twine(built: Built, tmp_path: Path) -> None:
    assert_installs(built, tmp_path, "ty_sample_hatchling")
