"""``trustyard build --check`` on the extension projects built through a backend's hook."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scaffold.projects import HOOKED_EXTENSION_IDS
from tests.scaffold.test_generated_build import check_reproducible

pytestmark = [pytest.mark.slow, pytest.mark.builds]


@pytest.mark.parametrize("variant", HOOKED_EXTENSION_IDS)
def test_build_check_is_reproducible(
    variant: str, projects: dict[str, Path], tmp_path: Path
) -> None:
    check_reproducible(projects[variant], tmp_path / "out")
