"""The short CI run of the coverage-guided fuzz targets (fuzz/run.py, atheris on libFuzzer).
Each target runs about 10 s in its own process; the long runs are in docs/reliability.md.

A run passes when the fuzzer executed many inputs and found nothing. The canary target has a
planted bug: the runner must report it, save the input, and that input must reproduce it;
otherwise "no findings" from the real targets would mean nothing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYTHON

pytestmark = [pytest.mark.slow, pytest.mark.fuzz]

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 10


def fuzz(target: str, tmp_path: Path, seconds: int = SECONDS) -> tuple[int, dict[str, Any]]:
    """Run ``fuzz/run.py TARGET``; its exit status and its FUZZ-RESULT line."""
    result = subprocess.run(
        [
            PYTHON,
            str(ROOT / "fuzz" / "run.py"),
            target,
            "--seconds",
            str(seconds),
            "--corpus",
            str(tmp_path / "corpus"),
            "--crashes",
            str(tmp_path / "crashes"),
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=seconds + 300,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("FUZZ-RESULT ")]
    assert len(lines) == 1, result.stdout + result.stderr
    stats: dict[str, Any] = json.loads(lines[0].removeprefix("FUZZ-RESULT "))
    return result.returncode, stats


@pytest.mark.parametrize("target", ["archives", "multipart"])
def test_short_fuzz_run_finds_nothing(target: str, tmp_path: Path) -> None:
    status, stats = fuzz(target, tmp_path)
    assert stats["findings"] == [], [p.read_bytes()[:200] for p in (tmp_path / "crashes").iterdir()]
    assert status == 0, stats
    assert stats["seeds"] >= 5, stats
    # It generated inputs of its own beyond the seeds (how many per second is a figure for
    # docs/reliability.md's long runs, not an assertion).
    assert stats["executions"] > stats["seeds"], stats
    assert stats["coverage"] > 0, stats
    assert stats["corpus"] >= 1, stats


def test_canary_finding_is_reported_saved_and_reproducible(tmp_path: Path) -> None:
    status, stats = fuzz("canary", tmp_path, seconds=60)
    assert status == 1, stats
    (finding,) = stats["findings"]
    crash = Path(finding)
    assert crash.parent == tmp_path / "crashes"
    assert crash.name.startswith("canary-crash-")
    assert crash.read_bytes().startswith(b"FUZ!")
    replay = subprocess.run(
        [PYTHON, str(ROOT / "fuzz" / "fuzz_canary.py"), str(crash)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert replay.returncode != 0
    assert "IndexError" in replay.stdout + replay.stderr
