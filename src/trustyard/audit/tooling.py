"""Scorecard checks that look for a tool: SAST (workflow half), Packaging, Fuzzing.

- SAST (``checks/raw/sast.go``): CodeQL (``github/codeql-action/analyze``), Snyk, Pysa, Qodana
  or Sonar in a workflow. Scorecard mixes this 3:7 with SAST runs on the last ~30 merged PRs,
  which needs the API; offline we score the workflow half alone.
- Packaging (``checks/raw/packaging.go``): 10 when a workflow publishes
  (``pypa/gh-action-pypi-publish`` or ``relekang/python-semantic-release`` for Python),
  otherwise inconclusive.
- Fuzzing (``checks/raw/fuzzing.go``): ``.clusterfuzzlite/Dockerfile`` or, for Python,
  ``import atheris``; the OSS-Fuzz project lookup needs the network and is not done offline.
"""

from __future__ import annotations

import re
from pathlib import Path

from trustyard.audit.findings import CheckResult, Finding, Severity
from trustyard.audit.tree import NOTHING, Exclusions, tracked_files
from trustyard.audit.workflows import Workflow

_SAST_ACTIONS = (
    "github/codeql-action/analyze",
    "snyk/actions",
    "facebook/pysa-action",
    "jetbrains/qodana-action",
    "sonarsource/sonarcloud-github-action",
    "sonarsource/sonarqube-scan-action",
)
_PUBLISHERS = ("pypa/gh-action-pypi-publish", "relekang/python-semantic-release")


def sast(workflows: list[Workflow]) -> CheckResult:
    name = "SAST"
    for wf in workflows:
        for step in wf.steps:
            if (step.uses or "").lower().startswith(_SAST_ACTIONS):
                return CheckResult(
                    name, 10, f"SAST tool in {wf.path}: {step.uses}", Severity.MEDIUM
                )
    return CheckResult(
        name,
        0,
        "no SAST tool runs in any workflow",
        Severity.MEDIUM,
        [
            Finding(
                name,
                ".github/workflows",
                0,
                "no static analysis runs on changes, so injectable patterns go unnoticed",
                "add a CodeQL workflow (github/codeql-action init + analyze, pinned by SHA)",
                Severity.MEDIUM,
            )
        ],
    )


def packaging(workflows: list[Workflow]) -> CheckResult:
    name = "Packaging"
    for wf in workflows:
        for step in wf.steps:
            if (step.uses or "").startswith(_PUBLISHERS):
                return CheckResult(name, 10, f"publishing workflow {wf.path}", Severity.MEDIUM)
    return CheckResult(
        name, None, "no publishing workflow detected (inconclusive)", Severity.MEDIUM
    )


_ATHERIS = re.compile(r"^\s*(import atheris|from atheris\b)", re.MULTILINE)


def fuzzing(root: Path, exclude: Exclusions = NOTHING) -> CheckResult:
    name = "Fuzzing"
    if (root / ".clusterfuzzlite" / "Dockerfile").is_file():
        return CheckResult(name, 10, "ClusterFuzzLite configured", Severity.MEDIUM)
    for path in (f for f in tracked_files(root, exclude) if f.suffix == ".py"):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p in ("node_modules", "venv") for p in parts):
            continue
        if _ATHERIS.search(path.read_text(encoding="utf-8", errors="replace")):
            return CheckResult(name, 10, f"atheris fuzzer: {'/'.join(parts)}", Severity.MEDIUM)
    return CheckResult(
        name,
        0,
        "project is not fuzzed",
        Severity.MEDIUM,
        [
            Finding(
                name,
                ".",
                0,
                "no fuzz target, so parser crashes on hostile input go unfound",
                "add an atheris fuzz target (e.g. fuzz/fuzz_parse.py) run by ClusterFuzzLite",
                Severity.LOW,
            )
        ],
    )
