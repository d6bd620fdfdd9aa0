"""Scorecard's Token-Permissions, from workflows (``checks/evaluation/permissions.go``).

Start at 10. Top level: a write on ``contents``, ``packages`` or ``actions`` gives 0;
``deployments``/``security-events`` cost 1; ``checks``/``statuses`` 0.5; ``write-all`` 0.5, or
0 when a job also writes or is undeclared. Undeclared top level costs 0.5 per workflow, or gives
0 when a job is undeclared too. Job-level writes only warn. Best: ``permissions: {}`` or
``contents: read`` at top level, each job asking for what it needs.
"""

from __future__ import annotations

import math

from trustyard.audit.findings import CheckResult, Finding, Severity
from trustyard.audit.workflows import Workflow
from trustyard.audit.yamlnodes import Node

NAME = "Token-Permissions"
_FATAL = {"contents", "packages", "actions"}
_COST = {"deployments": 1.0, "security-events": 1.0, "checks": 0.5, "statuses": 0.5}
_FIX = "declare `permissions: {}` at the top and grant each job only what it needs"


def _writes(node: Node) -> list[tuple[str, int]]:
    if node.kind == "scalar":
        return [("write-all", node.line)] if node.text == "write-all" else []
    return [(k, v.line) for k, v in node.mapping.items() if v.text == "write"]


def _job_is_risky(job_perm: Node | None) -> bool:
    return job_perm is None or bool(_writes(job_perm))


def check(workflows: list[Workflow]) -> CheckResult:
    score = 10.0
    findings: list[Finding] = []

    def finding(path: str, line: int, why: str, severity: Severity = Severity.HIGH) -> None:
        findings.append(Finding(NAME, path, line, why, _FIX, severity))

    for wf in workflows:
        top = wf.node.get("permissions")
        jobs = [(j.name, j.node.get("permissions"), j.node.where) for j in wf.jobs]
        if top is None:
            undeclared_jobs = [(name, line) for name, perm, line in jobs if perm is None]
            if undeclared_jobs:
                score = 0
                for name, line in undeclared_jobs:
                    finding(
                        wf.path,
                        line,
                        f"job {name} and the workflow declare no permissions, "
                        "so the token gets the repository's default (possibly write-all)",
                    )
            else:
                score -= 0.5
                finding(wf.path, 1, "no top-level permissions block", Severity.MEDIUM)
            continue
        for key, line in _writes(top):
            if key == "write-all":
                if any(_job_is_risky(perm) for _, perm, _ in jobs):
                    score = 0
                else:
                    score -= 0.5
                finding(
                    wf.path,
                    line,
                    "top-level `permissions: write-all` hands every job every write scope",
                )
            elif key in _FATAL:
                score = 0
                finding(
                    wf.path,
                    line,
                    f"top-level `{key}: write` gives every job in the workflow write access",
                )
            else:
                score -= _COST.get(key, 0.0)
                finding(
                    wf.path, line, f"top-level `{key}: write` applies to every job", Severity.MEDIUM
                )
    final = max(0, math.floor(score))
    reason = (
        "no workflow grants broad write permissions"
        if not findings
        else (f"{len(findings)} permission problems")
    )
    return CheckResult(NAME, final, reason, Severity.HIGH, findings)
