"""A 30 s soak of ``tests/faults/soak.py``: no request fails, memory stays bounded.

The ten-minute run and its figures: ``benchmarks/soak/``. No timing is asserted here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults.soak import prepare, run_soak
from tests.services import PostgresServer, SeaweedServer

pytestmark = [pytest.mark.slow, pytest.mark.soak]

SECONDS = float(os.environ.get("FAULTS_SOAK_SECONDS", "30"))
GROWTH_LIMIT_MIB = 80  # generous; still fails on a leak of ~10 KiB per request (~9000 requests)


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
    for name, row in result.memory().items():
        assert row["growth_after_warm"] < GROWTH_LIMIT_MIB, (name, row)
