"""Findings and scores as data, so that table, JSON and SARIF render the same facts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """Ordered like Scorecard's risk levels (``checker/check_result.go``) plus informational."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.upper()]
        except KeyError:
            known = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r}; choose one of: {known}") from None


@dataclass(frozen=True)
class Finding:
    """One problem: where it is, why it matters, and how to fix it."""

    check: str
    path: str
    line: int
    why: str
    fix: str
    severity: Severity

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass
class CheckResult:
    """A check's score (0-10, or None when inconclusive, as Scorecard reports ``-1``)."""

    name: str
    score: int | None
    reason: str
    risk: Severity
    findings: list[Finding] = field(default_factory=list)
    source: str = "scorecard"


@dataclass(frozen=True)
class ExcludedPath:
    """A path the repository's audit configuration excludes, and how many files it took out."""

    path: str
    files: int


@dataclass
class Report:
    """Every check run on one repository, and what its configuration excluded from them."""

    root: str
    results: list[CheckResult]
    excluded: list[ExcludedPath] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    def worst(self) -> Severity | None:
        severities = [f.severity for f in self.findings]
        return max(severities) if severities else None


# Scorecard's aggregate weights (pkg/scorecard/scorecard_result.go).
RISK_WEIGHT = {
    Severity.CRITICAL: 10.0,
    Severity.HIGH: 7.5,
    Severity.MEDIUM: 5.0,
    Severity.LOW: 2.5,
}


def aggregate(results: list[CheckResult]) -> float | None:
    """Scorecard's overall score: risk-weighted mean of the conclusive checks."""
    total = weight = 0.0
    for result in results:
        if result.score is None or result.source != "scorecard":
            continue
        w = RISK_WEIGHT.get(result.risk, 0.0)
        total += w * result.score
        weight += w
    return round(total / weight, 1) if weight else None
