"""The test tiers' guard: a test that starts a server process must be marked ``slow``.

``tests/conftest.py`` marks tests by the server fixtures they use and keeps :data:`running`
up to date; every helper that starts a server process calls :func:`require_slow`, so that a
test which starts one by hand and is not marked fails in the fast tier instead of slowing it.
"""

from __future__ import annotations

import pytest

running: list[pytest.Item] = []  # the test being set up, run or torn down in this process


def require_slow(what: str) -> None:
    """Fail the running test unless it is marked ``slow``; outside pytest (benchmarks/) or
    between tests (session fixtures), do nothing."""
    if running and running[-1].get_closest_marker("slow") is None:
        pytest.fail(
            f"{running[-1].nodeid} starts {what}: mark it @pytest.mark.slow "
            "(or have it use a fixture listed in tests/conftest.py's SERVER_FIXTURES)",
            pytrace=False,
        )
