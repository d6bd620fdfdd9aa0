"""Each offline check against its failing and passing fixture repository."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from trustyard.audit import (
    binaries,
    dangerous,
    permissions,
    pinning,
    release,
    repofiles,
    tooling,
    zizmor,
)
from trustyard.audit.findings import CheckResult, Severity
from trustyard.audit.workflows import load_workflows

FIXTURES = Path(__file__).parent / "fixtures"

Check = Callable[[Path], CheckResult]


def _wf(fn: Callable[..., CheckResult]) -> Check:
    return lambda root: fn(load_workflows(root))


CHECKS: dict[str, Check] = {
    "binary-artifacts": binaries.check,
    "dangerous-workflow": _wf(dangerous.check),
    "dependency-update-tool": repofiles.dependency_update_tool,
    "fuzzing": tooling.fuzzing,
    "license": repofiles.license_check,
    "packaging": _wf(tooling.packaging),
    "pinned-dependencies": lambda root: pinning.check(root, load_workflows(root)),
    "sast": _wf(tooling.sast),
    "security-policy": repofiles.security_policy,
    "token-permissions": _wf(permissions.check),
    "trusted-publishing": _wf(release.trusted_publishing),
    "gated-environment": _wf(release.gated_environment),
    "provenance": _wf(release.provenance),
    "source-date-epoch": _wf(release.source_date_epoch),
    "backend-pinned": release.backend_pinned,
    "tag-triggered": _wf(release.tag_triggered),
    "zizmor": zizmor.check,
}

# (fixture, expected score, expected finding locations as "path:line")
FAILING: list[tuple[str, int | None, set[str]]] = [
    ("binary-artifacts", 8, {"tools/helper", "cache.pyc"}),
    (
        "dangerous-workflow",
        0,
        {".github/workflows/triage.yml:12", ".github/workflows/triage.yml:17"},
    ),
    ("dependency-update-tool", 0, {".github/dependabot.yml"}),
    ("fuzzing", 0, {"."}),
    ("license", 0, {"LICENSE"}),
    ("packaging", None, set()),
    (
        "pinned-dependencies",
        # actions: checkout (w2) and cibuildwheel (w8) unpinned; pip x2, curl|sh, FROM (w10)
        0,
        {
            ".github/workflows/ci.yml:10",
            ".github/workflows/ci.yml:11",
            ".github/workflows/ci.yml:14",
            ".github/workflows/ci.yml:15",
            ".github/workflows/ci.yml:16",
            "Dockerfile:1",
        },
    ),
    ("sast", 0, {".github/workflows"}),
    ("security-policy", 0, {"SECURITY.md"}),
    (
        "token-permissions",
        0,
        {".github/workflows/ci.yml:4", ".github/workflows/undeclared.yml:4"},
    ),
    (
        "trusted-publishing",
        0,
        {".github/workflows/release.yml:13", ".github/workflows/release.yml:16"},
    ),
    ("gated-environment", 0, {".github/workflows/release.yml:15"}),
    ("provenance", 0, {".github/workflows/release.yml:7"}),
    ("source-date-epoch", 0, {".github/workflows/release.yml:13"}),
    ("backend-pinned", 0, {"pyproject.toml:2"}),
    ("tag-triggered", 0, {".github/workflows/release.yml:2"}),
    ("zizmor", 8, {".github/workflows/ci.yml:10", ".github/workflows/ci.yml:11"}),
]

PASSING = sorted(CHECKS)


def _prepare(name: str, root: Path) -> None:
    if name == "binary-artifacts":
        (root / "tools").mkdir(exist_ok=True)
        (root / "tools" / "helper").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(57))
        (root / "cache.pyc").write_bytes(b"\x6f\x0d\x0d\x0a" + bytes(12))


@pytest.mark.parametrize(("name", "score", "where"), FAILING, ids=[f[0] for f in FAILING])
def test_failing_fixture(
    name: str, score: int | None, where: set[str], fixture_repo: Callable[[str], Path]
) -> None:
    root = fixture_repo(f"{name}/fail")
    _prepare(name, root)
    result = CHECKS[name](root)
    assert result.score == score, result
    found = {f.where for f in result.findings}
    assert where <= found, (where, found)
    for finding in result.findings:
        assert finding.why
        assert finding.fix


@pytest.mark.parametrize("name", PASSING)
def test_passing_fixture(name: str, fixture_repo: Callable[[str], Path]) -> None:
    root = fixture_repo(f"{name}/pass")
    result = CHECKS[name](root)
    assert result.score == 10, result
    assert result.findings == []


def test_pinned_dependencies_weights(fixture_repo: Callable[[str], Path]) -> None:
    """Scorecard's weights: GitHub-owned 2, third-party 8, other ecosystems 10."""
    root = fixture_repo("pinned-dependencies/pass")
    (root / ".github" / "workflows" / "more.yml").write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/setup-python@v6\n"
        "      - uses: pypa/cibuildwheel@294735312765b09d24a2fbec22660ce817587d55\n",
        encoding="utf-8",
    )
    result = pinning.check(root, load_workflows(root))
    # pinned: checkout 2 + local 8 + pip 3x10 + docker 10 + cibuildwheel 8 = 58 of 60
    assert result.score == 9
    assert [f.where for f in result.findings] == [".github/workflows/more.yml:7"]


def test_security_policy_partial_score(fixture_repo: Callable[[str], Path]) -> None:
    result = repofiles.security_policy(fixture_repo("security-policy/weak"))
    assert result.score == 3
    assert len(result.findings) == 2


def test_license_outside_top_level(fixture_repo: Callable[[str], Path]) -> None:
    result = repofiles.license_check(fixture_repo("license/partial"))
    assert result.score == 6
    assert {f.why for f in result.findings} == {
        "the license is not recognised as FSF/OSI-approved",
        "the license is not at the top level",
    }


def test_dangerous_finding_is_critical(fixture_repo: Callable[[str], Path]) -> None:
    result = dangerous.check(load_workflows(fixture_repo("dangerous-workflow/fail")))
    assert {f.severity for f in result.findings} == {Severity.CRITICAL}


def test_release_checks_inconclusive_without_publishing(
    fixture_repo: Callable[[str], Path],
) -> None:
    workflows = load_workflows(fixture_repo("sast/pass"))
    for check in (
        release.trusted_publishing,
        release.gated_environment,
        release.provenance,
        release.source_date_epoch,
        release.tag_triggered,
    ):
        assert check(workflows).score is None


def test_git_ignored_files_are_not_audited(tmp_path: Path) -> None:
    """Scorecard reads the repository, not a checkout's scratch: ignored files do not count."""
    (tmp_path / ".gitignore").write_text("scratch/\n")
    (tmp_path / "scratch").mkdir()
    (tmp_path / "scratch" / "Dockerfile").write_text("FROM python:3.12-slim\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
    assert not any("scratch" in f.path for f in pinning.check(tmp_path, []).findings)
    (tmp_path / ".gitignore").write_text("")
    subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
    assert any(f.path == "scratch/Dockerfile" for f in pinning.check(tmp_path, []).findings)
