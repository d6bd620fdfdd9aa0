"""``trustyard audit`` on trustyard itself: 10 on every offline check, and honest exclusions.

The deliberately bad repositories under ``tests/audit/fixtures`` are excluded by
``[tool.trustyard.audit] exclude`` in ``pyproject.toml`` (:mod:`trustyard.audit.config`); the
report names them, and ``--no-exclude`` audits them again.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trustyard.audit import release
from trustyard.audit.config import parse_exclusions
from trustyard.audit.findings import ExcludedPath
from trustyard.audit.runner import AuditOptions, run_audit
from trustyard.audit.tree import tracked_files
from trustyard.audit.workflows import load_workflows

REPO = Path(__file__).resolve().parents[2]
FIXTURES = "tests/audit/fixtures"


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trustyard", "audit", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_this_repository_scores_ten_on_every_offline_check() -> None:
    assert (REPO / ".git").exists(), "audit a git checkout: Scorecard reads what git tracks"
    report = run_audit(REPO, AuditOptions(zizmor_persona="pedantic"))
    scores = {r.name: r.score for r in report.results}
    assert scores == dict.fromkeys(scores, 10), scores  # none inconclusive either
    assert report.findings == []
    [excluded] = report.excluded
    assert excluded.path == FIXTURES
    assert excluded.files > 0


def test_test_vectors_are_audited_and_are_not_binaries() -> None:
    """tests/data (archives of test vectors) is not excluded, and no file there is a binary by
    Scorecard's Binary-Artifacts list; the report above scores it 10."""
    report = run_audit(REPO, AuditOptions())
    exclude = parse_exclusions({"exclude": [e.path for e in report.excluded]}, "test")
    vectors = [p for p in tracked_files(REPO, exclude) if "tests/data" in p.as_posix()]
    assert any(p.name.endswith(".tar.gz") for p in vectors)
    binaries = next(r for r in report.results if r.name == "Binary-Artifacts")
    assert binaries.score == 10


def test_the_table_names_the_exclusion_and_no_exclude_audits_it() -> None:
    done = audit(str(REPO))
    assert done.returncode == 0, done.stderr
    assert "Excluded by pyproject.toml [tool.trustyard.audit] exclude" in done.stdout
    assert f"  {FIXTURES}: " in done.stdout
    everything = audit(str(REPO), "--no-exclude", "--fail-on", "critical")
    assert "Excluded by" not in everything.stdout
    assert f"[medium] Pinned-Dependencies: {FIXTURES}/pinned-dependencies/fail/Dockerfile:1" in (
        everything.stdout
    )


def _repo_with_bad_fixture(root: Path, exclude: str) -> Path:
    (root / "pyproject.toml").write_text(
        f"[tool.trustyard.audit]\nexclude = {exclude}\n", encoding="utf-8"
    )
    bad = root / "samples" / "bad"
    bad.mkdir(parents=True)
    (bad / "Dockerfile").write_text("FROM python:3.12-slim\n", encoding="utf-8")
    (bad / "tool.so").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(57))
    (root / "Dockerfile").write_text("FROM debian:13\n", encoding="utf-8")
    return root


def test_exclusion_skips_only_the_named_folder(tmp_path: Path) -> None:
    root = _repo_with_bad_fixture(tmp_path, '["samples/bad/"]')
    report = run_audit(root, AuditOptions())
    results = {r.name: r for r in report.results}
    assert results["Binary-Artifacts"].score == 10
    assert [f.where for f in results["Pinned-Dependencies"].findings] == ["Dockerfile:1"]
    assert report.excluded == [ExcludedPath("samples/bad", 2)]
    everything = run_audit(root, AuditOptions(use_exclusions=False))
    assert everything.excluded == []
    assert {f.path for f in everything.findings} >= {
        "samples/bad/tool.so",
        "samples/bad/Dockerfile",
    }


def test_json_and_sarif_carry_the_exclusion(tmp_path: Path) -> None:
    root = _repo_with_bad_fixture(tmp_path, '["samples/bad"]')
    assert '"excluded": [\n    {\n      "path": "samples/bad",\n      "files": 2' in (
        audit(str(root), "--format", "json").stdout
    )
    assert '"path": "samples/bad"' in audit(str(root), "--format", "sarif").stdout


def test_bad_exclusions_are_refused_together(tmp_path: Path) -> None:
    root = _repo_with_bad_fixture(
        tmp_path, '["/abs", "a/../b", "tests/*", ".github/workflows", ""]\nignore = []'
    )
    done = audit(str(root))
    assert done.returncode == 1
    for problem in [
        "unknown key 'ignore' (known: exclude)",
        "exclude '/abs': must be relative to the repository root",
        "exclude 'a/../b': must not contain empty, '.' or '..' parts",
        "exclude 'tests/*': globs are not accepted",
        "exclude '.github/workflows': the repository's own .github set-up cannot be excluded",
        "exclude '': must be a non-empty repository-relative path",
    ]:
        assert problem in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("run", "score"),
    [
        ("uv run --frozen trustyard build --check --out out", 10),
        ("python -m build", 0),
    ],
)
def test_trustyard_build_counts_as_setting_source_date_epoch(
    tmp_path: Path, run: str, score: int
) -> None:
    """``trustyard build`` takes SOURCE_DATE_EPOCH from the commit (trustyard.release.build)."""
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "release.yml").write_text(
        "on:\n  push:\n    tags: [v*]\npermissions: {}\njobs:\n  b:\n    runs-on: ubuntu-24.04\n"
        f"    steps:\n      - run: {run}\n      - uses: pypa/gh-action-pypi-publish@"
        "cef221092ed1bacb1cc03d23a2d87d1d172e277b\n",
        encoding="utf-8",
    )
    assert release.source_date_epoch(load_workflows(tmp_path)).score == score
