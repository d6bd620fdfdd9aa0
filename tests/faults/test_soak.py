"""A 30 s soak of ``tests/faults/soak.py``: no request fails, every kind of request is made.

Memory is sampled and printed; the bound on its growth and the ten-minute run are
``benchmarks/soak/run.py``'s (``--max-growth-mib``). No timing or memory figure is asserted here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults.soak import prepare, run_soak
from tests.services import PostgresServer, SeaweedServer

pytestmark = [pytest.mark.slow, pytest.mark.soak]

SECONDS = float(os.environ.get("FAULTS_SOAK_SECONDS", "30"))


def test_mixed_traffic_on_two_instances_has_no_errors_and_flat_memory(
    tmp_path: Path, postgres_server: PostgresServer, seaweedfs: SeaweedServer
) -> None:
    setup = prepare(tmp_path, postgres_server.new_database(), seaweedfs.new_prefix())
    try:
        result = run_soak(setup, seconds=SECONDS, readers=3, writers=2, sample_every=2.0)
    finally:
        setup.stop()
    print(result.markdown())
    assert result.errors == [], result.errors[:10]
    kinds = set(result.latencies)
    for kind in ("simple-html", "simple-json", "json-api", "file (bucket)", "metadata (bucket)"):
        assert kind in kinds, kinds
    assert {"upload", "mint", "upload (trusted publishing)"} <= kinds, kinds
    assert set(result.memory()) == {"instance a", "instance b"}, result.memory()  # sampled
