"""Render a report as a table (people), JSON (scripts) or SARIF 2.1.0 (code scanning)."""

from __future__ import annotations

import json
from typing import Any

from trustyard.audit.config import EXCLUDABLE_CHECKS
from trustyard.audit.findings import Report, Severity, aggregate

_SARIF_LEVEL = {
    Severity.INFO: "note",
    Severity.LOW: "note",
    Severity.MEDIUM: "warning",
    Severity.HIGH: "error",
    Severity.CRITICAL: "error",
}


def _score(score: int | None) -> str:
    return "?" if score is None else f"{score}/10"


def as_table(report: Report) -> str:
    lines = [f"trustyard audit of {report.root}", ""]
    width = max(len(r.name) for r in report.results)
    for result in report.results:
        lines.append(f"{result.name:<{width}}  {_score(result.score):>5}  {result.reason}")
    overall = aggregate(report.results)
    lines += [
        "",
        f"Scorecard-style aggregate (offline checks): {'?' if overall is None else overall}/10",
        "",
    ]
    if report.excluded:
        lines.append(
            "Excluded by pyproject.toml [tool.trustyard.audit] exclude (--no-exclude audits them):"
        )
        lines += [
            f"  {e.path}: {e.files} files, skipped by {', '.join(EXCLUDABLE_CHECKS)}"
            for e in report.excluded
        ]
        lines.append("")
    findings = sorted(report.findings, key=lambda f: (-f.severity, f.path, f.line))
    if not findings:
        lines.append("No findings.")
    for f in findings:
        lines += [
            f"[{f.severity.name.lower()}] {f.check}: {f.where}",
            f"  why: {f.why}",
            f"  fix: {f.fix}",
        ]
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    data: dict[str, Any] = {
        "root": report.root,
        "aggregate": aggregate(report.results),
        "excluded": [{"path": e.path, "files": e.files} for e in report.excluded],
        "checks": [
            {
                "name": r.name,
                "source": r.source,
                "score": r.score,
                "reason": r.reason,
                "risk": r.risk.name.lower(),
                "findings": [
                    {
                        "path": f.path,
                        "line": f.line,
                        "why": f.why,
                        "fix": f.fix,
                        "severity": f.severity.name.lower(),
                    }
                    for f in r.findings
                ],
            }
            for r in report.results
        ],
    }
    return json.dumps(data, indent=2) + "\n"


def as_sarif(report: Report) -> str:
    rules = [{"id": r.name, "shortDescription": {"text": r.reason}} for r in report.results]
    results = []
    for f in report.findings:
        location: dict[str, Any] = {"artifactLocation": {"uri": f.path}}
        if f.line:
            location["region"] = {"startLine": f.line}
        results.append(
            {
                "ruleId": f.check,
                "level": _SARIF_LEVEL[f.severity],
                "message": {"text": f"{f.why}. Fix: {f.fix}"},
                "locations": [{"physicalLocation": location}],
            }
        )
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "trustyard-audit",
                        "informationUri": "https://github.com/ossf/scorecard",
                        "rules": rules,
                    }
                },
                "results": results,
                "properties": {
                    "excluded": [{"path": e.path, "files": e.files} for e in report.excluded]
                },
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"


FORMATS = {"table": as_table, "json": as_json, "sarif": as_sarif}
